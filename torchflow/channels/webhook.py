"""WebhookChannel: POST each message as signed JSON over HTTP(S)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
from urllib.parse import urlsplit

import torchflow
from torchflow.channels.base import Message, message_json
from torchflow.errors import ConfigError, DeliveryError

IDEMPOTENCY_HEADER = "X-Torchflow-Idempotency-Key"
SIGNATURE_HEADER = "X-Torchflow-Signature"
NO_URL = "no webhook URL: set [notify.webhook] url or the person's address"


def sign(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=<hex hmac-sha256(secret, body)>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret`` (constant time)."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode("utf-8"))


class WebhookChannel:
    """POST to ``message.address`` or, when that is empty, the channel's ``url``.

    http.client rather than urllib.request on purpose: urllib follows a 302 by
    re-sending the POST as a GET without a body and would report that as
    success, and it routes through any *_proxy environment variables.
    """

    name = "webhook"

    def __init__(self, url: str = "", secret: str = "", timeout: float = 10.0) -> None:
        if url and _url_problem(url):
            raise ConfigError(f"[notify.webhook] url = {url!r}: {_url_problem(url)}")
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, message: Message) -> None:
        url = message.address or self.url
        if not url:
            raise DeliveryError(NO_URL)
        problem = _url_problem(url)
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
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
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


def _url_problem(url: str) -> str:
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


def _origin(url: str) -> str:
    # Only scheme://host:port in errors: webhook paths often carry a secret token,
    # and error text is stored on the notice row and shown to coordinators.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
