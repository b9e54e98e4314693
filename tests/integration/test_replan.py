"""Re-planning open tasks when the calendar data changes, on a real database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

import pytest
from msgspec.structs import replace
from sqlalchemy import select, update

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, Clock
from torchflow.service.app import App, build_app
from torchflow.service.audit.verify import verify
from torchflow.service.cases.change import advance, open_case
from torchflow.service.delivery.sweep import sweep
from torchflow.service.followups import replan as service
from torchflow.service.followups.work import log_followup
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, EVENTS, NOTICES, TASKS


def tasks_of(app: App, key: str) -> dict[str, object]:
    with app.db.transaction() as s:
        rows = s.execute(select(TASKS).join(CASES).where(CASES.c.key == key)
                         .order_by(TASKS.c.id)).all()
    return {f"{r.rule}#{r.occurrence}": r for r in rows}


@pytest.fixture
def closed_18th(app: App, clock: Clock) -> Iterator[App]:
    """The same database seen by a calendar with Wednesday 18 March 2026 blacked out."""
    cal = replace(app.settings.calendar, blackout=(date(2026, 3, 18),))
    other = build_app(replace(app.settings, calendar=cal), clock=clock)
    yield other
    other.close()


def test_tasks_are_planned_with_a_digest_and_nothing_is_stale(
    app: App, staff: dict[str, Actor]
) -> None:
    key = str(open_case(app, staff["wang.li"], "project_introduction", title="a",
                        fields=PI_FIELDS)["key"])
    task = tasks_of(app, key)["lead.deadline#1"]
    assert task.planned_from == date(2026, 3, 4)  # type: ignore[attr-defined]
    assert len(task.calendar_digest) == 16  # type: ignore[attr-defined]
    assert service.stale_count(app) == 0
    assert service.plan(app) == []


def test_a_new_blackout_day_makes_tasks_stale_and_replan_moves_them(
    app: App, staff: dict[str, Actor], clock: Clock, closed_18th: App
) -> None:
    key = str(open_case(app, staff["wang.li"], "project_introduction", title="a",
                        fields=PI_FIELDS)["key"])
    other = str(open_case(app, staff["wang.li"], "project_introduction", title="b",
                          fields=PI_FIELDS)["key"])
    advance(app, staff["wang.li"], other, "make_contact")  # contact 11 March, deadline 16 April
    clock.set("2026-03-16T10:00:00+08:00")
    sweep(app)  # the deadline's reminder for the 18th is pending now
    assert tasks_of(app, key)["lead.deadline#1"].due_on == date(2026, 3, 18)  # type: ignore[attr-defined]

    assert service.stale_count(closed_18th) == 3  # every open task spans 2026
    dry = service.view(closed_18th.calendar, service.plan(closed_18th))
    assert dry[0] == {"key": key, "tasks": [{
        "task": tasks_of(app, key)["lead.deadline#1"].id,  # type: ignore[attr-defined]
        "rule": "lead.deadline", "kind": "deadline",
        "from": {"due_on": "2026-03-18", "reminder": None},  # the reminder went out
        "to": {"due_on": "2026-03-19", "reminder": "2026-03-16"},
    }]}
    # The other case's 30-workday deadline spans the 18th too; its contact of the
    # 11th has passed and keeps its day.
    assert [(c["key"], [t["rule"] for t in c["tasks"]]) for c in dry[1:]] == [
        (other, ["first_contact.deadline"])]
    assert dry[1]["tasks"][0]["from"]["due_on"] == "2026-04-16"
    assert dry[1]["tasks"][0]["to"]["due_on"] == "2026-04-17"
    assert tasks_of(app, key)["lead.deadline#1"].due_on == date(2026, 3, 18)  # type: ignore[attr-defined]

    result = service.apply(closed_18th, OFFICE_ADMIN)
    assert (result["cases"], result["moved"], result["renewed"]) == (2, 2, 1)
    task = tasks_of(app, key)["lead.deadline#1"]
    assert task.due_on == date(2026, 3, 19) and task.stage_done == 0  # type: ignore[attr-defined]
    with app.db.transaction() as s:
        pending = s.execute(select(NOTICES.c.status).where(NOTICES.c.task_id == task.id)).all()  # type: ignore[attr-defined]
        kinds = s.scalars(select(EVENTS.c.kind).join(CASES).where(CASES.c.key == key)).all()
    assert {p.status for p in pending} == {"cancelled"}
    assert kinds[-1] == "tasks_replanned"
    assert service.stale_count(closed_18th) == 0
    assert all(r["ok"] for r in verify(app, None))
    # Planned with the blackout now, the tasks are stale for the old calendar.
    assert service.stale_count(app) == 3


def test_logged_contacts_are_never_moved(
    app: App, staff: dict[str, Actor], clock: Clock, closed_18th: App
) -> None:
    key = str(open_case(app, staff["wang.li"], "project_introduction", title="a",
                        fields=PI_FIELDS)["key"])
    advance(app, staff["wang.li"], key, "make_contact")
    clock.set("2026-03-11T10:00:00+08:00")
    log_followup(app, staff["wang.li"], key, "contact", note="called")
    done = tasks_of(app, key)["first_contact.contact#1"]
    service.apply(closed_18th, OFFICE_ADMIN)
    after = tasks_of(app, key)
    assert after["first_contact.contact#1"].due_on == done.due_on  # type: ignore[attr-defined]
    # The next contact counts 5 working days from the 11th without the 18th.
    assert after["first_contact.contact#2"].due_on == date(2026, 3, 19)  # type: ignore[attr-defined]


def test_tasks_planned_before_the_migration_are_stale_until_replanned(
    app: App, staff: dict[str, Actor]
) -> None:
    open_case(app, staff["wang.li"], "project_introduction", title="a", fields=PI_FIELDS)
    with app.db.transaction() as s:
        s.execute(update(TASKS).values(planned_from=None, calendar_digest=None))
    assert service.stale_count(app) == 1
    result = service.apply(app, OFFICE_ADMIN)
    assert (result["moved"], result["renewed"]) == (0, 1)  # same calendar: same dates
    assert service.stale_count(app) == 0


def test_the_scheduler_warns_once_per_tick_when_tasks_are_stale(
    app: App, staff: dict[str, Actor], closed_18th: App, caplog: pytest.LogCaptureFixture
) -> None:
    from torchflow.scheduler import Service

    open_case(app, staff["wang.li"], "project_introduction", title="a", fields=PI_FIELDS)
    with caplog.at_level(logging.WARNING, logger="torchflow.calendar"):
        Service(closed_18th)._tick()
        assert service.warn_if_stale(app) == 0
    assert [r.getMessage() for r in caplog.records if r.name == "torchflow.calendar"] == [
        "1 open task(s) were planned with other calendar data; "
        "run `torchflow replan --dry-run`, then `torchflow replan`"
    ]


def test_a_visit_is_redrawn_with_the_same_seed(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = str(open_case(app, staff["wang.li"], "project_introduction", title="a",
                        fields=PI_FIELDS)["key"])
    advance(app, staff["wang.li"], key, "make_contact")
    advance(app, staff["wang.li"], key, "negotiate", fields={"contact_person": "Ms. Li"})
    visit = tasks_of(app, key)["negotiation.visit#1"]
    cal = replace(app.settings.calendar, blackout=(visit.due_on,))  # type: ignore[attr-defined]
    closed = build_app(replace(app.settings, calendar=cal), clock=clock)
    try:
        moved = [t for c in service.view(closed.calendar, service.plan(closed))
                 for t in c["tasks"] if t["rule"] == "negotiation.visit"]
        assert len(moved) == 1
        item = moved[0]
        assert item["seed"] == visit.seed  # type: ignore[attr-defined]
        assert item["to"]["window"] == [visit.window_start.isoformat(),  # type: ignore[attr-defined]
                                        visit.window_end.isoformat()]  # type: ignore[attr-defined]
        assert item["to"]["due_on"] != visit.due_on.isoformat()  # type: ignore[attr-defined]
        service.apply(closed, OFFICE_ADMIN)
        after = tasks_of(app, key)["negotiation.visit#1"]
        assert after.seed == visit.seed and after.due_on.isoformat() == item["to"]["due_on"]  # type: ignore[attr-defined]
    finally:
        closed.close()
