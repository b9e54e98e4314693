"""Personal access tokens: how a caller who is not on the server's Unix socket
says who they are (docs/security.md).

A token is ``tfp_`` and 43 random URL-safe characters (256 bits), shown once
when it is made; the database keeps only its SHA-256, so a copy of the database
lets no one call the server. A random secret of that size needs no slow hash: a
digest cannot be reversed, and it is looked up by an index in one statement.
Tokens live in real time (the wall clock), not business time: a simulated
clock (``serve --manual-clock``) neither ages nor revives one. The one writer of
``access_tokens``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from torchflow.clock import wall_clock
from torchflow.domain.office import OfficeKind, Subject
from torchflow.domain.permissions import ADMIN, Facts
from torchflow.domain.text import check_line
from torchflow.errors import NotFound, Refused, Unauthorized
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.people.lookup import Actor, person_by_handle
from torchflow.store.models import ACCESS_TOKENS, PEOPLE

PREFIX = "tfp_"
LABEL_MAX = 64
# A token in use is written back at most this often: a read on the server does
# not take SQLite's write lock on every request for a column people glance at.
TOUCH_EVERY = timedelta(minutes=1)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def create(app: App, actor: Actor, handle: str, *, label: str = "",
           expires: timedelta = timedelta(days=90)) -> dict[str, Any]:
    """A new token for ``handle`` (an admin's act); the secret is in the result
    and nowhere else."""
    actor.authorize("token.issue")
    label = check_line(label, "the token's name", LABEL_MAX) if label else ""
    secret = PREFIX + secrets.token_urlsafe(32)
    now = wall_clock().replace(microsecond=0)
    with app.db.transaction() as s:
        person = person_by_handle(s, handle)
        if not person.active:
            raise Refused(_("'{handle}' is not active; reactivate them before issuing a "
                            "token", handle=handle))
        token_id = s.execute(insert(ACCESS_TOKENS).values(
            person_id=person.id, label=label, secret_hash=digest(secret),
            created_by=actor.handle, created_at=now, expires_at=now + expires,
        ).returning(ACCESS_TOKENS.c.id)).scalar_one()
        office.record(s, OfficeKind.TOKEN_ISSUED, Subject.TOKEN, token_id, actor=actor,
                      at=app.now())
    return {"id": token_id, "handle": handle, "label": label, "token": secret,
            "expires_at": app.local(now + expires)}


def list_tokens(app: App, actor: Actor, handle: str | None = None) -> list[dict[str, Any]]:
    """Tokens with their last use; a person sees their own, an admin anyone's."""
    if handle is None and ADMIN not in actor.powers:
        handle = actor.handle
    actor.authorize("token.manage", Facts(subject=handle))
    query = (select(ACCESS_TOKENS, PEOPLE.c.handle)
             .join(PEOPLE, PEOPLE.c.id == ACCESS_TOKENS.c.person_id)
             .order_by(ACCESS_TOKENS.c.id))
    with app.db.read() as s:
        if handle is not None:
            query = query.where(PEOPLE.c.id == person_by_handle(s, handle).id)
        now = wall_clock()
        return [_view(app, r, now) for r in s.execute(query)]


def _view(app: App, r: Any, now: datetime) -> dict[str, Any]:
    state = "revoked" if r.revoked_at else "expired" if r.expires_at <= now else "active"
    return {"id": r.id, "handle": r.handle, "label": r.label, "state": state,
            "created_at": app.local(r.created_at), "created_by": r.created_by,
            "expires_at": app.local(r.expires_at), "last_used_at": app.local(r.last_used_at),
            "revoked_at": app.local(r.revoked_at)}


def revoke(app: App, actor: Actor, token_id: int) -> dict[str, Any]:
    """Revoke a token: one's own, or (an admin) anyone's. Revoking twice is refused."""
    now = wall_clock()
    with app.db.transaction() as s:
        row = _token(s, token_id)
        actor.authorize("token.manage", Facts(subject=row.handle))
        if row.revoked_at is not None:
            raise Refused(_("token #{id} was revoked already, at {at}", id=token_id,
                            at=app.local(row.revoked_at)))
        s.execute(update(ACCESS_TOKENS).where(ACCESS_TOKENS.c.id == token_id)
                  .values(revoked_at=now, revoked_by=actor.handle))
        office.record(s, OfficeKind.TOKEN_REVOKED, Subject.TOKEN, token_id, actor=actor,
                      at=app.now())
        return _view(app, _token(s, token_id), now)


def _token(s: Connection, token_id: int) -> Any:
    row = s.execute(select(ACCESS_TOKENS, PEOPLE.c.handle)
                    .join(PEOPLE, PEOPLE.c.id == ACCESS_TOKENS.c.person_id)
                    .where(ACCESS_TOKENS.c.id == token_id)).first()
    if row is None:
        raise NotFound(_("no token #{id}; see `torchflow token list`", id=token_id))
    return row


def authenticate(app: App, secret: str) -> tuple[int, str]:
    """The token's id and its person's handle; Unauthorized, in one line, for a
    token unknown, expired or revoked. Its last use is written back (at most once
    a minute)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        raise Unauthorized(_("that is not a torchflow token (they start with tfp_); "
                             "ask an admin for one: `torchflow token create HANDLE`"))
    now = wall_clock()
    with app.db.read() as s:
        row = s.execute(select(ACCESS_TOKENS, PEOPLE.c.handle)
                        .join(PEOPLE, PEOPLE.c.id == ACCESS_TOKENS.c.person_id)
                        .where(ACCESS_TOKENS.c.secret_hash == digest(secret))).first()
    if row is None:
        raise Unauthorized(_("the token is not known to this server (mistyped, or revoked "
                             "and removed); ask an admin for a new one"))
    if row.revoked_at is not None:
        raise Unauthorized(_("token #{id} was revoked at {at}; ask an admin for a new one",
                             id=row.id, at=app.local(row.revoked_at)))
    if row.expires_at <= now:
        raise Unauthorized(_("token #{id} expired at {at}; ask an admin for a new one",
                             id=row.id, at=app.local(row.expires_at)))
    if row.last_used_at is None or row.last_used_at <= now - TOUCH_EVERY:
        _touch(app, row.id, now)
    return row.id, row.handle


def _touch(app: App, token_id: int, now: datetime) -> None:
    stale = now - TOUCH_EVERY
    with app.db.transaction() as s:
        s.execute(update(ACCESS_TOKENS).where(
            ACCESS_TOKENS.c.id == token_id,
            or_(ACCESS_TOKENS.c.last_used_at.is_(None),
                and_(ACCESS_TOKENS.c.last_used_at <= stale))).values(last_used_at=now))
