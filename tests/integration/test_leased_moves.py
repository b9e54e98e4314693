"""A leased notice is never re-addressed or withdrawn under its sender's feet.

Handover, reassign and assign move only notices no sender holds; leaving a
state withdraws only those. A held one is resolved by its sender first: sent,
it stays sent, to whom it went (delivered once); failed, handed back, or left
by a sender whose lease ran out, it is moved or withdrawn then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, Clock
from torchflow.channels import Message, StubChannel
from torchflow.errors import DeliveryError, Refused
from torchflow.service.app import App
from torchflow.service.cases.change import advance, assign, open_case
from torchflow.service.delivery.dispatch import Channels, dispatch, wall_clock
from torchflow.service.delivery.ledger import claim, release, retry
from torchflow.service.delivery.sweep import sweep
from torchflow.service.followups.work import reassign
from torchflow.service.people.handover import handover
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, NOTICES, TASKS


class Meddling(StubChannel):
    """Runs ``act`` (once) while its first send is in flight, then succeeds or fails."""

    def __init__(self, act: Callable[[], Any] | None, fail: bool = False) -> None:
        super().__init__(name="file")
        self.act, self.fail = act, fail

    def send(self, message: Message) -> None:
        if self.act is not None:
            act, self.act = self.act, None
            act()
        if self.fail:
            raise DeliveryError("receiver down")
        super().send(message)


def one_notice_to_wang(app: App, staff: dict[str, Actor], clock: Clock) -> str:
    key = str(open_case(app, staff["wang.li"], "project_introduction", title="Fuel cells",
                        fields=PI_FIELDS)["key"])
    clock.set("2026-03-16T09:30:00+08:00")  # the lead deadline's reminder
    sweep(app)
    assert [(n.recipient, n.status) for n in ledger(app)] == [("wang.li", "pending")]
    return key


def ledger(app: App) -> list[Any]:
    with app.db.transaction() as s:
        return list(s.execute(select(NOTICES).order_by(NOTICES.c.id)))


def task_id(app: App, key: str) -> int:
    with app.db.transaction() as s:
        return int(s.scalar(select(TASKS.c.id).join(CASES, CASES.c.id == TASKS.c.case_id)
                            .where(CASES.c.key == key)) or 0)


def moves(app: App, staff: dict[str, Actor], key: str) -> dict[str, Callable[[], Any]]:
    chen = staff["chen.jie"]
    return {
        "handover": lambda: handover(app, OFFICE_ADMIN, "wang.li", "zhao.min"),
        "reassign": lambda: reassign(app, chen, task_id(app, key), "zhao.min"),
        "assign": lambda: assign(app, chen, key, "zhao.min"),
    }


@pytest.mark.parametrize("move", ["handover", "reassign", "assign"])
def test_a_notice_sent_while_it_moves_stays_sent_to_the_old_person_once(
    app: App, staff: dict[str, Actor], clock: Clock, move: str
) -> None:
    key = one_notice_to_wang(app, staff, clock)
    channel = Meddling(moves(app, staff, key)[move])
    assert dispatch(app, Channels(app.settings, {"file": channel}), "A").sent == 1

    [row] = ledger(app)  # nothing new was made for the new person
    assert (row.status, row.recipient, row.deferred) == ("sent", "wang.li", None)
    assert row.sent_at is not None and ":wang.li:" in row.idempotency_key
    assert [m.recipient for m in channel.sent] == ["wang.li"]
    assert dispatch(app, Channels(app.settings, {"file": StubChannel(name="file")}), "B").sent == 0


@pytest.mark.parametrize("move", ["handover", "reassign", "assign"])
def test_a_notice_whose_send_fails_while_it_moves_goes_to_the_new_person(
    app: App, staff: dict[str, Actor], clock: Clock, move: str
) -> None:
    key = one_notice_to_wang(app, staff, clock)
    failing = Meddling(moves(app, staff, key)[move], fail=True)
    assert dispatch(app, Channels(app.settings, {"file": failing}), "A").failed == 1

    [row] = ledger(app)
    assert (row.status, row.recipient, row.deferred, row.attempts) == (
        "pending", "zhao.min", None, 0)
    assert ":zhao.min:" in row.idempotency_key
    ok = StubChannel(name="file")
    assert dispatch(app, Channels(app.settings, {"file": ok}), "B").sent == 1
    assert [m.recipient for m in ok.sent] == ["zhao.min"]
    assert ledger(app)[0].status == "sent"


def test_handover_reports_a_notice_in_flight(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    one_notice_to_wang(app, staff, clock)
    claim(app, "A", 10)
    out = handover(app, OFFICE_ADMIN, "wang.li", "zhao.min")
    assert (out.notices, out.in_flight) == (0, 1)
    [row] = ledger(app)
    assert (row.recipient, row.lease_owner, row.deferred) == ("wang.li", "A", "move:zhao.min")


def test_a_handed_back_notice_moves_when_released(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    one_notice_to_wang(app, staff, clock)
    claim(app, "A", 10)
    handover(app, OFFICE_ADMIN, "wang.li", "zhao.min")
    assert release(app, "A") == 1
    [row] = ledger(app)
    assert (row.recipient, row.lease_owner, row.deferred, row.attempts) == (
        "zhao.min", None, None, 0)


def test_a_dead_senders_notice_is_moved_by_the_next_claim(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    one_notice_to_wang(app, staff, clock)
    # Sender A claimed it and died: its lease has run out.
    claim(app, "A", 10, wall=wall_clock() - timedelta(minutes=10))
    handover(app, OFFICE_ADMIN, "wang.li", "zhao.min")
    assert ledger(app)[0].deferred == "move:zhao.min"

    [taken] = claim(app, "B", 10)
    assert taken.message.recipient == "zhao.min"
    assert ":zhao.min:" in taken.message.idempotency_key
    [row] = ledger(app)
    assert (row.recipient, row.lease_owner, row.deferred) == ("zhao.min", "B", None)


def test_a_second_handover_follows_a_notice_still_in_flight(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    one_notice_to_wang(app, staff, clock)
    claim(app, "A", 10)
    handover(app, OFFICE_ADMIN, "wang.li", "zhao.min")
    handover(app, OFFICE_ADMIN, "zhao.min", "liu.yang")  # zhao's work, the deferred notice too
    assert ledger(app)[0].deferred == "move:liu.yang"
    release(app, "A")
    assert ledger(app)[0].recipient == "liu.yang"


# --------------------------------------------------------------------------- withdrawing


def test_leaving_the_state_while_the_notice_is_sent_keeps_it_sent(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = one_notice_to_wang(app, staff, clock)
    channel = Meddling(lambda: advance(app, staff["wang.li"], key, "hold"))
    assert dispatch(app, Channels(app.settings, {"file": channel}), "A").sent == 1
    [row] = ledger(app)
    assert (row.status, row.deferred) == ("sent", None)
    assert row.sent_at is not None  # delivered, and the ledger says when


def test_leaving_the_state_while_the_send_fails_withdraws_the_notice(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = one_notice_to_wang(app, staff, clock)
    channel = Meddling(lambda: advance(app, staff["wang.li"], key, "hold"), fail=True)
    assert dispatch(app, Channels(app.settings, {"file": channel}), "A").failed == 1
    [row] = ledger(app)
    assert (row.status, row.lease_owner, row.deferred, row.sent_at) == (
        "cancelled", None, None, None)


def test_a_withdrawal_wins_over_a_move_in_flight(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = one_notice_to_wang(app, staff, clock)
    claim(app, "A", 10)
    assign(app, staff["chen.jie"], key, "zhao.min")
    advance(app, staff["zhao.min"], key, "hold")
    assert ledger(app)[0].deferred == "withdraw"
    handover(app, OFFICE_ADMIN, "wang.li", "liu.yang")
    assert ledger(app)[0].deferred == "withdraw"
    release(app, "A")
    assert ledger(app)[0].status == "cancelled"


def test_unleased_notices_still_move_and_withdraw_at_once(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = one_notice_to_wang(app, staff, clock)
    out = handover(app, OFFICE_ADMIN, "wang.li", "zhao.min")
    assert (out.notices, out.in_flight) == (1, 0)
    assert ledger(app)[0].recipient == "zhao.min"
    advance(app, staff["zhao.min"], key, "hold")
    assert ledger(app)[0].status == "cancelled"


def test_a_notice_being_sent_is_not_retried_under_its_sender(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    one_notice_to_wang(app, staff, clock)
    [held] = claim(app, "A", 10)
    with pytest.raises(Refused, match="being sent right now"):
        retry(app, OFFICE_ADMIN, held.id)
    assert ledger(app)[0].lease_owner == "A"
