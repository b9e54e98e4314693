"""The read side of cases: show, list, history. It imports only what it reads
(no planning, no follow-up writer, no notices), so `case show` starts fast
(bench/startup.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, and_, literal, or_, select

from torchflow.domain.field_values import PEOPLE_SEPARATOR, coerce_value
from torchflow.domain.guards import guard_problems
from torchflow.domain.vocabulary import field_named, states_named, unknown_workflow, workflow_name
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import InvalidInput
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.cases.rows import CaseRow, load_case
from torchflow.service.followups.views import overdue_before, window_view
from torchflow.service.paging import Page, fetch_page
from torchflow.service.people.lookup import find_person
from torchflow.service.workflows.names import workflow_names
from torchflow.store.models import CASES, EVENTS, OPEN, PEOPLE, TASKS

_Q = TypeVar("_Q", bound=Select[Any])


def handle_of(session: Connection, person_id: int | None) -> str | None:
    if person_id is None:
        return None
    return session.scalar(select(PEOPLE.c.handle).where(PEOPLE.c.id == person_id))


def show_case(
    app: App, key: str, actor_roles: tuple[str, ...] | None = None, recent: int = 10
) -> dict[str, Any]:
    """The case, what may happen next and why not, its follow-ups and recent history.
    With no ``actor_roles`` (nobody acting) only missing fields count as blocking."""
    with app.db.read() as s:
        case = load_case(s, key)
        spec = app.registry.by_id(s, case.workflow_version_id).spec
        view = case_view(app, s, case, spec)
        view["allowed"] = [
            {
                "trigger": t.trigger,
                "to": t.dest,
                "title": t.title,
                "blocked": guard_problems(
                    t, case.fields, t.roles if actor_roles is None else actor_roles,
                    spec.fields,
                ),
            }
            for t in spec.transitions_from(case.state)
        ]
        view["tasks"] = open_tasks(app, s, case.id)
        view["history"] = events(app, s, case.id)[-recent:]
        # The names of its codes come with it: showing it reads no other file.
        view["names"] = workflow_names(spec)
    return view


def case_view(app: App, session: Connection, case: CaseRow, spec: WorkflowSpec) -> dict[str, Any]:
    state = spec.states[case.state]
    return {
        "key": case.key,
        "title": case.title,
        "workflow": case.workflow,
        "version": spec.version,
        "state": case.state,
        "state_title": state.title,
        "terminal": state.terminal,
        "owner": handle_of(session, case.owner_id),
        # The office's own number (序号) of an imported matter.
        "external_ref": session.scalar(select(CASES.c.external_ref)
                                       .where(CASES.c.id == case.id)),
        "fields": {name: case.fields.get(name) for name in spec.fields if name in case.fields},
        "opened_at": app.local(case.opened_at),
        "state_entered_at": app.local(case.state_entered_at),
        "closed_at": app.local(case.closed_at),
        "case_version": case.version,
    }


def open_tasks(app: App, session: Connection, case_id: int) -> list[dict[str, Any]]:
    cutoff = overdue_before(app, app.now())
    t = TASKS
    rows = session.execute(
        select(t.c.id, t.c.kind, t.c.rule, t.c.occurrence, t.c.due_on, t.c.window_start,
               t.c.window_end, t.c.seed)
        .where(t.c.case_id == case_id, t.c.status == OPEN)
        .order_by(t.c.due_on, t.c.id)
    )
    return [
        {
            "id": r.id, "kind": r.kind, "rule": r.rule, "occurrence": r.occurrence,
            "due_on": r.due_on.isoformat(), "overdue": r.due_on < cutoff,
            **window_view(r),
        }
        for r in rows
    ]


def events(app: App, session: Connection, case_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.actor, EVENTS.c.at, EVENTS.c.from_state,
               EVENTS.c.to_state, EVENTS.c.data, EVENTS.c.entered_by)
        .where(EVENTS.c.case_id == case_id)
        .order_by(EVENTS.c.seq)
    )
    return [
        {
            "seq": r.seq, "kind": r.kind, "actor": r.actor, "at": app.local(r.at),
            "from": r.from_state, "to": r.to_state, "data": _local_data(app, r.kind, r.data),
            "entered_by": r.entered_by,
        }
        for r in rows
    ]


def _local_data(app: App, kind: str, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """A logged contact or visit keeps when it happened in UTC; show it local."""
    if kind not in ("contact", "visit") or not data or not data.get("at"):
        return data
    return {**data, "at": app.local(datetime.fromisoformat(data["at"]))}


def history(app: App, key: str) -> dict[str, Any]:
    with app.db.read() as s:
        case = load_case(s, key)
        spec = app.registry.by_id(s, case.workflow_version_id).spec
        return {"key": case.key, "workflow": case.workflow, "events": events(app, s, case.id),
                "names": workflow_names(spec)}


def list_cases(
    app: App,
    *,
    workflow: str | None = None,
    state: str | None = None,
    owner: str | None = None,
    is_open: bool | None = None,
    limit: int = 500,
    offset: int = 0,
    search: str | None = None,
    fields: dict[str, str] | None = None,
) -> Page:
    """Cases, oldest first, filtered; ``search``: text in the key, title, the
    office's own number or any text field; ``fields``: a field's value (by its
    name or title, a choice by its label, a person by name: 所属产业=新能源)."""
    with app.db.read() as s:
        query = (
            select(CASES.c.key, CASES.c.workflow, CASES.c.state, CASES.c.title,
                   PEOPLE.c.handle.label("owner"), CASES.c.state_entered_at, CASES.c.closed_at,
                   CASES.c.external_ref)
            .select_from(CASES.outerjoin(PEOPLE, PEOPLE.c.id == CASES.c.owner_id))
            .order_by(CASES.c.id)
        )
        workflow = workflow_typed(app, s, workflow) if workflow else None
        states = states_typed(app, s, workflow, state) if state else None
        owner_id = find_person(s, owner).id if owner else None  # a handle or a name (王立)
        query = case_filter(query, workflow=workflow, states=states, owner_id=owner_id,
                            is_open=is_open)
        specs = [w for w in app.registry.files().values() if workflow in (None, w.name)]
        if search and search.strip():
            query = query.where(_search(specs, search.strip()))
        for typed, value in (fields or {}).items():
            query = query.where(_field_is(s, specs, typed, value))
        return fetch_page(s, query, limit=limit, offset=offset, view=lambda r: {
            "key": r.key, "workflow": r.workflow, "state": r.state, "title": r.title,
            "owner": r.owner, "since": app.local(r.state_entered_at),
            "closed": r.closed_at is not None, "ref": r.external_ref,
        })


def _search(specs: Sequence[WorkflowSpec], text: str) -> Any:
    """Text anywhere in the key, the title, the office's own number or a text field
    (each read from the JSON as text, so 清能 finds 清能动力 on either database)."""
    names = sorted({f.name for w in specs for f in w.fields.values() if f.type == "text"})
    return or_(*(column.icontains(text, autoescape=True) for column in (
        CASES.c.key, CASES.c.title, CASES.c.external_ref,
        *(CASES.c.fields[name].as_string() for name in names))))


def _field_is(s: Connection, specs: Sequence[WorkflowSpec], typed: str, raw: str) -> Any:
    """A field (named as any workflow listed names it) holding a value, typed as
    ``case set`` takes it."""
    found = []
    for spec in specs:
        try:
            found.append((spec, field_named(spec, typed)))
        except InvalidInput as exc:
            if len(specs) == 1:
                raise
            refusal = exc
    if not found:
        raise refusal if len(specs) == 1 else InvalidInput(_(
            "no workflow has a field '{name}'; give --workflow and a field of it", name=typed))
    matches = []
    for spec, f in found:
        one = f.type in ("person", "people")  # a people field holds one of its handles
        value = find_person(s, raw).handle if one else coerce_value(f, raw)
        if value is None:
            raise InvalidInput(_("--field {name}= needs a value", name=typed))
        column = CASES.c.fields[f.name]
        if f.type == "number":
            held = column.as_float() == value
        elif f.type == "people":  # li.ming、zhou.yu holds zhou.yu
            sep = literal(PEOPLE_SEPARATOR)
            held = (sep + column.as_string() + sep).contains(f"{PEOPLE_SEPARATOR}{value}"
                                                             f"{PEOPLE_SEPARATOR}",
                                                             autoescape=True)
        else:
            held = column.as_string() == value
        matches.append(and_(CASES.c.workflow == spec.name, held))
    return or_(*matches)


def case_filter(query: _Q, *, workflow: str | None = None,
                states: Sequence[tuple[str, str]] | None = None,
                owner_id: int | None = None, is_open: bool | None = None) -> _Q:
    """The cases of a list or an export: of a workflow, in one of the (workflow,
    state) pairs ``states_typed`` found, owned by someone, open (True) or closed
    (False); None leaves a filter out."""
    if workflow:
        query = query.where(CASES.c.workflow == workflow)
    if states is not None:
        query = query.where(or_(*(and_(CASES.c.workflow == w, CASES.c.state == st)
                                  for w, st in states)))
    if owner_id is not None:
        query = query.where(CASES.c.owner_id == owner_id)
    if is_open is not None:
        query = query.where(CASES.c.closed_at.is_(None) if is_open
                            else CASES.c.closed_at.is_not(None))
    return query


def workflow_typed(app: App, session: Connection, typed: str) -> str:
    """The workflow a person typed (its name or title, 项目引进): one in the files,
    or one cases were opened under (a file may be gone)."""
    stored = list(session.scalars(select(CASES.c.workflow).distinct()))
    specs = app.registry.files().values()
    name = workflow_name(specs, typed, stored)
    if name is None:
        raise InvalidInput(unknown_workflow(specs, typed, stored))
    return name


def states_typed(app: App, session: Connection, workflow: str | None,
                 typed: str) -> list[tuple[str, str]]:
    """The (workflow, state) pairs a typed state names (its code, title or alias,
    在谈) in each workflow that has it, in the files and among the cases (a state
    a newer version dropped)."""
    specs = [w for w in app.registry.files().values() if workflow in (None, w.name)]
    query = select(CASES.c.workflow, CASES.c.state).distinct()
    if workflow:
        query = query.where(CASES.c.workflow == workflow)
    return states_named(specs, typed, [(w, st) for w, st in session.execute(query)])
