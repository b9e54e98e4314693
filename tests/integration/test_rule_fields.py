"""A rule may count from a date field (`from`) instead of the state's entry, and
go to a person field (`assignee`) instead of the owner; an empty field falls back
(and the history says so), and a change of the field while the state is current
re-plans or moves that rule's open task.

Dates by hand from the official 2026 calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import select

from tests.conftest import STAFF, Clock
from torchflow.config import Settings
from torchflow.service.app import App, build_app
from torchflow.service.cases.change import advance, open_case, set_fields
from torchflow.service.cases.read import history
from torchflow.service.delivery.sweep import sweep
from torchflow.service.people.lookup import Actor, resolve_actor
from torchflow.service.people.staff import add_person
from torchflow.store.models import CASES, NOTICES, PEOPLE, TASKS

GRANT = """\
name = "research_grant"
title = "Research grant"
version = 1
key_prefix = "RG"

[fields.midterm_date]
type = "date"

[fields.investigator]
type = "person"

[states.running]
contact = { every = "5 workdays", remind = "1 workday", assignee = "investigator" }
deadline = { within = "5 workdays", escalate_to = "director", remind = "1 workday", \
from = "midterm_date" }

[states.on_hold]

[states.done]
terminal = true

[[transitions]]
trigger = "finish"
source = "running"
dest = "done"

[[transitions]]
trigger = "hold"
source = "running"
dest = "on_hold"

[[transitions]]
trigger = "resume"
source = "on_hold"
dest = "@previous"
"""


@pytest.fixture
def grants(settings: Settings, clock: Clock, tmp_path: Path) -> Iterator[App]:
    folder = tmp_path / "grant-workflows"
    folder.mkdir()
    (folder / "research_grant.toml").write_text(GRANT, encoding="utf-8")
    app = build_app(replace(settings, workflows_dir=folder), clock=clock)
    for handle, name, roles in STAFF:
        add_person(app, handle, name=name, roles=roles, email=f"{handle}@zone.example.cn")
    yield app
    app.close()


def me(app: App, handle: str = "wang.li") -> Actor:
    return resolve_actor(app, handle)


def open_tasks(app: App, key: str) -> dict[str, Any]:
    with app.db.transaction() as s:
        rows = s.execute(
            select(TASKS, PEOPLE.c.handle.label("who"))
            .join(CASES, CASES.c.id == TASKS.c.case_id)
            .join(PEOPLE, PEOPLE.c.id == TASKS.c.assignee_id)
            .where(CASES.c.key == key, TASKS.c.status == "open"))
        return {r.rule: r for r in rows}


def event(app: App, key: str, kind: str) -> dict[str, Any]:
    return [e for e in history(app, key)["events"] if e["kind"] == kind][-1]["data"]


def test_an_empty_date_field_falls_back_to_the_entry_and_the_history_says_so(
    grants: App,
) -> None:
    key = open_case(grants, me(grants), "research_grant", title="g")["key"]
    assert open_tasks(grants, key)["running.deadline"].due_on == date(2026, 3, 11)
    assert event(grants, key, "opened")["counted_from"] == {
        "running.deadline": {"field": "midterm_date", "on": None,
                             "fell_back_to": "state entry"}}


def test_a_rule_counts_from_its_date_field(grants: App) -> None:
    key = open_case(grants, me(grants), "research_grant", title="g",
                    fields={"midterm_date": "2026-03-16"})["key"]
    assert open_tasks(grants, key)["running.deadline"].due_on == date(2026, 3, 23)
    assert event(grants, key, "opened")["counted_from"] == {
        "running.deadline": {"field": "midterm_date", "on": "2026-03-16"}}


def test_changing_the_date_field_replans_the_open_task_and_its_notices(
    grants: App, clock: Clock
) -> None:
    key = open_case(grants, me(grants), "research_grant", title="g")["key"]
    clock.set("2026-03-10T10:00:00+08:00")  # the deadline's reminder (due 11th) is out
    sweep(grants)
    before = open_tasks(grants, key)["running.deadline"]
    assert before.stage_done == 1
    set_fields(grants, me(grants), key, {"midterm_date": "2026-03-16"})
    after = open_tasks(grants, key)["running.deadline"]
    assert (after.id, after.due_on, after.stage_done) == (before.id, date(2026, 3, 23), 0)
    assert event(grants, key, "fields_set")["replanned"] == {
        "running.deadline": {"field": "midterm_date", "from": "2026-03-11",
                             "to": "2026-03-23"}}
    with grants.db.transaction() as s:
        statuses = s.scalars(select(NOTICES.c.status).where(NOTICES.c.task_id == before.id))
        assert list(statuses) == ["cancelled"]
    # Emptied again: back to counting from the entry (Wed 4 March).
    set_fields(grants, me(grants), key, {"midterm_date": ""})
    assert open_tasks(grants, key)["running.deadline"].due_on == date(2026, 3, 11)


def test_a_follow_up_goes_to_its_person_field_and_moves_when_it_changes(grants: App) -> None:
    key = open_case(grants, me(grants), "research_grant", title="g",
                    fields={"investigator": "zhao.min"})["key"]
    tasks = open_tasks(grants, key)
    assert (tasks["running.contact"].who, tasks["running.deadline"].who) == (
        "zhao.min", "wang.li")
    set_fields(grants, me(grants), key, {"investigator": "sun.hao"})
    assert open_tasks(grants, key)["running.contact"].who == "sun.hao"
    assert event(grants, key, "fields_set")["moved"] == {"running.contact": "sun.hao"}
    set_fields(grants, me(grants), key, {"investigator": ""})  # empty: the owner's
    assert open_tasks(grants, key)["running.contact"].who == "wang.li"
    # Entering the state again follows the field too.
    set_fields(grants, me(grants), key, {"investigator": "zhao.min"})
    advance(grants, me(grants), key, "hold")
    advance(grants, me(grants), key, "resume")
    assert open_tasks(grants, key)["running.contact"].who == "zhao.min"


def test_talent_docking_on_board_follows_the_talent_officer_and_the_start_date(
    app: App, staff: dict[str, Actor]
) -> None:
    wang = staff["wang.li"]
    key = open_case(app, wang, "talent_docking", title="Dr Lin",
                    fields={"enterprise": "Qingneng", "position": "R&D lead",
                            "expertise": "batteries", "talent_officer": "zhao.min"})["key"]
    advance(app, wang, key, "match")
    advance(app, wang, key, "schedule_meeting", fields={"candidate": "Dr Lin"})
    advance(app, wang, key, "make_offer", fields={"talent_programme": "city"})
    advance(app, wang, key, "arrive", fields={"start_date": "2026-03-02"})  # Mon, 2 days ago
    tasks = open_tasks(app, key)
    assert {rule: t.who for rule, t in tasks.items()} == {
        "on_board.contact": "zhao.min", "on_board.visit": "zhao.min",
        "on_board.deadline": "wang.li"}
    # 60 working days from Mon 2 March rather than from the entry on Wed 4 March.
    assert tasks["on_board.deadline"].due_on == app.calendar.add_workdays(date(2026, 3, 2), 60)
    assert event(app, key, "advanced")["counted_from"] == {
        "on_board.deadline": {"field": "start_date", "on": "2026-03-02"}}


def test_a_resumed_deadline_keeps_its_budget_when_the_date_field_changes(
    grants: App, clock: Clock
) -> None:
    key = open_case(grants, me(grants), "research_grant", title="g")["key"]  # due 11 March
    clock.set("2026-03-09T10:00:00+08:00")
    advance(grants, me(grants), key, "hold")  # 10 and 11 March left
    clock.set("2026-03-10T10:00:00+08:00")
    advance(grants, me(grants), key, "resume")
    assert open_tasks(grants, key)["running.deadline"].due_on == date(2026, 3, 12)
    set_fields(grants, me(grants), key, {"midterm_date": "2026-03-16"})
    assert open_tasks(grants, key)["running.deadline"].due_on == date(2026, 3, 12)
    assert "replanned" not in event(grants, key, "fields_set")
