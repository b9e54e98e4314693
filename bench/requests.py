"""`report requests` over 1,000,000 request events (``--quick``: 100,000)
against hand-written SQL computing the same figures in the same run (target:
within 2x), the figures of both compared before anything is timed.

The history is written with executemany: `enterprise_request` cases accepted
on working days over 2025-2026, each walked through the loop as the service
writes it (triggers, fields, the deadline planned on entering a state in
``data.planned``): assigned, one in ten returned and re-assigned, one in twenty
supervised without signing, signed, one in ten on hold and resumed, one in ten
asking an extension (seven in ten approved), answered, called back (15%
不满意 and handled again), closed; 3% withdrawn; the history cut at "now"
(1 December 2026), so the later ones are still open. The hand-written side
builds the same per-entry table with one CREATE TEMP TABLE ... AS (window
passes over case_events, working days from a `bench_days` table joined on
``date(at, '+8 hours')``) and runs one grouped query per figure over it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.reports import _days_table
from bench.sweep import (
    CASE_INSERT,
    Log,
    _ms,
    _processors,
    _schema_and_people,
    bulk_load,
    workdir,
    write_config,
)

TARGET = 2.0
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
BEIJING = ZoneInfo("Asia/Shanghai")
WORKFLOW = "enterprise_request"
CATEGORIES = ("land", "power", "financing", "permit", "talent_housing", "policy", "other")
UNITS = tuple(f"单位{i:02d}" for i in range(12))
LO, HI = "2025-12-31 16:00:00.000000", "2026-12-31 16:00:00.000000"  # 2026, Beijing
END = "2026-12-01 02:00:00.000000"  # now: the open requests' ages are counted to it
LAST_DAY = "2026-12-01"  # the earlier of the period's last day and today


def _workdays() -> list[date]:
    from torchflow.domain.calendar import WorkCalendar

    cal = WorkCalendar(timezone="Asia/Shanghai", warn=lambda _m: None)
    out, d = [], date(2025, 1, 2)
    while d <= date(2027, 6, 30):
        if cal.is_workday(d):
            out.append(d)
        d += timedelta(days=1)
    return out


class Walk:
    """One request's history: each state entry on a working day (by index)."""

    def __init__(self, days: list[date], rnd: random.Random) -> None:
        self.days, self.rnd = days, rnd
        self.steps: list[tuple[str, str | None, str, int, dict[str, Any]]] = []
        self.state: str | None = None

    def go(self, state: str, trigger: str, i: int, fields: dict[str, Any] | None = None,
           due: int | None = None) -> None:
        data: dict[str, Any] = {"trigger": trigger}
        if fields:
            data["fields"] = fields
        if due is not None:
            data["planned"] = [{"rule": f"{state}.deadline", "occurrence": 1,
                                "due_on": self.days[due].isoformat()}]
        self.steps.append((state, self.state, trigger, i, data))
        self.state = state


def walk(days: list[date], rnd: random.Random, i: int, category: str, unit: str) -> Walk:
    """The whole loop of one request from working day ``i``; cut at now later."""
    w, r = Walk(days, rnd), rnd.random
    w.go("accepted", "open", i, {"enterprise": f"企业{i}", "category": category}, due=i + 1)
    if r() < 0.03:
        w.go("withdrawn", "withdraw", i + rnd.randrange(0, 3))
        return w
    i += rnd.choice((0, 0, 1))
    w.go("assigned", "assign", i, {"lead_unit": unit, "handler": "p05"}, due=i + 1)
    if r() < 0.10:
        i += rnd.choice((0, 1, 1, 2))
        w.go("returned", "send_back", i, {"return_reason": "职责不符", "returns": 1}, due=i + 1)
        i += rnd.choice((0, 1))
        w.go("assigned", "assign", i, due=i + 1)
    if r() < 0.05:  # never signed: supervised, answered from there
        i += rnd.randrange(2, 5)
        w.go("supervised", "supervise", i, due=i + 3)
    else:
        i += rnd.choice((0, 1, 1, 1, 1, 2, 3))
        due = i + 7
        w.go("handling", "sign", i, due=due)
        if r() < 0.10:
            i += rnd.randrange(1, 4)
            left = max(due - i, 0)
            w.go("on_hold", "hold", i, due=i + 20)
            i += rnd.randrange(1, 7)
            due = i + left
            w.go("handling", "resume", i, due=due)
        if r() < 0.10 and due - i > 2:
            i += 1
            w.go("extension_requested", "ask_extension", i,
                 {"extended_to": days[due + 10].isoformat()}, due=i + 1)
            i += rnd.choice((0, 1))
            if r() < 0.7:
                due += 10
                w.go("handling", "approve_extension", i, {"extensions": 1}, due=due)
            else:
                w.go("handling", "refuse_extension", i, due=due)
        if r() < 0.05:
            i += rnd.randrange(1, 4)
            w.go("supervised", "supervise", i, due=i + 3)
    i += rnd.randrange(1, 12)
    w.go("answered", "answer", i, {"answer": "已办理"}, due=i + 1)
    i += rnd.choice((0, 1, 1, 2))
    if r() < 0.15:
        w.go("called_back", "call_back", i, {"satisfaction": "dissatisfied"}, due=i + 2)
        w.go("handling", "rehandle", i, {"rehandles": 1}, due=i + 7)
        i += rnd.randrange(1, 10)
        w.go("answered", "answer", i, due=i + 1)
        i += rnd.choice((0, 1))
    said = rnd.choice(("satisfied", "satisfied", "satisfied", "basically_satisfied"))
    w.go("called_back", "call_back", i, {"satisfaction": said}, due=i + 2)
    i += rnd.choice((0, 0, 1, 2))
    w.go("closed", "close", i)
    return w


def prepare(n_events: int, log: Log) -> Path:
    folder = workdir() / f"requests-{n_events}"
    folder.mkdir()
    path = folder / "torchflow.db"
    config = write_config(folder, path)
    log(f"  preparing {n_events:,} request events in {path} ...")
    started = time.perf_counter()
    _schema_and_people(config)
    version_id = _version(config)
    stamp, _day = _processors()
    rnd = random.Random(18)
    days = _workdays()
    today = NOW.astimezone(BEIJING).date()
    first, last = days.index(date(2025, 1, 2)), days.index(date(2026, 11, 30))
    cases: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    gseq = c = 0
    while gseq < n_events:
        c += 1
        w = walk(days, rnd, rnd.randrange(first, last), rnd.choice(CATEGORIES),
                 rnd.choice(UNITS))
        fields: dict[str, Any] = {}
        at = None
        kept = [s for s in w.steps if days[s[3]] <= today]
        for seq, (state, source, _trigger, i, data) in enumerate(kept, start=1):
            gseq += 1
            # 10:00 Beijing on the day, a few minutes apart within it
            at = datetime.combine(days[i], clock_time(10, 0), BEIJING) + timedelta(
                minutes=5 * seq)
            if at > NOW:
                at = NOW - timedelta(minutes=len(kept) - seq + 1)
            fields.update(data.get("fields", {}))
            events.append((gseq, c, seq, "opened" if seq == 1 else "advanced", "p01",
                           stamp(at), source, state, json.dumps(data, ensure_ascii=False),
                           "0" * 64, "0" * 64, gseq, "sha256"))
        state, n = kept[-1][0], len(kept)
        assert at is not None
        closed = stamp(at) if state in ("closed", "withdrawn") else None
        cases.append((c, f"RQ-2025-{c:07d}", WORKFLOW, version_id, state, kept[-2][0]
                      if n > 1 else None, f"诉求 {c}", 1 + c % 9,
                      json.dumps(fields, ensure_ascii=False), events[-n][5], events[-1][5],
                      closed, n + 1, n, "0" * 64))
    with bulk_load(path) as conn:
        conn.executemany(CASE_INSERT, cases)
        conn.executemany(
            "INSERT INTO case_events (id, case_id, seq, kind, actor, at, from_state, to_state,"
            " data, prev_hash, hash, gseq, scheme) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
        conn.execute("UPDATE cases SET last_event_at = state_entered_at")
        conn.execute("UPDATE audit_head SET gseq = ?", (gseq,))
        _days_table(conn)
        conn.execute("ANALYZE")
    log(f"  ... {len(cases):,} requests, {gseq:,} events, {time.perf_counter() - started:.1f} s")
    return config


def _version(config: Path) -> int:
    from torchflow.config import load_settings
    from torchflow.service.app import build_app

    app = build_app(load_settings(config, env={}), clock=lambda: NOW)
    try:
        with app.db.transaction() as s:
            return app.registry.current(s, WORKFLOW, NOW).version_id
    finally:
        app.close()


IN = "d_in BETWEEN '2026-01-01' AND '2026-12-31'"
UK = ("json_extract(c.fields, '$.lead_unit') AS u, json_extract(c.fields, '$.category') AS k")
WIN = "PARTITION BY case_id ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND"
BUILD = f"""
CREATE TEMP TABLE hr AS
WITH ev AS (
    SELECT e.case_id, e.seq, e.to_state AS st, e.from_state AS fr,
           json_extract(e.data, '$.trigger') AS trg, date(e.at, '+8 hours') AS d_in,
           CASE WHEN json_extract(e.data, '$.planned[0].rule') = e.to_state || '.deadline'
                THEN json_extract(e.data, '$.planned[0].due_on') END AS due
    FROM case_events e JOIN cases c ON c.id = e.case_id
    WHERE c.workflow = '{WORKFLOW}' AND e.to_state IS NOT NULL AND c.opened_at < '{HI}'
      AND (c.closed_at IS NULL OR c.closed_at >= '{LO}')),
p AS (SELECT ev.*, lead(d_in) OVER w AS d_out, lead(st) OVER w AS nx
      FROM ev WINDOW w AS (PARTITION BY case_id ORDER BY seq)),
q AS (SELECT p.*, a.wd AS wd_in, b.wd AS wd_out FROM p
      JOIN bench_days a ON a.day = p.d_in LEFT JOIN bench_days b ON b.day = p.d_out)
SELECT q.*,
  min(CASE WHEN st = 'handling' AND fr = 'assigned' THEN seq END)
      OVER ({WIN} CURRENT ROW) AS sign_seq,
  max(CASE WHEN st = 'answered' THEN seq END) OVER ({WIN} 1 PRECEDING) AS a_seq,
  max(CASE WHEN st = 'handling' THEN seq END) OVER ({WIN} 1 PRECEDING) AS h_seq,
  coalesce(sum(CASE WHEN st = 'on_hold' THEN wd_out - wd_in END)
      OVER ({WIN} 1 PRECEDING), 0) AS hold_before
FROM q"""
HAND: dict[str, str] = {
    "sign": f"""
        SELECT {UK}, CASE WHEN nx = 'handling' THEN wd_out - wd_in END AS days, count(*),
               sum(nx = 'handling'),
               sum(nx = 'handling' OR (due IS NOT NULL AND due < coalesce(d_out, '{LAST_DAY}'))),
               sum(nx = 'handling' AND (due IS NULL OR d_out <= due)), sum(nx = 'returned')
        FROM hr JOIN cases c ON c.id = hr.case_id
        WHERE st = 'assigned' AND {IN} GROUP BY u, k, days""",
    "handle": f"""
        SELECT {UK}, (a.wd_in - s.wd_in) - (a.hold_before - s.hold_before) AS days, count(*)
        FROM hr a JOIN hr s ON s.case_id = a.case_id AND s.seq = a.sign_seq
        JOIN cases c ON c.id = a.case_id
        WHERE a.st = 'answered' AND a.a_seq IS NULL AND a.{IN} GROUP BY u, k, days""",
    "close": f"""
        SELECT {UK}, count(*), sum(h.due IS NOT NULL AND a.d_in <= h.due)
        FROM hr x JOIN hr a ON a.case_id = x.case_id AND a.seq = x.a_seq
        LEFT JOIN hr h ON h.case_id = x.case_id AND h.seq = a.h_seq
        JOIN cases c ON c.id = x.case_id
        WHERE x.st = 'closed' AND x.{IN} GROUP BY u, k""",
    "callback": f"""
        SELECT {UK}, CASE WHEN nx = 'handling' THEN 'dissatisfied'
                          ELSE json_extract(c.fields, '$.satisfaction') END AS said, count(*)
        FROM hr JOIN cases c ON c.id = hr.case_id
        WHERE st = 'called_back' AND {IN} GROUP BY u, k, said""",
    "side": f"""
        SELECT {UK}, sum(st = 'extension_requested'),
               sum(fr = 'extension_requested' AND st <> 'withdrawn'
                   AND trg = 'approve_extension'),
               sum(fr = 'extension_requested' AND st <> 'withdrawn'
                   AND trg = 'refuse_extension'),
               sum(st = 'supervised'), sum(st = 'handling' AND fr = 'called_back'),
               sum(st = 'handling' AND fr = 'assigned')
        FROM hr JOIN cases c ON c.id = hr.case_id WHERE {IN} GROUP BY u, k""",
    "resolution": f"""
        SELECT {UK}, count(*), sum(c.state = 'closed' AND c.closed_at < '{HI}'),
               sum(c.state = 'withdrawn' AND c.closed_at < '{HI}')
        FROM cases c WHERE c.workflow = '{WORKFLOW}' AND c.opened_at >= '{LO}'
          AND c.opened_at < '{HI}' GROUP BY u, k""",
    "ages": f"""
        SELECT (SELECT wd FROM bench_days WHERE day = '2026-12-01') - d.wd AS age, count(*)
        FROM cases c JOIN bench_days d ON d.day = date(c.opened_at, '+8 hours')
        WHERE c.workflow = '{WORKFLOW}' AND c.opened_at < '{END}'
          AND (c.closed_at IS NULL OR c.closed_at >= '{END}') GROUP BY age""",
}


def hand(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The hand-written figures: the table, a grouped query per figure."""
    conn.execute("BEGIN")
    try:
        conn.execute(BUILD)
        return {name: conn.execute(sql).fetchall() for name, sql in HAND.items()}
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.hr")
        conn.execute("COMMIT")


def headline(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, tuple[Any, int]]:
    """The main figures from the hand-written rows, as the report shows them."""
    def total(name: str, i: int) -> int:
        return sum(int(r[i] or 0) for r in rows[name])

    def median(name: str, n_col: int) -> tuple[Any, int]:
        hist: dict[int, int] = {}
        for r in rows[name]:
            if r[2] is not None:
                hist[int(r[2])] = hist.get(int(r[2]), 0) + int(r[n_col])
        n, seen = sum(hist.values()), 0
        for d in sorted(hist):
            seen += hist[d]
            if seen >= (n + 1) // 2:
                return d, n
        return None, 0

    said = {s: sum(int(r[3]) for r in rows["callback"] if r[2] == s)
            for s in ("satisfied", "basically_satisfied")}
    return {
        "sign_on_time": (total("sign", 6), total("sign", 5)),
        "closed_on_time": (total("close", 3), total("close", 2)),
        "resolution": (total("resolution", 3), total("resolution", 2) - total("resolution", 4)),
        "satisfaction": (said["satisfied"] + said["basically_satisfied"], total("callback", 3)),
        "fully_satisfied": (said["satisfied"], total("callback", 3)),
        "sign_median": median("sign", 4),
        "handle_median": median("handle", 3),
    }


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    from torchflow.config import load_settings
    from torchflow.domain.periods import parse_period
    from torchflow.service.app import build_app
    from torchflow.service.people.lookup import Actor
    from torchflow.service.reports.registry import run as report
    from torchflow.service.reports.snapshot import Filters

    n = 100_000 if quick else 1_000_000
    rounds = 3 if quick else 5
    config = prepare(n, log)
    app = build_app(load_settings(config, env={}), clock=lambda: NOW)
    db = Path(str(app.db.engine.url.database))
    conn = sqlite3.connect(db, isolation_level=None)
    f = Filters(period=parse_period("2026"), workflow=WORKFLOW)
    reader = Actor(1, "p00", ("director",))
    times: dict[str, list[float]] = {"hand": [], "tf": []}
    try:
        doc = report(app, "requests", f, reader)  # warm-up, and the figures compared
        got = {r["code"]: (r["numerator"], r["denominator"]) for r in doc["tables"][0]["rows"]}
        want = headline(hand(conn))
        if got != want:
            raise AssertionError(f"the report and the hand-written SQL differ: {got} != {want}")
        log(f"  figures agree: {got}")
        for k in range(rounds):  # interleaved, the order rotating
            pair = [("hand", lambda: hand(conn)), ("tf", lambda: report(app, "requests", f,
                                                                        reader))]
            for name, fn in pair[k % 2:] + pair[:k % 2]:
                times[name].append(_timed(fn))
    finally:
        conn.close()
        app.close()
    hand_s, tf_s = statistics.median(times["hand"]), statistics.median(times["tf"])
    return [{
        "name": f"report requests, {n:,} request events",
        "value": tf_s, "unit": "s", "baseline": hand_s,
        "baseline_name": "hand-written SQL for the same figures (one temp table, one query "
                         "per figure)",
        "check": ("ratio<=", TARGET),
        "note": f"median of {rounds}, interleaved; {_ms(times['tf'])} vs {_ms(times['hand'])}; "
                f"figures checked equal",
    }]
