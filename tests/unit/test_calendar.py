"""WorkCalendar: official Chinese schedule, configured days, fallback, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from torchflow.domain.calendar import WorkCalendar
from torchflow.errors import ConfigError, InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def cal(warnings: list[str]) -> WorkCalendar:
    return WorkCalendar(warn=lambda t: warnings.append(str(t)))


# -- official schedule -----------------------------------------------------------


def test_spring_festival_2025_is_off(cal: WorkCalendar) -> None:
    off = days(date(2025, 1, 28), date(2025, 2, 4))
    assert [d for d in off if cal.is_workday(d)] == []
    # The weekdays around the break are ordinary working days.
    assert cal.is_workday(date(2025, 1, 27))
    assert cal.is_workday(date(2025, 2, 5))


def test_adjusted_weekend_days_of_2025_are_worked(cal: WorkCalendar) -> None:
    sunday, saturday = date(2025, 1, 26), date(2025, 2, 8)
    assert (sunday.weekday(), saturday.weekday()) == (6, 5)
    assert cal.is_workday(sunday)
    assert cal.is_workday(saturday)
    # An ordinary weekend stays off.
    assert not cal.is_workday(date(2025, 2, 15))


def test_national_day_2025(cal: WorkCalendar) -> None:
    assert [d for d in days(date(2025, 10, 1), date(2025, 10, 8)) if cal.is_workday(d)] == []
    assert cal.is_workday(date(2025, 9, 28))  # Sunday, worked
    assert cal.is_workday(date(2025, 10, 11))  # Saturday, worked
    assert cal.is_workday(date(2025, 10, 9))


def test_labour_day_2026(cal: WorkCalendar) -> None:
    assert [d for d in days(date(2026, 5, 1), date(2026, 5, 5)) if cal.is_workday(d)] == []
    assert cal.is_workday(date(2026, 5, 9))  # Saturday, worked
    assert cal.is_workday(date(2026, 4, 30))


def test_add_workdays_across_the_new_year(cal: WorkCalendar) -> None:
    # 2026-01-01..03 are off and Sunday 4 January is worked.
    assert cal.add_workdays(date(2025, 12, 31), 1) == date(2026, 1, 4)
    assert cal.add_workdays(date(2025, 12, 31), 2) == date(2026, 1, 5)
    assert cal.add_workdays(date(2026, 1, 4), -1) == date(2025, 12, 31)
    assert cal.add_workdays(date(2025, 12, 30), 1) == date(2025, 12, 31)


def test_covers_published_years_only(cal: WorkCalendar, warnings: list[str]) -> None:
    assert cal.covers(2025)
    assert cal.covers(2026)
    assert not cal.covers(2030)
    assert warnings == []  # asking is not using


def test_the_library_still_knows_2026_adjusted_days_and_none_for_2030() -> None:
    # (OFFICIAL_YEARS itself is checked in test_calendar_data.py.)
    # Guards the coverage detection: if a holidays upgrade changes what it
    # publishes, this says so before the calendar silently changes.
    import holidays

    cn = holidays.country_holidays("CN", years=[2026, 2030])
    assert cn.is_working_day(date(2026, 2, 14))  # Saturday worked for Spring Festival
    assert not any(d.year == 2030 for d in cn.weekend_workdays)


# -- add_workdays / next_workday / ranges --------------------------------------------


def test_add_workdays_counts_forward_from_the_day_after(cal: WorkCalendar) -> None:
    friday = date(2025, 3, 7)
    assert cal.add_workdays(friday, 1) == date(2025, 3, 10)
    assert cal.add_workdays(friday, 5) == date(2025, 3, 14)
    # From a weekend day the weekend itself is not counted either.
    assert cal.add_workdays(date(2025, 3, 8), 1) == date(2025, 3, 10)


def test_add_workdays_backwards(cal: WorkCalendar) -> None:
    assert cal.add_workdays(date(2025, 3, 10), -1) == date(2025, 3, 7)
    # Back over Spring Festival lands on the worked Sunday before it.
    assert cal.add_workdays(date(2025, 2, 5), -1) == date(2025, 1, 27)
    assert cal.add_workdays(date(2025, 2, 5), -2) == date(2025, 1, 26)


def test_add_zero_workdays(cal: WorkCalendar) -> None:
    assert cal.add_workdays(date(2025, 3, 7), 0) == date(2025, 3, 7)
    assert cal.add_workdays(date(2025, 3, 8), 0) == date(2025, 3, 10)


def test_next_workday(cal: WorkCalendar) -> None:
    assert cal.next_workday(date(2025, 3, 7)) == date(2025, 3, 7)
    assert cal.next_workday(date(2025, 3, 7), inclusive=False) == date(2025, 3, 10)
    assert cal.next_workday(date(2025, 1, 28)) == date(2025, 2, 5)


def test_workdays_inclusive_range(cal: WorkCalendar) -> None:
    got = cal.workdays(date(2025, 1, 24), date(2025, 1, 28))
    assert got == [date(2025, 1, 24), date(2025, 1, 26), date(2025, 1, 27)]
    assert cal.workdays(date(2025, 3, 10), date(2025, 3, 10)) == [date(2025, 3, 10)]
    assert cal.workdays(date(2025, 3, 11), date(2025, 3, 10)) == []


def test_count_workdays_excludes_start_includes_end(cal: WorkCalendar) -> None:
    monday, friday = date(2025, 3, 3), date(2025, 3, 7)
    assert cal.count_workdays(monday, friday) == 4
    assert cal.count_workdays(friday, date(2025, 3, 10)) == 1
    assert cal.count_workdays(friday, friday) == 0
    assert cal.count_workdays(friday, monday) == 0


def test_count_workdays_inverts_add_workdays(cal: WorkCalendar) -> None:
    start = date(2025, 12, 20)
    for n in range(1, 40):
        assert cal.count_workdays(start, cal.add_workdays(start, n)) == n


# -- configured days -------------------------------------------------------------------


def test_blackout_date_is_not_a_workday() -> None:
    cal = WorkCalendar(blackout=[date(2026, 12, 30), date(2026, 12, 31)])
    assert not cal.is_workday(date(2026, 12, 31))
    assert not cal.is_workday(date(2026, 12, 30))
    assert cal.is_workday(date(2026, 12, 29))
    assert cal.add_workdays(date(2026, 12, 25), 2) == date(2026, 12, 29)
    assert cal.workdays(date(2026, 12, 28), date(2026, 12, 31)) == [
        date(2026, 12, 28),
        date(2026, 12, 29),
    ]


def test_extra_workday_is_worked() -> None:
    saturday = date(2025, 3, 8)
    cal = WorkCalendar(extra_workdays=[saturday])
    assert cal.is_workday(saturday)
    assert cal.add_workdays(date(2025, 3, 7), 1) == saturday


def test_blackout_beats_extra_workday_and_official_workday() -> None:
    worked_sunday = date(2025, 1, 26)
    cal = WorkCalendar(
        blackout=[worked_sunday, date(2025, 3, 8)], extra_workdays=[date(2025, 3, 8)]
    )
    assert not cal.is_workday(worked_sunday)
    assert not cal.is_workday(date(2025, 3, 8))


def test_configured_dates_must_be_dates() -> None:
    with pytest.raises(ConfigError, match="blackout"):
        WorkCalendar(blackout=["2026-12-31"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="extra_workdays"):
        WorkCalendar(extra_workdays=[datetime(2026, 12, 31, tzinfo=UTC)])


# -- fallback --------------------------------------------------------------------------


FALLBACK_2030 = (
    "no official working-day schedule for 2030; assuming its statutory holidays (a weekday "
    "off in lieu of one on a weekend) and no worked weekend day; add the State Council "
    "schedule to [calendar] official"
)


def test_uncovered_year_falls_back_to_statutory_holidays_with_one_warning(
    cal: WorkCalendar, warnings: list[str]
) -> None:
    # 1 January 2030 is a Tuesday and New Year's Day: off by law, notice or not.
    assert not cal.is_workday(date(2030, 1, 1))
    assert cal.is_workday(date(2030, 1, 2))
    assert not cal.is_workday(date(2030, 1, 5))  # Saturday
    assert cal.workdays(date(2030, 2, 1), date(2030, 2, 10))  # repeated use, still one warning
    assert warnings == [FALLBACK_2030]
    cal.is_workday(date(2031, 6, 2))
    assert len(warnings) == 2 and "2031" in warnings[1]


def test_each_calendar_instance_warns_for_itself() -> None:
    first: list[str] = []
    second: list[str] = []
    WorkCalendar(warn=lambda t: first.append(str(t))).is_workday(date(2030, 3, 1))
    WorkCalendar(warn=lambda t: second.append(str(t))).is_workday(date(2030, 3, 1))
    assert len(first) == len(second) == 1


def test_warning_goes_to_the_logger_by_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="torchflow.calendar"):
        WorkCalendar().is_workday(date(2030, 3, 1))
    assert [r.getMessage() for r in caplog.records if r.name == "torchflow.calendar"] == [
        FALLBACK_2030
    ]


def test_covered_year_does_not_warn(cal: WorkCalendar, warnings: list[str]) -> None:
    cal.workdays(date(2025, 1, 1), date(2026, 12, 31))
    assert warnings == []


def test_blackout_applies_in_fallback_years() -> None:
    cal = WorkCalendar(blackout=[date(2030, 1, 2)], warn=lambda _: None)
    assert not cal.is_workday(date(2030, 1, 2))
    assert cal.is_workday(date(2030, 1, 3))


# -- time zones -------------------------------------------------------------------------


def test_bad_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        WorkCalendar(timezone="Mars/Olympus")


def test_workday_start_must_precede_end() -> None:
    with pytest.raises(ConfigError, match="before"):
        WorkCalendar(workday_start=time(18, 0), workday_end=time(9, 0))


def test_shanghai_at_and_local_date(cal: WorkCalendar) -> None:
    assert cal.at(date(2025, 3, 3), time(9, 0)) == datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
    assert cal.at(date(2025, 7, 1), time(9, 0)) == datetime(2025, 7, 1, 1, 0, tzinfo=UTC)
    assert cal.at(date(2025, 3, 3), time(9, 0)).tzinfo is UTC
    # 17:00 UTC is already the next day in Shanghai.
    assert cal.local_date(datetime(2025, 3, 3, 17, 0, tzinfo=UTC)) == date(2025, 3, 4)
    assert cal.local_date(datetime(2025, 3, 3, 15, 59, tzinfo=UTC)) == date(2025, 3, 3)
    assert cal.local_date(datetime(2025, 3, 4, 0, 30, tzinfo=SHANGHAI)) == date(2025, 3, 4)


def test_local_date_refuses_naive_instants(cal: WorkCalendar) -> None:
    with pytest.raises(InvalidInput, match="no UTC offset"):
        cal.local_date(datetime(2025, 3, 3, 12, 0))


def test_berlin_over_the_spring_dst_change() -> None:
    cal = WorkCalendar(timezone="Europe/Berlin")
    # DST starts on Sunday 30 March 2025: 09:00 is UTC+1 before, UTC+2 after.
    assert cal.at(date(2025, 3, 28), time(9, 0)) == datetime(2025, 3, 28, 8, 0, tzinfo=UTC)
    assert cal.at(date(2025, 3, 31), time(9, 0)) == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)
    # 02:30 does not exist that night; it is read with the winter offset.
    assert cal.at(date(2025, 3, 30), time(2, 30)) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    # 22:30 UTC is already the next day in summer time but not in winter time.
    assert cal.local_date(datetime(2025, 3, 31, 22, 30, tzinfo=UTC)) == date(2025, 4, 1)
    assert cal.local_date(datetime(2025, 3, 27, 22, 30, tzinfo=UTC)) == date(2025, 3, 27)
    assert cal.local_date(datetime(2025, 3, 27, 23, 30, tzinfo=UTC)) == date(2025, 3, 28)


def test_berlin_over_the_autumn_dst_change() -> None:
    cal = WorkCalendar(timezone="Europe/Berlin")
    # DST ends on Sunday 26 October 2025 at 03:00 CEST; 02:30 happens twice.
    assert cal.at(date(2025, 10, 24), time(18, 0)) == datetime(2025, 10, 24, 16, 0, tzinfo=UTC)
    assert cal.at(date(2025, 10, 27), time(18, 0)) == datetime(2025, 10, 27, 17, 0, tzinfo=UTC)
    assert cal.at(date(2025, 10, 26), time(2, 30)) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    berlin_local = datetime(2025, 10, 26, 23, 30, tzinfo=BERLIN)
    assert cal.local_date(berlin_local) == date(2025, 10, 26)


def test_is_workday_is_fast(cal: WorkCalendar) -> None:
    # A sweep asks this for every open task; keep it a lookup, not a library call.
    import time as clock

    day = date(2025, 6, 3)
    cal.is_workday(day)
    begin = clock.perf_counter()
    for _ in range(100_000):
        cal.is_workday(day)
    assert clock.perf_counter() - begin < 0.5


def test_concurrent_first_use_warns_once() -> None:
    # A second thread that missed the cache while the first was building the
    # year must reuse that build, not warn again. The first thread's warning
    # starts the second and holds the lock until it is surely waiting on it.
    import threading
    import time as clock

    warnings: list[str] = []
    cal: WorkCalendar
    others: list[threading.Thread] = []

    def warn(message: str) -> None:
        warnings.append(message)
        if len(others) == 0:
            other = threading.Thread(target=cal.is_workday, args=(date(2030, 5, 6),))
            others.append(other)
            other.start()
            clock.sleep(0.2)

    cal = WorkCalendar(warn=warn)
    assert cal.is_workday(date(2030, 5, 6))
    others[0].join(timeout=5)
    assert warnings == [FALLBACK_2030]
