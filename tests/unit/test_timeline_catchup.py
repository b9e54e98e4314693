"""Catch-up notices whose time passed during days off wait for working time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.timeline import notices_due, timeline, working_time_from

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_an_outage_ending_on_a_day_off_waits_for_the_next_working_day(
    cal: WorkCalendar,
) -> None:
    # 11 days off-line, 12 to 23 February 2026; the 23rd is the last day of the
    # Spring Festival break (a day off in exchange for Saturday 28 February).
    tl = timeline(cal, kind="deadline", due_on=date(2026, 2, 13), remind=1)
    back = sh(2026, 2, 23, 10)
    assert not cal.is_workday(back.date())
    assert notices_due(tl, stage_done=0, now=back, cal=cal) == ([], 0, sh(2026, 2, 24, 9))
    # Without the calendar (today's behaviour) they would go out on the holiday.
    assert notices_due(tl, stage_done=0, now=back)[0] == ["overdue", "escalation"]
    assert notices_due(tl, stage_done=0, now=sh(2026, 2, 24, 9), cal=cal) == (
        ["overdue", "escalation"], 4, None,
    )


def test_before_the_start_of_a_working_day_catch_up_waits_for_it(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="contact", due_on=date(2026, 3, 11), remind=0)
    assert notices_due(tl, stage_done=0, now=sh(2026, 3, 12, 3), cal=cal) == (
        [], 0, sh(2026, 3, 12, 9),
    )


def test_working_time_is_unchanged(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="deadline", due_on=date(2026, 3, 11), remind=1)
    assert notices_due(tl, stage_done=0, now=sh(2026, 3, 10, 9), cal=cal) == (
        ["upcoming"], 1, tl.due_at,
    )
    assert notices_due(tl, stage_done=2, now=sh(2026, 3, 11, 18), cal=cal) == (
        ["overdue", "escalation"], 4, None,
    )
    # Evening of a working day is still that working day: no reason to wait.
    assert notices_due(tl, stage_done=2, now=sh(2026, 3, 11, 21), cal=cal)[0] == [
        "overdue", "escalation",
    ]
    # Nothing passed: the next stage, as before, even on a day off.
    assert notices_due(tl, stage_done=0, now=sh(2026, 3, 8, 12), cal=cal) == (
        [], 0, tl.upcoming_at,
    )


def test_a_due_day_that_became_a_day_off_is_held(cal: WorkCalendar) -> None:
    # A task planned for 8 February 2027 before the statutory fallback existed.
    tl = timeline(cal, kind="deadline", due_on=date(2027, 2, 8), remind=0)
    got = notices_due(tl, stage_done=0, now=sh(2027, 2, 8, 9, 5), cal=cal)
    assert got == ([], 0, sh(2027, 2, 11, 9))


def test_working_time_from(cal: WorkCalendar) -> None:
    assert working_time_from(cal, sh(2026, 3, 11, 10)) == sh(2026, 3, 11, 10)
    assert working_time_from(cal, sh(2026, 3, 11, 8)) == sh(2026, 3, 11, 9)
    assert working_time_from(cal, sh(2026, 2, 15, 8)) == sh(2026, 2, 24, 9)
    assert working_time_from(cal, sh(2026, 2, 13, 23)) == sh(2026, 2, 13, 23)
