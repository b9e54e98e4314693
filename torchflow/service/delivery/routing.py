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
from datetime import date, datetime, time
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace
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
from torchflow.store.models import NOTICES, PEOPLE

ADMIN = permissions.ADMIN  # who stands in when a chain and its role end with nobody present
FALLBACK_AFTER = 3  # permanent SMTP failures of one notice before its fallback channel
ESCALATION = NoticeKind.ESCALATION


class Chains(Struct, dict=True):  # dict: what __post_init__ derives
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


def channel_of(settings: Settings, person: Row[Any], group: str | None = None
               ) -> tuple[str, str]:
    """(channel, address) for a person: a group robot's (``group``, "CHANNEL:ROBOT",
    for a task notice of a workflow or a role that names one: ``group_of``), else
    their own choice, else the configured default."""
    if group:
        channel, _sep, robot = group.partition(":")
        return channel, robot
    channel = person.channel or settings.notify.default_channel
    return channel, channel_type(channel).address_of(person)


def group_of(settings: Settings, person: Row[Any], workflow: str | None,
             kind: str = "") -> str | None:
    """The group robot ("CHANNEL:ROBOT") a task notice goes to instead of the
    person's own channel, from [notify.groups]: the workflow's, else one of the
    person's roles' (an escalation, addressed to a role: the role's first). The
    person is @-mentioned there, and told nowhere else."""
    groups = settings.notify.groups
    if not groups:
        return None
    by_role = [groups[r] for r in sorted(person.roles or ()) if r in groups]
    by_workflow = [groups[workflow]] if workflow and workflow in groups else []
    found = by_role + by_workflow if kind == ESCALATION else by_workflow + by_role
    return found[0] if found else None


class Route(Struct, frozen=True):
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
    group: str | None = None  # a group robot's ("CHANNEL:ROBOT"): the receiver @-mentioned
    # Everyone one group robot message @-mentions, when it is for several (``one_per_group``).
    mention: tuple[str, ...] = ()
    folded_into: str | None = None  # the key of today's digest that listed its task already

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


class Fallback(Struct, frozen=True):
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


class Router(Struct, dict=True):  # dict: what __post_init__ derives
    """Who receives a notice produced at ``now`` and how (``routes``, ``route``):
    read once per sweep batch (the people and the absences of the day, and the
    office's language, ``tr``, its notices are written in)."""

    app: App
    people: Mapping[int, Row[Any]]
    now: datetime
    absences: list[Absence] = field(default_factory=list)
    # (receiver, task id) -> the key of today's digest that listed the task already.
    listed: Mapping[tuple[str, int], str] = field(default_factory=dict)

    @classmethod
    def load(cls, app: App, session: Connection, people: Mapping[int, Row[Any]],
             now: datetime) -> Router:
        day = app.calendar.local_date(now)
        return cls(app, people, now, in_force(session, app.calendar.tz, day),
                   listed_today(session, app.calendar.at(day, time(0, 0))))

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

    def recipients(self, kind: str, assignee_id: int | None, escalate_to: str | None,
                   lead: Row[Any] | None = None) -> list[tuple[Row[Any], Receiver]]:
        """An escalation goes to ``lead`` when given (a co-handler's part overdue:
        the lead handler, or who receives for them), else to the role's holders
        who are present (if none is, to whom the absent ones' chains lead); any
        other notice to the assignee, or whoever receives for them while they are
        away."""
        if kind == ESCALATION and lead is not None:
            return [self.receiver_of(lead, escalate_to)]
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

    def routes(self, kind: str, assignee_id: int | None, escalate_to: str | None,
               workflow: str | None = None, task_id: int | None = None,
               lead: Row[Any] | None = None) -> list[Route]:
        """Every way a task notice of ``kind`` (of a case of ``workflow``) goes:
        one route per receiver, by the group robot [notify.groups] names for the
        workflow or the receiver's role if any; receivers told alike at one robot
        get one message mentioning them all."""
        return one_per_group([
            self.route(kind, to, got, group_of(self.app.settings, to, workflow, kind), task_id)
            for to, got in self.recipients(kind, assignee_id, escalate_to, lead)])

    def route(self, kind: str, to: Row[Any], got: Receiver, group: str | None = None,
              task_id: int | None = None) -> Route:
        """How ``to`` is told of a notice of ``kind`` they receive (for
        ``got.person``): their channel and address (or ``group``'s robot), folded
        into their digest or held through their quiet hours, as they want to be
        told (their own mode, else the office's, [notify] mode); a task today's
        digest listed for them already is not told again the same day."""
        decision = routing.decide(kind, notify=to.notify or self.app.settings.notify.mode,
                                  quiet=routing.quiet_of(to.quiet_start, to.quiet_end),
                                  now=self.now, tz=self.app.calendar.tz)
        channel, address = channel_of(self.app.settings, to, group)
        listed = (self.listed.get((to.handle, task_id))
                  if task_id is not None and kind != ESCALATION and group is None else None)
        return Route(to, got, channel, address, folded=decision.fold or listed is not None,
                     not_before=decision.hold or self.now, group=group, folded_into=listed,
                     on_behalf=(wording.for_whom(got.person, got.away_until, self.tr)
                                if got.for_other else None),
                     reason=routing.reason(
                         for_person=got.person if got.for_other else None,
                         away_until=got.away_until, fold=decision.fold, hold=decision.hold,
                         listed=listed is not None))


def listed_today(session: Connection, since: datetime) -> dict[tuple[str, int], str]:
    """(receiver, task id) -> the key of the digest made since ``since`` (the
    local day's start) that lists the task: its own notice that day is folded
    into that digest instead of going out again."""
    found: dict[tuple[str, int], str] = {}
    for row in session.execute(
            select(NOTICES.c.recipient, NOTICES.c.idempotency_key, NOTICES.c.payload)
            .where(NOTICES.c.kind == NoticeKind.DIGEST, NOTICES.c.task_id.is_(None),
                   NOTICES.c.created_at >= since)):
        for task in (row.payload or {}).get("tasks", ()):
            found.setdefault((row.recipient, int(task)), row.idempotency_key)
    return found


def one_per_group(routes: list[Route]) -> list[Route]:
    """One notice's routes to several people (an escalation to a role's holders):
    those going to the same group robot become one message @-mentioning them all.
    Only those told alike: folding and quiet hours may treat the people differently."""
    merged: list[Route] = []
    first: dict[tuple[Any, ...], int] = {}
    for route in routes:
        where = (route.channel, route.address, route.folded, route.not_before)
        if route.group is None:
            merged.append(route)
        elif where in first:
            kept = merged[first[where]]
            merged[first[where]] = replace(
                kept, mention=(*(kept.mention or (kept.to.handle,)), route.to.handle))
        else:
            first[where] = len(merged)
            merged.append(route)
    return merged


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
