"""The calendar as data: statutory fallback, declared official years, office schedules."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta

import pytest

from torchflow.domain.calendar import (
    OFFICE,
    OFFICIAL,
    OFFICIAL_YEARS,
    STATUTORY,
    OfficialSchedule,
    WorkCalendar,
    parse_schedule,
    statutory_holidays,
)
from torchflow.domain.schedule_template import schedule_template
from torchflow.errors import ConfigError, InvalidInput, ScheduleError
from torchflow.i18n import translator


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def cal(warnings: list[str]) -> WorkCalendar:
    return WorkCalendar(warn=lambda t: warnings.append(str(t)))


# -- years without an official schedule ---------------------------------------------

STATUTORY_2027 = [
    date(2027, 1, 1), *days(date(2027, 2, 5), date(2027, 2, 8)), date(2027, 4, 5),
    date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
    *days(date(2027, 10, 1), date(2027, 10, 3)),
]


def test_the_13_statutory_days_of_2027() -> None:
    # New Year 1, Spring Festival 4 (eve, days 1-3), Qingming 1, Labour Day 2,
    # Dragon Boat 1, Mid-Autumn 1, National Day 3 (2024 revision).
    assert sorted(statutory_holidays(2027)) == STATUTORY_2027


def test_2027_statutory_days_are_off_without_a_notice(
    cal: WorkCalendar, warnings: list[str]
) -> None:
    assert [d for d in STATUTORY_2027 if cal.is_workday(d)] == []
    assert cal.add_workdays(date(2027, 2, 4), 1) == date(2027, 2, 11)
    assert len(warnings) == 1 and "2027" in warnings[0] and "statutory" in warnings[0]


def test_a_weekday_in_lieu_of_a_weekend_holiday(cal: WorkCalendar) -> None:
    # The regulation gives a weekday off for a holiday on a weekend; the library
    # estimates it as the next weekdays (Spring Festival days 1-2 are a weekend).
    assert [d for d in days(date(2027, 2, 9), date(2027, 2, 12)) if not cal.is_workday(d)] == [
        date(2027, 2, 9), date(2027, 2, 10)
    ]
    assert not cal.is_workday(date(2027, 10, 4))  # for Sunday 3 October


def test_no_worked_weekend_day_is_assumed(cal: WorkCalendar) -> None:
    weekend = [d for d in days(date(2027, 1, 1), date(2027, 12, 31)) if d.weekday() >= 5]
    assert [d for d in weekend if cal.is_workday(d)] == []


def test_source_of_each_year(cal: WorkCalendar, warnings: list[str]) -> None:
    assert cal.source(2026).kind == OFFICIAL
    assert "holidays" in cal.source(2026).detail
    assert cal.source(2027).kind == STATUTORY
    assert not cal.covers(2027)
    assert warnings == []  # asking is not using


# -- declared coverage --------------------------------------------------------------------


def test_official_years_are_what_the_installed_library_carries() -> None:
    # Fails when an upgrade of holidays adds (or drops) a year: then move the end
    # of OFFICIAL_YEARS in torchflow/domain/calendar.py (docs/calendar.md).
    import holidays

    years = range(OFFICIAL_YEARS.start - 1, OFFICIAL_YEARS.stop + 10)
    cn = holidays.country_holidays("CN", years=years)
    with_notice = {y for y, entries in cn.special_public_holidays.items() if entries}
    assert sorted(with_notice & set(years)) == list(OFFICIAL_YEARS)
    assert sorted({d.year for d in cn.weekend_workdays}) == list(OFFICIAL_YEARS)


def test_a_declared_year_the_installed_library_lacks_is_not_official(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As with a holidays release older than OFFICIAL_YEARS was declared for: a
    # year without a single worked weekend day in the library is not trusted.
    from torchflow.domain import calendar as module

    monkeypatch.setattr(module, "OFFICIAL_YEARS", range(2001, 2036))
    module._library_flags.cache_clear()
    try:
        warnings: list[str] = []
        cal = WorkCalendar(warn=lambda t: warnings.append(str(t)))
        assert cal.source(2035).kind == STATUTORY
        assert cal.source(2026).kind == OFFICIAL
        assert not cal.is_workday(date(2035, 10, 1))
        assert len(warnings) == 1
    finally:
        module._library_flags.cache_clear()


# -- office-typed official schedules ---------------------------------------------------------

# A fixture, NOT the real 2027 notice: the statutory days, some days in lieu
# and two worked weekend days, made up for the tests.
FIXTURE_2027 = {
    "year": 2027,
    "source": "TEST FIXTURE, not the State Council notice",
    "days_off": [
        date(2027, 1, 1), *days(date(2027, 2, 5), date(2027, 2, 11)), date(2027, 4, 5),
        *days(date(2027, 5, 1), date(2027, 5, 5)), date(2027, 6, 9), date(2027, 9, 15),
        *days(date(2027, 10, 1), date(2027, 10, 7)),
    ],
    "worked_weekends": [date(2027, 2, 20), date(2027, 10, 9)],
}


def schedule(**changes: object) -> OfficialSchedule:
    return parse_schedule({**FIXTURE_2027, **changes}, "cn-2027.toml")


def test_an_office_schedule_decides_a_year_the_library_lacks(warnings: list[str]) -> None:
    cal = WorkCalendar(official=[schedule()], warn=lambda t: warnings.append(str(t)))
    assert cal.source(2027).kind == OFFICE
    assert "cn-2027.toml" in cal.source(2027).detail
    assert "FIXTURE" in cal.source(2027).detail
    assert cal.covers(2027)
    assert cal.is_workday(date(2027, 2, 20))  # a worked Saturday
    assert not cal.is_workday(date(2027, 2, 11))  # a Thursday off
    assert not cal.is_workday(date(2027, 10, 7))
    assert cal.is_workday(date(2027, 10, 8))
    assert not cal.is_workday(date(2027, 10, 10))  # an ordinary Sunday
    assert warnings == []  # official data: nothing is assumed


def test_the_library_wins_over_an_office_schedule_for_a_year_it_carries() -> None:
    # An office file for 2026 that says Monday 2 February is off: the library decides.
    office_2026 = parse_schedule({
        "year": 2026, "source": "TEST FIXTURE",
        "days_off": [*statutory_holidays(2026), date(2026, 2, 2)],
    }, "cn-2026.toml")
    cal = WorkCalendar(official=[office_2026])
    assert cal.source(2026).kind == OFFICIAL
    assert cal.is_workday(date(2026, 2, 2))
    assert cal.is_workday(date(2026, 2, 14))  # the library's worked Saturday


def test_schedule_problems_are_one_line_each() -> None:
    with pytest.raises(ScheduleError) as err:
        schedule(worked_weekends=[date(2027, 2, 17), date(2027, 2, 6), date(2028, 1, 8)])
    # One line per kind of problem, each naming its days (domain/summary.py).
    assert [str(p) for p in err.value.problems] == [
        "cn-2027.toml: 2028-01-08 not in 2027; list days of that year",
        "cn-2027.toml: worked_weekends: 2027-02-17 not a Saturday or Sunday; list only the "
        "Saturdays and Sundays that are worked",
        "cn-2027.toml: 2027-02-06 both off and worked; keep each day in one list",
    ]


def test_schedule_keys_and_types_are_checked() -> None:
    with pytest.raises(ScheduleError) as err:
        parse_schedule({"year": "2027", "days_off": ["2027-13-01"], "note": 1}, "x.toml")
    assert [str(p) for p in err.value.problems] == [
        "x.toml: unknown key 'note'; expected year, source, days_off, worked_weekends",
        "x.toml: year = '2027' is not valid; it wants a year such as 2027",
        "x.toml: source is missing; name the State Council notice (title, number, URL)",
        "x.toml: days_off: '2027-13-01' not a date; use e.g. 2027-02-08",
    ]
    with pytest.raises(ConfigError, match="source is empty"):
        schedule(source=" ")


def test_days_off_outside_the_year_are_refused() -> None:
    with pytest.raises(ConfigError, match="2026-12-31 not in 2027"):
        schedule(days_off=[*FIXTURE_2027["days_off"], date(2026, 12, 31)])  # type: ignore[misc]


def test_a_schedule_without_all_statutory_days_is_refused_on_first_use() -> None:
    gone = (date(2027, 2, 5), date(2027, 6, 9))
    off = [d for d in FIXTURE_2027["days_off"] if d not in gone]  # type: ignore[attr-defined]
    cal = WorkCalendar(official=[schedule(days_off=off)])
    with pytest.raises(ScheduleError) as err:
        cal.is_workday(date(2027, 3, 1))
    assert [str(p) for p in err.value.problems] == [
        "cn-2027.toml: days_off lacks 2027-02-05 (Chinese New Year's Eve), 2027-06-09 "
        "(Dragon Boat Festival), statutory holidays of 2027; copy every day off of the notice",
    ]


def test_one_schedule_per_year() -> None:
    with pytest.raises(ConfigError, match="already given by"):
        WorkCalendar(official=[schedule(), schedule()])


def test_day_kinds_for_month_grids() -> None:
    cal = WorkCalendar(official=[schedule()], blackout=[date(2027, 3, 1)],
                       extra_workdays=[date(2027, 3, 6)])
    assert cal.day_kind(date(2027, 2, 5)) == "off"
    assert cal.day_kind(date(2027, 2, 6)) == "off"  # a holiday on a Saturday
    assert cal.day_kind(date(2027, 2, 13)) == "weekend"
    assert cal.day_kind(date(2027, 2, 20)) == "worked_weekend"
    assert cal.day_kind(date(2027, 2, 22)) == "work"
    assert cal.day_kind(date(2027, 3, 1)) == "blackout"
    assert cal.day_kind(date(2027, 3, 6)) == "extra"
    assert cal.day_kind(date(2026, 2, 14)) == "worked_weekend"  # from the library
    assert cal.day_kind(date(2026, 10, 3)) == "off"  # National Day on a Saturday


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_schedule_template_is_refused_until_filled_in(locale: str) -> None:
    path = "calendars/cn-2027.toml"
    text = schedule_template(2027, translator(locale))
    data = tomllib.loads(text)
    with pytest.raises(ConfigError, match="source is empty"):
        parse_schedule(data, path)
    # Its days off are the 13 statutory days, nothing invented.
    assert sorted(data["days_off"]) == STATUTORY_2027
    assert data["worked_weekends"] == []
    # Filled in (the notice's source), it is a schedule.
    filled = parse_schedule({**data, "source": "国办发明电〔2026〕N号"}, path)
    assert filled.year == 2027 and sorted(filled.days_off) == STATUTORY_2027
    # The holidays named in the office's language.
    assert ("# 元旦" if locale == "zh-CN" else "# New Year's Day") in text


def test_a_schedule_template_is_made_for_any_year_the_law_covers() -> None:
    data = tomllib.loads(schedule_template(2031, translator("en")))
    assert data["year"] == 2031 and len(data["days_off"]) >= 12
    assert {date(2031, 1, 1), date(2031, 5, 1), date(2031, 10, 1)} <= set(data["days_off"])
    assert all(d.year == 2031 for d in data["days_off"])
    with pytest.raises(InvalidInput, match="year 1999 is out of range"):
        schedule_template(1999, translator("en"))
