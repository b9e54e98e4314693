"""`workflow migrate --dry-run` over 100,000 open tasks against reading those tasks
with one SELECT in the same run (target: <= 5x).

50,000 open ``project_introduction`` cases in ``negotiation``, each with two open
tasks (its contact and its deadline), are written by raw ``executemany`` into a
schema made by the migrations (times and dates through SQLAlchemy's own SQLite
bind processors, as ``bench.sweep`` does). Version 2 of the workflow changes the
negotiation contact from every 2 to every 3 working days, so every contact is
re-planned (its new date computed from the state's entry) and every deadline
kept.

Timed, interleaved in rounds:

* the dry run: ``service.workflows.version_moves.plan`` and ``plan_view`` (the data the
  command prints, text or --json), on the service's own connection;
* the baseline: ``SELECT * FROM tasks WHERE status = 'open'`` through SQLAlchemy
  Core on the same database, every row fetched.

Both run with the garbage collector off, as the CLI runs a one-shot command.
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.sweep import (
    CASE_INSERT,
    NOW,
    ROOT,
    _processors,
    _schema_and_people,
    bulk_load,
    workdir,
    write_config,
)

CASES = 50_000
TASKS_PER_CASE = 2  # the negotiation contact and deadline
PEOPLE = 20
TARGET = 5.0

Log = Callable[[str], None]


def _version_2(folder: Path) -> Path:
    """The shipped workflows, project_introduction at version 2 (contact every 3 wd)."""
    target = folder / "workflows-v2"
    shutil.copytree(ROOT / "workflows", target)
    path = target / "project_introduction.toml"
    text = path.read_text(encoding="utf-8")
    old = '[states.negotiation]\ntitle = "Negotiation · 洽谈"\ncontact = { every = "2 workdays"'
    assert old in text, "project_introduction.toml changed: update bench/migrate.py"
    text = text.replace(old, old.replace('"2 workdays"', '"3 workdays"'))
    path.write_text(text.replace("version = 1", "version = 2", 1), encoding="utf-8")
    return target


def prepare(log: Log) -> tuple[Path, Path]:
    """(database, config reading version 2) with CASES open cases on version 1."""
    folder = workdir() / "migrate"
    folder.mkdir()
    db = folder / "torchflow.db"
    log(f"  preparing {CASES * TASKS_PER_CASE:,} open tasks in {db} ...")
    started = time.perf_counter()
    version_id = _schema_and_people(write_config(folder, db))
    _fill(db, version_id)
    v2_folder = folder / "v2"
    v2_folder.mkdir()
    config = write_config(v2_folder, db, _version_2(folder))
    log(f"  ... {time.perf_counter() - started:.1f} s")
    return db, config


def _fill(path: Path, version_id: int) -> None:
    from torchflow.domain.calendar import WorkCalendar

    stamp, day = _processors()
    cal = WorkCalendar(timezone="Asia/Shanghai")
    # Entered negotiation on one of 40 days before NOW, so the plan meets many dates.
    entries = [NOW - timedelta(days=d) for d in range(1, 41)]
    plans = [(stamp(at), day(cal.add_workdays(cal.local_date(at), 2)),
              day(cal.add_workdays(cal.local_date(at), 60)), day(cal.local_date(at)))
             for at in entries]

    def cases() -> Iterator[tuple[Any, ...]]:
        for c in range(1, CASES + 1):
            at = plans[c % len(plans)][0]
            yield (c, f"PI-2025-{c:07d}", "project_introduction", version_id, "negotiation",
                   "first_contact", f"Bench matter {c}", 2 + c % (PEOPLE - 1),
                   '{"enterprise": "Bench Co.", "industry": "other", "lead_source": "other",'
                   ' "planned_investment": 100, "contact_person": "Ms Li"}',
                   at, at, None, 3, 3, "0" * 64)

    def tasks() -> Iterator[tuple[Any, ...]]:
        for c in range(1, CASES + 1):
            at, contact_due, deadline_due, entered = plans[c % len(plans)]
            owner = 2 + c % (PEOPLE - 1)
            for i, (kind, due, remind, escalate) in enumerate(
                    (("contact", contact_due, 1, None), ("deadline", deadline_due, 10,
                                                          "director"))):
                yield (2 * c - 1 + i, c, kind, f"negotiation.{kind}", 1, "negotiation", due,
                       None, None, None, remind, escalate, owner, "open", 0, None, at, None, "",
                       entered)

    with bulk_load(path) as conn:
        conn.executemany(CASE_INSERT, cases())
        conn.executemany(
            "INSERT INTO tasks (id, case_id, kind, rule, occurrence, state, due_on,"
            " window_start, window_end, seed, remind, escalate_to, assignee_id, status,"
            " stage_done, next_notice_at, created_at, closed_at, outcome, planned_from)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tasks())


def _no_gc(fn: Callable[[Any], Any], app: Any) -> tuple[float, Any]:
    """Time ``fn(app)`` as the CLI runs a command: ``main()`` turns the garbage
    collector off for one-shot commands. Both sides are timed this way."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        result = fn(app)
        return time.perf_counter() - started, result
    finally:
        gc.enable()


def _dry_run(app: Any) -> float:
    from torchflow.service.workflows import version_moves as vm

    elapsed, view = _no_gc(lambda a: vm.plan_view(vm.plan(a, "project_introduction", 2)), app)
    totals = view["totals"]
    expected = {"cases": CASES, "closing": 0, "kept": CASES, "re-planned": CASES,
                "cancelled": 0, "new": 0}
    if totals != expected:
        raise RuntimeError(f"the dry run planned {totals}; expected {expected}")
    return elapsed


def _select(app: Any) -> float:
    from sqlalchemy import select

    from torchflow.store.models import TASKS

    def read(a: Any) -> list[Any]:
        with a.db.transaction() as s:
            return list(s.execute(select(TASKS).where(TASKS.c.status == "open")).all())

    elapsed, rows = _no_gc(read, app)
    if len(rows) != CASES * TASKS_PER_CASE:
        raise RuntimeError(f"the SELECT read {len(rows):,} open tasks")
    return elapsed


def _command(config: Path) -> float:
    """The whole command as a process, its text output discarded (information)."""
    env = {**os.environ, "TORCHFLOW_NOW": NOW.isoformat(), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "torchflow", "--config", str(config), "workflow",
                    "migrate", "project_introduction", "--to", "2", "--dry-run"],
                   env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    from torchflow.config import load_settings
    from torchflow.service.app import build_app

    rounds = 3 if quick else 7
    _, config = prepare(log)
    app = build_app(load_settings(config, env={}), clock=lambda: NOW)
    dry: list[float] = []
    base: list[float] = []
    try:
        _dry_run(app)  # warm-up: stores version 2, calendar years, page cache, statements
        _select(app)
        for r in range(rounds):
            first, second = (_dry_run, _select) if r % 2 == 0 else (_select, _dry_run)
            a, b = first(app), second(app)
            dry.append(a if first is _dry_run else b)
            base.append(b if first is _dry_run else a)
        whole = [_command(config) for _ in range(2 if quick else 3)]
    finally:
        app.close()
    value, baseline = statistics.median(dry), statistics.median(base)
    log(f"  dry run {value * 1000:.0f} ms, SELECT {baseline * 1000:.0f} ms")
    return [{
        "name": f"workflow migrate --dry-run, {CASES * TASKS_PER_CASE // 1000}k open tasks",
        "value": value, "unit": "s", "baseline": baseline,
        "baseline_name": "SELECT * FROM tasks WHERE status = 'open' (SQLAlchemy Core, all rows)",
        "check": ("ratio<=", TARGET),
        "note": (f"{CASES:,} cases x {TASKS_PER_CASE} tasks; every contact re-planned, every "
                 f"deadline kept; median of {rounds} interleaved rounds; runs "
                 f"{_ms(dry)} vs {_ms(base)}"),
    }, {
        "name": "workflow migrate --dry-run as a process, text output", "value":
        statistics.median(whole), "unit": "s", "baseline": baseline,
        "baseline_name": "the same SELECT", "check": None,
        "note": (f"`python -m torchflow ... --dry-run > /dev/null`: start-up, the plan and "
                 f"{CASES:,} cases printed; runs {_ms(whole)}"),
    }]


def _ms(values: list[float]) -> str:
    return "[" + " ".join(f"{v * 1000:.0f}" for v in values) + "] ms"
