"""Dispatch: claim pending notices under a lease, send, mark; back off on failure,
give up after the last attempt, hand leases back; and when a lease runs out, the
next owner resends under the same idempotency key."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import insert, select

from tests.conftest import OFFICE_ADMIN, Clock, with_settings
from torchflow.channels import Message, StubChannel
from torchflow.config import Settings
from torchflow.errors import DeliveryError, Refused
from torchflow.service.app import App, build_app
from torchflow.service.delivery import dispatch as dispatch_module
from torchflow.service.delivery import ledger as ledger_module
from torchflow.service.delivery.dispatch import Channels, dispatch, wall_clock
from torchflow.service.delivery.ledger import Claimed, claim, list_notices, release, retry
from torchflow.store.models import NOTICES


def add_notices(app: App, count: int, *, channel: str = "file", prefix: str = "n",
                not_before: datetime | None = None) -> list[int]:
    """Pending notices straight into the ledger (dispatch does not care where from)."""
    now = app.now()
    rows = [{
        "idempotency_key": f"{prefix}:{i}", "task_id": None, "kind": "due",
        "channel": channel, "recipient": "wang.li", "address": "",
        "subject": f"notice {i}", "body": f"body {i}", "payload": {"i": i},
        "status": "pending", "attempts": 0, "not_before": not_before or now,
        "created_at": now, "last_error": "",
    } for i in range(count)]
    with app.db.transaction() as s:
        s.execute(insert(NOTICES), rows)
        return list(s.scalars(select(NOTICES.c.id).where(
            NOTICES.c.idempotency_key.like(f"{prefix}:%")).order_by(NOTICES.c.id)))


def rows(app: App) -> dict[int, Any]:
    with app.db.transaction() as s:
        return {r.id: r for r in s.execute(select(NOTICES).order_by(NOTICES.c.id))}


def stub_channels(app: App, stub: StubChannel) -> Channels:
    return Channels(app.settings, {"file": stub})


# --------------------------------------------------------------------------- claiming


def test_a_claim_leases_the_due_notices_in_order(app: App) -> None:
    ids = add_notices(app, 5)
    later = add_notices(app, 1, prefix="later", not_before=app.now() + timedelta(minutes=5))
    wall = wall_clock()

    claimed = claim(app, "A", 3, wall=wall)

    assert [c.id for c in claimed] == ids[:3]
    assert all(isinstance(c, Claimed) and c.attempts == 1 for c in claimed)
    assert claimed[0].message.idempotency_key == "n:0"
    assert claimed[0].message.payload == {"i": 0}
    table = rows(app)
    for i in ids[:3]:
        assert table[i].lease_owner == "A"
        assert table[i].lease_until == wall + timedelta(seconds=5)
        assert table[i].attempts == 1
        assert table[i].status == "pending"
    for i in ids[3:] + later:
        assert (table[i].lease_owner, table[i].attempts) == (None, 0)
    # The rest, but never what is not due yet.
    assert [c.id for c in claim(app, "A", 10, wall=wall)] == ids[3:]


def test_a_second_owner_gets_nothing_while_the_lease_holds(app: App) -> None:
    ids = add_notices(app, 4)
    wall = wall_clock()
    assert len(claim(app, "A", 10, wall=wall)) == 4
    assert claim(app, "B", 10, wall=wall) == []
    assert claim(app, "B", 10, wall=wall + timedelta(seconds=4.9)) == []
    # Once the lease has run out, the notices are anyone's again.
    taken = claim(app, "B", 10, wall=wall + timedelta(seconds=5.1))
    assert [c.id for c in taken] == ids
    assert all(c.attempts == 2 for c in taken)
    assert {r.lease_owner for r in rows(app).values()} == {"B"}


def test_an_expired_lease_is_resent_by_another_owner_under_the_same_key(app: App) -> None:
    """A crash between send and mark: the next owner sends again, same key, same words."""
    add_notices(app, 3)
    crashed = StubChannel(name="file")
    for notice in claim(app, "A", 10, wall=wall_clock() - timedelta(seconds=60)):
        crashed.send(notice.message)  # ...and A dies before marking it sent

    survivor = StubChannel(name="file")
    result = dispatch(app, stub_channels(app, survivor), "B")

    assert result.sent == 3
    assert [m.idempotency_key for m in survivor.sent] == [m.idempotency_key
                                                          for m in crashed.sent]
    assert survivor.sent == crashed.sent  # byte for byte the same message
    for row in rows(app).values():
        assert (row.status, row.attempts, row.lease_owner) == ("sent", 2, None)
        assert row.sent_at == app.now()
    assert release(app, "A") == 0  # A's lease is long gone


def test_claims_from_many_workers_at_once_never_overlap(app: App, settings: Settings,
                                                       clock: Clock) -> None:
    ids = add_notices(app, 120)
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(name: str) -> None:
        own = build_app(settings, clock=clock)
        mine: list[int] = []
        try:
            start.wait()
            while batch := claim(own, name, 7):
                mine += [c.id for c in batch]
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            own.close()
            got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    claimed = [i for mine in got.values() for i in mine]
    assert sorted(claimed) == ids  # every notice once, none twice
    owners = {r.id: r.lease_owner for r in rows(app).values()}
    for name, mine in got.items():
        assert all(owners[i] == name for i in mine)


# --------------------------------------------------------------------------- sending


def test_dispatch_sends_marks_and_reports(app: App) -> None:
    ids = add_notices(app, 5)
    stub = StubChannel(name="file")
    seen: list[tuple[int, str]] = []
    result = dispatch(app, stub_channels(app, stub), "A",
                      on_result=lambda n, outcome, _: seen.append((n.id, outcome)))
    assert (result.sent, result.failed, result.dead, result.released) == (5, 0, 0, 0)
    assert seen == [(i, "sent") for i in ids]
    assert [m.idempotency_key for m in stub.sent] == [f"n:{i}" for i in range(5)]
    assert {(r.status, r.lease_owner, r.last_error) for r in rows(app).values()} == {
        ("sent", None, "")}
    # Nothing is sent twice.
    assert dispatch(app, stub_channels(app, stub), "A").sent == 0
    assert len(stub.sent) == 5


def test_dispatch_goes_through_more_than_one_batch(app: App) -> None:
    small = with_settings(app, scheduler=replace(app.settings.scheduler, batch_size=3))
    add_notices(small, 8)
    stub = StubChannel(name="file")
    assert dispatch(small, stub_channels(small, stub), "A").sent == 8
    assert len({m.idempotency_key for m in stub.sent}) == 8


def test_a_failure_waits_by_backoff_then_dies_after_max_attempts(
    app: App, clock: Clock, wall: Clock
) -> None:
    [nid] = add_notices(app, 1)
    stub = StubChannel(fail_times=10, name="file")
    channels = stub_channels(app, stub)
    start = wall.now

    result = dispatch(app, channels, "A")
    assert (result.sent, result.failed, result.dead) == (0, 1, 0)
    row = rows(app)[nid]
    assert (row.status, row.attempts, row.lease_owner, row.lease_until) == (
        "pending", 1, None, None)
    # Backoff is wall-clock time; the business due time stays as it was.
    assert row.retry_at == start + timedelta(seconds=1)  # base 1 s after the 1st failure
    assert row.not_before == app.now()
    assert "stub failure 1" in row.last_error

    assert dispatch(app, channels, "A").failed == 0  # not before its time
    wall.advance(seconds=0.9)
    clock.advance(hours=5)  # business time does not make a retry come sooner
    assert dispatch(app, channels, "A").failed == 0
    assert stub.attempts == 1

    wall.advance(seconds=0.1)
    assert dispatch(app, channels, "A").failed == 1
    row = rows(app)[nid]
    assert row.attempts == 2
    assert row.retry_at == wall.now + timedelta(seconds=2)  # doubled

    wall.advance(seconds=2)
    result = dispatch(app, channels, "A")
    assert (result.failed, result.dead) == (0, 1)  # 3 of max_attempts = 3
    row = rows(app)[nid]
    assert (row.status, row.attempts, row.lease_owner) == ("dead", 3, None)
    assert "stub failure 3" in row.last_error

    wall.advance(hours=2)
    assert dispatch(app, channels, "A").dead == 0
    assert stub.attempts == 3

    # A person looks at it and retries: fresh attempts, at once.
    assert retry(app, OFFICE_ADMIN, nid).ids == (nid,)
    row = rows(app)[nid]
    assert (row.status, row.attempts, row.retry_at) == ("pending", 0, None)
    stub.fail_times = 0
    assert dispatch(app, channels, "A").sent == 1
    assert [n["status"] for n in list_notices(app)] == ["sent"]
    assert [m.idempotency_key for m in stub.sent] == ["n:0"]


def test_backoff_is_capped(app: App, wall: Clock) -> None:
    patient = with_settings(app, scheduler=replace(app.settings.scheduler, max_attempts=6))
    [nid] = add_notices(patient, 1)
    channels = stub_channels(patient, StubChannel(fail_times=10, name="file"))
    waits = []
    for _ in range(5):
        dispatch(patient, channels, "A")
        row = rows(patient)[nid]
        waits.append((row.retry_at - wall.now).total_seconds())
        wall.now = row.retry_at
    assert waits == [1, 2, 4, 4, 4]  # backoff_max_seconds = 4
    dispatch(patient, channels, "A")
    assert rows(patient)[nid].status == "dead"


def test_retry_refuses_a_sent_notice(app: App) -> None:
    [nid] = add_notices(app, 1)
    dispatch(app, stub_channels(app, StubChannel(name="file")), "A")
    with pytest.raises(Refused, match="sent"):
        retry(app, OFFICE_ADMIN, nid)


def test_an_unknown_channel_is_held_not_a_crash(app: App) -> None:
    [nid] = add_notices(app, 1, channel="pigeon")
    result = dispatch(app, Channels(app.settings), "A")
    assert (result.sent, result.failed) == (0, 0)
    row = rows(app)[nid]
    assert (row.status, row.attempts, row.lease_owner) == ("pending", 0, None)
    assert row.held.startswith("unknown channel 'pigeon'")


# --------------------------------------------------------------------------- handing back


def test_release_hands_leases_back_for_another_owner(app: App) -> None:
    ids = add_notices(app, 4)
    claim(app, "A", 10)
    assert release(app, "A", ids[:1]) == 1
    table = rows(app)
    assert (table[ids[0]].lease_owner, table[ids[0]].attempts) == (None, 0)
    assert table[ids[1]].lease_owner == "A"
    assert [c.id for c in claim(app, "B", 10)] == ids[:1]

    assert release(app, "A") == 3
    assert {(r.lease_owner, r.attempts) for r in rows(app).values() if r.id != ids[0]} == {
        (None, 0)}
    assert [c.id for c in claim(app, "B", 10)] == ids[1:]
    assert release(app, "nobody") == 0


def test_stop_finishes_the_send_in_flight_and_hands_back_the_rest(app: App) -> None:
    ids = add_notices(app, 5)
    stop = threading.Event()
    stub = StubChannel(name="file")
    result = dispatch(app, stub_channels(app, stub), "A", stop=stop,
                      on_result=lambda *_: stop.set())
    assert (result.sent, result.released) == (1, 4)
    table = rows(app)
    assert table[ids[0]].status == "sent"
    for i in ids[1:]:
        assert (table[i].status, table[i].lease_owner, table[i].attempts) == ("pending", None, 0)


class SlowChannel(StubChannel):
    """Each send takes 3 s of (fake) wall-clock time."""

    def __init__(self, wall: list[datetime]) -> None:
        super().__init__(name="file")
        self.wall = wall

    def send(self, message: Message) -> None:
        self.wall[0] += timedelta(seconds=3)
        super().send(message)


def test_a_lease_that_runs_out_mid_batch_stops_the_batch(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow sends outlive the 5 s lease; another owner claims the rest and must be
    the only one to send them."""
    add_notices(app, 4)
    wall = [wall_clock()]
    monkeypatch.setattr(dispatch_module, "wall_clock", lambda: wall[0])
    monkeypatch.setattr(ledger_module, "wall_clock", lambda: wall[0])  # claims are the ledger's
    slow = SlowChannel(wall)
    lease_end = wall[0] + timedelta(seconds=5)
    taken: list[Claimed] = []

    def other_owner_claims(*_: object) -> None:
        if not taken and wall[0] > lease_end:
            taken.extend(claim(app, "B", 10))

    dispatch(app, stub_channels(app, slow), "A", on_result=other_owner_claims)

    assert [c.message.idempotency_key for c in taken] == ["n:2", "n:3"]
    assert [m.idempotency_key for m in slow.sent] == ["n:0", "n:1"]  # not B's
    assert {r.lease_owner for r in rows(app).values() if r.status == "pending"} == {"B"}
    # When B's lease runs out in turn, a third owner sends them: each key once in all.
    wall[0] += timedelta(seconds=10)
    dispatch(app, stub_channels(app, slow), "C")
    assert sorted(m.idempotency_key for m in slow.sent) == ["n:0", "n:1", "n:2", "n:3"]


def test_a_delivery_error_from_a_channel_is_stored_on_one_line(app: App) -> None:
    class Broken(StubChannel):
        def send(self, message: Message) -> None:
            raise DeliveryError("smtp 127.0.0.1:25: 451 try again later")

    [nid] = add_notices(app, 1)
    dispatch(app, Channels(app.settings, {"file": Broken(name="file")}), "A")
    assert rows(app)[nid].last_error == "smtp 127.0.0.1:25: 451 try again later"
