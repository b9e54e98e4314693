"""A deadline for each person of a people field, on a real database: each
co-handler of a request reports to the lead handler within 3 working days of
signing, a task of their own, done by them; overdue, the lead handler is told.

Signed on Wednesday 6 May 2026: 7 and 8 May, then Saturday 9 May (an adjusted
working day) is the third working day."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import select

from tests.conftest import OFFICE_ADMIN, Clock, app_with_workflow
from torchflow.config import Settings
from torchflow.errors import NotFound
from torchflow.service.app import App, build_app
from torchflow.service.audit import verify as audit
from torchflow.service.cases.change import advance, set_fields
from torchflow.service.cases.read import list_cases
from torchflow.service.delivery.sweep import sweep
from torchflow.service.enterprises.records import add_enterprise
from torchflow.service.enterprises.requests import open_request
from torchflow.service.followups import replan
from torchflow.service.followups.work import complete
from torchflow.service.people.lookup import Actor, resolve_actor
from torchflow.service.people.staff import add_person
from torchflow.service.workflows import version_moves as vm
from torchflow.store.models import CASES, EVENTS, NOTICES, PEOPLE, TASKS

CODE = "91440300708461136T"


@pytest.fixture
def co(app: App, staff: dict[str, Actor]) -> dict[str, Actor]:
    for handle, name in (("li.ming", "李明"), ("zhou.yu", "周宇"), ("qian.feng", "钱峰")):
        add_person(app, handle, name=name, roles=["expert"], email=f"{handle}@zone.example.cn")
    return {h: resolve_actor(app, h) for h in ("li.ming", "zhou.yu", "qian.feng")}


@pytest.fixture
def request_key(app: App, staff: dict[str, Actor], co: dict[str, Actor], clock: Clock) -> str:
    wang, unit = staff["wang.li"], staff["sun.hao"]
    add_enterprise(app, wang, "无锡清能动力有限公司", credit_code=CODE, coordinator="wang.li")
    clock.set("2026-05-06T09:00:00+08:00")
    key = str(open_request(app, wang, CODE, request="申请专变增容", category="power")["key"])
    advance(app, wang, key, "交办", fields={"lead_unit": "供电公司", "handler": "sun.hao",
                                          "co_handlers": "li.ming，周宇"})
    advance(app, unit, key, "签收")
    return key


def parts(app: App, key: str, status: str = "open") -> dict[str, Any]:
    """The request's co-handlers' tasks of ``status``, by handle."""
    with app.db.read() as s:
        rows = s.execute(select(TASKS, PEOPLE.c.handle).join(
            CASES, CASES.c.id == TASKS.c.case_id).join(PEOPLE, PEOPLE.c.id == TASKS.c.assignee_id)
            .where(CASES.c.key == key, TASKS.c.kind == "each", TASKS.c.status == status))
        return {r.handle: r for r in rows}


def test_each_co_handler_has_a_task_of_their_own(app: App, request_key: str) -> None:
    with app.db.read() as s:
        stored = s.scalar(select(CASES.c.fields).where(CASES.c.key == request_key))
    assert stored["co_handlers"] == "li.ming、zhou.yu"  # names typed, handles stored
    found = parts(app, request_key)
    assert sorted(found) == ["li.ming", "zhou.yu"]
    assert {t.due_on for t in found.values()} == {date(2026, 5, 9)}
    assert sorted(t.rule for t in found.values()) == [
        "handling.co_report:li.ming", "handling.co_report:zhou.yu"]


def test_done_per_person_and_an_overdue_one_told_to_the_lead(
        app: App, staff: dict[str, Actor], co: dict[str, Actor], clock: Clock,
        request_key: str) -> None:
    clock.set("2026-05-08T15:00:00+08:00")
    complete(app, co["li.ming"], parts(app, request_key)["li.ming"].id, note="已报送协办意见")
    assert parts(app, request_key, "done")["li.ming"].outcome_kind == "on_time"
    assert sorted(parts(app, request_key)) == ["zhou.yu"]
    clock.set("2026-05-09T18:30:00+08:00")
    sweep(app)
    task = parts(app, request_key)["zhou.yu"]
    with app.db.read() as s:
        told = sorted((n.kind, n.recipient) for n in s.execute(
            select(NOTICES.c.kind, NOTICES.c.recipient).where(NOTICES.c.task_id == task.id)))
    # The upcoming reminder (Friday 8 May) was swallowed by the overdue one.
    assert told == [("escalation", "sun.hao"), ("overdue", "zhou.yu")]
    assert audit.audit(app).ok


def test_a_co_handler_added_or_taken_off_while_it_is_handled(
        app: App, staff: dict[str, Actor], co: dict[str, Actor], clock: Clock,
        request_key: str) -> None:
    clock.set("2026-05-11T10:00:00+08:00")  # Monday
    set_fields(app, staff["wang.li"], request_key, {"co_handlers": "li.ming、qian.feng"})
    found = parts(app, request_key)
    assert sorted(found) == ["li.ming", "qian.feng"]
    # Added on Monday 11 May: three working days from then, Thursday 14 May.
    assert found["qian.feng"].due_on == date(2026, 5, 14)
    assert sorted(parts(app, request_key, "cancelled")) == ["zhou.yu"]
    with app.db.read() as s:
        data = s.scalar(select(EVENTS.c.data).where(EVENTS.c.kind == "fields_set"))
    assert data["parts_planned"] == {"handling.co_report:qian.feng": "2026-05-14"}


def test_a_part_done_is_not_asked_again_when_the_state_is_entered_again(
        app: App, staff: dict[str, Actor], co: dict[str, Actor], clock: Clock,
        request_key: str) -> None:
    clock.set("2026-05-07T10:00:00+08:00")
    complete(app, co["li.ming"], parts(app, request_key)["li.ming"].id)
    unit, chen = staff["sun.hao"], staff["chen.jie"]
    advance(app, unit, request_key, "申请延期", fields={"extended_to": "2026-05-29"})
    assert parts(app, request_key) == {}  # left the state: the open one cancelled
    advance(app, chen, request_key, "批准延期")
    again = parts(app, request_key)
    assert sorted(again) == ["zhou.yu"]
    # Re-entered on Thursday 7 May: 8 May, Saturday 9 May, Monday 11 May.
    assert again["zhou.yu"].due_on == date(2026, 5, 11)
    assert again["zhou.yu"].occurrence == 2


def test_a_co_handler_nobody_knows_is_refused_in_one_line(
        app: App, staff: dict[str, Actor], request_key: str) -> None:
    with pytest.raises(NotFound, match="no person is named '王五'"):
        set_fields(app, staff["wang.li"], request_key, {"co_handlers": "li.ming、王五"})
    assert sorted(parts(app, request_key)) == ["li.ming", "zhou.yu"]  # nothing written


def version_3(text: str) -> str:
    return text.replace("version = 2\n", "version = 3\n", 1)


def test_a_version_move_keeps_each_co_handler_s_task(
        app: App, staff: dict[str, Actor], settings: Settings, clock: Clock, request_key: str,
        tmp_path: Path) -> None:
    before = {h: (t.id, t.due_on) for h, t in parts(app, request_key).items()}
    with app_with_workflow(settings, clock, tmp_path / "workflows-v3",
                           "enterprise_request.toml", version_3) as moved:
        plan = vm.plan(moved, OFFICE_ADMIN, "enterprise_request", 3)
        assert all(o.ok for o in vm.apply(moved, OFFICE_ADMIN, plan))
        after = {h: (t.id, t.due_on) for h, t in parts(moved, request_key).items()}
    assert after == before == {"li.ming": (before["li.ming"][0], date(2026, 5, 9)),
                               "zhou.yu": (before["zhou.yu"][0], date(2026, 5, 9))}


def test_a_calendar_change_re_plans_each_co_handler_s_task(
        app: App, clock: Clock, request_key: str) -> None:
    # Friday 8 May closed: signed Wednesday 6 May, the third working day is now
    # Monday 11 May (7 May, Saturday 9 May worked, 11 May).
    cal = replace(app.settings.calendar, blackout=(date(2026, 5, 8),))
    other = build_app(replace(app.settings, calendar=cal), clock=clock)
    try:
        assert sorted(m.task.rule for m in replan.plan(other) if m.task.kind == "each") == [
            "handling.co_report:li.ming", "handling.co_report:zhou.yu"]
        replan.apply(other, OFFICE_ADMIN)
        assert {h: t.due_on for h, t in parts(other, request_key).items()} == {
            "li.ming": date(2026, 5, 11), "zhou.yu": date(2026, 5, 11)}
        assert replan.plan(other) == []
    finally:
        other.close()


def test_a_request_is_found_by_one_of_its_co_handlers(app: App, request_key: str) -> None:
    def found(name: str) -> list[str]:
        page = list_cases(app, workflow="enterprise_request", fields={"co_handlers": name})
        return [c["key"] for c in page]

    assert found("zhou.yu") == found("周宇") == found("li.ming") == [request_key]
    assert found("qian.feng") == []  # a person, not one of them
