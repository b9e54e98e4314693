"""Use cases on follow-up tasks: log a contact or visit, list, complete, snooze,
reassign, hand a person's work over, and the agenda of what comes next."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Select, select

from torchflow.domain.planning import outcome_of
from torchflow.domain.rules import Rule
from torchflow.domain.status import EventKind, TaskKind
from torchflow.domain.text import check_block
from torchflow.domain.timeline import stage_times, timeline
from torchflow.errors import InvalidInput, NotFound, Refused, UsageError
from torchflow.i18n import Text, _
from torchflow.service.app import App
from torchflow.service.cases.authority import case_facts, refuse_if_closed
from torchflow.service.cases.events import append_event
from torchflow.service.cases.rows import CaseRow, case_by_id, load_case
from torchflow.service.delivery.routing import Router
from torchflow.service.followups import writer as followups
from torchflow.service.followups.views import overdue_before, window_view
from torchflow.service.paging import Page, fetch_page
from torchflow.service.people.absences import in_force
from torchflow.service.people.lookup import (
    Actor,
    active_person,
    find_person,
    people_by_id,
)
from torchflow.store.models import CASES, NOTICES, OPEN, PEOPLE, TASKS

# A snooze further out than this is a typo, not a plan (and the calendar's end).
SNOOZE_MAX = timedelta(days=5 * 366)


def log_followup(
    app: App, actor: Actor, key: str, kind: str, *, note: str | None = None,
    at: date | datetime | None = None,
) -> dict[str, Any]:
    """A contact or visit happened (``at``, default now; a day when the time is not
    known, kept as a day: no hour is invented): record it, close the open task,
    plan the next. It cannot have happened before the case opened, nor later
    than now."""
    note = check_block(note, "the note") if note else note
    now = app.now()
    with app.db.transaction() as s:
        logged = log_in(app, s, actor, key, kind, note=note, at=at, now=now)
    del logged["event"]  # what raising a request on it needs; `case visit` says what it did
    return logged


def log_in(
    app: App, s: Connection, actor: Actor, key: str, kind: str, *, note: str | None,
    at: date | datetime | None, now: datetime,
) -> dict[str, Any]:
    """Log a contact or visit inside the caller's transaction; the result names the
    event (``event``: its number in the case's history)."""
    when = now if at is None else at
    day = when if not isinstance(when, datetime) else app.calendar.local_date(when)
    shown = app.local(when) if isinstance(when, datetime) else day.isoformat()
    if (when > now) if isinstance(when, datetime) else (day > app.calendar.local_date(now)):
        raise InvalidInput(_("{shown} is in the future; log what has happened", shown=shown))
    case = load_case(s, key)
    if (when < case.opened_at) if isinstance(when, datetime) \
            else (day < app.calendar.local_date(case.opened_at)):
        raise InvalidInput(_("{shown} is before {key} was opened ({opened}); give a later time",
                             shown=shown, key=case.key, opened=app.local(case.opened_at)))
    spec = app.registry.by_id(s, case.workflow_version_id).spec
    actor.authorize("case.log", case_facts(s, case, spec, standing_in=app))
    refuse_if_closed(case, spec)
    rule = next((r for r in spec.states[case.state].rules if r.kind == kind), None)
    task = _open_task(s, case.id, rule.name) if rule else None
    data: dict[str, Any] = ({"at": when.isoformat()} if isinstance(when, datetime)
                            else {"on": day.isoformat()})
    if note:
        data["note"] = note
    nxt = None
    if rule is not None and task is not None:
        result = outcome_of(app.calendar, task.due_on, day)
        data.update(outcome=result[0], late_by=result[1])
        planned = followups.plan_following(
            app.calendar, rule, case_key=case.key, occurrence=task.occurrence,
            since=day,
        )
        nxt = {"rule": planned.rule, "occurrence": planned.occurrence,
               "due_on": planned.due_on.isoformat()}
        data["task"] = task.id
        data["next"] = nxt
    seq = append_event(s, case, kind=kind, actor=actor.handle, at=now, data=data,
                       entered_by=actor.entered_by)
    if rule is not None and task is not None:
        followups.finish_task(s, app.calendar, task, rule, planned, case_id=case.id,
                              now=now, outcome=note or "", result=result)
    return {"key": case.key, "kind": kind, "at": shown, "task": data.get("task"),
            "next": nxt, "event": seq}


def _open_task(session: Connection, case_id: int, rule: str) -> Any:
    return session.execute(
        select(TASKS).where(TASKS.c.case_id == case_id, TASKS.c.rule == rule,
                            TASKS.c.status == OPEN)
    ).first()


def _task(session: Connection, task_id: int) -> Any:
    row = session.execute(select(TASKS).where(TASKS.c.id == task_id)).first()
    if row is None:
        raise NotFound(_("no task #{task_id}; see `torchflow task list`", task_id=task_id))
    return row


def _require_open(task: Any) -> None:
    if task.status != OPEN:
        raise Refused(_("task #{id} is {status} already; only open tasks change",
                        id=task.id, status=Text(task.status)))


def _rule_of(app: App, session: Connection, case: CaseRow, task: Any) -> Rule:
    spec = app.registry.by_id(session, case.workflow_version_id).spec
    state = spec.states.get(task.state)
    rule = state.rule_named(task.rule) if state else None
    if rule is not None:
        return cast(Rule, rule)  # one person's part answers as a deadline does
    raise NotFound(_("task #{id}: rule {rule} is not in its workflow version",
                     id=task.id, rule=task.rule))


def _authorize(app: App, session: Connection, actor: Actor, task: Any, action: str
               ) -> CaseRow:
    """The task's case, once ``actor`` may do ``action`` on the task (a deadline is
    its escalation role's; a contact or visit, the case's people's) and the case
    is not closed."""
    case = case_by_id(session, task.case_id)
    spec = app.registry.by_id(session, case.workflow_version_id).spec
    deadline = task.kind == TaskKind.DEADLINE and task.escalate_to
    actor.authorize(action, case_facts(session, case, spec, standing_in=app,
                                       task_role=task.escalate_to if deadline else None))
    if action != "task.reassign":
        refuse_if_closed(case, spec)
    return case


def complete(app: App, actor: Actor, task_id: int, note: str | None = None) -> dict[str, Any]:
    """Done: a contact or visit rolls on to its next occurrence, a yearly duty to
    next year's; a deadline is met."""
    note = check_block(note, "the note") if note else note
    now = app.now()
    with app.db.transaction() as s:
        task = _task(s, task_id)
        _require_open(task)
        case = _authorize(app, s, actor, task, "task.done")
        rule = _rule_of(app, s, case, task)
        planned = followups.next_after_done(app.calendar, rule, task, case_key=case.key,
                                            done_on=app.calendar.local_date(now))
        result = outcome_of(app.calendar, task.due_on, app.calendar.local_date(now))
        data: dict[str, Any] = {"task": task.id, "rule": task.rule, "outcome": result[0],
                                "late_by": result[1]}
        if note:
            data["note"] = note
        if planned:
            data["next"] = {"occurrence": planned.occurrence, "due_on": planned.due_on.isoformat()}
        append_event(s, case, kind=EventKind.TASK_DONE, actor=actor.handle, at=now, data=data,
                     entered_by=actor.entered_by)
        followups.finish_task(s, app.calendar, task, rule, planned, case_id=case.id, now=now,
                              outcome=note or "", result=result)
    return {"task": task_id, "key": case.key, "next": data.get("next")}


def snooze(app: App, actor: Actor, task_id: int, to: date, reason: str) -> dict[str, Any]:
    """Move one task's due day to ``to`` (or the next working day); only this
    task's notices are re-planned."""
    if not reason.strip():
        raise InvalidInput(_("the reason is empty; say why the task moves"))
    check_block(reason, "the reason")
    now = app.now()
    cal = app.calendar
    today = cal.local_date(now)
    if to < today:
        raise InvalidInput(_("{to} is in the past; snooze to today or later", to=to))
    if to > today + SNOOZE_MAX:
        raise InvalidInput(_("{to} is more than {years} years ahead; snooze to a nearer day",
                             to=to, years=SNOOZE_MAX.days // 365))
    wanted = to
    due = cal.next_workday(wanted)
    with app.db.transaction() as s:
        task = _task(s, task_id)
        _require_open(task)
        case = _authorize(app, s, actor, task, "task.snooze")
        data = {"task": task.id, "rule": task.rule, "from": task.due_on.isoformat(),
                "to": due.isoformat(), "reason": reason}
        append_event(s, case, kind=EventKind.TASK_SNOOZED, actor=actor.handle, at=now, data=data,
                     entered_by=actor.entered_by)
        followups.redate(s, cal, task.id, kind=task.kind, remind=task.remind, due_on=due)
    moved = f" ({wanted} is not a working day)" if due != wanted else ""
    return {"task": task_id, "key": case.key, "due_on": due.isoformat(), "note": moved}


def reassign(app: App, actor: Actor, task_id: int, handle: str) -> dict[str, Any]:
    now = app.now()
    with app.db.transaction() as s:
        task = _task(s, task_id)
        _require_open(task)
        case = _authorize(app, s, actor, task, "task.reassign")
        person = active_person(s, handle, _("reassign to"))
        handle = person.handle
        old = (s.execute(select(PEOPLE).where(PEOPLE.c.id == task.assignee_id)).first()
               if task.assignee_id else None)
        append_event(s, case, kind=EventKind.TASK_REASSIGNED, actor=actor.handle, at=now,
                     entered_by=actor.entered_by,
                     data={"task": task.id, "to": handle, "was": old.handle if old else None})
        followups.move_work(app, s, person, task_ids=[task.id])
    return {"task": task_id, "key": case.key, "assignee": handle}


def list_tasks(
    app: App,
    *,
    assignee: str | None = None,
    due_within: timedelta | None = None,
    overdue: bool = False,
    kind: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> Page:
    now = app.now()
    today = app.calendar.local_date(now)
    with app.db.read() as s:
        query = _task_query()
        if assignee:  # a handle or a name (王立)
            query = query.where(TASKS.c.assignee_id == find_person(s, assignee).id)
        if due_within is not None:
            query = query.where(TASKS.c.due_on <= today + due_within)
        cutoff = overdue_before(app, now)
        if overdue:
            query = query.where(TASKS.c.due_on < cutoff)
        if kind:
            query = query.where(TASKS.c.kind == kind)
        return fetch_page(s, query.order_by(TASKS.c.due_on, TASKS.c.id), limit=limit,
                          offset=offset, view=lambda r: _task_view(r, cutoff))


def _task_query() -> Select[Any]:
    return (
        select(TASKS.c.id, TASKS.c.kind, TASKS.c.rule, TASKS.c.occurrence, TASKS.c.due_on,
               TASKS.c.window_start, TASKS.c.window_end, TASKS.c.seed, TASKS.c.stage_done,
               TASKS.c.remind, TASKS.c.escalate_to, TASKS.c.assignee_id, CASES.c.key,
               CASES.c.title, CASES.c.workflow,
               PEOPLE.c.handle.label("assignee"))
        .select_from(TASKS.join(CASES, CASES.c.id == TASKS.c.case_id)
                     .outerjoin(PEOPLE, PEOPLE.c.id == TASKS.c.assignee_id))
        .where(TASKS.c.status == OPEN)
    )


def _task_view(r: Any, cutoff: date) -> dict[str, Any]:
    return {"id": r.id, "case": r.key, "title": r.title, "kind": r.kind, "rule": r.rule,
            "occurrence": r.occurrence, "due_on": r.due_on.isoformat(),
            "assignee": r.assignee, "overdue": r.due_on < cutoff, **window_view(r)}


def agenda(app: App, reader: Actor | None = None, *, days: int = 14,
           assignee: str | None = None, everyone: bool = False, mine: bool = False
           ) -> dict[str, Any]:
    """What comes due in the next ``days`` and which notices will go out, when, to
    whom, or wait folded for a digest. Whose: ``assignee``'s, the whole office's
    (``everyone``), else the reader's own (``mine``, the default); a caller who
    is nobody's person (a service account) sees the office."""
    if sum((bool(assignee), everyone, mine)) > 1:
        raise UsageError(_("--mine, --all and --assignee exclude each other; use one"))
    if mine and reader is None:
        raise Refused(_("--mine needs a person: you act as nobody's person here; "
                        "use --assignee HANDLE or --all"))
    if not (assignee or everyone) and reader is not None:
        assignee = reader.handle
    now = app.now()
    cal = app.calendar
    today = cal.local_date(now)
    horizon = cal.at(today + timedelta(days=days), time(23, 59))
    with app.db.read() as s:
        query = _task_query().where(TASKS.c.due_on <= today + timedelta(days=days))
        if assignee:
            query = query.where(TASKS.c.assignee_id == find_person(s, assignee).id)
        rows = list(s.execute(query.order_by(TASKS.c.due_on, TASKS.c.id)))
        cutoff = overdue_before(app, now)
        tasks = [_task_view(r, cutoff) for r in rows]
        people = people_by_id(s)
        gone = in_force(s, cal.tz, today, today + timedelta(days=days))
        routers: dict[date, Router] = {}  # one per day: who is away changes by day
        upcoming: list[tuple[datetime, dict[str, Any]]] = []
        for r in rows:
            tl = timeline(cal, kind=r.kind, due_on=r.due_on, remind=r.remind)
            for stage, kind, at in stage_times(tl):
                if stage <= r.stage_done or at > horizon:
                    continue
                # To whom it will go that day: a substitute while the assignee is away;
                # folded into their digest when that is how they are told.
                day = cal.local_date(max(at, now))
                if day not in routers:
                    routers[day] = Router(app, people, max(at, now), gone)
                router = routers[day]
                for route in router.routes(kind, r.assignee_id, r.escalate_to, r.workflow):
                    upcoming.append((max(at, now), {"kind": kind, "task": r.id, "case": r.key,
                                                    "to": route.to.handle,
                                                    "folded": route.folded}))
        pending = _pending(app, s, assignee)
        away = [{"person": a.person, "from": a.starts.isoformat(), "to": a.ends.isoformat(),
                 "substitute": a.substitute} for a in gone]
    # Sorted by the instant, not its local text (which misorders across a DST change).
    upcoming.sort(key=lambda pair: pair[0])
    notices = [{"at": app.local(at), **view} for at, view in upcoming]
    return {"today": today.isoformat(), "days": days, "whose": assignee, "tasks": tasks,
            "notices": notices, "pending": pending, "away": away}


def _pending(app: App, session: Connection, assignee: str | None) -> list[dict[str, Any]]:
    query = select(NOTICES.c.id, NOTICES.c.kind, NOTICES.c.recipient, NOTICES.c.channel,
                   NOTICES.c.not_before, NOTICES.c.subject).where(NOTICES.c.status == "pending")
    if assignee:
        query = query.where(NOTICES.c.recipient == assignee)
    return [
        {"id": n.id, "kind": n.kind, "to": n.recipient, "channel": n.channel,
         "not_before": app.local(n.not_before), "subject": n.subject}
        for n in session.execute(query.order_by(NOTICES.c.not_before).limit(200))
    ]
