"""The five reports over 1,000,000 events of 100,000 cases (``--quick``: 100,000
over 10,000), each against one hand-written SQL query for the same figures in
the same run (target: within 2x), and the HTML report end to end, as a ratio
to the sum of those queries (target: under 10 s).

The history is written with executemany: project_introduction cases opened
over 2025-2026, ten entries each (lead, first contact, negotiation, on hold,
negotiation again, site inspection, signed, registered, construction,
production), a few working days apart; one contact task per case with an
outcome. The hand-written queries count working days the way one would by
hand: a table of dates and working-day ordinals, joined on the local date of
``date(at, '+8 hours')`` (Asia/Shanghai has no daylight saving).
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

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
HTML_SECONDS = 10.0
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
PATH = ["lead", "first_contact", "negotiation", "on_hold", "negotiation", "site_inspection",
        "signed", "registered", "construction", "production"]


def prepare(n_cases: int, log: Log) -> Path:
    folder = workdir() / f"reports-{n_cases}"
    folder.mkdir()
    path = folder / "torchflow.db"
    config = write_config(folder, path)
    log(f"  preparing {n_cases:,} cases, {n_cases * len(PATH):,} events in {path} ...")
    started = time.perf_counter()
    version_id = _schema_and_people(config)
    stamp, day = _processors()
    rnd = random.Random(9)
    first = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)

    cases: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    tasks: list[tuple[Any, ...]] = []
    gseq = 0
    for c in range(1, n_cases + 1):
        at = first + timedelta(minutes=rnd.randrange(0, 600 * 24 * 60))
        prev = None
        invest = rnd.randrange(100, 100000)
        for seq, state in enumerate(PATH, start=1):
            gseq += 1
            # The values live in the history as the service writes them: the
            # opening event carries the fields, signing sets the jobs agreed,
            # and the investment is revised after production.
            data = ({"fields": {"planned_investment": invest, "expected_jobs": 50}} if seq == 1
                    else {"fields": {"expected_jobs": 40 + c % 30}} if state == "signed"
                    else {"fields": {"planned_investment": invest * 2}} if state == "production"
                    else {})
            events.append((gseq, c, seq, "opened" if seq == 1 else "advanced", "p01", stamp(at),
                           prev, state, json.dumps(data), "0" * 64, "0" * 64, gseq, "sha256"))
            prev = state
            at += timedelta(days=rnd.randrange(1, 15), minutes=rnd.randrange(0, 600))
            if at > NOW:
                break
        owner = 1 + c % 9
        fields = json.dumps({"planned_investment": invest * (2 if prev == "production" else 1),
                             "expected_jobs": 50 if seq < 7 else 40 + c % 30})
        cases.append((c, f"PI-2025-{c:07d}", "project_introduction", version_id, prev, None,
                       f"Bench matter {c}", owner, fields, events[-seq][5], events[-1][5],
                       None, seq + 1, seq, "0" * 64))
        due = (NOW - timedelta(days=rnd.randrange(-20, 300))).date()
        outcome = rnd.choice(["on_time", "on_time", "late", "missed", None])
        status = {"on_time": "done", "late": "done", "missed": "missed", None: "open"}[outcome]
        tasks.append((c, c, "contact", "negotiation.contact", 1, "negotiation", day(due), 1,
                      owner, status, 0, None, stamp(NOW), None, "", outcome,
                      rnd.randrange(1, 5) if outcome == "late" else None))
    with bulk_load(path) as conn:
        conn.executemany(CASE_INSERT, cases)
        conn.executemany(
            "INSERT INTO case_events (id, case_id, seq, kind, actor, at, from_state, to_state,"
            " data, prev_hash, hash, gseq, scheme) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
        conn.executemany(
            "INSERT INTO tasks (id, case_id, kind, rule, occurrence, state, due_on, remind,"
            " assignee_id, status, stage_done, next_notice_at, created_at, closed_at, outcome,"
            " outcome_kind, late_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tasks)
        conn.execute("UPDATE audit_head SET gseq = ?", (gseq,))
        _days_table(conn)
        conn.execute("ANALYZE")
    log(f"  ... {time.perf_counter() - started:.1f} s")
    return config


def _days_table(conn: sqlite3.Connection) -> None:
    """What the hand-written queries count with: each date and its working-day ordinal."""
    from torchflow.domain.calendar import WorkCalendar

    cal = WorkCalendar(timezone="Asia/Shanghai", warn=lambda _m: None)
    conn.execute("CREATE TABLE bench_days (day TEXT PRIMARY KEY, wd INTEGER NOT NULL)")
    rows, wd, d = [], 0, date(2024, 12, 1)
    while d <= date(2026, 12, 31):
        wd += cal.is_workday(d)
        rows.append((d.isoformat(), wd))
        d += timedelta(days=1)
    conn.executemany("INSERT INTO bench_days VALUES (?, ?)", rows)


LO, HI = "2025-12-31 16:00:00.000000", "2026-12-31 16:00:00.000000"  # 2026, Beijing
LOCAL = "date(e.at, '+8 hours')"
# A field's value as it stood at the milestone entry: the last event up to it naming it.
_AT_ENTRY = """sum((SELECT json_extract(v.data, '$.fields.{f}') FROM case_events v
                    WHERE v.case_id = x.cid AND v.seq <= x.seq
                      AND json_type(v.data, '$.fields.{f}') IS NOT NULL
                    ORDER BY v.seq DESC LIMIT 1))"""
HAND: dict[str, str] = {
    "outcomes": f"""
        WITH x AS (
            SELECT e.case_id AS cid, e.to_state AS st, min(e.seq) AS seq,
                   (strftime('%Y', {LOCAL}) || 'Q' ||
                    ((CAST(strftime('%m', {LOCAL}) AS INTEGER) + 2) / 3)) AS b
            FROM case_events e
            WHERE e.to_state IN ('signed', 'construction', 'production')
              AND e.at >= '{LO}' AND e.at < '{HI}'
            GROUP BY cid, st, b)
        SELECT b, st, count(*), {_AT_ENTRY.format(f="planned_investment")},
               {_AT_ENTRY.format(f="expected_jobs")}
        FROM x GROUP BY b, st""",
    "pipeline": f"""
        WITH ev AS (SELECT e.case_id, e.seq, e.at, e.from_state, e.to_state FROM case_events e
                    WHERE e.at >= '{LO}' AND e.at < '{HI}')
        SELECT 'open', state, NULL, count(*) FROM cases WHERE closed_at IS NULL GROUP BY state
        UNION ALL SELECT 'in', to_state, NULL, count(*) FROM ev GROUP BY to_state
        UNION ALL SELECT 'out', from_state, NULL, count(*) FROM ev
                  WHERE from_state IS NOT NULL AND from_state <> to_state GROUP BY from_state
        UNION ALL SELECT 'reached', to_state, NULL, count(DISTINCT case_id) FROM ev
                  GROUP BY to_state
        UNION ALL SELECT 'funnel', a.to_state, b.to_state, count(DISTINCT a.case_id)
                  FROM ev a JOIN case_events b ON b.case_id = a.case_id AND b.seq > a.seq
                  WHERE b.to_state IN ('signed', 'construction', 'production', 'closed',
                                       'lost', 'withdrawn')
                    AND b.to_state <> a.to_state AND b.at < '{HI}'
                  GROUP BY a.to_state, b.to_state""",
    "stages": f"""
        WITH stays AS (
            SELECT e.case_id, e.to_state AS st, e.from_state AS fr, e.at AS entered,
                   lead(e.at) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS left_at
            FROM case_events e WHERE e.to_state IS NOT NULL),
        per AS (
            SELECT s.case_id, CASE WHEN s.st = 'on_hold' THEN s.fr ELSE s.st END AS st,
                   CASE WHEN s.st = 'on_hold' THEN 0 ELSE 1 END AS staged,
                   d2.wd - d1.wd AS days
            FROM stays s
            JOIN bench_days d1 ON d1.day = date(s.entered, '+8 hours')
            JOIN bench_days d2 ON d2.day = date(coalesce(s.left_at, '2026-12-01 02:00:00'),
                                               '+8 hours')
            WHERE s.entered < '{HI}' AND (s.left_at IS NULL OR s.left_at >= '{LO}')),
        pc AS (
            SELECT case_id, st, sum(CASE WHEN staged = 1 THEN days ELSE 0 END) AS days,
                   sum(CASE WHEN staged = 0 THEN days ELSE 0 END) AS hold, max(staged) AS staged
            FROM per GROUP BY case_id, st),
        r AS (
            SELECT st, days, hold,
                   row_number() OVER (PARTITION BY st ORDER BY days) AS rn,
                   count(*) OVER (PARTITION BY st) AS n
            FROM pc WHERE staged = 1)
        SELECT st, count(*), max(CASE WHEN rn = (n + 1) / 2 THEN days END),
               max(CASE WHEN rn = (9 * n + 9) / 10 THEN days END), max(days),
               sum(CASE WHEN hold > 0 THEN 1 ELSE 0 END), sum(hold)
        FROM r GROUP BY st""",
    "compliance": """
        SELECT p.handle, c.workflow, t.kind,
               sum(t.status <> 'cancelled'), sum(t.outcome_kind = 'on_time'),
               sum(t.outcome_kind = 'late'),
               sum(CASE WHEN t.outcome_kind = 'late' THEN t.late_by ELSE 0 END),
               max(CASE WHEN t.outcome_kind = 'late' THEN t.late_by END),
               sum(t.outcome_kind = 'missed' OR t.status = 'missed'), sum(t.status = 'open'),
               sum(t.status = 'open' AND t.due_on < '2026-12-01'),
               sum(EXISTS (SELECT 1 FROM notices n WHERE n.task_id = t.id
                           AND n.kind = 'escalation'))
        FROM tasks t JOIN cases c ON c.id = t.case_id LEFT JOIN people p ON p.id = t.assignee_id
        WHERE t.due_on >= '2026-01-01' AND t.due_on <= '2026-12-31'
        GROUP BY p.handle, c.workflow, t.kind""",
    "workload": f"""
        SELECT p.handle,
          (SELECT count(*) FROM cases c WHERE c.owner_id = p.id AND c.closed_at IS NULL
             AND c.workflow = 'project_introduction'),
          (SELECT count(*) FROM tasks t JOIN cases c ON c.id = t.case_id
             WHERE t.assignee_id = p.id AND t.status = 'open'
             AND c.workflow = 'project_introduction'),
          (SELECT count(*) FROM tasks t JOIN cases c ON c.id = t.case_id
             WHERE t.assignee_id = p.id AND t.status = 'open' AND t.due_on < '2026-12-01'
             AND c.workflow = 'project_introduction'),
          (SELECT count(*) FROM tasks t JOIN cases c ON c.id = t.case_id
             WHERE t.assignee_id = p.id AND t.status = 'open'
             AND t.due_on >= '2026-12-01' AND t.due_on <= '2026-12-15'
             AND c.workflow = 'project_introduction'),
          (SELECT count(*) FROM notices n WHERE n.recipient = p.handle AND n.status = 'sent'
             AND n.sent_at >= '{LO}' AND n.sent_at < '{HI}')
        FROM people p WHERE p.active ORDER BY p.handle""",
}


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    from sqlalchemy import text

    from torchflow.config import load_settings
    from torchflow.domain.periods import parse_period
    from torchflow.reports.html import render
    from torchflow.service.app import build_app
    from torchflow.service.reports.registry import english, run_all
    from torchflow.service.reports.registry import run as report
    from torchflow.service.reports.snapshot import Filters

    REPORTS = tuple(HAND)  # the five; the requests' report has its own (bench/requests.py)
    n = 10_000 if quick else 100_000
    rounds = 3 if quick else 5
    config = prepare(n, log)
    app = build_app(load_settings(config, env={}), clock=lambda: NOW)
    f = Filters(period=parse_period("2026"), workflow="project_introduction")

    def hand(name: str) -> Callable[[], Any]:
        def go() -> Any:
            with app.db.read() as s:
                return s.execute(text(HAND[name])).all()
        return go

    times: dict[str, list[float]] = {f"{r}:{k}": [] for r in REPORTS for k in ("hand", "tf")}
    times["html"] = []
    try:
        for r in REPORTS:  # warm-up: page cache, statement cache, calendar years
            hand(r)()
            report(app, r, f)
        for _ in range(rounds):
            for r in REPORTS:
                times[f"{r}:hand"].append(_timed(hand(r)))
                times[f"{r}:tf"].append(_timed(lambda r=r: report(app, r, f)))  # type: ignore[misc]
            times["html"].append(_timed(lambda: render(*run_all(app, f), english(app))))
    finally:
        app.close()
    figures: list[dict[str, Any]] = []
    for r in REPORTS:
        hand_s, tf_s = statistics.median(times[f"{r}:hand"]), statistics.median(times[f"{r}:tf"])
        figures.append({
            "name": f"report {r}, {n * len(PATH):,} events / {n:,} cases",
            "value": tf_s, "unit": "s", "baseline": hand_s,
            "baseline_name": "one hand-written SQL query for the same figures",
            "check": ("ratio<=", TARGET),
            "note": f"median of {rounds}, interleaved; {_ms(times[f'{r}:tf'])} vs "
                    f"{_ms(times[f'{r}:hand'])}"})
    queries = sum(statistics.median(times[f"{r}:hand"]) for r in REPORTS)
    html_s = statistics.median(times["html"])
    figures.append({
        "name": f"report html end to end, {n * len(PATH):,} events",
        "value": html_s, "unit": "s", "baseline": queries,
        "baseline_name": "the sum of the five hand-written queries",
        "check": ("value<", HTML_SECONDS),
        "note": f"five reports, exceptions, five SVG charts, template; ratio to the queries "
                f"{html_s / queries:.2f}x; runs {_ms(times['html'])}"})
    return figures
