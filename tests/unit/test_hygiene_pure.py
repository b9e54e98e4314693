"""The pure parts of issue 14's hygiene: CSV formulas defused and restored
exactly; long lists summarised and lines capped; the calendar's year checks."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from torchflow.domain.calendar import OfficialSchedule, WorkCalendar, statutory_holidays
from torchflow.domain.formulas import defuse, restore
from torchflow.domain.summary import clip, few, grouped, lines
from torchflow.errors import ConfigError, Problems
from torchflow.files import FileModes
from torchflow.reports.export import write_csv

TEXTS = ["=1+2", "+86 510", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=x", "''=x", "'-5", "-5'",
         "plain", "'quoted", "", "-", "'", "中文=1"]


@pytest.mark.parametrize("text", TEXTS)
def test_defuse_then_restore_is_the_original(text: str) -> None:
    written = defuse(text)
    assert written[:1] not in ("=", "+", "-", "@", "\t", "\r") or written == "-5"
    assert restore(written) == text


@pytest.mark.parametrize("value", [-5, -12.5, 3, 0.25, "-5", "-12.5", "+3", "1e5"])
def test_numbers_stay_numbers(value: object) -> None:
    assert defuse(value) == value  # Excel reads them as numbers; a quote would make text


def test_armed_texts_get_one_quote() -> None:
    assert defuse("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert defuse("-1+1") == "'-1+1"


def test_report_csv_defuses_every_cell(tmp_path) -> None:
    doc = {"title": "t", "period": {"from": "a", "to": "b"}, "tables": [
        {"title": "=title", "columns": [{"key": "a", "title": "@A", "type": "text"},
                                        {"key": "n", "title": "N", "type": "int"}],
         "rows": [{"a": "=1+2", "n": -3}]}]}
    out = tmp_path / "r.csv"
    write_csv(doc, str(out))
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows == [["'=title"], ["'@A", "N"], ["'=1+2", "-3"]]
    assert out.stat().st_mode & 0o777 == 0o600


def test_few_names_the_first_and_counts_the_rest() -> None:
    assert str(few(["a", "b"])) == "a, b"
    assert str(few([str(i) for i in range(1000)])) == "0, 1, 2, 3, 4 and 995 more"


def test_grouped_keeps_order() -> None:
    assert grouped([("x", 1), ("y", 2), ("x", 3)]) == [("x", [1, 3]), ("y", [2])]


def test_lines_and_clip_bound_a_list() -> None:
    shown = lines([f"p{i}" for i in range(10_000)], 20, what="f.toml")
    assert len(shown) == 21 and str(shown[-1]) == "f.toml: … and 9980 more problems"
    assert len(clip("x" * 434_000)) <= 1000 and clip("short") == "short"


def test_problems_are_bounded() -> None:
    exc = Problems([f"row {i}: bad" for i in range(10_000)])
    assert len(exc.problems) == 201 and "9800 more" in str(exc.problems[-1])
    assert "9999 more problem" in str(exc)


def weekdays(year: int) -> list[date]:
    start = date(year, 1, 1)
    return [d for d in (start + timedelta(days=i) for i in range(366))
            if d.year == year and d.weekday() < 5]


def test_a_schedule_without_a_working_day_is_a_problem() -> None:
    schedule = OfficialSchedule(2027, frozenset(weekdays(2027)), frozenset(), "notice")
    assert any("no working day left" in str(p) for p in schedule.problems())
    kept = OfficialSchedule(2027, frozenset(weekdays(2027)[1:]), frozenset(), "notice")
    assert kept.problems() == []


def test_a_blackout_emptying_a_year_is_refused_and_an_extra_day_saves_it() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    with pytest.raises(ConfigError, match="leaves 2026 without a single working day"):
        WorkCalendar(blackout=days)
    WorkCalendar(blackout=days, extra_workdays=[date(2026, 6, 6)])
    WorkCalendar(blackout=days[:-40])  # December's working days remain


def test_a_blackout_over_an_office_years_working_days_is_refused() -> None:
    off = weekdays(2031)[:-3] + list(statutory_holidays(2031))
    schedule = OfficialSchedule(2031, frozenset(off), frozenset(), "notice")
    left = [d for d in weekdays(2031) if d not in off]
    cal_ok = WorkCalendar(official=[schedule], blackout=left[:2])
    assert cal_ok is not None
    with pytest.raises(ConfigError, match="blackout leaves 2031"):
        WorkCalendar(official=[schedule], blackout=left)


def test_file_modes_default_private() -> None:
    assert (FileModes().mode(), FileModes().mode(True), FileModes().folder_mode) == (
        0o600, 0o600, 0o700)
    shared = FileModes("office", 1)
    assert (shared.mode(), shared.mode(True), shared.folder_mode) == (0o640, 0o660, 0o710)
