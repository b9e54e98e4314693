"""A missed contact rolls on: when a contact's next slot falls due while it is
still open, it is recorded missed and the current slot is planned, with no notice
storm after downtime; missed contacts in a row escalate; every contact ends on
time, late (by n working days) or missed, in the task row and the history.

Dates are written out by hand from the official 2026 calendar (Qingming 4-6 April)."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, func, select, update

from tests.conftest import PI_FIELDS, Clock, is_postgres
from torchflow.service.app import App, build_app
from torchflow.service.cases.change import advance, open_case
from torchflow.service.cases.read import history
from torchflow.service.delivery.sweep import sweep
from torchflow.service.followups.work import log_followup
from torchflow.service.people.lookup import Actor
from torchflow.store.migrate import alembic_config, upgrade
from torchflow.store.models import CASES, NOTICES, TASKS

RULE = "first_contact.contact"  # every 5 workdays, remind 1; the first due Wed 11 March


def contacted(app: App, actor: Actor) -> str:
    key = str(open_case(app, actor, "project_introduction", title="Hydrogen fuel cells",
                        fields=PI_FIELDS)["key"])
    advance(app, actor, key, "make_contact")
    return key


def rows(app: App, key: str, rule: str = RULE) -> list[Any]:
    with app.db.transaction() as s:
        return list(s.execute(
            select(TASKS).join(CASES, CASES.c.id == TASKS.c.case_id)
            .where(CASES.c.key == key, TASKS.c.rule == rule).order_by(TASKS.c.occurrence)))


def notices(app: App, kind: str | None = None) -> list[tuple[int, str, str]]:
    """(task_id, kind, recipient) of the ledger's task notices."""
    query = select(NOTICES.c.task_id, NOTICES.c.kind, NOTICES.c.recipient).where(
        NOTICES.c.task_id.is_not(None))
    if kind:
        query = query.where(NOTICES.c.kind == kind)
    with app.db.transaction() as s:
        return [tuple(r) for r in s.execute(query.order_by(NOTICES.c.id))]


def events(app: App, key: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in history(app, key)["events"] if e["kind"] == kind]


def test_an_open_contact_is_missed_when_its_next_slot_falls_due(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = contacted(app, staff["wang.li"])
    clock.set("2026-03-18T08:59:00+08:00")
    sweep(app)
    [first] = rows(app, key)
    assert (first.status, first.due_on) == ("open", date(2026, 3, 11))

    clock.set("2026-03-18T09:00:00+08:00")  # the slot of Wed 18 March falls due
    result = sweep(app)
    first, second = rows(app, key)
    assert (first.status, first.outcome_kind, first.late_by) == ("missed", "missed", None)
    assert (second.status, second.occurrence, second.due_on) == ("open", 2, date(2026, 3, 18))
    assert result.missed == 1
    # The new slot is told once, as due today; the missed one says nothing more.
    assert [(t, k) for t, k, _ in notices(app) if t == second.id] == [(second.id, "due")]
    [event] = events(app, key, "contact_missed")
    assert event["actor"] == "system"
    assert event["data"] == {
        "task": first.id, "rule": RULE, "missed": [{"occurrence": 1, "due_on": "2026-03-11"}],
        "next": {"occurrence": 2, "due_on": "2026-03-18"}, "missed_in_row": 1}

    before = len(notices(app))
    sweep(app)
    assert len(notices(app)) == before and len(rows(app, key)) == 2


def test_after_downtime_one_roll_records_each_skipped_slot_missed_and_tells_once(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = contacted(app, staff["wang.li"])
    clock.set("2026-04-20T10:00:00+08:00")  # the service was off for six weeks
    sweep(app)
    sweep(app)
    tasks = rows(app, key)
    assert [(t.occurrence, t.due_on, t.status) for t in tasks] == [
        (1, date(2026, 3, 11), "missed"), (2, date(2026, 3, 18), "missed"),
        (3, date(2026, 3, 25), "missed"), (4, date(2026, 4, 1), "missed"),
        (5, date(2026, 4, 9), "missed"), (6, date(2026, 4, 16), "open")]
    # Compliance counts missed contacts with a plain COUNT, each with its own date.
    with app.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(TASKS)
                        .where(TASKS.c.outcome_kind == "missed")) == 5
    contact_notices = [n for n in notices(app) if n[0] in {t.id for t in tasks}]
    assert contact_notices == [(tasks[-1].id, "overdue", "wang.li")]
    [event] = events(app, key, "contact_missed")
    assert [m["occurrence"] for m in event["data"]["missed"]] == [1, 2, 3, 4, 5]
    assert event["data"]["missed_in_row"] == 5


def test_a_contact_logged_records_on_time_or_late_in_the_task_and_the_history(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    key = contacted(app, wang)
    clock.set("2026-03-10T15:00:00+08:00")
    log_followup(app, wang, key, "contact", note="called the CFO")
    clock.set("2026-03-19T15:00:00+08:00")  # the next was due Tue 17 March
    log_followup(app, wang, key, "contact")
    first, second, _ = rows(app, key)
    assert (first.outcome_kind, first.late_by) == ("on_time", 0)
    assert (second.due_on, second.outcome_kind, second.late_by) == (
        date(2026, 3, 17), "late", 2)
    logged = events(app, key, "contact")
    assert [(e["data"]["outcome"], e["data"]["late_by"]) for e in logged] == [
        ("on_time", 0), ("late", 2)]


def test_a_logged_contact_ends_a_run_of_missed_ones(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    key = contacted(app, wang)
    clock.set("2026-03-25T10:00:00+08:00")
    sweep(app)
    assert events(app, key, "contact_missed")[-1]["data"]["missed_in_row"] == 2
    log_followup(app, wang, key, "contact")  # due 25 March: on time; next Wed 1 April
    clock.set("2026-04-09T10:00:00+08:00")
    sweep(app)
    assert events(app, key, "contact_missed")[-1]["data"]["missed_in_row"] == 1


# --------------------------------------------------------------------------- escalation


def on_board(app: App, actor: Actor) -> str:
    """A talent on board since Wed 4 March: contact every 10 workdays, first due
    Wed 18 March; three missed in a row reach the director."""
    key = str(open_case(app, actor, "talent_docking", title="Dr Lin, battery chemist",
                        fields={"enterprise": "Qingneng", "position": "R&D lead",
                                "expertise": "solid-state electrolytes"})["key"])
    advance(app, actor, key, "match")
    advance(app, actor, key, "schedule_meeting", fields={"candidate": "Dr Lin"})
    advance(app, actor, key, "make_offer", fields={"talent_programme": "city"})
    advance(app, actor, key, "arrive", fields={"start_date": "2026-03-04"})
    return key


def test_three_missed_contacts_in_a_row_escalate_to_the_director_once(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = on_board(app, staff["wang.li"])
    for at in ("2026-04-01T09:30:00+08:00", "2026-04-16T09:30:00+08:00"):
        clock.set(at)  # the slots of 1 and 16 April: one and two missed
        sweep(app)
        assert notices(app, "escalation") == []
    clock.set("2026-04-30T09:30:00+08:00")  # 30 April: the third missed in a row
    sweep(app)
    sweep(app)
    missed = [t for t in rows(app, key, "on_board.contact") if t.status == "missed"]
    assert [t.due_on for t in missed] == [date(2026, 3, 18), date(2026, 4, 1),
                                          date(2026, 4, 16)]
    assert notices(app, "escalation") == [(missed[-1].id, "escalation", "chen.jie")]
    event = events(app, key, "contact_missed")[-1]["data"]
    assert (event["missed_in_row"], event["escalated_to"]) == (3, "director")


def test_downtime_over_the_threshold_escalates_once_not_per_slot(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = on_board(app, staff["wang.li"])
    clock.set("2026-05-20T10:00:00+08:00")  # four slots missed while the service was off
    sweep(app)
    assert len(notices(app, "escalation")) == 1
    assert events(app, key, "contact_missed")[-1]["data"]["missed_in_row"] == 4


# --------------------------------------------------------------------------- two services


def test_two_sweeps_at_once_roll_a_missed_contact_once(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    keys = [contacted(app, staff["wang.li"]) for _ in range(5)]
    clock.set("2026-04-20T10:00:00+08:00")
    other = build_app(app.settings, clock=clock)
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(service: App) -> None:
        try:
            start.wait()
            sweep(service)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(a,)) for a in (app, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sweep(app)  # whatever one of them put off (its case was busy) rolls now
    other.close()
    assert failures == []
    for key in keys:
        tasks = rows(app, key)
        assert [t.status for t in tasks] == ["missed"] * 5 + ["open"]
        assert len(events(app, key, "contact_missed")) == 1
        assert [k for t, k, _ in notices(app) if t == tasks[-1].id] == ["overdue"]


@pytest.mark.skipif(not is_postgres(), reason="row locks held by another session: PostgreSQL")
def test_a_roll_whose_case_is_being_changed_waits_for_the_next_sweep(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    """The sweep never waits for a case another transaction holds (that one may be
    waiting for the sweep's task locks): it puts the roll off, and nothing is lost."""
    key = contacted(app, staff["wang.li"])
    clock.set("2026-03-18T10:00:00+08:00")
    engine = create_engine(app.settings.database_url)
    try:
        with engine.begin() as other:
            other.execute(select(CASES.c.id).where(CASES.c.key == key).with_for_update())
            assert sweep(app).missed == 0
            assert [t.status for t in rows(app, key)] == ["open"]
    finally:
        engine.dispose()
    assert sweep(app).missed == 1
    assert [t.status for t in rows(app, key)] == ["missed", "open"]


def test_contacts_left_open_by_the_older_release_roll_after_the_upgrade(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    """The older release took an open contact off the sweep once its overdue notice
    was out; the upgrade puts it back, so its missed slots are recorded."""
    key = contacted(app, staff["wang.li"])
    [task] = rows(app, key)
    with app.db.transaction() as s:  # as the older release left it after the 11th
        s.execute(update(TASKS).where(TASKS.c.id == task.id)
                  .values(stage_done=3, next_notice_at=None))
    with app.db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    upgrade(app.db)
    clock.set("2026-03-25T10:00:00+08:00")
    sweep(app)
    assert [(t.occurrence, t.status) for t in rows(app, key)] == [
        (1, "missed"), (2, "missed"), (3, "open")]
