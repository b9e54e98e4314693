"""Real network receivers on 127.0.0.1 for tests: an HTTP endpoint and an SMTP server.

Plain context managers, so unit, integration and multi-process tests can all use
them. Each binds only to 127.0.0.1, runs in background threads, and stops on exit.
"""

from __future__ import annotations

import email
import socket
import threading
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

HOST = "127.0.0.1"
HOLD_LIMIT = 10.0  # a held HTTP request answers after this anyway, so no thread hangs forever


def free_port() -> int:
    """A port that was free a moment ago (for servers that cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class _Recorder:
    """A thread-safe list that waiters can block on."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._changed = threading.Condition()

    def add(self, item: Any) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def snapshot(self) -> list[Any]:
        with self._changed:
            return list(self._items)

    def wait_for(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self._items) >= count, timeout)


# --------------------------------------------------------------------------- HTTP


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: HttpReceiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) makes the late answer fail; that is expected.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _QuietServer

    def do_POST(self) -> None:
        self.server.receiver._handle(self)

    do_PUT = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class HttpReceiver:
    """An HTTP endpoint that records requests and answers a chosen status.

    ``requests`` is a list of (headers dict as received, body bytes). ``hold()``
    makes new requests wait (on an Event, at most HOLD_LIMIT s) until ``release()``,
    to test client timeouts without long sleeps.
    """

    def __init__(self, status: int = 200) -> None:
        self._status = status
        self._lock = threading.Lock()
        self._recorded = _Recorder()
        self._paths: list[str] = []
        self._released = threading.Event()
        self._released.set()
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("HttpReceiver is not running; use it as a context manager")
        return f"http://{HOST}:{self._server.server_address[1]}/hook"

    @property
    def requests(self) -> list[tuple[dict[str, str], bytes]]:
        return self._recorded.snapshot()

    @property
    def paths(self) -> list[str]:
        with self._lock:
            return list(self._paths)

    def set_status(self, code: int) -> None:
        with self._lock:
            self._status = code

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        return self._recorded.wait_for(count, timeout)

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        with self._lock:
            self._paths.append(handler.path)
            status = self._status
        self._recorded.add((dict(handler.headers.items()), body))
        self._released.wait(HOLD_LIMIT)
        answer = f"{status}\n".encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)

    def __enter__(self) -> HttpReceiver:
        self._server = _QuietServer((HOST, 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()  # let held handlers finish before the server goes
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


# --------------------------------------------------------------------------- SMTP


class _SmtpHandler:
    """aiosmtpd handler: refuses chosen recipients, records every accepted mail."""

    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        reply = self.receiver._next_mail_reply()
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.receiver.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = cast(
            EmailMessage, email.message_from_bytes(envelope.content, policy=default_policy)
        )
        self.receiver._envelopes.add((envelope.mail_from, list(envelope.rcpt_tos)))
        self.receiver._messages.add(parsed)
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    ``messages`` are parsed with the modern email policy, so ``msg["Subject"]``
    and ``msg.get_content()`` come back decoded (text line ends as sent: CRLF).
    ``refused`` holds addresses answered with 550. ``idle_timeout`` makes the
    server drop idle connections, as real servers do, to test reconnecting.
    """

    def __init__(self, idle_timeout: float = 300.0, refused: set[str] | None = None) -> None:
        self.host = HOST
        self.port = 0
        self.idle_timeout = idle_timeout
        self.refused: set[str] = set(refused or ())
        self._messages = _Recorder()
        self._envelopes = _Recorder()
        self._controller: Any = None
        self._mail_replies: list[str] = []
        self._lock = threading.Lock()

    @property
    def messages(self) -> list[EmailMessage]:
        return self._messages.snapshot()

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TOs) per accepted mail."""
        return self._envelopes.snapshot()

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> bool:
        return self._messages.wait_for(count, timeout)

    def fail_next_mail(self, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` MAIL FROM commands with ``reply`` (e.g. "421 ...")."""
        with self._lock:
            self._mail_replies.extend([reply] * times)

    def _next_mail_reply(self) -> str:
        with self._lock:
            return self._mail_replies.pop(0) if self._mail_replies else ""

    def __enter__(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller  # test-only dependency

        # aiosmtpd 1.4 cannot bind port 0, so pick one and retry if someone takes it first.
        for _ in range(5):
            self.port = free_port()
            controller = Controller(
                _SmtpHandler(self), hostname=HOST, port=self.port, timeout=self.idle_timeout
            )
            try:
                controller.start()
            except OSError:
                continue
            self._controller = controller
            return self
        raise RuntimeError("SmtpReceiver could not bind a port on 127.0.0.1")

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
