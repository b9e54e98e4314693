"""WebhookChannel: POST each message as signed JSON over HTTP(S).

The signature covers a timestamp and the body, as Stripe's does, so a captured
request cannot be replayed later: ``X-Torchflow-Signature: t=<unix>,v1=<hex>``
where the hex is HMAC-SHA256(secret, "<t>.<body>"). See docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import torchflow
from torchflow.channels.base import Message, message_json
from torchflow.clock import wall_clock
from torchflow.config import Settings
from torchflow.errors import ConfigError, DeliveryError

IDEMPOTENCY_HEADER = "X-Torchflow-Idempotency-Key"
SIGNATURE_HEADER = "X-Torchflow-Signature"
NO_URL = "no webhook URL: set [notify.webhook] url or the person's address"
TOLERANCE_SECONDS = 300  # how old a signed request a receiver accepts, by default


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
    """POST to ``message.address`` or, when that is empty, the channel's ``url``.

    http.client rather than urllib.request on purpose: urllib follows a 302 by
    re-sending the POST as a GET without a body and would report that as
    success, and it routes through any *_proxy environment variables.
    """

    name = "webhook"

    def __init__(self, url: str = "", secret: str = "", timeout: float = 10.0,
                 clock: Callable[[], datetime] = wall_clock) -> None:
        if url and url_problem(url):
            raise ConfigError(f"[notify.webhook] url = {shown_url(url)!r}: {url_problem(url)}")
        self.url, self.secret, self.timeout = url, secret, timeout
        self.clock = clock  # real time: the receiver checks the stamp against its own clock

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookChannel:
        """Refused without a secret, unless unsigned requests are explicitly allowed."""
        hook = settings.notify.webhook
        secret = os.environ.get(hook.secret_env, "")
        if not secret and not hook.allow_unsigned:
            raise ConfigError(
                f"webhook channel: no secret in ${hook.secret_env}; set it, or set "
                "[notify.webhook] allow_unsigned = true to send unsigned requests")
        return cls(hook.url, secret=secret, timeout=hook.timeout_seconds)

    @staticmethod
    def address_of(person: Any) -> str:
        return str(person.address or "")

    def send(self, message: Message) -> None:
        url = message.address or self.url
        if not url:
            raise DeliveryError(NO_URL)
        problem = url_problem(url)
        if problem:
            raise DeliveryError(f"webhook URL for {message.recipient!r}: {problem}")
        body = message_json(message).encode("utf-8")
        status, reason = self._post(url, body, self._headers(message, body))
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook {_origin(url)} answered {status} {reason}".rstrip())

    def close(self) -> None:
        """Each send uses its own connection; nothing to release."""

    def _headers(self, message: Message, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"torchflow/{torchflow.__version__}",
            IDEMPOTENCY_HEADER: message.idempotency_key,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body, int(self.clock().timestamp()))
        return headers

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        conn_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn = conn_class(parts.hostname or "", parts.port, timeout=self.timeout)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read(64 * 1024)  # drain a little so the server sees a clean close
            return response.status, response.reason
        except TimeoutError:
            raise DeliveryError(
                f"webhook {_origin(url)} timed out after {self.timeout:g}s"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryError(f"webhook {_origin(url)} failed: {_describe(exc)}") from None
        finally:
            conn.close()


def url_problem(url: str) -> str:
    """Why ``url`` cannot be posted to, or "" when it can."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"bad port ({exc})"
    return ""


def shown_url(url: str) -> str:
    """``url`` with what may be a secret masked: userinfo, the query, the fragment
    and long path segments (webhook URLs often carry a token in one of them)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    host = parts.netloc.rpartition("@")[2]
    userinfo = "***@" if "@" in parts.netloc else ""
    path = "/".join(_segment(seg) for seg in parts.path.split("/"))
    query = "?***" if parts.query else ""
    fragment = "#***" if parts.fragment else ""
    return f"{parts.scheme}://{userinfo}{host}{path}{query}{fragment}"


TOKEN_LENGTH = 16  # a path segment this long is treated as a token


def _segment(segment: str) -> str:
    return segment if len(segment) < TOKEN_LENGTH else segment[:3] + "***"


def _origin(url: str) -> str:
    # Only scheme://host:port in errors: webhook paths often carry a secret token,
    # and error text is stored on the notice row and shown to coordinators.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
