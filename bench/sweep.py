"""Sweep cost follows what is due: one ``sweep()`` with 1,000 due tasks among
1,000,000 open ones against the same 1,000 due among 10,000 (target: within 1.5x).

The tasks are written fast with raw ``executemany`` inserts into a schema made by
``torchflow.store.migrate.upgrade``; every value goes through SQLAlchemy's own
SQLite bind processors so the stored text is what the service itself writes
(SQLite compares these times as strings). Most tasks have their next notice far
ahead; the due ones have a "due" notice to produce now.

Two sweeps are timed, each against its 10k twin:

* the steady tick: today's digest is already out, so ``sweep()`` is the due
  tasks only (what the service does every minute);
* the first tick after the digest time: ``sweep()`` also produces the daily
  digests (once a day).

The prepared databases are cached for the process, so ``bench.memory`` reuses them.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# A Wednesday in Beijing, 10:00 local: after the 08:30 digest time, inside the
# officially covered calendar.
NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
TODAY = date(2026, 3, 4)
DUE = 1_000
PEOPLE = 20
TASKS_PER_CASE = 3  # contact, visit, deadline of one state
TARGET = 1.5

Log = Callable[[str], None]


@dataclass
class Prepared:
    """A migrated SQLite database with ``open_tasks`` open tasks, ``DUE`` of them due."""

    open_tasks: int
    path: Path
    config: Path
    due_ids: list[int]
    first_notice: str  # next_notice_at of a due task, as stored
    seconds: float  # how long preparing took


_TMP: Path | None = None
_CACHE: dict[int, Prepared] = {}


def workdir() -> Path:
    """One temporary folder for the process, removed at exit."""
    global _TMP
    if _TMP is None:
        _TMP = Path(tempfile.mkdtemp(prefix="tfbench-"))
        atexit.register(shutil.rmtree, _TMP, True)
    return _TMP


def write_config(folder: Path, db: Path, workflows: Path | None = None) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n\n'
        f'[workflows]\ndirectory = "{workflows or ROOT / "workflows"}"\n\n'
        f'[notify.file]\npath = "{folder / "outbox.jsonl"}"\n',
        encoding="utf-8",
    )
    return config


def prepare(open_tasks: int, log: Log = lambda _: None) -> Prepared:
    """The database for ``open_tasks`` open tasks (cached for this process)."""
    if open_tasks in _CACHE:
        return _CACHE[open_tasks]
    started = time.perf_counter()
    folder = workdir() / f"sweep-{open_tasks}"
    folder.mkdir()
    path = folder / "torchflow.db"
    config = write_config(folder, path)
    log(f"  preparing {open_tasks:,} open tasks in {path} ...")
    version_id = _schema_and_people(config)
    due_ids, first_notice = _fill(path, open_tasks, version_id)
    prepared = Prepared(open_tasks, path, config, due_ids, first_notice,
                        time.perf_counter() - started)
    log(f"  ... {prepared.seconds:.1f} s")
    _CACHE[open_tasks] = prepared
    return prepared


def _schema_and_people(config: Path) -> int:
    """Schema by the migrations, people and the workflow version by the service."""
    from torchflow.config import load_settings
    from torchflow.service.app import build_app
    from torchflow.service.people.staff import add_person
    from torchflow.store.migrate import upgrade

    app = build_app(load_settings(config, env={}), clock=lambda: NOW, create=True)
    try:
        upgrade(app.db)
        for i in range(PEOPLE):
            roles = ["director"] if i == 0 else ["coordinator"]
            add_person(app, f"p{i:02d}", name=f"Person {i}", roles=roles,
                       email=f"p{i:02d}@zone.example.cn")
        with app.db.transaction() as s:
            return app.registry.current(s, "project_introduction", NOW).version_id
    finally:
        app.close()


def _processors() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """SQLAlchemy's own SQLite formatting for datetimes (stored as naive UTC) and dates."""
    from sqlalchemy import Date, DateTime
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    dt = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    d = Date().dialect_impl(dialect).bind_processor(dialect)
    assert dt is not None and d is not None

    def stamp(value: datetime) -> Any:
        return dt(value.astimezone(UTC).replace(tzinfo=None))

    return stamp, d


def _fill(path: Path, open_tasks: int, version_id: int) -> tuple[list[int], str]:
    from torchflow.domain.calendar import WorkCalendar
    from torchflow.domain.timeline import stage_times, timeline

    stamp, day = _processors()
    cal = WorkCalendar(timezone="Asia/Shanghai")
    now_s = stamp(NOW)
    # The due ones: a contact due today with a 1-workday reminder, nothing produced
    # yet (stage 0): its next notice time (the reminder) has passed.
    due_tl = timeline(cal, kind="contact", due_on=TODAY, remind=1)
    first_notice = stamp(stage_times(due_tl)[0][2])
    # The rest: due months ahead, on a few working days, first notice far ahead.
    later: list[tuple[str, str]] = []
    d = TODAY + timedelta(days=120)
    while len(later) < 40:
        d += timedelta(days=1)
        if cal.is_workday(d):
            later.append((day(d), stamp(stage_times(
                timeline(cal, kind="contact", due_on=d, remind=1))[0][2])))
    n_cases = -(-open_tasks // TASKS_PER_CASE)
    # The contact task of DUE cases spread evenly over the table.
    step = n_cases // DUE
    due_ids = [1 + i * step * TASKS_PER_CASE for i in range(DUE)]
    due_set = set(due_ids)
    rules = [("contact", "negotiation.contact", 1, None),
             ("visit", "negotiation.visit", 2, None),
             ("deadline", "negotiation.deadline", 10, "director")]

    def cases() -> Iterator[tuple[Any, ...]]:
        for c in range(1, n_cases + 1):
            yield (c, f"PI-2025-{c:07d}", "project_introduction", version_id, "negotiation",
                   "first_contact", f"Bench matter {c}", 2 + c % (PEOPLE - 1),
                   '{"enterprise": "Bench Co.", "industry": "other"}', now_s, now_s, None,
                   2, 1, "0" * 64)

    def tasks() -> Iterator[tuple[Any, ...]]:
        for t in range(1, open_tasks + 1):
            case_id = (t - 1) // TASKS_PER_CASE + 1
            kind, rule, remind, escalate = rules[(t - 1) % TASKS_PER_CASE]
            if t in due_set:
                due_on, next_at = day(TODAY), first_notice
            else:
                due_on, next_at = later[t % len(later)]
            yield (t, case_id, kind, rule, 1, "negotiation", due_on, None, None, None, remind,
                   escalate, 2 + case_id % (PEOPLE - 1), "open", 0, next_at, now_s, None, "")

    with bulk_load(path) as conn:
        conn.executemany(CASE_INSERT, cases())
        conn.executemany(
            "INSERT INTO tasks (id, case_id, kind, rule, occurrence, state, due_on,"
            " window_start, window_end, seed, remind, escalate_to, assignee_id, status,"
            " stage_done, next_notice_at, created_at, closed_at, outcome)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tasks())
    return due_ids, first_notice


CASE_INSERT = (
    "INSERT INTO cases (id, key, workflow, workflow_version_id, state, previous_state,"
    " title, owner_id, fields, opened_at, state_entered_at, closed_at, version,"
    " last_seq, head_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


@contextmanager
def bulk_load(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection loading rows into a migrated SQLite file in one transaction,
    fast: bulk only (no journal, no fsync). The file is left in WAL, as the
    service's own connections (WAL + synchronous=FULL) expect it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def reset(prepared: Prepared, digest_done: bool) -> None:
    """Put the due tasks back to "nothing produced yet" and empty the ledger.

    ``digest_done`` leaves today's digest mark in place, as after the first tick
    of the day; otherwise the next sweep produces the digests again.
    """
    conn = sqlite3.connect(prepared.path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE tasks SET stage_done = 0, next_notice_at = ? WHERE id = ?",
                         [(prepared.first_notice, t) for t in prepared.due_ids])
        conn.execute("DELETE FROM notices")
        stamp, _ = _processors()
        if digest_done:
            conn.execute("INSERT OR REPLACE INTO scheduler_marks (name, at) VALUES ('digest', ?)",
                         (stamp(NOW),))
        else:
            conn.execute("DELETE FROM scheduler_marks")
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _app(prepared: Prepared) -> Any:
    from torchflow.config import load_settings
    from torchflow.service.app import build_app

    return build_app(load_settings(prepared.config, env={}), clock=lambda: NOW)


def _time_sweep(app: Any, prepared: Prepared, digest_done: bool) -> float:
    from torchflow.service.delivery.sweep import sweep

    reset(prepared, digest_done)
    started = time.perf_counter()
    result = sweep(app, NOW)
    elapsed = time.perf_counter() - started
    if result.tasks != DUE or result.notices != DUE:
        raise RuntimeError(f"sweep on {prepared.open_tasks:,} tasks swept {result}; "
                           f"expected {DUE} tasks and {DUE} notices")
    if not digest_done and result.digests == 0:
        raise RuntimeError("the digest sweep produced no digest")
    return elapsed


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    big_n = 100_000 if quick else 1_000_000
    rounds = 3 if quick else 5
    small = prepare(10_000, log)
    big = prepare(big_n, log)
    apps = {p.open_tasks: _app(p) for p in (small, big)}
    times: dict[tuple[int, bool], list[float]] = {}
    try:
        for p in (small, big):  # warm-up: statement cache, calendar years, page cache
            for digest_done in (True, False):
                _time_sweep(apps[p.open_tasks], p, digest_done)
        for r in range(rounds):
            order = (small, big) if r % 2 == 0 else (big, small)
            for digest_done in (True, False):
                for p in order:
                    times.setdefault((p.open_tasks, digest_done), []).append(
                        _time_sweep(apps[p.open_tasks], p, digest_done))
    finally:
        for app in apps.values():
            app.close()
    label = "100k" if quick else "1M"
    figures = []
    for digest_done, what in ((True, "steady tick"), (False, "with digests")):
        b = statistics.median(times[(big_n, digest_done)])
        s = statistics.median(times[(10_000, digest_done)])
        figures.append({
            "name": f"sweep(), {DUE:,} due of {label} open, {what}",
            "value": b, "unit": "s",
            "baseline": s, "baseline_name": f"same sweep, {DUE:,} due among 10,000",
            "check": ("ratio<=", TARGET),
            "note": (f"{big_n:,} open tasks" + (" (--quick: not 1,000,000)" if quick else "")
                     + (": today's digest already out (every tick but the first of the day)"
                        if digest_done else ": first tick after 08:30, also makes the digests")
                     + f"; median of {rounds}; runs {_ms(times[(big_n, digest_done)])} vs "
                     f"{_ms(times[(10_000, digest_done)])}"),
        })
    return figures


def _ms(values: list[float]) -> str:
    return "[" + " ".join(f"{v * 1000:.0f}" for v in values) + "] ms"
