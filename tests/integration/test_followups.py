"""Follow-up tasks in the database: planned on entering a state, rolled on when
logged, cancelled on leaving, snoozed one at a time, handed over with their owner.

Expected dates are written out by hand from the official 2026 calendar (Qingming
on Mon 6 April; Labour Day 1-5 May with Saturday 9 May worked), not recomputed
with the code under test.
"""

from __future__ import annotations

import random
from datetime import date, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, Clock
from torchflow.domain.planning import visit_seed
from torchflow.errors import InvalidInput, Refused
from torchflow.service.app import App
from torchflow.service.cases.change import advance, assign, open_case
from torchflow.service.cases.read import history
from torchflow.service.delivery.dispatch import Channels, dispatch
from torchflow.service.delivery.sweep import sweep
from torchflow.service.followups.work import log_followup, snooze
from torchflow.service.people.handover import Handover, handover
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, NOTICES, PEOPLE, TASKS


def open_pi(app: App, actor: Actor, title: str = "Hydrogen fuel cells",
            owner: str | None = None) -> str:
    return str(open_case(app, actor, "project_introduction", title=title, owner=owner,
                         fields=PI_FIELDS)["key"])


def to_negotiation(app: App, actor: Actor, key: str) -> None:
    advance(app, actor, key, "make_contact")
    advance(app, actor, key, "negotiate", fields={"contact_person": "Ms Lin, CFO"})


def tasks_of(app: App, key: str, status: str | None = None) -> list[Any]:
    with app.db.transaction() as s:
        case_id = s.scalar(select(CASES.c.id).where(CASES.c.key == key))
        query = select(TASKS).where(TASKS.c.case_id == case_id)
        if status:
            query = query.where(TASKS.c.status == status)
        return list(s.execute(query.order_by(TASKS.c.id)).all())


def open_by_rule(app: App, key: str) -> dict[str, Any]:
    rows = tasks_of(app, key, "open")
    by_rule = {r.rule: r for r in rows}
    assert len(by_rule) == len(rows), f"more than one open task per rule: {rows}"
    return by_rule


def notices_of(app: App, task_ids: list[int]) -> list[Any]:
    with app.db.transaction() as s:
        return list(s.execute(select(NOTICES).where(NOTICES.c.task_id.in_(task_ids))
                              .order_by(NOTICES.c.id)).all())


def last_event(app: App, key: str, kind: str) -> dict[str, Any]:
    return [e for e in history(app, key)["events"] if e["kind"] == kind][-1]


# --------------------------------------------------------------------------- planning


def test_entering_a_state_plans_one_open_task_per_rule(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    key = open_pi(app, wang)  # Wed 4 March 2026

    [deadline] = tasks_of(app, key)
    assert (deadline.rule, deadline.kind, deadline.occurrence) == ("lead.deadline", "deadline", 1)
    assert deadline.due_on == date(2026, 3, 18)  # 10 working days, two weekends skipped
    assert deadline.escalate_to == "director"
    assert deadline.assignee_id == wang.id

    advance(app, wang, key, "make_contact")
    planned = open_by_rule(app, key)
    assert set(planned) == {"first_contact.contact", "first_contact.deadline"}
    assert planned["first_contact.contact"].due_on == date(2026, 3, 11)
    # 30 working days run through Qingming (Mon 6 April off): the 16th, not the 15th.
    assert planned["first_contact.deadline"].due_on == date(2026, 4, 16)

    clock.set("2026-03-05T10:00:00+08:00")  # a Thursday
    advance(app, wang, key, "negotiate", fields={"contact_person": "Ms Lin"})
    planned = open_by_rule(app, key)
    assert set(planned) == {"negotiation.contact", "negotiation.visit", "negotiation.deadline"}
    contact = planned["negotiation.contact"]
    assert (contact.kind, contact.occurrence) == ("contact", 1)
    assert contact.due_on == date(2026, 3, 9)  # Fri 6th, then Monday: the weekend is skipped
    assert contact.window_start is None and contact.seed is None
    assert all(t.assignee_id == wang.id for t in planned.values())


def test_a_contact_cadence_skips_holidays_and_counts_worked_weekend_days(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    clock.set("2026-04-29T10:00:00+08:00")  # Wednesday before Labour Day
    key = open_pi(app, staff["wang.li"])
    advance(app, staff["wang.li"], key, "make_contact")
    contact = open_by_rule(app, key)["first_contact.contact"]
    # 30 Apr, then 1-5 May off, then 6, 7, 8 May and the worked Saturday 9 May.
    assert contact.due_on == date(2026, 5, 9)


def test_a_visit_falls_on_a_working_day_inside_its_window_with_its_seed_stored(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    clock.set("2026-03-20T10:00:00+08:00")  # the window (3-17 April) holds Qingming
    key = open_pi(app, staff["wang.li"])
    to_negotiation(app, staff["wang.li"], key)
    visit = open_by_rule(app, key)["negotiation.visit"]

    assert (visit.kind, visit.occurrence) == ("visit", 1)
    assert visit.window_start == date(2026, 4, 3)  # entry + min_gap (2 weeks)
    assert visit.window_end == date(2026, 4, 17)  # entry + max_gap (4 weeks)
    assert visit.window_start <= visit.due_on <= visit.window_end
    assert visit.seed == visit_seed(key, "negotiation.visit", 1)
    # Auditable: the stored window and seed re-derive the date, by the documented
    # draw (uniform index from Random(seed).random() over the window's working days).
    workdays = [d for d in (visit.window_start + timedelta(days=i) for i in range(15))
                if d.weekday() < 5 and d != date(2026, 4, 6)]
    drawn = workdays[int(random.Random(int(visit.seed, 16)).random() * len(workdays))]
    assert visit.due_on == drawn
    assert app.calendar.is_workday(visit.due_on)


# --------------------------------------------------------------------------- rolling


def test_logging_a_contact_closes_it_and_plans_the_next_from_the_logged_date(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    clock.set("2026-03-05T10:00:00+08:00")
    key = open_pi(app, wang)
    to_negotiation(app, wang, key)
    first = open_by_rule(app, key)["negotiation.contact"]

    clock.set("2026-03-09T10:00:00+08:00")  # Monday; the call was on Friday
    out = log_followup(app, wang, key, "contact", note="called Ms Lin",
                       at=app.calendar.at(date(2026, 3, 6), time(12, 0)))

    # From Friday 6th (not from today): Monday 9th, Tuesday 10th.
    assert out["next"] == {"rule": "negotiation.contact", "occurrence": 2,
                           "due_on": "2026-03-10"}
    rows = {t.id: t for t in tasks_of(app, key)}
    assert rows[first.id].status == "done"
    assert rows[first.id].outcome == "called Ms Lin"
    assert rows[first.id].next_notice_at is None
    nxt = open_by_rule(app, key)["negotiation.contact"]
    assert (nxt.occurrence, nxt.due_on) == (2, date(2026, 3, 10))
    assert nxt.id != first.id
    event = last_event(app, key, "contact")
    assert event["data"]["task"] == first.id
    assert event["data"]["next"]["occurrence"] == 2

    visit = open_by_rule(app, key)["negotiation.visit"]
    log_followup(app, wang, key, "visit", note="toured the plant")
    nxt_visit = open_by_rule(app, key)["negotiation.visit"]
    assert nxt_visit.occurrence == visit.occurrence + 1
    assert (nxt_visit.window_start, nxt_visit.window_end) == (date(2026, 3, 23),
                                                              date(2026, 4, 6))
    assert nxt_visit.seed == visit_seed(key, "negotiation.visit", 2)
    assert nxt_visit.window_start <= nxt_visit.due_on <= nxt_visit.window_end
    assert app.calendar.is_workday(nxt_visit.due_on)
    # The deadline is not a follow-up that rolls: logging left it alone.
    assert open_by_rule(app, key)["negotiation.deadline"].occurrence == 1


def test_a_future_log_is_refused_and_writes_nothing(
    app: App, staff: dict[str, Actor]
) -> None:
    key = open_pi(app, staff["wang.li"])
    advance(app, staff["wang.li"], key, "make_contact")
    before = tasks_of(app, key)
    with pytest.raises(InvalidInput, match="future"):
        log_followup(app, staff["wang.li"], key, "contact",
                     at=app.calendar.at(date(2026, 3, 20), time(12, 0)))
    assert tasks_of(app, key) == before


def test_a_log_before_the_case_opened_is_refused_and_writes_nothing(
    app: App, staff: dict[str, Actor]
) -> None:
    key = open_pi(app, staff["wang.li"])
    advance(app, staff["wang.li"], key, "make_contact")
    before = tasks_of(app, key)
    with pytest.raises(InvalidInput, match="before PI-2026-0001 was opened"):
        log_followup(app, staff["wang.li"], key, "contact",
                     at=app.calendar.at(date(2026, 3, 3), time(12, 0)))
    assert tasks_of(app, key) == before


# --------------------------------------------------------------------------- leaving a state


def test_leaving_a_state_cancels_its_open_tasks_and_their_pending_notices(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    clock.set("2026-03-05T10:00:00+08:00")
    key = open_pi(app, wang)
    other = open_pi(app, wang, title="Another lead")
    to_negotiation(app, wang, key)
    left = open_by_rule(app, key)
    left_ids = sorted(t.id for t in left.values())

    clock.set("2026-03-06T09:30:00+08:00")  # contact due Monday: its upcoming notice is out
    sweep(app)
    pending = notices_of(app, left_ids)
    assert [n.kind for n in pending] == ["upcoming"]
    assert pending[0].status == "pending"

    advance(app, wang, key, "inspect", note="site visit booked")

    rows = {t.id: t for t in tasks_of(app, key)}
    for tid in left_ids:
        assert rows[tid].status == "cancelled"
        assert rows[tid].outcome == "left negotiation"
        assert rows[tid].next_notice_at is None
    assert [n.status for n in notices_of(app, left_ids)] == ["cancelled"]
    event = last_event(app, key, "advanced")
    assert (event["from"], event["to"]) == ("negotiation", "site_inspection")
    assert event["data"]["cancelled_tasks"] == left_ids
    assert {p["rule"] for p in event["data"]["planned"]} == {
        "site_inspection.contact", "site_inspection.deadline"}
    assert set(open_by_rule(app, key)) == {"site_inspection.contact",
                                           "site_inspection.deadline"}
    # The other case is untouched.
    [lead] = tasks_of(app, other)
    assert lead.status == "open"

    # A cancelled task makes no more notices, however late it gets.
    clock.set("2026-03-20T19:00:00+08:00")
    sweep(app)
    assert [n.status for n in notices_of(app, left_ids)] == ["cancelled"]


def test_reentering_a_state_continues_occurrence_numbering(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    clock.set("2026-03-05T10:00:00+08:00")
    key = open_pi(app, wang)
    to_negotiation(app, wang, key)
    log_followup(app, wang, key, "contact")  # contact #1 done, #2 open
    first_visit = open_by_rule(app, key)["negotiation.visit"]

    clock.set("2026-03-10T10:00:00+08:00")
    advance(app, wang, key, "inspect")
    clock.set("2026-03-12T10:00:00+08:00")
    advance(app, wang, key, "renegotiate")

    planned = open_by_rule(app, key)
    assert planned["negotiation.contact"].occurrence == 3
    assert planned["negotiation.contact"].due_on == date(2026, 3, 16)  # from the re-entry
    assert planned["negotiation.visit"].occurrence == 2
    assert planned["negotiation.visit"].seed == visit_seed(key, "negotiation.visit", 2)
    assert planned["negotiation.visit"].seed != first_visit.seed
    assert planned["negotiation.deadline"].occurrence == 2
    numbering = sorted((t.rule, t.occurrence) for t in tasks_of(app, key)
                       if t.rule.startswith("negotiation."))
    assert numbering == [("negotiation.contact", 1), ("negotiation.contact", 2),
                         ("negotiation.contact", 3), ("negotiation.deadline", 1),
                         ("negotiation.deadline", 2), ("negotiation.visit", 1),
                         ("negotiation.visit", 2)]


# --------------------------------------------------------------------------- snooze


def test_snooze_replans_only_that_task(app: App, staff: dict[str, Actor], clock: Clock) -> None:
    wang = staff["wang.li"]
    mine, theirs = open_pi(app, wang), open_pi(app, wang, title="Second lead")
    clock.set("2026-03-16T09:30:00+08:00")  # both deadlines (18th) have their upcoming out
    sweep(app)
    [task] = tasks_of(app, mine)
    [other] = tasks_of(app, theirs)
    assert task.stage_done == other.stage_done == 1

    out = snooze(app, staff["chen.jie"], task.id, date(2026, 3, 21),
                 "the enterprise asked for a week")

    assert out["due_on"] == "2026-03-23"  # Saturday 21st -> Monday 23rd
    [moved] = tasks_of(app, mine)
    assert moved.due_on == date(2026, 3, 23)
    assert moved.stage_done == 0
    # Upcoming two working days before the new day, at the start of the working day.
    assert moved.next_notice_at == app.calendar.at(date(2026, 3, 19), app.calendar.workday_start)
    assert [n.status for n in notices_of(app, [task.id])] == ["cancelled"]
    assert tasks_of(app, theirs) == [other]
    assert [n.status for n in notices_of(app, [other.id])] == ["pending"]
    event = last_event(app, mine, "task_snoozed")
    assert event["data"] == {"task": task.id, "rule": "lead.deadline", "from": "2026-03-18",
                             "to": "2026-03-23", "reason": "the enterprise asked for a week"}

    clock.set("2026-03-19T09:30:00+08:00")
    sweep(app)
    kinds = [(n.kind, n.status, n.payload["due_on"]) for n in notices_of(app, [task.id])]
    assert kinds == [("upcoming", "cancelled", "2026-03-18"),
                     ("upcoming", "pending", "2026-03-23")]


def test_snooze_refuses_the_past_and_closed_tasks(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    key = open_pi(app, wang)
    [task] = tasks_of(app, key)
    with pytest.raises(InvalidInput, match="past"):
        snooze(app, wang, task.id, date(2026, 3, 3), "too late")
    with pytest.raises(InvalidInput, match="reason"):
        snooze(app, wang, task.id, date(2026, 3, 30), "  ")
    advance(app, wang, key, "make_contact")
    with pytest.raises(Refused, match="cancelled"):
        snooze(app, wang, task.id, date(2026, 3, 30), "gone")
    assert tasks_of(app, key)[0].due_on == date(2026, 3, 18)


# --------------------------------------------------------------------------- handover


def test_handover_moves_cases_open_tasks_and_pending_notices(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang, zhao = staff["wang.li"], staff["zhao.min"]
    first, second = open_pi(app, wang), open_pi(app, wang, title="Wang's second")
    kept = open_pi(app, zhao, title="Zhao's own")

    clock.set("2026-03-16T09:30:00+08:00")  # upcoming notices, sent to the outbox
    sweep(app)
    assert dispatch(app, Channels(app.settings), "test").sent == 3
    clock.set("2026-03-18T09:30:00+08:00")  # due notices, still pending
    sweep(app)

    [t1], [t2], [t3] = tasks_of(app, first), tasks_of(app, second), tasks_of(app, kept)
    out = handover(app, OFFICE_ADMIN, "wang.li", "zhao.min", deactivate=True)

    assert out == Handover("wang.li", "zhao.min", cases=2, tasks=2, notices=2, in_flight=0)
    with app.db.transaction() as s:
        owners = dict(s.execute(select(CASES.c.key, CASES.c.owner_id)).all())
        wang_active = s.scalar(select(PEOPLE.c.active).where(PEOPLE.c.id == wang.id))
    assert owners == {first: zhao.id, second: zhao.id, kept: zhao.id}
    assert wang_active is False
    for key, task, was in ((first, t1, "wang.li"), (second, t2, "wang.li"),
                           (kept, t3, "zhao.min")):
        [row] = tasks_of(app, key)
        assert row.assignee_id == zhao.id
        by_kind = {n.kind: n for n in notices_of(app, [task.id])}
        # What was sent stays as sent, to whom it was sent.
        assert (by_kind["upcoming"].status, by_kind["upcoming"].recipient) == ("sent", was)
        # What is pending now goes to the new person, under a key for them: also
        # what Wang's digest (withdrawn) had taken in; Zhao's own digest keeps hers.
        due = by_kind["due"]
        assert (due.status, due.recipient) == (
            "folded" if was == "zhao.min" else "pending", "zhao.min")
        assert ":zhao.min:" in due.idempotency_key
        assert "wang.li" not in due.idempotency_key
    assert last_event(app, first, "assigned")["data"] == {
        "owner": "zhao.min", "was": "wang.li", "handover": True}

    # Wang's digest of the day is withdrawn, not readdressed; Zhao's own stays.
    with app.db.transaction() as s:
        digests = dict(s.execute(select(NOTICES.c.recipient, NOTICES.c.status)
                                 .where(NOTICES.c.kind == "digest")).all())
    assert digests == {"wang.li": "cancelled", "zhao.min": "pending"}

    # The moved notices are delivered to the new person (and Zhao's digest,
    # which lists her own due task).
    assert dispatch(app, Channels(app.settings), "test").sent == 3
    # And what the sweep makes next goes to the new assignee too.
    clock.set("2026-03-18T18:30:00+08:00")
    sweep(app)
    with app.db.transaction() as s:
        recipients = set(s.scalars(select(NOTICES.c.recipient).where(
            NOTICES.c.kind == "overdue")))
    assert recipients == {"zhao.min"}


def test_handover_to_an_inactive_person_is_refused_and_changes_nothing(
    app: App, staff: dict[str, Actor]
) -> None:
    key = open_pi(app, staff["wang.li"])
    with app.db.transaction() as s:
        s.execute(update(PEOPLE).where(PEOPLE.c.id == staff["zhao.min"].id)
                  .values(active=False))
    with pytest.raises(Refused, match="not active"):
        handover(app, OFFICE_ADMIN, "wang.li", "zhao.min")
    [task] = tasks_of(app, key)
    assert task.assignee_id == staff["wang.li"].id


def test_assigning_a_case_moves_its_pending_notices_too(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = open_pi(app, staff["wang.li"])
    clock.set("2026-03-16T09:30:00+08:00")  # the lead deadline's reminder is due
    sweep(app)
    assign(app, staff["wang.li"], key, "zhao.min")
    with app.db.transaction() as s:
        pending = s.execute(select(NOTICES.c.recipient, NOTICES.c.idempotency_key)
                            .where(NOTICES.c.status == "pending")).all()
    assert [r.recipient for r in pending] == ["zhao.min"]
    assert ":zhao.min:" in pending[0].idempotency_key
