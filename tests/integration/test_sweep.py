"""The sweep: due tasks -> the notice ledger as the clock moves, each stage once;
escalations to every active holder of the role; downtime caught up with one
overdue notice, not one per missed day; digests once per working day, never replayed."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import PI_FIELDS, Clock
from torchflow.service.app import App
from torchflow.service.cases.change import advance, open_case
from torchflow.service.delivery.dispatch import Channels, dispatch
from torchflow.service.delivery.sweep import sweep
from torchflow.service.followups.work import complete
from torchflow.service.people.lookup import Actor
from torchflow.service.people.staff import add_person
from torchflow.store.models import CASES, NOTICES, PEOPLE, TASKS


def open_pi(app: App, actor: Actor, title: str = "Hydrogen fuel cells",
            contacted: bool = False) -> str:
    """A lead (deadline due Wed 18 March) or, contacted, a first contact whose
    contact is due Wed 11 March (opened Wed 4 March)."""
    key = str(open_case(app, actor, "project_introduction", title=title,
                        fields=PI_FIELDS)["key"])
    if contacted:
        advance(app, actor, key, "make_contact")
    return key


def open_task(app: App, key: str, rule: str) -> Any:
    with app.db.transaction() as s:
        return s.execute(
            select(TASKS).join(CASES, CASES.c.id == TASKS.c.case_id)
            .where(CASES.c.key == key, TASKS.c.rule == rule, TASKS.c.status == "open")
        ).one()


def task_notices(app: App, task_id: int) -> list[tuple[str, str, str]]:
    """(kind, recipient, status) of one task's notices, in the order made."""
    with app.db.transaction() as s:
        return [tuple(r) for r in s.execute(
            select(NOTICES.c.kind, NOTICES.c.recipient, NOTICES.c.status)
            .where(NOTICES.c.task_id == task_id).order_by(NOTICES.c.id))]


def digests(app: App) -> list[tuple[str, str]]:
    """(day, recipient) of every digest in the ledger."""
    with app.db.transaction() as s:
        rows = s.execute(select(NOTICES.c.payload, NOTICES.c.recipient)
                         .where(NOTICES.c.kind == "digest").order_by(NOTICES.c.id))
        return [(p["day"], who) for p, who in rows]


def ledger_size(app: App) -> int:
    with app.db.transaction() as s:
        return len(s.scalars(select(NOTICES.c.id)).all())


# --------------------------------------------------------------------------- stages


def test_stages_come_as_the_clock_advances_each_exactly_once(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = open_pi(app, staff["wang.li"], contacted=True)
    task = open_task(app, key, "first_contact.contact")
    assert task.due_on == date(2026, 3, 11)  # remind 1 working day: upcoming on the 10th

    steps = [
        ("2026-03-10T08:59:00+08:00", []),
        ("2026-03-10T09:00:00+08:00", ["upcoming"]),
        ("2026-03-10T17:00:00+08:00", ["upcoming"]),
        ("2026-03-11T09:00:00+08:00", ["upcoming", "due"]),
        ("2026-03-11T17:59:00+08:00", ["upcoming", "due"]),
        ("2026-03-11T18:00:00+08:00", ["upcoming", "due", "overdue"]),
        ("2026-03-13T10:00:00+08:00", ["upcoming", "due", "overdue"]),
    ]
    for at, expected in steps:
        clock.set(at)
        sweep(app)
        sweep(app)  # the same moment again: nothing new
        assert [k for k, _, _ in task_notices(app, task.id)] == expected, at
    assert {who for _, who, _ in task_notices(app, task.id)} == {"wang.li"}
    done = open_task(app, key, "first_contact.contact")
    assert done.stage_done == 3
    # Nothing left to say until its next slot falls due (Wed 18 March, 09:00), when
    # an open contact is missed and rolls on.
    assert done.next_notice_at == clock.set("2026-03-18T09:00:00+08:00")


def test_a_sweep_reports_what_it_made(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    for i in range(3):
        open_pi(app, staff["wang.li"], title=f"lead {i}")
    clock.set("2026-03-16T10:00:00+08:00")
    first = sweep(app)
    assert (first.tasks, first.notices, first.digests) == (3, 3, 0)
    again = sweep(app)
    assert (again.tasks, again.notices, again.digests) == (0, 0, 0)


def test_sweeping_in_small_batches_still_covers_every_task(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    from msgspec.structs import replace

    from tests.conftest import with_settings

    for i in range(7):
        open_pi(app, staff["wang.li"], title=f"lead {i}")
    small = with_settings(app, scheduler=replace(app.settings.scheduler, batch_size=2))
    clock.set("2026-03-16T10:00:00+08:00")
    assert sweep(small).notices == 7
    assert sweep(small).notices == 0


def test_a_deadline_escalates_to_every_active_holder_of_the_role(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    add_person(app, "qian.wei", name="Qian Wei", roles=["director", "expert"])
    add_person(app, "zhou.lan", name="Zhou Lan", roles=["director"])
    with app.db.transaction() as s:  # zhou.lan has left
        s.execute(update(PEOPLE).where(PEOPLE.c.handle == "zhou.lan")
                  .values(active=False))
    key = open_pi(app, staff["wang.li"])
    task = open_task(app, key, "lead.deadline")

    clock.set("2026-03-16T10:00:00+08:00")
    sweep(app)
    clock.set("2026-03-18T17:59:00+08:00")
    sweep(app)
    assert Counter(k for k, _, _ in task_notices(app, task.id)) == {"upcoming": 1, "due": 1}

    clock.set("2026-03-18T18:00:00+08:00")
    sweep(app)
    sweep(app)
    made = task_notices(app, task.id)
    assert sorted((k, who) for k, who, _ in made if k in ("overdue", "escalation")) == [
        ("escalation", "chen.jie"), ("escalation", "qian.wei"), ("overdue", "wang.li")]


def test_a_contact_never_escalates(app: App, staff: dict[str, Actor], clock: Clock) -> None:
    key = open_pi(app, staff["wang.li"], contacted=True)
    task = open_task(app, key, "first_contact.contact")
    clock.set("2026-03-12T10:00:00+08:00")
    sweep(app)
    # The day's first sweep makes the digest too, which takes the overdue notice in.
    assert task_notices(app, task.id) == [("overdue", "wang.li", "folded")]


# --------------------------------------------------------------------------- downtime


def test_ten_days_of_downtime_give_one_overdue_notice_per_task(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    leads = [open_pi(app, staff["wang.li"], title=f"lead {i}") for i in range(3)]
    contacted = [open_pi(app, staff["zhao.min"], title=f"met {i}", contacted=True)
                 for i in range(2)]
    deadlines = [open_task(app, k, "lead.deadline") for k in leads]
    contacts = [open_task(app, k, "first_contact.contact") for k in contacted]

    clock.set("2026-03-28T10:00:00+08:00")  # ten days past the 18th; the service was off
    sweep(app)
    assert ledger_size(app) == 0  # a Saturday: the catch-up waits for working time
    clock.set("2026-03-30T09:00:00+08:00")  # Monday
    sweep(app)
    sweep(app)
    for task in deadlines:
        assert sorted((k, who) for k, who, _ in task_notices(app, task.id)) == [
            ("escalation", "chen.jie"), ("overdue", "wang.li")]
    for key, task in zip(contacted, contacts, strict=True):
        # The contacts due 11 March missed their slots of the 11th and the 18th and
        # rolled on to the 25th's, which alone is told: one overdue notice.
        assert task_notices(app, task.id) == []
        now = open_task(app, key, "first_contact.contact")
        assert (now.occurrence, now.due_on) == (3, date(2026, 3, 25))
        # Taken into the day's digest, made by the same sweep: not told twice.
        assert task_notices(app, now.id) == [("overdue", "zhao.min", "folded")]
    # The first-contact deadlines (16 April) are not due yet, so nothing for them.
    size, monday = ledger_size(app), len(digests(app))
    # chen.jie's three escalations of the day are one message listing the cases.
    assert size - monday == 2 * len(deadlines) + len(contacts) + 1
    with app.db.read() as s:
        summary = s.execute(select(NOTICES).where(NOTICES.c.kind == "escalation",
                                                  NOTICES.c.task_id.is_(None))).one()
        folded = s.execute(select(NOTICES.c.status, NOTICES.c.folded_into).where(
            NOTICES.c.kind == "escalation", NOTICES.c.task_id.is_not(None))).all()
    assert (summary.recipient, summary.status, summary.payload["summary"]) == (
        "chen.jie", "pending", 3)
    assert all(k in summary.body for k in leads)
    assert folded == [("folded", summary.idempotency_key)] * 3

    clock.set("2026-04-01T10:00:00+08:00")  # days pass; the overdue is not repeated
    sweep(app)
    # New: the day's digests, and each contact's slot of 1 April, due today.
    assert ledger_size(app) - size == len(digests(app)) - monday + len(contacts)


# --------------------------------------------------------------------------- digests


@pytest.fixture
def two_desks(app: App, staff: dict[str, Actor]) -> dict[str, str]:
    """Contacts due Wed 11 March for wang.li (two cases) and zhao.min (one)."""
    return {
        "wang.1": open_pi(app, staff["wang.li"], title="w1", contacted=True),
        "wang.2": open_pi(app, staff["wang.li"], title="w2", contacted=True),
        "zhao.1": open_pi(app, staff["zhao.min"], title="z1", contacted=True),
    }


def test_a_digest_once_per_person_per_working_day_after_digest_time(
    app: App, two_desks: dict[str, str], clock: Clock
) -> None:
    assert app.settings.scheduler.digest_time.isoformat() == "08:30:00"
    clock.set("2026-03-11T08:29:00+08:00")
    assert sweep(app).digests == 0
    clock.set("2026-03-11T08:30:00+08:00")
    assert sweep(app).digests == 2
    clock.set("2026-03-11T16:00:00+08:00")
    assert sweep(app).digests == 0
    # chen.jie (nothing due) gets none; each of the others exactly one.
    assert digests(app) == [("2026-03-11", "wang.li"), ("2026-03-11", "zhao.min")]

    with app.db.transaction() as s:
        payload = s.scalar(select(NOTICES.c.payload).where(
            NOTICES.c.kind == "digest", NOTICES.c.recipient == "wang.li"))
        body = s.scalar(select(NOTICES.c.body).where(
            NOTICES.c.kind == "digest", NOTICES.c.recipient == "wang.li"))
    assert payload == {"day": "2026-03-11", "overdue": [], "tasks": [2, 5],
                       "due_today": [two_desks["wang.1"], two_desks["wang.2"]]}
    assert two_desks["zhao.1"] not in body

    clock.set("2026-03-12T09:00:00+08:00")  # the next day, the contacts are overdue
    assert sweep(app).digests == 2
    with app.db.transaction() as s:
        payload = s.scalar(select(NOTICES.c.payload).where(
            NOTICES.c.kind == "digest", NOTICES.c.recipient == "zhao.min",
            NOTICES.c.status == "pending").order_by(NOTICES.c.id.desc()).limit(1))
    assert payload == {"day": "2026-03-12", "due_today": [], "overdue": [two_desks["zhao.1"]],
                       "tasks": [8]}


@pytest.mark.parametrize("at", [
    "2026-03-14T10:00:00+08:00",  # a Saturday
    "2026-04-06T10:00:00+08:00",  # Qingming (a Monday)
    "2026-05-04T10:00:00+08:00",  # Labour Day break (a Monday)
])
def test_no_digest_on_a_weekend_or_holiday(
    app: App, two_desks: dict[str, str], clock: Clock, at: str
) -> None:
    clock.set(at)
    assert sweep(app).digests == 0
    assert digests(app) == []
    with app.db.transaction() as s:
        kinds = set(s.scalars(select(NOTICES.c.kind)))
    assert kinds <= {"overdue", "escalation"}  # the tasks' own notices still come


def test_a_worked_weekend_day_has_its_digest(
    app: App, two_desks: dict[str, str], clock: Clock
) -> None:
    clock.set("2026-05-09T10:00:00+08:00")  # Saturday, worked in exchange for Labour Day
    assert sweep(app).digests == 2
    assert {day for day, _ in digests(app)} == {"2026-05-09"}


def test_after_days_off_only_todays_digest(
    app: App, two_desks: dict[str, str], clock: Clock
) -> None:
    clock.set("2026-03-12T09:00:00+08:00")  # Thursday
    sweep(app)
    clock.set("2026-03-17T09:00:00+08:00")  # Tuesday: Fri 13 and Mon 16 were missed
    sweep(app)
    sweep(app)
    assert Counter(digests(app)) == {
        ("2026-03-12", "wang.li"): 1, ("2026-03-12", "zhao.min"): 1,
        ("2026-03-17", "wang.li"): 1, ("2026-03-17", "zhao.min"): 1,
    }


def test_a_digest_lists_only_open_tasks_of_active_people(
    app: App, staff: dict[str, Actor], two_desks: dict[str, str], clock: Clock
) -> None:
    done = open_task(app, two_desks["wang.2"], "first_contact.contact")
    clock.set("2026-03-11T08:00:00+08:00")
    complete(app, staff["wang.li"], done.id, note="called")
    with app.db.transaction() as s:
        s.execute(update(PEOPLE).where(PEOPLE.c.handle == "zhao.min")
                  .values(active=False))
    clock.set("2026-03-11T09:00:00+08:00")
    sweep(app)
    with app.db.transaction() as s:
        rows = s.execute(select(NOTICES.c.recipient, NOTICES.c.payload)
                         .where(NOTICES.c.kind == "digest")).all()
    assert [(who, p["due_today"]) for who, p in rows] == [("wang.li", [two_desks["wang.1"]])]


# --------------------------------------------------------------------------- completing


def test_completing_a_task_cancels_its_pending_notices(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    key = open_pi(app, wang, contacted=True)
    other = open_pi(app, wang, title="untouched", contacted=True)
    task = open_task(app, key, "first_contact.contact")
    theirs = open_task(app, other, "first_contact.contact")
    clock.set("2026-03-10T10:00:00+08:00")
    sweep(app)
    assert task_notices(app, task.id) == [("upcoming", "wang.li", "pending")]

    out = complete(app, wang, task.id, note="met at the fair")

    assert task_notices(app, task.id) == [("upcoming", "wang.li", "cancelled")]
    assert task_notices(app, theirs.id) == [("upcoming", "wang.li", "pending")]
    assert out["next"] == {"occurrence": 2, "due_on": "2026-03-17"}  # 5 working days on
    nxt = open_task(app, key, "first_contact.contact")
    assert (nxt.occurrence, nxt.due_on, nxt.stage_done) == (2, date(2026, 3, 17), 0)
    # Dispatch sends only the other case's notice; the done task stays quiet later on.
    assert dispatch(app, Channels(app.settings), "test").sent == 1
    clock.set("2026-03-12T10:00:00+08:00")
    sweep(app)
    assert task_notices(app, task.id) == [("upcoming", "wang.li", "cancelled")]


def test_completing_a_deadline_plans_nothing_more(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = open_pi(app, staff["wang.li"])
    task = open_task(app, key, "lead.deadline")
    out = complete(app, staff["chen.jie"], task.id)  # the director's
    assert out["next"] is None
    with app.db.transaction() as s:
        statuses = s.scalars(select(TASKS.c.status).where(TASKS.c.case_id == task.case_id)).all()
    assert statuses == ["done"]
    clock.set("2026-03-30T10:00:00+08:00")
    sweep(app)
    assert task_notices(app, task.id) == []


def test_a_notice_already_in_the_ledger_is_not_made_twice(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    """Two services sweeping the same task: the unique key makes the second a no-op."""
    key = open_pi(app, staff["wang.li"])
    task = open_task(app, key, "lead.deadline")
    clock.set("2026-03-16T10:00:00+08:00")
    sweep(app)
    with app.db.transaction() as s:  # as if the other service had not seen the first
        s.execute(update(TASKS).where(TASKS.c.id == task.id)
                  .values(stage_done=0, next_notice_at=task.next_notice_at))
    assert sweep(app).notices == 0
    assert task_notices(app, task.id) == [("upcoming", "wang.li", "pending")]
