"""Absences with substitutes (`person away / back`): recording them, and the
absences in force that the router (delivery/routing.py) and new work read.

The rules are pure (``domain/absence.py``); this module reads and writes the
rows. See docs/people.md.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from torchflow.domain import permissions
from torchflow.domain.absence import Absence, check_new
from torchflow.domain.office import OfficeKind, Subject
from torchflow.domain.text import check_line
from torchflow.errors import InvalidInput, Refused
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.people.lookup import Actor, active_person, person_by_handle
from torchflow.store.models import ABSENCES, PEOPLE

REASON_MAX = 200


def require_manage(actor: Actor, handle: str) -> None:
    """``handle``'s absences and notice preferences: their own, or an admin's."""
    actor.authorize("person.absence", permissions.Facts(subject=handle))


# --------------------------------------------------------------------------- absences


def in_force(session: Connection, tz: Any, first: date, last: date | None = None
             ) -> list[Absence]:
    """The absences covering any day of [first, last] (by handle), with the days
    after ``person back`` cut off."""
    last = last or first
    person = PEOPLE.alias("p")
    sub = PEOPLE.alias("s")
    rows = session.execute(
        select(person.c.handle.label("person"), sub.c.handle.label("substitute"),
               ABSENCES.c.starts, ABSENCES.c.ends, ABSENCES.c.ended_at)
        .join(person, person.c.id == ABSENCES.c.person_id)
        .join(sub, sub.c.id == ABSENCES.c.substitute_id)
        .where(ABSENCES.c.ends >= first, ABSENCES.c.starts <= last)
        .order_by(ABSENCES.c.id)
    ).all()
    found = []
    for r in rows:
        ends = r.ends
        if r.ended_at is not None:
            # Back on the day ``person back`` ran: away until the day before.
            ends = min(ends, r.ended_at.astimezone(tz).date() - timedelta(days=1))
        if ends >= max(r.starts, first):
            found.append(Absence(r.person, r.starts, ends, r.substitute))
    return found


def record_absence(app: App, actor: Actor, handle: str, *, starts: date, ends: date,
                   substitute: str, reason: str = "") -> dict[str, Any]:
    """``person away``: HANDLE is away from ``starts`` to ``ends``, ``substitute``
    receives their notices and new work; a substitute cycle is refused."""
    require_manage(actor, handle)
    reason = check_line(reason, "the reason", REASON_MAX).strip() if reason else ""
    now = app.now()
    today = app.calendar.local_date(now)
    if ends < today:
        raise InvalidInput(_("--to {ends} is in the past (today is {today}); record an absence "
                             "that has not ended yet", ends=ends, today=today))
    with app.db.transaction() as s:
        person = active_person(s, handle, _("record an absence of"))
        sub = active_person(s, substitute, _("name as substitute"))
        handle, substitute = person.handle, sub.handle
        _one_recorder_at_a_time(s)
        new = Absence(handle, starts, ends, substitute)
        check_new(new, in_force(s, app.calendar.tz, starts, ends))
        added = s.execute(ABSENCES.insert().values(
            person_id=person.id, starts=starts, ends=ends, substitute_id=sub.id,
            reason=reason, created_by=actor.handle, created_at=now
        ).returning(ABSENCES.c.id)).scalar_one()
        office.record(s, OfficeKind.AWAY, Subject.ABSENCE, added, actor=actor, at=now)
    return {"handle": handle, "from": starts.isoformat(), "to": ends.isoformat(),
            "substitute": substitute, "reason": reason}


def _one_recorder_at_a_time(session: Connection) -> None:
    """Two absences recorded at once could close a cycle neither of them saw: on
    PostgreSQL, writers of absences queue on a table lock that readers (the sweep)
    never wait for; SQLite's BEGIN IMMEDIATE serialises every writer already."""
    if session.dialect.name == "postgresql":
        session.exec_driver_sql("LOCK TABLE absences IN SHARE ROW EXCLUSIVE MODE")


def end_absence(app: App, actor: Actor, handle: str) -> dict[str, Any]:
    """``person back``: every absence of HANDLE not over yet ends today (one
    planned for later is void too); their notices come to them again."""
    require_manage(actor, handle)
    now = app.now()
    today = app.calendar.local_date(now)
    with app.db.transaction() as s:
        person = person_by_handle(s, handle)
        ended = s.execute(
            update(ABSENCES)
            .where(ABSENCES.c.person_id == person.id, ABSENCES.c.ends >= today,
                   ABSENCES.c.ended_at.is_(None))
            .values(ended_at=now).returning(ABSENCES.c.id)).all()
        office.record(s, OfficeKind.BACK, Subject.ABSENCE, [r.id for r in ended], actor=actor,
                      at=now)
    if not ended:
        raise Refused(_("{handle} has no absence today or ahead; see `torchflow agenda` for who "
                        "is away", handle=handle))
    return {"handle": handle, "ended": len(ended), "back_on": today.isoformat()}


def absences_of(session: Connection, person_id: int, tz: Any = None) -> list[dict[str, Any]]:
    """A person's absences, oldest first (for `person show`): from, to,
    substitute, reason, who recorded it, and when ended early by `person back`."""
    sub = PEOPLE.alias("s")
    rows = session.execute(
        select(ABSENCES, sub.c.handle.label("substitute"))
        .join(sub, sub.c.id == ABSENCES.c.substitute_id)
        .where(ABSENCES.c.person_id == person_id)
        .order_by(ABSENCES.c.starts, ABSENCES.c.id)).all()
    return [{"from": r.starts.isoformat(), "to": r.ends.isoformat(),
             "substitute": r.substitute, "reason": r.reason, "by": r.created_by,
             "ended_at": (r.ended_at.astimezone(tz) if tz else r.ended_at).isoformat()
             if r.ended_at else None}
            for r in rows]


# --------------------------------------------------------------------------- preferences


# --------------------------------------------------------------------------- routing


def refuse_if_substitute(app: App, handle: str) -> None:
    """An inactive substitute would be handed work nobody reads."""
    from torchflow.service.people.absences import in_force  # absences imports this module

    with app.db.read() as s:
        today = app.calendar.local_date(app.now())
        covering = [a for a in in_force(s, app.calendar.tz, today, date.max)
                    if a.substitute == handle]
    if covering:
        a = covering[0]
        raise Refused(_("{handle} is the substitute for {person}'s absence {starts} to {ends}; "
                        "end it (person back {person}) or record it with another substitute first",
                        handle=handle, person=a.person, starts=a.starts, ends=a.ends))
