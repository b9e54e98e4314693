"""Re-planning open tasks when the calendar data they were planned with changed.

Each task records the day it was counted from (``planned_from``) and a digest
of the calendar data of the years it spans (``calendar_digest``). A task is
stale when today's calendar gives another digest for those years: a library
upgrade, an office schedule typed in, a blackout day added. ``replan`` re-plans
stale tasks from the same day with the same rule and (for visits) the same seed,
one transaction and one history event per case, and moves their pending notices
as a snooze does. Logged contacts and visits are done tasks: never moved.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import cache
from typing import Any, cast

from msgspec import Struct
from sqlalchemy import Connection, Row, extract, func, select

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.planning import PlannedTask, plan_next
from torchflow.domain.rules import DeadlineRule, Rule, VisitRule
from torchflow.domain.status import EventKind
from torchflow.service.app import App
from torchflow.service.cases.events import append_event
from torchflow.service.cases.rows import case_by_id
from torchflow.service.followups import writer as followups
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, OPEN, TASKS

log = logging.getLogger("torchflow.calendar")

_PF, _DUE, _WIN = (extract("year", c) for c in (TASKS.c.planned_from, TASKS.c.due_on,
                                                 TASKS.c.window_end))


class Move(Struct, frozen=True):
    """One stale open task and what re-planning makes of it."""

    task: Any  # the task row, with case_key, version_id and entered_at
    planned: PlannedTask | None  # None: its day has passed, only the record is renewed
    since: date

    @property
    def moves(self) -> bool:
        p = self.planned
        return p is not None and (p.due_on, p.window_start, p.window_end) != (
            self.task.due_on, self.task.window_start, self.task.window_end)


def _expected(cal: WorkCalendar, pf: Any, due: Any, win: Any) -> str | None:
    if pf is None:
        return None  # planned before migration 0004: unknown, so stale
    first, last = min(int(pf), int(due)), max(int(due), int(win or due))
    return cal.planning_digest(first, last)


def stale_count(app: App) -> int:
    """Open tasks planned with other calendar data than today's: one grouped query."""
    cal = app.calendar
    with app.db.transaction() as s:
        rows = s.execute(
            select(_PF, _DUE, _WIN, TASKS.c.calendar_digest, func.count())
            .where(TASKS.c.status == OPEN)
            .group_by(_PF, _DUE, _WIN, TASKS.c.calendar_digest)
        ).all()
    return sum(n for pf, due, win, digest, n in rows
               if digest is None or digest != _expected(cal, pf, due, win))


def warn_if_stale(app: App) -> int:
    """The scheduler's once-per-tick warning; returns the number of stale tasks."""
    stale = stale_count(app)
    if stale:
        log.warning("%d open task(s) were planned with other calendar data; "
                    "run `torchflow replan --dry-run`, then `torchflow replan`", stale)
    return stale


def plan(app: App) -> list[Move]:
    """Every stale open task with its re-planned dates, ordered by case."""
    cal = app.calendar
    today = cal.local_date(app.now())
    with app.db.transaction() as s:
        rows = s.execute(
            select(TASKS, CASES.c.key.label("case_key"),
                   CASES.c.workflow_version_id.label("version_id"),
                   CASES.c.state_entered_at.label("entered_at"),
                   CASES.c.fields.label("case_fields"))
            .join(CASES, CASES.c.id == TASKS.c.case_id)
            .where(TASKS.c.status == OPEN)
            .order_by(TASKS.c.case_id, TASKS.c.id)
        ).all()
        moves = []
        rules: dict[tuple[int, str, str], Rule | None] = {}  # a handful of rules, many tasks
        memo: dict[tuple[str, date, int, int], PlannedTask] = {}
        for row in rows:
            y = (row.planned_from and row.planned_from.year, row.due_on.year,
                 row.window_end and row.window_end.year)
            if row.calendar_digest is not None and row.calendar_digest == _expected(cal, *y):
                continue
            key = (row.version_id, row.state, row.rule)
            if key not in rules:
                rules[key] = _rule(app, s, row)
            if (rule := rules[key]) is not None:
                moves.append(_move(cal, row, rule, today, memo))
    return moves


def _rule(app: App, s: Connection, task: Row[Any]) -> Rule | None:
    state = app.registry.by_id(s, task.version_id).spec.states.get(task.state)
    # One person's part (a co-handler's report) is re-planned as a deadline is.
    return cast(Rule | None, state.rule_named(task.rule)) if state else None


def _since(cal: WorkCalendar, task: Row[Any], rule: Rule) -> date:
    """The day the task was counted from; derived for tasks planned before 0004."""
    if task.planned_from is not None:
        return task.planned_from
    if isinstance(rule, VisitRule) and task.window_start is not None:
        return task.window_start - timedelta(days=rule.min_gap)
    if task.kind == "deadline" or task.occurrence == 1:
        return cal.local_date(task.entered_at)
    # A later contact was planned when the previous one was logged.
    return cal.local_date(task.created_at)


def _move(cal: WorkCalendar, task: Row[Any], rule: Rule, today: date,
          memo: dict[tuple[str, date, int, int], PlannedTask]) -> Move:
    since = _since(cal, task, rule)
    if task.due_on < today:
        # Its day has passed and its notices went out: moving it would only repeat them.
        return Move(task, None, since)
    # A contact or deadline depends on (rule, since, occurrence) only, which many
    # tasks share; a visit's draw depends on its case too.
    # A deadline's budget may follow a choice of the case (``by``).
    budget = rule.within_for(task.case_fields) if isinstance(rule, DeadlineRule) else 0
    key = (rule.name, since, task.occurrence, budget)
    planned = memo.get(key) if not isinstance(rule, VisitRule) else None
    if planned is None:
        planned = plan_next(cal, rule, case_key=task.case_key, since=since,
                            occurrence=task.occurrence, fields=task.case_fields)
        if not isinstance(rule, VisitRule):
            memo[key] = planned
    # Re-planned into the past: keep the day it has rather than notify late.
    return Move(task, planned if planned.due_on >= today else None, since)


def reminder(cal: WorkCalendar, due_on: date, remind: int) -> date | None:
    return cal.add_workdays(due_on, -remind) if remind > 0 else None


def view(cal: WorkCalendar, moves: list[Move]) -> list[dict[str, Any]]:
    """The dry-run report, grouped by case: old and new dates of each task that moves."""
    cases: dict[str, list[dict[str, Any]]] = {}
    iso = cache(_iso)  # many tasks share their days
    remind = cache(lambda due, n: iso(reminder(cal, due, n)))
    old = cache(lambda at, n, done: _old_reminder(cal, at, n, done))
    for m in moves:
        if not m.moves:
            continue
        t, p = m.task, m.planned
        assert p is not None
        item = {"task": t.id, "rule": t.rule, "kind": t.kind,
                "from": {"due_on": iso(t.due_on),
                         "reminder": old(t.next_notice_at, t.remind, t.stage_done)},
                "to": {"due_on": iso(p.due_on), "reminder": remind(p.due_on, t.remind)}}
        if p.seed is not None:
            item["seed"] = p.seed
            item["to"]["window"] = [_iso(p.window_start), _iso(p.window_end)]
        cases.setdefault(t.case_key, []).append(item)
    return [{"key": key, "tasks": tasks} for key, tasks in cases.items()]


def _old_reminder(cal: WorkCalendar, next_at: Any, remind: int, stage_done: int) -> str | None:
    # The stored first notice time is the reminder as it was planned, if still ahead.
    if remind > 0 and stage_done == 0 and next_at is not None:
        return cal.local_date(next_at).isoformat()
    return None


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def apply(app: App, actor: Actor) -> dict[str, Any]:
    """Re-plan every stale task: one transaction and one history event per case
    whose tasks move; the record of the others is renewed in one statement."""
    actor.authorize("replan")
    cal = app.calendar
    moves = plan(app)
    by_case: dict[int, list[Move]] = {}
    for m in moves:
        if m.moves:
            by_case.setdefault(m.task.case_id, []).append(m)
    for case_id, items in by_case.items():
        _apply_case(app, actor.handle, case_id, items, actor.entered_by)
    _renew(app, [m for m in moves if not m.moves])
    return {"cases": len(by_case), "moved": sum(len(v) for v in by_case.values()),
            "renewed": len(moves) - sum(len(v) for v in by_case.values()),
            "plan": view(cal, [m for v in by_case.values() for m in v])}


def _apply_case(app: App, actor: str, case_id: int, items: list[Move],
                entered_by: str | None) -> None:
    cal, now = app.calendar, app.now()
    with app.db.transaction() as s:
        case = case_by_id(s, case_id)
        data = {"reason": "calendar data changed", "tasks": [
            {"task": m.task.id, "rule": m.task.rule, "from": m.task.due_on.isoformat(),
             "to": m.planned.due_on.isoformat()} for m in items if m.planned is not None]}
        append_event(s, case, kind=EventKind.TASKS_REPLANNED, actor=actor, at=now, data=data,
                     entered_by=entered_by)
        for m in items:
            p = m.planned
            assert p is not None
            followups.redate(
                s, cal, m.task.id, kind=m.task.kind, remind=m.task.remind, due_on=p.due_on,
                window_start=p.window_start, window_end=p.window_end,
                seed=p.seed if p.seed is not None else m.task.seed,
                **followups.planning_record(cal, m.since, p.due_on, p.window_end))


def _renew(app: App, items: list[Move]) -> None:
    """Tasks whose dates stay: record today's calendar digest, so they are not stale."""
    if not items:
        return
    cal = app.calendar
    rows = [{"tid": m.task.id, **followups.planning_record(
        cal, m.since, m.task.due_on, m.task.window_end)} for m in items]
    with app.db.transaction() as s:
        followups.renew_planning(s, rows)
