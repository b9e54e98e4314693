"""Advance throughput through the service layer against raw sqlite3 doing the same
writes (target: >= 0.5x the raw rate).

The service side calls ``torchflow.service.cases.change.advance`` with an Actor resolved
once, on a file SQLite database, on a tiny workflow without follow-up rules
(states ``a`` and ``b`` ping-ponging, so an advance can repeat forever).

The baseline is sqlite3 on its own copy of the same schema, with the same
PRAGMAs (WAL, synchronous=FULL, foreign_keys=ON, busy_timeout) and the same
BEGIN IMMEDIATE, doing per advance: UPDATE the case row (guarded by its
version), INSERT the event row (with a sha256 chain hash), COMMIT. It reads
nothing: that is the floor of what an advance must write.

The shipped project_introduction workflow (first_contact <-> on_hold, each step
cancelling two follow-up tasks and planning two) is reported as information.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.sweep import ROOT, workdir, write_config

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
TARGET = 0.5

PINGPONG = """\
name = "pingpong"
title = "Ping-pong (benchmark)"
version = 1
key_prefix = "PP"
initial = "a"

[states.a]
title = "A"

[states.b]
title = "B"

[states.done]
title = "Done"
terminal = true

[[transitions]]
trigger = "to_b"
source = "a"
dest = "b"

[[transitions]]
trigger = "to_a"
source = "b"
dest = "a"

[[transitions]]
trigger = "finish"
source = ["a", "b"]
dest = "done"
"""

PI_FIELDS = {
    "enterprise": "Qingneng Co.", "industry": "new energy", "lead_source": "torch center",
    "planned_investment": "50000", "contact_person": "Ms Li, CFO, 138-0000-0000",
}

Log = Callable[[str], None]


class _Side:
    """One database and the app on it, with one case to advance."""

    def __init__(self, folder: Path) -> None:
        from torchflow.config import load_settings
        from torchflow.service.app import build_app
        from torchflow.service.cases.change import advance, open_case
        from torchflow.service.people.lookup import resolve_actor
        from torchflow.service.people.staff import add_person
        from torchflow.store.migrate import upgrade

        folder.mkdir(parents=True)
        workflows = folder / "workflows"
        workflows.mkdir()
        (workflows / "pingpong.toml").write_text(PINGPONG, encoding="utf-8")
        shutil.copy(ROOT / "workflows" / "project_introduction.toml", workflows)
        self.path = folder / "torchflow.db"
        self.app = build_app(load_settings(write_config(folder, self.path, workflows), env={}),
                             clock=lambda: NOW, create=True)
        upgrade(self.app.db)
        add_person(self.app, "wang.li", name="Wang Li", roles=["coordinator"])
        add_person(self.app, "chen.jie", name="Chen Jie", roles=["director"])
        self.actor = resolve_actor(self.app, "wang.li")
        self.advance = advance
        self.pp_key = open_case(self.app, self.actor, "pingpong", title="ping-pong")["key"]
        self.pp_state = "a"
        self.pi_key = open_case(self.app, self.actor, "project_introduction",
                                title="Hydrogen fuel cells", fields=PI_FIELDS)["key"]
        advance(self.app, self.actor, self.pi_key, "make_contact")
        self.pi_state = "first_contact"

    def pingpong(self, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            trigger = "to_b" if self.pp_state == "a" else "to_a"
            self.pp_state = self.advance(self.app, self.actor, self.pp_key, trigger).to_state
        return time.perf_counter() - started

    def project_introduction(self, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            trigger = "hold" if self.pi_state == "first_contact" else "resume"
            self.pi_state = self.advance(self.app, self.actor, self.pi_key, trigger).to_state
        return time.perf_counter() - started

    def close(self) -> None:
        self.app.close()


class _Raw:
    """sqlite3 writing what an advance writes, with the service's PRAGMAs."""

    def __init__(self, path: Path, key: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=15)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       "busy_timeout=15000"):
            self.conn.execute(f"PRAGMA {pragma}")
        row = self.conn.execute(
            "SELECT id, state, version, last_seq, head_hash FROM cases WHERE key = ?", (key,)
        ).fetchone()
        self.case_id, self.state, self.version, self.seq, self.head = row
        # Events are numbered database-wide (migration 0002); the baseline numbers its own.
        self.gseq = self.conn.execute(
            "SELECT COALESCE(MAX(gseq), 0) FROM case_events").fetchone()[0]
        self.at = NOW.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def pingpong(self, n: int) -> float:
        conn, at = self.conn, self.at
        started = time.perf_counter()
        for _ in range(n):
            dest = "b" if self.state == "a" else "a"
            trigger = "to_" + dest
            data = json.dumps({"trigger": trigger})
            seq = self.seq + 1
            digest = hashlib.sha256(f"{self.head}|{seq}|{trigger}|{at}".encode()).hexdigest()
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(
                "UPDATE cases SET version = ?, last_seq = ?, head_hash = ?, state = ?,"
                " previous_state = ?, state_entered_at = ?, closed_at = NULL"
                " WHERE id = ? AND version = ?",
                (self.version + 1, seq, digest, dest, self.state, at, self.case_id,
                 self.version),
            )
            if cur.rowcount != 1:
                raise RuntimeError("raw baseline lost its case")
            self.gseq += 1
            conn.execute(
                "INSERT INTO case_events (case_id, seq, kind, actor, at, from_state, to_state,"
                " data, prev_hash, hash, gseq, scheme)"
                " VALUES (?, ?, 'advanced', 'wang.li', ?, ?, ?, ?, ?, ?, ?, 'sha256-g')",
                (self.case_id, seq, at, self.state, dest, data, self.head, digest, self.gseq),
            )
            conn.execute("COMMIT")
            self.version, self.seq, self.head, self.state = self.version + 1, seq, digest, dest
        return time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    n = 600 if quick else 3_000
    rounds = 6 if quick else 10
    chunk = n // rounds
    base = workdir() / "advance"
    service = _Side(base / "service")
    other = _Side(base / "raw")  # same schema, same case, written by raw sqlite3 only
    raw = _Raw(other.path, other.pp_key)
    other.close()
    try:
        service.pingpong(50)  # warm-up: statement cache, compiled machine
        service.project_introduction(20)
        raw.pingpong(50)
        t_svc = t_raw = t_pi = 0.0
        for r in range(rounds):
            if r % 2 == 0:
                t_svc += service.pingpong(chunk)
                t_raw += raw.pingpong(chunk)
            else:
                t_raw += raw.pingpong(chunk)
                t_svc += service.pingpong(chunk)
            t_pi += service.project_introduction(max(chunk // 3, 10))
        pi_n = rounds * max(chunk // 3, 10)
        done = rounds * chunk
    finally:
        raw.close()
        service.close()
    svc_rate, raw_rate, pi_rate = done / t_svc, done / t_raw, pi_n / t_pi
    log(f"  service {svc_rate:.0f}/s, raw {raw_rate:.0f}/s, project_introduction {pi_rate:.0f}/s")
    return [
        {
            "name": "advance(), ping-pong, no follow-ups", "value": svc_rate,
            "unit": "/s", "baseline": raw_rate,
            "baseline_name": "raw sqlite3 UPDATE+INSERT, 1 txn each",
            "check": ("ratio>=", TARGET),
            "note": f"{done} advances each side, {rounds} interleaved rounds",
        },
        {
            "name": "advance(), project_introduction", "value": pi_rate,
            "unit": "/s", "baseline": raw_rate,
            "baseline_name": "raw sqlite3 UPDATE+INSERT, 1 txn each",
            "check": None,
            "note": f"{pi_n} advances first_contact <-> on_hold; each cancels 2 open tasks "
                    "and plans 2",
        },
    ]
