"""The sweep: due tasks -> notices in the ledger, and the daily digests.

It reads only tasks whose next notice time has passed (an indexed column), so
its cost follows what is due, not what exists. Every notice whose time passed
since the last sweep is produced, however long the service was off; a task
found overdue after ten days gets its one overdue notice, not ten.

A contact still open when its next slot falls due is missed and rolls on to the
current slot (after downtime, the slots in between are recorded missed, and one
notice at most goes out for the roll); ``escalate_after`` missed in a row tell
the rule's escalation role. A contact therefore stays in the due index until it
is logged, cancelled or rolled: its next notice time after the overdue one is
the start of its next slot. A duty on dates still open at the start of the
working day after its due day is missed the same way: a yearly one rolls on to
next year's, and ``escalate_after`` missed in a row tell its ``escalate_to``.

A deadline with an escalation ladder climbs it while it stays open: each step
(催办 at D+1, 通报 at D+5, ...) is a stage of the task after its escalation, so
it is produced once however many sweeps run: the task's stage moves on by a
guarded update in the transaction that records the step in the case's history
(a ``deadline_step`` event) and writes its notices to the step's role. Done,
or the state left, the task has no stage ahead and the ladder ends.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from msgspec import Struct
from sqlalchemy import Connection, Row, select

from torchflow.domain import wording
from torchflow.domain.identity import SYSTEM
from torchflow.domain.planning import Miss, Roll, plan_duty_miss, plan_roll
from torchflow.domain.rules import ContactRule, DeadlineRule, DutyRule, EachRule, LadderStep
from torchflow.domain.status import EventKind, NoticeKind, TaskKind
from torchflow.domain.timeline import (
    duty_miss_at,
    notices_due,
    roll_at,
    step_index,
    timeline,
)
from torchflow.service.app import App
from torchflow.service.audit.head import lock_head
from torchflow.service.cases.events import append_event
from torchflow.service.cases.rows import CaseRow, case_by_id
from torchflow.service.delivery import bundles, ledger
from torchflow.service.delivery.digests import produce_digests
from torchflow.service.delivery.routing import Router
from torchflow.service.followups import writer as followups
from torchflow.service.people.lookup import people_by_id
from torchflow.store.models import CASES, TASKS

ESCALATION = NoticeKind.ESCALATION
SWEEPER = SYSTEM  # the service acts as itself, never as a person (domain/identity.py)


class SweepResult(Struct):
    tasks: int = 0
    notices: int = 0
    digests: int = 0
    missed: int = 0  # contacts recorded missed (skipped slots included)
    summaries: int = 0  # messages each summarising many notices waiting for one person


def sweep(app: App, now: datetime | None = None) -> SweepResult:
    now = now or app.now()
    result = SweepResult()
    batch = app.settings.scheduler.batch_size
    people: dict[int, Row[Any]] = {}  # read with the first due batch, then reused
    while True:
        with app.db.transaction() as s:
            batch_result = _sweep_batch(app, s, now, batch, people)
        done, made, missed, rolled, skipped = batch_result
        result.tasks += done
        result.notices += made
        result.missed += missed
        # A roll opens a task due now: go round again for its notice. A contact
        # whose case was busy stays due, so stop rather than read it again.
        if skipped or (done < batch and not rolled):
            break
    # The digests first: they take in what they list; a summary takes the rest.
    result.digests = produce_digests(app, now)
    result.summaries = bundles.summarise(app, now)
    return result


def _sweep_batch(
    app: App, s: Connection, now: datetime, batch: int, people: dict[int, Row[Any]]
) -> tuple[int, int, int, int, int]:
    """(tasks read, notices made, contacts missed, rolls, rolls put off: case busy)."""
    rows = s.execute(
        select(TASKS, CASES.c.key.label("case_key"), CASES.c.title.label("case_title"),
               CASES.c.workflow_version_id, CASES.c.workflow, CASES.c.fields)
        .join(CASES, CASES.c.id == TASKS.c.case_id)
        .where(TASKS.c.next_notice_at <= now)
        .order_by(TASKS.c.next_notice_at)
        .limit(batch)
        # Two services share the due tasks instead of both producing them; the
        # unique ledger key would make a double harmless anyway.
        .with_for_update(skip_locked=True, of=TASKS)
    ).all()
    if not rows:
        return 0, 0, 0, 0, 0
    if not people:
        people.update(people_by_id(s))
    router = Router.load(app, s, people, now)
    notices: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    missed = rolled = skipped = 0
    for task in rows:
        contact = _rolling_rule(app, s, task)
        roll = None if contact is None else _plan_roll(app, task, contact, now)
        if contact is not None and roll is not None:
            # Its stages are stale once the next slot is due: the roll says it all.
            count = _roll(app, s, task, contact, roll, router, notices, now)
            missed, rolled, skipped = missed + count, rolled + bool(count), skipped + (not count)
            continue
        ladder = _ladder(app, s, task)
        tl = timeline(app.calendar, kind=task.kind, due_on=task.due_on, remind=task.remind,
                      steps=[step.after for step in ladder])
        kinds, stage, next_at = notices_due(tl, stage_done=task.stage_done, now=now,
                                            cal=app.calendar)
        steps = [ladder[i] for k in kinds if (i := step_index(k)) is not None]
        if steps and not _climb(app, s, task, steps, stage, next_at, router, notices, now):
            skipped += 1  # its case is busy (or another sweep took it): next sweep
            continue
        lead = _lead(app, s, task, router) if task.kind == TaskKind.EACH else None
        for kind in kinds:
            if step_index(kind) is None:
                notices += _told(router, task, kind, now, lead=lead)
        if steps:
            continue  # its stage is recorded already
        if next_at is None and isinstance(contact, ContactRule):
            next_at = roll_at(app.calendar, due_on=task.due_on, every=contact.every)
        elif next_at is None and contact:
            next_at = duty_miss_at(app.calendar, due_on=task.due_on)
        updates.append({"tid": task.id, "stage": stage, "next_at": next_at})
    made = ledger.add(s, notices)
    followups.record_stages(s, updates)
    return len(rows), made, missed, rolled, skipped


def _told(router: Router, task: Any, kind: str, now: datetime,
          step: LadderStep | None = None, *, lead: Row[Any] | None = None
          ) -> list[dict[str, Any]]:
    """The ledger rows of one task notice, one per route the router decides (a
    substitute for someone away; folded or held as the receiver wants; a group
    robot's for the case's workflow or the receiver's role); ``step``: the
    ladder step an escalation is (to its role, with a key of its own)."""
    app = router.app
    about = wording.about(getattr(task, "fields", None), task.case_key,
                          app.settings.notify.case_url)
    late = (app.calendar.count_workdays(task.due_on, router.day)
            if kind in (NoticeKind.OVERDUE, ESCALATION) else 0)
    named = (step.step, step.title if router.tr.chinese else step.title_en or step.title) \
        if step is not None else None
    to = step.to if step is not None else task.escalate_to
    return [ledger.task_notice(route, task, task.case_key, task.case_title, kind, now,
                               router.tr, about=about, late=late, step=named)
            for route in router.routes(kind, task.assignee_id, to, task.workflow, task.id,
                                       lead)]


def _rule(app: App, s: Connection, task: Row[Any]) -> Any:
    """The rule an open task follows, from its case's workflow version (None when
    its state or rule is gone)."""
    state = app.registry.by_id(s, task.workflow_version_id).spec.states.get(task.state)
    return state.rule_named(task.rule) if state is not None else None


def _lead(app: App, s: Connection, task: Row[Any], router: Router) -> Row[Any] | None:
    """Who is told when one person's part is overdue: the active person its rule's
    ``report_to`` field names on the case (the lead handler), else None (its
    ``escalate_to`` role)."""
    rule = _rule(app, s, task)
    field = rule.report_to if isinstance(rule, EachRule) else None
    handle = (task.fields or {}).get(field) if field else None
    return next((p for p in router.people.values() if p.handle == handle and p.active), None)


def _ladder(app: App, s: Connection, task: Row[Any]) -> tuple[LadderStep, ...]:
    """The escalation ladder of an open deadline task's rule (none for others)."""
    if task.kind != TaskKind.DEADLINE:
        return ()
    rule = _rule(app, s, task)
    return rule.ladder if isinstance(rule, DeadlineRule) else ()


def _climb(
    app: App, s: Connection, task: Row[Any], steps: list[LadderStep], stage: int,
    next_at: datetime | None, router: Router, notices: list[dict[str, Any]], now: datetime,
) -> bool:
    """Take the ladder ``steps`` now due on an open deadline: its stage moves on
    only from the one read (two sweeps: one moves it, the other finds it moved
    and takes nothing), each step is recorded in the case's history and told to
    its role. False when the case is being changed right now, or the task moved
    on or closed meanwhile: nothing is written."""
    lock_head(s)  # before the case row, like every writer of history
    case = _lock_case(s, task.case_id)
    if case is None:
        return False
    if not followups.climb_stage(s, task.id, task.stage_done, stage, next_at):
        return False
    late = app.calendar.count_workdays(task.due_on, router.day)
    for n, step in enumerate(steps):
        # One event per step (after downtime, several at once): each on the case as
        # the event before it left it.
        append_event(s, case if n == 0 else case_by_id(s, task.case_id),
                     kind=EventKind.DEADLINE_STEP, actor=SWEEPER, at=now, data={
                         "task": task.id, "rule": task.rule, "step": step.step,
                         "title": step.title, "to": step.to, "after": step.after,
                         "due_on": task.due_on.isoformat(), "late": late})
        notices += _told(router, task, ESCALATION, now, step)
    return True


def _rolling_rule(app: App, s: Connection, task: Row[Any]) -> ContactRule | DutyRule | None:
    """The rule of an open contact or duty task (what is missed and rolls on),
    from its case's workflow version."""
    if task.kind not in (TaskKind.CONTACT, TaskKind.DUTY):
        return None
    rule = _rule(app, s, task)
    return rule if isinstance(rule, ContactRule | DutyRule) else None


def _plan_roll(app: App, task: Row[Any], rule: ContactRule | DutyRule,
               now: datetime) -> Roll | Miss | None:
    if isinstance(rule, ContactRule):
        return plan_roll(app.calendar, rule, due_on=task.due_on, occurrence=task.occurrence,
                         now=now)
    return plan_duty_miss(app.calendar, rule, due_on=task.due_on, occurrence=task.occurrence,
                          now=now)


def _roll(
    app: App, s: Connection, task: Row[Any], rule: ContactRule | DutyRule, roll: Roll | Miss,
    router: Router, notices: list[dict[str, Any]], now: datetime,
) -> int:
    """Roll one missed contact or duty and record it in the case's history; the
    tasks missed, or 0 when its case is being changed right now (it rolls next
    sweep)."""
    lock_head(s)  # before the case and task rows, like every writer of history
    case = _lock_case(s, task.case_id)
    if case is None:
        return 0
    in_row = followups.roll_missed(s, app.calendar, task, rule, roll, now=now)
    if in_row is None:
        return 0
    # One escalation per roll at most, each time the run reaches a multiple of N.
    after = rule.escalate_after
    escalate = after > 0 and in_row // after > (in_row - roll.count) // after
    kind = EventKind.CONTACT_MISSED if isinstance(rule, ContactRule) else EventKind.DUTY_MISSED
    following = roll.following
    append_event(s, case, kind=kind, actor=SWEEPER, at=now, data={
        "task": task.id, "rule": task.rule,
        "missed": [{"occurrence": o, "due_on": d.isoformat()} for o, d in
                   [(task.occurrence, task.due_on),
                    *((p.occurrence, p.due_on) for p in roll.missed)]],
        "next": None if following is None else {"occurrence": following.occurrence,
                                                "due_on": following.due_on.isoformat()},
        "missed_in_row": in_row,
        **({"escalated_to": rule.escalate_to} if escalate else {}),
    })
    if escalate:
        task_ = {**task._mapping, "escalate_to": rule.escalate_to, "assignee_id": None}
        notices += _told(router, SimpleNamespace(**task_), ESCALATION, now)
    return roll.count


def _lock_case(s: Connection, case_id: int) -> CaseRow | None:
    """The case, locked for its history event; None when another transaction holds
    it (waiting could deadlock: that one may be waiting for our task locks)."""
    row = s.execute(
        select(*(CASES.c[name] for name in CaseRow.__struct_fields__))
        .where(CASES.c.id == case_id).with_for_update(skip_locked=True)
    ).first()
    return CaseRow(*row) if row is not None else None
