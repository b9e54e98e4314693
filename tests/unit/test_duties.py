"""Duties on dates and deadlines after a span, planned on the official calendar.

2026 is the State Council's schedule (notice of 4 November 2025): 1-5 May and
1-7 October off; Saturday 28 February, Saturday 9 May, Sunday 20 September and
Saturday 10 October worked. 2027 has no official schedule in the installed data
yet (the statutory fallback), so the 2027 dates here are ones it cannot change:
ordinary weekdays and weekends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from torchflow.api.operations import TASK_KINDS
from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.planning import (
    add_span,
    plan_duty_miss,
    plan_next,
    plan_state_entry,
    to_workday,
)
from torchflow.domain.rules import BACKWARD, FORWARD, DeadlineRule, DutyRule, Span
from torchflow.domain.status import TaskKind, choices
from torchflow.domain.timeline import duty_miss_at, stage_times, timeline


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def yearly(on: tuple[int, int], roll: str = BACKWARD, **kw: object) -> DutyRule:
    return DutyRule("certified", "annual_report", "director", on=on, roll=roll, **kw)  # type: ignore[arg-type]


def once(span: Span, roll: str = BACKWARD) -> DutyRule:
    return DutyRule("certified", "name_change", "coordinator", after=span, roll=roll,
                    count_from="name_changed_on")


def due(cal: WorkCalendar, rule: DutyRule | DeadlineRule, since: date) -> date:
    return plan_next(cal, rule, case_key="EC-2026-0001", since=since, occurrence=1).due_on


# --------------------------------------------------------------------------- spans


@pytest.mark.parametrize(("day", "span", "expected"), [
    (date(2023, 10, 3), Span(years=3), date(2026, 10, 3)),
    (date(2024, 2, 29), Span(years=3), date(2027, 2, 28)),  # no 29 Feb: the month's end
    (date(2024, 2, 29), Span(years=4), date(2028, 2, 29)),  # a leap year again
    (date(2025, 11, 30), Span(months=3), date(2026, 2, 28)),
    (date(2027, 11, 30), Span(months=3), date(2028, 2, 29)),
    (date(2026, 10, 31), Span(months=14), date(2027, 12, 31)),
    (date(2026, 3, 2), Span(days=90), date(2026, 5, 31)),
])
def test_a_span_goes_to_the_corresponding_day(day: date, span: Span, expected: date) -> None:
    assert add_span(day, span) == expected


def test_a_day_off_rolls_backward_by_default_or_forward(cal: WorkCalendar) -> None:
    # Sunday 31 May 2026: Friday 29 May, or Monday 1 June.
    assert to_workday(cal, date(2026, 5, 31), BACKWARD) == date(2026, 5, 29)
    assert to_workday(cal, date(2026, 5, 31), FORWARD) == date(2026, 6, 1)
    # Labour Day, 1-5 May 2026 off: Thursday 30 April, or Wednesday 6 May.
    assert to_workday(cal, date(2026, 5, 3), BACKWARD) == date(2026, 4, 30)
    assert to_workday(cal, date(2026, 5, 3), FORWARD) == date(2026, 5, 6)
    # Saturday 28 February 2026 is an adjusted working day: it stays.
    assert to_workday(cal, date(2026, 2, 28), BACKWARD) == date(2026, 2, 28)
    assert to_workday(cal, date(2026, 2, 28), FORWARD) == date(2026, 2, 28)
    # A working day never moves.
    assert to_workday(cal, date(2027, 5, 31), FORWARD) == date(2027, 5, 31)


def test_a_deadline_after_a_span_from_its_date(cal: WorkCalendar) -> None:
    rule = DeadlineRule("certified", 0, "director", after=Span(years=3),
                        count_from="certified_on")
    # Certified Sat 3 Oct 2023: 3 Oct 2026 is in the National Day break (1-7 Oct).
    assert due(cal, rule, date(2023, 10, 3)) == date(2026, 9, 30)
    assert due(cal, DeadlineRule("certified", 0, "director", after=Span(years=3),
                                 roll=FORWARD), date(2023, 10, 3)) == date(2026, 10, 8)
    # Certified on a leap day: 28 Feb 2027 is a Sunday.
    assert due(cal, rule, date(2024, 2, 29)) == date(2027, 2, 26)
    # Six years after a leap day: Saturday 28 February 2026, a worked Saturday.
    assert due(cal, DeadlineRule("certified", 0, "director", after=Span(years=6)),
               date(2020, 2, 29)) == date(2026, 2, 28)


def test_a_span_ending_on_a_day_off_rolled_back_still_falls_after_its_start(
    cal: WorkCalendar,
) -> None:
    # Friday 1 May 2026 + 1 day = Saturday 2 May, a holiday; backward would be
    # Thursday 30 April, before the day counted from: the next working day instead.
    assert due(cal, once(Span(days=1)), date(2026, 5, 1)) == date(2026, 5, 6)


# --------------------------------------------------------------------------- yearly


def test_the_annual_report_by_31_may_across_years(cal: WorkCalendar) -> None:
    rule = yearly((5, 31))
    assert due(cal, rule, date(2026, 3, 4)) == date(2026, 5, 29)  # a Sunday: Friday
    assert due(cal, rule, date(2026, 5, 29)) == date(2027, 5, 31)  # that day: next year
    assert due(cal, rule, date(2026, 5, 30)) == date(2027, 5, 31)
    assert due(cal, rule, date(2027, 5, 31)) == date(2028, 5, 31)
    forward = yearly((5, 31), FORWARD)
    assert due(cal, forward, date(2026, 3, 4)) == date(2026, 6, 1)
    # From Monday 1 June (its own rolled day) the next is 2027's.
    assert due(cal, forward, date(2026, 6, 1)) == date(2027, 5, 31)


def test_a_yearly_date_on_a_holiday_and_on_a_leap_day(cal: WorkCalendar) -> None:
    # 1 October 2026, National Day: Wednesday 30 September, or Thursday 8 October.
    assert due(cal, yearly((10, 1)), date(2026, 3, 4)) == date(2026, 9, 30)
    assert due(cal, yearly((10, 1), FORWARD), date(2026, 3, 4)) == date(2026, 10, 8)
    # 29 February: Saturday 28 Feb 2026 (worked), Friday 26 Feb 2027 (28th a Sunday),
    # then 29 February 2028 itself.
    leap = yearly((2, 29))
    assert due(cal, leap, date(2026, 1, 5)) == date(2026, 2, 28)
    assert due(cal, leap, date(2026, 2, 28)) == date(2027, 2, 26)
    assert due(cal, leap, date(2027, 2, 26)) == date(2028, 2, 29)


def test_a_year_end_date_rolled_into_the_year_before_is_not_repeated(
    cal: WorkCalendar,
) -> None:
    # 1 January 2027 is New Year's Day: rolled back to Thursday 31 December 2026.
    rule = yearly((1, 1))
    assert due(cal, rule, date(2026, 6, 1)) == date(2026, 12, 31)
    # Counted from that day, 1 January 2027 (31 Dec again) is not after it: 2028's.
    assert due(cal, rule, date(2026, 12, 31)) == date(2027, 12, 31)  # Sat 1 Jan 2028 -> Fri


def test_a_duty_counting_from_an_empty_field_is_not_planned(cal: WorkCalendar) -> None:
    duty, report = once(Span(months=3)), yearly((5, 31))
    planned = plan_state_entry(cal, [report, duty], case_key="EC-2026-0001",
                               entered_on=date(2026, 3, 4), occurrences={})
    assert [p.rule for p in planned] == ["certified.annual_report"]
    planned = plan_state_entry(cal, [report, duty], case_key="EC-2026-0001",
                               entered_on=date(2026, 3, 4), occurrences={},
                               since={"certified.name_change": date(2026, 3, 2)})
    assert [(p.rule, p.due_on) for p in planned] == [
        ("certified.annual_report", date(2026, 5, 29)), ("certified.name_change",
                                                         date(2026, 6, 2))]


# --------------------------------------------------------------------------- missed


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_duty_is_missed_at_the_start_of_the_next_working_day(cal: WorkCalendar) -> None:
    rule = yearly((5, 31))
    assert duty_miss_at(cal, due_on=date(2026, 5, 29)) == at("2026-06-01T09:00:00+08:00")
    assert plan_duty_miss(cal, rule, due_on=date(2026, 5, 29), occurrence=1,
                          now=at("2026-05-31T23:00:00+08:00")) is None
    miss = plan_duty_miss(cal, rule, due_on=date(2026, 5, 29), occurrence=1,
                          now=at("2026-06-01T09:00:00+08:00"))
    assert miss is not None and miss.missed == () and miss.count == 1
    assert (miss.following.occurrence, miss.following.due_on) == (2, date(2027, 5, 31))
    # A holiday's due day: missed after the break (30 Apr -> Wednesday 6 May).
    assert duty_miss_at(cal, due_on=date(2026, 4, 30)) == at("2026-05-06T09:00:00+08:00")


def test_years_missed_during_downtime_are_each_a_row(cal: WorkCalendar) -> None:
    miss = plan_duty_miss(cal, yearly((5, 31)), due_on=date(2026, 5, 29), occurrence=1,
                          now=at("2028-06-02T10:00:00+08:00"))
    assert miss is not None and miss.count == 3
    assert [(p.occurrence, p.due_on) for p in miss.missed] == [
        (2, date(2027, 5, 31)), (3, date(2028, 5, 31))]
    assert (miss.following.occurrence, miss.following.due_on) == (4, date(2029, 5, 31))


def test_a_one_off_duty_missed_has_nothing_following(cal: WorkCalendar) -> None:
    miss = plan_duty_miss(cal, once(Span(months=3)), due_on=date(2026, 6, 2), occurrence=1,
                          now=at("2026-06-03T09:30:00+08:00"))
    assert miss is not None and (miss.missed, miss.following) == ((), None)


def test_a_duty_has_no_escalation_stage_of_its_own(cal: WorkCalendar) -> None:
    # Its escalation comes with the miss (N in a row), not at the overdue time.
    tl = timeline(cal, kind="duty", due_on=date(2026, 5, 29), remind=15)
    assert [kind for _, kind, _ in stage_times(tl)] == ["upcoming", "due", "overdue"]
    # 15 working days before Friday 29 May: the worked Saturday 9 May counts.
    assert tl.upcoming_at == at("2026-05-09T09:00:00+08:00")


def test_the_operation_table_knows_every_task_kind() -> None:
    # The client path keeps its own list (it imports no domain): kept in step here.
    assert tuple(choices(TaskKind)) == TASK_KINDS
