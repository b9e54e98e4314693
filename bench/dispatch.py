"""Dispatch rate to a local webhook receiver against the receiver's own rate for
the same number of raw POSTs (no fixed target: the ratio is reported).

The receiver is ``tests.receivers.HttpReceiver`` (a ThreadingHTTPServer on
127.0.0.1) in its own process, so it does not share a GIL with the sender.

The service side is ``torchflow.service.delivery.dispatch.dispatch`` over N pending
webhook notices: claim a batch (one transaction), then per notice one POST
through ``WebhookChannel`` and one transaction marking it sent.

The baseline is ``http.client`` doing what the channel does on the wire: one
new connection per POST, the same JSON bodies and headers, read the answer,
close (the receiver answers HTTP/1.0, so the channel's kept-alive connection
is one per POST too). Bodies are serialised before the clock starts: it is the
receiver's ceiling, not a second implementation.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from msgspec.structs import replace

from bench.sweep import ROOT, workdir, write_config

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)

RECEIVER = """
import sys
from tests.receivers import HttpReceiver
with HttpReceiver() as receiver:
    print(receiver.url, flush=True)
    for _ in sys.stdin:
        print(len(receiver.requests), flush=True)
"""

Log = Callable[[str], None]


class Receiver:
    """HttpReceiver in a child process; ``count()`` asks how many requests it has."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RECEIVER], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("the HttpReceiver process did not start")

    def count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("?\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _notices(n: int, url: str) -> list[tuple[Any, ...]]:
    """N pending webhook notices shaped like the sweep's (subject, body, payload)."""
    stamp = (NOW - timedelta(minutes=5)).replace(tzinfo=None).isoformat(
        sep=" ", timespec="microseconds")
    rows = []
    for i in range(n):
        key = f"PI-2026-{i % 500 + 1:04d}"
        subject = f"[{key}] Routine contact due today (2026-03-04): Hydrogen fuel cells {i}"
        body = (f"Case {key}: Hydrogen fuel cells {i}\n"
                f"Routine contact (rule negotiation.contact, #{i % 7 + 1}) is due today "
                "(2026-03-04).\n"
                f"Log it with: torchflow case contact {key}")
        payload = json.dumps({"case": key, "task": i + 1, "task_kind": "contact",
                              "rule": "negotiation.contact", "occurrence": i % 7 + 1,
                              "due_on": "2026-03-04"})
        rows.append((f"task:{i + 1}:{i % 7 + 1}:due:wang.li:webhook:2026-03-04", None, "due",
                     "webhook", "wang.li", url, subject, body, payload, "pending", 0, stamp,
                     None, None, stamp, None, ""))
    return rows


def _prepare(folder: Path, n: int, url: str) -> Path:
    from torchflow.config import load_settings
    from torchflow.service.app import build_app
    from torchflow.store.migrate import upgrade

    folder.mkdir()
    path = folder / "torchflow.db"
    config = write_config(folder, path)
    # The receiver listens on 127.0.0.1: an office lists such a host (channels/guard.py).
    config.write_text(config.read_text(encoding="utf-8")
                      + '[notify]\nallow_hosts = ["127.0.0.1"]\n', encoding="utf-8")
    app = build_app(load_settings(config, env={}), clock=lambda: NOW, create=True)
    try:
        upgrade(app.db)
    finally:
        app.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO notices (idempotency_key, task_id, kind, channel, recipient, address,"
            " subject, body, payload, status, attempts, not_before, lease_owner, lease_until,"
            " created_at, sent_at, last_error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            _notices(n, url))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return config


def _reset(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("UPDATE notices SET status = 'pending', attempts = 0, sent_at = NULL,"
                     " lease_owner = NULL, lease_until = NULL")
    finally:
        conn.close()


def _raw_posts(url: str, bodies: list[tuple[bytes, dict[str, str]]]) -> float:
    parts = urlsplit(url)
    started = time.perf_counter()
    for body, headers in bodies:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            conn.request("POST", parts.path, body=body, headers=headers)
            response = conn.getresponse()
            response.read(64 * 1024)
            if response.status != 200:
                raise RuntimeError(f"receiver answered {response.status}")
        finally:
            conn.close()
    return time.perf_counter() - started


def _wire(rows: list[tuple[Any, ...]]) -> list[tuple[bytes, dict[str, str]]]:
    """What the channel puts on the wire for each notice (as ``message_json``)."""
    import torchflow

    out = []
    for row in rows:
        key, kind, recipient, subject, body, payload = (row[0], row[2], row[4], row[6], row[7],
                                                       json.loads(row[8]))
        data = json.dumps({"idempotency_key": key, "kind": kind, "recipient": recipient,
                           "subject": subject, "body": body, "payload": payload},
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        out.append((data.encode("utf-8"), {
            "Content-Type": "application/json", "User-Agent": f"torchflow/{torchflow.__version__}",
            "X-Torchflow-Idempotency-Key": key,
        }))
    return out


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    from torchflow.config import load_settings
    from torchflow.service.app import build_app
    from torchflow.service.delivery.dispatch import Channels, dispatch, worker_id

    n = 300 if quick else 1_000
    rounds = 3 if quick else 4
    receiver = Receiver()
    try:
        folder = workdir() / "dispatch"
        config = _prepare(folder, n, receiver.url)
        path = folder / "torchflow.db"
        settings = load_settings(config, env={"TORCHFLOW_WEBHOOK_SECRET": ""})
        # Unsigned on purpose, and said so: the raw baseline posts the same bytes unsigned.
        settings = replace(settings, notify=settings.notify.with_channel(
            "webhook", allow_unsigned=True))
        app = build_app(settings, clock=lambda: NOW)
        channels = Channels(settings)
        owner = worker_id()
        wire = _wire(_notices(n, receiver.url))
        t_svc = t_raw = 0.0
        try:
            # Warm-up: statement cache, connection pool, receiver threads.
            _raw_posts(receiver.url, wire[:50])
            dispatch(app, channels, owner)
            for r in range(rounds):
                _reset(path)
                before = receiver.count()
                if r % 2:
                    t_raw += _raw_posts(receiver.url, wire)
                started = time.perf_counter()
                result = dispatch(app, channels, owner)
                t_svc += time.perf_counter() - started
                if not r % 2:
                    t_raw += _raw_posts(receiver.url, wire)
                if result.sent != n:
                    raise RuntimeError(f"dispatch sent {result.sent} of {n}: {result}")
                got = receiver.count() - before
                if got != 2 * n:
                    raise RuntimeError(f"the receiver got {got} requests, expected {2 * n}")
        finally:
            channels.close()
            app.close()
    finally:
        receiver.close()
    svc, raw = rounds * n / t_svc, rounds * n / t_raw
    log(f"  dispatch {svc:.0f}/s, raw POSTs {raw:.0f}/s")
    return [{
        "name": "dispatch(), webhook to HttpReceiver", "value": svc, "unit": "/s",
        "baseline": raw, "baseline_name": "raw http.client POSTs, 1 connection each",
        "check": None,
        "note": f"{n} notices x {rounds} interleaved rounds; no fixed target (report)",
    }]
