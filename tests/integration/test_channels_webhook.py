"""WebhookChannel against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.receivers import HttpReceiver
from torchflow.channels import Message, WebhookChannel, shown_address, verify_signature
from torchflow.channels.guard import HostPolicy
from torchflow.channels.webhook import sign
from torchflow.errors import ConfigError, DeliveryError

SECRET = "s3cret-键"
LOCAL = HostPolicy.allowing(["127.0.0.1"])  # the receivers listen there


def local_hook(url: str = "", **options: Any) -> WebhookChannel:
    """The channel as an office that lists 127.0.0.1 in [notify] allow_hosts has it."""
    return WebhookChannel(url, hosts=LOCAL, **options)


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
    sent_at = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    local_hook(receiver.url, secret=SECRET, timeout=5, clock=lambda: sent_at).send(
        make_message())
    [(headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Torchflow-Idempotency-Key"] == "notice-9"
    header = headers["X-Torchflow-Signature"]
    stamp = int(sent_at.timestamp())
    # Stripe's scheme: t=<unix>,v1=<hex hmac-sha256 over "<t>.<body>">.
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"t={stamp},v1={expected}"
    assert verify_signature(SECRET, body, header, now=stamp + 10)
    assert not verify_signature("another secret", body, header, now=stamp)
    assert not verify_signature(SECRET, body + b" ", header, now=stamp)
    assert json.loads(body.decode("utf-8")) == {
        "idempotency_key": "notice-9",
        "kind": "escalation",
        "recipient": "li.na",
        "subject": "升级：平台建设 PB-2026-0002 超期",
        "body": "已超期 3 个工作日。",
        "payload": {"case": "PB-2026-0002", "task": 12, "due": "2026-03-06"},
    }


def test_a_resend_is_byte_identical(receiver: HttpReceiver) -> None:
    channel = local_hook(receiver.url, secret=SECRET, timeout=5)
    channel.send(make_message())
    channel.send(make_message())
    (h1, b1), (h2, b2) = receiver.requests
    assert b1 == b2
    assert h1["X-Torchflow-Signature"] == h2["X-Torchflow-Signature"]


def test_no_secret_means_no_signature_header(receiver: HttpReceiver) -> None:
    local_hook(receiver.url, timeout=5).send(make_message())
    [(headers, _)] = receiver.requests
    assert "X-Torchflow-Signature" not in headers


def test_the_person_address_overrides_the_default_url(receiver: HttpReceiver) -> None:
    channel = local_hook("http://127.0.0.1:9/never-used", timeout=5)
    channel.send(make_message(address=receiver.url + "/li-na?team=zone-2"))
    assert receiver.paths == ["/hook/li-na?team=zone-2"]


@pytest.mark.parametrize("status", [500, 404, 302])
def test_non_2xx_is_a_delivery_error_naming_the_status(receiver: HttpReceiver, status: int) -> None:
    receiver.set_status(status)
    with pytest.raises(DeliveryError, match=f"answered {status} "):
        local_hook(receiver.url, timeout=5).send(make_message())
    assert len(receiver.requests) == 1


def test_204_is_success(receiver: HttpReceiver) -> None:
    receiver.set_status(204)
    local_hook(receiver.url, timeout=5).send(make_message())
    assert len(receiver.requests) == 1


def test_slow_receiver_times_out(receiver: HttpReceiver) -> None:
    receiver.hold()  # the handler waits on an Event; the fixture releases it
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"timed out after 0\.2s"):
        local_hook(receiver.url, timeout=0.2).send(make_message())
    assert time.monotonic() - started < 2.0


def test_connection_refused_is_a_delivery_error() -> None:
    with HttpReceiver() as gone:
        url = gone.url
    with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
        local_hook(url, timeout=5).send(make_message())


def test_no_url_at_all_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError) as info:
        local_hook().send(make_message())
    assert str(info.value) == "no webhook URL: set [notify.webhook] url or the person's address"


def test_errors_do_not_reveal_the_url_path(receiver: HttpReceiver) -> None:
    receiver.set_status(500)
    with pytest.raises(DeliveryError) as info:
        local_hook(receiver.url + "/T0KEN-abc", timeout=5).send(make_message())
    assert "T0KEN" not in str(info.value)
    assert receiver.url.rsplit("/", 1)[0] in str(info.value)


def test_a_bad_person_address_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError, match="http:// or https://"):
        local_hook(timeout=5).send(make_message(address="li.na@example.org"))


def test_a_bad_default_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[notify.webhook\] url"):
        local_hook("ftp://example.org/hook")


def test_verify_signature_refuses_missing_parts() -> None:
    good = sign(SECRET, b"{}", 1000)
    assert verify_signature(SECRET, b"{}", good, now=1000)
    assert not verify_signature("", b"{}", good, now=1000)
    assert not verify_signature(SECRET, b"{}", "", now=1000)
    assert not verify_signature(SECRET, b"{}", "sha256=00", now=1000)  # the old scheme
    assert not verify_signature(SECRET, b"{}", "t=1000,v1=ünicode", now=1000)
    assert not verify_signature(SECRET, b"{}", good.split(",")[1], now=1000)  # no t
    assert not verify_signature(SECRET, b"{}", "t=abc," + good.split(",")[1], now=1000)


def test_a_replayed_request_is_refused_outside_the_tolerance() -> None:
    header = sign(SECRET, b"{}", 1000)
    assert verify_signature(SECRET, b"{}", header, now=1000 + 300)
    assert not verify_signature(SECRET, b"{}", header, now=1000 + 301)
    assert not verify_signature(SECRET, b"{}", header, now=1000 - 301)
    # Re-stamping a captured body with a fresh t breaks the signature.
    forged = header.replace("t=1000", "t=5000")
    assert not verify_signature(SECRET, b"{}", forged, now=5000)


def test_any_of_several_v1_signatures_may_match_while_a_secret_rotates() -> None:
    old, new = sign("old", b"{}", 1000), sign(SECRET, b"{}", 1000)
    both = f"{new},v1={old.split('v1=')[1]}"
    assert verify_signature("old", b"{}", both, now=1000)
    assert verify_signature(SECRET, b"{}", both, now=1000)


def test_the_docs_snippet_verifies_what_the_channel_signs(receiver: HttpReceiver) -> None:
    # docs/webhooks.md promises a copy-paste receiver check: run it as written.
    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text("utf-8")
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), scope)
    local_hook(receiver.url, secret=SECRET, timeout=5).send(make_message())
    [(headers, body)] = receiver.requests
    assert scope["verify"](SECRET, body, headers["X-Torchflow-Signature"])
    assert not scope["verify"](SECRET, body + b"x", headers["X-Torchflow-Signature"])
    stale = sign(SECRET, body, int(time.time()) - 3600)
    assert not scope["verify"](SECRET, body, stale)


def test_tokens_in_addresses_are_masked() -> None:
    assert shown_address("https://hooks.example.org/services/T0123/B0456/abcdefghijklmnopqrstuvwx"
                         ) == "https://hooks.example.org/services/T0123/B0456/abc***"
    assert shown_address("https://user:pa55@example.org/hook?token=abc#frag") == (
        "https://***@example.org/hook?***#***")
    assert shown_address("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/hook"
    assert shown_address("wang.li@example.org") == "wang.li@example.org"
    assert shown_address("") == ""
