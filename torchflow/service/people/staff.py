"""People and their logins: add, edit, deactivate and reactivate, show, list,
and the first admin of a new database (`init`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from torchflow.channels import shown_address
from torchflow.channels.ids import merged as merged_ids
from torchflow.domain.office import OfficeKind, Subject
from torchflow.domain.permissions import ADMIN
from torchflow.errors import NotFound, Refused
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.delivery.ledger import delivery_problems
from torchflow.service.followups.views import overdue_before
from torchflow.service.paging import Page, fetch_page
from torchflow.service.people.absences import absences_of, refuse_if_substitute
from torchflow.service.people.checks import (
    check_channel,
    check_logins,
    check_person,
    check_roles,
    named_roles,
)
from torchflow.service.people.handover import handover
from torchflow.service.people.history import history_of, role_history
from torchflow.service.people.lookup import (
    Actor,
    admins,
    keep_an_admin,
    person_by_handle,
)
from torchflow.service.people.notify import notify_view
from torchflow.store.models import CASES, OPEN, PEOPLE, PERSON_LOGINS, TASKS
from torchflow.store.queries import insert_ignore


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
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Add a person, with no check of who asks: the writer under ``add`` (the use
    case), the demo, ``import people`` (which authorizes once for the sheet) and
    tests. ``ids``: their ids on the platforms (channels/ids.py); ``actor``: who
    adds them, for the office's history."""
    roles = check_person(handle, name, email, named_roles(app, roles or []), channel, address)
    platform_ids = merged_ids(None, ids or {})
    check_channel(app, channel, email, address, platform_ids)
    logins = check_logins(logins or [])
    with app.db.transaction() as s:
        person = _insert_person(s, app, handle, name=name, email=email, roles=roles,
                                channel=channel, address=address, logins=logins,
                                ids=platform_ids)
        office.record(s, OfficeKind.ADDED, Subject.PERSON, person.id,
                      actor=actor or office.SYSTEM, at=app.now())
        return person_view(person)


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
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Change a person with ``add_person``'s checks over the values they end with;
    ``ids`` sets (or, "", removes) their ids on the platforms. No check of who
    asks: ``edit`` is the use case."""
    with app.db.transaction() as s:
        person = person_by_handle(s, handle)
        before = admins(s)
        was = office.current(s, Subject.PERSON, [person.id])
        roles = set(person.roles or ())
        added = check_roles(named_roles(app, list(add_roles or [])))
        removed = check_roles(named_roles(app, list(remove_roles or [])))
        roles = (roles | set(added)) - set(removed)
        new = {
            "name": person.name if name is None else name,
            "email": person.email if email is None else email,
            "channel": person.channel if channel is None else channel,
            "address": person.address if address is None else address,
        }
        check_person(handle, new["name"], new["email"], [], new["channel"], new["address"])
        platform_ids = merged_ids(person.platform_ids, ids or {})
        check_channel(app, new["channel"], new["email"], new["address"], platform_ids)
        new["platform_ids"] = platform_ids or None
        new["name"] = new["name"].strip()
        s.execute(update(PEOPLE).where(PEOPLE.c.id == person.id)
                  .values(roles=sorted(roles), **new))
        _add_logins(s, person, check_logins(list(add_logins or [])))
        for login in remove_logins or []:
            gone = s.execute(delete(PERSON_LOGINS).where(
                PERSON_LOGINS.c.person_id == person.id, PERSON_LOGINS.c.login == login))
            if gone.rowcount != 1:
                raise NotFound(f"'{handle}' has no login '{login}'; see "
                               f"`torchflow person show {handle}`")
        keep_an_admin(s, before)
        # An edit that changed nothing is no event in the office's history.
        if office.current(s, Subject.PERSON, [person.id]) != was:
            office.record(s, OfficeKind.ROLES if roles != set(person.roles or ())
                          else OfficeKind.EDITED, Subject.PERSON, person.id,
                          actor=actor or office.SYSTEM, at=app.now())
        return person_view(person_by_handle(s, handle))


def set_active(app: App, handle: str, active: bool, *, handover_to: str | None = None,
               actor: Actor | None = None) -> dict[str, Any]:
    """Deactivate (refused while the person still owns open work, unless it is
    handed over in the same command) or reactivate. Refused, too, while the
    person is the substitute of an absence running or planned."""
    if not active:
        refuse_if_substitute(app, handle)
    if not active and handover_to is not None:
        if actor is None:
            raise ValueError("a handover needs the acting person")
        handover(app, actor, handle, handover_to, deactivate=True)
        with app.db.read() as s:
            return person_view(person_by_handle(s, handle))
    with app.db.transaction() as s:
        person = person_by_handle(s, handle)
        before = admins(s)
        if not active:
            cases, tasks = _open_work(s, person.id)
            if cases or tasks:
                raise Refused(f"{handle} still owns {cases} open case(s) and {tasks} open "
                              f"task(s); add --handover-to OTHER to move them")
        s.execute(update(PEOPLE).where(PEOPLE.c.id == person.id).values(active=active))
        keep_an_admin(s, before)
        office.record(s, OfficeKind.ACTIVATED if active else OfficeKind.DEACTIVATED,
                      Subject.PERSON, person.id, actor=actor or office.SYSTEM, at=app.now())
        return person_view(person_by_handle(s, handle))


def add(app: App, actor: Actor, handle: str, **details: Any) -> dict[str, Any]:
    """`person add`: an admin's (domain/permissions.py)."""
    actor.authorize("person.add")
    return add_person(app, handle, actor=actor, **details)


def edit(app: App, actor: Actor, handle: str, **changes: Any) -> dict[str, Any]:
    """`person edit`: roles and details are an admin's to change."""
    if changes.get("add_roles") or changes.get("remove_roles"):
        actor.authorize("person.roles")
    actor.authorize("person.edit")
    return edit_person(app, handle, actor=actor, **changes)


def deactivate(app: App, actor: Actor, handle: str, *, handover_to: str | None = None
               ) -> dict[str, Any]:
    actor.authorize("person.deactivate")
    if handover_to is not None:
        actor.authorize("person.handover")
    return set_active(app, handle, False, handover_to=handover_to, actor=actor)


def reactivate(app: App, actor: Actor, handle: str) -> dict[str, Any]:
    actor.authorize("person.reactivate")
    return set_active(app, handle, True, actor=actor)


def _open_work(s: Connection, person_id: int) -> tuple[int, int]:
    cases = s.scalar(select(func.count()).select_from(CASES).where(
        CASES.c.owner_id == person_id, CASES.c.closed_at.is_(None))) or 0
    tasks = s.scalar(select(func.count()).select_from(TASKS).where(
        TASKS.c.assignee_id == person_id, TASKS.c.status == OPEN)) or 0
    return int(cases), int(tasks)


def show_person(app: App, handle: str) -> dict[str, Any]:
    """A person with their logins, open work, absences, how they are told and the
    notices that bounced to their fallback channel or died."""
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
                "absences": absences_of(s, person.id, app.calendar.tz),
                **{k: v for k, v in notify_view(person, app.settings.notify.mode).items()
                   if k != "handle"},
                "delivery_problems": delivery_problems(s, person.handle),
                "role_history": role_history(history_of(app, s, person.id))}


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
        if admins(s):
            return None
        empty = not s.scalar(select(func.count()).select_from(PEOPLE))
        if not empty and not named:
            return None
        person = s.execute(select(PEOPLE).where(PEOPLE.c.handle == handle)).first()
        if person is None:
            person = _insert_person(s, app, handle, name=handle, email="", roles=[ADMIN],
                                    channel="file", address="", logins=[login])
        else:
            s.execute(update(PEOPLE).where(PEOPLE.c.id == person.id).values(
                active=True, roles=sorted({*(person.roles or ()), ADMIN})))
            _add_logins(s, person, [login])
        # The login that ran `init` acts: it is the admin's own now.
        office.record(s, OfficeKind.FIRST_ADMIN, Subject.PERSON, person.id, actor=handle,
                      at=app.now())
        return person_view(person_by_handle(s, handle))


def acting_admins(app: App) -> list[str] | None:
    """The active admins with a login; None for a database with nobody in it."""
    with app.db.read() as s:
        if not s.scalar(select(func.count()).select_from(PEOPLE)):
            return None
        return admins(s, lock=False)


def list_people(app: App, include_inactive: bool = True, *, limit: int = 500,
                offset: int = 0) -> Page:
    with app.db.read() as s:
        query = select(PEOPLE).order_by(PEOPLE.c.handle)
        if not include_inactive:
            query = query.where(PEOPLE.c.active.is_(True))
        return fetch_page(s, query, limit=limit, offset=offset, view=person_view)
