"""Each report against figures computed by hand for a small fixed history of
project_introduction, built through the services with a moved clock (Beijing
times; the official 2026 calendar: no holiday in March, Qingming 4-6 April).

A (wang.li): opened Wed 4 Mar 09:00; first contact Mon 9 Mar; on hold Mon 16;
   resumed Mon 23; negotiation Wed 25; site inspection Fri 27; signed Tue 31 Mar.
B (zhao.min): opened Wed 4 Mar 09:00; first contact Fri 6; lost Wed 11 Mar.
C (zhao.min): opened Wed 4 Mar 09:00; first contact 10:00 the same day; the
   contact due Wed 11 (5 working days) logged Fri 13 (late by 12, 13 = 2); the
   next, due Fri 20, still open when Fri 27 falls due: missed, rolled on to 27.
Reports run on Wed 1 April 10:00 over 2026Q1.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PI_FIELDS, Clock
from torchflow.domain.periods import parse_period
from torchflow.service.app import App
from torchflow.service.cases.change import advance, open_case, set_fields
from torchflow.service.cases.read import show_case
from torchflow.service.delivery.sweep import sweep
from torchflow.service.followups.work import log_followup
from torchflow.service.people.lookup import Actor
from torchflow.service.reports.registry import run, run_all
from torchflow.service.reports.snapshot import Filters

PI = "project_introduction"
SIGN = {"contact_person": "Ms. Li", "target_park": "East Park", "expected_jobs": "300",
        "signed_date": "2026-03-31"}


@pytest.fixture
def history(app: App, staff: dict[str, Actor], clock: Clock) -> App:
    wang, zhao, chen = staff["wang.li"], staff["zhao.min"], staff["chen.jie"]
    clock.set("2026-03-04T09:00:00+08:00")
    a = open_case(app, wang, PI, title="A 氢能", fields=PI_FIELDS)["key"]
    b = open_case(app, zhao, PI, title="B", fields=PI_FIELDS)["key"]
    c = open_case(app, zhao, PI, title="C", fields=PI_FIELDS)["key"]
    clock.set("2026-03-04T10:00:00+08:00")
    advance(app, zhao, c, "make_contact")
    clock.set("2026-03-06T10:00:00+08:00")
    advance(app, zhao, b, "make_contact")
    clock.set("2026-03-09T10:00:00+08:00")
    advance(app, wang, a, "make_contact")
    clock.set("2026-03-11T10:00:00+08:00")
    advance(app, zhao, b, "lose", fields={"lost_to": "Suzhou"})
    clock.set("2026-03-13T10:00:00+08:00")
    log_followup(app, zhao, c, "contact")
    clock.set("2026-03-16T10:00:00+08:00")
    advance(app, wang, a, "hold")
    clock.set("2026-03-23T10:00:00+08:00")
    advance(app, wang, a, "resume")
    clock.set("2026-03-25T10:00:00+08:00")
    advance(app, wang, a, "negotiate", fields={"contact_person": "Ms. Li"})
    clock.set("2026-03-27T10:00:00+08:00")
    advance(app, wang, a, "inspect")
    clock.set("2026-03-30T10:00:00+08:00")
    sweep(app)
    clock.set("2026-03-31T10:00:00+08:00")
    advance(app, chen, a, "sign", fields=SIGN)
    clock.set("2026-04-01T10:00:00+08:00")
    return app


def report(app: App, name: str, **kw: Any) -> list[list[dict[str, Any]]]:
    doc = run(app, name, Filters(period=parse_period("2026Q1"), **kw))
    return [t["rows"] for t in doc["tables"]]


def pick(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(r[k] for k in keys) for r in rows]


def test_outcomes_count_milestones_and_sum_fields(history: App) -> None:
    [rows] = report(history, "outcomes", workflow=PI, by="month")
    assert pick(rows, "period", "state", "cases", "planned_investment", "expected_jobs") == [
        ("2026-03", "signed", 1, 50000.0, 300.0)]
    [rows] = report(history, "outcomes", workflow=PI, owner="zhao.min")
    assert rows == []


def test_outcome_sums_are_the_values_when_the_milestone_was_entered(
        history: App, staff: dict[str, Actor]) -> None:
    key = show_case(history, "PI-2026-0001")["key"]
    # After signing the investment is revised and the jobs cleared: "signed
    # investment this quarter" stays what was signed (50000 from the opening,
    # 300 jobs set by the signing itself), not today's value.
    set_fields(history, staff["wang.li"], key, {"planned_investment": "90000"})
    [rows] = report(history, "outcomes", workflow=PI)
    assert pick(rows, "period", "milestone", "cases", "planned_investment", "expected_jobs") == [
        ("2026Q1", "签约", 1, 50000.0, 300.0)]
    assert show_case(history, key)["fields"]["planned_investment"] == 90000


def test_the_html_run_gives_each_report_the_same_figures(history: App) -> None:
    # One snapshot for all reads the shared stays (outcomes too); one report alone
    # reads the history directly: the same figures either way.
    f = Filters(period=parse_period("2026Q1"), workflow=PI, by="month")
    docs, _exceptions, _about = run_all(history, f)
    for name in docs:
        assert docs[name]["tables"] == run(history, name, f)["tables"], name


def test_pipeline_open_entered_left_and_funnel(history: App) -> None:
    states, funnel = report(history, "pipeline", workflow=PI)
    assert pick(states, "code", "open", "entered", "left") == [
        ("lead", 0, 3, 3), ("first_contact", 1, 4, 3), ("negotiation", 0, 1, 1),
        ("site_inspection", 0, 1, 1), ("signed", 1, 1, 0), ("on_hold", 0, 1, 1),
        ("lost", 0, 1, 0)]
    assert pick(funnel, "from_code", "to_code", "converted", "reached", "rate") == [
        ("lead", "signed", 1, 3, "1/3 (33%)"), ("lead", "lost", 1, 3, "1/3 (33%)"),
        ("first_contact", "signed", 1, 3, "1/3 (33%)"),
        ("first_contact", "lost", 1, 3, "1/3 (33%)"),
        ("negotiation", "signed", 1, 1, "1/1 (100%)"),
        ("site_inspection", "signed", 1, 1, "1/1 (100%)"),
        ("on_hold", "signed", 1, 1, "1/1 (100%)")]


def test_stage_times_in_working_days_with_hold_apart(history: App) -> None:
    rows, slowest = report(history, "stages", workflow=PI, cases=1)
    # lead: A 5, 6, 9 = 3; B 5, 6 = 2; C 0 (left within the hour).
    # first_contact: A 10-13, 16 = 5 plus 24, 25 = 2 (hold 17-20, 23 = 5 apart);
    # B 9-11 = 3; C still there: 5 March to 31 March = 19.
    assert pick(rows, "code", "cases", "median", "p90", "max", "budget", "over",
                "hold_cases", "hold_days") == [
        ("lead", 3, 2, 3, 3, 10, "", 0, 0),
        ("first_contact", 3, 7, 19, 19, 30, "", 1, 5),
        ("negotiation", 1, 2, 2, 2, 60, "", 0, 0),  # 26, 27
        ("site_inspection", 1, 2, 2, 2, 20, "", 0, 0),  # 30, 31
        ("signed", 1, 0, 0, 0, 60, "", 0, 0)]
    assert ("first_contact", "C", 19) in pick(slowest, "state", "title", "days") or \
        any(r["title"] == "C" and r["days"] == 19 for r in slowest)


def test_compliance_on_time_late_missed_open(history: App) -> None:
    [rows] = report(history, "compliance", workflow=PI)
    assert pick(rows, "person", "kind_code", "planned", "on_time", "late", "late_days",
                "missed", "open", "overdue") == [
        ("zhao.min", "contact", 3, 0, 1, 2, 1, 1, 1)]


def test_workload_per_person(history: App) -> None:
    [rows] = report(history, "workload", workflow=PI)
    got = {r["person"]: (r["cases"], r["tasks"], r["overdue"], r["due_soon"]) for r in rows}
    # wang.li: A signed: contact due 7 Apr, a visit, a deadline in June; due soon
    # = by Thu 16 Apr (10 working days after 1 Apr, Qingming off).
    assert got["wang.li"][:3] == (1, 3, 0)
    # zhao.min: C: the rolled contact (due 27 Mar, overdue) and the first_contact
    # deadline (30 working days from 4 Mar: 16 Apr, just inside).
    assert got["zhao.min"] == (1, 2, 1, 1)
    assert got["chen.jie"] == (0, 0, 0, 0)
