"""Who receives a notice, and how: the one router every notice goes through.

Someone away hands theirs to a substitute (down a chain), escalations go to the
role holders who are present, a digest-only person's upcoming and due notices
are folded into their digest, quiet hours hold a notice until they end, and
permanent refusals re-route it to the person's fallback channel. The rules are
pure (``domain/absence.py``, ``domain/routing.py``); this module reads the
rows they need. See docs/people.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from torchflow.channels import channel_type
from torchflow.config import Settings
from torchflow.domain import permissions, routing, wording
from torchflow.domain.absence import Absence, Receiver, receiver
from torchflow.domain.status import NoticeKind
from torchflow.i18n import Translator
from torchflow.service.app import App
from torchflow.service.delivery.keys import is_rerouted
from torchflow.service.people.absences import in_force
from torchflow.service.people.lookup import has_role
from torchflow.store.models import PEOPLE

ADMIN = permissions.ADMIN  # who stands in when a chain and its role end with nobody present
FALLBACK_AFTER = 3  # permanent SMTP failures of one notice before its fallback channel
ESCALATION = NoticeKind.ESCALATION


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
                                         if p.active and has_role(p, role))
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


def channel_of(settings: Settings, person: Row[Any]) -> tuple[str, str]:
    """(channel, address) for a person: their own choice, else the configured default."""
    channel = person.channel or settings.notify.default_channel
    return channel, channel_type(channel).address_of(person)


@dataclass(frozen=True)
class Route:
    """One notice's way to one receiver, decided once: who receives it (``to``,
    for ``got.person``), by which channel and address, and whether it waits in
    their digest (``folded``) or until ``not_before`` (quiet hours); ``reason``
    says why, for the ledger row."""

    to: Row[Any]
    got: Receiver
    channel: str
    address: str
    folded: bool = False
    not_before: datetime | None = None
    reason: str = ""
    on_behalf: str | None = None  # the mark of one received for someone away (for_whom)

    @property
    def for_person(self) -> str | None:
        """Whose notice a substitute receives (None: the receiver's own)."""
        return self.got.person if self.got.for_other else None


def direct(settings: Settings, person: Row[Any], now: datetime) -> Route:
    """A notice to ``person`` themself, now, by their channel: no substitute, no
    folding, no quiet hours (the monthly report to leadership)."""
    channel, address = channel_of(settings, person)
    return Route(person, Receiver(person.handle, person.handle), channel, address,
                 not_before=now)


@dataclass(frozen=True)
class Fallback:
    """A person's fallback channel and address (`person notify --fallback`): where
    a notice refused for good goes instead, and (once decided) why."""

    channel: str
    address: str
    why: str = ""


def fallback(person: Row[Any] | None, *, channel: str, address: str, key: str,
             attempts: int, max_attempts: int) -> Fallback | None:
    """After ``person``'s ``fallback_after`` permanent refusals of one notice (at
    the latest on its last attempt, so it never dies with a fallback set), their
    fallback channel; None when they have none, the notice goes by it already
    (re-routed once, or its channel and address are the fallback's: an smtp
    fallback to another address is a fallback all the same), or it is too early."""
    if person is None or not person.fallback_channel:
        return None
    target = (person.fallback_channel, person.fallback_address or "")
    if is_rerouted(key) or (channel, address) == target:
        return None
    if attempts < min(person.fallback_after or FALLBACK_AFTER, max_attempts):
        return None
    return Fallback(*target, why=f"re-routed from {channel} {address} after "
                                 f"{attempts} refusal(s)")


@dataclass
class Router:
    """Who receives a notice produced at ``now`` and how (``routes``, ``route``):
    read once per sweep batch (the people and the absences of the day, and the
    office's language, ``tr``, its notices are written in)."""

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
        self.tr: Translator = self.app.tr

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

    def routes(self, kind: str, assignee_id: int | None, escalate_to: str | None
               ) -> list[Route]:
        """Every way a task notice of ``kind`` goes: one route per receiver."""
        return [self.route(kind, to, got)
                for to, got in self.recipients(kind, assignee_id, escalate_to)]

    def route(self, kind: str, to: Row[Any], got: Receiver) -> Route:
        """How ``to`` is told of a notice of ``kind`` they receive (for
        ``got.person``): their channel and address, folded into their digest or
        held through their quiet hours, as they want to be told."""
        decision = routing.decide(kind, notify=to.notify or routing.EACH,
                                  quiet=routing.quiet_of(to.quiet_start, to.quiet_end),
                                  now=self.now, tz=self.app.calendar.tz)
        channel, address = channel_of(self.app.settings, to)
        return Route(to, got, channel, address, folded=decision.fold,
                     not_before=decision.hold or self.now,
                     on_behalf=(wording.for_whom(got.person, got.away_until, self.tr)
                                if got.for_other else None),
                     reason=routing.reason(
                         for_person=got.person if got.for_other else None,
                         away_until=got.away_until, fold=decision.fold, hold=decision.hold))


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
