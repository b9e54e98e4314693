"""Cases through the service layer on a real database: every shipped workflow walked
to a terminal state, guards and roles, field values, on hold and resume, the
optimistic-lock conflict and a real two-connection race, and no partial writes."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from msgspec.structs import replace
from sqlalchemy import event, func, select, text

from tests.conftest import Clock, is_postgres
from torchflow.config import Settings
from torchflow.errors import Conflict, InvalidInput, NotFound, Refused
from torchflow.service.app import App, build_app
from torchflow.service.audit import verify as audit
from torchflow.service.cases import change as cases
from torchflow.service.cases.change import (
    Advanced,
    add_note,
    advance,
    assign,
    open_case,
    set_fields,
)
from torchflow.service.cases.read import history, list_cases, show_case
from torchflow.service.enterprises.records import add_enterprise
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, EVENTS, PEOPLE, TASKS

WAIT = 30  # seconds a synchronisation point may wait before the test fails (never slept)
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the default configured zone, in which views show times


def local(instant: datetime) -> str:
    """An instant as a view shows it: ISO 8601 in the configured (default) zone."""
    return instant.astimezone(SHANGHAI).isoformat()


# -- helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    actor: str
    trigger: str
    to: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Walk:
    workflow: str
    prefix: str
    initial: str
    fields: dict[str, str]
    steps: list[Step]
    final_fields: dict[str, Any]


WALKS = [
    Walk(
        "project_introduction", "PI", "lead",
        {"enterprise": "星河新材料有限公司", "industry": "New Materials",
         "lead_source": "torch center", "planned_investment": "50000"},
        [
            Step("wang.li", "make_contact", "first_contact"),
            Step("wang.li", "negotiate", "negotiation", {"contact_person": "李总 13800000000"}),
            Step("wang.li", "inspect", "site_inspection"),
            Step("chen.jie", "sign", "signed",
                 {"target_park": "高新区新材料产业园", "expected_jobs": "300",
                  "signed_date": "2026-03-20"}),
            Step("wang.li", "register", "registered", {"credit_code": "91320500MA1XY2345Q"}),
            Step("wang.li", "start_construction", "construction"),
            Step("wang.li", "start_production", "production"),
            Step("wang.li", "close", "closed"),
        ],
        {"enterprise": "星河新材料有限公司", "industry": "new materials",
         "lead_source": "torch center", "planned_investment": 50000,
         "contact_person": "李总 13800000000", "target_park": "高新区新材料产业园",
         "expected_jobs": 300, "signed_date": "2026-03-20", "credit_code": "91320500MA1XY2345Q"},
    ),
    Walk(
        "enterprise_cultivation", "EC", "pooled",
        {"enterprise": "睿芯微电子", "credit_code": "91320500MA1AB1234C",
         "tech_field": "electronic information"},
        [
            Step("wang.li", "diagnose", "diagnosis"),
            Step("wang.li", "coach", "coaching", {"mentor": "sun.hao"}),
            Step("wang.li", "apply", "applied",
                 {"revenue": "12000", "rd_ratio": "5.25", "ip_count": "12"}),
            Step("wang.li", "send_to_review", "under_review", {"application_no": "GQ2026-0318"}),
            Step("liu.yang", "certify", "certified",
                 {"certificate_no": "GR202632000123", "certified_on": "2026-11-30"}),
            Step("wang.li", "start_re_examination", "re_examination"),
            Step("chen.jie", "graduate", "graduated"),
        ],
        {"enterprise": "睿芯微电子", "credit_code": "91320500MA1AB1234C",
         "tech_field": "electronic information", "mentor": "sun.hao", "revenue": 12000,
         "rd_ratio": 5.25, "ip_count": 12, "application_no": "GQ2026-0318",
         "certificate_no": "GR202632000123", "certified_on": "2026-11-30"},
    ),
    Walk(
        "talent_docking", "TD", "demand_collected",
        {"enterprise": "光谷生物", "position": "首席科学家", "expertise": "合成生物学",
         "talent_officer": "zhao.min"},
        [
            Step("wang.li", "match", "matching"),
            Step("wang.li", "schedule_meeting", "docking_meeting", {"candidate": "张博士"}),
            Step("zhao.min", "make_offer", "offer", {"talent_programme": "City"}),
            Step("wang.li", "arrive", "on_board", {"start_date": "2026-04-01"}),
            Step("wang.li", "retain", "retention"),
            Step("chen.jie", "close", "closed"),
        ],
        {"enterprise": "光谷生物", "position": "首席科学家", "expertise": "合成生物学",
         "talent_officer": "zhao.min", "candidate": "张博士", "talent_programme": "city",
         "start_date": "2026-04-01"},
    ),
    Walk(
        "international_cooperation", "IC", "intention",
        {"partner": "Fraunhofer IWS", "country": "Germany", "cooperation_type": "joint research"},
        [
            Step("wang.li", "contact_partner", "partner_contact"),
            Step("liu.yang", "sign_memorandum", "memorandum",
                 {"domestic_party": "市激光研究院", "memorandum_date": "2026-05-08"}),
            Step("chen.jie", "launch", "implementation", {"budget": "300.5"}),
            Step("wang.li", "evaluate", "evaluation"),
            Step("liu.yang", "close", "closed"),
        ],
        {"partner": "Fraunhofer IWS", "country": "Germany", "cooperation_type": "joint research",
         "domestic_party": "市激光研究院", "memorandum_date": "2026-05-08", "budget": 300.5},
    ),
    Walk(
        "platform_building", "PB", "proposal",
        {"operator": "市科创投资集团", "platform_type": "pilot-scale base"},
        [
            Step("chen.jie", "approve", "construction",
                 {"approval_no": "科发〔2026〕12号", "approved_funding": "2000"}),
            # The expert accepts as the case's lead reviewer, named before.
            Step("wang.li", "request_acceptance", "acceptance", {"lead_reviewer": "sun.hao"}),
            Step("sun.hao", "accept", "operation",
                 {"lead_reviewer": "sun.hao", "accepted_on": "2026-09-15"}),
            Step("wang.li", "evaluate", "annual_evaluation"),
            Step("chen.jie", "close", "closed", {"evaluation_grade": "excellent"}),
        ],
        {"operator": "市科创投资集团", "platform_type": "pilot-scale base",
         "approval_no": "科发〔2026〕12号", "approved_funding": 2000, "lead_reviewer": "sun.hao",
         "accepted_on": "2026-09-15", "evaluation_grade": "excellent"},
    ),
    Walk(
        "enterprise_request", "RQ", "accepted",
        {"enterprise": "91320214MA1MXNXD1D", "category": "用地"},
        [
            Step("wang.li", "assign", "assigned", {"lead_unit": "市自然资源和规划局",
                                                   "handler": "sun.hao"}),
            Step("sun.hao", "sign", "handling"),
            Step("sun.hao", "answer", "answered", {"answer": "已纳入供地计划"}),
            Step("zhao.min", "call_back", "called_back", {"satisfaction": "基本满意"}),
            Step("chen.jie", "close", "closed"),
        ],
        {"enterprise": "星河新材料有限公司", "category": "land", "lead_unit": "市自然资源和规划局",
         "handler": "sun.hao", "answer": "已纳入供地计划", "satisfaction": "basically_satisfied"},
    ),
    Walk(
        "strategic_research", "SR", "proposed",
        {"topic": "太湖湾科创带未来产业培育路径研究", "research_area": "未来产业"},
        [
            Step("liu.yang", "agree_topic", "topic_agreed", {"lead_unit": "火炬中心研究室"}),
            Step("wang.li", "start_research", "researching", {"agreed_on": "2026-03-06"}),
            Step("wang.li", "submit_report", "under_review"),
            Step("sun.hao", "ask_revision", "revising"),
            Step("wang.li", "resubmit", "under_review"),
            Step("sun.hao", "pass_review", "applying"),
            Step("chen.jie", "close", "closed", {"application": "纳入市十五五科技创新规划"}),
        ],
        {"topic": "太湖湾科创带未来产业培育路径研究", "research_area": "future industries",
         "lead_unit": "火炬中心研究室", "agreed_on": "2026-03-06",
         "application": "纳入市十五五科技创新规划"},
    ),
    Walk(
        "industrialization_zone", "NZ", "planning",
        {"zone": "高新区新型工业化示范区", "lead_department": "高新区经发局"},
        [
            Step("wang.li", "submit_for_argument", "argument"),
            Step("chen.jie", "apply", "applied",
                 {"leading_industries": "集成电路、物联网", "industrial_output_target": "3000"}),
            Step("liu.yang", "approve", "construction",
                 {"approval_no": "国科火字〔2026〕15号", "approved_on": "2026-03-09"}),
            Step("wang.li", "evaluate", "yearly_evaluation"),
            Step("sun.hao", "evaluated", "construction", {"evaluation_result": "良好"}),
            Step("chen.jie", "request_acceptance", "acceptance"),
            Step("liu.yang", "name", "named"),
        ],
        {"zone": "高新区新型工业化示范区", "lead_department": "高新区经发局",
         "leading_industries": "集成电路、物联网", "industrial_output_target": 3000,
         "approval_no": "国科火字〔2026〕15号", "approved_on": "2026-03-09",
         "evaluation_result": "good"},
    ),
    Walk(
        "double_high", "DH", "paired",
        {"enterprise": "睿芯微电子", "park": "高新区集成电路产业园",
         "enterprise_status": "高企"},
        [
            Step("wang.li", "sort_needs", "needs_sorted", {"service_officer": "zhao.min"}),
            Step("wang.li", "agree_plan", "plan_agreed", {"needs": "研发用房、高企复审辅导"}),
            Step("zhao.min", "carry_out", "implementing",
                 {"service_plan": "协调研发用房2000平方米，安排复审辅导"}),
            Step("zhao.min", "review", "reviewing"),
            Step("chen.jie", "close", "closed", {"review_result": "成效明显"}),
        ],
        {"enterprise": "睿芯微电子", "park": "高新区集成电路产业园",
         "enterprise_status": "high-tech enterprise", "service_officer": "zhao.min",
         "needs": "研发用房、高企复审辅导", "service_plan": "协调研发用房2000平方米，安排复审辅导",
         "review_result": "good"},
    ),
]

PI_OPEN = {
    "enterprise": "星河新材料有限公司",
    "industry": "new materials",
    "lead_source": "referral",
    "planned_investment": "50000",
}


def open_pi(app: App, actor: Actor, **fields: str) -> str:
    return open_case(
        app, actor, "project_introduction", title="新材料基地项目", fields={**PI_OPEN, **fields}
    )["key"]


def snapshot(app: App, key: str) -> dict[str, Any]:
    """Everything an advance writes: the case row, its events and its tasks."""
    with app.db.transaction() as s:
        case = s.execute(select(CASES).where(CASES.c.key == key)).one()._asdict()
        events = s.execute(
            select(EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.hash).where(EVENTS.c.case_id == case["id"])
            .order_by(EVENTS.c.seq)
        ).all()
        tasks = s.execute(
            select(TASKS.c.id, TASKS.c.rule, TASKS.c.occurrence, TASKS.c.status,
                   TASKS.c.assignee_id)
            .where(TASKS.c.case_id == case["id"]).order_by(TASKS.c.id)
        ).all()
        sequences = s.execute(text("SELECT prefix, year, last FROM key_sequences")).all()
    return {
        "case": case,
        "events": [tuple(e) for e in events],
        "tasks": [tuple(t) for t in tasks],
        "sequences": sorted(tuple(r) for r in sequences),
    }


def open_rules(app: App, key: str) -> list[tuple[str, int]]:
    return sorted((t["rule"], t["occurrence"]) for t in show_case(app, key)["tasks"])


def walk_to(app: App, staff: dict[str, Actor], key: str, steps: list[tuple[str, str]]) -> None:
    for handle, trigger in steps:
        advance(app, staff[handle], key, trigger)


TO_SITE_INSPECTION = [("wang.li", "make_contact"), ("wang.li", "negotiate"),
                      ("wang.li", "inspect")]


# -- walking every shipped workflow ---------------------------------------------------------


def test_walks_cover_every_shipped_workflow(app: App) -> None:
    assert sorted(w.workflow for w in WALKS) == sorted(app.registry.files())


@pytest.mark.parametrize("walk", WALKS, ids=lambda w: w.workflow)
def test_walk_to_a_terminal_state(
    app: App, staff: dict[str, Actor], clock: Clock, walk: Walk
) -> None:
    opened_at = clock.now
    # A request's enterprise is a record, named by its credit code.
    add_enterprise(app, staff["wang.li"], "星河新材料有限公司", credit_code="91320214MA1MXNXD1D")
    first = open_case(app, staff["wang.li"], walk.workflow, title="示范案件", fields=walk.fields)
    version = app.registry.files()[walk.workflow].version  # the shipped file's
    assert first == {"key": f"{walk.prefix}-2026-0001", "workflow": walk.workflow,
                     "version": version, "state": walk.initial}
    key = first["key"]
    seen = [walk.initial]
    for step in walk.steps:
        clock.advance(days=1)
        before = show_case(app, key)
        result = advance(app, staff[step.actor], key, step.trigger, fields=step.fields)
        assert isinstance(result, Advanced)
        assert (result.from_state, result.to_state) == (seen[-1], step.to)
        assert result.version == before["case_version"] + 1
        assert sorted(result.cancelled_tasks) == sorted(t["id"] for t in before["tasks"])
        seen.append(step.to)
    view = show_case(app, key)
    assert view["state"] == walk.steps[-1].to
    assert view["terminal"] is True
    assert view["closed_at"] == local(clock.now)
    assert view["opened_at"] == local(opened_at)
    assert view["fields"] == walk.final_fields
    assert view["tasks"] == []
    assert view["allowed"] == []
    # Opening writes the row (version 1) and its first event (version 2).
    assert view["case_version"] == 2 + len(walk.steps)
    assert result.closed is True

    # Every change is in the history, in order, with who, when, what.
    events = history(app, key)["events"]
    assert [e["seq"] for e in events] == list(range(1, len(walk.steps) + 2))
    assert events[0]["kind"] == "opened"
    assert events[0]["to"] == walk.initial
    assert events[0]["actor"] == "wang.li"
    assert events[0]["data"]["workflow"] == walk.workflow
    assert set(events[0]["data"]["fields"]) == set(walk.fields)
    for step, ev, source in zip(walk.steps, events[1:], seen[:-1], strict=True):
        assert ev["kind"] == "advanced"
        assert (ev["from"], ev["to"]) == (source, step.to)
        assert ev["actor"] == step.actor
        assert ev["data"]["trigger"] == step.trigger
        assert set(ev["data"].get("fields", {})) == set(step.fields)
        for name in step.fields:
            assert ev["data"]["fields"][name] == walk.final_fields[name]
    assert events[-1]["at"] == local(clock.now)
    assert "planned" not in events[-1]["data"]  # a terminal state plans nothing

    # Nothing left open, and the chain is intact.
    tasks = snapshot(app, key)["tasks"]
    assert tasks and all(status == "cancelled" for _, _, _, status, _ in tasks)
    assert audit.verify(app, key) == [
        {"key": key, "events": len(walk.steps) + 1, "ok": True, "broken_at": None,
         "reason": None}
    ]
    listed = list_cases(app, workflow=walk.workflow, is_open=False)
    assert [(c["key"], c["state"], c["closed"]) for c in listed] == [(key, step.to, True)]
    assert list_cases(app, workflow=walk.workflow, is_open=True) == []


def test_keys_are_prefix_year_number_and_increase(app: App, staff: dict[str, Actor]) -> None:
    keys = [open_pi(app, staff["wang.li"]) for _ in range(3)]
    ec = open_case(app, staff["wang.li"], "enterprise_cultivation", title="培育",
                   fields=WALKS[1].fields)["key"]
    keys.append(open_pi(app, staff["zhao.min"]))
    assert keys == ["PI-2026-0001", "PI-2026-0002", "PI-2026-0003", "PI-2026-0004"]
    assert ec == "EC-2026-0001"
    assert all(re.fullmatch(r"[A-Z]{2,4}-\d{4}-\d{4}", k) for k in [*keys, ec])
    assert [c["key"] for c in list_cases(app)] == [*keys[:3], ec, keys[3]]


def test_key_year_is_the_local_year(app: App, staff: dict[str, Actor], clock: Clock) -> None:
    # 16:30 UTC on New Year's Eve is already 00:30 on 1 January in Beijing.
    clock.set("2025-12-31T16:30:00+00:00")
    assert open_pi(app, staff["wang.li"]) == "PI-2026-0001"
    clock.set("2025-12-31T15:59:00+00:00")
    assert open_pi(app, staff["wang.li"]) == "PI-2025-0001"
    clock.set("2026-03-04T09:00:00+08:00")
    assert open_pi(app, staff["wang.li"]) == "PI-2026-0002"


def test_open_plans_the_initial_states_tasks_for_the_owner(
    app: App, staff: dict[str, Actor]
) -> None:
    key = open_case(app, staff["wang.li"], "project_introduction", title="t",
                    fields=PI_OPEN, owner="zhao.min")["key"]
    view = show_case(app, key)
    assert view["owner"] == "zhao.min"
    assert [(t["rule"], t["occurrence"]) for t in view["tasks"]] == [("lead.deadline", 1)]
    assert {t[4] for t in snapshot(app, key)["tasks"]} == {staff["zhao.min"].id}
    opened = history(app, key)["events"][0]
    assert opened["data"]["owner"] == "zhao.min"
    assert [p["rule"] for p in opened["data"]["planned"]] == ["lead.deadline"]


def test_key_lookup_forgives_case_and_spaces(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"])
    result = advance(app, staff["wang.li"], f"  {key.lower()} ", "make_contact")
    assert result.key == "PI-2026-0001"
    assert show_case(app, key)["state"] == "first_contact"


# -- guards and roles ---------------------------------------------------------------------


def test_missing_required_fields_are_named_and_nothing_is_written(
    app: App, staff: dict[str, Actor]
) -> None:
    key = open_pi(app, staff["wang.li"])
    walk_to(app, staff, key, TO_SITE_INSPECTION[:1])
    before = snapshot(app, key)
    with pytest.raises(Refused) as exc:
        advance(app, staff["wang.li"], key, "negotiate")
    assert str(exc.value) == (
        "PI-2026-0001: 'negotiate' needs contact_person first (--field contact_person=...)"
    )
    assert snapshot(app, key) == before


def test_sign_needs_fields_and_the_director(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"], contact_person="李总")
    walk_to(app, staff, key, TO_SITE_INSPECTION)
    before = snapshot(app, key)

    with pytest.raises(Refused) as exc:
        advance(app, staff["wang.li"], key, "sign")
    assert str(exc.value) == (
        "PI-2026-0001: 'sign' needs target_park, expected_jobs, signed_date first "
        "(--field target_park=... --field expected_jobs=... --field signed_date=...); "
        "'sign' may be done only by a person with role director"
    )
    sign_fields = {"target_park": "一区", "expected_jobs": "120", "signed_date": "2026-03-10"}
    # A coordinator with everything filled in is still not a director.
    with pytest.raises(Refused) as exc:
        advance(app, staff["zhao.min"], key, "sign", fields=sign_fields)
    assert str(exc.value) == (
        "PI-2026-0001: 'sign' may be done only by a person with role director"
    )
    # The director without the fields.
    with pytest.raises(Refused, match=r"'sign' needs target_park, expected_jobs, signed_date"):
        advance(app, staff["chen.jie"], key, "sign", fields={"target_park": ""})
    # Refusals wrote nothing: not even the fields that came along.
    assert snapshot(app, key) == before
    assert "target_park" not in show_case(app, key)["fields"]

    result = advance(app, staff["chen.jie"], key, "sign", fields=sign_fields, note="签约仪式")
    assert (result.to_state, result.version) == ("signed", before["case"]["version"] + 1)
    last = history(app, key)["events"][-1]
    assert last["actor"] == "chen.jie"
    assert last["data"]["trigger"] == "sign"
    assert last["data"]["note"] == "签约仪式"
    assert last["data"]["fields"] == {
        "target_park": "一区", "expected_jobs": 120, "signed_date": "2026-03-10"
    }
    assert show_case(app, key)["fields"]["expected_jobs"] == 120


def test_role_message_names_every_allowed_role(app: App, staff: dict[str, Actor]) -> None:
    key = open_case(app, staff["wang.li"], "enterprise_cultivation", title="t",
                    fields=WALKS[1].fields)["key"]
    walk_to(app, staff, key, [("wang.li", "diagnose")])
    advance(app, staff["wang.li"], key, "coach", fields={"mentor": "sun.hao"})
    ratio = {"revenue": "1", "rd_ratio": "1", "ip_count": "1"}
    with pytest.raises(Refused) as exc:
        advance(app, staff["sun.hao"], key, "apply", fields=ratio)
    assert str(exc.value) == (
        f"{key}: 'apply' may be done only by a person with role coordinator or director"
    )


def test_show_case_lists_what_blocks_each_trigger(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"], contact_person="李总")
    walk_to(app, staff, key, TO_SITE_INSPECTION)
    allowed = {a["trigger"]: a for a in show_case(app, key, ("coordinator",))["allowed"]}
    assert list(allowed) == ["renegotiate", "sign", "lose", "withdraw", "hold"]
    assert allowed["sign"]["to"] == "signed"
    assert allowed["sign"]["blocked"] == [
        "'sign' needs target_park, expected_jobs, signed_date first "
        "(--field target_park=... --field expected_jobs=... --field signed_date=...)",
        "'sign' may be done only by a person with role director",
    ]
    assert allowed["withdraw"]["blocked"] == []
    assert allowed["lose"]["blocked"] == ["'lose' needs lost_to first (--field lost_to=...)"]


def test_unknown_trigger_lists_the_allowed_ones(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"])
    before = snapshot(app, key)
    with pytest.raises(Refused) as exc:
        advance(app, staff["chen.jie"], key, "sgin")
    assert str(exc.value) == (
        "PI-2026-0001: 'sgin' is not allowed from 'lead'; "
        "allowed: make_contact, lose, withdraw, hold"
    )
    # A real trigger of the workflow, but not from this state.
    with pytest.raises(Refused, match=r"'sign' is not allowed from 'lead'; allowed: make_contact"):
        advance(app, staff["chen.jie"], key, "sign")
    assert snapshot(app, key) == before


def test_no_trigger_fires_from_a_terminal_state(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"])
    result = advance(app, staff["wang.li"], key, "lose", fields={"lost_to": "苏州工业园区"})
    assert (result.to_state, result.closed) == ("lost", True)
    before = snapshot(app, key)
    for trigger in ("resume", "make_contact", "lose"):
        with pytest.raises(Refused) as exc:
            advance(app, staff["chen.jie"], key, trigger)
        assert str(exc.value) == (
            f"PI-2026-0001: '{trigger}' is not allowed: 'lost' is a terminal state with no way out"
        )
    assert snapshot(app, key) == before


def test_required_fields_at_open(app: App, staff: dict[str, Actor]) -> None:
    with pytest.raises(InvalidInput) as exc:
        open_case(app, staff["wang.li"], "project_introduction", title="t",
                  fields={"enterprise": "X", "planned_investment": ""})
    assert str(exc.value) == (
        "'project_introduction' needs industry, lead_source to open "
        "(industry=..., lead_source=...)"
    )
    assert list_cases(app) == []
    with pytest.raises(InvalidInput, match="the title is empty"):
        open_case(app, staff["wang.li"], "project_introduction", title="  ", fields=PI_OPEN)
    # No key was used up by the refusals.
    assert open_pi(app, staff["wang.li"]) == "PI-2026-0001"


def test_unknown_workflow_and_unknown_owner(app: App, staff: dict[str, Actor]) -> None:
    with pytest.raises(NotFound) as exc:
        open_case(app, staff["wang.li"], "project_intro", title="t", fields=PI_OPEN)
    assert str(exc.value) == (
        "no workflow named 'project_intro'; workflows: double_high, enterprise_cultivation, "
        "enterprise_request, industrialization_zone, international_cooperation, "
        "platform_building, project_introduction, strategic_research, talent_docking"
    )
    with pytest.raises(NotFound, match=r"no person with handle 'li\.si'"):
        open_case(app, staff["wang.li"], "project_introduction", title="t", fields=PI_OPEN,
                  owner="li.si")
    assert list_cases(app) == []


def test_unknown_field(app: App, staff: dict[str, Actor]) -> None:
    with pytest.raises(InvalidInput) as exc:
        open_case(app, staff["wang.li"], "project_introduction", title="t",
                  fields={**PI_OPEN, "budget": "1"})
    assert str(exc.value).startswith(
        "'project_introduction' has no field 'budget'; fields: enterprise, industry, lead_source,"
    )
    key = open_pi(app, staff["wang.li"])
    before = snapshot(app, key)
    with pytest.raises(InvalidInput, match="has no field 'contact'"):
        advance(app, staff["wang.li"], key, "make_contact", fields={"contact": "x"})
    with pytest.raises(InvalidInput, match="has no field 'contact'"):
        set_fields(app, staff["wang.li"], key, {"contact": "x"})
    assert snapshot(app, key) == before


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("planned_investment", "1,200",
         "field 'planned_investment' wants a number, got '1,200'; write plain decimal digits "
         "without thousands separators, e.g. planned_investment=5000 (万元)"),
        ("planned_investment", "5e3", "field 'planned_investment' wants a number, got '5e3'"),
        ("expected_jobs", "三百", "field 'expected_jobs' wants a number, got '三百'"),
        ("signed_date", "2026/03/15",
         "field 'signed_date' wants a date as YYYY-MM-DD, got '2026/03/15'; "
         "e.g. signed_date=2026-03-15"),
        ("signed_date", "2026-02-30", "field 'signed_date' wants a date as YYYY-MM-DD"),
        ("industry", "biotech", "field 'industry' must be one of: information technology,"),
    ],
)
def test_bad_values_are_refused(
    app: App, staff: dict[str, Actor], name: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        open_pi(app, staff["wang.li"], **{name: value})
    assert str(exc.value).startswith(message)
    assert list_cases(app) == []
    key = open_pi(app, staff["wang.li"])
    before = snapshot(app, key)
    with pytest.raises(InvalidInput) as exc:
        set_fields(app, staff["wang.li"], key, {name: value})
    assert str(exc.value).startswith(message)
    assert snapshot(app, key) == before


def test_values_are_stored_typed(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"], planned_investment="5000.0", expected_jobs="12.5",
                  industry="BIOMEDICINE", signed_date="2026-03-15", target_park="  一区  ")
    fields = show_case(app, key)["fields"]
    assert fields["planned_investment"] == 5000
    assert isinstance(fields["planned_investment"], int)
    assert fields["expected_jobs"] == 12.5
    assert fields["industry"] == "biomedicine"
    assert fields["signed_date"] == "2026-03-15"
    assert fields["target_park"] == "一区"


def test_person_field_with_unknown_handle(app: App, staff: dict[str, Actor]) -> None:
    td = WALKS[2].fields
    with pytest.raises(NotFound) as exc:
        open_case(app, staff["wang.li"], "talent_docking", title="t",
                  fields={**td, "talent_officer": "li.si"})
    assert str(exc.value) == "no person with handle 'li.si'; see `torchflow person list`"
    # A name is looked up too (王立): nobody is named Li Si.
    with pytest.raises(NotFound, match="no person is named 'Li Si'"):
        open_case(app, staff["wang.li"], "talent_docking", title="t",
                  fields={**td, "talent_officer": "Li Si"})
    assert list_cases(app) == []

    key = open_case(app, staff["wang.li"], "enterprise_cultivation", title="t",
                    fields=WALKS[1].fields)["key"]
    advance(app, staff["wang.li"], key, "diagnose")
    before = snapshot(app, key)
    with pytest.raises(NotFound, match="no person with handle 'nobody'"):
        advance(app, staff["wang.li"], key, "coach", fields={"mentor": "nobody"})
    assert snapshot(app, key) == before
    assert advance(app, staff["wang.li"], key, "coach", fields={"mentor": "sun.hao"}).to_state \
        == "coaching"


def test_unknown_case(app: App, staff: dict[str, Actor]) -> None:
    with pytest.raises(NotFound) as exc:
        advance(app, staff["wang.li"], "PI-2026-0099", "make_contact")
    assert str(exc.value) == "no case with key 'PI-2026-0099'; see `torchflow case list`"
    with pytest.raises(NotFound):
        show_case(app, "PI-2026-0099")
    with pytest.raises(NotFound):
        history(app, "PI-2026-0099")


# -- notes, fields, owner ---------------------------------------------------------------------


def test_note_fields_and_assign_are_events(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"])
    assert add_note(app, staff["wang.li"], key, "企业来访, 谈了用地") == {"key": key, "event": 2}
    with pytest.raises(InvalidInput, match="the note is empty"):
        add_note(app, staff["wang.li"], key, "  ")
    result = set_fields(app, staff["wang.li"], key, {"planned_investment": "60000",
                                                     "target_park": "二区"})
    assert result["fields"]["planned_investment"] == 60000
    with pytest.raises(InvalidInput, match="'enterprise' is required and cannot be cleared"):
        set_fields(app, staff["wang.li"], key, {"enterprise": ""})
    with pytest.raises(InvalidInput, match="nothing to set"):
        set_fields(app, staff["wang.li"], key, {})
    assert assign(app, staff["wang.li"], key, "zhao.min") == {
        "key": key, "owner": "zhao.min", "was": "wang.li"
    }
    events = history(app, key)["events"]
    assert [(e["seq"], e["kind"], e["actor"]) for e in events] == [
        (1, "opened", "wang.li"), (2, "note", "wang.li"), (3, "fields_set", "wang.li"),
        (4, "assigned", "wang.li"),
    ]
    assert events[1]["data"] == {"note": "企业来访, 谈了用地"}
    assert events[2]["data"] == {
        "fields": {"planned_investment": 60000, "target_park": "二区"},
        "was": {"planned_investment": 50000, "target_park": None},
    }
    assert events[3]["data"] == {"owner": "zhao.min", "was": "wang.li"}
    # The open tasks follow the new owner.
    snap = snapshot(app, key)
    assert snap["case"]["version"] == 5
    assert {t[4] for t in snap["tasks"] if t[3] == "open"} == {staff["zhao.min"].id}
    assert show_case(app, key)["owner"] == "zhao.min"
    assert [c["key"] for c in list_cases(app, owner="zhao.min")] == [key]
    assert list_cases(app, owner="wang.li") == []


def test_advance_cannot_clear_a_required_field(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"])
    before = snapshot(app, key)
    with pytest.raises(InvalidInput) as exc:
        advance(app, staff["wang.li"], key, "make_contact", fields={"enterprise": " "})
    assert str(exc.value) == "'enterprise' is required and cannot be cleared"
    assert snapshot(app, key) == before
    # Clearing an optional field along the way is fine.
    set_fields(app, staff["wang.li"], key, {"target_park": "一区"})
    advance(app, staff["wang.li"], key, "make_contact", fields={"target_park": ""})
    assert show_case(app, key)["fields"]["target_park"] is None
    assert history(app, key)["events"][-1]["data"]["fields"] == {"target_park": None}


def test_assign_to_an_inactive_person_is_refused(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"])
    with app.db.transaction() as s:
        s.execute(text("UPDATE people SET active = :f WHERE handle = 'zhao.min'"), {"f": False})
    before = snapshot(app, key)
    with pytest.raises(Refused, match=r"'zhao\.min' is not active; assign to an active person"):
        assign(app, staff["wang.li"], key, "zhao.min")
    with pytest.raises(NotFound, match=r"no person with handle 'li\.si'"):
        assign(app, staff["wang.li"], key, "li.si")
    assert snapshot(app, key) == before


# -- on hold and resume ---------------------------------------------------------------------


def test_hold_and_resume_returns_to_the_previous_state(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = open_pi(app, staff["wang.li"], contact_person="李总")
    walk_to(app, staff, key, TO_SITE_INSPECTION[:2])
    assert open_rules(app, key) == [
        ("negotiation.contact", 1), ("negotiation.deadline", 1), ("negotiation.visit", 1)
    ]
    clock.advance(days=2)
    held = advance(app, staff["wang.li"], key, "hold", note="企业内部重组")
    assert (held.from_state, held.to_state) == ("negotiation", "on_hold")
    assert open_rules(app, key) == [("on_hold.contact", 1), ("on_hold.deadline", 1)]
    # While on hold, only the way back and the exits.
    assert [a["trigger"] for a in show_case(app, key)["allowed"]] == ["lose", "withdraw", "resume"]

    clock.advance(days=7)
    resumed = advance(app, staff["wang.li"], key, "resume")
    assert (resumed.from_state, resumed.to_state) == ("on_hold", "negotiation")
    view = show_case(app, key)
    assert view["state"] == "negotiation"
    assert view["state_entered_at"] == local(clock.now)
    # Re-entering plans the next occurrence of each rule, never a duplicate.
    assert open_rules(app, key) == [
        ("negotiation.contact", 2), ("negotiation.deadline", 2), ("negotiation.visit", 2)
    ]
    events = history(app, key)["events"]
    assert [(e["from"], e["to"]) for e in events[-2:]] == [
        ("negotiation", "on_hold"), ("on_hold", "negotiation")
    ]
    assert events[-1]["data"]["trigger"] == "resume"
    with app.db.transaction() as s:
        previous = s.scalar(select(CASES.c.previous_state).where(CASES.c.key == key))
    assert previous == "on_hold"

    # Hold again from a later state: resume goes there, not to the earlier one.
    advance(app, staff["wang.li"], key, "inspect")
    advance(app, staff["wang.li"], key, "hold")
    assert advance(app, staff["wang.li"], key, "resume").to_state == "site_inspection"


def test_hold_from_the_initial_state_and_resume(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"])
    advance(app, staff["wang.li"], key, "hold")
    assert advance(app, staff["wang.li"], key, "resume").to_state == "lead"
    assert open_rules(app, key) == [("lead.deadline", 2)]
    assert audit.verify(app, key)[0]["ok"] is True


# -- all of it or none of it ----------------------------------------------------------------


def test_a_failure_mid_advance_leaves_nothing_behind(
    app: App, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = open_pi(app, staff["wang.li"])
    before = snapshot(app, key)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    # insert_tasks runs after the case update, the event and the task cancellation.
    monkeypatch.setattr(cases.followups, "insert_tasks", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        advance(app, staff["wang.li"], key, "make_contact")
    with pytest.raises(RuntimeError, match="disk full"):
        open_pi(app, staff["wang.li"])
    monkeypatch.undo()
    assert snapshot(app, key) == before
    assert [c["key"] for c in list_cases(app)] == [key]
    assert advance(app, staff["wang.li"], key, "make_contact").version == 3
    assert open_pi(app, staff["wang.li"]) == "PI-2026-0002"


# -- concurrency ----------------------------------------------------------------------------


def test_stale_expected_version_is_a_conflict(app: App, staff: dict[str, Actor]) -> None:
    key = open_pi(app, staff["wang.li"])
    read = show_case(app, key)["case_version"]
    assert read == 2
    add_note(app, staff["wang.li"], key, "刚通过电话")
    before = snapshot(app, key)
    with pytest.raises(Conflict) as exc:
        advance(app, staff["wang.li"], key, "make_contact", expected_version=read)
    assert str(exc.value) == (
        "case PI-2026-0001 changed since you read it (version 3 now, you read 2); "
        "look again with `torchflow case show PI-2026-0001` and retry"
    )
    assert snapshot(app, key) == before
    result = advance(app, staff["wang.li"], key, "make_contact", expected_version=3)
    assert (result.to_state, result.version) == ("first_contact", 4)


@pytest.fixture
def second_app(settings: Settings, clock: Clock) -> Iterator[App]:
    """Another process, in effect: its own engine and registry on the same database."""
    other = build_app(settings, clock=clock)
    yield other
    other.close()


def start(results: dict[str, Any], name: str, job: Callable[[], Any]) -> threading.Thread:
    """Run ``job`` in a thread named ``name``; its result or exception lands in ``results``."""

    def target() -> None:
        try:
            results[name] = job()
        except Exception as exc:  # the outcome under test
            results[name] = exc

    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread


def join(*threads: threading.Thread) -> None:
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive(), f"thread {t.name} hung"


def run_threads(*jobs: tuple[str, Callable[[], Any]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    join(*[start(results, name, job) for name, job in jobs])
    return results


def race(
    app_a: App, app_b: App, monkeypatch: pytest.MonkeyPatch,
    job_a: Callable[[], Any], job_b: Callable[[], Any],
) -> dict[str, Any]:
    """Run job A (on app_a) and job B (on app_b) so that B reads the case before A's
    write is committed, and A writes first.

    PostgreSQL: both transactions read the same case version (a barrier), then A
    updates the row and B, still holding its stale read, updates it while A's row
    lock is held: B waits for A's commit and then finds its version gone.
    SQLite: BEGIN IMMEDIATE serialises writers, so B starts its transaction while
    A holds the write lock, waits for A's commit, and then reads A's result.
    """
    real_load, real_append = cases.load_case, cases.append_event
    with monkeypatch.context() as mp:
        if is_postgres():
            barrier = threading.Barrier(2, timeout=WAIT)
            a_wrote = threading.Event()

            def load_together(session: Any, key: str) -> Any:
                row = real_load(session, key)
                barrier.wait()  # both transactions have read the same version
                if threading.current_thread().name == "B":
                    assert a_wrote.wait(WAIT), "A never wrote"
                return row

            def append_then_signal(*args: Any, **kwargs: Any) -> int:
                try:
                    return real_append(*args, **kwargs)  # A now holds the row lock
                finally:
                    if threading.current_thread().name == "A":
                        a_wrote.set()

            mp.setattr(cases, "load_case", load_together)
            mp.setattr(cases, "append_event", append_then_signal)
            return run_threads(("A", job_a), ("B", job_b))

        a_has_read, b_begins = threading.Event(), threading.Event()

        def load_a_first(session: Any, key: str) -> Any:
            row = real_load(session, key)
            if threading.current_thread().name == "A":
                a_has_read.set()
                assert b_begins.wait(WAIT), "B never began its transaction"
            return row

        def on_connect_b(conn: Any) -> None:
            # B has a connection and is about to BEGIN IMMEDIATE, which waits for A.
            b_begins.set()

        mp.setattr(cases, "load_case", load_a_first)
        event.listen(app_b.db.engine, "engine_connect", on_connect_b)
        try:
            results: dict[str, Any] = {}
            thread_a = start(results, "A", job_a)
            assert a_has_read.wait(WAIT), "A never read the case"
            thread_b = start(results, "B", job_b)
            join(thread_a, thread_b)
            return results
        finally:
            event.remove(app_b.db.engine, "engine_connect", on_connect_b)


def check_consistent(app: App, key: str) -> dict[str, Any]:
    """No event lost or duplicated, the head matches, one open task per rule."""
    snap = snapshot(app, key)
    seqs = [e[0] for e in snap["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert snap["case"]["last_seq"] == len(seqs)
    assert snap["case"]["version"] == len(seqs) + 1
    assert snap["case"]["head_hash"] == snap["events"][-1][2]
    open_rules_ = [t[1] for t in snap["tasks"] if t[3] == "open"]
    assert len(open_rules_) == len(set(open_rules_))
    assert all(r.startswith(snap["case"]["state"] + ".") for r in open_rules_)
    assert audit.verify(app, key)[0]["ok"] is True
    return snap


def test_two_advances_race_exactly_one_wins(
    app: App, second_app: App, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = open_pi(app, staff["wang.li"])
    results = race(
        app, second_app, monkeypatch,
        lambda: advance(app, staff["wang.li"], key, "make_contact"),
        # the director oversees the workflow's cases (a colleague may no longer advance it)
        lambda: advance(second_app, staff["chen.jie"], key, "make_contact"),
    )
    assert isinstance(results["A"], Advanced), results
    assert results["A"].to_state == "first_contact"
    loser = results["B"]
    if is_postgres():
        # Both read version 1; the second UPDATE ... WHERE version = 1 finds nothing.
        assert isinstance(loser, Conflict), loser
        assert "case PI-2026-0001 changed since you read it" in str(loser)
    else:
        # B waited for A's write lock, then read the new state.
        assert isinstance(loser, Refused), loser
        assert str(loser) == (
            "PI-2026-0001: 'make_contact' is not allowed from 'first_contact'; "
            "allowed: negotiate, lose, withdraw, hold"
        )
    snap = check_consistent(app, key)
    assert [e[1] for e in snap["events"]] == ["opened", "advanced"]
    assert snap["case"]["state"] == "first_contact"
    assert [(t[1], t[2], t[3]) for t in snap["tasks"]] == [
        ("lead.deadline", 1, "cancelled"),
        ("first_contact.contact", 1, "open"),
        ("first_contact.deadline", 1, "open"),
    ]
    assert history(app, key)["events"][1]["actor"] == "wang.li"


def test_an_advance_racing_a_different_advance(
    app: App, second_app: App, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = open_pi(app, staff["wang.li"])
    results = race(
        app, second_app, monkeypatch,
        lambda: advance(app, staff["wang.li"], key, "make_contact"),
        lambda: advance(second_app, staff["wang.li"], key, "hold"),
    )
    assert isinstance(results["A"], Advanced), results
    snap = check_consistent(app, key)
    if is_postgres():
        assert isinstance(results["B"], Conflict), results
        assert [e[1] for e in snap["events"]] == ["opened", "advanced"]
        assert snap["case"]["state"] == "first_contact"
    else:
        # B saw A's result and put the case on hold from there.
        assert isinstance(results["B"], Advanced), results
        assert (results["B"].from_state, results["B"].to_state) == ("first_contact", "on_hold")
        assert [e[1] for e in snap["events"]] == ["opened", "advanced", "advanced"]
        assert (snap["case"]["state"], snap["case"]["previous_state"]) == (
            "on_hold", "first_contact"
        )
        assert [(t[1], t[3]) for t in snap["tasks"]] == [
            ("lead.deadline", "cancelled"),
            ("first_contact.contact", "cancelled"),
            ("first_contact.deadline", "cancelled"),
            ("on_hold.contact", "open"),
            ("on_hold.deadline", "open"),
        ]


def test_a_note_racing_an_advance(
    app: App, second_app: App, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = open_pi(app, staff["wang.li"])
    results = race(
        app, second_app, monkeypatch,
        lambda: advance(app, staff["wang.li"], key, "make_contact"),
        lambda: add_note(second_app, staff["wang.li"], key, "并发备注"),
    )
    assert isinstance(results["A"], Advanced), results
    snap = check_consistent(app, key)
    if is_postgres():
        assert isinstance(results["B"], Conflict), results
        assert len(snap["events"]) == 2
    else:
        assert results["B"] == {"key": key, "event": 3}
        assert [e[1] for e in snap["events"]] == ["opened", "advanced", "note"]


def test_concurrent_opens_get_distinct_keys(
    app: App, second_app: App, staff: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_pi(app, staff["wang.li"])  # stores the workflow version first
    if is_postgres():
        barrier = threading.Barrier(2, timeout=WAIT)
        real_next_keys = cases.next_keys  # events.next_keys, as the open use case holds it

        def next_key_together(session: Any, prefix: str, year: int, count: int = 1
                              ) -> list[str]:
            barrier.wait()  # both transactions are open, neither has a number yet
            return real_next_keys(session, prefix, year, count)

        monkeypatch.setattr(cases, "next_keys", next_key_together)
    results = run_threads(
        ("A", lambda: open_pi(app, staff["wang.li"])),
        ("B", lambda: open_pi(second_app, staff["zhao.min"])),
    )
    assert sorted(results.values()) == ["PI-2026-0002", "PI-2026-0003"], results
    assert [c["key"] for c in list_cases(app)] == ["PI-2026-0001", *sorted(results.values())]
    with app.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(EVENTS)) == 3


def test_time_is_recorded_in_utc(app: App, staff: dict[str, Actor], clock: Clock) -> None:
    clock.set("2026-03-04T09:15:30.123456+08:00")
    key = open_pi(app, staff["wang.li"])
    with app.db.transaction() as s:
        opened_at = s.scalar(select(CASES.c.opened_at).where(CASES.c.key == key))
        event_at = s.scalar(select(EVENTS.c.at).join(CASES, CASES.c.id == EVENTS.c.case_id)
                            .where(CASES.c.key == key, EVENTS.c.seq == 1))
    # Stored in UTC, microseconds kept ...
    assert opened_at == datetime(2026, 3, 4, 1, 15, 30, 123456, tzinfo=UTC)
    assert opened_at.tzinfo is not None and opened_at.utcoffset() == timedelta(0)
    assert event_at == opened_at and event_at.utcoffset() == timedelta(0)
    # ... and shown in the configured zone, the same instant to the microsecond.
    assert show_case(app, key)["opened_at"] == "2026-03-04T09:15:30.123456+08:00"
    assert history(app, key)["events"][0]["at"] == "2026-03-04T09:15:30.123456+08:00"


def test_a_case_view_shows_times_in_the_configured_zone(
    settings: Settings, staff: dict[str, Actor], clock: Clock
) -> None:
    berlin = replace(settings, calendar=replace(settings.calendar, timezone="Europe/Berlin"))
    app = build_app(berlin, clock=clock)
    try:
        # 09:30 in Beijing is 02:30 in Berlin, still on winter time (UTC+1).
        clock.set("2026-03-04T09:30:00+08:00")
        key = open_pi(app, staff["wang.li"])
        # After the clocks go forward on 29 March, Berlin is UTC+2.
        clock.set("2026-04-01T10:00:00+08:00")
        advance(app, staff["wang.li"], key, "withdraw")
        view = show_case(app, key)
        assert view["opened_at"] == "2026-03-04T02:30:00+01:00"
        assert view["state_entered_at"] == "2026-04-01T04:00:00+02:00"
        assert view["closed_at"] == "2026-04-01T04:00:00+02:00"
        assert [e["at"] for e in history(app, key)["events"]] == [
            "2026-03-04T02:30:00+01:00", "2026-04-01T04:00:00+02:00"]
        assert [c["since"] for c in list_cases(app)] == ["2026-04-01T04:00:00+02:00"]
        # The stored times are UTC whatever the zone.
        with app.db.transaction() as s:
            stored = s.execute(select(CASES.c.opened_at, CASES.c.closed_at)
                               .where(CASES.c.key == key)).one()
        assert tuple(stored) == (datetime(2026, 3, 4, 1, 30, tzinfo=UTC),
                                 datetime(2026, 4, 1, 2, 0, tzinfo=UTC))
    finally:
        app.close()


def test_a_case_cannot_be_given_to_an_inactive_owner(app: App, staff: dict[str, Actor]) -> None:
    with app.db.transaction() as s:
        s.execute(PEOPLE.update().where(PEOPLE.c.handle == "zhao.min").values(active=False))
    with pytest.raises(Refused, match=re.escape("'zhao.min' is not active; give the case to")):
        open_case(app, staff["wang.li"], "project_introduction", title="X", owner="zhao.min",
                  fields=PI_OPEN)
    assert list_cases(app) == []
