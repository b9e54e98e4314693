"""Follow-up tasks in the database: plan a state's rules on entry, cancel them on
exit, roll a contact or visit to its next occurrence when it is logged, and move
them when their owner changes. Every write to tasks is here.

Rolling: only the next occurrence of each rule is an open task, so a case that
has lived for years costs what a new one does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, cast

from msgspec import Struct, field
from msgspec.structs import replace
from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.field_values import people_of
from torchflow.domain.identity import SYSTEM  # the actor of events no person wrote
from torchflow.domain.planning import (
    Miss,
    PlannedTask,
    Roll,
    budget_left,
    plan_next,
    plan_state_entry,
)
from torchflow.domain.rules import ContactRule, DeadlineRule, DutyRule, EachRule, Rule
from torchflow.domain.status import EventKind, Outcome, TaskStatus
from torchflow.domain.timeline import stage_times, timeline
from torchflow.service.app import App
from torchflow.service.cases.events import append_event
from torchflow.service.cases.rows import case_by_id
from torchflow.service.delivery import ledger as notices
from torchflow.service.delivery.routing import substitutes
from torchflow.service.people.lookup import people_by_id
from torchflow.store.models import EVENTS, PEOPLE, TASKS

OPEN = TaskStatus.OPEN
MISSED = TaskStatus.MISSED


def used_occurrences(session: Connection, case_id: int,
                     rules: Iterable[Rule | EachRule]) -> dict[str, int]:
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
    since: dict[str, date] | None = None,
    budgets: dict[str, int] | None = None,
    fields: Mapping[str, Any] | None = None,
) -> list[PlannedTask]:
    """What entering a state plans (not yet written: see ``insert_tasks``);
    ``since``, ``budgets`` and ``fields`` as for ``planning.plan_state_entry``."""
    if not rules:
        return []
    occurrences = used_occurrences(session, case_id, rules)
    return plan_state_entry(
        cal, rules, case_key=case_key, entered_on=entered_on, occurrences=occurrences,
        since=since, budgets=budgets, fields=fields,
    )


def rule_assignees(
    session: Connection, rules: tuple[Rule, ...], fields: dict[str, Any], owner_id: int | None
) -> dict[str, int | None]:
    """Who each rule with an ``assignee`` person field goes to (``assignees``),
    reading only the people the fields name."""
    handles = {h for r in rules if r.assignee is not None
               for h in [fields.get(r.assignee)] if isinstance(h, str) and h}
    active = dict(session.execute(
        select(PEOPLE.c.handle, PEOPLE.c.id)
        .where(PEOPLE.c.handle.in_(handles), PEOPLE.c.active.is_(True))).all()) if handles else {}
    return assignees(rules, fields, owner_id, active)


def assignees(rules: Iterable[Rule], fields: dict[str, Any], owner_id: int | None,
              active: Mapping[str, int]) -> dict[str, int | None]:
    """Who each rule with an ``assignee`` person field goes to: that person while
    the field names an active one (``active``: handle -> id), else the case's owner."""
    out: dict[str, int | None] = {}
    for rule in rules:
        if rule.assignee is not None:
            handle = fields.get(rule.assignee)
            out[rule.name] = active.get(handle, owner_id) if isinstance(handle, str) else owner_id
    return out


# --------------------------------------------------------------------------- a task each


class Parts(Struct, frozen=True):
    """The tasks a state's ``each`` rules plan: one per person, each of its own
    rule (``EachRule.who``), to that person."""

    planned: list[PlannedTask] = field(default_factory=list)
    rules: tuple[EachRule, ...] = ()
    assignees: dict[str, int | None] = field(default_factory=dict)


def plan_parts(session: Connection, cal: WorkCalendar, *, case_id: int,
               rules: tuple[EachRule, ...], fields: Mapping[str, Any], entered_on: date
               ) -> Parts:
    """A task for each active person of each rule's people field, due ``within``
    working days after ``entered_on``; not for one who did theirs already (a
    co-handler who reported is not asked again when the state is entered again,
    after an extension or a re-handling)."""
    wanted = [(rule, h) for rule in rules for h in people_of(fields.get(rule.people))]
    if not wanted:
        return Parts()
    active = dict(session.execute(
        select(PEOPLE.c.handle, PEOPLE.c.id).where(
            PEOPLE.c.handle.in_({h for _, h in wanted}), PEOPLE.c.active.is_(True))).all())
    ones = [replace(rule, who=h) for rule, h in wanted if h in active]  # one each
    done = set(session.scalars(select(TASKS.c.rule).where(
        TASKS.c.case_id == case_id, TASKS.c.rule.in_([r.name for r in ones]),
        TASKS.c.status == TaskStatus.DONE)))
    ones = [r for r in ones if r.name not in done]
    used = used_occurrences(session, case_id, ones)
    planned = [plan_next(cal, r, case_key="", since=entered_on,
                         occurrence=used.get(r.name, 0) + 1) for r in ones]
    return Parts(planned, tuple(ones), {r.name: active[r.who] for r in ones})


class PartsFollowed(Struct, frozen=True):
    """A people field changed in its state: parts planned for the people added,
    the open parts of the people taken off cancelled (``notes``: the history's)."""

    added: Parts
    dropped: list[int]
    notes: dict[str, Any]


def follow_parts(session: Connection, cal: WorkCalendar, *, case_id: int,
                 rules: tuple[EachRule, ...], changed: Mapping[str, Any],
                 fields: Mapping[str, Any], on: date) -> PartsFollowed:
    """A co-handler added while the state runs gets their part, due ``within``
    working days after ``on`` (the day added); one taken off has theirs cancelled."""
    rules = tuple(r for r in rules if r.people in changed)
    if not rules:
        return PartsFollowed(Parts(), [], {})
    now_in = {(r.name, h) for r in rules for h in people_of(fields.get(r.people))}
    open_parts = session.execute(select(TASKS.c.id, TASKS.c.rule).where(
        TASKS.c.case_id == case_id, TASKS.c.status == OPEN,
        TASKS.c.kind == EachRule.kind)).all()
    dropped = [t.id for t in open_parts if tuple(t.rule.partition(":")[::2]) not in now_in
               and any(t.rule.startswith(f"{r.name}:") for r in rules)]
    have = {t.rule for t in open_parts}
    added = plan_parts(session, cal, case_id=case_id, rules=rules, fields=fields, entered_on=on)
    keep = [i for i, p in enumerate(added.planned) if p.rule not in have]
    added = Parts([added.planned[i] for i in keep], tuple(added.rules[i] for i in keep),
                  {added.rules[i].name: added.assignees[added.rules[i].name] for i in keep})
    notes: dict[str, Any] = {}
    if added.planned:
        notes["parts_planned"] = {p.rule: p.due_on.isoformat() for p in added.planned}
    if dropped:
        notes["parts_cancelled"] = dropped
    return PartsFollowed(added, dropped, notes)


def apply_parts(session: Connection, cal: WorkCalendar, followed: PartsFollowed, *,
                case_id: int, now: datetime) -> None:
    close_tasks(session, followed.dropped, status=TaskStatus.CANCELLED, now=now,
                outcome="taken off the field")
    insert_tasks(session, cal, case_id=case_id, rules=cast(Any, followed.added.rules),
                 planned=followed.added.planned, assignee_id=None, now=now,
                 assignees=followed.added.assignees)


# --------------------------------------------------------------------------- pause on hold


def budgets_left(
    session: Connection, cal: WorkCalendar, task_ids: list[int], left_on: date
) -> dict[int, tuple[str, int]]:
    """For each open deadline among ``task_ids``: (rule, working days of its
    budget left) when its state is left on ``left_on``."""
    if not task_ids:
        return {}
    rows = session.execute(
        select(TASKS.c.id, TASKS.c.rule, TASKS.c.due_on)
        .where(TASKS.c.id.in_(task_ids), TASKS.c.kind == DeadlineRule.kind,
               TASKS.c.status == OPEN))
    return {r.id: (r.rule, budget_left(cal, r.due_on, left_on)) for r in rows}


def keep_budgets(session: Connection, budgets: dict[int, tuple[str, int]]) -> None:
    """Store on each cancelled deadline the budget it had left (what a resume plans)."""
    for task_id, (_, left) in budgets.items():
        session.execute(update(TASKS).where(TASKS.c.id == task_id).values(budget_left=left))


def resumable_budgets(
    session: Connection, case_id: int, rules: tuple[Rule, ...]
) -> dict[str, int]:
    """The budget left by each deadline rule's last task, when that task was
    cancelled by leaving its state (a deadline met or never left has none)."""
    budgets: dict[str, int] = {}
    for rule in rules:
        if not isinstance(rule, DeadlineRule):
            continue
        last = session.execute(
            select(TASKS.c.status, TASKS.c.budget_left)
            .where(TASKS.c.case_id == case_id, TASKS.c.rule == rule.name)
            .order_by(TASKS.c.occurrence.desc()).limit(1)).first()
        if last is not None and last.status == TaskStatus.CANCELLED and \
                last.budget_left is not None:
            budgets[rule.name] = int(last.budget_left)
    return budgets


def insert_tasks(
    session: Connection,
    cal: WorkCalendar,
    *,
    case_id: int,
    rules: tuple[Rule, ...],
    planned: list[PlannedTask],
    assignee_id: int | None,
    now: datetime,
    assignees: dict[str, int | None] | None = None,
) -> None:
    """Write planned tasks, each to ``assignees[rule]`` if given, else ``assignee_id``;
    one planned for someone away today goes to their substitute, recorded in the
    case's history (a ``task_reassigned`` event by the system, after the event of
    the change that planned it)."""
    by_name = {r.name: r for r in rules}
    chosen = assignees or {}
    rows = [
        task_row(cal, p, by_name[p.rule], case_id=case_id,
                 assignee_id=chosen.get(p.rule, assignee_id), now=now)
        for p in planned
    ]
    if not rows:
        return
    def whose(row: dict[str, Any]) -> tuple[int, str | None]:
        return row["assignee_id"], row["escalate_to"]

    away = substitutes(session, cal.tz, cal.local_date(now), map(whose, rows))
    moved = [(row, *away[whose(row)]) for row in rows if whose(row) in away]
    for row, sub, _ in moved:
        row["assignee_id"] = sub.id
    session.execute(insert(TASKS), rows)
    for row, sub, got in moved:
        task_id = session.scalar(select(TASKS.c.id).where(
            TASKS.c.case_id == case_id, TASKS.c.rule == row["rule"],
            TASKS.c.occurrence == row["occurrence"]))
        append_event(session, case_by_id(session, case_id), kind=EventKind.TASK_REASSIGNED,
                     actor=SYSTEM, at=now,
                     data={"task": task_id, "to": sub.handle, "was": got.person,
                           "away_until": got.away_until.isoformat() if got.away_until else None})


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
    session: Connection, task_ids: list[int], *, status: str, now: datetime, outcome: str = "",
    result: tuple[Outcome, int] | None = None,
) -> None:
    """Close tasks and withdraw their notices not yet sent: nobody should be
    reminded of a visit that was made or a state that was left. ``result`` is how
    a done task went (on time or late by n working days)."""
    if not task_ids:
        return
    kind, late_by = result or (None, None)
    session.execute(
        update(TASKS)
        .where(TASKS.c.id.in_(task_ids), TASKS.c.status == OPEN)
        .values(status=status, closed_at=now, next_notice_at=None, outcome=outcome,
                outcome_kind=kind, late_by=late_by)
    )
    withdraw_notices(session, task_ids)


def withdraw_notices(session: Connection, task_ids: list[int]) -> None:
    """Cancel the tasks' notices not yet sent (one being sent only if it ends unsent)."""
    notices.withdraw_pending(session, task_ids)


class Moved(Struct, frozen=True):
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
        people = people_by_id(session)
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


def next_after_done(
    cal: WorkCalendar, rule: Rule, task: Any, *, case_key: str, done_on: date
) -> PlannedTask | None:
    """What a task done plans next: a contact or visit counts from the day it was
    done, a yearly duty from the occurrence's due day (next year's, however early
    this year's was done); a deadline or a one-off duty has nothing following."""
    if isinstance(rule, DutyRule):
        if not rule.yearly:
            return None
        return plan_following(cal, rule, case_key=case_key, occurrence=task.occurrence,
                              since=task.due_on)
    if isinstance(rule, DeadlineRule | EachRule):
        return None  # met; one person's part is done once
    return plan_following(cal, rule, case_key=case_key, occurrence=task.occurrence,
                          since=done_on)


def finish_task(
    session: Connection, cal: WorkCalendar, task: Any, rule: Rule, planned: PlannedTask | None,
    *, case_id: int, now: datetime, outcome: str, result: tuple[Outcome, int],
) -> None:
    """Close a done task, recording whether it was on time or late (``result``,
    from ``planning.outcome_of``), and open its next occurrence, if it rolls on."""
    close_tasks(session, [task.id], status=TaskStatus.DONE, now=now, outcome=outcome,
                result=result)
    if planned is not None:
        insert_tasks(session, cal, case_id=case_id, rules=(rule,), planned=[planned],
                     assignee_id=task.assignee_id, now=now)


def replan_row(cal: WorkCalendar, kind: str, due_on: date, remind: int) -> dict[str, Any]:
    """New dates for a task whose due day moved (a snooze): notices start over."""
    tl = timeline(cal, kind=kind, due_on=due_on, remind=remind)
    return {"due_on": due_on, "stage_done": 0, "next_notice_at": stage_times(tl)[0][2]}


def redate(session: Connection, cal: WorkCalendar, task_id: int, *, kind: str, remind: int,
           due_on: date, **also: Any) -> None:
    """Move a task to a new due day (a snooze, a changed date field, new calendar
    data, another workflow version): its notices start over and the pending ones
    are withdrawn. ``also``: the columns that change with it (a visit's window
    and seed, the planning record, the rule)."""
    session.execute(update(TASKS).where(TASKS.c.id == task_id).values(
        **replan_row(cal, kind, due_on, remind), **also))
    withdraw_notices(session, [task_id])


def renew_planning(session: Connection, records: list[dict[str, Any]]) -> None:
    """Tasks whose dates stay under new calendar data: their planning record
    (``{"tid", "planned_from", "calendar_digest"}`` each) says so, so they are not
    stale any more."""
    if records:
        session.execute(update(TASKS).where(TASKS.c.id == bindparam("tid")).values(
            planned_from=bindparam("planned_from"),
            calendar_digest=bindparam("calendar_digest")), records)


def insert_rows(session: Connection, rows: list[dict[str, Any]]) -> None:
    """Task rows made with ``task_row`` written as they are: the first tasks of
    imported matters, planned in bulk by the import (sheets/imports.py)."""
    if rows:
        session.execute(insert(TASKS), rows)


def record_stages(session: Connection, stages: list[dict[str, Any]]) -> None:
    """The sweep produced notices: each task's last stage produced and when its
    next notice falls due (``{"tid", "stage", "next_at"}`` each)."""
    if stages:
        session.execute(_RECORD_STAGE, stages)


def climb_stage(session: Connection, task_id: int, was: int, stage: int,
                next_at: datetime | None) -> bool:
    """A deadline's ladder step taken: its stage moves on from ``was`` (the value
    the sweep read) to ``stage``, only if nobody moved it meanwhile and it is
    still open; False when that guard stopped it (another sweep took the step)."""
    return session.execute(
        update(TASKS).where(TASKS.c.id == task_id, TASKS.c.status == OPEN,
                            TASKS.c.stage_done == was)
        .values(stage_done=stage, next_notice_at=next_at)).rowcount == 1


_RECORD_STAGE = (
    update(TASKS).where(TASKS.c.id == bindparam("tid"))
    .values(stage_done=bindparam("stage"), next_notice_at=bindparam("next_at"))
)


def roll_missed(
    session: Connection, cal: WorkCalendar, task: Any, rule: ContactRule | DutyRule,
    roll: Roll | Miss, *, now: datetime,
) -> int | None:
    """Mark an open contact (or duty) missed, record each slot skipped since as
    missed too, and open the current slot's task (a one-off duty has none).
    Returns how many of the rule's tasks are now missed in a row, or None when
    the task was no longer open (nothing done).

    Idempotent under two sweeps: the guarded update lets one of them through, and
    the occurrences it inserts are unique per (case, rule)."""
    closed = session.execute(
        update(TASKS).where(TASKS.c.id == task.id, TASKS.c.status == OPEN)
        .values(status=MISSED, outcome_kind=Outcome.MISSED, closed_at=now, next_notice_at=None)
    ).rowcount
    if closed != 1:
        return None
    withdraw_notices(session, [task.id])
    missed = {"status": MISSED, "outcome_kind": Outcome.MISSED, "closed_at": now,
              "stage_done": 0, "next_notice_at": None}
    following = [roll.following] if roll.following is not None else []
    rows = [task_row(cal, p, rule, case_id=task.case_id, assignee_id=task.assignee_id, now=now)
            for p in (*roll.missed, *following)]
    # One shape for every row of the executemany: the open one closes nothing.
    open_row = {"status": OPEN, "outcome_kind": None, "closed_at": None}
    rows = ([row | missed for row in rows[:len(roll.missed)]]
            + [row | open_row for row in rows[len(roll.missed):]])
    if rows:
        session.execute(insert(TASKS), rows)
    return missed_in_row(session, task.case_id, rule.name)


def missed_in_row(session: Connection, case_id: int, rule: str) -> int:
    """Missed tasks of ``rule`` since its last one that was done or cancelled
    (a contact logged, or an earlier stay in the state, ends a run)."""
    ended = (select(func.coalesce(func.max(TASKS.c.occurrence), 0))
             .where(TASKS.c.case_id == case_id, TASKS.c.rule == rule,
                    TASKS.c.status.in_([TaskStatus.DONE, TaskStatus.CANCELLED]))
             .scalar_subquery())
    return int(session.scalar(
        select(func.count()).select_from(TASKS)
        .where(TASKS.c.case_id == case_id, TASKS.c.rule == rule, TASKS.c.status == MISSED,
               TASKS.c.occurrence > ended)) or 0)


# --------------------------------------------------------------------------- fields followed


class FieldFollow(Struct):
    """What a change of a rule's ``from`` or ``assignee`` field does to the open
    tasks of the current state: tasks re-planned and tasks moved (``notes`` is
    what the history records)."""

    replans: list[tuple[Any, Rule, PlannedTask]] = field(default_factory=list)
    moves: list[tuple[int, Row[Any]]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    # Duties whose date field was filled in (planned now) or emptied (cancelled).
    new: list[tuple[Rule, PlannedTask, int | None]] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    case_id: int = 0


def follow_fields(
    session: Connection, cal: WorkCalendar, *, case_id: int, case_key: str,
    rules: tuple[Rule, ...], entered_at: datetime, changed: dict[str, Any],
    fields: dict[str, Any], owner_id: int | None,
) -> FieldFollow:
    """Plan the effect of ``changed`` fields on the open tasks of ``rules`` (not
    yet written: see ``apply_follow``). A rule counting from a changed date field
    re-plans its open task when that is still the stay's first (later ones count
    from the contact or visit before); one going to a changed person field moves
    its open task to that person (the owner when it is emptied)."""
    follow = FieldFollow(case_id=case_id)
    entered_on = cal.local_date(entered_at)
    resumed = _resumed_budgets(session, case_id)
    for rule in rules:
        task = _open_of(session, case_id, rule.name)
        if (isinstance(rule, DutyRule) and rule.count_from in changed
                and _follow_duty(session, cal, follow, rule, task, case_id=case_id,
                                 case_key=case_key, fields=fields, owner_id=owner_id)):
            continue
        if task is None:
            continue
        once = isinstance(rule, DutyRule) and not rule.yearly  # each counts from the field
        if (rule.count_from in changed and rule.name not in resumed
                and (once or _first_of_stay(session, task, entered_at))):
            value = fields.get(rule.count_from)
            since = date.fromisoformat(value) if isinstance(value, str) and value else entered_on
            planned = plan_next(cal, rule, case_key=case_key, since=since,
                                occurrence=task.occurrence)
            follow.replans.append((task, rule, planned))
            follow.notes.setdefault("replanned", {})[rule.name] = {
                "field": rule.count_from, "from": task.due_on.isoformat(),
                "to": planned.due_on.isoformat()}
        if rule.assignee in changed:
            taker_id = rule_assignees(session, (rule,), fields, owner_id)[rule.name]
            taker = session.execute(select(PEOPLE).where(PEOPLE.c.id == taker_id)).first()
            if taker is not None and taker.id != task.assignee_id:
                follow.moves.append((task.id, taker))
                follow.notes.setdefault("moved", {})[rule.name] = taker.handle
    return follow


def _follow_duty(
    session: Connection, cal: WorkCalendar, follow: FieldFollow, rule: DutyRule,
    task: Row[Any] | None, *, case_id: int, case_key: str, fields: dict[str, Any],
    owner_id: int | None,
) -> bool:
    """A duty's date field changed: a duty exists only while its field holds a
    date, so one filled in is planned (again, after an earlier one was done: a
    second change of name), one emptied is cancelled. True when that decided it;
    False leaves an open one to be re-planned as any rule's first of the stay."""
    value = fields.get(rule.count_from or "")
    if task is not None and not value:
        follow.dropped.append(task.id)
        follow.notes.setdefault("cancelled", {})[rule.name] = {"field": rule.count_from}
        return True
    if task is not None or not isinstance(value, str):
        return False
    used = used_occurrences(session, case_id, (rule,)).get(rule.name, 0)
    planned = plan_next(cal, rule, case_key=case_key, since=date.fromisoformat(value),
                        occurrence=used + 1)
    taker = rule_assignees(session, (rule,), fields, owner_id).get(rule.name, owner_id)
    follow.new.append((rule, planned, taker))
    follow.notes.setdefault("planned", {})[rule.name] = {
        "field": rule.count_from, "due_on": planned.due_on.isoformat()}
    return True


def apply_follow(app: App, session: Connection, follow: FieldFollow) -> None:
    """Write what ``follow_fields`` planned: new dates (notices start over, the
    pending ones withdrawn, as a snooze does), moves (``move_work``), duties
    planned and cancelled."""
    close_tasks(session, follow.dropped, status=TaskStatus.CANCELLED, now=app.now(),
                outcome="date field emptied")
    for rule, planned, to in follow.new:
        insert_tasks(session, app.calendar, case_id=follow.case_id, rules=(rule,),
                     planned=[planned], assignee_id=to, now=app.now())
    for task, rule, planned in follow.replans:
        redate(session, app.calendar, task.id, kind=task.kind, remind=rule.remind,
               due_on=planned.due_on, window_start=planned.window_start,
               window_end=planned.window_end, seed=planned.seed)
    for task_id, taker in follow.moves:
        move_work(app, session, taker, task_ids=[task_id])


def _resumed_budgets(session: Connection, case_id: int) -> dict[str, int]:
    """The deadlines the case's last state change planned from a budget left
    before a hold: they count from that budget, not from a date field."""
    data = session.scalar(
        select(EVENTS.c.data).where(EVENTS.c.case_id == case_id, EVENTS.c.kind == "advanced")
        .order_by(EVENTS.c.seq.desc()).limit(1))
    return dict((data or {}).get("resumed_budget", {}))


def _open_of(session: Connection, case_id: int, rule: str) -> Row[Any] | None:
    return session.execute(select(TASKS).where(
        TASKS.c.case_id == case_id, TASKS.c.rule == rule, TASKS.c.status == OPEN)).first()


def _first_of_stay(session: Connection, task: Row[Any], entered_at: datetime) -> bool:
    """No task of the rule was done or missed since the state was entered: the open
    one is what entering planned, so it is the one that counts from the field."""
    ended = session.execute(
        select(TASKS.c.closed_at).where(
            TASKS.c.case_id == task.case_id, TASKS.c.rule == task.rule,
            TASKS.c.status.in_([TaskStatus.DONE, MISSED]),
            TASKS.c.occurrence < task.occurrence)
        .order_by(TASKS.c.occurrence.desc()).limit(1)).first()
    return ended is None or ended.closed_at < entered_at


# --------------------------------------------------------------------------- version moves


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
        redate(session, cal, move.task_id, kind=rule.kind, due_on=move.new_due, **values)
        return
    # Same day, same keys: what was produced stands; only the stages ahead move.
    # A ladder the new version adds (or changes) climbs from the stage reached.
    steps = [step.after for step in rule.ladder] if isinstance(rule, DeadlineRule) else []
    tl = timeline(cal, kind=rule.kind, due_on=move.new_due, remind=rule.remind, steps=steps)
    ahead = [at for stage, _, at in stage_times(tl) if stage > task.stage_done]
    values["next_notice_at"] = min(ahead, default=None)
    session.execute(update(TASKS).where(TASKS.c.id == move.task_id).values(**values))
