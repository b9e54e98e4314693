"""`workflow migrate`: move open cases to another stored version of their workflow.

The plan is read with a fixed number of queries (the cases, their open tasks,
and, only when the move renames or adds rules, the occurrences already used)
and made in memory by ``domain/version_moves``; it is applied case by case,
each in its own transaction, so one case that fails (changed since the plan was
read, say) stays on its old version and the others move on. Each move is an
event ``migrated`` on the case's hash chain; ``--revert`` is an event
``migration_reverted``. Both carry ``to_state`` and the new
``workflow_version_id`` in their data, which is all a replay needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from msgspec import Struct, field
from sqlalchemy import Connection, Select, func, select

from torchflow.domain.rules import Rule
from torchflow.domain.status import EventKind
from torchflow.domain.version_moves import (
    CANCELLED,
    KEPT,
    NEW,
    REPLANNED,
    CaseMove,
    OpenCase,
    OpenTask,
    TaskMove,
    plan_migration,
    resolve_mapping,
)
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import InvalidInput, NotFound, Refused, TorchflowError, WorkflowError
from torchflow.service.app import App
from torchflow.service.cases.events import append_event, changed_since_read
from torchflow.service.cases.rows import case_by_id, load_case
from torchflow.service.followups import writer as followups
from torchflow.service.people.lookup import Actor
from torchflow.service.workflows.registry import Pinned, stored_problems
from torchflow.store.models import CASES, EVENTS, OPEN, TASKS

MIGRATED, REVERTED = EventKind.MIGRATED, EventKind.MIGRATION_REVERTED
UNSTORED = 0  # the version id of a file's version a dry run did not store


class Group(Struct):
    """The open cases of one source version and their plan."""

    source: Pinned
    moves: list[CaseMove]
    read_versions: dict[int, int]  # case id -> case.version when the plan was read


class Plan(Struct):
    name: str
    target: Pinned
    mapping: dict[str, str]  # every state in use (and each --map) -> its state in the target
    groups: list[Group] = field(default_factory=list)

    @property
    def moves(self) -> Iterable[tuple[Group, CaseMove]]:
        return ((g, m) for g in self.groups for m in g.moves)


class Outcome(Struct, frozen=True):
    key: str
    ok: bool
    from_version: int
    to_version: int
    from_state: str
    to_state: str
    reason: str = ""
    event: int | None = None


# --------------------------------------------------------------------------- plan


def plan(
    app: App, actor: Actor, name: str, to_version: int, *,
    mapping: Mapping[str, str] | None = None, case_key: str | None = None,
    allow_terminal: bool = False, store: bool = True,
) -> Plan:
    """The plan for every open case of ``name`` not on ``to_version`` (or one case).
    ``store=False`` (a dry run, anyone's) leaves a file's version unstored;
    storing it is part of the move, an admin's."""
    if store:
        actor.authorize("workflow.migrate")
    mapping = dict(mapping or {})
    now = app.now()
    with app.db.transaction() as s:
        target = _target(app, s, name, to_version, now, store)
        only = _only_case(s, name, case_key, target) if case_key else None
        cases = _open_cases(app, s, name, target.version_id, only)
        sources = {v: app.registry.by_id(s, v) for v in sorted(cases)}
        if not cases:
            return Plan(name, target, {})
        in_use = {c.state: 1 for group in cases.values() for c, _ in group}
        # Checked over all source versions at once: one refusal names every state.
        resolved = resolve_mapping([p.spec for p in sources.values()], target.spec, in_use,
                                   mapping, allow_terminal=allow_terminal)
        tasks = _open_tasks(s, name, target.version_id, only)
        used = _used_occurrences(s, name, target.version_id, only,
                                 _names_added(sources.values(), target.spec, resolved))
    # What the user mapped counts even where no case is in that state now: a case
    # on hold resumes to its previous state, mapped the same way.
    result = Plan(name, target, {**resolved, **mapping})
    today = app.calendar.local_date(now)
    for version_id, group in cases.items():
        source = sources[version_id]
        own = {k: v for k, v in mapping.items() if k in source.spec.states}
        moves = plan_migration(source.spec, target.spec, [c for c, _ in group], tasks, own,
                               app.calendar, today=today, allow_terminal=allow_terminal,
                               occurrences=used)
        result.groups.append(Group(source, moves, {c.id: v for c, v in group}))
    return result


def _target(app: App, s: Connection, name: str, version: int, now: datetime,
            store: bool) -> Pinned:
    """A stored version, or the file's version (stored now, as `case open` would;
    a dry run only checks that it could be)."""
    spec = app.registry.files().get(name)
    if spec is not None and spec.version == version:
        if store:
            return app.registry.current(s, name, now)
        problems = stored_problems(s, spec)
        if problems:
            raise WorkflowError(problems)
    try:
        return app.registry.stored(s, name, version)
    except NotFound:
        if spec is not None and spec.version == version:
            return Pinned(UNSTORED, spec)  # no case can be on it yet
        stored = [r.version for r in app.registry.versions(s, name)]
        if not stored and spec is None:
            app.registry.file(name)  # no such workflow at all: its own message
        has = f"the file has version {spec.version}" if spec else "there is no file"
        raise NotFound(
            f"version {version} of {name} is neither stored nor the file's version "
            f"({has}; stored: {', '.join(map(str, stored)) or 'none'})"
        ) from None


def _only_case(s: Connection, name: str, key: str, target: Pinned) -> int:
    case = load_case(s, key)
    if case.workflow != name:
        raise InvalidInput(f"{case.key} is a {case.workflow} case, not {name}")
    if case.closed_at is not None:
        raise Refused(f"{case.key} is closed; only open cases move to another version")
    if case.workflow_version_id == target.version_id:
        raise Refused(f"{case.key} is on version {target.spec.version} already")
    return case.id


def _scope(query: Select[Any], name: str, target_id: int, only: int | None) -> Select[Any]:
    query = query.where(CASES.c.workflow == name, CASES.c.closed_at.is_(None),
                        CASES.c.workflow_version_id != target_id)
    return query.where(CASES.c.id == only) if only is not None else query


def _open_cases(
    app: App, s: Connection, name: str, target_id: int, only: int | None,
) -> dict[int, list[tuple[OpenCase, int]]]:
    """The open cases by source version, each with the case version read."""
    c = CASES.c
    rows = s.execute(_scope(select(c.id, c.key, c.state, c.previous_state, c.fields,
                                   c.state_entered_at, c.version, c.workflow_version_id),
                            name, target_id, only).order_by(c.id))
    local = app.calendar.local_date
    out: dict[int, list[tuple[OpenCase, int]]] = {}
    for r in rows:
        case = OpenCase(r.id, r.key, r.state, r.previous_state, r.fields or {},
                        local(r.state_entered_at))
        out.setdefault(r.workflow_version_id, []).append((case, r.version))
    return out


def _open_tasks(s: Connection, name: str, target_id: int, only: int | None) -> list[OpenTask]:
    t = TASKS.c
    # Planned as the state was entered: the same instant (see cases/change._enter).
    from_entry = (t.created_at <= CASES.c.state_entered_at).label("from_entry")
    query = (select(t.id, t.case_id, t.kind, t.rule, t.occurrence, t.due_on, t.window_start,
                    t.window_end, t.seed, t.planned_from, from_entry)
             .join(CASES, CASES.c.id == t.case_id).where(t.status == OPEN))
    return [OpenTask(*r) for r in s.execute(_scope(query, name, target_id, only)
                                            .order_by(t.case_id, t.id))]


def _names_added(sources: Iterable[Pinned], target: WorkflowSpec,
                 resolved: Mapping[str, str]) -> set[str]:
    """Rule names a case may get that its old state did not have (renamed or added)."""
    names: set[str] = set()
    for source in sources:
        for old, new in resolved.items():
            if old in source.spec.states:
                had = {r.name for r in source.spec.states[old].rules}
                names.update(r.name for r in target.states[new].rules if r.name not in had)
    return names


def _used_occurrences(s: Connection, name: str, target_id: int, only: int | None,
                      rules: set[str]) -> dict[tuple[int, str], int]:
    if not rules:
        return {}
    t = TASKS.c
    query = (select(t.case_id, t.rule, func.max(t.occurrence))
             .join(CASES, CASES.c.id == t.case_id).where(t.rule.in_(sorted(rules)))
             .group_by(t.case_id, t.rule))
    return {(case_id, rule): int(n) for case_id, rule, n in s.execute(
        _scope(query, name, target_id, only))}


# --------------------------------------------------------------------------- apply


def apply(app: App, actor: Actor, plan_: Plan) -> list[Outcome]:
    """Each case in its own transaction; one that fails keeps its old version."""
    actor.authorize("workflow.migrate")
    outcomes = []
    for group, move in plan_.moves:
        try:
            seq = _apply_one(app, actor, group.source, plan_.target, move,
                             group.read_versions[move.case_id], kind=MIGRATED,
                             extra={"mapping": _mapping_of(plan_.mapping, group.source)})
        except TorchflowError as exc:
            outcomes.append(_outcome(group.source, plan_.target, move, reason=str(exc)))
        else:
            outcomes.append(_outcome(group.source, plan_.target, move, event=seq))
    return outcomes


def _mapping_of(mapping: Mapping[str, str], source: Pinned) -> dict[str, str]:
    return {k: v for k, v in mapping.items() if k in source.spec.states}


def _outcome(source: Pinned, target: Pinned, move: CaseMove, *, reason: str = "",
             event: int | None = None) -> Outcome:
    return Outcome(move.key, not reason, source.spec.version, target.spec.version,
                   move.from_state, move.to_state, reason, event)


def _apply_one(app: App, actor: Actor, source: Pinned, target: Pinned, move: CaseMove,
               read_version: int, *, kind: str, extra: dict[str, Any]) -> int:
    now = app.now()
    with app.db.transaction() as s:
        case = case_by_id(s, move.case_id)
        if case.version != read_version:
            raise changed_since_read(case.key, case.version, read_version)
        data = {
            "workflow": source.spec.name, "from_version": source.spec.version,
            "to_version": target.spec.version, "from_version_id": source.version_id,
            "workflow_version_id": target.version_id, "from_state": move.from_state,
            "to_state": move.to_state, "previous_state": move.previous_state,
            "was_previous_state": case.previous_state, **extra, **_tasks_data(move),
        }
        changes: dict[str, Any] = {
            "workflow_version_id": target.version_id, "state": move.to_state,
            "previous_state": move.previous_state,
        }
        if move.terminal:
            changes["closed_at"] = now
        seq = append_event(s, case, kind=kind, actor=actor.handle, at=now,
                           entered_by=actor.entered_by,
                           from_state=move.from_state, to_state=move.to_state, data=data,
                           changes=changes)
        rules: dict[str, Rule] = {r.name: r for r in target.spec.states[move.to_state].rules}
        followups.move_to_version(
            s, app.calendar, case_id=case.id, moves=move.tasks, rules=rules,
            assignee_id=case.owner_id, now=now,
            outcome=f"moved to version {target.spec.version}")
    return seq


def _tasks_data(move: CaseMove) -> dict[str, Any]:
    """What the event records of the follow-ups (tasks by id, dates as ISO)."""
    out: dict[str, Any] = {
        "kept": [t.task_id for t in move.tasks if t.action == KEPT],
        "cancelled": [t.task_id for t in move.tasks if t.action == CANCELLED],
        "replanned": [{"task": t.task_id, "rule": t.rule, "was_rule": t.was_rule,
                       "from": _iso(t.old_due), "to": _iso(t.new_due)}
                      for t in move.tasks if t.action == REPLANNED],
        "planned": [{"rule": t.rule, "occurrence": t.occurrence, "due_on": _iso(t.new_due)}
                    for t in move.tasks if t.action == NEW],
    }
    if move.terminal:
        out["closed"] = True
    return out


def _iso(d: date | None) -> str | None:
    return None if d is None else _iso_day(d)


@lru_cache(maxsize=4096)
def _iso_day(d: date) -> str:
    # Views of a large plan repeat a few hundred days many thousand times.
    return d.isoformat()


# --------------------------------------------------------------------------- revert


def revert(app: App, actor: Actor, key: str) -> Outcome:
    """Put a migrated case back on the version it came from, its state mapped
    back and its follow-ups re-planned the same way; an event of its own."""
    actor.authorize("case.revert")
    now = app.now()
    with app.db.transaction() as s:
        case = load_case(s, key)
        last = _last_move(s, case.id, case.key)
        if case.workflow_version_id != last.data["workflow_version_id"]:
            now_on = app.registry.by_id(s, case.workflow_version_id).spec.version
            raise Refused(f"{case.key} is on version {now_on} now, not the version "
                          f"{last.data['to_version']} it was moved to; nothing to revert")
        if case.closed_at is not None:
            raise Refused(f"{case.key} is closed; only open cases move back")
        current = app.registry.by_id(s, case.workflow_version_id)
        back = app.registry.by_id(s, last.data["from_version_id"])
        state = _state_back(case.state, last.data, back.spec)
        # The previous state (where "@previous" resumes to) goes back the same way.
        mapping = {**_inverse(last.data, current.spec, back.spec), case.state: state}
        entered = app.calendar.local_date(case.state_entered_at)
        open_case = OpenCase(case.id, case.key, case.state, case.previous_state, case.fields,
                             entered)
        tasks = _open_tasks(s, case.workflow, back.version_id, case.id)
        names = _names_added([current], back.spec, {case.state: state})
        used = _used_occurrences(s, case.workflow, back.version_id, case.id, names)
    [move] = plan_migration(current.spec, back.spec, [open_case], tasks, mapping,
                            app.calendar, today=app.calendar.local_date(now),
                            allow_terminal=True, occurrences=used)
    seq = _apply_one(app, actor, current, back, move, case.version, kind=REVERTED,
                     extra={"reverts": last.seq, "mapping": {case.state: state}})
    return _outcome(current, back, move, event=seq)


def _last_move(s: Connection, case_id: int, key: str) -> Any:
    """The case's last migration not already reverted."""
    rows = s.execute(select(EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.data)
                     .where(EVENTS.c.case_id == case_id, EVENTS.c.kind.in_((MIGRATED, REVERTED)))
                     .order_by(EVENTS.c.seq.desc())).all()
    reverted = {r.data.get("reverts") for r in rows if r.kind == REVERTED}
    last = next((r for r in rows if r.kind == MIGRATED and r.seq not in reverted), None)
    if last is None:
        raise Refused(f"{key} has not been moved to another version; nothing to revert "
                      f"(see `torchflow case history {key}`)")
    return last


def _inverse(data: Mapping[str, Any], current: WorkflowSpec,
             old: WorkflowSpec) -> dict[str, str]:
    """The move's mapping turned round, where it is one-to-one."""
    pairs = [(str(v), str(k)) for k, v in data.get("mapping", {}).items()]
    targets = [v for v, _ in pairs]
    return {v: k for v, k in pairs
            if targets.count(v) == 1 and v in current.states and k in old.states}


def _state_back(state: str, data: Mapping[str, Any], old: WorkflowSpec) -> str:
    """Where ``state`` goes in the old version: where the move came from if the
    case is still where it landed, else the one old state mapped there, else the
    same name."""
    if state == data["to_state"]:
        return str(data["from_state"])
    sources = [k for k, v in data.get("mapping", {}).items() if v == state]
    if len(sources) == 1:
        return str(sources[0])
    if state in old.states:
        return state
    raise Refused(f"version {old.version} of {old.name} has no state '{state}' to move the "
                  f"case back to; move it with `torchflow workflow migrate {old.name} --to "
                  f"{old.version} --map {state}=<state>`")


# --------------------------------------------------------------------------- views


def plan_view(plan_: Plan) -> dict[str, Any]:
    """The plan as the CLI shows it (text or --json)."""
    cases = [_case_view(group, move) for group, move in plan_.moves]
    totals = {"cases": len(cases), "closing": sum(c["closes"] for c in cases),
              KEPT: 0, REPLANNED: 0, CANCELLED: 0, NEW: 0}
    for c in cases:
        for t in c["tasks"]:
            totals[t["action"]] += 1
    return {"workflow": plan_.name, "to_version": plan_.target.spec.version,
            "mapping": plan_.mapping, "cases": cases, "totals": totals}


def _case_view(group: Group, move: CaseMove) -> dict[str, Any]:
    return {
        "key": move.key, "from_version": group.source.spec.version, "from": move.from_state,
        "to": move.to_state, "closes": move.terminal,
        "missing_fields": list(move.missing_to_open),
        "needed_before": {trigger: list(names) for trigger, names in move.needed_before},
        "invalid_fields": dict(move.invalid_fields),
        "tasks": [_task_view(t) for t in move.tasks],
    }


def _task_view(t: TaskMove) -> dict[str, Any]:
    view: dict[str, Any] = {"action": t.action, "task": t.task_id, "kind": t.kind,
                            "rule": t.rule, "was_rule": t.was_rule,
                            "old_due": _iso(t.old_due), "new_due": _iso(t.new_due)}
    if t.window_start is not None:
        view["window"] = [_iso(t.window_start), _iso(t.window_end)]
    return view


def outcome_view(o: Outcome) -> dict[str, Any]:
    return {"key": o.key, "migrated": o.ok, "from_version": o.from_version,
            "to_version": o.to_version, "from": o.from_state, "to": o.to_state,
            "reason": o.reason or None, "event": o.event}
