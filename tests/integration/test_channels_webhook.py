"""WebhookChannel against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.receivers import HttpReceiver
from torchflow.channels import Message, WebhookChannel, verify_signature
from torchflow.errors import ConfigError, DeliveryError

SECRET = "s3cret-键"


def make_message(key: str = "notice-9", address: str = "") -> Message:
    return Message(
        idempotency_key=key,
        kind="escalation",
        recipient="li.na",
        address=address,
        subject="升级：平台建设 PB-2026-0002 超期",
        body="已超期 3 个工作日。",
        payload={"case": "PB-2026-0002", "task": 12, "due": "2026-03-06"},
    )


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as rec:
        yield rec


def test_200_delivers_signed_json(receiver: HttpReceiver) -> None:
    WebhookChannel(receiver.url, secret=SECRET, timeout=5).send(make_message())
    [(headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Torchflow-Idempotency-Key"] == "notice-9"
    assert headers["X-Torchflow-Signature"].startswith("sha256=")
    assert verify_signature(SECRET, body, headers["X-Torchflow-Signature"])
    assert not verify_signature("another secret", body, headers["X-Torchflow-Signature"])
    assert not verify_signature(SECRET, body + b" ", headers["X-Torchflow-Signature"])
    assert json.loads(body.decode("utf-8")) == {
        "idempotency_key": "notice-9",
        "kind": "escalation",
        "recipient": "li.na",
        "subject": "升级：平台建设 PB-2026-0002 超期",
        "body": "已超期 3 个工作日。",
        "payload": {"case": "PB-2026-0002", "task": 12, "due": "2026-03-06"},
    }


def test_a_resend_is_byte_identical(receiver: HttpReceiver) -> None:
    channel = WebhookChannel(receiver.url, secret=SECRET, timeout=5)
    channel.send(make_message())
    channel.send(make_message())
    (h1, b1), (h2, b2) = receiver.requests
    assert b1 == b2
    assert h1["X-Torchflow-Signature"] == h2["X-Torchflow-Signature"]


def test_no_secret_means_no_signature_header(receiver: HttpReceiver) -> None:
    WebhookChannel(receiver.url, timeout=5).send(make_message())
    [(headers, _)] = receiver.requests
    assert "X-Torchflow-Signature" not in headers


def test_the_person_address_overrides_the_default_url(receiver: HttpReceiver) -> None:
    channel = WebhookChannel("http://127.0.0.1:9/never-used", timeout=5)
    channel.send(make_message(address=receiver.url + "/li-na?team=zone-2"))
    assert receiver.paths == ["/hook/li-na?team=zone-2"]


@pytest.mark.parametrize("status", [500, 404, 302])
def test_non_2xx_is_a_delivery_error_naming_the_status(receiver: HttpReceiver, status: int) -> None:
    receiver.set_status(status)
    with pytest.raises(DeliveryError, match=f"answered {status} "):
        WebhookChannel(receiver.url, timeout=5).send(make_message())
    assert len(receiver.requests) == 1


def test_204_is_success(receiver: HttpReceiver) -> None:
    receiver.set_status(204)
    WebhookChannel(receiver.url, timeout=5).send(make_message())
    assert len(receiver.requests) == 1


def test_slow_receiver_times_out(receiver: HttpReceiver) -> None:
    receiver.hold()  # the handler waits on an Event; the fixture releases it
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"timed out after 0\.2s"):
        WebhookChannel(receiver.url, timeout=0.2).send(make_message())
    assert time.monotonic() - started < 2.0


def test_connection_refused_is_a_delivery_error() -> None:
    with HttpReceiver() as gone:
        url = gone.url
    with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
        WebhookChannel(url, timeout=5).send(make_message())


def test_no_url_at_all_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError) as info:
        WebhookChannel().send(make_message())
    assert str(info.value) == "no webhook URL: set [notify.webhook] url or the person's address"


def test_errors_do_not_reveal_the_url_path(receiver: HttpReceiver) -> None:
    receiver.set_status(500)
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(receiver.url + "/T0KEN-abc", timeout=5).send(make_message())
    assert "T0KEN" not in str(info.value)
    assert receiver.url.rsplit("/", 1)[0] in str(info.value)


def test_a_bad_person_address_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError, match="http:// or https://"):
        WebhookChannel(timeout=5).send(make_message(address="li.na@example.org"))


def test_a_bad_default_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[notify.webhook\] url"):
        WebhookChannel("ftp://example.org/hook")


def test_verify_signature_refuses_missing_parts() -> None:
    assert not verify_signature("", b"{}", "sha256=00")
    assert not verify_signature(SECRET, b"{}", "")
    assert not verify_signature(SECRET, b"{}", "sha256=ünicode")
