"""A morning's delivery through the platforms, against the bound their limits set.

4,000 people's digests by WeCom app message (one each) and 200 team notices
through 10 WeCom group robots (20 each), delivered by ``dispatch`` ticking as the
service does, to ``tests.platforms.WecomFake`` in its own process (no shared
GIL). The fake enforces the documented limits over a sliding window (a robot 20
a minute; a member 30 a minute and 1,000 an hour, the excess dropped silently,
as WeCom does) and counts what it refused or dropped.

The wall clock runs ``SPEED`` times faster in both processes
(TORCHFLOW_WALL_SPEED), starting at 09:10 Beijing time, away from the :00 and
:30 minutes WeCom asks apps to avoid; figures are in those seconds.

The bound: the time the platforms' limits leave for this load, or the wire's
own time when the limits leave more: max(robots, app messages) where
- robots: 20 notices on each, at the 20 a minute the limit allows a backlog:
  60 s;
- app messages: no member gets more than one, and app messages count against
  no app-wide rate, so the limit is the transport: the same 4,000 requests
  posted by a bare ``http.client`` loop on one kept-alive connection (measured
  in the same run, before the service).
Target: delivery within 1.1x of the bound, none refused or dropped for rate.
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.sweep import ROOT, workdir, write_config

SPEED = 5.0
START = datetime(2026, 3, 16, 1, 10, tzinfo=UTC)  # 09:10 in Beijing, a Monday
ROBOTS, PER_ROBOT = 10, 20
ROBOT_BOUND = PER_ROBOT * 60.0 / 20  # seconds: the robot's documented pace, 20 a minute
TICK = 0.2  # real seconds between dispatches when nothing was left to send

FAKE = """
import json, sys
from torchflow.clock import wall_clock
from tests.platforms import WecomFake, most_in_any_window
robots = {f"key-r{k}": f"r{k}" for k in range(%(robots)d)}
members = {f"u{i:04d}" for i in range(%(people)d)} | {f"b{i:04d}" for i in range(%(people)d)}
with WecomFake(robots, members=members, clock=lambda: wall_clock().timestamp()) as fake:
    print(fake.url, flush=True)
    for line in sys.stdin:
        if line.strip() == "reset":
            fake.received.clear(); fake.refused.clear(); fake.dropped.clear()
        times = fake.times()
        print(json.dumps({"received": len(times), "last": max(times, default=0.0),
                          "refused": [c for c, _ in fake.refused], "dropped": len(fake.dropped),
                          "most": max((most_in_any_window(fake.times(k), 60.0) for k in robots),
                                      default=0)}), flush=True)
"""

Log = Callable[[str], None]


class Fake:
    """WecomFake in a child process on the accelerated clock; ``stats()`` asks it."""

    def __init__(self, env: dict[str, str], people: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FAKE % {"robots": ROBOTS, "people": people}], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("the WeCom fake did not start")

    def stats(self, command: str = "?") -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _digest(i: int) -> tuple[str, str]:
    subject = f"[torchflow] 2026-03-16：今日到期 2 项，逾期 1 项（u{i:04d}）"
    body = "\n".join([f"u{i:04d} 2026-03-16 的跟进事项：", "", "今日到期："] + [
        f"  PI-2026-{(i * 3 + k) % 9000 + 1:04d} 联络（到期 2026-03-16）青能氢能源有限公司"
        for k in range(2)] + ["", "逾期：", f"  EC-2026-{i % 900 + 1:04d} 走访（到期 2026-03-13）"])
    return subject, body


def _prepare(folder: Path, url: str, people: int) -> Path:
    from torchflow.config import load_settings
    from torchflow.service.app import build_app
    from torchflow.store.migrate import upgrade

    folder.mkdir()
    db = folder / "torchflow.db"
    config = write_config(folder, db)
    text = config.read_text(encoding="utf-8") + (
        '[notify]\nallow_hosts = ["127.0.0.1"]\n'
        f'[notify.wecom_app]\nbase_url = "{url}"\ncorp_id = "ww-office"\nagent_id = 1000002\n'
        f'[notify.wecom_robot]\nbase_url = "{url}"\n'
        + "".join(f"[notify.wecom_robot.robots.r{k}]\n" for k in range(ROBOTS)))
    config.write_text(text, encoding="utf-8")
    app = build_app(load_settings(config, env={}), clock=lambda: START, create=True)
    upgrade(app.db)
    app.close()
    stamp = START.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    rows = []
    for i in range(people):
        subject, body = _digest(i)
        rows.append((f"digest:2026-03-16:p{i:04d}:wecom_app", "digest", "wecom_app", f"p{i:04d}",
                     f"u{i:04d}", subject, body))
    for n in range(ROBOTS * PER_ROBOT):
        k = n % ROBOTS
        rows.append((f"task:{n + 1}:1:due:p{n % 50:04d}:wecom_robot:2026-03-16", "due",
                     "wecom_robot", f"p{n % 50:04d}", f"r{k}",
                     f"[PI-2026-{n + 1:04d}] 例行联络今日到期：青能氢能源 {n}",
                     f"案件 PI-2026-{n + 1:04d}：青能氢能源 {n}\n例行联络今日到期（2026-03-16）。"))
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO people (handle, name, email, roles, address, active, created_at, "
            "platform_ids) VALUES (?, ?, '', '[]', '', 1, ?, ?)",
            [(f"p{i:04d}", f"Person {i}", stamp, json.dumps({"wecom": f"u{i:04d}"}))
             for i in range(people)])
        conn.executemany(
            "INSERT INTO notices (idempotency_key, kind, channel, recipient, address, subject, "
            "body, payload, status, attempts, not_before, created_at, last_error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, '{}', 'pending', 0, ?, ?, '')",
            [(*r, stamp, stamp) for r in rows])
    return config


def _raw(url: str, people: int) -> float:
    """The same number of app messages posted by a bare client: real seconds."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port)
    conn.request("GET", "/cgi-bin/gettoken?corpid=ww-office&corpsecret=app-secret")
    token = json.loads(conn.getresponse().read())["access_token"]
    bodies = []
    for i in range(people):
        subject, body = _digest(i)
        bodies.append(json.dumps({
            "touser": f"b{i:04d}", "agentid": 1000002, "msgtype": "markdown",
            "markdown": {"content": f"**{subject}**\n{body}"}, "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800}, ensure_ascii=False).encode())
    started = time.perf_counter()
    for data in bodies:
        conn.request("POST", f"/cgi-bin/message/send?access_token={token}", body=data,
                     headers={"Content-Type": "application/json"})
        answer = json.loads(conn.getresponse().read())
        if answer["errcode"] != 0:
            raise RuntimeError(f"the fake refused the baseline: {answer}")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def _service(config: Path) -> tuple[float, int]:
    """Dispatch as the service ticks until nothing is pending: (the accelerated
    start, how many dispatches)."""
    from torchflow.clock import wall_clock
    from torchflow.config import load_settings
    from torchflow.service.app import build_app
    from torchflow.service.delivery.dispatch import Channels, dispatch, worker_id

    app = build_app(load_settings(config), clock=lambda: START)
    channels = Channels(app.settings)
    owner, ticks = worker_id(), 0
    start = wall_clock().timestamp()
    try:
        while True:
            ticks += 1
            result = dispatch(app, channels, owner)
            with app.db.read() as s:
                left = s.exec_driver_sql(
                    "SELECT count(*) FROM notices WHERE status = 'pending'").scalar()
            if not left:
                return start, ticks
            if not result.sent:
                time.sleep(TICK)
    finally:
        channels.close()
        app.close()


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    people = 1_000 if quick else 4_000
    epoch = time.time()
    env = {**os.environ, "TORCHFLOW_WALL_SPEED": f"{epoch}:{SPEED}:{START.timestamp()}",
           "TORCHFLOW_WECOM_APP_SECRET": "app-secret",
           **{f"TORCHFLOW_WECOM_ROBOT_R{k}_TOKEN": f"key-r{k}" for k in range(ROBOTS)}}
    saved = dict(os.environ)
    os.environ.update(env)  # this process's wall clock and secrets, as the fake's
    fake = Fake(env, people)
    try:
        config = _prepare(workdir() / "channels", fake.url, people)
        raw = _raw(fake.url, people) * SPEED
        fake.stats("reset")
        start, ticks = _service(config)
        stats = fake.stats()
    finally:
        fake.close()
        os.environ.clear()
        os.environ.update(saved)
    expected = people + ROBOTS * PER_ROBOT
    if stats["received"] != expected:
        raise RuntimeError(f"the fake accepted {stats['received']} of {expected}: {stats}")
    took = stats["last"] - start
    bound = max(ROBOT_BOUND, raw)
    rate = [c for c in stats["refused"] if c in (45009,)]
    log(f"  delivered {expected} in {took:.1f} s (accelerated), bound {bound:.1f} s "
        f"(robots {ROBOT_BOUND:.0f} s, wire {raw:.1f} s); {ticks} dispatches; refused "
        f"{len(stats['refused'])}, dropped {stats['dropped']}, most on a robot in any minute "
        f"{stats['most']}")
    if rate or stats["dropped"] or stats["most"] > 20:
        raise RuntimeError(f"over a platform's limit: {stats}")
    return [{
        "name": f"{people:,} app digests + 200 notices / 10 robots", "value": took,
        "unit": "s", "baseline": bound,
        "baseline_name": "the bound the limits set: max(20 a minute per robot, the wire)",
        "check": ("ratio<=", 1.1),
        "note": (f"accelerated x{SPEED:g}; none refused or dropped for rate; most sends "
                 f"to one robot in any minute {stats['most']} (limit 20)"),
    }]
