"""The notice ledger, the one writer of the notices table: rows made from the
router's decisions (delivery/routing.py) with their words and keys (keys.py);
claiming, marking, re-addressing, withdrawing and retrying notices; holding,
folding and pacing them as the gate decides (delivery/gate.py); listing them.

A notice a sender holds (leased) is never re-addressed or withdrawn under its
feet: the move or withdrawal is recorded in ``deferred`` and applied when the
lease ends unsent (a failed send, a hand-back, or an expired lease found by the
next claim). A send that succeeds stays sent, to whom it was sent, and the
deferred action is dropped: the notice was delivered once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from msgspec import Struct
from sqlalchemy import Connection, Row, and_, bindparam, case, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from torchflow.channels import Message
from torchflow.clock import wall_clock
from torchflow.domain import wording
from torchflow.domain.status import NoticeKind, NoticeStatus
from torchflow.errors import NotFound, Refused
from torchflow.i18n import Text, Translator, _
from torchflow.service.app import App
from torchflow.service.delivery.keys import idempotency_key, is_rerouted, on_channel
from torchflow.service.delivery.routing import Fallback, Route, channel_of, group_of
from torchflow.service.paging import Page, fetch_page
from torchflow.service.people.lookup import Actor, person_by_handle, platform_ids
from torchflow.store.models import NOTICES, PEOPLE
from torchflow.store.queries import insert_ignore, inserted_keys

PENDING, SENT, DEAD = NoticeStatus.PENDING, NoticeStatus.SENT, NoticeStatus.DEAD
CANCELLED, FOLDED = NoticeStatus.CANCELLED, NoticeStatus.FOLDED
DIGEST = NoticeKind.DIGEST
WITHDRAW = "withdraw"
_MOVE = "move:"
HELD = "held"  # shown for a pending notice its channel cannot send as configured


def move_to(handle: str) -> str:
    """The deferred action that sends a leased notice to ``handle`` if it ends unsent."""
    return _MOVE + handle


# --------------------------------------------------------------------------- new notices


def task_notice(route: Route, task: Any, case_key: str, case_title: str, kind: str,
                now: datetime, tr: Translator, *, about: wording.About = wording.NOTHING_MORE,
                late: int = 0, step: tuple[str, str] | None = None) -> dict[str, Any]:
    """The ledger row of a task's notice of ``kind`` by ``route`` (not yet
    written), in the office's language (``tr``), saying ``about`` the case and
    how ``late`` (working days overdue); one a substitute receives says for whom
    (``Route.on_behalf``); one to a group robot names it (and whom it
    @-mentions, when several). ``step``: (name, title) of the ladder step an
    escalation is: its own key, its title in the notice."""
    words = wording.task_notice(task, case_key, case_title, kind, route.on_behalf, tr,
                                about=about, late=late, step=step[1] if step else "")
    workflow = getattr(task, "workflow", None)
    payload = {"case": case_key, "task": task.id, "task_kind": task.kind, "rule": task.rule,
               "occurrence": task.occurrence, "due_on": task.due_on.isoformat(),
               "case_title": case_title, **({"workflow": workflow} if workflow else {}),
               **({"group": route.group} if route.group else {}),
               **({"mention": list(route.mention)} if route.mention else {}),
               **({"step": step[0]} if step else {})}
    key = idempotency_key(kind=kind, recipient=route.to.handle, channel=route.channel,
                          task_id=task.id, occurrence=task.occurrence, due_on=task.due_on,
                          step=step[0] if step else None)
    return _row(route, kind=kind, task_id=task.id, subject=words.subject, body=words.body,
                payload=payload, key=key, now=now)


def digest_notice(route: Route, day: date, subject: str, body: str, payload: dict[str, Any],
                  now: datetime) -> dict[str, Any]:
    """The ledger row of the digest of ``day`` by ``route``; a substitute's digest
    for someone away has a key of its own, beside their own digest's."""
    key = idempotency_key(kind=DIGEST, recipient=route.to.handle, channel=route.channel,
                          day=day, for_person=route.for_person)
    return _row(route, kind=DIGEST, task_id=None, subject=subject, body=body,
                payload=payload, key=key, now=now)


def report_key(route: Route, month: str) -> str:
    """The key of the monthly report of ``month`` (YYYY-MM) by ``route``."""
    return idempotency_key(kind=NoticeKind.REPORT, recipient=route.to.handle,
                           channel=route.channel, month=month)


def report_notice(route: Route, month: str, subject: str, body: str,
                  payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The ledger row of the monthly report of ``month`` by ``route``."""
    return _row(route, kind=NoticeKind.REPORT, task_id=None, subject=subject, body=body,
                payload=payload, key=report_key(route, month), now=now)


def _row(route: Route, *, kind: str, task_id: int | None, subject: str, body: str,
         payload: dict[str, Any], key: str, now: datetime) -> dict[str, Any]:
    """A notice as ``route`` decided: pending (held until its ``not_before``) or
    folded into the receiver's digest, ready to insert."""
    return {
        "idempotency_key": key, "task_id": task_id, "kind": kind, "channel": route.channel,
        "recipient": route.to.handle, "address": route.address, "subject": subject,
        "body": body, "payload": payload, "status": FOLDED if route.folded else PENDING,
        "attempts": 0, "not_before": route.not_before or now, "created_at": now,
        "last_error": "", "reason": route.reason, "for_person": route.for_person,
        "folded_into": route.folded_into,
    }


def add(session: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert new notices; one whose key the ledger holds already is skipped
    (produced before: it is never produced twice). Returns how many were added."""
    return insert_ignore(session, NOTICES, rows, ["idempotency_key"])


def add_keys(session: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """``add``, returning the keys of the notices really added."""
    return inserted_keys(session, NOTICES, rows, ["idempotency_key"])


def known_keys(session: Connection, keys: list[str]) -> set[str]:
    """Which of ``keys`` the ledger holds already."""
    return set(session.scalars(select(NOTICES.c.idempotency_key)
                               .where(NOTICES.c.idempotency_key.in_(keys))))


def settle_folded(session: Connection, ids: list[int], into: str) -> None:
    """Folded notices taken by a digest (``into``: its key), or settled unsent
    when their task closed before any digest listed them."""
    if ids:
        session.execute(update(NOTICES).where(NOTICES.c.id.in_(ids)).values(folded_into=into))


def absorb(session: Connection, ids: list[int], into: str) -> None:
    """Task notices still waiting (no sender holds them) that a digest made the
    same day lists: folded into it (``into``: its key), not sent again."""
    if ids:
        session.execute(update(NOTICES).where(
            NOTICES.c.id.in_(ids), NOTICES.c.status == PENDING, NOTICES.c.lease_owner.is_(None))
            .values(status=FOLDED, folded_into=into,
                    reason=case((NOTICES.c.reason == "", "taken into the day's digest"),
                                else_=NOTICES.c.reason + "; taken into the day's digest")))


# --------------------------------------------------------------------------- moving


class Readdressed(Struct, frozen=True):
    moved: int = 0  # now
    in_flight: int = 0  # held by a sender: they move if that send ends unsent

    def __add__(self, other: Readdressed) -> Readdressed:
        return Readdressed(self.moved + other.moved, self.in_flight + other.in_flight)


def readdress_pending(app: App, session: Connection, old: Row[Any], new: Row[Any],
                      task_ids: list[int] | None = None) -> Readdressed:
    """Pending notices of ``old`` (or deferred to ``old``) go to ``new`` instead,
    under a key for ``new``; a leased one moves when its sender lets it go unsent.
    Notices folded for ``old``'s next digest go to ``new``'s next digest."""
    query = select(NOTICES).where(
        NOTICES.c.status == PENDING,
        or_(NOTICES.c.recipient == old.handle, NOTICES.c.deferred == move_to(old.handle)))
    folded = select(NOTICES).where(
        NOTICES.c.status == NoticeStatus.FOLDED, NOTICES.c.folded_into.is_(None),
        NOTICES.c.recipient == old.handle)
    if task_ids is not None:
        query = query.where(NOTICES.c.task_id.in_(task_ids))
        folded = folded.where(NOTICES.c.task_id.in_(task_ids))
    moved = in_flight = 0
    if task_ids is None:
        _unfold_unsent(session, old.handle)
    # Left with ``old``, they would wait for a digest ``old`` may never get again.
    for row in session.execute(folded.order_by(NOTICES.c.id).with_for_update()).all():
        moved += _readdress(app, session, row, new, fresh=False)
    # Locked: a sender cannot claim, mark or hand back these rows until we commit
    # (on SQLite, BEGIN IMMEDIATE already serialises every writer).
    for row in session.execute(query.order_by(NOTICES.c.id).with_for_update()).all():
        if row.lease_owner is not None:
            if row.deferred != WITHDRAW:
                _defer(session, row.id, move_to(new.handle))
            in_flight += 1
        elif _readdress(app, session, row, new):
            moved += 1
    return Readdressed(moved, in_flight)


def _unfold_unsent(session: Connection, handle: str) -> None:
    """The notices taken into ``handle``'s digests or summaries not yet sent nor
    being sent: pending again, so they move with the rest (the digest or summary
    itself is cancelled, not moved: it was written for ``handle``)."""
    keys = list(session.scalars(select(NOTICES.c.idempotency_key).where(
        NOTICES.c.recipient == handle, NOTICES.c.task_id.is_(None),
        NOTICES.c.status == PENDING, NOTICES.c.lease_owner.is_(None)).with_for_update()))
    if keys:
        session.execute(update(NOTICES).where(
            NOTICES.c.status == FOLDED, NOTICES.c.folded_into.in_(keys),
            NOTICES.c.task_id.is_not(None)).values(status=PENDING, folded_into=None))


def withdraw_pending(session: Connection, task_ids: list[int]) -> None:
    """Cancel the tasks' notices not yet sent; one being sent is cancelled only if
    that send ends unsent."""
    if not task_ids:
        return
    rows = session.execute(
        select(NOTICES.c.id, NOTICES.c.lease_owner)
        .where(NOTICES.c.task_id.in_(task_ids), NOTICES.c.status == PENDING)
        .with_for_update()
    ).all()
    free = [r.id for r in rows if r.lease_owner is None]
    held = [r.id for r in rows if r.lease_owner is not None]
    if free:
        session.execute(update(NOTICES).where(NOTICES.c.id.in_(free))
                        .values(status=CANCELLED, deferred=None))
    if held:
        session.execute(update(NOTICES).where(NOTICES.c.id.in_(held)).values(deferred=WITHDRAW))


def settle_deferred(app: App, session: Connection, ids: list[int] | None = None,
                    wall: datetime | None = None) -> int:
    """Apply the deferred moves and withdrawals of notices no sender holds any
    more: handed back, failed, dead, or leased by a sender whose lease ran out."""
    wall = wall or wall_clock()
    query = select(NOTICES).where(
        NOTICES.c.deferred.is_not(None), NOTICES.c.status.in_((PENDING, DEAD)),
        or_(NOTICES.c.lease_owner.is_(None), NOTICES.c.lease_until < wall))
    if ids is not None:
        query = query.where(NOTICES.c.id.in_(ids))
    rows = session.execute(query.order_by(NOTICES.c.id).with_for_update(skip_locked=True)).all()
    for row in rows:
        target = row.deferred.removeprefix(_MOVE) if row.deferred.startswith(_MOVE) else None
        person = session.execute(select(PEOPLE).where(PEOPLE.c.handle == target)).first()
        if person is None or not _readdress(app, session, row, person):
            _cancel(session, row.id)
    return len(rows)


def _readdress(app: App, session: Connection, row: Any, new: Row[Any],
               fresh: bool = True) -> bool:
    """Send ``row`` to ``new`` (True), or cancel it (False) when ``new`` has that
    notice already or it is a digest (the new person's own digest covers it).
    ``fresh``: it becomes pending with no attempts (else its status stays)."""
    if row.task_id is None:
        _cancel(session, row.id)
        return False
    p = row.payload
    group = group_of(app.settings, new, p.get("workflow"), row.kind)
    channel, address = channel_of(app.settings, new, group)
    key = idempotency_key(kind=row.kind, recipient=new.handle, channel=channel,
                          task_id=row.task_id, occurrence=p["occurrence"],
                          due_on=date.fromisoformat(p["due_on"]))
    if key != row.idempotency_key and session.scalar(
            select(NOTICES.c.id).where(NOTICES.c.idempotency_key == key)):
        _cancel(session, row.id)
        return False
    # Failures (even death) were the old address's: the new one starts afresh.
    payload = {k: v for k, v in p.items() if k not in ("group", "mention")}
    session.execute(update(NOTICES).where(NOTICES.c.id == row.id).values(
        recipient=new.handle, channel=channel, address=address, idempotency_key=key,
        payload={**payload, **({"group": group} if group else {})}, deferred=None,
        **(_FRESH if fresh else {})))
    return True


def _defer(session: Connection, notice_id: int, action: str) -> None:
    session.execute(update(NOTICES).where(NOTICES.c.id == notice_id).values(deferred=action))


def _cancel(session: Connection, notice_id: int) -> None:
    session.execute(update(NOTICES).where(NOTICES.c.id == notice_id).values(
        status=CANCELLED, deferred=None, lease_owner=None, lease_until=None))


# --------------------------------------------------------------------------- views


def notice_view(app: App, n: Any) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "status": HELD if n.held else n.status, "to": n.recipient,
        "channel": n.channel, "attempts": n.attempts, "subject": n.subject,
        "key": n.idempotency_key, "not_before": app.local(n.not_before),
        "retry_at": app.local(n.retry_at), "sent_at": app.local(n.sent_at),
        "last_error": n.last_error, "for": n.for_person, "reason": _reason(n),
    }


def _reason(n: Any) -> str:
    """Why it went where and when (a folded notice names the digest it went into;
    a held one says what to fix)."""
    if n.held:
        return str(n.held)
    return (n.reason or "") + (f": {n.folded_into}" if n.folded_into else "")


def delivery_problems(session: Connection, handle: str, limit: int = 10
                      ) -> list[dict[str, Any]]:
    """A person's notices that bounced to their fallback channel, died or are
    held (their channel cannot be used as configured), newest first, each with
    what went wrong (for `person show`)."""
    rows = session.execute(
        select(NOTICES.c.id, NOTICES.c.kind, NOTICES.c.status, NOTICES.c.channel,
               NOTICES.c.reason, NOTICES.c.last_error, NOTICES.c.held)
        .where(NOTICES.c.recipient == handle,
               or_(NOTICES.c.status == NoticeStatus.DEAD,
                   NOTICES.c.reason.like("%re-routed from%"),
                   and_(NOTICES.c.status == PENDING, NOTICES.c.held.is_not(None))))
        .order_by(NOTICES.c.id.desc()).limit(limit)).all()
    return [{"id": r.id, "kind": r.kind, "status": HELD if r.held else r.status,
             "channel": r.channel, "reason": r.reason or "", "error": r.held or r.last_error}
            for r in rows]


def notice_filter(*, status: str | None = None, recipient: str | None = None,
                  kind: str | None = None, channel: str | None = None
                  ) -> list[ColumnElement[bool]]:
    """The conditions of notices of a status (``held``: pending, their channel
    unusable as configured), to a recipient, of a kind, by a channel (a list, an
    export, a retry); None leaves a condition out."""
    held = [NOTICES.c.held.is_not(None)] if status == HELD else []
    return [column == value for column, value in (
        (NOTICES.c.status, PENDING if status == HELD else status),
        (NOTICES.c.recipient, recipient), (NOTICES.c.kind, kind),
        (NOTICES.c.channel, channel)) if value] + held


def list_notices(app: App, *, status: str | None = None, recipient: str | None = None,
                 limit: int = 200, offset: int = 0) -> Page:
    with app.db.read() as s:
        if recipient:
            person_by_handle(s, recipient)
        query = select(NOTICES).where(*notice_filter(status=status, recipient=recipient))
        return fetch_page(s, query.order_by(NOTICES.c.id.desc()), limit=limit, offset=offset,
                          view=lambda n: notice_view(app, n))


# --------------------------------------------------------------------------- retry


class Retried(Struct, frozen=True):
    ids: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.ids)


# A retried notice starts afresh: no attempts, no backoff, no lease, not held,
# no send begun and no part sent.
_FRESH = {"status": PENDING, "attempts": 0, "retry_at": None, "lease_owner": None,
          "lease_until": None, "held": None, "send_started": None, "parts_done": None}


def retry(app: App, actor: Actor, notice_id: int) -> Retried:
    """A dead (or failing, not being sent) notice gets a fresh set of attempts, now."""
    actor.authorize("notice.retry")
    with app.db.transaction() as s:
        row = s.execute(select(NOTICES).where(NOTICES.c.id == notice_id)
                        .with_for_update()).first()
        if row is None:
            raise NotFound(_("no notice #{notice_id}; see `torchflow notice list`",
                             notice_id=notice_id))
        if row.status not in (DEAD, PENDING):
            raise Refused(_("notice #{notice_id} is {status}; only dead or pending ones retry",
                            notice_id=notice_id, status=Text(row.status)))
        if row.lease_owner is not None and row.lease_until >= wall_clock():
            raise Refused(_("notice #{notice_id} is being sent right now; see `torchflow notice "
                            "list` in a moment", notice_id=notice_id))
        s.execute(update(NOTICES).where(NOTICES.c.id == notice_id).values(**_FRESH))
    return Retried((notice_id,))


def retry_dead(app: App, actor: Actor, *, recipient: str | None = None,
               kind: str | None = None, channel: str | None = None) -> Retried:
    """Every dead notice (matching the filters) gets a fresh set of attempts, in
    one transaction."""
    actor.authorize("notice.retry")
    with app.db.transaction() as s:
        if recipient:
            person_by_handle(s, recipient)
        query = update(NOTICES).where(*notice_filter(status=DEAD, recipient=recipient,
                                                     kind=kind, channel=channel))
        rows = s.execute(query.values(**_FRESH).returning(NOTICES.c.id)).scalars().all()
    return Retried(tuple(sorted(rows)))


# --------------------------------------------------------------------------- sending


class Claimed(Struct, frozen=True):
    id: int
    message: Message
    channel: str
    attempts: int
    lease_until: datetime | None = None  # wall clock; past it, another owner may take it
    send_started: datetime | None = None  # a send to a robot a crash cut short
    parts_done: int = 0  # the parts of a split notice already sent


class Gate(Protocol):
    """What a claim asks of the channels dispatch sends by (dispatch.Channels):
    which are paced (their notices claimed first), and which of the claimed
    notices may be sent now (delivery/gate.py), in the claim's transaction."""

    def paced(self) -> list[str]: ...

    def admit(self, app: App, session: Connection, claimed: list[Claimed], owner: str,
              wall: datetime) -> list[Claimed]: ...


def claim(app: App, owner: str, limit: int, wall: datetime | None = None,
          channels: Gate | None = None) -> list[Claimed]:
    """Lease a batch of due notices; with ``channels``, only those the gate lets
    through now (held, rate budgets, folding, busy minutes: delivery/gate.py)."""
    wall = wall or wall_clock()
    lease = timedelta(seconds=app.settings.scheduler.lease_seconds)
    with app.db.transaction() as s:
        # A sender that died holding a notice someone moved or withdrew: settle that
        # first, so the notice is claimed (or not) as it is now addressed.
        settle_deferred(app, s, wall=wall)
        paced = channels.paced() if channels is not None else []
        due = (
            select(NOTICES.c.id)
            .where(
                NOTICES.c.status == PENDING,
                NOTICES.c.held.is_(None),  # held until their channel can be used (mend_held)
                NOTICES.c.not_before <= app.now(),
                or_(NOTICES.c.retry_at.is_(None), NOTICES.c.retry_at <= wall),
                or_(NOTICES.c.lease_until.is_(None), NOTICES.c.lease_until < wall),
            )
            # A robot's notices first: their pace starts at once, and the few its
            # budget cannot take now wait apart (retry_at) for the others to pass.
            .order_by(*([case((NOTICES.c.channel.in_(paced), 0), else_=1)] if paced else []),
                      NOTICES.c.not_before, NOTICES.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = s.execute(
            update(NOTICES)
            .where(NOTICES.c.id.in_(due.scalar_subquery()))
            .values(lease_owner=owner, lease_until=wall + lease, attempts=NOTICES.c.attempts + 1)
            .returning(*NOTICES.c)
        ).all()
        rows = sorted(rows, key=lambda r: (r.not_before, r.id))
        ids = platform_ids(s, {h for r in rows for h in mentioned(r.recipient, r.payload or {})})
        claimed = [_claimed(r, ids) for r in rows]
        if channels is not None:
            claimed = channels.admit(app, s, claimed, owner, wall)
    return claimed


def mentioned(recipient: str, payload: Mapping[str, Any]) -> list[str]:
    """Whom a notice @-mentions in a group: its recipient, or (one message for
    several, a folded backlog) everyone it is for."""
    found = payload.get("mention")
    return [str(h) for h in found] if isinstance(found, list) else [recipient]


def _claimed(r: Any, ids: Mapping[str, Mapping[str, str]]) -> Claimed:
    payload = dict(r.payload or {})
    message = Message(
        idempotency_key=r.idempotency_key, kind=r.kind, recipient=r.recipient,
        address=r.address, subject=r.subject, body=r.body, payload=payload,
        mentions=tuple(ids[h] for h in mentioned(r.recipient, payload) if h in ids),
    )
    return Claimed(r.id, message, r.channel, r.attempts, r.lease_until, r.send_started,
                   r.parts_done or 0)


_MARK_SENT = (
    update(NOTICES)
    .where(NOTICES.c.id == bindparam("nid"), NOTICES.c.lease_owner == bindparam("owner"))
    # Sent stays sent, to whom it went: a move or withdrawal deferred meanwhile is dropped.
    .values(status=SENT, sent_at=bindparam("at"), lease_owner=None, lease_until=None,
            last_error="", deferred=None, send_started=None)
)


def mark_sent(app: App, marks: list[dict[str, Any]]) -> None:
    """Mark sent notices (``{"nid", "owner", "at"}`` each) in one commit; a mark of
    a notice no longer leased by ``owner`` changes nothing."""
    with app.db.transaction() as s:
        s.execute(_MARK_SENT, marks)


def mark_failed(app: App, notice_id: int, owner: str, error: str, *,
                retry_at: datetime | None) -> None:
    """A send by ``owner`` failed: try again at ``retry_at`` (wall clock), or,
    with none, the notice is dead until `notice retry`. A move or withdrawal
    deferred while it was leased applies now."""
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": error,
                              "send_started": None}
    if retry_at is None:
        values["status"] = DEAD
    else:
        values["retry_at"] = retry_at
    with app.db.transaction() as s:
        s.execute(update(NOTICES)
                  .where(NOTICES.c.id == notice_id, NOTICES.c.lease_owner == owner)
                  .values(**values))
        settle_deferred(app, s, [notice_id])


def reroute(app: App, session: Connection, notice_id: int, owner: str, way: Fallback,
            error: str) -> bool:
    """The notice ``owner`` holds goes by its person's fallback channel instead:
    the same row, under a key of its own, with fresh attempts and the reason
    kept. False when ``owner`` no longer holds it (whoever does decides)."""
    row = session.execute(select(NOTICES.c.reason, NOTICES.c.idempotency_key).where(
        NOTICES.c.id == notice_id, NOTICES.c.lease_owner == owner)).first()
    if row is None:
        return False
    done = session.execute(
        update(NOTICES).where(NOTICES.c.id == notice_id, NOTICES.c.lease_owner == owner)
        .values(channel=way.channel, address=way.address,
                idempotency_key=idempotency_key(rerouted=row.idempotency_key,
                                                channel=way.channel),
                attempts=0, retry_at=None, lease_owner=None, lease_until=None,
                send_started=None, parts_done=None, last_error=error,
                reason="; ".join(filter(None, [row.reason, way.why])))
    ).rowcount
    settle_deferred(app, session, [notice_id])
    return bool(done)


def release(app: App, owner: str, ids: list[int] | None = None) -> int:
    """Hand leased notices back unsent (on shutdown), so another service sends them now."""
    with app.db.transaction() as s:
        query = update(NOTICES).where(NOTICES.c.lease_owner == owner,
                                      NOTICES.c.status == PENDING)
        if ids is not None:
            query = query.where(NOTICES.c.id.in_(ids))
        # The attempt was never made: give it back.
        released = list(s.scalars(query.values(lease_owner=None, lease_until=None,
                                               attempts=NOTICES.c.attempts - 1)
                                  .returning(NOTICES.c.id)))
        settle_deferred(app, s, released)
        return len(released)


# --------------------------------------------------------------------------- the gate's marks


def give_back(session: Connection, owner: str, later: Mapping[int, datetime],
              held: Mapping[int, str]) -> None:
    """Claimed notices unleased again, the attempt not counted: to wait until
    ``later[id]`` (a token, a busy minute), or held for why ``held[id]`` says
    until their channel can be used (``mend_held``)."""
    free = {"lease_owner": None, "lease_until": None, "attempts": NOTICES.c.attempts - 1}
    for nid, at in later.items():
        session.execute(update(NOTICES).where(NOTICES.c.id == nid, NOTICES.c.lease_owner == owner)
                        .values(retry_at=at, **free))
    for nid, why in held.items():
        session.execute(update(NOTICES).where(NOTICES.c.id == nid, NOTICES.c.lease_owner == owner)
                        .values(held=why[:300], retry_at=None, **free))


def mark_dead(session: Connection, why: Mapping[int, str]) -> None:
    """Notices that must not be sent again blindly: dead, saying why (``why[id]``)."""
    for nid, error in why.items():
        session.execute(update(NOTICES).where(NOTICES.c.id == nid).values(
            status=DEAD, last_error=error, send_started=None, lease_owner=None,
            lease_until=None))


def fold(session: Connection, first: Claimed, folded: Sequence[Any], *, subject: str,
         body: str, reason: str, start: datetime, now: datetime) -> str:
    """``folded`` (a backlog on ``first``'s robot or member) become one message,
    sent from ``start`` (wall clock), @-mentioning everyone they were for; each
    is marked folded into it. Returns its key."""
    people = sorted({f.recipient for f in folded})
    key = idempotency_key(channel=first.channel, address=first.message.address,
                          folded=[f.id for f in folded])
    insert_ignore(session, NOTICES, [{
        "idempotency_key": key, "task_id": None, "kind": DIGEST,
        "channel": first.channel, "recipient": people[0] if len(people) == 1 else "#group",
        "address": first.message.address, "subject": subject, "body": body,
        "payload": {"fold": len(folded), "mention": people}, "status": PENDING,
        "attempts": 0, "not_before": now, "retry_at": start, "created_at": now,
        "last_error": "", "reason": reason, "for_person": None, "folded_into": None}],
        ["idempotency_key"])
    session.execute(update(NOTICES).where(NOTICES.c.id.in_([f.id for f in folded])).values(
        status=FOLDED, folded_into=key, lease_owner=None, lease_until=None, retry_at=None))
    return key


def summarise(session: Connection, rows: Sequence[Any], *, kind: str, subject: str, body: str,
              now: datetime) -> str:
    """``rows`` (task notices waiting for one person at one address) become one
    message of ``kind`` listing them; each is marked folded into it. Returns its key."""
    first = rows[0]
    key = idempotency_key(channel=first.channel, address=first.address,
                          folded=[r.id for r in rows])
    others = sorted({r.for_person for r in rows if r.for_person})
    insert_ignore(session, NOTICES, [{
        "idempotency_key": key, "task_id": None, "kind": kind, "channel": first.channel,
        "recipient": first.recipient, "address": first.address, "subject": subject,
        "body": body, "payload": {"summary": len(rows), "tasks": sorted(
            {int(r.payload["task"]) for r in rows if (r.payload or {}).get("task")})},
        "status": PENDING, "attempts": 0, "not_before": now, "created_at": now,
        "last_error": "", "reason": f"{len(rows)} notices waiting at once, summarised",
        "for_person": others[0] if len(others) == 1 else None, "folded_into": None}],
        ["idempotency_key"])
    session.execute(update(NOTICES).where(NOTICES.c.id.in_([r.id for r in rows]))
                    .values(status=FOLDED, folded_into=key))
    return key


def started(app: App, owner: str, notice_id: int, wall: datetime | None = None) -> None:
    """Before a send to a platform that drops no resend: committed, so a crash
    in the send is known afterwards (and not repeated blindly)."""
    with app.db.transaction() as s:
        s.execute(update(NOTICES).where(NOTICES.c.id == notice_id,
                                        NOTICES.c.lease_owner == owner)
                  .values(send_started=wall or wall_clock()))


def part_sent(app: App, owner: str, notice_id: int, done: int) -> None:
    """Part ``done`` of a split notice is out: a resend starts after it."""
    with app.db.transaction() as s:
        s.execute(update(NOTICES).where(NOTICES.c.id == notice_id,
                                        NOTICES.c.lease_owner == owner)
                  .values(parts_done=done))


def wait(session: Connection, owner: str, notice_id: int, until: datetime,
         error: str | None = None) -> None:
    """Give the notice ``owner`` holds back to wait until ``until`` (wall clock),
    its attempt not counted (the platform's throttling says ``error``)."""
    throttled = {"send_started": None, "last_error": error} if error is not None else {}
    session.execute(update(NOTICES)
                    .where(NOTICES.c.id == notice_id, NOTICES.c.lease_owner == owner)
                    .values(retry_at=until, lease_owner=None, lease_until=None,
                            attempts=NOTICES.c.attempts - 1, **throttled))


def mend_held(app: App, problem: Callable[[str, str], str | None]) -> int:
    """Held notices whose channel can be used now (``problem`` says None) go back
    to pending: the configuration was fixed (the service restarted); or the
    person's own address (a WeCom id, a URL) or channel was set since, which
    their notice then follows. Returns how many can be sent now."""
    with app.db.transaction() as s:
        rows = s.execute(select(NOTICES).where(NOTICES.c.status == PENDING,
                                               NOTICES.c.held.is_not(None))
                         .with_for_update(skip_locked=True)).all()
        if not rows:
            return 0
        people = {p.handle: p for p in s.execute(
            select(PEOPLE).where(PEOPLE.c.handle.in_({r.recipient for r in rows})))}
        mended = 0
        for row in rows:
            channel, address, key = row.channel, row.address, row.idempotency_key
            found = problem(channel, address)
            person = people.get(row.recipient)
            if found is not None and person is not None and _follows_person(row):
                channel, address = channel_of(app.settings, person)
                key = on_channel(key, row.recipient, row.channel, channel)
                found = problem(channel, address)
            if key != row.idempotency_key and s.scalar(
                    select(NOTICES.c.id).where(NOTICES.c.idempotency_key == key)):
                s.execute(update(NOTICES).where(NOTICES.c.id == row.id)
                          .values(status=CANCELLED, held=None))
                continue
            s.execute(update(NOTICES).where(NOTICES.c.id == row.id).values(
                channel=channel, address=address, idempotency_key=key,
                held=found[:300] if found else None))
            mended += found is None
    return mended


def _follows_person(row: Any) -> bool:
    """A notice that goes where its person is told: not a group robot's, not
    one re-routed to a fallback (its key says so)."""
    return not (row.payload or {}).get("group") and not is_rerouted(row.idempotency_key)
