"""A held-out-style check of 2027: cases opened every day of December 2026 in
every shipped workflow, walked through their states, with no due date,
reminder or digest on a statutory holiday of 2027.

Pure domain (planning, timeline, calendar), so every workflow, every entry day
and every rule stays fast. The same walk on a Monday-Friday calendar (the
fallback before this change) must find dates on holidays, or this check could
not fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.loader import load_directory
from torchflow.domain.planning import plan_next, plan_state_entry
from torchflow.domain.timeline import digest_day, timeline
from torchflow.domain.workflow import PREVIOUS, WorkflowSpec

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
DECEMBER = [date(2026, 12, 1) + timedelta(days=i) for i in range(31)]
END = date(2027, 12, 31)

# Typed in from the regulation as revised in 2024, not taken from the library:
# New Year 1, Spring Festival 4, Qingming 1, Labour Day 2, Dragon Boat 1,
# Mid-Autumn 1, National Day 3.
HOLIDAYS_2027 = frozenset([
    date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8),
    date(2027, 4, 5), date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
    date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3),
])


def monday_to_friday_2027() -> WorkCalendar:
    """The calendar as it was: 2027 (no notice) treated as plain Monday-Friday."""
    year = [date(2027, 1, 1) + timedelta(days=i) for i in range(365)]
    return WorkCalendar(extra_workdays=[d for d in year if d.weekday() < 5], warn=lambda _: None)


def rule_dates(cal: WorkCalendar, rule: object, key: str, entered: date,
               leave: date) -> Iterator[tuple[str, date]]:
    """Due dates and reminder days of every occurrence of ``rule`` while the
    state lasts: each contact or visit done on its day, the next counted from it."""
    occurrence, since = 1, entered
    while True:
        task = plan_next(cal, rule, case_key=key, since=since, occurrence=occurrence)  # type: ignore[arg-type]
        tl = timeline(cal, kind=task.kind, due_on=task.due_on, remind=rule.remind)  # type: ignore[attr-defined]
        yield f"{task.rule} due", task.due_on
        if tl.upcoming_at is not None:
            yield f"{task.rule} reminder", cal.local_date(tl.upcoming_at)
        if task.kind == "deadline" or task.due_on >= min(leave, END):
            return
        occurrence, since = occurrence + 1, task.due_on


def state_dates(cal: WorkCalendar, spec: WorkflowSpec, state: str, key: str,
                entered: date) -> tuple[list[tuple[str, date]], date]:
    """The dates a stay in ``state`` from ``entered`` produces, and the day the
    case leaves: on its deadline's due day, else 40 working days later."""
    rules = spec.states[state].rules
    first = plan_state_entry(cal, rules, case_key=key, entered_on=entered, occurrences={})
    deadline = next((t.due_on for t in first if t.kind == "deadline"), None)
    leave = deadline or cal.add_workdays(entered, 40)
    out = [item for rule in rules for item in rule_dates(cal, rule, key, entered, leave)]
    return out, leave


def walk(cal: WorkCalendar, spec: WorkflowSpec, opened: date) -> list[tuple[str, date]]:
    """Open a case on ``opened`` and take the first transition to a state not yet
    visited from each state, until a terminal state or the end of 2027."""
    key = f"{spec.key_prefix}-{opened}"
    state, day, seen, out = spec.initial, opened, set(), []
    while not spec.states[state].terminal and state not in seen and day <= END:
        seen.add(state)
        dates, day = state_dates(cal, spec, state, key, day)
        out += dates
        ahead = [t.dest for t in spec.transitions_from(state)
                 if t.dest != PREVIOUS and t.dest not in seen]
        if not ahead:
            break
        state = ahead[0]
    return out


def every_date(cal: WorkCalendar) -> list[tuple[str, date]]:
    """The walk of every workflow from every day of December 2026, plus every
    non-terminal state entered directly on each of those days."""
    out = []
    for spec in load_directory(WORKFLOWS).values():
        for opened in DECEMBER:
            out += walk(cal, spec, opened)
            for name, state in spec.states.items():
                if not state.terminal:
                    out += state_dates(cal, spec, name, f"{spec.key_prefix}-{opened}", opened)[0]
    return [(what, d) for what, d in out if d.year == 2027]


def digest_days(cal: WorkCalendar) -> list[date]:
    year = [date(2027, 1, 1) + timedelta(days=i) for i in range(365)]
    days = (digest_day(cal, cal.at(d, time(8, 30)), time(8, 30)) for d in year)
    return [d for d in days if d is not None]


@pytest.fixture(scope="module")
def checked() -> list[tuple[str, date]]:
    return every_date(WorkCalendar(warn=lambda _: None))


def test_no_due_date_or_reminder_on_a_2027_statutory_holiday(
    checked: list[tuple[str, date]],
) -> None:
    on_holidays = sorted({(what, d) for what, d in checked if d in HOLIDAYS_2027})
    assert len(checked) > 40_000  # the check is broad: every workflow, day and rule
    assert on_holidays == []


def test_the_same_walk_on_monday_to_friday_finds_holidays() -> None:
    # Proves the check can fail: the old fallback puts follow-ups on Spring
    # Festival, Qingming, Labour Day, Dragon Boat, Mid-Autumn and National Day.
    before = every_date(monday_to_friday_2027())
    hit = {d for _, d in before if d in HOLIDAYS_2027}
    assert hit == {d for d in HOLIDAYS_2027 if d.weekday() < 5}  # all 7 weekday holidays
    assert len([d for _, d in before if d in HOLIDAYS_2027]) > 1_000


def test_no_digest_on_a_2027_statutory_holiday() -> None:
    assert [d for d in digest_days(WorkCalendar(warn=lambda _: None)) if d in HOLIDAYS_2027] == []
    before = digest_days(monday_to_friday_2027())
    assert len([d for d in before if d in HOLIDAYS_2027]) == 7  # the weekday ones


def test_talent_docking_matching_entered_on_28_december_2026() -> None:
    cal = WorkCalendar(warn=lambda _: None)
    spec = load_directory(WORKFLOWS)["talent_docking"]
    _, leave = state_dates(cal, spec, "matching", "TD-1", date(2026, 12, 28))
    assert leave == date(2027, 2, 15)  # after the break and its days in lieu
    assert leave not in HOLIDAYS_2027 and cal.is_workday(leave)
    _, old_leave = state_dates(monday_to_friday_2027(), spec, "matching", "TD-1",
                               date(2026, 12, 28))
    assert old_leave == date(2027, 2, 8)  # what the Monday-Friday fallback planned
