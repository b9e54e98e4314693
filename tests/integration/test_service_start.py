"""The service at start and between ticks: a webhook without a secret is refused
when a person's channel is set to it; a configuration that loses the secret later
holds only those notices (marked, listed, sent once mended) and the service
carries on; a tick that fails with a TorchflowError logs one line and the next
tick retries; addresses with tokens are shown masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from tests.conftest import with_settings
from tests.receivers import SmtpReceiver
from torchflow import scheduler as scheduler_module
from torchflow.channels.webhook import WebhookSettings
from torchflow.config import load_settings
from torchflow.errors import InvalidInput, TorchflowError
from torchflow.scheduler import Service, tick_once
from torchflow.service.app import App
from torchflow.service.delivery.ledger import list_notices
from torchflow.service.people.staff import add_person, edit_person, list_people, show_person
from torchflow.store.models import NOTICES

NO_SECRET = ("webhook channel: no secret in $TORCHFLOW_WEBHOOK_SECRET; set it, or set "
             "[notify.webhook] allow_unsigned = true to send unsigned requests")


@pytest.fixture
def hooked(app: App, monkeypatch: pytest.MonkeyPatch) -> App:
    """He Yu on the webhook channel, set while the secret was there; then the
    service is started without it (a configuration changed since)."""
    add_person(app, "he.yu", name="He Yu", roles=["coordinator"], channel="webhook",
               address="http://127.0.0.1:9/hook")
    add_person(app, "ma.lin", name="Ma Lin", roles=["coordinator"])  # the file channel
    for i, owner in enumerate(("he.yu", "ma.lin")):
        channel = "webhook" if owner == "he.yu" else "file"
        add_due_notice(app, f"task:{i}:1:due:{owner}:{channel}:2026-03-04", owner, channel,
                       "http://127.0.0.1:9/hook" if owner == "he.yu" else "")
    monkeypatch.delenv("TORCHFLOW_WEBHOOK_SECRET", raising=False)
    return app


def add_due_notice(app: App, key: str, to: str, channel: str, address: str) -> None:
    now = app.now()
    with app.db.transaction() as s:
        s.execute(insert(NOTICES).values(
            idempotency_key=key, task_id=None, kind="due", channel=channel, recipient=to,
            address=address, subject=f"notice {key}", body=key, payload={}, status="pending",
            attempts=0, not_before=now, created_at=now, last_error=""))


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


def unsigned_allowed(app: App) -> App:
    return with_settings(app, notify=app.settings.notify.with_channel(
        "webhook", allow_unsigned=True))


def test_a_webhook_without_a_secret_is_refused_when_set(app: App,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHFLOW_WEBHOOK_SECRET", raising=False)
    with pytest.raises(InvalidInput) as refused:
        add_person(app, "he.yu", name="He Yu", channel="webhook", address="https://h.example/x")
    assert str(refused.value) == NO_SECRET
    assert list_people(app) == []


def test_a_webhook_without_a_secret_holds_its_notices_and_the_service_carries_on(
    hooked: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="torchflow.dispatch"):
        result = tick_once(hooked)  # starts: no exit, no traceback
    assert (result.dispatch.sent, result.dispatch.failed) == (1, 0)  # Ma Lin's
    [held] = list_notices(hooked, status="held")
    assert (held["to"], held["attempts"], held["reason"]) == ("he.yu", 0, NO_SECRET)
    assert f"channel webhook cannot be used: {NO_SECRET}" in caplog.text
    assert show_person(hooked, "he.yu")["delivery_problems"] == [
        {"id": held["id"], "kind": "due", "status": "held", "channel": "webhook", "reason": "",
         "error": NO_SECRET}]
    assert tick_once(hooked).dispatch.failed == 0  # still held, not failed or dead


def test_a_held_notice_is_sent_once_the_configuration_is_mended(
    hooked: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    tick_once(hooked)
    monkeypatch.setenv("TORCHFLOW_WEBHOOK_SECRET", "s3cret")  # and the service restarted
    result = tick_once(hooked)
    # Out of the hold and tried (nothing listens on port 9): a failure like any other.
    assert result.dispatch.failed == 1
    assert list_notices(hooked, status="held").total == 0
    [pending] = list_notices(hooked, status="pending")
    assert pending["to"] == "he.yu" and "ConnectionRefusedError" in pending["last_error"]


def test_a_held_notice_follows_the_person_to_another_channel(
    hooked: App, smtp: SmtpReceiver
) -> None:
    tick_once(hooked)
    mailed = with_settings(hooked, notify=hooked.settings.notify.with_channel(
        "smtp", host=smtp.host, port=smtp.port, timeout_seconds=2))
    edit_person(mailed, "he.yu", channel="smtp", email="he.yu@zone.example.cn")
    assert tick_once(mailed).dispatch.sent == 1
    [sent] = [n for n in list_notices(mailed, status="sent") if n["to"] == "he.yu"]
    assert sent["channel"] == "smtp" and sent["key"] == "task:0:1:due:he.yu:smtp:2026-03-04"
    assert smtp.wait_for_messages(1)
    assert smtp.envelopes[0][1] == ["he.yu@zone.example.cn"]


def test_allow_unsigned_lets_it_send(hooked: App) -> None:
    result = tick_once(unsigned_allowed(hooked))
    assert (result.dispatch.sent, result.dispatch.failed) == (1, 1)
    assert list_notices(hooked, status="held").total == 0


def test_no_webhook_in_use_needs_no_secret(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHFLOW_WEBHOOK_SECRET", raising=False)
    assert tick_once(app).dispatch.sent == 0


def test_a_tick_failing_with_a_torchflow_error_logs_one_line_and_the_next_retries(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service = Service(app)
    calls = []

    def busy_once(*args: object) -> object:
        calls.append(args)
        if len(calls) == 1:
            raise TorchflowError("database is busy, try again")
        return real_tick(*args)

    real_tick = scheduler_module.tick
    monkeypatch.setattr(scheduler_module, "tick", busy_once)
    with caplog.at_level(logging.INFO, logger="torchflow.scheduler"):
        service._tick()
        service._tick()
    failed = [r for r in caplog.records if "tick failed" in r.getMessage()]
    assert [r.getMessage() for r in failed] == [
        "tick failed: database is busy, try again; trying again next tick"]
    assert failed[0].exc_info is None  # no traceback
    assert len(calls) == 2  # the next tick ran


def test_person_list_masks_tokens_in_addresses(app: App) -> None:
    add_person(app, "he.yu", name="He Yu", channel="webhook",
               address="https://hooks.example.org/services/T0123/XoXb9f8e7d6c5b4a3?key=abc")
    add_person(app, "ma.lin", name="Ma Lin", channel="webhook",
               address="https://bot:pa55word@example.org/hook")
    shown = {p["handle"]: p["address"] for p in list_people(app)}
    assert shown == {"he.yu": "https://hooks.example.org/services/T0123/XoX***?***",
                     "ma.lin": "https://***@example.org/hook"}


def test_allow_unsigned_is_read_from_the_config_file(config_file: Path) -> None:
    def unsigned() -> bool:
        notify = load_settings(config_file, env={}).notify
        return notify.of("webhook", WebhookSettings).allow_unsigned

    assert unsigned() is False
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace("[notify.webhook]\n",
                                        "[notify.webhook]\nallow_unsigned = true\n"),
                           encoding="utf-8")
    assert unsigned() is True
