"""Absences and how each person is told, on a real database: a person away hands
their notices, digests and new tasks to their substitute (down a chain if the
substitute is away too; a cycle refused), escalations go to a role holder who
is present, the returning person's digest lists what was handled for them;
digest-only folding, quiet hours held then sent, and SMTP bounces re-routed to
the fallback channel through a real aiosmtpd server. Nothing doubled by two sweeps.

The lead opened Wed 4 March has its deadline on Wed 18 March: upcoming on Mon 16
at 09:00, due on the 18th at 09:00, overdue and escalated to the director at 18:00.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import select

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, Clock, is_postgres, with_settings
from tests.receivers import HttpReceiver, SmtpReceiver
from torchflow.config import OfficeSettings
from torchflow.domain.routing import parse_quiet
from torchflow.errors import InvalidInput, Refused
from torchflow.service.app import App
from torchflow.service.audit.verify import verify
from torchflow.service.cases.change import open_case
from torchflow.service.cases.read import history
from torchflow.service.delivery.dispatch import Channels, dispatch
from torchflow.service.delivery.ledger import delivery_problems
from torchflow.service.delivery.routing import Fallback
from torchflow.service.delivery.sweep import sweep
from torchflow.service.people.absences import absences_of, end_absence, record_absence
from torchflow.service.people.lookup import Actor, person_by_handle, resolve_actor
from torchflow.service.people.notify import set_notify
from torchflow.service.people.staff import add_person
from torchflow.store.models import NOTICES, TASKS


def away(app: App, handle: str, starts: str, ends: str, substitute: str,
         actor: str | None = None) -> dict[str, Any]:
    return record_absence(app, resolve_actor(app, actor or handle), handle,
                          starts=date.fromisoformat(starts), ends=date.fromisoformat(ends),
                          substitute=substitute)


def open_lead(app: App, owner: Actor, title: str = "Hydrogen fuel cells") -> str:
    return str(open_case(app, owner, "project_introduction", title=title,
                         fields=PI_FIELDS)["key"])


def rows(app: App, **where: Any) -> list[Any]:
    with app.db.read() as s:
        query = select(NOTICES)
        for name, value in where.items():
            query = query.where(NOTICES.c[name] == value)
        return list(s.execute(query.order_by(NOTICES.c.id)))


def assignee_of(app: App, key: str) -> str:
    from torchflow.store.models import CASES, PEOPLE

    with app.db.read() as s:
        return str(s.scalar(
            select(PEOPLE.c.handle).join(TASKS, TASKS.c.assignee_id == PEOPLE.c.id)
            .join(CASES, CASES.c.id == TASKS.c.case_id)
            .where(CASES.c.key == key, TASKS.c.status == "open")))


# --------------------------------------------------------------------------- substitutes


def test_an_absent_persons_notice_goes_to_the_substitute_marked(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = open_lead(app, staff["wang.li"])
    away(app, "wang.li", "2026-03-16", "2026-03-20", "zhao.min")
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(app)
    sweep(app)  # a second sweep doubles nothing
    [row] = rows(app, kind="upcoming")
    assert row.recipient == "zhao.min" and row.for_person == "wang.li"
    assert row.subject.endswith("(for wang.li, away until 2026-03-20)")
    assert row.body.startswith("(for wang.li, away until 2026-03-20)\n")
    assert row.reason == "for wang.li, away until 2026-03-20"
    assert key in row.subject
    # The task stays wang.li's: the work planned before the absence is not moved.
    assert assignee_of(app, key) == "wang.li"


def test_an_office_in_chinese_marks_the_substitutes_notices_in_chinese(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    zh = with_settings(app, office=OfficeSettings(locale="zh-CN"))
    key = open_lead(zh, staff["wang.li"])
    away(zh, "wang.li", "2026-03-16", "2026-03-20", "zhao.min")
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(zh)
    [row] = rows(zh, kind="upcoming")
    assert row.recipient == "zhao.min" and key in row.subject
    assert row.subject.endswith("（代 wang.li 接收，其外出至 2026-03-20）")
    assert row.body.startswith("(代 wang.li 接收，其外出至 2026-03-20)\n")
    clock.set("2026-03-18T08:40:00+08:00")
    sweep(zh)
    [digest] = rows(zh, kind="digest")
    assert digest.for_person == "wang.li"
    assert digest.body.startswith("(代 wang.li 接收，其外出至 2026-03-20)\n")


def test_a_substitute_away_too_hands_on_down_the_chain(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    open_lead(app, staff["wang.li"])
    away(app, "wang.li", "2026-03-16", "2026-03-20", "zhao.min")
    away(app, "zhao.min", "2026-03-12", "2026-03-17", "sun.hao")
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(app)
    [row] = rows(app, kind="upcoming")
    assert (row.recipient, row.for_person) == ("sun.hao", "wang.li")


def test_a_substitute_cycle_is_refused_on_overlapping_days_only(
    app: App, staff: dict[str, Actor]
) -> None:
    away(app, "wang.li", "2026-03-16", "2026-03-20", "zhao.min")
    with pytest.raises(Refused,
                       match=re.escape("circle on 2026-03-20: zhao.min -> wang.li -> zhao.min")):
        away(app, "zhao.min", "2026-03-20", "2026-03-25", "wang.li")
    # Not overlapping: no cycle on any day.
    away(app, "zhao.min", "2026-03-23", "2026-03-25", "wang.li")
    # Three in a circle: sun.hao -> wang.li -> zhao.min -> sun.hao on the 17th.
    away(app, "sun.hao", "2026-03-17", "2026-03-17", "wang.li")
    with pytest.raises(Refused,
                       match=re.escape("2026-03-17: zhao.min -> sun.hao -> wang.li -> zhao.min")):
        away(app, "zhao.min", "2026-03-16", "2026-03-17", "sun.hao")
    away(app, "zhao.min", "2026-03-16", "2026-03-16", "sun.hao")  # sun.hao is in that day


def test_only_the_person_or_an_admin_records_an_absence(
    app: App, staff: dict[str, Actor]
) -> None:
    with pytest.raises(Refused,
                       match=re.escape("for zhao.min: only zhao.min or an admin may")):
        away(app, "zhao.min", "2026-03-16", "2026-03-20", "sun.hao", actor="wang.li")
    add_person(app, "root.admin", name="Admin", roles=["admin"])
    away(app, "zhao.min", "2026-03-16", "2026-03-20", "sun.hao", actor="root.admin")
    with pytest.raises(InvalidInput, match="cannot substitute for themself"):
        away(app, "wang.li", "2026-03-16", "2026-03-20", "wang.li")


def test_escalations_go_to_a_role_holder_who_is_present(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    add_person(app, "gao.fei", name="Gao Fei", roles=["director"])
    open_lead(app, staff["wang.li"])
    away(app, "chen.jie", "2026-03-18", "2026-03-19", "liu.yang")
    clock.set("2026-03-18T18:30:00+08:00")
    sweep(app)
    assert [r.recipient for r in rows(app, kind="escalation")] == ["gao.fei"]


def test_escalations_follow_the_chain_when_every_holder_is_away(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    open_lead(app, staff["wang.li"])
    away(app, "chen.jie", "2026-03-18", "2026-03-19", "liu.yang")
    clock.set("2026-03-18T18:30:00+08:00")
    sweep(app)
    [row] = rows(app, kind="escalation")
    assert (row.recipient, row.for_person) == ("liu.yang", "chen.jie")


def test_tasks_planned_during_an_absence_go_to_the_substitute_in_the_history(
    app: App, staff: dict[str, Actor]
) -> None:
    away(app, "wang.li", "2026-03-04", "2026-03-10", "zhao.min")
    key = open_lead(app, staff["wang.li"])
    assert assignee_of(app, key) == "zhao.min"
    events = history(app, key)["events"]
    assert [e["kind"] for e in events] == ["opened", "task_reassigned"]
    moved = events[-1]
    assert moved["actor"] == "system"
    assert moved["data"]["to"] == "zhao.min" and moved["data"]["was"] == "wang.li"
    assert moved["data"]["away_until"] == "2026-03-10"
    assert all(c["ok"] for c in verify(app, key))


def test_back_returns_the_notices_and_the_digest_lists_what_was_handled(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = open_lead(app, staff["wang.li"])
    away(app, "wang.li", "2026-03-16", "2026-03-20", "zhao.min")
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(app)
    # wang.li's digest goes to zhao.min meanwhile, beside zhao.min's own.
    clock.set("2026-03-18T08:40:00+08:00")
    sweep(app)
    [digest] = rows(app, kind="digest")
    assert (digest.recipient, digest.for_person) == ("zhao.min", "wang.li")
    assert digest.idempotency_key.endswith(":for:wang.li")
    assert digest.subject.endswith("(for wang.li, away until 2026-03-20)")

    clock.set("2026-03-18T08:50:00+08:00")
    assert end_absence(app, staff["wang.li"], "wang.li")["ended"] == 1
    with pytest.raises(Refused, match="no absence today or ahead"):
        end_absence(app, staff["wang.li"], "wang.li")
    clock.set("2026-03-18T09:10:00+08:00")
    sweep(app)
    [due] = rows(app, kind="due")
    assert (due.recipient, due.for_person, due.reason) == ("wang.li", None, "")
    clock.set("2026-03-19T08:40:00+08:00")
    sweep(app)
    own = [r for r in rows(app, kind="digest") if r.recipient == "wang.li"]
    [mine] = own
    # What is still open, apart from what the substitute logged (nothing here).
    assert "Still open from while you were away:" in mine.body
    assert "Logged for you while you were away:" not in mine.body
    assert f"{key} Hydrogen fuel cells: Deadline, 1 working day overdue" in \
        mine.body.split("Still open from while you were away:")[1]
    assert mine.payload["handled_for_you"] == 1  # the task; the digest was its own
    # Listed once: the next digest does not repeat it.
    clock.set("2026-03-20T08:40:00+08:00")
    sweep(app)
    latest = [r for r in rows(app, kind="digest") if r.recipient == "wang.li"][-1]
    assert "while you were away" not in latest.body


# --------------------------------------------------------------------------- how told


def test_digest_mode_folds_upcoming_due_and_overdue_but_not_escalations(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    set_notify(app, staff["wang.li"], "wang.li", notify="digest")
    key = open_lead(app, staff["wang.li"])
    clock.set("2026-03-16T08:40:00+08:00")
    sweep(app)  # the day's digests are made (nothing for wang.li yet)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(app)
    [upcoming] = rows(app, kind="upcoming")
    assert upcoming.status == "folded" and upcoming.reason == "folded into the daily digest"
    assert dispatch(app, Channels(app.settings), "svc").sent == 0
    clock.set("2026-03-17T08:40:00+08:00")
    sweep(app)
    [digest] = rows(app, kind="digest")
    assert f"Coming up:\n  · {key} Hydrogen fuel cells: Deadline, due 2026-03-18" in digest.body
    [upcoming] = rows(app, kind="upcoming")
    assert upcoming.folded_into == digest.idempotency_key
    listed = absences_notice_view(app, upcoming.id)
    assert listed["reason"] == f"folded into the daily digest: {digest.idempotency_key}"
    clock.set("2026-03-18T09:10:00+08:00")
    sweep(app)
    clock.set("2026-03-18T18:10:00+08:00")
    sweep(app)
    assert [r.status for r in rows(app, kind="due")] == ["folded"]
    # The next digest lists it as overdue, with the working days: no mail tonight.
    assert [r.status for r in rows(app, kind="overdue")] == ["folded"]
    assert [r.status for r in rows(app, kind="escalation")] == ["pending"]


def absences_notice_view(app: App, notice_id: int) -> dict[str, Any]:
    from torchflow.service.delivery.ledger import list_notices

    return next(n for n in list_notices(app) if n["id"] == notice_id)


def test_quiet_hours_hold_a_notice_until_they_end_and_escalations_go(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    set_notify(app, staff["wang.li"], "wang.li", quiet=parse_quiet("17:30-09:30"))
    set_notify(app, staff["chen.jie"], "chen.jie", quiet=parse_quiet("17:30-09:30"))
    open_lead(app, staff["wang.li"])
    clock.set("2026-03-18T18:10:00+08:00")
    sweep(app)
    [overdue] = rows(app, kind="overdue")
    # Held for the quiet hours, then taken into the day's digest (made in quiet
    # hours, so it waits too): one message instead of two.
    assert overdue.status == "folded"
    assert overdue.not_before == datetime(2026, 3, 19, 1, 30, tzinfo=UTC)
    assert overdue.reason == ("held until 2026-03-19T09:30+08:00 (quiet hours); "
                              "taken into the day's digest")
    channels = Channels(app.settings)
    assert dispatch(app, channels, "svc").sent == 1  # the escalation only
    [escalation] = rows(app, kind="escalation")
    assert escalation.status == "sent" and escalation.reason == ""
    clock.set("2026-03-19T09:29:00+08:00")
    assert dispatch(app, channels, "svc").sent == 0
    [digest] = rows(app, kind="digest")  # the day's digest, made in quiet hours, waits too
    assert overdue.folded_into == digest.idempotency_key
    assert digest.not_before == overdue.not_before and digest.status == "pending"
    clock.set("2026-03-19T09:30:00+08:00")
    assert dispatch(app, channels, "svc").sent == 1
    assert [r.status for r in rows(app)] == ["folded", "sent", "sent"]


# --------------------------------------------------------------------------- fallback


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver(refused={"ma.lin@zone.example.cn"}) as receiver:
        yield receiver


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def wired(app: App, smtp: SmtpReceiver, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.setenv("TORCHFLOW_WEBHOOK_SECRET", "absence-secret")
    notify = app.settings.notify.with_channel(
        "smtp", host=smtp.host, port=smtp.port, sender="torchflow@zone.example.cn",
        timeout_seconds=5)
    return replace(app, settings=replace(app.settings, notify=notify))


def test_a_bouncing_address_falls_back_after_n_refusals_once(
    wired: App, smtp: SmtpReceiver, hook: HttpReceiver, clock: Clock, wall: Clock
) -> None:
    add_person(wired, "ma.lin", name="Ma Lin", roles=["coordinator"],
               email="ma.lin@zone.example.cn", channel="smtp")
    ma = resolve_actor(wired, "ma.lin")
    set_notify(wired, ma, "ma.lin", fallback=Fallback("webhook", hook.url + "/ma-lin"),
               fallback_after=2)
    open_lead(wired, ma)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(wired)
    channels = Channels(wired.settings)
    assert dispatch(wired, channels, "svc").failed == 1
    [row] = rows(wired)
    assert (row.channel, row.attempts) == ("smtp", 1) and "550" in row.last_error
    wall.advance(seconds=5)
    assert dispatch(wired, channels, "svc").failed == 1  # the second refusal re-routes it
    [row] = rows(wired)
    assert (row.channel, row.address, row.attempts) == ("webhook", hook.url + "/ma-lin", 0)
    assert row.reason == "re-routed from smtp ma.lin@zone.example.cn after 2 refusal(s)"
    assert row.idempotency_key.endswith(":via:webhook")
    assert dispatch(wired, channels, "svc").sent == 1
    assert hook.wait_for_requests(1)
    assert smtp.messages == [] and len(hook.requests) == 1
    [row] = rows(wired)
    assert row.status == "sent"
    with wired.db.read() as s:
        [problem] = delivery_problems(s, "ma.lin")
    assert problem["channel"] == "webhook" and "re-routed from smtp" in problem["reason"]
    channels.close()


def test_a_fallback_comes_before_the_last_attempt_whatever_fallback_after_says(
    wired: App, smtp: SmtpReceiver, hook: HttpReceiver, clock: Clock, wall: Clock
) -> None:
    """fallback_after over the scheduler's max_attempts: the notice falls back on
    its last attempt instead of dying with a fallback set."""
    two = replace(wired, settings=replace(wired.settings, scheduler=replace(
        wired.settings.scheduler, max_attempts=2)))
    add_person(two, "ma.lin", name="Ma Lin", email="ma.lin@zone.example.cn", channel="smtp")
    ma = resolve_actor(two, "ma.lin")
    set_notify(two, ma, "ma.lin", fallback=Fallback("webhook", hook.url), fallback_after=5)
    open_lead(two, ma)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(two)
    channels = Channels(two.settings)
    assert dispatch(two, channels, "svc").failed == 1
    wall.advance(seconds=5)
    assert dispatch(two, channels, "svc").failed == 1  # the last attempt re-routes it
    [row] = rows(two)
    assert (row.status, row.channel, row.attempts) == ("pending", "webhook", 0)
    assert dispatch(two, channels, "svc").sent == 1
    assert hook.wait_for_requests(1) and smtp.messages == []
    channels.close()


def test_a_temporary_smtp_failure_never_falls_back(
    wired: App, smtp: SmtpReceiver, hook: HttpReceiver, clock: Clock, wall: Clock
) -> None:
    add_person(wired, "he.yu", name="He Yu", email="he.yu@zone.example.cn", channel="smtp")
    he = resolve_actor(wired, "he.yu")
    set_notify(wired, he, "he.yu", fallback=Fallback("webhook", hook.url), fallback_after=1)
    open_lead(wired, he)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(wired)
    smtp.fail_next_mail("451 4.3.0 try again later")
    channels = Channels(wired.settings)
    assert dispatch(wired, channels, "svc").failed == 1
    [row] = rows(wired)
    assert row.channel == "smtp" and not row.reason
    wall.advance(seconds=5)
    assert dispatch(wired, channels, "svc").sent == 1
    assert smtp.wait_for_messages(1) and hook.requests == []
    channels.close()


def test_notify_settings_round_trip(app: App, staff: dict[str, Actor]) -> None:
    view = set_notify(app, staff["wang.li"], "wang.li", notify="digest",
                      quiet=parse_quiet("20:00-08:00"),
                      fallback=Fallback("webhook", "https://hooks.example/x?token=s3cret"))
    assert view["notify"] == "digest" and view["quiet"] == "20:00-08:00"
    assert view["fallback"].startswith("webhook:https://hooks.example/x")
    assert "s3cret" not in view["fallback"]
    view = set_notify(app, staff["wang.li"], "wang.li", quiet=None, fallback=None)
    assert (view["notify"], view["quiet"], view["fallback"]) == ("digest", None, None)
    with app.db.read() as s:
        person = person_by_handle(s, "wang.li")
        assert absences_of(s, person.id) == []


def test_a_folded_notice_of_a_task_done_meanwhile_is_not_listed(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    from torchflow.service.followups.work import complete

    set_notify(app, staff["wang.li"], "wang.li", notify="digest")
    key = open_lead(app, staff["wang.li"])
    clock.set("2026-03-16T08:40:00+08:00")
    sweep(app)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(app)
    with app.db.read() as s:
        task_id = s.scalar(select(NOTICES.c.task_id).where(NOTICES.c.kind == "upcoming"))
    complete(app, staff["chen.jie"], task_id)
    clock.set("2026-03-17T08:40:00+08:00")
    sweep(app)
    [upcoming] = rows(app, kind="upcoming")
    assert upcoming.status == "folded"
    assert upcoming.folded_into == "no digest: the task was closed first"
    assert all(key not in d.body for d in rows(app, kind="digest"))
    assert rows(app, kind="digest") == []  # nothing else to tell: no empty digest


def test_a_digest_made_twice_settles_no_notice_it_does_not_list(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    """Two services past the same old mark: the second's digest key exists, so
    the notices it saw folded (maybe folded after the first was built) stay
    waiting for the next digest instead of being marked as in one."""
    from torchflow.service.delivery.digests import produce_digests
    from torchflow.store.models import MARKS

    set_notify(app, staff["wang.li"], "wang.li", notify="digest")
    open_lead(app, staff["wang.li"])
    clock.set("2026-03-16T08:40:00+08:00")
    sweep(app)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(app)
    clock.set("2026-03-17T08:40:00+08:00")
    sweep(app)
    [digest] = rows(app, kind="digest")
    [upcoming] = rows(app, kind="upcoming")
    with app.db.transaction() as s:  # folded after the first digest was built...
        s.execute(NOTICES.update().where(NOTICES.c.id == upcoming.id).values(folded_into=None))
        # ...and a second service that read the mark before the first committed
        s.execute(MARKS.update().where(MARKS.c.name == "digest")
                  .values(at=datetime(2026, 3, 16, 0, 40, tzinfo=UTC)))
    assert produce_digests(app, datetime(2026, 3, 17, 0, 41, tzinfo=UTC)) == 0
    [upcoming] = rows(app, kind="upcoming")
    assert upcoming.folded_into is None
    assert [d.id for d in rows(app, kind="digest")] == [digest.id]


def test_a_handover_takes_the_givers_folded_notices_to_the_takers_digest(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    from torchflow.service.people.handover import handover

    set_notify(app, staff["wang.li"], "wang.li", notify="digest")
    key = open_lead(app, staff["wang.li"])
    clock.set("2026-03-16T08:40:00+08:00")
    sweep(app)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(app)
    [upcoming] = rows(app, kind="upcoming")
    assert upcoming.status == "folded"
    handover(app, OFFICE_ADMIN, "wang.li", "zhao.min", deactivate=True)
    [upcoming] = rows(app, kind="upcoming")
    assert (upcoming.recipient, upcoming.status) == ("zhao.min", "folded")
    clock.set("2026-03-17T08:40:00+08:00")
    sweep(app)
    [digest] = rows(app, kind="digest")
    assert digest.recipient == "zhao.min"
    assert f"Coming up:\n  · {key} Hydrogen fuel cells: Deadline, due 2026-03-18" in digest.body
    assert rows(app, kind="upcoming")[0].folded_into == digest.idempotency_key


def test_a_bouncing_address_falls_back_to_a_second_smtp_address_once(
    wired: App, smtp: SmtpReceiver, clock: Clock, wall: Clock
) -> None:
    add_person(wired, "ma.lin", name="Ma Lin", roles=["coordinator"],
               email="ma.lin@zone.example.cn", channel="smtp")
    ma = resolve_actor(wired, "ma.lin")
    set_notify(wired, ma, "ma.lin", fallback=Fallback("smtp", "ma.lin@home.example.cn"),
               fallback_after=1)
    open_lead(wired, ma)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(wired)
    channels = Channels(wired.settings)
    assert dispatch(wired, channels, "svc").failed == 1
    [row] = rows(wired)
    assert (row.channel, row.address, row.attempts) == ("smtp", "ma.lin@home.example.cn", 0)
    assert row.idempotency_key.endswith(":via:smtp")
    assert dispatch(wired, channels, "svc").sent == 1
    assert smtp.wait_for_messages(1)
    [row] = rows(wired)
    assert row.status == "sent"
    channels.close()


def test_a_refused_fallback_address_is_not_fallen_back_to_again(
    wired: App, smtp: SmtpReceiver, clock: Clock, wall: Clock
) -> None:
    add_person(wired, "ma.lin", name="Ma Lin", roles=["coordinator"],
               email="ma.lin@zone.example.cn", channel="smtp")
    ma = resolve_actor(wired, "ma.lin")
    smtp.refused.add("ma.lin@home.example.cn")
    set_notify(wired, ma, "ma.lin", fallback=Fallback("smtp", "ma.lin@home.example.cn"),
               fallback_after=1)
    open_lead(wired, ma)
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(wired)
    channels = Channels(wired.settings)
    assert dispatch(wired, channels, "svc").failed == 1  # re-routed
    wall.advance(seconds=5)
    assert dispatch(wired, channels, "svc").failed == 1  # refused again: a retry, no re-route
    [row] = rows(wired)
    assert (row.address, row.attempts) == ("ma.lin@home.example.cn", 1)
    assert row.idempotency_key.count(":via:") == 1
    channels.close()


def test_the_substitute_of_an_absence_running_or_planned_cannot_be_deactivated(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    from torchflow.service.people.handover import handover
    from torchflow.service.people.staff import set_active

    away(app, "wang.li", "2026-03-16", "2026-03-20", "zhao.min")
    with pytest.raises(Refused, match=re.escape(
            "zhao.min is the substitute for wang.li's absence 2026-03-16 to 2026-03-20; "
            "end it (person back wang.li) or record it with another substitute first")):
        set_active(app, "zhao.min", False)
    with pytest.raises(Refused, match=re.escape("zhao.min is the substitute for wang.li's")):
        handover(app, OFFICE_ADMIN, "zhao.min", "sun.hao", deactivate=True)
    with pytest.raises(Refused, match=re.escape("zhao.min is the substitute for wang.li's")):
        set_active(app, "zhao.min", False, handover_to="sun.hao", actor=OFFICE_ADMIN)
    end_absence(app, staff["wang.li"], "wang.li")
    assert set_active(app, "zhao.min", False)["active"] is False


def test_an_inactive_substitute_is_passed_over_for_the_escalation_role(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    from torchflow.store.models import PEOPLE

    open_lead(app, staff["wang.li"])
    away(app, "wang.li", "2026-03-16", "2026-03-20", "zhao.min")
    with app.db.transaction() as s:  # deactivated before deactivating checked absences
        s.execute(PEOPLE.update().where(PEOPLE.c.handle == "zhao.min").values(active=False))
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(app)
    [row] = rows(app, kind="upcoming")
    assert (row.recipient, row.for_person) == ("chen.jie", "wang.li")


def test_a_new_task_goes_where_its_notices_go_when_the_chain_ends(
    app: App, staff: dict[str, Actor], admin: Actor, clock: Clock
) -> None:
    """Nobody present down the chain: the task and its notices both go to the
    rule's escalation role (director), not to an admin."""
    from torchflow.store.models import PEOPLE

    away(app, "wang.li", "2026-03-04", "2026-03-10", "zhao.min")
    with app.db.transaction() as s:  # deactivated before deactivating checked absences
        s.execute(PEOPLE.update().where(PEOPLE.c.handle == "zhao.min").values(active=False))
    key = open_lead(app, staff["wang.li"])
    assert assignee_of(app, key) == "chen.jie"
    assert history(app, key)["events"][-1]["data"]["to"] == "chen.jie"


@pytest.mark.skipif(not is_postgres(), reason="SQLite serialises every writer already")
def test_a_second_service_waits_for_the_digest_mark_and_finds_it_done(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    """Two services at digest time: the second waits on the locked mark and, once
    the first has committed, makes nothing (it does not act on the old mark)."""
    import threading
    import time

    from torchflow.service.delivery.digests import produce_digests
    from torchflow.store.models import MARKS

    open_lead(app, staff["wang.li"])
    clock.set("2026-03-17T08:40:00+08:00")
    sweep(app)  # the mark row exists, at the 17th
    at = datetime(2026, 3, 18, 0, 40, tzinfo=UTC)  # wang.li's deadline is due: a digest
    made: list[int] = []
    with app.db.engine.connect() as first:
        first.execute(select(MARKS).with_for_update())  # the first service, mid-digest
        second = threading.Thread(target=lambda: made.append(produce_digests(app, at)))
        second.start()
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock(app):  # until the second is blocked on the lock
            assert second.is_alive() and time.monotonic() < deadline, \
                "the second service never waited"
        first.execute(MARKS.update().where(MARKS.c.name == "digest").values(at=at))
        first.commit()
    second.join(10)
    assert made == [0]
    assert rows(app, kind="digest") == []


def _waiting_on_a_lock(app: App) -> bool:
    from sqlalchemy import text

    with app.db.engine.connect() as c:  # a fresh view: pg_stat_activity is per transaction
        return bool(c.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")))
