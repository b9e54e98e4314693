"""Use cases on workflow definitions: list, show, validate, diagram."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from torchflow.domain.graph import came_from
from torchflow.domain.loader import (
    ROLES_FILE,
    check_text,
    clashes,
    known_roles,
    read_definition,
    roles_problems,
    step_roles,
    workflow_files,
)
from torchflow.domain.workflow import PREVIOUS, FieldSpec, WorkflowSpec
from torchflow.errors import InvalidInput, TorchflowError, WorkflowError
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.workflows.registry import stored_problems
from torchflow.store.models import CASES, PEOPLE

DIAGRAM_FORMATS = ("mermaid", "dot")


def list_workflows(app: App) -> list[dict[str, Any]]:
    files = app.registry.files()
    with app.db.read() as s:
        counts: dict[str, int] = dict(
            s.execute(
                select(CASES.c.workflow, func.count())
                .where(CASES.c.closed_at.is_(None))
                .group_by(CASES.c.workflow)
            ).all()
        )
        return [
            {
                "name": spec.name,
                "title": spec.title,
                "version": spec.version,
                "stored_versions": [v.version for v in app.registry.versions(s, spec.name)],
                "open_cases": counts.get(spec.name, 0),
                "file": spec.path,
            }
            for spec in sorted(files.values(), key=lambda w: w.name)
        ]


def get_spec(app: App, name: str, version: int | None = None) -> WorkflowSpec:
    """The file's definition, or a stored older version when ``version`` names one."""
    if version is None:
        return app.registry.file(name)
    spec = app.registry.files().get(name)
    if spec is not None and spec.version == version:
        return spec
    with app.db.read() as s:
        return app.registry.stored(s, name, version).spec


def spec_view(spec: WorkflowSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "title": spec.title,
        "title_en": spec.title_en,
        "version": spec.version,
        "key_prefix": spec.key_prefix,
        "initial": spec.initial,
        "description": spec.description,
        "digest": spec.digest,
        "fields": [
            {"name": f.name, "type": f.type, "title": f.title, "title_en": f.title_en,
             "required": f.required, "required_from": f.required_from or None,
             "choices": list(f.choices), "unit": f.unit}
            for f in spec.fields.values()
        ],
        "states": [
            {"name": s.name, "title": s.title, "title_en": s.title_en, "terminal": s.terminal,
             "follow_ups": [rule_view(r, spec.fields) for r in (*s.rules, *s.each)]}
            for s in spec.states.values()
        ],
        "transitions": [
            {"trigger": t.trigger, "from": list(t.sources), "to": t.dest, "title": t.title,
             "requires": list(t.requires), "roles": list(t.roles)}
            for t in spec.transitions
        ],
    }


def rule_view(rule: Any, fields: Mapping[str, FieldSpec] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {"kind": rule.kind, "rule": rule.name}
    if rule.kind == "contact":
        view["every_workdays"] = rule.every
        if rule.escalate_after:
            view["escalate_after"] = rule.escalate_after
            view["escalate_to"] = rule.escalate_to
    elif rule.kind == "visit":
        view["gap_days"] = [rule.min_gap, rule.max_gap]
    elif rule.kind == "each":
        view["title"], view["title_en"] = rule.title, rule.title_en
        view["people"], view["within_workdays"] = rule.people, rule.within
        view["report_to"], view["escalate_to"] = rule.report_to, rule.escalate_to
    elif rule.kind == "duty":
        view["title"], view["title_en"] = rule.title, rule.title_en
        if rule.on:
            view["every_year_on"] = f"{rule.on[0]:02d}-{rule.on[1]:02d}"
        view["escalate_to"] = rule.escalate_to
        view["escalate_after"] = rule.escalate_after
    else:
        view["within_workdays"] = rule.within
        view["escalate_to"] = rule.escalate_to
        if rule.by:
            view["by"] = rule.by
            view["within_by"] = dict(rule.within_by)
        if rule.ladder:
            view["ladder"] = [{"step": s.step, "after_workdays": s.after, "to": s.to,
                               "title": s.title, "title_en": s.title_en} for s in rule.ladder]
    if getattr(rule, "after", None):
        span = rule.after
        view["after"] = {"years": span.years, "months": span.months, "days": span.days}
        view["roll"] = rule.roll
    view["remind_workdays"] = rule.remind
    # Shown only when set, so a view of a rule without them is what it was.
    if rule.count_from:
        view["from"] = rule.count_from
        named = (fields or {}).get(rule.count_from)
        if named is not None and getattr(rule, "after", None):
            view["from_title"] = [named.title or named.name, named.title_en or named.name]
    if rule.assignee:
        view["assignee"] = rule.assignee
    return view


class Validation(Struct, frozen=True):
    """What `workflow validate` found: errors stop `case open`, warnings do not."""

    files: int
    errors: tuple[str, ...]
    warnings: tuple[str, ...]



def database_exists(url: str) -> bool:
    """Whether the configured database can be asked without creating it: a SQLite
    file that is there, or a server (which creates nothing by being asked)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return True  # building the app names what is wrong with the URL
    if parsed.get_backend_name() != "sqlite":
        return True
    database = parsed.database
    return database is not None and database != ":memory:" and Path(database).is_file()


def validate_files(
    paths: list[Path], *, workflows_dir: Path | None = None, app: App | None = None
) -> Validation:
    """Check the definitions in ``paths`` as `case open` would use them: each file,
    names and key prefixes across them, and, given ``app``, against the versions
    stored and the people in its database. Roles that nobody holds and no other
    workflow (of ``paths`` or ``workflows_dir``) names are warned about."""
    files = _definition_files(paths)
    specs, errors = _read_each(files)
    for index, spec in enumerate(specs):
        errors.extend(clashes(spec, specs[:index]))
    roles = next((known_roles(f.parent) for f in files if f.name == ROLES_FILE),
                 known_roles(workflows_dir))
    errors.extend(p for spec in specs for p in step_roles(spec, roles))
    warnings: list[str] = []
    held: set[str] = set()
    if app is not None:
        stored, held, unchecked = _against_database(app, specs)
        errors.extend(stored)
        warnings.extend(unchecked)
    context = [*specs, *_other_specs(workflows_dir, files)]
    warnings.extend(_unheld_roles(specs, context, held))
    return Validation(len([f for f in files if f.name != ROLES_FILE]), tuple(errors),
                      tuple(warnings))


def _against_database(
    app: App, specs: list[WorkflowSpec]
) -> tuple[list[str], set[str], list[str]]:
    """(what the stored versions refuse, the roles people hold, why neither could
    be checked): a database that cannot be read is a warning, the files are
    still checked."""
    try:
        with app.db.transaction() as s:
            stored = [app.tr(p) for spec in specs for p in stored_problems(s, spec)]
            return stored, _held_roles(s), []
    except TorchflowError as exc:
        reason = str(exc)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return [], set(), [f"stored versions and people not checked: {reason}"]


def _definition_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.toml")))  # roles.toml too: it is checked
        elif path.exists():
            files.append(path)
        else:
            raise InvalidInput(_("{path} does not exist; name a workflow file or folder",
                                 path=path))
    return files


def _read_each(files: list[Path]) -> tuple[list[WorkflowSpec], list[str]]:
    """The definitions that are valid, and every problem of the others."""
    specs: list[WorkflowSpec] = []
    problems: list[Any] = []
    for file in files:
        if file.name == ROLES_FILE:
            problems.extend(roles_problems(file))
            continue
        try:
            spec, found = check_text(read_definition(file), str(file))
        except WorkflowError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(found)
        if spec is not None:
            specs.append(spec)
    return specs, problems


def _other_specs(directory: Path | None, checked: list[Path]) -> list[WorkflowSpec]:
    """The valid definitions of the workflows directory not among ``checked``: the
    other workflows a role may be named by."""
    if directory is None or not directory.is_dir():
        return []
    seen = {file.resolve() for file in checked}
    others = [file for file in workflow_files(directory) if file.resolve() not in seen]
    return _read_each(others)[0]


def _held_roles(session: Connection) -> set[str]:
    rows = session.execute(select(PEOPLE.c.roles).where(PEOPLE.c.active.is_(True)))
    return {role for (roles,) in rows for role in roles or ()}


def _unheld_roles(
    specs: list[WorkflowSpec], context: list[WorkflowSpec], held: set[str]
) -> list[str]:
    """A role held by nobody and named by one workflow only is likely a misspelling."""
    warnings = []
    for spec in specs:
        named_elsewhere = {r for other in context if other.name != spec.name for r in other.roles}
        for role in sorted(spec.roles - held - named_elsewhere):
            warnings.append(
                f"{spec.path}: {_role_key(spec, role)}: role '{role}' is held by no one and "
                "named by no other workflow; check the spelling, or give it to someone "
                f"(torchflow person add HANDLE --name NAME --role {role})"
            )
    return warnings


def _role_key(spec: WorkflowSpec, role: str) -> str:
    """The first key of ``spec`` that names ``role``."""
    for index, t in enumerate(spec.transitions):
        if role in t.roles:
            return f"transitions[{index}].roles"
    for state in spec.states.values():
        if state.deadline is not None and state.deadline.escalate_to == role:
            return f"states.{state.name}.deadline.escalate_to"
        if state.contact is not None and state.contact.escalate_to == role:
            return f"states.{state.name}.contact.escalate_to"
        for i, step in enumerate(state.deadline.ladder if state.deadline else ()):
            if step.to == role:
                return f"states.{state.name}.deadline.ladder[{i}].to"
    return "roles"


def diagram(spec: WorkflowSpec, fmt: str) -> str:
    """The machine drawn by transitions' diagram support (mermaid needs no system package)."""
    if fmt not in DIAGRAM_FORMATS:
        raise InvalidInput(_("format {fmt!r} is unknown; use mermaid or dot", fmt=fmt))
    from transitions.extensions import GraphMachine

    class _Model:
        pass

    model = _Model()
    machine = GraphMachine(
        model=model, states=list(spec.states), initial=spec.initial, auto_transitions=False,
        graph_engine="mermaid" if fmt == "mermaid" else "graphviz", title=spec.title,
        show_conditions=False,
    )
    for t in spec.transitions:
        for source in t.sources:
            for dest in _destinations(spec, source, t.dest):
                machine.add_transition(t.trigger, source, dest)
    graph = model.get_graph()  # type: ignore[attr-defined]
    return str(graph.draw(None) if fmt == "mermaid" else graph.source)


def _destinations(spec: WorkflowSpec, source: str, dest: str) -> list[str]:
    if dest != PREVIOUS:
        return [dest]
    # "Back to where it was": every state from which the case can have come.
    back = came_from(spec.transitions).get(source, frozenset())
    return [state for state in spec.states if state in back]
