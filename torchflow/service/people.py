"""People: who acts, who owns cases, who is told, and handing one's work over."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select, update

from torchflow.channels import CHANNEL_TYPES, shown_address
from torchflow.config import ENV_USER
from torchflow.domain.status import EventKind
from torchflow.domain.text import ADDRESS_MAX, EMAIL_MAX, HANDLE_MAX, NAME_MAX, check_line
from torchflow.errors import InvalidInput, NotFound, Refused
from torchflow.service import followups
from torchflow.service.app import App
from torchflow.service.events import CASES, append_event, case_by_id
from torchflow.service.paging import Page, fetch_page
from torchflow.store.models import PEOPLE
from torchflow.store.queries import insert_ignore

HANDLE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
ROLE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class Actor:
    """The person doing something, resolved once per command."""

    id: int
    handle: str
    roles: tuple[str, ...]


def person_view(p: Row[Any]) -> dict[str, Any]:
    return {
        "handle": p.handle,
        "name": p.name,
        "email": p.email,
        "roles": list(p.roles or []),
        "channel": p.channel,
        "address": shown_address(p.address or ""),  # webhook URLs often carry a token
        "active": p.active,
    }


def add_person(
    app: App,
    handle: str,
    *,
    name: str,
    email: str = "",
    roles: list[str] | None = None,
    channel: str | None = None,
    address: str = "",
) -> dict[str, Any]:
    roles = _check_person(handle, name, email, roles or [], channel, address)
    with app.db.transaction() as s:
        added = insert_ignore(
            s,
            PEOPLE,
            [{
                "handle": handle, "name": name.strip(), "email": email, "roles": roles,
                "channel": channel, "address": address, "active": True,
                "created_at": app.now(),
            }],
            ["handle"],
        )
        if not added:
            raise Refused(f"a person with handle '{handle}' exists already; pick another handle")
        return person_view(person_by_handle(s, handle))


def _check_person(
    handle: str, name: str, email: str, roles: list[str], channel: str | None, address: str
) -> list[str]:
    if len(handle) > HANDLE_MAX or not HANDLE.fullmatch(handle):
        raise InvalidInput(
            f"handle {handle!r} is not valid; use lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter (e.g. wang.li)"
        )
    check_line(name, "the name", NAME_MAX)
    if address:
        check_line(address, "the address", ADDRESS_MAX)
    if email and (not EMAIL.fullmatch(check_line(email, "the e-mail", EMAIL_MAX))):
        raise InvalidInput(f"e-mail {email!r} is not valid; e.g. wang.li@example.gov.cn")
    split = [r.strip() for role in roles for r in role.split(",") if r.strip()]
    for role in split:
        if not ROLE.fullmatch(role):
            raise InvalidInput(f"role {role!r} is not valid; use e.g. coordinator or director")
    if channel is not None and channel not in CHANNEL_TYPES:
        raise InvalidInput(f"channel {channel!r} is unknown; use one of "
                           + ", ".join(CHANNEL_TYPES))
    return sorted(set(split))


def list_people(app: App, include_inactive: bool = True, *, limit: int = 500,
                offset: int = 0) -> Page:
    with app.db.read() as s:
        query = select(PEOPLE).order_by(PEOPLE.c.handle)
        if not include_inactive:
            query = query.where(PEOPLE.c.active.is_(True))
        return fetch_page(s, query, limit=limit, offset=offset, view=person_view)


def person_by_handle(session: Connection, handle: str) -> Row[Any]:
    person = session.execute(select(PEOPLE).where(PEOPLE.c.handle == handle)).first()
    if person is None:
        raise NotFound(f"no person with handle '{handle}'; see `torchflow person list`")
    return person


def active_person(session: Connection, handle: str, role: str) -> Row[Any]:
    """A person who can take on work; ``role`` says what for, in the refusal."""
    person = person_by_handle(session, handle)
    if not person.active:
        raise Refused(f"'{handle}' is not active; {role} an active person")
    return person


def resolve_actor(app: App, handle: str | None) -> Actor:
    if not handle:
        raise InvalidInput(
            f"who is acting? pass --as HANDLE or set {ENV_USER} (see `torchflow person list`)"
        )
    with app.db.read() as s:
        person = person_by_handle(s, handle)
        if not person.active:
            raise Refused(f"'{handle}' is no longer active; act as another person")
        return Actor(person.id, person.handle, tuple(person.roles or ()))


def has_role(person: Row[Any], role: str) -> bool:
    return role in (person.roles or ())


@dataclass(frozen=True)
class Handover:
    giver: str
    taker: str
    cases: int
    tasks: int
    notices: int  # moved now
    in_flight: int  # being sent: they move if that send ends unsent


def handover(app: App, actor: Actor, old: str, new: str, *, deactivate: bool = False
             ) -> Handover:
    """OLD leaves or changes post: open cases, open tasks and pending notices move."""
    if old == new:
        raise InvalidInput("OLD and NEW are the same person")
    now = app.now()
    with app.db.transaction() as s:
        giver, taker = person_by_handle(s, old), active_person(s, new, "hand over to")
        case_ids = list(s.scalars(select(CASES.c.id).where(
            CASES.c.owner_id == giver.id, CASES.c.closed_at.is_(None))))
        for case_id in case_ids:
            append_event(s, case_by_id(s, case_id), kind=EventKind.ASSIGNED,
                         actor=actor.handle, at=now,
                         data={"owner": new, "was": old, "handover": True},
                         changes={"owner_id": taker.id})
        moved = followups.move_work(app, s, taker, giver=giver)
        if deactivate:
            s.execute(update(PEOPLE).where(PEOPLE.c.id == giver.id).values(active=False))
    return Handover(old, new, len(case_ids), moved.tasks, moved.notices, moved.in_flight)
