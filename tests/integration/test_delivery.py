"""End to end: cases -> sweep -> ledger -> dispatch -> a real SMTP server and a
real HTTP endpoint on 127.0.0.1, each person on their own channel; a failing
receiver is retried with backoff, declared dead, retried by hand, delivered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from msgspec.structs import replace
from sqlalchemy import update

from tests.conftest import OFFICE_ADMIN, Clock
from tests.receivers import HttpReceiver, SmtpReceiver
from torchflow.channels import verify_signature
from torchflow.channels.smtp import message_id
from torchflow.scheduler import tick
from torchflow.service.app import App
from torchflow.service.cases.change import open_case
from torchflow.service.delivery.dispatch import Channels, dispatch
from torchflow.service.delivery.ledger import list_notices, retry
from torchflow.service.delivery.sweep import sweep
from torchflow.service.people.lookup import Actor, resolve_actor
from torchflow.service.people.staff import add_person
from torchflow.store.models import PEOPLE

SECRET = "hook-secret-火炬"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the default configured zone, in which views show times

PI_FIELDS = {
    "enterprise": "Qingneng Hydrogen Co.",
    "industry": "new energy",
    "lead_source": "referral",
    "planned_investment": "50000",
}


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def wired(app: App, smtp: SmtpReceiver, hook: HttpReceiver,
          monkeypatch: pytest.MonkeyPatch) -> App:
    """The app with its SMTP server on the receiver and the webhook secret in the
    environment, as an operator would set them; people on smtp and on webhook."""
    monkeypatch.setenv("TORCHFLOW_WEBHOOK_SECRET", SECRET)
    notify = app.settings.notify.with_channel(
        "smtp", host=smtp.host, port=smtp.port, sender="torchflow@zone.example.cn",
        timeout_seconds=5)
    wired = replace(app, settings=replace(app.settings, notify=notify))
    add_person(wired, "ma.lin", name="Ma Lin", roles=["coordinator"],
               email="ma.lin@zone.example.cn", channel="smtp")
    add_person(wired, "he.yu", name="He Yu", roles=["coordinator"], channel="webhook",
               address=hook.url + "/he-yu")
    add_person(wired, "chen.jie", name="Chen Jie", roles=["director"],
               email="chen.jie@zone.example.cn", channel="smtp")
    return wired


def open_lead(app: App, owner: str, title: str) -> str:
    """A lead opened Wed 4 March: deadline 18 March, upcoming on the 16th."""
    actor: Actor = resolve_actor(app, owner)
    return str(open_case(app, actor, "project_introduction", title=title,
                         fields=PI_FIELDS)["key"])


def ledger(app: App) -> list[dict]:
    return list(reversed(list_notices(app)))


def test_each_person_is_told_on_their_own_channel(
    wired: App, smtp: SmtpReceiver, hook: HttpReceiver, clock: Clock
) -> None:
    mail_case = open_lead(wired, "ma.lin", "氢燃料电池项目")
    hook_case = open_lead(wired, "he.yu", "Wind turbine blades")
    clock.set("2026-03-16T09:30:00+08:00")

    result = tick(wired, Channels(wired.settings), "svc-1")

    assert (result.sweep.notices, result.dispatch.sent, result.dispatch.failed) == (2, 2, 0)
    assert smtp.wait_for_messages(1) and hook.wait_for_requests(1)
    [mail] = smtp.messages
    [(mail_from, rcpts)] = smtp.envelopes
    assert (mail_from, rcpts) == ("torchflow@zone.example.cn", ["ma.lin@zone.example.cn"])
    assert mail["To"] == "ma.lin@zone.example.cn"
    assert mail["Subject"] == f"[{mail_case}] 氢燃料电池项目: Deadline coming up on 2026-03-18"
    mail_key = mail["X-Torchflow-Idempotency-Key"]
    assert mail["Message-ID"] == message_id(mail_key)
    # A deadline's notice carries its event as a text/calendar attachment.
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and f"torchflow case show {mail_case}" in body.get_content()
    assert [p.get_content_type() for p in mail.iter_attachments()] == ["text/calendar"]

    [(headers, body)] = hook.requests
    assert hook.paths == ["/hook/he-yu"]
    assert verify_signature(SECRET, body, headers["X-Torchflow-Signature"], now=time.time())
    assert not verify_signature("not the secret", body, headers["X-Torchflow-Signature"],
                                now=time.time())
    sent = json.loads(body)
    assert sent["kind"] == "upcoming"
    assert sent["recipient"] == "he.yu"
    assert sent["payload"]["case"] == hook_case
    assert sent["idempotency_key"] == headers["X-Torchflow-Idempotency-Key"]

    rows = {n["to"]: n for n in ledger(wired)}
    assert rows["ma.lin"]["channel"] == "smtp" and rows["he.yu"]["channel"] == "webhook"
    assert rows["ma.lin"]["key"] == mail_key
    assert rows["he.yu"]["key"] == sent["idempotency_key"]
    assert {n["status"] for n in rows.values()} == {"sent"}

    # A second tick at the same moment sends nothing more.
    again = tick(wired, Channels(wired.settings), "svc-1")
    assert (again.sweep.notices, again.dispatch.sent) == (0, 0)
    assert len(smtp.messages) == 1 and len(hook.requests) == 1


def test_an_escalation_reaches_the_director_by_mail(
    wired: App, smtp: SmtpReceiver, hook: HttpReceiver, clock: Clock
) -> None:
    key = open_lead(wired, "he.yu", "Wind turbine blades")
    clock.set("2026-03-18T18:05:00+08:00")
    tick(wired, Channels(wired.settings), "svc-1")
    assert smtp.wait_for_messages(1)
    [mail] = smtp.messages
    assert mail["To"] == "chen.jie@zone.example.cn"
    assert mail["Subject"] == (f"[{key}] Wind turbine blades: Deadline not done by the end "
                               "of 2026-03-18")
    # The owner's digest of the day, on the owner's channel, has taken in the
    # overdue notice the same sweep made: one message, not two.
    assert hook.wait_for_requests(1)
    assert sorted(json.loads(body)["kind"] for _, body in hook.requests) == ["digest"]


def test_a_failing_endpoint_is_retried_with_backoff_then_dead_then_retried_by_hand(
    wired: App, hook: HttpReceiver, clock: Clock, wall: Clock
) -> None:
    open_lead(wired, "he.yu", "Wind turbine blades")
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(wired)
    channels = Channels(wired.settings)
    hook.set_status(500)

    assert dispatch(wired, channels, "svc").failed == 1
    [row] = ledger(wired)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "answered 500" in row["last_error"]
    assert row["retry_at"] == (wall.now + timedelta(seconds=1)).astimezone(SHANGHAI).isoformat()

    # Nothing is tried again before the backoff has passed.
    assert dispatch(wired, channels, "svc").failed == 0
    assert len(hook.requests) == 1

    wall.advance(seconds=1)  # backoff after attempt 1: 1 s
    assert dispatch(wired, channels, "svc").failed == 1
    assert len(hook.requests) == 2
    wall.advance(seconds=1)
    assert dispatch(wired, channels, "svc").failed == 0  # now 2 s
    wall.advance(seconds=1)
    result = dispatch(wired, channels, "svc")
    assert (result.failed, result.dead) == (0, 1)  # attempt 3 of 3
    assert len(hook.requests) == 3
    [row] = ledger(wired)
    assert (row["status"], row["attempts"]) == ("dead", 3)

    wall.advance(hours=6)
    assert dispatch(wired, channels, "svc").dead == 0
    assert len(hook.requests) == 3  # the dead stay dead

    hook.set_status(200)
    retry(wired, OFFICE_ADMIN, row["id"])
    assert dispatch(wired, channels, "svc").sent == 1
    [row] = ledger(wired)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, "")

    # Every attempt carried the same key and the same signed body.
    keys = {h["X-Torchflow-Idempotency-Key"] for h, _ in hook.requests}
    bodies = {b for _, b in hook.requests}
    assert keys == {row["key"]} and len(bodies) == 1
    assert len(hook.requests) == 4
    for headers, body in hook.requests:
        assert verify_signature(SECRET, body, headers["X-Torchflow-Signature"], now=time.time())


def test_a_refusing_mail_server_is_retried_and_delivers(
    wired: App, smtp: SmtpReceiver, clock: Clock, wall: Clock
) -> None:
    open_lead(wired, "ma.lin", "Battery recycling")
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(wired)
    smtp.fail_next_mail("451 4.3.0 try again later")
    channels = Channels(wired.settings)

    assert dispatch(wired, channels, "svc").failed == 1
    [row] = ledger(wired)
    assert "451" in row["last_error"]
    assert smtp.messages == []

    wall.advance(seconds=1)
    assert dispatch(wired, channels, "svc").sent == 1
    assert smtp.wait_for_messages(1)
    [mail] = smtp.messages
    assert mail["X-Torchflow-Idempotency-Key"] == row["key"]
    channels.close()


def test_a_person_without_an_address_is_held_not_dead_and_sent_once_mended(
    wired: App, smtp: SmtpReceiver, clock: Clock, wall: Clock
) -> None:
    # A person from before the address check (today `person add` refuses smtp without
    # an e-mail): their e-mail cleared behind torchflow's back.
    add_person(wired, "lu.qi", name="Lu Qi", roles=["coordinator"], channel="smtp",
               email="lu.qi@zone.example.cn")
    with wired.db.transaction() as s:
        s.execute(update(PEOPLE).where(PEOPLE.c.handle == "lu.qi").values(email=""))
    open_lead(wired, "lu.qi", "Orphan lead")
    open_lead(wired, "ma.lin", "Someone else's lead")
    clock.set("2026-03-16T09:30:00+08:00")
    sweep(wired)
    channels = Channels(wired.settings)
    for _ in range(3):
        dispatch(wired, channels, "svc")
        wall.advance(seconds=5)
    [held] = list_notices(wired, status="held")
    assert (held["to"], held["status"], held["attempts"]) == ("lu.qi", "held", 0)
    assert held["reason"].startswith("the smtp channel needs an e-mail address")
    assert [n["to"] for n in list_notices(wired, status="sent")] == ["ma.lin"]
    assert smtp.wait_for_messages(1) and len(smtp.messages) == 1  # the others go on

    with wired.db.transaction() as s:  # mended: the address is set again
        s.execute(update(PEOPLE).where(PEOPLE.c.handle == "lu.qi")
                  .values(email="lu.qi@zone.example.cn"))
    assert dispatch(wired, Channels(wired.settings), "svc").sent == 1
    assert list_notices(wired, status="held").total == 0
    assert smtp.wait_for_messages(2) and smtp.envelopes[-1][1] == ["lu.qi@zone.example.cn"]
