"""People: who acts, who owns cases, who is told, and handing one's work over."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any, overload

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from torchflow.channels import CHANNEL_TYPES, channel_type, shown_address, unusable
from torchflow.channels.ids import EMAIL
from torchflow.channels.ids import merged as merged_ids
from torchflow.domain import identity
from torchflow.domain.permissions import ADMIN
from torchflow.domain.status import EventKind
from torchflow.domain.text import ADDRESS_MAX, EMAIL_MAX, HANDLE_MAX, NAME_MAX, check_line
from torchflow.errors import InvalidInput, NotFound, Refused
from torchflow.service import followups
from torchflow.service.app import App
from torchflow.service.events import CASES, append_event, case_by_id
from torchflow.service.paging import Page, fetch_page
from torchflow.store.models import OPEN, PEOPLE, PERSON_LOGINS, TASKS
from torchflow.store.queries import insert_ignore

HANDLE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
ROLE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# An OS login as the password database may hold it (POSIX names, user@domain,
# DOMAIN\user, a trailing '$'): one word, no control characters, no ':' (the
# passwd separator), at most the column's 64 characters. The real login from
# pwd always fits, so `init` can always make it the first admin.
LOGIN = re.compile(r"^[^\s:\x00-\x1f\x7f]{1,64}$")


@dataclass(frozen=True)
class Actor:
    """The person doing something, resolved once per command."""

    id: int
    handle: str
    roles: tuple[str, ...]
    entered_by: str | None = None  # the real person, when an admin acts as this one


def person_view(p: Row[Any]) -> dict[str, Any]:
    return {
        "handle": p.handle,
        "name": p.name,
        "email": p.email,
        "roles": list(p.roles or []),
        "channel": p.channel,
        "address": shown_address(p.address or ""),  # webhook URLs often carry a token
        "ids": dict(p.platform_ids or {}),  # on WeCom, DingTalk, Feishu (channels/ids.py)
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
    logins: list[str] | None = None,
    ids: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Add a person. Who may is checked at the edge (permissions ``person.add``).
    ``ids``: their ids on the platforms (channels/ids.py)."""
    roles = _check_person(handle, name, email, roles or [], channel, address)
    platform_ids = merged_ids(None, ids or {})
    check_channel(app, channel, email, address, platform_ids)
    logins = _check_logins(logins or [])
    with app.db.transaction() as s:
        return person_view(_insert_person(s, app, handle, name=name, email=email, roles=roles,
                                          channel=channel, address=address, logins=logins,
                                          ids=platform_ids))


def _insert_person(s: Connection, app: App, handle: str, *, name: str, email: str,
                   roles: list[str], channel: str | None, address: str,
                   logins: list[str], ids: dict[str, str] | None = None) -> Row[Any]:
    added = insert_ignore(
        s,
        PEOPLE,
        [{
            "handle": handle, "name": name.strip(), "email": email, "roles": roles,
            "channel": channel, "address": address, "active": True,
            "created_at": app.now(), "platform_ids": ids or None,
        }],
        ["handle"],
    )
    if not added:
        raise Refused(f"a person with handle '{handle}' exists already; pick another handle")
    person = person_by_handle(s, handle)
    _add_logins(s, person, logins)
    return person


def _check_person(
    handle: str, name: str, email: str, roles: list[str], channel: str | None, address: str
) -> list[str]:
    check_handle(handle)
    check_line(name, "the name", NAME_MAX)
    if address:
        check_line(address, "the address", ADDRESS_MAX)
    if email and (not EMAIL.fullmatch(check_line(email, "the e-mail", EMAIL_MAX))):
        raise InvalidInput(f"e-mail {email!r} is not valid; e.g. wang.li@example.gov.cn")
    if channel is not None and channel not in CHANNEL_TYPES:
        raise InvalidInput(f"channel {channel!r} is unknown; use one of "
                           + ", ".join(CHANNEL_TYPES))
    return _check_roles(roles)


def _check_roles(roles: list[str]) -> list[str]:
    """Roles as typed (repeated, or comma-separated), checked and sorted."""
    split = [r.strip() for role in roles for r in role.split(",") if r.strip()]
    for role in split:
        if not ROLE.fullmatch(role):
            raise InvalidInput(f"role {role!r} is not valid; use e.g. coordinator or director")
    return sorted(set(split))


def check_handle(handle: str) -> None:
    """A new person's handle: the pattern, and not the scheduler's reserved one."""
    if len(handle) > HANDLE_MAX or not HANDLE.fullmatch(handle):
        raise InvalidInput(
            f"handle {handle!r} is not valid; use lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter (e.g. wang.li)"
        )
    if handle in identity.RESERVED:
        raise InvalidInput(f"handle '{handle}' is reserved for the scheduler service; "
                           "pick another handle")


def check_channel(app: App, channel: str | None, email: str, address: str,
                  ids: dict[str, str] | None = None) -> None:
    """A channel that cannot reach the person is refused now, not after eight
    failed sends or held notices: the channel's own check of the address it
    would use (an e-mail for smtp, a URL the sender may post to for webhook, a
    WeCom user id, a robot's name), with this configuration and environment (a
    webhook needs its secret, a robot its token)."""
    chosen = channel or app.settings.notify.default_channel
    person = SimpleNamespace(email=email, address=address, platform_ids=ids or {})
    problem = unusable(app.settings, chosen, channel_type(chosen).address_of(person))
    if problem is not None:
        raise InvalidInput(problem)


def _check_logins(logins: list[str]) -> list[str]:
    checked = [check_line(login, "the login", HANDLE_MAX) for login in logins]
    for login in checked:
        if not LOGIN.fullmatch(login):
            raise InvalidInput(f"login {login!r} is not an operating-system user name; "
                               "use e.g. wangli (see `id -un` on that account)")
    return sorted(set(checked))


def _add_logins(s: Connection, person: Row[Any], logins: list[str]) -> None:
    for login in logins:
        owner = s.execute(select(PEOPLE.c.handle).join(
            PERSON_LOGINS, PERSON_LOGINS.c.person_id == PEOPLE.c.id).where(
            PERSON_LOGINS.c.login == login)).scalar()
        if owner == person.handle:
            continue
        if owner is not None:
            raise Refused(f"login '{login}' is {owner}'s already; remove it there first with "
                          f"`torchflow person edit {owner} --remove-login {login}`")
        s.execute(insert(PERSON_LOGINS).values(person_id=person.id, login=login))


def logins_of(s: Connection, person_id: int) -> list[str]:
    return list(s.scalars(select(PERSON_LOGINS.c.login).where(
        PERSON_LOGINS.c.person_id == person_id).order_by(PERSON_LOGINS.c.login)))


def edit_person(
    app: App,
    handle: str,
    *,
    name: str | None = None,
    email: str | None = None,
    channel: str | None = None,
    address: str | None = None,
    add_roles: list[str] | None = None,
    remove_roles: list[str] | None = None,
    add_logins: list[str] | None = None,
    remove_logins: list[str] | None = None,
    ids: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Change a person with ``add_person``'s checks over the values they end with;
    ``ids`` sets (or, "", removes) their ids on the platforms."""
    with app.db.transaction() as s:
        person = person_by_handle(s, handle)
        before = _admins(s)
        roles = set(person.roles or ())
        added = _check_roles(list(add_roles or []))
        removed = _check_roles(list(remove_roles or []))
        roles = (roles | set(added)) - set(removed)
        new = {
            "name": person.name if name is None else name,
            "email": person.email if email is None else email,
            "channel": person.channel if channel is None else channel,
            "address": person.address if address is None else address,
        }
        _check_person(handle, new["name"], new["email"], [], new["channel"], new["address"])
        platform_ids = merged_ids(person.platform_ids, ids or {})
        check_channel(app, new["channel"], new["email"], new["address"], platform_ids)
        new["platform_ids"] = platform_ids or None
        new["name"] = new["name"].strip()
        s.execute(update(PEOPLE).where(PEOPLE.c.id == person.id)
                  .values(roles=sorted(roles), **new))
        _add_logins(s, person, _check_logins(list(add_logins or [])))
        for login in remove_logins or []:
            gone = s.execute(delete(PERSON_LOGINS).where(
                PERSON_LOGINS.c.person_id == person.id, PERSON_LOGINS.c.login == login))
            if gone.rowcount != 1:
                raise NotFound(f"'{handle}' has no login '{login}'; see "
                               f"`torchflow person show {handle}`")
        _keep_an_admin(s, before)
        return person_view(person_by_handle(s, handle))


def _admins(s: Connection, *, lock: bool = True) -> list[str]:
    """The active admins who can act (a login maps to them), their rows locked on
    PostgreSQL: two admins taking each other's role at once queue here instead of
    both seeing the other one left."""
    can_act = select(PERSON_LOGINS.c.person_id).where(
        PERSON_LOGINS.c.person_id == PEOPLE.c.id).exists()
    query = select(PEOPLE.c.handle, PEOPLE.c.roles).where(
        PEOPLE.c.active.is_(True), can_act).order_by(PEOPLE.c.handle)
    rows = s.execute(query.with_for_update(of=PEOPLE) if lock else query)
    return [p.handle for p in rows if ADMIN in (p.roles or ())]


def _keep_an_admin(s: Connection, before: list[str], where: str = "") -> None:
    """A change that takes away the last active admin who can act is refused
    (rolled back): a database is never left with nobody able to administer it."""
    if before and not _admins(s):
        raise Refused(f"{where}that would leave no active admin with a login; give another "
                      "person the 'admin' role first")


def set_active(app: App, handle: str, active: bool, *, handover_to: str | None = None,
               actor: Actor | None = None) -> dict[str, Any]:
    """Deactivate (refused while the person still owns open work, unless it is
    handed over in the same command) or reactivate. Refused, too, while the
    person is the substitute of an absence running or planned."""
    if not active:
        _not_a_substitute(app, handle)
    if not active and handover_to is not None:
        if actor is None:
            raise ValueError("a handover needs the acting person")
        handover(app, actor, handle, handover_to, deactivate=True)
        with app.db.read() as s:
            return person_view(person_by_handle(s, handle))
    with app.db.transaction() as s:
        person = person_by_handle(s, handle)
        before = _admins(s)
        if not active:
            cases, tasks = _open_work(s, person.id)
            if cases or tasks:
                raise Refused(f"{handle} still owns {cases} open case(s) and {tasks} open "
                              f"task(s); add --handover-to OTHER to move them")
        s.execute(update(PEOPLE).where(PEOPLE.c.id == person.id).values(active=active))
        _keep_an_admin(s, before)
        return person_view(person_by_handle(s, handle))


def _not_a_substitute(app: App, handle: str) -> None:
    """An inactive substitute would be handed work nobody reads."""
    from torchflow.service.absences import in_force  # absences imports this module

    with app.db.read() as s:
        today = app.calendar.local_date(app.now())
        covering = [a for a in in_force(s, app.calendar.tz, today, date.max)
                    if a.substitute == handle]
    if covering:
        a = covering[0]
        raise Refused(f"{handle} is the substitute for {a.person}'s absence {a.starts} to "
                      f"{a.ends}; end it (person back {a.person}) or record it with "
                      "another substitute first")


def _open_work(s: Connection, person_id: int) -> tuple[int, int]:
    cases = s.scalar(select(func.count()).select_from(CASES).where(
        CASES.c.owner_id == person_id, CASES.c.closed_at.is_(None))) or 0
    tasks = s.scalar(select(func.count()).select_from(TASKS).where(
        TASKS.c.assignee_id == person_id, TASKS.c.status == OPEN)) or 0
    return int(cases), int(tasks)


def show_person(app: App, handle: str) -> dict[str, Any]:
    """A person with their logins, open work, absences, how they are told and the
    notices that bounced to their fallback channel or died."""
    from torchflow.service import absences
    from torchflow.service.tasks import overdue_before

    now = app.now()
    with app.db.read() as s:
        person = person_by_handle(s, handle)
        cases = [{"key": r.key, "title": r.title, "state": r.state} for r in s.execute(
            select(CASES.c.key, CASES.c.title, CASES.c.state).where(
                CASES.c.owner_id == person.id, CASES.c.closed_at.is_(None))
            .order_by(CASES.c.key))]
        cutoff = overdue_before(app, now)
        tasks = [{"id": r.id, "case": r.key, "rule": r.rule, "due_on": r.due_on.isoformat(),
                  "overdue": r.due_on < cutoff} for r in s.execute(
            select(TASKS.c.id, CASES.c.key, TASKS.c.rule, TASKS.c.due_on)
            .join(CASES, CASES.c.id == TASKS.c.case_id)
            .where(TASKS.c.assignee_id == person.id, TASKS.c.status == OPEN)
            .order_by(TASKS.c.due_on, TASKS.c.id))]
        return {**person_view(person), "logins": logins_of(s, person.id),
                "open_cases": cases, "open_tasks": tasks,
                "overdue": sum(1 for t in tasks if t["overdue"]),
                "absences": absences.absences_of(s, person.id, app.calendar.tz),
                **{k: v for k, v in absences.notify_view(person).items() if k != "handle"},
                "delivery_problems": absences.delivery_problems(s, person.handle)}


def first_admin(app: App, handle: str, login: str, *, named: bool = False
                ) -> dict[str, Any] | None:
    """``init``: a database where nobody can administer gets the login that ran
    it as an admin, so an install is never left without one. On an empty database
    that is a new person ``handle``; on one upgraded from before logins existed
    (people, but no admin with a login), only when ``init --admin HANDLE`` names
    who, and HANDLE gets this login and the role. None when an admin can act
    (``init --admin`` then changes nobody: `init` is safe to run twice)."""
    with app.db.transaction() as s:
        if s.dialect.name == "postgresql":  # two inits at once: one makes the admin
            s.exec_driver_sql("LOCK TABLE people IN SHARE ROW EXCLUSIVE MODE")
        if _admins(s):
            return None
        empty = not s.scalar(select(func.count()).select_from(PEOPLE))
        if not empty and not named:
            return None
        person = s.execute(select(PEOPLE).where(PEOPLE.c.handle == handle)).first()
        if person is None:
            return person_view(_insert_person(s, app, handle, name=handle, email="",
                                              roles=[ADMIN], channel="file", address="",
                                              logins=[login]))
        s.execute(update(PEOPLE).where(PEOPLE.c.id == person.id).values(
            active=True, roles=sorted({*(person.roles or ()), ADMIN})))
        _add_logins(s, person, [login])
        return person_view(person_by_handle(s, handle))


def acting_admins(app: App) -> list[str] | None:
    """The active admins with a login; None for a database with nobody in it."""
    with app.db.read() as s:
        if not s.scalar(select(func.count()).select_from(PEOPLE)):
            return None
        return _admins(s, lock=False)


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


def resolve_actor(app: App, handle: str) -> Actor:
    """The active person with ``handle`` as the actor, with no check of who is
    really at the keyboard: for services and tests. The CLI uses ``acting``."""
    with app.db.read() as s:
        person = person_by_handle(s, handle)
        if not person.active:
            raise Refused(f"'{handle}' is no longer active; act as another person")
        return Actor(person.id, person.handle, tuple(person.roles or ()))


@overload
def acting(app: App, login: str, requested: str | None) -> Actor: ...
@overload
def acting(app: App, login: str, requested: str | None, *, required: bool) -> Actor | None: ...


def acting(app: App, login: str, requested: str | None, *, required: bool = True
           ) -> Actor | None:
    """Who acts: the person of the OS ``login``, or (for an admin) the person
    named with --as; domain/identity.py has the rules. Not ``required``: None for
    a login that is nobody's when no one is named."""
    with app.db.read() as s:
        real = _identity_person(s.execute(select(PEOPLE).join(
            PERSON_LOGINS, PERSON_LOGINS.c.person_id == PEOPLE.c.id).where(
            PERSON_LOGINS.c.login == login)).first())
        named = None
        if requested and real is not None and requested != real.handle:
            named = _identity_person(s.execute(
                select(PEOPLE).where(PEOPLE.c.handle == requested)).first())
        # Only on the way to a refusal: whether this is a database from before logins.
        no_admin = real is None and required and not _admins(s, lock=False)
    if real is None and not requested and not required:
        return None
    result = identity.resolve(login, real, named, requested, no_admin=no_admin)
    who = result.actor
    return Actor(who.id, who.handle, who.roles, entered_by=result.entered_by)


def _identity_person(row: Row[Any] | None) -> identity.Person | None:
    if row is None:
        return None
    return identity.Person(row.id, row.handle, tuple(row.roles or ()), bool(row.active))


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
    if deactivate:
        _not_a_substitute(app, old)
    now = app.now()
    with app.db.transaction() as s:
        giver, taker = person_by_handle(s, old), active_person(s, new, "hand over to")
        case_ids = list(s.scalars(select(CASES.c.id).where(
            CASES.c.owner_id == giver.id, CASES.c.closed_at.is_(None))))
        for case_id in case_ids:
            append_event(s, case_by_id(s, case_id), kind=EventKind.ASSIGNED,
                         actor=actor.handle, entered_by=actor.entered_by, at=now,
                         data={"owner": new, "was": old, "handover": True},
                         changes={"owner_id": taker.id})
        moved = followups.move_work(app, s, taker, giver=giver)
        if deactivate:
            before = _admins(s)
            s.execute(update(PEOPLE).where(PEOPLE.c.id == giver.id).values(active=False))
            _keep_an_admin(s, before)
    return Handover(old, new, len(case_ids), moved.tasks, moved.notices, moved.in_flight)
