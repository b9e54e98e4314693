"""Loopback fakes of the platforms' APIs: real HTTP servers on 127.0.0.1 that
check what WeCom, DingTalk and Feishu check, as their documentation says
(docs/channels.md has the sources).

Each verifies the signature and its timestamp (an hour of tolerance, on the
fake's own clock), the robot's token, keyword and trusted IPs, the body's
length; enforces the documented rate limits over a sliding window (the
strictest reading of "20 a minute"); and answers as the platform does: HTTP
200 with the error code in the JSON, success only with code 0. What each
accepted is recorded with the fake's time, so tests count it.

``clock`` (unix seconds) is the fake's time: tests of the rate budgets give it
the simulated wall clock the senders use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
HOUR = 3600.0


@dataclass
class Received:
    """One message a platform accepted."""

    key: str  # the robot's token, or the app member's user id
    body: dict[str, Any]
    at: float  # the fake's clock

    @property
    def text(self) -> str:
        """The message's text, whatever the platform's shape."""
        b = self.body
        for path in (("markdown", "content"), ("text", "content"), ("markdown", "text")):
            value: Any = b
            for step in path:
                value = value.get(step, {}) if isinstance(value, dict) else {}
            if isinstance(value, str):
                return value
        elements = b.get("card", {}).get("elements", [])
        return "\n".join(e.get("content", "") for e in elements)


@dataclass
class Window:
    """A sliding-window limit: at most ``count`` in any ``seconds``."""

    count: int
    seconds: float
    times: deque[float] = field(default_factory=deque)

    def admit(self, now: float) -> bool:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) >= self.count:
            return False
        self.times.append(now)
        return True


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most arrivals in any window of ``seconds`` (the platforms' minute,
    wherever it begins)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: Platform

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeouts); expected in tests


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as the platforms' front ends
    # The headers and the body are written apart: without this, Nagle's algorithm
    # and the client's delayed ACK hold every answer 40 ms on a kept-alive connection.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.server.fake.serve(self, "POST")

    def do_GET(self) -> None:
        self.server.fake.serve(self, "GET")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Platform:
    """The common part: the server, the clock, recording, forced answers."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.refused: list[tuple[int, str]] = []
        self.trusted_ips: set[str] | None = None  # None: every IP (no whitelist)
        # Answers given instead, in turn (None: answer that request as usual).
        self.forced: deque[dict[str, Any] | None] = deque()
        self.server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.delay = 0.0  # seconds each answer takes (real time)

    @property
    def url(self) -> str:
        assert self.server is not None, "use the fake as a context manager"
        return f"http://{HOST}:{self.server.server_address[1]}"

    def force(self, answer: dict[str, Any] | None, times: int = 1) -> None:
        with self.lock:
            self.forced.extend([answer] * times)

    def serve(self, handler: _Handler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            forced = self.forced.popleft() if self.forced else None
            if forced is not None:
                answer = forced
            elif self.trusted_ips is not None and handler.client_address[0] not in self.trusted_ips:
                answer = self.ip_refused(handler.client_address[0])
            else:
                answer = self.answer(method, parts.path, query, raw, self.clock())
            code = answer.get("errcode", answer.get("code", 0))
            if code:
                self.refused.append((int(code), str(answer.get("errmsg", answer.get("msg")))))
        if self.delay:
            time.sleep(self.delay)
        data = json.dumps(answer).encode()
        handler.send_response_only(200)  # the platforms say no in the JSON, with 200
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Date", formatdate(self.clock(), usegmt=True))
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def answer(self, method: str, path: str, query: dict[str, str], raw: bytes,
               now: float) -> dict[str, Any]:
        raise NotImplementedError

    def ip_refused(self, ip: str) -> dict[str, Any]:
        raise NotImplementedError

    def accept(self, key: str, body: dict[str, Any], now: float) -> None:
        self.received.append(Received(key, body, now))

    def times(self, key: str | None = None) -> list[float]:
        return [r.at for r in self.received if key is None or r.key == key]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return True
            time.sleep(0.02)
        return len(self.received) >= count

    def __enter__(self) -> Platform:
        self.server = _Server((HOST, 0), _Handler)
        self.server.fake = self
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------- WeCom


class WecomFake(Platform):
    """Group robots (``/cgi-bin/webhook/send?key=``) and one app
    (``/cgi-bin/gettoken``, ``/cgi-bin/message/send``)."""

    def __init__(self, robots: dict[str, str] | None = None, *, corp_id: str = "ww-office",
                 secret: str = "app-secret", agent_id: int = 1000002,
                 members: set[str] | None = None, clock: Callable[[], float] = time.time
                 ) -> None:
        super().__init__(clock)
        self.robots = dict(robots or {})  # key -> robot name
        self.windows: dict[str, Window] = {}
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.members = set(members or ())
        self.tokens: dict[str, float] = {}  # access token -> expiry
        self.token_calls = 0
        self.dropped: list[tuple[str, str]] = []  # (member, why): excess WeCom drops silently
        self.member_windows: dict[str, list[Window]] = {}
        self.seen: dict[bytes, float] = {}  # duplicate check: body -> when first seen
        self.duplicates = 0

    def ip_refused(self, ip: str) -> dict[str, Any]:
        return {"errcode": 60020, "errmsg": f"not allow to access from your ip, hint: [1], "
                                           f"from ip: {ip}, more info at https://open.work."
                                           "weixin.qq.com/devtool/query?e=60020"}

    def answer(self, method: str, path: str, query: dict[str, str], raw: bytes,
               now: float) -> dict[str, Any]:
        if path == "/cgi-bin/webhook/send":
            return self._robot(query.get("key", ""), raw, now)
        if path == "/cgi-bin/gettoken":
            return self._token(query, now)
        if path == "/cgi-bin/message/send":
            return self._message(query.get("access_token", ""), raw, now)
        return {"errcode": 404, "errmsg": f"no such api {path}"}

    def _robot(self, key: str, raw: bytes, now: float) -> dict[str, Any]:
        if key not in self.robots:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        body = _json(raw)
        if body is None:
            return {"errcode": 40058, "errmsg": "Warning: wrong json format"}
        kind = body.get("msgtype")
        content = body.get(kind, {}).get("content", "") if isinstance(kind, str) else ""
        limit = {"markdown": 4096, "text": 2048}.get(str(kind))
        if limit is None:
            return {"errcode": 40008, "errmsg": "invalid message type"}
        if not content:
            return {"errcode": 44004, "errmsg": "empty content"}
        if len(content.encode("utf-8")) > limit:
            return {"errcode": 40058, "errmsg": f"content exceed max length {limit}"}
        if not self.windows.setdefault(key, Window(20, 60.0)).admit(now):
            return {"errcode": 45009, "errmsg": "api freq out of limit"}
        self.accept(key, body, now)
        return {"errcode": 0, "errmsg": "ok"}

    def _token(self, query: dict[str, str], now: float) -> dict[str, Any]:
        self.token_calls += 1
        if query.get("corpid") != self.corp_id:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if query.get("corpsecret") != self.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        token = f"tok-{self.token_calls}"
        self.tokens[token] = now + 7200
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def _message(self, token: str, raw: bytes, now: float) -> dict[str, Any]:
        if token not in self.tokens:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if self.tokens[token] <= now:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        body = _json(raw)
        if body is None or body.get("agentid") != self.agent_id:
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        kind = str(body.get("msgtype"))
        content = body.get(kind, {}).get("content", "")
        if len(content.encode("utf-8")) > 2048:
            return {"errcode": 40058, "errmsg": "content exceed max length 2048"}
        user = str(body.get("touser", ""))
        if user not in self.members:
            return {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
        interval = float(body.get("duplicate_check_interval", 1800))
        if body.get("enable_duplicate_check") == 1:
            first = self.seen.get(raw)
            if first is not None and now - first < interval:
                self.duplicates += 1  # taken, not delivered again
                return {"errcode": 0, "errmsg": "ok", "invaliduser": ""}
            self.seen[raw] = now
        windows = self.member_windows.setdefault(user, [Window(30, 60.0), Window(1000, HOUR)])
        if not all(w.admit(now) for w in windows):
            self.dropped.append((user, "over 30 a minute or 1000 an hour"))
            return {"errcode": 0, "errmsg": "ok", "invaliduser": ""}  # dropped silently
        self.accept(user, body, now)
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": str(len(self.received))}


# --------------------------------------------------------------------------- DingTalk


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """As DingTalk computes it (base64, before URL-encoding)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingtalkFake(Platform):
    """Custom robots: ``/robot/send?access_token=&timestamp=&sign=``."""

    def __init__(self, robots: dict[str, str] | None = None, *, keyword: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.robots = dict(robots or {})  # access token -> secret ("" = unsigned)
        self.keyword = keyword
        self.windows: dict[str, Window] = {}
        self.paused: dict[str, float] = {}  # token -> throttled until

    def ip_refused(self, ip: str) -> dict[str, Any]:
        return {"errcode": 310000, "errmsg": f"错误描述:ip {ip} not in whitelist;"}

    def answer(self, method: str, path: str, query: dict[str, str], raw: bytes,
               now: float) -> dict[str, Any]:
        token = query.get("access_token", "")
        if path != "/robot/send" or token not in self.robots:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        secret = self.robots[token]
        if secret:
            # parse_qs has decoded the URL-encoding of the sign already.
            stamp, sign = query.get("timestamp", ""), query.get("sign", "")
            if not stamp.isdigit() or abs(now * 1000 - int(stamp)) > HOUR * 1000 \
                    or not hmac.compare_digest(sign, dingtalk_sign(secret, stamp)):
                return {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc."
                                                     "dingtalk.com/doc#/serverapi2/qf2nxq]"}
        body = _json(raw)
        if body is None:
            return {"errcode": 40035, "errmsg": "缺少参数 json"}
        text = json.dumps(body, ensure_ascii=False)
        if self.keyword and self.keyword not in text:
            return {"errcode": 310000, "errmsg": "keywords not in content"}
        if now < self.paused.get(token, 0.0):
            return {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        if not self.windows.setdefault(token, Window(20, 60.0)).admit(now):
            self.paused[token] = now + 600  # throttled for 10 minutes
            return {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        self.accept(token, body, now)
        return {"errcode": 0, "errmsg": "ok"}


# --------------------------------------------------------------------------- Feishu


def feishu_sign(secret: str, timestamp: str) -> str:
    """As Feishu computes it: HMAC-SHA256 keyed by "<timestamp>\\n<secret>" over nothing."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuFake(Platform):
    """Custom bots: ``/open-apis/bot/v2/hook/<token>``, signed in the body."""

    def __init__(self, bots: dict[str, str] | None = None, *, keyword: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.bots = dict(bots or {})  # hook token -> secret
        self.keyword = keyword
        self.windows: dict[str, list[Window]] = {}

    def ip_refused(self, ip: str) -> dict[str, Any]:
        return {"code": 19022, "data": {}, "msg": f"Ip Not Allowed: {ip}"}

    def answer(self, method: str, path: str, query: dict[str, str], raw: bytes,
               now: float) -> dict[str, Any]:
        token = path.rsplit("/", 1)[-1]
        if not path.startswith("/open-apis/bot/v2/hook/") or token not in self.bots:
            return {"code": 19001, "data": {}, "msg": "param invalid: incoming webhook access "
                                                      "token invalid"}
        if len(raw) > 20 * 1024:
            return {"code": 9499, "data": {}, "msg": "Bad Request: body too large"}
        body = _json(raw)
        if body is None:
            return {"code": 9499, "data": {}, "msg": "Bad Request"}
        secret = self.bots[token]
        if secret:
            stamp = str(body.get("timestamp", ""))
            if not stamp.isdigit() or abs(now - int(stamp)) > HOUR or not hmac.compare_digest(
                    str(body.get("sign", "")), feishu_sign(secret, stamp)):
                return {"code": 19021, "data": {}, "msg": "sign match fail or timestamp is not "
                                                          "within one hour from current time"}
        if self.keyword and self.keyword not in json.dumps(body, ensure_ascii=False):
            return {"code": 19024, "data": {}, "msg": "Key Words Not Found"}
        windows = self.windows.setdefault(token, [Window(100, 60.0), Window(5, 1.0)])
        if not all(w.admit(now) for w in windows):
            return {"code": 11232, "data": {}, "msg": "frequency limited psm[lark.oapi.app_"
                                                      "platform_runtime]appID[1]"}
        self.accept(token, body, now)
        return {"code": 0, "data": {}, "msg": "success"}

