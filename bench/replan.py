"""``replan --dry-run`` over 100,000 open tasks against reading those tasks with
one SELECT in the same run (target: within 5x).

The tasks are the sweep benchmark's (``bench.sweep.prepare``), written without a
calendar digest, as tasks planned before migration 0004 are: every one is
stale, so the dry run re-plans all of them (the worst case) and reports each
that moves. The steady state, where nothing is stale, is the grouped
``stale_count`` query the scheduler runs every tick; it is reported for
information.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.sweep import Log, _app, _ms, prepare

TARGET = 5.0


def _select(app: Any) -> float:
    """The baseline: the open tasks and their cases, as the dry run reads them."""
    from sqlalchemy import select

    from torchflow.store.models import CASES, OPEN, TASKS

    started = time.perf_counter()
    with app.db.transaction() as s:
        s.execute(select(TASKS, CASES.c.key, CASES.c.workflow_version_id,
                         CASES.c.state_entered_at)
                  .join(CASES, CASES.c.id == TASKS.c.case_id)
                  .where(TASKS.c.status == OPEN).order_by(TASKS.c.case_id, TASKS.c.id)).all()
    return time.perf_counter() - started


def _dry_run(app: Any, expected: int) -> float:
    from torchflow.service.followups import replan

    started = time.perf_counter()
    cases = replan.view(app.calendar, replan.plan(app))
    elapsed = time.perf_counter() - started
    moved = sum(len(c["tasks"]) for c in cases)
    if moved != expected:
        raise RuntimeError(f"replan --dry-run moved {moved:,} tasks; expected {expected:,}")
    return elapsed


def _stale(app: Any) -> float:
    from torchflow.service.followups import replan

    started = time.perf_counter()
    replan.stale_count(app)
    return time.perf_counter() - started


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    n = 100_000
    rounds = 3 if quick else 5
    prepared = prepare(n, log)
    app = _app(prepared)
    times: dict[str, list[float]] = {"select": [], "dry": [], "stale": []}
    try:
        _select(app)
        _dry_run(app, n)  # warm-up: calendar years, statement cache, page cache
        for _ in range(rounds):
            times["select"].append(_select(app))
            times["dry"].append(_dry_run(app, n))
            times["stale"].append(_stale(app))
    finally:
        app.close()
    select_s = statistics.median(times["select"])
    return [
        {"name": f"replan --dry-run, {n:,} open tasks, all stale",
         "value": statistics.median(times["dry"]), "unit": "s",
         "baseline": select_s, "baseline_name": "one SELECT of those tasks and their cases",
         "check": ("ratio<=", TARGET),
         "note": (f"every task re-planned and reported; median of {rounds}; runs "
                  f"{_ms(times['dry'])} vs {_ms(times['select'])}")},
        {"name": f"stale_count() per scheduler tick, {n:,} open",
         "value": statistics.median(times["stale"]), "unit": "s",
         "baseline": select_s, "baseline_name": "one SELECT of those tasks and their cases",
         "note": f"one grouped query; runs {_ms(times['stale'])}"},
    ]
