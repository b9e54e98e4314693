"""Use cases that change cases: open, advance, note, set fields, assign."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace
from sqlalchemy import Connection, select

from torchflow.domain.field_values import PEOPLE_SEPARATOR, coerce_value, people_of
from torchflow.domain.guards import guard_problems
from torchflow.domain.planning import PlannedTask, counted_from
from torchflow.domain.rules import DeadlineRule
from torchflow.domain.status import EventKind
from torchflow.domain.text import TITLE_MAX, check_block, check_line
from torchflow.domain.vocabulary import field_named, transition_for
from torchflow.domain.workflow import PREVIOUS, FieldSpec, StateSpec, WorkflowSpec
from torchflow.errors import InvalidInput, Refused
from torchflow.i18n import Listing, _, ngettext_
from torchflow.service.app import App
from torchflow.service.cases.authority import case_facts
from torchflow.service.cases.events import append_event, changed_since_read, insert_case, next_keys
from torchflow.service.cases.read import handle_of
from torchflow.service.cases.rows import CaseRow, load_case
from torchflow.service.enterprises import records as enterprises
from torchflow.service.followups import writer as followups
from torchflow.service.followups.views import window_view
from torchflow.service.people.lookup import Actor, active_person, find_person
from torchflow.store.models import OPEN, TASKS


class Advanced(Struct, frozen=True):
    key: str
    trigger: str
    from_state: str
    to_state: str
    closed: bool
    version: int
    cancelled_tasks: list[int]
    planned: list[dict[str, Any]]


def coerce_fields(
    session: Connection, spec: WorkflowSpec, raw: Mapping[str, str]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, text_value in raw.items():
        field = field_named(spec, name)  # its name or title (计划投资额)
        values[field.name] = _coerce(session, field, text_value)
    return values


def _keep_required(spec: WorkflowSpec, changed: Mapping[str, Any], state: str) -> None:
    """A field needed to open a case, or in its state (``required_from``), may
    change but not be emptied there."""
    for name, value in changed.items():
        field = spec.fields[name]
        if value is None and field.required:
            raise InvalidInput(_("'{field}' is required and cannot be cleared", field=name))
        if value is None and field.required_at(state):
            raise InvalidInput(_("'{field}' is required in state '{state}' and cannot be "
                                 "cleared", field=name, state=spec.states[state].term))


def _coerce(session: Connection, field: FieldSpec, raw: str) -> Any:
    value = coerce_value(field, raw)
    if field.type == "person" and value is not None:
        return find_person(session, str(value)).handle
    if field.type == "people" and value is not None:
        return PEOPLE_SEPARATOR.join(dict.fromkeys(
            find_person(session, name).handle for name in people_of(value)))
    if field.type == "enterprise" and value is not None:
        # Stored as the enterprise's name (what a case shows); the link is by id.
        return enterprises.find_enterprise(session, str(value)).name
    return value


def open_case(
    app: App,
    actor: Actor,
    workflow: str,
    *,
    title: str,
    owner: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    actor.authorize("case.open")
    title = check_line(title, "the title", TITLE_MAX)
    now = app.now()
    with app.db.transaction() as s:
        return open_in(app, s, actor, workflow, title=title, owner=owner, fields=fields, now=now)


def open_in(
    app: App, s: Connection, actor: Actor, workflow: str, *, title: str, owner: str | None,
    fields: Mapping[str, str] | None, now: datetime,
) -> dict[str, Any]:
    """Open a case inside the caller's transaction (a request raised on a visit is
    opened with the visit, all of it or none of it)."""
    pinned = app.registry.current(s, workflow, now, actor=actor)
    spec = pinned.spec
    values = coerce_fields(s, spec, fields or {})
    missing = [
        f.name for f in spec.fields.values() if f.required and values.get(f.name) is None
    ]
    if missing:
        raise InvalidInput(_("'{name}' needs {fields} to open ({pairs})", name=spec.name,
                             fields=Listing(missing), pairs=Listing(f"{m}=..." for m in missing)))
    owner_person = active_person(s, owner, _("give the case to")) if owner else None
    owner = owner_person.handle if owner_person else None
    owner_id = owner_person.id if owner_person else actor.id
    [key] = next_keys(s, spec.key_prefix, app.calendar.local_date(now).year)
    row: dict[str, Any] = {
        "key": key, "workflow": spec.name, "workflow_version_id": pinned.version_id,
        "state": spec.initial, "previous_state": None, "title": title,
        "owner_id": owner_id, "fields": values, "opened_at": now, "state_entered_at": now,
        "closed_at": None, "version": 1, "last_seq": 0, "head_hash": "",
    }
    case_id = insert_case(s, row)
    case = CaseRow(id=case_id, **row)
    enterprises.link_fields(s, spec, case_id, values, by=actor.handle, now=now)
    state = spec.states[spec.initial]
    entry = _plan_state(app, s, case, state, values, now)
    append_event(
        s, case, kind=EventKind.OPENED, actor=actor.handle, at=now, to_state=spec.initial,
        entered_by=actor.entered_by,
        data={
            "workflow": spec.name, "version": spec.version, "title": title,
            "owner": owner or actor.handle, "fields": values,
            "planned": [_planned_view(p) for p in entry.planned], **entry.notes,
        },
    )
    followups.insert_tasks(
        s, app.calendar, case_id=case_id, rules=entry.rules, planned=entry.planned,
        assignee_id=owner_id, now=now, assignees=entry.assignees,
    )
    return {"key": key, "workflow": spec.name, "version": spec.version, "state": spec.initial}


def advance(
    app: App,
    actor: Actor,
    key: str,
    trigger: str,
    *,
    note: str | None = None,
    fields: Mapping[str, str] | None = None,
    expected_version: int | None = None,
) -> Advanced:
    """Fire ``trigger`` on a case: one transaction, all of it or none of it."""
    note = check_block(note, "the note") if note else note
    now = app.now()
    with app.db.transaction() as s:
        case = load_case(s, key)
        if expected_version is not None and case.version != expected_version:
            raise changed_since_read(case.key, case.version, expected_version)
        pinned = app.registry.by_id(s, case.workflow_version_id)
        spec = pinned.spec
        transition = transition_for(spec, case.state, trigger)  # 签约, 已签约 or sign
        if transition is None:
            raise Refused(_("{key}: {problem}", key=case.key,
                            problem=pinned.compiled.not_allowed(case.state, trigger)))
        trigger = transition.trigger
        values = dict(case.fields)
        changed = coerce_fields(s, spec, fields or {})
        _keep_required(spec, changed, case.state)
        values.update(changed)
        problems = guard_problems(transition, values, actor.roles, spec.fields)
        if problems:
            raise Refused(_("{key}: {problem}", key=case.key,
                            problem=Listing(problems, "clauses")))
        # A transition that names its roles is theirs to fire on any case (the
        # director approves, the coordinating office calls back): they oversee it.
        facts = case_facts(s, case, spec)
        actor.authorize("case.advance", replace(
            facts, overseers=facts.overseers | frozenset(transition.roles)))
        if transition.before_deadline:
            _in_time(app, s, case, transition.before_deadline, transition.term)
        if transition.count:  # in the event's fields, so the history replays it
            changed[transition.count] = values[transition.count] = \
                int(values.get(transition.count) or 0) + 1
        dest = pinned.compiled.fire(case.state, case.previous_state, trigger)
        return _enter(app, s, case, spec, actor, trigger, dest, now, note, changed, values)


class _Entry(Struct, frozen=True):
    """What entering a state plans, to whom, and what the history should say of it."""

    planned: list[PlannedTask]
    assignees: dict[str, int | None]
    notes: dict[str, Any] = field(default_factory=dict)
    rules: tuple[Any, ...] = ()  # the rules the planned tasks are of


def _plan_state(
    app: App, s: Connection, case: CaseRow, state: StateSpec, values: dict[str, Any],
    now: datetime, budgets: dict[str, int] | None = None,
) -> _Entry:
    """Plan the rules of ``state`` entered at ``now``: each counts from its ``from``
    date field when that has a value (else from the entry, as the history says),
    goes to its ``assignee`` person field (else the owner), and a deadline with a
    budget left from before a hold (``budgets``) plans what is left."""
    entered_on = app.calendar.local_date(now)
    since, empty = counted_from(state.rules, values)
    planned = followups.plan_entry(
        s, app.calendar, case_id=case.id, case_key=case.key, rules=state.rules,
        entered_on=entered_on, since=since, budgets=budgets, fields=values,
    )
    notes: dict[str, Any] = {}
    by = {r.name: {"field": r.by, "value": values.get(r.by), "within": r.within_for(values)}
          for r in state.rules if isinstance(r, DeadlineRule) and r.by
          and r.name not in (budgets or {})}
    if by:
        notes["budget_by"] = by  # the budget the case's choice picked (a land request's 25)
    counted = {name: {"field": r.count_from, "on": since[name].isoformat()}
               for r in state.rules if (name := r.name) in since and name not in (budgets or {})}
    counted.update({name: {"field": f, "on": None, "fell_back_to": "state entry"}
                    for name, f in empty.items()})
    if counted:
        notes["counted_from"] = counted
    if budgets:
        notes["resumed_budget"] = budgets
    assignees = followups.rule_assignees(s, state.rules, values, case.owner_id)
    # A task for each person of a people field (each co-handler's report).
    parts = followups.plan_parts(s, app.calendar, case_id=case.id, rules=state.each,
                                 fields=values, entered_on=entered_on)
    return _Entry([*planned, *parts.planned], {**assignees, **parts.assignees}, notes,
                  (*state.rules, *parts.rules))


def _enter(
    app: App, s: Connection, case: CaseRow, spec: WorkflowSpec, actor: Actor, trigger: str,
    dest: str, now: datetime, note: str | None, changed: dict[str, Any], values: dict[str, Any],
) -> Advanced:
    left, entered = spec.states[case.state], spec.states[dest]
    cancelled = followups.open_task_ids(s, case.id) if left.rules else []
    today = app.calendar.local_date(now)
    # Pause on status: a deadline keeps what is left of its budget when its state
    # is left, and resuming the state (@previous) plans that instead of a new one.
    kept = followups.budgets_left(s, app.calendar, cancelled, today)
    transition = spec.transition(case.state, trigger)
    resuming = transition is not None and transition.dest == PREVIOUS
    budgets = followups.resumable_budgets(s, case.id, entered.rules) if resuming else {}
    entry = _plan_state(app, s, case, entered, values, now, budgets)
    planned = entry.planned
    if transition is not None and transition.deadline_to:
        planned = _deadline_on(app, planned, values[transition.deadline_to])
    data: dict[str, Any] = {"trigger": trigger}
    if note:
        data["note"] = note
    if changed:
        data["fields"] = changed
    if cancelled:
        data["cancelled_tasks"] = cancelled
    if kept:
        data["budget_left"] = dict(kept.values())
    if planned:
        data["planned"] = [_planned_view(p) for p in planned]
    data.update(entry.notes)
    changes: dict[str, Any] = {
        "state": dest, "previous_state": case.state, "state_entered_at": now,
        "closed_at": now if entered.terminal else None,
    }
    if changed:
        changes["fields"] = values
        enterprises.link_fields(s, spec, case.id, changed, by=actor.handle, now=now)
    append_event(
        s, case, kind=EventKind.ADVANCED, actor=actor.handle, at=now, from_state=case.state,
        entered_by=actor.entered_by,
        to_state=dest, data=data, changes=changes,
    )
    followups.close_tasks(s, cancelled, status="cancelled", now=now, outcome=f"left {case.state}")
    followups.keep_budgets(s, kept)
    followups.insert_tasks(
        s, app.calendar, case_id=case.id, rules=entry.rules, planned=planned,
        assignee_id=case.owner_id, now=now, assignees=entry.assignees,
    )
    return Advanced(
        key=case.key, trigger=trigger, from_state=case.state, to_state=dest,
        closed=entered.terminal, version=case.version + 1, cancelled_tasks=cancelled,
        planned=data.get("planned", []),
    )


def fire_within(app: App, s: Connection, case: CaseRow, spec: WorkflowSpec, actor: Actor,
                trigger: str, dest: str, now: datetime, note: str, values: dict[str, Any]
                ) -> Advanced:
    """One transition fired inside the caller's transaction, its guards checked by
    the caller (an import's move along the workflow: sheets/imports.row_move)."""
    return _enter(app, s, case, spec, actor, trigger, dest, now, note, {}, values)


def _in_time(app: App, s: Connection, case: CaseRow, days: int, trigger: Any) -> None:
    """Refused when the state's open deadline is fewer than ``days`` working days off."""
    due = s.scalar(select(TASKS.c.due_on).where(
        TASKS.c.case_id == case.id, TASKS.c.rule == f"{case.state}.deadline",
        TASKS.c.status == OPEN))
    today = app.calendar.local_date(app.now())
    if due is not None and app.calendar.count_workdays(today, due) < days:
        raise Refused(ngettext_(
            "{key}: '{trigger}' is asked at least {n} working day before the deadline "
            "({due}); it is too late now",
            "{key}: '{trigger}' is asked at least {n} working days before the deadline "
            "({due}); it is too late now", days, key=case.key, trigger=trigger,
            due=due.isoformat()))


def _deadline_on(app: App, planned: list[PlannedTask], day: str) -> list[PlannedTask]:
    """The entered state's deadline on the date granted (an extension approved), or
    the next working day after it."""
    due = app.calendar.next_workday(date.fromisoformat(day))
    return [replace(p, due_on=due) if p.kind == "deadline" else p for p in planned]


def _planned_view(p: Any) -> dict[str, Any]:
    return {"rule": p.rule, "occurrence": p.occurrence, "due_on": p.due_on.isoformat(),
            **window_view(p)}


def add_note(app: App, actor: Actor, key: str, note: str) -> dict[str, Any]:
    if not note.strip():
        raise InvalidInput(_("the note is empty; write what happened"))
    check_block(note, "the note")
    now = app.now()
    with app.db.transaction() as s:
        case = load_case(s, key)
        _authorize(app, s, case, actor, "case.note")
        seq = append_event(s, case, kind=EventKind.NOTE, actor=actor.handle, at=now,
                           entered_by=actor.entered_by,
                           data={"note": note})
    return {"key": case.key, "event": seq}


def set_fields(app: App, actor: Actor, key: str, pairs: Mapping[str, str]) -> dict[str, Any]:
    if not pairs:
        raise InvalidInput(_("nothing to set; give name=value pairs, e.g. industry=biomedicine"))
    now = app.now()
    with app.db.transaction() as s:
        case = load_case(s, key)
        spec = app.registry.by_id(s, case.workflow_version_id).spec
        actor.authorize("case.set", case_facts(s, case, spec))
        changed = coerce_fields(s, spec, pairs)
        _keep_required(spec, changed, case.state)
        values = {**case.fields, **changed}
        old = {name: case.fields.get(name) for name in changed}
        follow = followups.follow_fields(
            s, app.calendar, case_id=case.id, case_key=case.key,
            rules=spec.states[case.state].rules,
            entered_at=case.state_entered_at, changed=changed,
            fields=values, owner_id=case.owner_id,
        )
        parts = followups.follow_parts(
            s, app.calendar, case_id=case.id, rules=spec.states[case.state].each,
            changed=changed, fields=values, on=app.calendar.local_date(now))
        append_event(
            s, case, kind=EventKind.FIELDS_SET, actor=actor.handle, at=now,
            entered_by=actor.entered_by,
            data={"fields": changed, "was": old, **follow.notes, **parts.notes},
            changes={"fields": values},
        )
        followups.apply_follow(app, s, follow)
        followups.apply_parts(s, app.calendar, parts, case_id=case.id, now=now)
        enterprises.link_fields(s, spec, case.id, changed, by=actor.handle, now=now)
    return {"key": case.key, "fields": values}


def _authorize(app: App, session: Connection, case: CaseRow, actor: Actor,
               action: str) -> None:
    spec = app.registry.by_id(session, case.workflow_version_id).spec
    actor.authorize(action, case_facts(session, case, spec))


def assign(app: App, actor: Actor, key: str, handle: str) -> dict[str, Any]:
    """New owner; the case's open tasks, and their notices not yet sent, follow."""
    now = app.now()
    with app.db.transaction() as s:
        case = load_case(s, key)
        _authorize(app, s, case, actor, "case.assign")
        person = active_person(s, handle, _("assign to"))
        handle = person.handle
        old = handle_of(s, case.owner_id)
        append_event(
            s, case, kind=EventKind.ASSIGNED, actor=actor.handle, at=now,
            entered_by=actor.entered_by,
            data={"owner": handle, "was": old}, changes={"owner_id": person.id},
        )
        followups.move_work(app, s, person, task_ids=followups.open_task_ids(s, case.id))
    return {"key": case.key, "owner": handle, "was": old}
