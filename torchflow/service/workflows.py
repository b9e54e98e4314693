"""Use cases on workflow definitions: list, show, validate, diagram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from torchflow.domain.workflow import PREVIOUS, WorkflowSpec, validate_text
from torchflow.errors import InvalidInput
from torchflow.service.app import App
from torchflow.store.models import CASES

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
        "version": spec.version,
        "key_prefix": spec.key_prefix,
        "initial": spec.initial,
        "description": spec.description,
        "digest": spec.digest,
        "fields": [
            {"name": f.name, "type": f.type, "title": f.title, "required": f.required,
             "choices": list(f.choices), "unit": f.unit}
            for f in spec.fields.values()
        ],
        "states": [
            {"name": s.name, "title": s.title, "terminal": s.terminal,
             "follow_ups": [rule_view(r) for r in s.rules]}
            for s in spec.states.values()
        ],
        "transitions": [
            {"trigger": t.trigger, "from": list(t.sources), "to": t.dest, "title": t.title,
             "requires": list(t.requires), "roles": list(t.roles)}
            for t in spec.transitions
        ],
    }


def rule_view(rule: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"kind": rule.kind, "rule": rule.name}
    if rule.kind == "contact":
        view["every_workdays"] = rule.every
    elif rule.kind == "visit":
        view["gap_days"] = [rule.min_gap, rule.max_gap]
    else:
        view["within_workdays"] = rule.within
        view["escalate_to"] = rule.escalate_to
    view["remind_workdays"] = rule.remind
    return view


def describe_rule(view: dict[str, Any]) -> str:
    ahead = view["remind_workdays"]
    remind = f", reminder {ahead} workday(s) ahead" if ahead else ""
    if view["kind"] == "contact":
        every = view["every_workdays"]
        return ("daily contact" if every == 1 else f"contact every {every} workdays") + remind
    if view["kind"] == "visit":
        low, high = view["gap_days"]
        return f"visit at a random working day {low}-{high} days after the last" + remind
    return (f"deadline within {view['within_workdays']} workdays, escalate to "
            f"{view['escalate_to']}" + remind)


def validate_files(paths: list[Path]) -> tuple[int, list[str]]:
    """(files checked, every problem of every file)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.toml")))
        elif path.exists():
            files.append(path)
        else:
            raise InvalidInput(f"{path} does not exist; name a workflow file or folder")
    problems: list[str] = []
    for file in files:
        try:
            problems.extend(validate_text(file.read_text(encoding="utf-8"), str(file)))
        except UnicodeDecodeError:
            problems.append(f"{file}: not UTF-8 text")
    return len(files), problems


def diagram(spec: WorkflowSpec, fmt: str) -> str:
    """The machine drawn by transitions' diagram support (mermaid needs no system package)."""
    if fmt not in DIAGRAM_FORMATS:
        raise InvalidInput(f"format {fmt!r} is unknown; use mermaid or dot")
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
    return [
        t_source
        for t in spec.transitions
        if t.dest == source
        for t_source in t.sources
    ]
