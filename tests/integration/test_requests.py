"""Requests (诉求) through the service layer on a real database: raised on a visit,
walked through the published loop with every deadline checked on the 2026
calendar (Labour Day's holiday 1-5 May and the adjusted working Saturday 9 May),
and the side paths the engine carries: returned and re-assigned, an extension
approved by the director, not satisfied and handled again."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import PI_FIELDS, Clock
from torchflow.errors import Refused
from torchflow.service.app import App
from torchflow.service.audit import verify as audit
from torchflow.service.cases.change import advance, open_case
from torchflow.service.enterprises.dossier import show_enterprise
from torchflow.service.enterprises.linking import link_cases
from torchflow.service.enterprises.records import add_enterprise
from torchflow.service.enterprises.requests import log_with_requests, open_request
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, PEOPLE, TASKS

CODE = "91440300708461136T"


@pytest.fixture
def enterprise(app: App, staff: dict[str, Actor]) -> str:
    add_enterprise(app, staff["wang.li"], "无锡清能动力有限公司", credit_code=CODE,
                   coordinator="wang.li")
    return "无锡清能动力有限公司"


def open_deadline(app: App, key: str) -> tuple[date, str]:
    """The request's one open task: a deadline, its day and who has it."""
    with app.db.read() as s:
        [row] = s.execute(select(TASKS.c.kind, TASKS.c.due_on, PEOPLE.c.handle)
                          .join(CASES, CASES.c.id == TASKS.c.case_id)
                          .join(PEOPLE, PEOPLE.c.id == TASKS.c.assignee_id)
                          .where(CASES.c.key == key, TASKS.c.status == "open")).all()
    assert row.kind == "deadline"
    return row.due_on, row.handle


def fields_of(app: App, key: str) -> dict[str, Any]:
    with app.db.read() as s:
        return dict(s.execute(select(CASES.c.fields).where(CASES.c.key == key)).scalar_one())


def test_a_request_raised_on_a_visit_walks_the_straight_path(
        app: App, staff: dict[str, Actor], clock: Clock, enterprise: str) -> None:
    wang, unit = staff["wang.li"], staff["sun.hao"]
    clock.set("2026-04-20T09:00:00+08:00")
    project = open_case(app, wang, "project_introduction", title="氢燃料电池电堆项目",
                        fields={**PI_FIELDS, "enterprise": enterprise})["key"]
    # The project's enterprise is text: linked by name first (or a visit has nowhere
    # to send a request).
    with pytest.raises(Refused, match="linked to no enterprise"):
        log_with_requests(app, wang, project, "visit", requests=["扩产需新增用地30亩"],
                          category="land")
    admin = Actor(wang.id, wang.handle, ("admin",))
    assert [x["key"] for x in link_cases(app, admin)["linked"]] == [project]

    # Thursday 30 April, the last working day before the Labour Day holiday.
    clock.set("2026-04-30T15:00:00+08:00")
    logged = log_with_requests(app, wang, project, "visit", note="车间满负荷，需扩产",
                               requests=["扩产需新增用地30亩"], category="用地")
    [key] = logged["requests"]
    fields = fields_of(app, key)
    assert (fields["enterprise"], fields["category"]) == (enterprise, "land")
    assert (fields["source_case"], fields["source_event"]) == (project, logged["event"])
    # Accepted: assigned within 1 working day, which is Wednesday 6 May after the holiday.
    assert open_deadline(app, key) == (date(2026, 5, 6), "wang.li")

    clock.set("2026-05-06T10:00:00+08:00")
    advance(app, wang, key, "交办", fields={"lead_unit": "市自然资源和规划局",
                                          "handler": "sun.hao"})
    # The sign-for clock: 1 working day, the handler's.
    assert open_deadline(app, key) == (date(2026, 5, 7), "sun.hao")

    clock.set("2026-05-07T11:00:00+08:00")
    advance(app, unit, key, "签收")
    # The handling clock starts at signing: a land request's 25 working days (the
    # category's budget, version 2), counting Saturday 9 May (an adjusted working
    # day): Wednesday 10 June, not Thursday 11 June.
    assert open_deadline(app, key) == (date(2026, 6, 10), "sun.hao")

    clock.set("2026-05-11T16:00:00+08:00")
    with pytest.raises(Refused, match="answer"):
        advance(app, unit, key, "答复")
    advance(app, unit, key, "答复", fields={"answer": "已纳入新吴区2026年第二批供地计划"})
    assert open_deadline(app, key) == (date(2026, 5, 12), "wang.li")  # call back in 1 day

    clock.set("2026-05-12T09:30:00+08:00")
    advance(app, wang, key, "回访", fields={"satisfaction": "满意"})
    assert open_deadline(app, key) == (date(2026, 5, 14), "wang.li")
    with pytest.raises(Refused, match="role"):
        advance(app, unit, key, "办结")  # the coordinating office closes, not the unit
    done = advance(app, wang, key, "销号")
    assert done.closed and done.to_state == "closed"

    file = show_enterprise(app, CODE)
    [request] = file["requests"]
    assert (request["key"], request["state"], request["satisfaction"]) == (
        key, "closed", "satisfied")
    assert request["closed_at"].startswith("2026-05-12")
    [visit] = file["followups"]
    assert (visit["key"], visit["kind"], visit["requests"]) == (project, "visit", [key])
    assert visit["note"] == "车间满负荷，需扩产"
    assert [c["key"] for c in file["open_cases"]] == [project]
    assert audit.audit(app).ok


def test_returned_extended_and_handled_again(
        app: App, staff: dict[str, Actor], clock: Clock, enterprise: str) -> None:
    wang, unit, chen = staff["wang.li"], staff["sun.hao"], staff["chen.jie"]
    clock.set("2026-05-06T09:00:00+08:00")
    key = open_request(app, wang, CODE, request="申请专变增容至2000千伏安",
                       category="power")["key"]
    advance(app, wang, key, "assign", fields={"lead_unit": "供电公司", "handler": "sun.hao"})
    with pytest.raises(Refused, match="return_reason"):
        advance(app, unit, key, "退回")
    advance(app, unit, key, "退回", fields={"return_reason": "属发改委职责"})
    assert open_deadline(app, key) == (date(2026, 5, 7), "wang.li")  # re-decided in a day
    advance(app, wang, key, "重新交办", fields={"lead_unit": "市发改委"})
    advance(app, unit, key, "sign")
    assert fields_of(app, key)["returns"] == 1
    # Signed on Wednesday 6 May: 7 working days with Saturday 9 May is Thursday 14 May.
    assert open_deadline(app, key) == (date(2026, 5, 14), "sun.hao")

    # An extension to Saturday 23 May (no working day): asked, approved by the
    # director only, and the deadline moves to the next working day, Monday 25 May.
    clock.set("2026-05-12T10:00:00+08:00")
    advance(app, unit, key, "申请延期", fields={"extended_to": "2026-05-23"})
    with pytest.raises(Refused, match="role"):
        advance(app, wang, key, "批准延期")
    advance(app, chen, key, "批准延期")
    assert open_deadline(app, key) == (date(2026, 5, 25), "sun.hao")
    assert fields_of(app, key)["extensions"] == 1

    advance(app, unit, key, "答复", fields={"answer": "增容方案已报批"})
    advance(app, wang, key, "回访", fields={"satisfaction": "不满意"})
    with pytest.raises(Refused, match="only when"):
        advance(app, wang, key, "办结")
    # Handled again: a new handling clock of 7 working days from Tuesday 12 May.
    advance(app, wang, key, "重办")
    assert fields_of(app, key)["rehandles"] == 1
    assert open_deadline(app, key) == (date(2026, 5, 21), "sun.hao")
    with pytest.raises(Refused, match="not allowed from 'handling'"):
        advance(app, wang, key, "rehandle")
    # An extension is asked at least one working day before the deadline: on
    # Wednesday 20 May, not on Thursday 21 May itself.
    clock.set("2026-05-21T09:00:00+08:00")
    with pytest.raises(Refused, match="at least 1 working day before the deadline"):
        advance(app, unit, key, "申请延期", fields={"extended_to": "2026-05-29"})
    assert fields_of(app, key).get("extended_to") == "2026-05-23"  # nothing written
    assert audit.audit(app).ok
