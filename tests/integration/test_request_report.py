"""`report requests` against figures counted by hand for eight requests walked
through the service in June 2026 (the official calendar: 端午 Friday 19 June a
holiday, weekends off). Times are 10:00 Beijing; the report runs on Wed 1 July
over 2026-06.

R1 land, 自然资源局: accepted and assigned Mon 1 Jun, signed Tue 2 (due 2: on
   time, 1 day), answered Wed 10 (6 working days; due Thu 11), called back 满意
   Thu 11, closed Fri 12: closed on time.
R2 power: assigned Mon 1 Jun to 发改委, returned Tue 2 (its deadline's day: not
   judged), re-assigned to 供电公司 Tue 2 (due Wed 3), signed Thu 4 (late, 2
   days; handling due Mon 15), extension to Mon 22 asked and approved Tue 9,
   answered Mon 22 (11 days), called back 不满意 Tue 23, handled again Tue 23 (due
   Thu 2 Jul), answered Fri 26, called back 基本满意 Mon 29 and closed: on time.
R3 permit, 自然资源局: assigned Tue 2, signed Wed 3 (on time, 1 day; due Fri 12), on
   hold Mon 8 to Wed 10 (2 days), answered Wed 24 (14 - 2 = 12 days: late),
   called back 满意 Thu 25 and closed.
R4 power, 供电公司: assigned Wed 3 (due Thu 4), never signed: supervised Mon 8
   (judged, late); open at the end, 18 working days old.
R5 financing: accepted Mon 29 Jun, not assigned: open, 1 day old.
R6 permit: accepted Mon 1 Jun, withdrawn Wed 3.
R7 permit, 自然资源局: accepted, assigned Mon 25 May, signed Tue 26 (handling due
   Thu 4 Jun), answered Fri 5 Jun (8 days: late), called back 满意 and closed
   Mon 8 Jun.
R8 land, 自然资源局: accepted and assigned Tue 30 Jun (due Wed 1 Jul: not judged
   yet); open, 0 days old.
(R3 and R7 are permits, answered within the 7 working days every category but
land has; land's 25 would make them on time.)

By hand: assignments in June 6 (R1, R2 twice, R3, R4, R8); judged 4, on time 2
(R1, R3); signing days 1, 2, 1 (median 1 of 3). First answers in June R1 6, R7
8, R2 11, R3 12 (median 8 of 4). Closed in June 4 (R1, R2, R3, R7), on time 2
(R1, R2). Accepted in June 7 (R1-R6, R8), withdrawn 1, closed 3 (R1, R2, R3).
Call-backs in June 5: 满意 3 (R1, R3, R7), 基本满意 1, 不满意 1. Open at the end:
3 (0-5 days 2, 11-20 days 1). Returns 1 of 6 assignments; extensions asked 1 of
4 handling rounds (3 signings, 1 re-handling), approved 1 of 1; supervised 1 of
6; handled again 1 of 5 call-backs.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Clock
from torchflow.domain.periods import parse_period
from torchflow.errors import Refused
from torchflow.service.app import App
from torchflow.service.cases.change import advance
from torchflow.service.enterprises.records import add_enterprise
from torchflow.service.enterprises.requests import open_request
from torchflow.service.people.lookup import Actor
from torchflow.service.reports.registry import run, run_all
from torchflow.service.reports.snapshot import Filters

CODE = "91440300708461136T"
LAND, POWER = "市自然资源和规划局", "供电公司"


@pytest.fixture
def requests(app: App, staff: dict[str, Actor], clock: Clock) -> App:
    wang, unit, chen = staff["wang.li"], staff["sun.hao"], staff["chen.jie"]
    add_enterprise(app, wang, "无锡清能动力有限公司", credit_code=CODE, coordinator="wang.li")
    keys: dict[str, str] = {}

    def on(day: str) -> None:
        clock.set(f"2026-{day}T10:00:00+08:00")

    def opened(name: str, category: str) -> str:
        keys[name] = open_request(app, wang, CODE, request=f"诉求{name}",
                                  category=category)["key"]
        return keys[name]

    def go(name: str, trigger: str, who: Actor = unit, **fields: str) -> None:
        advance(app, who, keys[name], trigger, fields=fields or None)

    def assign(name: str, lead: str) -> None:
        go(name, "assign", wang, lead_unit=lead, handler="sun.hao")

    def answered_and_closed(name: str, day: str, said: str) -> None:
        go(name, "call_back", wang, satisfaction=said)
        on(day)
        go(name, "close", wang)

    on("05-25")
    opened("R7", "permit")
    assign("R7", LAND)
    on("05-26")
    go("R7", "sign")
    on("06-01")
    opened("R1", "land")
    assign("R1", LAND)
    opened("R2", "power")
    assign("R2", "市发改委")
    opened("R6", "permit")
    on("06-02")
    go("R1", "sign")
    go("R2", "send_back", return_reason="属供电公司职责")
    assign("R2", POWER)
    opened("R3", "permit")
    assign("R3", LAND)
    on("06-03")
    go("R3", "sign")
    opened("R4", "power")
    assign("R4", POWER)
    go("R6", "withdraw", wang)
    on("06-04")
    go("R2", "sign")
    on("06-05")
    go("R7", "answer", answer="已纳入供地计划")
    on("06-08")
    answered_and_closed("R7", "06-08", "满意")
    go("R3", "hold", wang)
    go("R4", "supervise", chen)
    on("06-09")
    go("R2", "ask_extension", extended_to="2026-06-22")
    go("R2", "approve_extension", chen)
    on("06-10")
    go("R3", "resume", wang)
    go("R1", "answer", answer="已安排用地指标")
    on("06-11")
    go("R1", "call_back", wang, satisfaction="满意")
    on("06-12")
    go("R1", "close", wang)
    on("06-22")
    go("R2", "answer", answer="增容方案已报批")
    on("06-23")
    go("R2", "call_back", wang, satisfaction="不满意")
    go("R2", "rehandle", wang)
    on("06-24")
    go("R3", "answer", answer="已协调")
    on("06-25")
    answered_and_closed("R3", "06-25", "满意")
    on("06-26")
    go("R2", "answer", answer="已增容")
    on("06-29")
    answered_and_closed("R2", "06-29", "基本满意")
    opened("R5", "financing")
    on("06-30")
    opened("R8", "land")
    assign("R8", LAND)
    on("07-01")
    return app


def tables(app: App, reader: Actor, **kw: Any) -> dict[str, list[dict[str, Any]]]:
    doc = run(app, "requests", Filters(period=parse_period("2026-06"), **kw), reader)
    return {t["name"]: t["rows"] for t in doc["tables"]}


def figures(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, Any, str]]:
    return {r["code"]: (r["numerator"], r["denominator"], r["rate"]) for r in rows}


def test_the_figures_are_the_ones_counted_by_hand(requests: App,
                                                  staff: dict[str, Actor]) -> None:
    got = tables(requests, staff["liu.yang"])
    assert figures(got["headline"]) == {
        "sign_on_time": (2, 4, "50.0%"),
        "closed_on_time": (2, 4, "50.0%"),
        "resolution": (3, 6, "50.0%"),
        "satisfaction": (4, 5, "80.0%"),
        "fully_satisfied": (3, 5, "60.0%"),
        "sign_median": (1, 3, "1 working days"),
        "handle_median": (8, 4, "8 working days"),
    }
    units = {r["key"]: r for r in got["units"]}
    assert sorted(units) == sorted(["", LAND, POWER])
    land, power = units[LAND], units[POWER]
    assert (land["assigned"], land["sign_on_time"], land["sign_median"], land["signed"]) == (
        3, "2/2 (100.0%)", 1, 2)
    assert (land["handle_median"], land["answered"], land["closed_on_time"]) == (
        8, 3, "1/3 (33.3%)")
    # Accepted in June: R1, R3, R8; closed R1, R3.
    assert (land["resolution"], land["satisfaction"]) == ("2/3 (66.7%)", "3/3 (100.0%)")
    assert (power["assigned"], power["sign_on_time"], power["sign_median"]) == (
        3, "0/2 (0.0%)", 2)
    assert (power["handle_median"], power["closed_on_time"], power["extensions"],
            power["rehandled"]) == (11, "1/1 (100.0%)", 1, 1)
    assert (power["resolution"], power["satisfaction"]) == ("1/2 (50.0%)", "1/2 (50.0%)")
    # R5, accepted and not assigned yet: under no unit.
    assert (units[""]["resolution"], units[""]["assigned"]) == ("0/1 (0.0%)", 0)
    categories = {r["key"]: r for r in got["categories"]}
    assert sorted(categories) == ["financing", "land", "permit", "power"]
    # Permits accepted in June: R6 (withdrawn) and R3 (closed).
    assert categories["land"]["group"] == "land" and categories["permit"]["resolution"] == \
        "1/1 (100.0%)"
    assert [(r["open"], r["total"]) for r in got["ages"]] == [
        (2, 3), (0, 3), (1, 3), (0, 3), (0, 3)]
    assert {r["code"]: (r["count"], r["of"]) for r in got["side_paths"]} == {
        "returned": (1, 6), "ext_asked": (1, 4), "ext_approved": (1, 1),
        "ext_refused": (0, 1), "supervised": (1, 6), "rehandled": (1, 5)}
    assert got["method"]


def test_another_period_and_filters(requests: App, staff: dict[str, Actor]) -> None:
    may = run(requests, "requests", Filters(period=parse_period("2026-05")), staff["wang.li"])
    head = figures(may["tables"][0]["rows"])
    # R7 only: assigned Mon 25 May, signed Tue 26 on time; R7 accepted in May, closed in June.
    assert head["sign_on_time"] == (1, 1, "100.0%")
    assert head["resolution"] == (0, 1, "0.0%")
    assert head["closed_on_time"] == (0, 0, "—")
    other = tables(requests, staff["wang.li"], workflow="project_introduction")
    assert figures(other["headline"])["sign_on_time"] == (0, 0, "—")
    assert [r["open"] for r in other["ages"]] == [0] * 5


def test_it_needs_a_reader_and_the_page_shows_it(requests: App) -> None:
    with pytest.raises(Refused, match="read by a person"):
        run(requests, "requests", Filters(period=parse_period("2026-06")))
    docs, _found, _about = run_all(requests, Filters(period=parse_period("2026-06")))
    assert "requests" in docs
    docs, _found, _about = run_all(requests, Filters(period=parse_period("2026-06"),
                                                     workflow="project_introduction"))
    assert "requests" not in docs
