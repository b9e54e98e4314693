"""Report periods, the working-day table, and the milestone / sum annotations."""

from __future__ import annotations

from datetime import date

import pytest

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.loader import parse_workflow, validate_text
from torchflow.domain.periods import (
    Period,
    bucket,
    day_rows,
    fixed_offset_minutes,
    parse_period,
    resolve,
)
from torchflow.domain.workflow import Milestone
from torchflow.errors import InvalidInput


def test_periods() -> None:
    assert parse_period("2026Q4") == Period(date(2026, 10, 1), date(2026, 12, 31))
    assert parse_period("2026q1") == Period(date(2026, 1, 1), date(2026, 3, 31))
    assert parse_period("2026-02") == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert parse_period("2026") == Period(date(2026, 1, 1), date(2026, 12, 31))
    for bad in ("2026Q0", "2026-13", "26", "Q4"):
        with pytest.raises(InvalidInput, match="bad period"):
            parse_period(bad)
    today = date(2026, 11, 5)
    assert resolve(None, None, None, today) == Period(date(2026, 1, 1), today)
    assert resolve(None, date(2026, 3, 1), None, today).end == today
    with pytest.raises(InvalidInput, match="not both"):
        resolve("2026", date(2026, 1, 1), None, today)
    assert [bucket(date(2026, 11, 5), by) for by in ("month", "quarter", "year")] == [
        "2026-11", "2026Q4", "2026"]


def test_day_rows_subtract_to_count_workdays() -> None:
    cal = WorkCalendar()
    rows = {r.day: r for r in day_rows(cal, date(2026, 9, 20), date(2026, 10, 20))}
    # Across the National Day holiday and its worked weekend days.
    for a, b in ((date(2026, 9, 25), date(2026, 10, 12)), (date(2026, 9, 30), date(2026, 10, 9)),
                 (date(2026, 10, 1), date(2026, 10, 1))):
        assert rows[b].wd - rows[a].wd == cal.count_workdays(a, b)
    assert rows[date(2026, 10, 1)].starts.isoformat() == "2026-09-30T16:00:00+00:00"


DOC = '''
name = "w"
title = "W · 测试"
version = 1
key_prefix = "WW"
[fields.amount]
type = "number"
sum = true
[fields.note]
type = "text"
{note_sum}
[states.a]
title = "A"
milestone = {milestone}
[states.b]
title = "B"
terminal = true
[[transitions]]
trigger = "go"
source = "a"
dest = "b"
'''


def test_milestone_and_sum_are_read_and_checked() -> None:
    spec = parse_workflow(DOC.format(note_sum="", milestone="true"))
    assert spec.states["a"].milestone and not spec.states["b"].milestone
    assert spec.fields["amount"].sum and not spec.fields["note"].sum
    problems = validate_text(DOC.format(note_sum="sum = true", milestone='"yes"'))
    assert any("fields.note.sum" in p and "only a number field" in p for p in problems)
    assert any("states.a.milestone" in p and "true or false" in p for p in problems)
    # Report annotations are not part of the version's digest.
    plain = parse_workflow(DOC.format(note_sum="", milestone="false").replace("sum = true", ""))
    assert plain.digest == spec.digest


def test_a_milestones_table_titles_states_and_reports_each_problem() -> None:
    table = '\n[milestones]\nb = { title = "办结", title_en = "Closed" }\n'
    spec = parse_workflow(DOC.format(note_sum="", milestone="true") + table)
    # In state order; the table's title replaces the state's own.
    assert spec.milestones == (Milestone("a", "A"), Milestone("b", "办结", "Closed"))
    assert parse_workflow(DOC.format(note_sum="", milestone="true")
                          + '\n[milestones]\nb = "办结"\n').milestones[1] == Milestone("b", "办结")
    bad = '\n[milestones]\nbb = "X"\na = 3\nb = " "\n'
    problems = validate_text(DOC.format(note_sum="", milestone="false") + bad, "w.toml")
    assert problems == [
        "w.toml: milestones.bb: unknown state 'bb' (did you mean 'b'?); states are: a, b",
        'w.toml: milestones.a: wants a title like "签约" or { title = "签约", title_en = '
        '"Signed" }, got an integer',
        'w.toml: milestones.b: wants a title like "签约" or { title = "签约", title_en = '
        '"Signed" }, got an empty string']
    assert validate_text("milestones = 1\n" + DOC.format(note_sum="", milestone="false"),
                         "w.toml") == [
        'w.toml: milestones: wants a table of state = "title", got an integer']
    # The table changes no case's behaviour: not part of the digest either.
    assert spec.digest == parse_workflow(DOC.format(note_sum="", milestone="false")).digest


def test_one_offset_over_the_table_or_none() -> None:
    span = (date(2025, 1, 1), date(2026, 12, 31))
    assert fixed_offset_minutes(day_rows(WorkCalendar(), *span)) == 480
    assert fixed_offset_minutes(
        day_rows(WorkCalendar(timezone="Europe/Berlin", warn=lambda _m: None), *span)) is None
