"""The one HTTP(S) client of the channels that post: the address guard at every
connection (channels/guard.py), one kept-alive connection per origin, and
one-line errors that name only the origin (a platform's token is in the path or
the query of its URL, and errors are stored and shown).

http.client rather than urllib.request on purpose: urllib follows a 302 by
re-sending the POST as a GET without a body and would report that as success,
and it routes through any *_proxy environment variables.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from msgspec import Struct

from torchflow.channels.guard import HostPolicy, LookupFailed, Refusal
from torchflow.errors import DeliveryError
from torchflow.i18n import _

if TYPE_CHECKING:
    import http.client

MAX_ANSWER = 256 * 1024  # a platform's JSON answer is small; more is not read


class Answer(Struct, frozen=True):
    status: int
    reason: str
    body: bytes
    date: datetime | None = None  # the server's Date header: how far our clock is off

    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when it is not one)."""
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}


class HttpClient:
    """Requests to checked addresses, a connection kept per origin."""

    def __init__(self, policy: HostPolicy, timeout: float, what: str = "webhook") -> None:
        self.policy, self.timeout, self.what = policy, timeout, what
        self._connections: dict[str, http.client.HTTPConnection] = {}

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        return self.request("POST", url, body, headers)

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        import http.client  # lazy: the CLI's start-up does not pay for it

        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        problem = self.policy.url_problem(url)
        if problem is not None:  # the address can never be used: as a refusal for good
            raise DeliveryError(_("{what} URL {url} {problem}", what=self.what,
                                  url=origin(url), problem=problem), fatal=True, permanent=True)
        conn = self._connection(parts.scheme, parts.hostname or "", parts.port)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read(MAX_ANSWER)
            if response.will_close or len(data) == MAX_ANSWER:
                self._drop(url)
            return Answer(response.status, response.reason, data, _date(response))
        except Refusal as exc:
            self._drop(url)
            raise DeliveryError(_("{what} URL {url} {problem}", what=self.what,
                                  url=origin(url), problem=exc.text), fatal=True,
                                permanent=True) from None
        except TimeoutError:
            self._drop(url)
            seconds = format(self.timeout, "g")
            raise DeliveryError(_("{what} {url} timed out after {seconds}s", what=self.what,
                                  url=origin(url), seconds=seconds)) from None
        except (OSError, http.client.HTTPException, LookupFailed) as exc:
            self._drop(url)
            raise DeliveryError(_("{what} {url} failed: {error}", what=self.what,
                                  url=origin(url), error=describe(exc))) from None

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def _connection(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        import http.client  # lazy, as above

        key = f"{scheme}://{host}:{port}"
        conn = self._connections.get(key)
        if conn is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = cls(host, port, timeout=self.timeout)
            # Every (re)connection resolves the name and checks each address, then
            # connects to one it checked: DNS cannot move a send inside afterwards.
            conn._create_connection = self._pinned(host)  # type: ignore[attr-defined]
            self._connections[key] = conn
        return conn

    def _pinned(self, host: str) -> Any:
        def connect(address: tuple[str, int], timeout: float, source: Any = None
                    ) -> socket.socket:
            last: OSError | None = None
            for ip in self.policy.resolve(host, address[1]):
                try:
                    return socket.create_connection((str(ip), address[1]), timeout, source)
                except OSError as exc:
                    last = exc
            raise last or OSError(f"no address for {host}")
        return connect

    def _drop(self, url: str) -> None:
        parts = urlsplit(url)
        conn = self._connections.pop(f"{parts.scheme}://{parts.hostname}:{parts.port}", None)
        if conn is not None:
            conn.close()


def _date(response: http.client.HTTPResponse) -> datetime | None:
    try:
        return parsedate_to_datetime(response.getheader("Date") or "")
    except (TypeError, ValueError):
        return None


def origin(url: str) -> str:
    """Only scheme://host:port: a platform's token is in the path or the query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

