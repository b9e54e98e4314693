"""WebhookChannel: POST each message as signed JSON over HTTP(S).

The signature covers a timestamp and the body, as Stripe's does, so a captured
request cannot be replayed later: ``X-Torchflow-Signature: t=<unix>,v1=<hex>``
where the hex is HMAC-SHA256(secret, "<t>.<body>"). See docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from msgspec import Struct

import torchflow
from torchflow.channels.base import Message, message_json, read_plain
from torchflow.channels.guard import HostPolicy
from torchflow.channels.http import HttpClient, origin
from torchflow.channels.masking import shown_address, shown_url
from torchflow.clock import wall_clock
from torchflow.config import Rule, Section, Settings
from torchflow.errors import ConfigError, DeliveryError
from torchflow.i18n import Text, _

IDEMPOTENCY_HEADER = "X-Torchflow-Idempotency-Key"
SIGNATURE_HEADER = "X-Torchflow-Signature"
NO_URL = "no webhook URL: set [notify.webhook] url or the person's address"
TOLERANCE_SECONDS = 300  # how old a signed request a receiver accepts, by default


class WebhookSettings(Struct, frozen=True):
    url: str = ""
    secret_env: str = "TORCHFLOW_WEBHOOK_SECRET"
    timeout_seconds: float = 10.0
    allow_unsigned: bool = False


WEBHOOK_RULES: dict[str, Rule] = {
    "url": ("text", 0, 2000), "secret_env": ("text", 1, 255),
    "timeout_seconds": ("seconds", 0.1, 3600), "allow_unsigned": ("bool", 0, 0),
}


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value: ``t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<body>")>``."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(secret: str, body: bytes, header: str, *, now: float,
                     tolerance: float = TOLERANCE_SECONDS) -> bool:
    """True when ``header`` signs ``body`` under ``secret`` (constant-time compare)
    and its timestamp is within ``tolerance`` seconds of ``now`` (unix time)."""
    if not secret or not header:
        return False
    parts = [item.partition("=") for item in header.split(",")]
    stamps = [value.strip() for key, _, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, _, value in parts if key.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body).encode("ascii")
    # Every v1 is compared (a receiver may hold two secrets while rotating).
    return any(hmac.compare_digest(expected, s.encode("utf-8")) for s in signatures)


class WebhookChannel:
    """POST to ``message.address`` or, when that is empty, the channel's ``url``."""

    name = "webhook"
    dedup = True  # the receiver drops a repeated X-Torchflow-Idempotency-Key

    def __init__(self, url: str = "", secret: str = "", timeout: float = 10.0,
                 clock: Callable[[], datetime] = wall_clock,
                 hosts: HostPolicy | None = None) -> None:
        self.hosts = hosts or HostPolicy()
        if url and (problem := self.hosts.url_problem(url)):
            raise ConfigError(_("[notify.webhook] url = {url} {problem}",
                                url=repr(shown_url(url)), problem=problem))
        self.url, self.secret, self.timeout = url, secret, timeout
        self.clock = clock  # real time: the receiver checks the stamp against its own clock
        self.http = HttpClient(self.hosts, timeout, what="webhook")

    @staticmethod
    def read_settings(section: Section, base: Path) -> WebhookSettings:
        settings: WebhookSettings = read_plain(section, WebhookSettings, WEBHOOK_RULES)
        return settings

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookChannel:
        """Refused without a secret, unless unsigned requests are explicitly allowed."""
        hook = settings.notify.of(cls.name, WebhookSettings)
        secret = os.environ.get(hook.secret_env, "")
        if not secret and not hook.allow_unsigned:
            raise ConfigError(
                f"webhook channel: no secret in ${hook.secret_env}; set it, or set "
                "[notify.webhook] allow_unsigned = true to send unsigned requests")
        return cls(hook.url, secret=secret, timeout=hook.timeout_seconds,
                   hosts=HostPolicy.allowing(settings.notify.allow_hosts))

    @staticmethod
    def address_of(person: Any) -> str:
        return str(person.address or "")

    @staticmethod
    def address_problem(settings: Settings, address: str) -> Text | None:
        problem = HostPolicy.allowing(settings.notify.allow_hosts).url_problem(address)
        if problem is None:
            return None
        return _("webhook address {url} {problem}", url=repr(shown_address(address)),
                 problem=problem)

    def problem(self, address: str) -> Text | None:
        if not address and not self.url:
            return _("the webhook channel needs a URL; add --address https://... "
                     "(or set [notify.webhook] url) or pick another --channel")
        return None

    def send(self, message: Message) -> None:
        url = message.address or self.url
        if not url:
            raise DeliveryError(NO_URL)
        body = message_json(message).encode("utf-8")
        answer = self.http.post(url, body, self._headers(message, body))
        if not 200 <= answer.status < 300:
            raise DeliveryError(f"webhook {origin(url)} answered {answer.status} "
                                f"{answer.reason}".rstrip())

    def close(self) -> None:
        self.http.close()

    def _headers(self, message: Message, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"torchflow/{torchflow.__version__}",
            IDEMPOTENCY_HEADER: message.idempotency_key,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body, int(self.clock().timestamp()))
        return headers

