"""Absences with substitutes and how each person wants to be told: recording
them, and the one router the sweep and planning ask who receives what.

The rules are pure (``domain/absence.py``, ``domain/routing.py``); this module
reads the rows they need, writes what people set, and turns a decision into a
row of the notice ledger. See docs/people.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select, update

from torchflow.channels import CHANNEL_TYPES, shown_address, unusable
from torchflow.domain import permissions, routing
from torchflow.domain.absence import Absence, Receiver, check_new, receiver
from torchflow.domain.status import NoticeKind, NoticeStatus
from torchflow.domain.text import ADDRESS_MAX, check_line
from torchflow.errors import InvalidInput, Refused
from torchflow.i18n import _
from torchflow.service import people as people_service
from torchflow.service.app import App
from torchflow.service.people import Actor
from torchflow.store.models import ABSENCES, NOTICES, PEOPLE, TASKS

ADMIN = permissions.ADMIN  # who stands in when a chain and its role end with nobody present
REASON_MAX = 200
FALLBACK_AFTER = 3  # permanent SMTP failures of one notice before its fallback channel
FALLBACK_AFTER_MAX = 50
ESCALATION = NoticeKind.ESCALATION


def may_manage(actor: Actor, handle: str) -> bool:
    """Whether ``actor`` may set ``handle``'s absences and notice preferences:
    the person themself, or whoever the permissions table allows (an admin acting
    as someone else is an admin)."""
    return (actor.handle == handle or actor.entered_by is not None
            or permissions.allowed("person.absence", actor.roles))


def _require_manage(actor: Actor, handle: str) -> None:
    if not may_manage(actor, handle):
        role = permissions.role_for("person.absence")
        raise Refused(f"{actor.handle} may not change {handle}'s absences or notices; "
                      f"only {handle} or someone with the '{role}' role may")


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
    _require_manage(actor, handle)
    reason = check_line(reason, "the reason", REASON_MAX).strip() if reason else ""
    now = app.now()
    today = app.calendar.local_date(now)
    if ends < today:
        raise InvalidInput(f"--to {ends} is in the past (today is {today}); "
                           "record an absence that has not ended yet")
    with app.db.transaction() as s:
        person = people_service.active_person(s, handle, "record an absence of")
        sub = people_service.active_person(s, substitute, "name as substitute")
        _one_recorder_at_a_time(s)
        new = Absence(handle, starts, ends, substitute)
        check_new(new, in_force(s, app.calendar.tz, starts, ends))
        s.execute(ABSENCES.insert().values(
            person_id=person.id, starts=starts, ends=ends, substitute_id=sub.id,
            reason=reason, created_by=actor.handle, created_at=now))
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
    _require_manage(actor, handle)
    now = app.now()
    today = app.calendar.local_date(now)
    with app.db.transaction() as s:
        person = people_service.person_by_handle(s, handle)
        ended = s.execute(
            update(ABSENCES)
            .where(ABSENCES.c.person_id == person.id, ABSENCES.c.ends >= today,
                   ABSENCES.c.ended_at.is_(None))
            .values(ended_at=now).returning(ABSENCES.c.id)).all()
    if not ended:
        raise Refused(f"{handle} has no absence today or ahead; "
                      f"see `torchflow agenda` for who is away")
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


@dataclass(frozen=True)
class Fallback:
    channel: str
    address: str


def parse_fallback(text: str) -> Fallback:
    """``webhook:https://...`` or ``smtp:other@example.cn`` -> Fallback (its
    channel known, an address given); whether it can reach anyone is the
    channel's check, in ``set_notify``."""
    channel, sep, address = text.partition(":")
    if not sep or channel not in CHANNEL_TYPES:
        raise InvalidInput(f"fallback {text!r} is not CHANNEL:ADDRESS with a channel of "
                           + ", ".join(CHANNEL_TYPES) + "; e.g. webhook:https://hooks.example/x")
    address = check_line(address.strip(), "the fallback address", ADDRESS_MAX)
    if not address and channel != "file":
        raise InvalidInput(f"fallback {text!r} has no address; give CHANNEL:ADDRESS")
    return Fallback(channel, address)


def check_fallback(app: App, fallback: Fallback) -> None:
    """The checks a person's own channel gets, so a fallback cannot be a dead end."""
    problem = unusable(app.settings, fallback.channel, fallback.address)
    if problem is not None:
        raise InvalidInput(_("fallback {fallback}: {problem}", problem=problem,
                             fallback=f"{fallback.channel}:{shown_address(fallback.address)}"))


_UNSET: Any = object()


def set_notify(app: App, actor: Actor, handle: str, *, notify: str | None = None,
               quiet: routing.Quiet | None = _UNSET, fallback: Fallback | None = _UNSET,
               fallback_after: int | None = None) -> dict[str, Any]:
    """``person notify``: change only what is given (``quiet=None`` clears the
    quiet hours, ``fallback=None`` the fallback channel)."""
    _require_manage(actor, handle)
    values: dict[str, Any] = {}
    if notify is not None:
        if notify not in routing.NOTIFY_MODES:
            raise InvalidInput(f"notify {notify!r} is unknown; use each or digest")
        values["notify"] = notify
    if quiet is not _UNSET:
        values["quiet_start"] = f"{quiet.start:%H:%M}" if quiet else None
        values["quiet_end"] = f"{quiet.end:%H:%M}" if quiet else None
    if fallback is not _UNSET:
        if fallback is not None:
            check_fallback(app, fallback)
        values["fallback_channel"] = fallback.channel if fallback else None
        values["fallback_address"] = fallback.address if fallback else None
    if fallback_after is not None:
        if not 1 <= fallback_after <= FALLBACK_AFTER_MAX:
            raise InvalidInput(f"--fallback-after {fallback_after} is out of range; "
                               f"use 1 to {FALLBACK_AFTER_MAX}")
        values["fallback_after"] = fallback_after
    with app.db.transaction() as s:
        person = people_service.person_by_handle(s, handle)
        if values:
            s.execute(update(PEOPLE).where(PEOPLE.c.id == person.id).values(**values))
        return notify_view(people_service.person_by_handle(s, handle))


def notify_of(app: App, handle: str) -> dict[str, Any]:
    """``person notify HANDLE`` with no option: anyone may read it (``person
    show`` shows the same); only changing it needs ``may_manage``."""
    with app.db.read() as s:
        return notify_view(people_service.person_by_handle(s, handle))


def notify_view(p: Row[Any]) -> dict[str, Any]:
    quiet = routing.quiet_of(p.quiet_start, p.quiet_end)
    return {"handle": p.handle, "notify": p.notify or routing.EACH,
            "quiet": str(quiet) if quiet else None,
            "fallback": (f"{p.fallback_channel}:{shown_address(p.fallback_address or '')}"
                         if p.fallback_channel else None),
            "fallback_after": p.fallback_after or FALLBACK_AFTER}


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
                   and_(NOTICES.c.status == NoticeStatus.PENDING, NOTICES.c.held.is_not(None))))
        .order_by(NOTICES.c.id.desc()).limit(limit)).all()
    return [{"id": r.id, "kind": r.kind, "status": "held" if r.held else r.status,
             "channel": r.channel, "reason": r.reason or "", "error": r.held or r.last_error}
            for r in rows]


# --------------------------------------------------------------------------- routing


@dataclass
class Chains:
    """Who receives for whom on ``day``: the one decision the notices
    (``Router``) and new tasks (``substitutes``) share."""

    people: Mapping[int, Row[Any]]
    day: date
    absences: list[Absence] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._handles = {p.handle: p for p in self.people.values()}
        self._holders: dict[str, list[str]] = {}
        self.away = {a.person for a in self.absences if a.covers(self.day)}
        # Substitutes deactivated since the absence was recorded: they receive nothing.
        active = {p.handle for p in self.people.values() if p.active}
        self._inactive = {a.substitute for a in self.absences} - active

    def holders(self, role: str) -> list[str]:
        if role not in self._holders:
            self._holders[role] = sorted(p.handle for p in self.people.values()
                                         if p.active and people_service.has_role(p, role))
        return self._holders[role]

    def receiver_of(self, person: Row[Any], role: str | None) -> tuple[Row[Any], Receiver]:
        """(the row of who receives ``person``'s notices and new work today, the
        decision); a chain ending with nobody present goes to ``role``'s present
        holders (the rule's escalation role, else admin)."""
        if person.handle not in self.away:  # the common case: no reading of the chain
            return person, Receiver(person.handle, person.handle)
        got = receiver(person.handle, self.day, self.absences, self.holders(role or ADMIN),
                       self._inactive)
        return self._handles.get(got.handle, person), got


@dataclass
class Router:
    """Who receives a notice produced at ``now`` and how: read once per sweep
    batch (the people and the absences of the day)."""

    app: App
    people: Mapping[int, Row[Any]]
    now: datetime
    absences: list[Absence] = field(default_factory=list)

    @classmethod
    def load(cls, app: App, session: Connection, people: Mapping[int, Row[Any]],
             now: datetime) -> Router:
        day = app.calendar.local_date(now)
        return cls(app, people, now, in_force(session, app.calendar.tz, day))

    def __post_init__(self) -> None:
        self.day = self.app.calendar.local_date(self.now)
        self.chains = Chains(self.people, self.day, self.absences)
        self._handles = {p.handle: p for p in self.people.values()}
        self._away = self.chains.away

    def holders(self, role: str) -> list[str]:
        return self.chains.holders(role)

    def receiver_of(self, person: Row[Any], role: str | None) -> tuple[Row[Any], Receiver]:
        return self.chains.receiver_of(person, role)

    def recipients(self, kind: str, assignee_id: int | None, escalate_to: str | None
                   ) -> list[tuple[Row[Any], Receiver]]:
        """An escalation goes to the role's holders who are present (if none is,
        to whom the absent ones' chains lead); any other notice to the assignee,
        or whoever receives for them while they are away."""
        if kind == ESCALATION:
            holders = [self._handles[h] for h in self.holders(escalate_to or "")]
            present = [(p, Receiver(p.handle, p.handle)) for p in holders
                       if p.handle not in self._away]
            if present or not holders:
                return present
            routed: dict[str, tuple[Row[Any], Receiver]] = {}
            for holder in holders:  # once per receiver, however many they stand in for
                row, got = self.receiver_of(holder, escalate_to)
                routed.setdefault(row.handle, (row, got))
            return list(routed.values())
        person = self.people.get(assignee_id) if assignee_id is not None else None
        return [self.receiver_of(person, escalate_to)] if person is not None else []

    def tell(self, row: dict[str, Any], to: Row[Any], got: Receiver) -> dict[str, Any]:
        """Apply the receiver's notify mode and quiet hours to a ledger row (and
        mark one received for another): folded, held, or as it is."""
        decision = routing.decide(row["kind"], notify=to.notify or routing.EACH,
                                  quiet=routing.quiet_of(to.quiet_start, to.quiet_end),
                                  now=self.now, tz=self.app.calendar.tz)
        if decision.fold:
            row["status"] = NoticeStatus.FOLDED
        if decision.hold is not None:
            row["not_before"] = decision.hold
        row["for_person"] = got.person if got.for_other else None
        row["reason"] = routing.reason(
            for_person=got.person if got.for_other else None, away_until=got.away_until,
            fold=decision.fold, hold=decision.hold)
        return row


def substitutes(session: Connection, tz: Any, day: date,
                assignees: Iterable[tuple[int | None, str | None]]
                ) -> dict[tuple[int, str | None], tuple[Row[Any], Receiver]]:
    """For each (assignee id, escalation role) of new tasks whose assignee is
    away on ``day``: (who takes the task, the decision), as ``Router`` decides
    for their notices. New work planned that day goes to the substitute."""
    wanted = {(i, role) for i, role in assignees if i is not None}
    if not wanted:
        return {}
    absences = in_force(session, tz, day)
    if not absences:
        return {}
    chains = Chains({p.id: p for p in session.execute(select(PEOPLE))}, day, absences)
    found: dict[tuple[int, str | None], tuple[Row[Any], Receiver]] = {}
    for pid, role in wanted:
        person = chains.people.get(pid)
        if person is None:
            continue
        sub, got = chains.receiver_of(person, role)
        if sub.handle != person.handle:
            found[(pid, role)] = (sub, got)
    return found


def folded_for(session: Connection, owner: str) -> list[Any]:
    """The folded notices of ``owner`` (received by them, or for them by a
    substitute) not yet in a digest, with their task's status: their next
    digest takes them all and lists those whose task is still open."""
    return list(session.execute(
        select(NOTICES.c.id, NOTICES.c.kind, NOTICES.c.payload,
               TASKS.c.status.label("task_status"))
        .join(TASKS, TASKS.c.id == NOTICES.c.task_id)
        .where(NOTICES.c.status == NoticeStatus.FOLDED, NOTICES.c.folded_into.is_(None),
               or_(NOTICES.c.for_person == owner,
                   and_(NOTICES.c.for_person.is_(None), NOTICES.c.recipient == owner)))
        .order_by(NOTICES.c.id)).all())


def handled_while_away(session: Connection, handle: str) -> list[Any]:
    """Task notices others received for ``handle`` since ``handle``'s own last
    digest: what their substitutes handled while they were away."""
    last = session.scalar(
        select(NOTICES.c.created_at)
        .where(NOTICES.c.recipient == handle, NOTICES.c.kind == NoticeKind.DIGEST,
               NOTICES.c.for_person.is_(None))
        .order_by(NOTICES.c.created_at.desc()).limit(1))
    query = (select(NOTICES.c.recipient, NOTICES.c.kind, NOTICES.c.status, NOTICES.c.subject)
             .where(NOTICES.c.for_person == handle, NOTICES.c.task_id.is_not(None),
                    NOTICES.c.status != NoticeStatus.CANCELLED))
    if last is not None:
        query = query.where(NOTICES.c.created_at > last)
    return list(session.execute(query.order_by(NOTICES.c.id)).all())


def people_handled_for(session: Connection) -> list[str]:
    """Everyone some substitute received notices for (candidates for a
    "handled for you" section)."""
    return sorted(h for h in session.scalars(
        select(NOTICES.c.for_person).distinct().where(NOTICES.c.for_person.is_not(None)))
        if h)
