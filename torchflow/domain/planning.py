"""Follow-up planning: turn a state's rules into the next dated task of each.

Rolling follow-ups: only the next occurrence of a rule is planned; the caller
plans again when it is done or its time has passed.
Irregular visits are drawn from an RNG seeded by (case, rule,
occurrence), so a stored seed and window let anyone re-derive the date.
"""

from __future__ import annotations

import calendar as gregorian
import hashlib
import random
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from msgspec import Struct

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.rules import (
    FORWARD,
    ContactRule,
    DeadlineRule,
    DutyRule,
    EachRule,
    Rule,
    Span,
    VisitRule,
)
from torchflow.domain.status import Outcome
from torchflow.domain.timeline import duty_miss_at
from torchflow.errors import InvalidInput
from torchflow.i18n import Listing, _


class PlannedTask(Struct, frozen=True):
    """One planned follow-up: what the service stores as an open task."""

    rule: str  # rule.name, e.g. "negotiation.contact"
    kind: str  # "contact" | "visit" | "deadline"
    occurrence: int
    due_on: date
    window_start: date | None = None  # visits only
    window_end: date | None = None
    seed: str | None = None  # visits only: hex seed used for the draw
    # The day counted from, so the task can be re-planned; not part of its identity.
    since: date | None = None

    def __eq__(self, other: object) -> bool:
        if type(other) is not PlannedTask:
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> tuple[object, ...]:
        return (self.rule, self.kind, self.occurrence, self.due_on, self.window_start,
                self.window_end, self.seed)


def visit_seed(case_key: str, rule: str, occurrence: int) -> str:
    """The audit seed of one visit draw: sha256 hex of ``case|rule|occurrence``."""
    return hashlib.sha256(f"{case_key}|{rule}|{occurrence}".encode()).hexdigest()


def plan_next(
    cal: WorkCalendar, rule: Rule | EachRule, *, case_key: str, since: date, occurrence: int,
    fields: Mapping[str, object] | None = None,
) -> PlannedTask:
    """Plan occurrence ``occurrence`` of ``rule``, counting from ``since``.

    ``since`` is the state's entry date or the date of the previous occurrence
    (last contact, last visit).

    - contact: the ``every``-th working day after ``since``;
    - deadline: the ``within``-th working day after ``since`` (the budget of
      the case's ``fields`` when the rule has one ``by`` a choice field);
    - visit: a working day drawn uniformly from the calendar-day window
      ``[since + min_gap, since + max_gap]``. If that window holds no working
      day at all (say it lies inside the Spring Festival break), the visit falls
      on the first working day after the window; the window and seed stored on
      the task still show what was asked for.
    """
    if occurrence < 1:
        raise InvalidInput(f"occurrence must be 1 or more, got {occurrence}")
    if isinstance(rule, ContactRule):
        return _planned(rule, occurrence, cal.add_workdays(since, _positive(rule.every, rule)),
                        since=since)
    if isinstance(rule, DeadlineRule) and rule.after is not None:
        return _planned(rule, occurrence, span_due(cal, since, rule.after, rule.roll),
                        since=since)
    if isinstance(rule, DeadlineRule):
        within = _positive(rule.within_for(fields), rule)
        return _planned(rule, occurrence, cal.add_workdays(since, within), since=since)
    if isinstance(rule, VisitRule):
        return _plan_visit(cal, rule, case_key=case_key, since=since, occurrence=occurrence)
    if isinstance(rule, DutyRule):
        return _planned(rule, occurrence, duty_due(cal, rule, since), since=since)
    if isinstance(rule, EachRule):  # one person's part: a budget from the state's entry
        return _planned(rule, occurrence, cal.add_workdays(since, _positive(rule.within, rule)),
                        since=since)
    raise InvalidInput(f"cannot plan {rule!r}: expected a contact, visit, deadline or duty")


# --------------------------------------------------------------------------- dated duties


def add_span(day: date, span: Span) -> date:
    """``day`` plus years and months to the corresponding day (the month's last
    day when it has none: 2028-02-29 + 3 years is 2031-02-28), then the days."""
    months = day.month - 1 + span.total_months
    year, month = day.year + months // 12, months % 12 + 1
    last = gregorian.monthrange(year, month)[1]
    return date(year, month, min(day.day, last)) + timedelta(days=span.days)


def to_workday(cal: WorkCalendar, day: date, roll: str) -> date:
    """``day`` if a working day; else the last working day before it
    (``backward``: the office still has a working day to chase it), or the first
    after it (``forward``: the statutory reading, Civil Code art. 203)."""
    if roll == FORWARD:
        return cal.next_workday(day)
    while not cal.is_workday(day):
        day -= timedelta(days=1)
    return day


def span_due(cal: WorkCalendar, since: date, span: Span, roll: str) -> date:
    """The working day a span after ``since`` falls on (at least the day after
    ``since``, so a duty never falls due on the day it is counted from)."""
    due = to_workday(cal, add_span(since, span), roll)
    return due if due > since else cal.next_workday(since, inclusive=False)


def yearly_on(year: int, month: int, day: int) -> date:
    """The yearly date in ``year``: 29 February is 28 February in a common year."""
    return date(year, month, min(day, gregorian.monthrange(year, month)[1]))


def duty_due(cal: WorkCalendar, rule: DutyRule, since: date) -> date:
    """The due day of a duty counted from ``since``: a yearly one's first date
    strictly after ``since`` (on a working day by its roll, still after
    ``since``), a one-off ``after`` its span."""
    if rule.on is None:
        if rule.after is None:
            raise InvalidInput(_("{name}: a duty needs on (yearly) or after (once)",
                                 name=rule.name))
        return span_due(cal, since, rule.after, rule.roll)
    month, day = rule.on
    for year in range(since.year, since.year + 3):
        nominal = yearly_on(year, month, day)
        due = to_workday(cal, nominal, rule.roll)
        if nominal > since and due > since:
            return due
    raise InvalidInput(f"{rule.name}: no date after {since} within two years")  # unreachable


def plan_duty_miss(
    cal: WorkCalendar, rule: DutyRule, *, due_on: date, occurrence: int, now: datetime
) -> Miss | None:
    """A duty still open when it is missed (the start of the working day after
    its due day, ``timeline.duty_miss_at``), or None before then. A yearly one
    rolls on: the next occurrence counts from the missed one's due day (years
    missed during downtime are each a missed row); a one-off one has none."""
    if now < duty_miss_at(cal, due_on=due_on):
        return None
    if not rule.yearly:
        return Miss(missed=(), following=None)
    planned: list[PlannedTask] = []
    due = due_on
    while True:
        following = _planned(rule, occurrence + len(planned) + 1, duty_due(cal, rule, due),
                             since=due)
        if now < duty_miss_at(cal, due_on=following.due_on):
            return Miss(missed=tuple(planned), following=following)
        planned.append(following)
        due = following.due_on


def plan_state_entry(
    cal: WorkCalendar,
    rules: Iterable[Rule],
    *,
    case_key: str,
    entered_on: date,
    occurrences: Mapping[str, int],
    since: Mapping[str, date] | None = None,
    budgets: Mapping[str, int] | None = None,
    fields: Mapping[str, object] | None = None,
) -> list[PlannedTask]:
    """The first task of each rule of a state just entered on ``entered_on``.

    ``occurrences`` maps a rule name to the highest occurrence this case already
    used for it (from an earlier stay in the same state); numbering continues
    from there so (case, rule, occurrence) stays unique and a visit re-entered
    gets a fresh draw rather than repeating the old one.

    ``since`` gives a rule another day to count from (its ``from`` date field);
    ``budgets`` gives a deadline resumed after a hold the working days of its
    budget left (see ``resume_deadline``).
    """
    since, budgets = since or {}, budgets or {}
    rules = planned_rules(rules, since)
    names = [rule.name for rule in rules]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        # Two rules with one name would plan two tasks with one (case, rule, occurrence).
        raise InvalidInput(_("rules share a name, which must be unique: {choices}",
                             choices=Listing(duplicates)))
    return [
        resume_deadline(cal, rule, entered_on, budgets[rule.name],
                        occurrence=occurrences.get(rule.name, 0) + 1)
        if isinstance(rule, DeadlineRule) and rule.name in budgets else
        plan_next(
            cal,
            rule,
            case_key=case_key,
            since=since.get(rule.name, entered_on),
            occurrence=occurrences.get(rule.name, 0) + 1,
            fields=fields,
        )
        for rule in rules
    ]


def planned_rules(rules: Iterable[Rule], since: Mapping[str, date]) -> list[Rule]:
    """The rules entering a state plans: all but a duty counting from a date field
    that holds no date (``since``: ``counted_from``'s days), which exists only
    while it does."""
    return [r for r in rules
            if not (isinstance(r, DutyRule) and r.count_from and r.name not in since)]


def counted_from(
    rules: Iterable[Rule], fields: Mapping[str, object]
) -> tuple[dict[str, date], dict[str, str]]:
    """The day each rule with a ``from`` date field counts from, by rule name, and
    the rules whose field is empty (they count from the state's entry), with
    the field each names; a duty whose field is empty is neither (it waits for
    its date: ``planned_rules``)."""
    since: dict[str, date] = {}
    empty: dict[str, str] = {}
    for rule in rules:
        if rule.count_from is None:
            continue
        value = fields.get(rule.count_from)
        if isinstance(value, str) and value:
            since[rule.name] = date.fromisoformat(value)
        elif not isinstance(rule, DutyRule):  # a duty without its date is not planned
            empty[rule.name] = rule.count_from
    return since, empty


def budget_left(cal: WorkCalendar, due_on: date, left_on: date) -> int:
    """The working days of a deadline's budget left when its state is left on
    ``left_on``: the working days after that day up to the due day (0 once the
    due day is reached or passed). The day the state is left counts as used."""
    return cal.count_workdays(left_on, due_on)


def resume_deadline(
    cal: WorkCalendar, rule: DeadlineRule, resumed_on: date, left: int, *, occurrence: int
) -> PlannedTask:
    """A deadline resumed after a hold: the ``left``-th working day after the day
    of resuming (the resume day, like an entry day, does not count), or that day
    itself (the next working day if it is none) when no budget was left."""
    return _planned(rule, occurrence, cal.add_workdays(resumed_on, max(left, 0)))


def _plan_visit(
    cal: WorkCalendar, rule: VisitRule, *, case_key: str, since: date, occurrence: int
) -> PlannedTask:
    if not 0 <= rule.min_gap <= rule.max_gap:
        raise InvalidInput(
            _("{name}: need 0 <= min_gap <= max_gap, got {min_gap}..{max_gap}",
              name=rule.name, min_gap=rule.min_gap, max_gap=rule.max_gap)
        )
    start = since + timedelta(days=rule.min_gap)
    end = since + timedelta(days=rule.max_gap)
    seed = visit_seed(case_key, rule.name, occurrence)
    candidates = cal.workdays(start, end)
    if candidates:
        due = candidates[_draw_index(seed, len(candidates))]
    else:
        due = cal.next_workday(end, inclusive=False)
    return PlannedTask(
        rule=rule.name,
        kind=rule.kind,
        occurrence=occurrence,
        due_on=due,
        window_start=start,
        window_end=end,
        seed=seed,
        since=since,
    )


def _draw_index(seed: str, n: int) -> int:
    """A uniform index in ``range(n)`` from the hex seed.

    Python promises that ``Random(int_seed).random()`` yields the same sequence
    across versions, unlike ``choice``/``randrange``, whose algorithms have
    changed before; building on ``random()`` keeps old draws re-derivable.
    """
    return int(random.Random(int(seed, 16)).random() * n)


def _planned(rule: ContactRule | DeadlineRule | DutyRule | EachRule, occurrence: int, due: date,
             since: date | None = None) -> PlannedTask:
    return PlannedTask(rule=rule.name, kind=rule.kind, occurrence=occurrence, due_on=due,
                       since=since)


def _positive(value: int, rule: ContactRule | DeadlineRule | EachRule) -> int:
    # 0 working days would plan the task for the day it was created, and again
    # and again: a cadence or budget must move forward.
    if value < 1:
        raise InvalidInput(_("{name}: working days must be 1 or more, got {value}",
                             name=rule.name, value=value))
    return value


# --------------------------------------------------------------------------- missed contacts


class Roll(Struct, frozen=True):
    """A contact rolled on because its next slot fell due while it was open.

    ``missed`` are the slots skipped after the open one (after downtime: one per
    slot, each its own occurrence, so a report counts missed contacts with a plain
    COUNT and dates them); ``following`` is the open task of the current slot."""

    missed: tuple[PlannedTask, ...]
    following: PlannedTask

    @property
    def count(self) -> int:
        """Contacts missed by this roll: the open one and every skipped slot."""
        return 1 + len(self.missed)


class Miss(Struct, frozen=True):
    """A duty missed: as a Roll, but a one-off duty has nothing following."""

    missed: tuple[PlannedTask, ...]
    following: PlannedTask | None

    @property
    def count(self) -> int:
        return 1 + len(self.missed)


def plan_roll(
    cal: WorkCalendar, rule: ContactRule, *, due_on: date, occurrence: int, now: datetime
) -> Roll | None:
    """The roll of an open contact due on ``due_on`` at ``now``, or None while
    its next slot has not fallen due (slot n is the ``n * every``-th working day
    after ``due_on``; it falls due at the start of that working day)."""
    today = cal.local_date(now)
    passed = cal.count_workdays(due_on, today)
    if passed and now < cal.at(today, cal.workday_start) and cal.is_workday(today):
        passed -= 1  # today's slot is not due before the working day starts
    slots = passed // _positive(rule.every, rule)
    if slots < 1:
        return None
    planned, slot = [], due_on
    for n in range(1, slots + 1):
        slot = cal.add_workdays(slot, rule.every)
        planned.append(_planned(rule, occurrence + n, slot))
    return Roll(missed=tuple(planned[:-1]), following=planned[-1])


def outcome_of(cal: WorkCalendar, due_on: date, done_on: date) -> tuple[Outcome, int]:
    """On time (done on or before the due day) or late by the working days after
    it up to the day done, at least 1 (done on the Saturday after a Friday is late)."""
    if done_on <= due_on:
        return Outcome.ON_TIME, 0
    return Outcome.LATE, max(1, cal.count_workdays(due_on, done_on))
