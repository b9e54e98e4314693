"""A deadline's escalation ladder on a real database: enterprise_request's
handling deadline climbs 催办 (D+1, the coordinators), 通报 (D+5, the director),
督办 (D+10, the director), each step once however many sweeps and services run,
each recorded in the case's history; done, or the state left, the ladder ends.

The request is signed on Wednesday 6 May 2026: 7 working days with the adjusted
working Saturday 9 May make its deadline Thursday 14 May; D+1 is Friday 15 May,
D+5 Thursday 21 May, D+10 Thursday 28 May."""

from __future__ import annotations

import re
import shutil
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import select

from tests.conftest import OFFICE_ADMIN, WORKFLOWS, Clock
from torchflow.config import Settings
from torchflow.service.app import App, build_app
from torchflow.service.audit import verify as audit
from torchflow.service.cases.change import advance
from torchflow.service.delivery.sweep import sweep
from torchflow.service.enterprises.records import add_enterprise
from torchflow.service.enterprises.requests import open_request
from torchflow.service.people.lookup import Actor
from torchflow.service.workflows import version_moves as vm
from torchflow.store.models import CASES, EVENTS, NOTICES, TASKS

CODE = "91440300708461136T"


@pytest.fixture
def request_key(app: App, staff: dict[str, Actor], clock: Clock) -> str:
    """A power request signed on Wednesday 6 May 2026, due Thursday 14 May."""
    wang, unit = staff["wang.li"], staff["sun.hao"]
    add_enterprise(app, wang, "无锡清能动力有限公司", credit_code=CODE, coordinator="wang.li")
    clock.set("2026-05-06T09:00:00+08:00")
    key = str(open_request(app, wang, CODE, request="申请专变增容", category="power")["key"])
    advance(app, wang, key, "交办", fields={"lead_unit": "供电公司", "handler": "sun.hao"})
    advance(app, unit, key, "签收")
    return key


def steps_of(app: App, key: str) -> list[tuple[str, str, str]]:
    """(step, role, local day) of each deadline_step event of the case, in order."""
    with app.db.read() as s:
        rows = s.execute(select(EVENTS.c.data, EVENTS.c.at).join(
            CASES, CASES.c.id == EVENTS.c.case_id).where(
            CASES.c.key == key, EVENTS.c.kind == "deadline_step").order_by(EVENTS.c.seq))
        return [(r.data["step"], r.data["to"], app.calendar.local_date(r.at).isoformat())
                for r in rows]


def step_notices(app: App) -> list[tuple[str, str]]:
    """(step, recipient) of each ladder notice in the ledger."""
    with app.db.read() as s:
        rows = s.execute(select(NOTICES.c.payload, NOTICES.c.recipient)
                         .where(NOTICES.c.kind == "escalation").order_by(NOTICES.c.id))
        return [(r.payload["step"], r.recipient) for r in rows if "step" in r.payload]


def deadline(app: App, key: str) -> Any:
    with app.db.read() as s:
        return s.execute(select(TASKS).join(CASES, CASES.c.id == TASKS.c.case_id).where(
            CASES.c.key == key, TASKS.c.rule == "handling.deadline")
            .order_by(TASKS.c.id.desc()).limit(1)).one()


def test_the_ladder_is_climbed_a_step_at_a_time_each_once(
        app: App, staff: dict[str, Actor], clock: Clock, request_key: str) -> None:
    key = request_key
    assert deadline(app, key).due_on == date(2026, 5, 14)
    clock.set("2026-05-14T18:30:00+08:00")  # overdue and escalated, not yet chased
    sweep(app)
    assert steps_of(app, key) == []
    clock.set("2026-05-15T09:05:00+08:00")  # D+1: 催办 to the coordinators
    sweep(app)
    sweep(app)
    assert steps_of(app, key) == [("chase", "coordinator", "2026-05-15")]
    assert sorted(step_notices(app)) == [("chase", "wang.li"), ("chase", "zhao.min")]

    clock.set("2026-05-20T17:00:00+08:00")  # D+4: nothing new
    sweep(app)
    assert len(steps_of(app, key)) == 1
    clock.set("2026-05-21T09:00:00+08:00")  # D+5: 通报 to the director
    sweep(app)
    # A restarted service (another App on the same database) takes nothing twice.
    other = build_app(app.settings, clock=clock)
    try:
        sweep(other)
    finally:
        other.close()
    assert [s for s, _, _ in steps_of(app, key)] == ["chase", "report"]
    clock.set("2026-05-28T09:00:00+08:00")  # D+10: 督办, the director asked to supervise
    sweep(app)
    assert steps_of(app, key) == [("chase", "coordinator", "2026-05-15"),
                                  ("report", "director", "2026-05-21"),
                                  ("supervise", "director", "2026-05-28")]
    assert sorted(step_notices(app)) == [
        ("chase", "wang.li"), ("chase", "zhao.min"), ("report", "chen.jie"),
        ("supervise", "chen.jie")]
    assert deadline(app, key).next_notice_at is None  # the top of the ladder

    # The director records the supervision: the supervised clock, 3 working days.
    advance(app, staff["chen.jie"], key, "督办")
    with app.db.read() as s:
        due = s.scalar(select(TASKS.c.due_on).join(CASES, CASES.c.id == TASKS.c.case_id)
                       .where(CASES.c.key == key, TASKS.c.status == "open"))
    assert due == date(2026, 6, 2)
    assert audit.audit(app).ok


def test_after_downtime_every_step_passed_is_taken_once_in_order(
        app: App, clock: Clock, request_key: str) -> None:
    clock.set("2026-06-01T10:00:00+08:00")  # the service was off since before D+1
    sweep(app)
    sweep(app)
    assert [(s, day) for s, _, day in steps_of(app, request_key)] == [
        ("chase", "2026-06-01"), ("report", "2026-06-01"), ("supervise", "2026-06-01")]
    assert len(step_notices(app)) == 4
    with app.db.read() as s:
        body = s.scalar(select(NOTICES.c.body).where(NOTICES.c.recipient == "wang.li",
                                                     NOTICES.c.kind == "escalation"))
    assert "Chase: 12 working days overdue (due 2026-05-14)." in body
    assert "Chase is a step of the escalation ladder" in body
    assert audit.audit(app).ok


def test_the_ladder_ends_when_the_request_is_answered(
        app: App, staff: dict[str, Actor], clock: Clock, request_key: str) -> None:
    clock.set("2026-05-15T10:00:00+08:00")
    sweep(app)
    advance(app, staff["sun.hao"], request_key, "答复", fields={"answer": "增容方案已报批"})
    clock.set("2026-05-29T10:00:00+08:00")
    sweep(app)
    assert [s for s, _, _ in steps_of(app, request_key)] == ["chase"]


def test_two_services_sweeping_at_once_take_each_step_once(
        app: App, clock: Clock, request_key: str) -> None:
    clock.set("2026-05-21T10:00:00+08:00")
    apps = [build_app(app.settings, clock=clock) for _ in range(2)]
    errors: list[BaseException] = []

    def run(one: App) -> None:
        try:
            for _ in range(3):
                sweep(one)
        except BaseException as exc:  # reported below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(one,)) for one in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for one in apps:
        one.close()
    assert not errors
    sweep(app)
    assert [s for s, _, _ in steps_of(app, request_key)] == ["chase", "report"]
    assert sorted(step_notices(app)) == [("chase", "wang.li"), ("chase", "zhao.min"),
                                         ("report", "chen.jie")]


def version_1(folder: Path) -> None:
    """enterprise_request as it was before the ladder and the land budget."""
    path = folder / "enterprise_request.toml"
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r'by = "category"\nwithin_by = \{[^}]*\}\n', "", text)
    text, m = re.subn(r"ladder = \[\n(    .*\n)+\]\n", "", text)
    assert n == m == 1
    path.write_text(text.replace("version = 2\n", "version = 1\n", 1), encoding="utf-8")


def test_requests_opened_before_the_ladder_climb_it_once_migrated(
        app: App, staff: dict[str, Actor], clock: Clock, settings: Settings,
        tmp_path: Path) -> None:
    folder = tmp_path / "workflows-v1"
    shutil.copytree(WORKFLOWS, folder)
    version_1(folder)
    old = build_app(replace(settings, workflows_dir=folder), clock=clock)
    wang, unit = staff["wang.li"], staff["sun.hao"]
    try:
        add_enterprise(old, wang, "无锡清能动力有限公司", credit_code=CODE,
                       coordinator="wang.li")
        clock.set("2026-05-06T09:00:00+08:00")
        keys = []
        for category in ("power", "land"):
            key = str(open_request(old, wang, CODE, request="诉求", category=category)["key"])
            advance(old, wang, key, "交办", fields={"lead_unit": "单位", "handler": "sun.hao"})
            advance(old, unit, key, "签收")
            keys.append(key)
        power, land = keys
        assert deadline(old, land).due_on == date(2026, 5, 14)  # 7 days under version 1
        clock.set("2026-05-14T18:30:00+08:00")
        sweep(old)  # both overdue and escalated under version 1: no ladder there
        assert deadline(old, power).stage_done == 4
    finally:
        old.close()

    plan = vm.plan(app, OFFICE_ADMIN, "enterprise_request", 2)
    assert all(o.ok for o in vm.apply(app, OFFICE_ADMIN, plan))
    # The power request keeps its day and the stage it reached; the land one's
    # deadline is re-planned from signing (Wednesday 6 May) with its 25 days, Saturday
    # 9 May worked: Tuesday 9 June.
    assert (deadline(app, power).due_on, deadline(app, power).stage_done) == (
        date(2026, 5, 14), 4)
    assert deadline(app, land).due_on == date(2026, 6, 9)
    clock.set("2026-05-15T09:30:00+08:00")
    sweep(app)
    sweep(app)
    assert steps_of(app, power) == [("chase", "coordinator", "2026-05-15")]
    assert steps_of(app, land) == []
    assert audit.audit(app).ok
