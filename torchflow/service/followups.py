"""Follow-up tasks in the database: plan a state's rules on entry, cancel them on
exit, roll a contact or visit to its next occurrence when it is logged, and move
them when their owner changes. Every write to tasks is here.

Rolling: only the next occurrence of each rule is an open task, so a case that
has lived for years costs what a new one does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.planning import PlannedTask, plan_next, plan_state_entry
from torchflow.domain.rules import Rule
from torchflow.domain.status import TaskStatus
from torchflow.domain.timeline import stage_times, timeline
from torchflow.service import notices
from torchflow.service.app import App
from torchflow.store.models import TASKS

OPEN = TaskStatus.OPEN


def used_occurrences(session: Connection, case_id: int, rules: Iterable[Rule]) -> dict[str, int]:
    names = [r.name for r in rules]
    rows = session.execute(
        select(TASKS.c.rule, func.max(TASKS.c.occurrence))
        .where(TASKS.c.case_id == case_id, TASKS.c.rule.in_(names))
        .group_by(TASKS.c.rule)
    )
    return {rule: int(n) for rule, n in rows}


def plan_entry(
    session: Connection,
    cal: WorkCalendar,
    *,
    case_id: int,
    case_key: str,
    rules: tuple[Rule, ...],
    entered_on: date,
) -> list[PlannedTask]:
    """What entering a state plans (not yet written: see ``insert_tasks``)."""
    if not rules:
        return []
    occurrences = used_occurrences(session, case_id, rules)
    return plan_state_entry(
        cal, rules, case_key=case_key, entered_on=entered_on, occurrences=occurrences
    )


def insert_tasks(
    session: Connection,
    cal: WorkCalendar,
    *,
    case_id: int,
    rules: tuple[Rule, ...],
    planned: list[PlannedTask],
    assignee_id: int | None,
    now: datetime,
) -> None:
    by_name = {r.name: r for r in rules}
    rows = [
        task_row(cal, p, by_name[p.rule], case_id=case_id, assignee_id=assignee_id, now=now)
        for p in planned
    ]
    if rows:
        session.execute(insert(TASKS), rows)


def task_row(
    cal: WorkCalendar,
    planned: PlannedTask,
    rule: Rule,
    *,
    case_id: int,
    assignee_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    tl = timeline(cal, kind=planned.kind, due_on=planned.due_on, remind=rule.remind)
    first = stage_times(tl)[0][2]
    return {
        "case_id": case_id,
        "kind": planned.kind,
        "rule": planned.rule,
        "occurrence": planned.occurrence,
        "state": rule.state,
        "due_on": planned.due_on,
        "window_start": planned.window_start,
        "window_end": planned.window_end,
        "seed": planned.seed,
        "remind": rule.remind,
        "escalate_to": getattr(rule, "escalate_to", None),
        "assignee_id": assignee_id,
        "status": OPEN,
        "stage_done": 0,
        "next_notice_at": first,
        "created_at": now,
        "outcome": "",
        **planning_record(cal, planned.since or cal.local_date(now), planned.due_on,
                          planned.window_end),
    }


def planning_record(cal: WorkCalendar, since: date, due_on: date,
                    window_end: date | None = None) -> dict[str, Any]:
    """What a task keeps of its planning: the day counted from and the digest of
    the calendar data of the years it spans (docs/calendar.md, re-planning)."""
    last = max(due_on, window_end or due_on)
    return {"planned_from": since,
            "calendar_digest": cal.planning_digest(min(since, due_on).year, last.year)}


def open_task_ids(session: Connection, case_id: int) -> list[int]:
    return list(
        session.scalars(
            select(TASKS.c.id)
            .where(TASKS.c.case_id == case_id, TASKS.c.status == OPEN)
            .order_by(TASKS.c.id)
        )
    )


def close_tasks(
    session: Connection, task_ids: list[int], *, status: str, now: datetime, outcome: str = ""
) -> None:
    """Close tasks and withdraw their notices not yet sent: nobody should be
    reminded of a visit that was made or a state that was left."""
    if not task_ids:
        return
    session.execute(
        update(TASKS)
        .where(TASKS.c.id.in_(task_ids), TASKS.c.status == OPEN)
        .values(status=status, closed_at=now, next_notice_at=None, outcome=outcome)
    )
    withdraw_notices(session, task_ids)


def withdraw_notices(session: Connection, task_ids: list[int]) -> None:
    """Cancel the tasks' notices not yet sent (one being sent only if it ends unsent)."""
    notices.withdraw_pending(session, task_ids)


@dataclass(frozen=True)
class Moved:
    tasks: int
    notices: int  # moved now
    in_flight: int  # being sent: they move if that send ends unsent


def move_work(app: App, session: Connection, taker: Row[Any], *,
              task_ids: list[int] | None = None, giver: Row[Any] | None = None) -> Moved:
    """The owner changes, the work follows: the open tasks among ``task_ids``
    (or all of ``giver``'s) go to ``taker``, and so do their notices not yet sent.
    With a ``giver`` and no ``task_ids`` (a handover) every pending notice of the
    giver moves, escalations and digests included."""
    query = select(TASKS.c.id, TASKS.c.assignee_id).where(
        TASKS.c.status == OPEN, TASKS.c.assignee_id != taker.id)
    if task_ids is not None:
        query = query.where(TASKS.c.id.in_(task_ids))
    if giver is not None:
        query = query.where(TASKS.c.assignee_id == giver.id)
    moving = session.execute(query).all()
    if moving:
        session.execute(update(TASKS).where(TASKS.c.id.in_([t.id for t in moving]))
                        .values(assignee_id=taker.id))
    if giver is not None and task_ids is None:
        moved = notices.readdress_pending(app, session, giver, taker)
    else:
        people = notices.people_by_id(session)
        moved = notices.Readdressed()
        for was in sorted({t.assignee_id for t in moving if t.assignee_id is not None}):
            ids = [t.id for t in moving if t.assignee_id == was]
            moved += notices.readdress_pending(app, session, people[was], taker, task_ids=ids)
    return Moved(len(moving), moved.moved, moved.in_flight)


def plan_following(
    cal: WorkCalendar, rule: Rule, *, case_key: str, occurrence: int, since: date
) -> PlannedTask:
    """The next occurrence of a contact or visit, counted from when it was done."""
    return plan_next(cal, rule, case_key=case_key, since=since, occurrence=occurrence + 1)


def finish_task(
    session: Connection, cal: WorkCalendar, task: Any, rule: Rule, planned: PlannedTask | None,
    *, case_id: int, now: datetime, outcome: str,
) -> None:
    """Close a done task and open its next occurrence, if it rolls on."""
    close_tasks(session, [task.id], status=TaskStatus.DONE, now=now, outcome=outcome)
    if planned is not None:
        insert_tasks(session, cal, case_id=case_id, rules=(rule,), planned=[planned],
                     assignee_id=task.assignee_id, now=now)


def window_view(task: Any) -> dict[str, Any]:
    """A visit's window and seed as views show them (nothing for other tasks)."""
    if task.window_start is None:
        return {}
    return {"window": [task.window_start.isoformat(), task.window_end.isoformat()],
            "seed": task.seed}


def replan_row(cal: WorkCalendar, kind: str, due_on: date, remind: int) -> dict[str, Any]:
    """New dates for a task whose due day moved (a snooze): notices start over."""
    tl = timeline(cal, kind=kind, due_on=due_on, remind=remind)
    return {"due_on": due_on, "stage_done": 0, "next_notice_at": stage_times(tl)[0][2]}


def move_to_version(
    session: Connection, cal: WorkCalendar, *, case_id: int, moves: Iterable[Any],
    rules: dict[str, Rule], assignee_id: int | None, now: datetime, outcome: str,
) -> None:
    """A case moved to another workflow version (``moves``: the TaskMoves of
    ``domain/version_moves``): cancel, re-plan in place (as a snooze does) or
    plan its follow-ups; kept ones are not touched."""
    moves = list(moves)
    cancelled = [m.task_id for m in moves if m.action == "cancelled"]
    close_tasks(session, cancelled, status=TaskStatus.CANCELLED, now=now, outcome=outcome)
    for m in (m for m in moves if m.action == "re-planned"):
        _replan_moved(session, cal, m, rules[m.rule])
    new = [PlannedTask(m.rule, m.kind, m.occurrence, m.new_due, m.window_start, m.window_end,
                       m.seed, since=m.since) for m in moves if m.action == "new"]
    insert_tasks(session, cal, case_id=case_id, rules=tuple(rules.values()), planned=new,
                 assignee_id=assignee_id, now=now)


def _replan_moved(session: Connection, cal: WorkCalendar, move: Any, rule: Rule) -> None:
    task = session.execute(select(TASKS.c.due_on, TASKS.c.occurrence, TASKS.c.stage_done)
                           .where(TASKS.c.id == move.task_id, TASKS.c.status == OPEN)).first()
    if task is None:
        return
    values: dict[str, Any] = {
        "rule": move.rule, "state": rule.state, "occurrence": move.occurrence,
        "window_start": move.window_start, "window_end": move.window_end, "seed": move.seed,
        "remind": rule.remind, "escalate_to": getattr(rule, "escalate_to", None),
    }
    if move.since is not None:
        values.update(planning_record(cal, move.since, move.new_due, move.window_end))
    if (task.due_on, task.occurrence) != (move.new_due, move.occurrence):
        # A new day (or number) is a new notice key: notices start over, as on a snooze.
        values.update(replan_row(cal, rule.kind, move.new_due, rule.remind))
        withdraw_notices(session, [move.task_id])
    else:
        # Same day, same keys: what was produced stands; only the stages ahead move.
        tl = timeline(cal, kind=rule.kind, due_on=move.new_due, remind=rule.remind)
        ahead = [at for stage, _, at in stage_times(tl) if stage > task.stage_done]
        values["next_notice_at"] = min(ahead, default=None)
    session.execute(update(TASKS).where(TASKS.c.id == move.task_id).values(**values))
