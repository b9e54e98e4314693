"""Real `torchflow scheduler run` processes on one database, delivering to a real
HTTP endpoint on 127.0.0.1: several services share the work and never double a
notice; a killed service's work is finished by the next (resending only what it
had sent without marking); ten days off give one overdue notice, not ten; SIGTERM
finishes the send in flight, hands the leases back and exits 0.

TORCHFLOW_NOW is fixed in each process, so "now" is business time; leases use the
wall clock. Every wait polls the database or the receiver against a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from tests.conftest import OFFICE_ADMIN, Clock, is_postgres
from tests.processes.conftest import NOW, SECRET, TORCHFLOW, Services
from tests.receivers import HttpReceiver
from torchflow.scheduler import tick
from torchflow.service.app import App
from torchflow.service.cases.change import advance, assign, open_case
from torchflow.service.delivery.dispatch import MARK_GROUP, Channels
from torchflow.service.followups.work import reassign
from torchflow.service.people.handover import handover
from torchflow.service.people.lookup import resolve_actor
from torchflow.service.people.staff import add_person
from torchflow.store.models import CASES, NOTICES, TASKS

pytestmark = pytest.mark.slow

KEY_HEADER = "X-Torchflow-Idempotency-Key"


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


def wait_until(what: str, check: Callable[[], bool], services: Services,
               timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        services.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n"
                        f"{services.all_logs()}")
        time.sleep(0.2)


def variant(config_file: Path, name: str, *, lease: int) -> Path:
    """The test's config with another lease, and a webhook timeout longer than a
    held request (10 s), so holding the receiver never turns into a failure."""
    text = config_file.read_text(encoding="utf-8")
    assert "lease_seconds = 5\n" in text
    path = config_file.with_name(name)
    path.write_text(text.replace("lease_seconds = 5\n", f"lease_seconds = {lease}\n")
                    .replace("[notify.webhook]\ntimeout_seconds = 2\n",
                             "[notify.webhook]\ntimeout_seconds = 30\n"), encoding="utf-8")
    return path


def add_notices(app: App, count: int, url: str) -> list[str]:
    """Due notices straight into the ledger, for a person on the webhook channel."""
    now = app.now()
    keys = [f"load:{i:05d}" for i in range(count)]
    rows = [{
        "idempotency_key": key, "task_id": None, "kind": "due", "channel": "webhook",
        "recipient": "he.yu", "address": url, "subject": f"notice {key}", "body": key,
        "payload": {"n": key}, "status": "pending", "attempts": 0, "not_before": now,
        "created_at": now, "last_error": "",
    } for key in keys]
    with app.db.transaction() as s:
        s.execute(insert(NOTICES), rows)
    return keys


def received(hook: HttpReceiver) -> Counter[str]:
    return Counter(headers[KEY_HEADER] for headers, _ in hook.requests)


def count(app: App, **where: Any) -> int:
    with app.db.transaction() as s:
        query = select(func.count()).select_from(NOTICES)
        for column, value in where.items():
            query = query.where(NOTICES.c[column] == value)
        return int(s.scalar(query) or 0)


def leased(app: App) -> list[tuple[str, str]]:
    with app.db.transaction() as s:
        return [tuple(r) for r in s.execute(
            select(NOTICES.c.idempotency_key, NOTICES.c.lease_owner)
            .where(NOTICES.c.lease_owner.is_not(None)))]


# --------------------------------------------------------------------------- sharing


def share_the_work(app: App, hook: HttpReceiver, services: Services, config: Path,
                   workers: int, notices: int) -> None:
    keys = add_notices(app, notices, hook.url)
    # Hold the receiver until every service is blocked on a send of its own, so
    # all of them are claiming from the same ledger at the same time.
    hook.hold()
    for i in range(workers):
        services.start(f"svc{i}", config, NOW)
    wait_until(f"{workers} services sending at once",
               lambda: len(hook.requests) >= workers, services)
    hook.release()
    wait_until(f"all {notices} notices sent",
               lambda: count(app, status="sent") == notices, services, timeout=120)

    got = received(hook)
    assert set(got) == set(keys)
    doubled = {k: n for k, n in got.items() if n > 1}
    assert not doubled, f"{len(doubled)} notice(s) delivered more than once: {doubled}"
    assert len(hook.requests) == notices
    assert leased(app) == []
    per_service = {n: services.log(n).count("sent notice #") for n in services.procs}
    assert sum(per_service.values()) == notices
    assert all(per_service.values()), f"a service sent nothing: {per_service}"
    for name in services.procs:
        assert services.terminate(name) == 0


@pytest.mark.skipif(not is_postgres(), reason=(
    "three services scaling out on one database is the PostgreSQL set-up "
    "(FOR UPDATE SKIP LOCKED); run with TORCHFLOW_TEST_DATABASE=postgresql+psycopg://..."))
def test_three_services_on_postgresql_deliver_2000_notices_each_exactly_once(
    app: App, hook: HttpReceiver, services: Services, config_file: Path
) -> None:
    config = variant(config_file, "shared.toml", lease=60)
    share_the_work(app, hook, services, config, workers=3, notices=2000)


def test_two_services_on_one_database_never_deliver_twice(
    app: App, hook: HttpReceiver, services: Services, config_file: Path
) -> None:
    config = variant(config_file, "shared.toml", lease=60)
    share_the_work(app, hook, services, config, workers=2, notices=300)


# --------------------------------------------------------------------------- crashes


def test_a_killed_service_is_finished_by_the_next_resending_only_its_unmarked_send(
    app: App, hook: HttpReceiver, services: Services, config_file: Path
) -> None:
    keys = add_notices(app, 400, hook.url)
    services.start("first", config_file, NOW)  # lease 5 s
    wait_until("the first service to be sending", lambda: hook.wait_for_requests(20, 0.2),
               services)
    hook.hold()
    # Wait until the first service is blocked on a held request: nothing more arrives.
    seen = -1
    while seen != len(hook.requests):
        seen = len(hook.requests)
        time.sleep(0.5)
        services.check_alive()
    services.kill("first")  # kill -9 between a send and its mark

    before = received(hook)
    in_flight = hook.requests[-1][0][KEY_HEADER]
    assert 20 <= len(before) < len(keys), "the first service was not killed mid-dispatch"
    assert set(before.values()) == {1}
    # Sent notices are marked in groups (one commit per group): what it had sent is
    # marked except at most the last group, which includes the send in flight.
    unmarked = len(before) - count(app, status="sent")
    assert 1 <= unmarked <= MARK_GROUP
    assert count(app, idempotency_key=in_flight, status="pending") == 1
    hook.release()

    services.start("second", config_file, NOW)
    wait_until("every notice sent", lambda: count(app, status="sent") == len(keys), services)

    got = received(hook)
    assert set(got) == set(keys)  # every notice arrives
    doubled = {k for k, n in got.items() if n > 1}
    assert max(got.values()) <= 2
    # Resent are only sends the first service had made and not yet marked, under the
    # same key: the one in flight and the rest of its unmarked group.
    assert in_flight in doubled
    assert doubled <= set(before)
    assert len(doubled) == unmarked
    assert services.terminate("second") == 0


# --------------------------------------------------------------------------- downtime


def test_ten_days_off_give_one_overdue_notice_per_task_and_only_todays_digest(
    app: App, hook: HttpReceiver, services: Services, config_file: Path, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TORCHFLOW_WEBHOOK_SECRET", SECRET)  # for the tick in this process
    add_person(app, "he.yu", name="He Yu", roles=["coordinator"], channel="webhook",
               address=hook.url)
    add_person(app, "chen.jie", name="Chen Jie", roles=["director"], channel="webhook",
               address=hook.url + "/director")
    he = resolve_actor(app, "he.yu")
    fields = {"enterprise": "Qingneng", "industry": "new energy", "lead_source": "referral",
              "planned_investment": "100"}
    clock.set("2026-03-02T09:00:00+08:00")  # Monday
    leads = [open_case(app, he, "project_introduction", title=f"lead {i}",
                       fields=fields)["key"] for i in range(3)]  # deadline Mon 16th
    met = [open_case(app, he, "project_introduction", title=f"met {i}",
                     fields=fields)["key"] for i in range(3)]
    for key in met:
        advance(app, he, key, "make_contact")  # contact due Mon 9th

    # The service last ran on Monday 9th, when the contacts were due...
    clock.set("2026-03-09T10:00:00+08:00")
    channels = Channels(app.settings)
    first = tick(app, channels, "before-the-outage")
    channels.close()
    # The day's digest takes in the three due notices of the same tick: one message.
    assert (first.sweep.notices, first.sweep.digests, first.dispatch.sent) == (3, 1, 1)

    # ...and comes back ten days later.
    services.start("svc", config_file, "2026-03-19T10:00:00+08:00")
    # The ledger: before + contact overdue + deadline overdue/escalation + the day's
    # digest + one summary of the director's three escalations.
    expected = 4 + 3 + 3 * 2 + 1 + 1
    # What goes: before (the digest), the day's digest (taking in the overdue
    # notices), the director's summary.
    sent = 1 + 1 + 1
    wait_until("the catch-up delivered",
               lambda: len(hook.requests) >= sent and count(app, status="pending") == 0
               and count(app) == expected, services)
    # Ticks go on every second; nothing more comes of them.
    settled = time.monotonic() + 2.5
    while time.monotonic() < settled:
        assert count(app) == expected
        services.check_alive()
        time.sleep(0.25)
    assert services.terminate("svc") == 0

    with app.db.transaction() as s:
        rows = s.execute(select(CASES.c.key, NOTICES.c.kind, NOTICES.c.recipient)
                         .join(TASKS, TASKS.c.id == NOTICES.c.task_id)
                         .join(CASES, CASES.c.id == TASKS.c.case_id)
                         .order_by(NOTICES.c.id)).all()
        digest_days = [(p["day"], who) for p, who in s.execute(
            select(NOTICES.c.payload, NOTICES.c.recipient)
            .where(NOTICES.c.kind == "digest").order_by(NOTICES.c.id))]
    by_case: dict[str, list[tuple[str, str]]] = {}
    for key, kind, who in rows:
        by_case.setdefault(key, []).append((kind, who))
    for key in met:
        assert by_case[key] == [("due", "he.yu"), ("overdue", "he.yu")]
    for key in leads:  # no stale upcoming or due, one overdue, one escalation
        assert sorted(by_case[key]) == [("escalation", "chen.jie"), ("overdue", "he.yu")]
    assert digest_days == [("2026-03-09", "he.yu"), ("2026-03-19", "he.yu")]
    assert set(received(hook).values()) == {1}
    assert len(hook.requests) == sent


# --------------------------------------------------------------------------- SIGTERM


def test_sigterm_finishes_the_send_in_flight_hands_leases_back_and_exits_0(
    app: App, hook: HttpReceiver, services: Services, config_file: Path
) -> None:
    config = variant(config_file, "term.toml", lease=60)
    keys = add_notices(app, 50, hook.url)
    hook.hold()
    services.start("svc", config, NOW)
    wait_until("a send in flight", lambda: len(hook.requests) >= 1, services)
    in_flight = hook.requests[0][0][KEY_HEADER]
    assert len(leased(app)) == len(keys)  # the whole batch is leased to the service

    services.procs["svc"].send_signal(signal.SIGTERM)
    services.stopped.add("svc")
    time.sleep(0.5)  # let the handler run while the send is still held
    started = datetime.now()
    hook.release()
    code = services.procs["svc"].wait(timeout=30)
    assert code == 0, services.all_logs()
    assert (datetime.now() - started).total_seconds() < 10

    assert leased(app) == []  # every lease handed back
    assert count(app, idempotency_key=in_flight, status="sent") == 1  # finished, and marked
    assert count(app, status="sent") == 1 == len(hook.requests)
    assert count(app, status="pending", attempts=0) == len(keys) - 1
    assert "lease(s) handed back" in services.log("svc")


# --------------------------------------------------------------------------- moving work


PI_FIELDS = {"enterprise": "Qingneng", "industry": "new energy", "lead_source": "referral",
             "planned_investment": "100"}
DUE = "2026-03-16T09:30:00+08:00"  # the lead deadline's reminder is due


def work_moves(app: App, key: str) -> dict[str, Callable[[], Any]]:
    chen = resolve_actor(app, "chen.jie")
    with app.db.transaction() as s:
        task = s.scalar(select(TASKS.c.id).join(CASES, CASES.c.id == TASKS.c.case_id)
                        .where(CASES.c.key == key))
    return {
        # Handing a person's work over is an admin's (domain/permissions.py).
        "handover": lambda: handover(app, OFFICE_ADMIN, "he.yu", "ma.lin"),
        "reassign": lambda: reassign(app, chen, int(task or 0), "ma.lin"),
        "assign": lambda: assign(app, chen, key, "ma.lin"),
        "hold": lambda: advance(app, chen, key, "hold"),
    }


@pytest.mark.parametrize("move, answer", [
    ("handover", 200), ("reassign", 200), ("assign", 200), ("hold", 200),
    ("handover", 500), ("hold", 500),
])
def test_work_moved_while_a_service_is_sending_its_notice_is_delivered_once(
    app: App, hook: HttpReceiver, services: Services, config_file: Path, move: str,
    answer: int,
) -> None:
    add_person(app, "he.yu", name="He Yu", roles=["coordinator"], channel="webhook",
               address=hook.url + "/he-yu")
    add_person(app, "ma.lin", name="Ma Lin", roles=["coordinator"], channel="webhook",
               address=hook.url + "/ma-lin")
    add_person(app, "chen.jie", name="Chen Jie", roles=["director"])
    key = str(open_case(app, resolve_actor(app, "he.yu"), "project_introduction",
                        title="Fuel cells", fields=PI_FIELDS)["key"])

    # The receiver is slow: the service is in the middle of sending He Yu's reminder
    # (which will succeed, or fail) when the work moves or the state is left.
    hook.set_status(answer)
    hook.hold()
    services.start("svc", variant(config_file, "moves.toml", lease=60), DUE)
    wait_until("the reminder in flight", lambda: len(hook.requests) >= 1, services)
    work_moves(app, key)[move]()
    hook.set_status(200)
    hook.release()
    wait_until("the ledger settled", lambda: count(app, status="pending") == 0
               and leased(app) == [], services)
    assert services.terminate("svc") == 0

    got = received(hook)
    assert set(got.values()) == {1}, f"a notice went out twice: {got}"
    with app.db.transaction() as s:
        [row] = s.execute(select(NOTICES)).all()  # one reminder, never a second
    by_path = [path.rsplit("/", 1)[1] for path in hook.paths]
    if answer == 200:  # sent to He Yu while it moved: it stays sent, to He Yu
        assert by_path == ["he-yu"]
        assert (row.status, row.recipient) == ("sent", "he.yu")
        assert row.sent_at is not None and set(got) == {row.idempotency_key}
    elif move == "hold":  # failed while the state was left: withdrawn, not resent
        assert by_path == ["he-yu"]
        assert (row.status, row.sent_at) == ("cancelled", None)
    else:  # failed while it moved: Ma Lin gets it, once, and the ledger says so
        assert by_path == ["he-yu", "ma-lin"]
        assert (row.status, row.recipient) == ("sent", "ma.lin")
        assert got[row.idempotency_key] == 1 and ":ma.lin:" in row.idempotency_key


# --------------------------------------------------------------------------- scheduler tick


def test_sigterm_on_scheduler_tick_hands_leases_back_and_exits_0(
    app: App, hook: HttpReceiver, config_file: Path, tmp_path: Path
) -> None:
    config = variant(config_file, "tick.toml", lease=60)
    keys = add_notices(app, 50, hook.url)
    hook.hold()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
    env.update(TORCHFLOW_NOW=NOW, TORCHFLOW_WEBHOOK_SECRET=SECRET, PYTHONUNBUFFERED="1")
    log = tmp_path / "tick.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([TORCHFLOW, "--config", str(config), "scheduler", "tick"],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        assert hook.wait_for_requests(1, 30), log.read_text()
        assert len(leased(app)) == len(keys)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # let the handler run while the send is still held
        hook.release()
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert leased(app) == []  # every lease handed back at once, not after lease_seconds
    assert count(app, status="sent") == 1 == len(hook.requests)  # the one in flight, marked
    assert count(app, status="pending", attempts=0) == len(keys) - 1
    assert "lease(s) handed back" in log.read_text()
