"""Follow-up planning: turn a state's rules into the next dated task of each.

Rolling follow-ups: only the next occurrence of a rule is planned; the caller
plans again when it is done or its time has passed.
Irregular visits are drawn from an RNG seeded by (case, rule,
occurrence), so a stored seed and window let anyone re-derive the date.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.rules import ContactRule, DeadlineRule, Rule, VisitRule
from torchflow.errors import InvalidInput


@dataclass(frozen=True)
class PlannedTask:
    """One planned follow-up: what the service stores as an open task."""

    rule: str  # rule.name, e.g. "negotiation.contact"
    kind: str  # "contact" | "visit" | "deadline"
    occurrence: int
    due_on: date
    window_start: date | None = None  # visits only
    window_end: date | None = None
    seed: str | None = None  # visits only: hex seed used for the draw
    # The day counted from, so the task can be re-planned; not part of its identity.
    since: date | None = field(default=None, compare=False)


def visit_seed(case_key: str, rule: str, occurrence: int) -> str:
    """The audit seed of one visit draw: sha256 hex of ``case|rule|occurrence``."""
    return hashlib.sha256(f"{case_key}|{rule}|{occurrence}".encode()).hexdigest()


def plan_next(
    cal: WorkCalendar, rule: Rule, *, case_key: str, since: date, occurrence: int
) -> PlannedTask:
    """Plan occurrence ``occurrence`` of ``rule``, counting from ``since``.

    ``since`` is the state's entry date or the date of the previous occurrence
    (last contact, last visit).

    - contact: the ``every``-th working day after ``since``;
    - deadline: the ``within``-th working day after ``since``;
    - visit: a working day drawn uniformly from the calendar-day window
      ``[since + min_gap, since + max_gap]``. If that window holds no working
      day at all (say it lies inside the Spring Festival break), the visit falls
      on the first working day after the window; the window and seed stored on
      the task still show what was asked for.
    """
    if occurrence < 1:
        raise InvalidInput(f"occurrence must be 1 or more, got {occurrence}")
    if isinstance(rule, ContactRule):
        task = _planned(rule, occurrence, cal.add_workdays(since, _positive(rule.every, rule)))
    elif isinstance(rule, DeadlineRule):
        task = _planned(rule, occurrence, cal.add_workdays(since, _positive(rule.within, rule)))
    elif isinstance(rule, VisitRule):
        task = _plan_visit(cal, rule, case_key=case_key, since=since, occurrence=occurrence)
    else:
        raise InvalidInput(f"cannot plan {rule!r}: expected a contact, visit or deadline rule")
    return replace(task, since=since)


def plan_state_entry(
    cal: WorkCalendar,
    rules: Iterable[Rule],
    *,
    case_key: str,
    entered_on: date,
    occurrences: Mapping[str, int],
) -> list[PlannedTask]:
    """The first task of each rule of a state just entered on ``entered_on``.

    ``occurrences`` maps a rule name to the highest occurrence this case already
    used for it (from an earlier stay in the same state); numbering continues
    from there so (case, rule, occurrence) stays unique and a visit re-entered
    gets a fresh draw rather than repeating the old one.
    """
    rules = list(rules)
    names = [rule.name for rule in rules]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        # Two rules with one name would plan two tasks with one (case, rule, occurrence).
        raise InvalidInput(f"rules share a name, which must be unique: {', '.join(duplicates)}")
    return [
        plan_next(
            cal,
            rule,
            case_key=case_key,
            since=entered_on,
            occurrence=occurrences.get(rule.name, 0) + 1,
        )
        for rule in rules
    ]


def _plan_visit(
    cal: WorkCalendar, rule: VisitRule, *, case_key: str, since: date, occurrence: int
) -> PlannedTask:
    if not 0 <= rule.min_gap <= rule.max_gap:
        raise InvalidInput(
            f"{rule.name}: need 0 <= min_gap <= max_gap, got {rule.min_gap}..{rule.max_gap}"
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
    )


def _draw_index(seed: str, n: int) -> int:
    """A uniform index in ``range(n)`` from the hex seed.

    Python promises that ``Random(int_seed).random()`` yields the same sequence
    across versions, unlike ``choice``/``randrange``, whose algorithms have
    changed before; building on ``random()`` keeps old draws re-derivable.
    """
    return int(random.Random(int(seed, 16)).random() * n)


def _planned(rule: ContactRule | DeadlineRule, occurrence: int, due: date) -> PlannedTask:
    return PlannedTask(rule=rule.name, kind=rule.kind, occurrence=occurrence, due_on=due)


def _positive(value: int, rule: ContactRule | DeadlineRule) -> int:
    # 0 working days would plan the task for the day it was created, and again
    # and again: a cadence or budget must move forward.
    if value < 1:
        raise InvalidInput(f"{rule.name}: working days must be 1 or more, got {value}")
    return value
