"""The service at start and between ticks: a webhook without a secret is refused
in one line; a tick that fails with a TorchflowError logs one line and the next
tick retries; addresses with tokens are shown masked."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import with_settings
from torchflow import scheduler as scheduler_module
from torchflow.config import load_settings
from torchflow.errors import ConfigError, TorchflowError
from torchflow.scheduler import Service, tick_once
from torchflow.service.app import App
from torchflow.service.people.staff import add_person, list_people

NO_SECRET = ("webhook channel: no secret in $TORCHFLOW_WEBHOOK_SECRET; set it, or set "
             "[notify.webhook] allow_unsigned = true to send unsigned requests")


@pytest.fixture
def hooked(app: App, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.delenv("TORCHFLOW_WEBHOOK_SECRET", raising=False)
    add_person(app, "he.yu", name="He Yu", roles=["coordinator"], channel="webhook",
               address="http://127.0.0.1:9/hook")
    return app


def unsigned_allowed(app: App) -> App:
    notify = app.settings.notify
    return with_settings(app, notify=replace(
        notify, webhook=replace(notify.webhook, allow_unsigned=True)))


def test_a_webhook_without_a_secret_refuses_the_service_and_the_tick(hooked: App) -> None:
    with pytest.raises(ConfigError) as refused:
        Service(hooked).run()
    assert str(refused.value) == NO_SECRET
    with pytest.raises(ConfigError, match="no secret"):
        tick_once(hooked)


def test_allow_unsigned_lets_it_start(hooked: App) -> None:
    result = tick_once(unsigned_allowed(hooked))
    assert result.dispatch.sent == 0


def test_a_secret_lets_it_start(hooked: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHFLOW_WEBHOOK_SECRET", "s3cret")
    assert tick_once(hooked).dispatch.failed == 0


def test_no_webhook_in_use_needs_no_secret(app: App) -> None:
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
    assert load_settings(config_file, env={}).notify.webhook.allow_unsigned is False
    text = config_file.read_text(encoding="utf-8")
    unsigned = text.replace("[notify.webhook]\n", "[notify.webhook]\nallow_unsigned = true\n")
    config_file.write_text(unsigned, encoding="utf-8")
    assert load_settings(config_file, env={}).notify.webhook.allow_unsigned is True
