"""`torchflow workflow ...`: the workflow definitions under workflows/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, pairs, pass_env, table
from torchflow.cli.params import STATE_PAIR


@click.group()
def workflow() -> None:
    """List, show, validate and draw workflow definitions.

    \b
    Example:
      torchflow workflow validate
      torchflow workflow show project_introduction
    """


@workflow.command("list")
@pass_env
def list_(env: Env) -> None:
    """The workflows under the configured directory, with stored versions.

    \b
    Example:
      torchflow workflow list
    """
    from torchflow.service.workflows import definitions as workflows

    rows = workflows.list_workflows(env.app)
    env.emit(rows, lambda r: table(r, [("NAME", "name"), ("VERSION", "version"),
                                        ("STORED", "stored_versions"), ("OPEN", "open_cases"),
                                        ("TITLE", "title")]))


@workflow.command("show")
@click.argument("name")
@click.option("--version", "version", type=click.IntRange(1), help="A stored older version.")
@pass_env
def show(env: Env, name: str, version: int | None) -> None:
    """States, transitions, fields and follow-up rules of NAME.

    \b
    Example:
      torchflow workflow show project_introduction
      torchflow workflow show project_introduction --version 1
    """
    from torchflow.service.workflows import definitions as workflows

    view = workflows.spec_view(workflows.get_spec(env.app, name, version))
    env.emit(view, render_spec)


def render_spec(v: dict[str, Any]) -> str:
    from torchflow.service.workflows.definitions import describe_rule

    head = pairs(v, [("Workflow", "name"), ("Title", "title"), ("Version", "version"),
                     ("Key prefix", "key_prefix"), ("Starts in", "initial")])
    fields = table(v["fields"], [("FIELD", "name"), ("TYPE", "type"), ("REQUIRED", "required"),
                                 ("TITLE", "title")])
    states = []
    for s in v["states"]:
        mark = " (terminal)" if s["terminal"] else ""
        states.append(f"  {s['name']}{mark}: {s['title']}")
        states.extend(f"      - {describe_rule(r)}" for r in s["follow_ups"])
    moves = table(
        [{**t, "from": ", ".join(t["from"])} for t in v["transitions"]],
        [("TRIGGER", "trigger"), ("FROM", "from"), ("TO", "to"), ("REQUIRES", "requires"),
         ("ROLES", "roles")],
    )
    return "\n\n".join([head, fields, "States:\n" + "\n".join(states), moves])


@workflow.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@pass_env
def validate(env: Env, files: tuple[Path, ...]) -> None:
    """Check FILEs (default: the workflows directory) as `case open` would.

    Every problem of every file, names and key prefixes used twice, content
    changed under a version already stored (when the configured database
    exists), and, as warnings, roles that no person holds and no other workflow
    names. Exit 1 when there are errors, 0 with warnings only.

    \b
    Example:
      torchflow workflow validate
      torchflow workflow validate workflows/project_introduction.toml
    """
    from torchflow.service.workflows import definitions as workflows

    settings = env.settings
    paths = list(files) or [settings.workflows_dir]
    app = env.app if workflows.database_exists(settings.database_url) else None
    found = workflows.validate_files(paths, workflows_dir=settings.workflows_dir, app=app)
    if env.as_json:
        env.emit({"files": found.files, "problems": list(found.errors),
                  "warnings": list(found.warnings), "ok": not found.errors}, "")
    else:
        for problem in found.errors:
            click.echo(f"error: {problem}", err=True)
        for warning in found.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(found.summary)
    if found.errors:
        raise SystemExit(1)


@workflow.command("diagram")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@click.option("--version", "version", type=click.IntRange(1), help="A stored older version.")
@pass_env
def diagram(env: Env, name: str, fmt: str, version: int | None) -> None:
    """Draw the state machine of NAME as Mermaid or Graphviz DOT text.

    \b
    Example:
      torchflow workflow diagram project_introduction --format mermaid > pi.mmd
    """
    from torchflow.service.workflows import definitions as workflows

    text = workflows.diagram(workflows.get_spec(env.app, name, version), fmt)
    env.emit({"name": name, "format": fmt, "diagram": text}, text)


@workflow.command("migrate")
@click.argument("name", required=False)
@click.option("--to", "to_version", type=click.IntRange(1),
              help="The version to move to: a stored one or the file's.")
@click.option("--map", "pairs_", type=STATE_PAIR, multiple=True,
              help="old_state=new_state for a state renamed or removed (repeatable).")
@click.option("--case", "case_key", help="Move only this case.")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--allow-terminal", is_flag=True,
              help="Let the move close cases whose state maps to a terminal one.")
@click.option("--revert", "revert_key", metavar="KEY",
              help="Put case KEY back on the version it was moved from.")
@pass_env
def migrate(env: Env, name: str | None, to_version: int | None,
            pairs_: tuple[tuple[str, str], ...], case_key: str | None, dry_run: bool,
            allow_terminal: bool, revert_key: str | None) -> None:
    """Move the open cases of NAME to version --to (or one case back with --revert).

    Per case: the state it maps to (same name, or --map), fields the new
    version wants that the case lacks, and every follow-up kept, re-planned
    (old and new dates), cancelled or new. Each case moves in its own
    transaction and is recorded in its history; one that fails stays where it
    was and the report says why (exit 1). See docs/workflows.md.

    \b
    Example:
      torchflow workflow migrate project_introduction --to 2 --dry-run
      torchflow workflow migrate project_introduction --to 2 --map negotiation=talks
      torchflow workflow migrate --revert PI-2026-0001
    """
    from torchflow.service.workflows import version_moves as vm

    if revert_key:
        if name or to_version or pairs_ or case_key or dry_run or allow_terminal:
            raise click.UsageError("--revert KEY takes no NAME or other options; "
                                   "e.g. torchflow workflow migrate --revert PI-2026-0001")
        outcome = vm.revert(env.app, env.require("workflow.migrate"), revert_key)
        env.emit(vm.outcome_view(outcome), render_outcomes)
        return
    if not name or to_version is None:
        raise click.UsageError("give NAME and --to VERSION, e.g. "
                               "torchflow workflow migrate project_introduction --to 2 --dry-run")
    mapping = dict(pairs_)
    if len(mapping) != len(pairs_):
        raise click.UsageError("--map names a state twice; map each old state once")
    actor = None if dry_run else env.require("workflow.migrate")
    plan = vm.plan(env.app, name, to_version, mapping=mapping, case_key=case_key,
                   allow_terminal=allow_terminal, store=not dry_run)
    if dry_run:
        env.emit(vm.plan_view(plan), render_plan)
        return
    assert actor is not None
    outcomes = [vm.outcome_view(o) for o in vm.apply(env.app, actor, plan)]
    env.emit({"workflow": name, "to_version": to_version, "cases": outcomes}, render_outcomes)
    failed = [o for o in outcomes if not o["migrated"]]
    if failed:
        click.echo(f"Error: {len(failed)} of {len(outcomes)} cases left on their version "
                   f"(see above); fix and run again", err=True)
        raise SystemExit(1)


_ACTION = {"kept": "kept", "re-planned": "re-planned", "cancelled": "cancelled", "new": "new"}


def render_plan(v: dict[str, Any]) -> str:
    lines = []
    for c in v["cases"]:
        closes = " (closes the case)" if c["closes"] else ""
        lines.append(f"{c['key']}  v{c['from_version']} {c['from']} -> "
                     f"v{v['to_version']} {c['to']}{closes}")
        if c["missing_fields"]:
            lines.append("  required to open, missing: " + ", ".join(c["missing_fields"]))
        lines.extend(f"  needed before {trigger}: {', '.join(names)}"
                     for trigger, names in c["needed_before"].items())
        lines.extend(f"  not valid in v{v['to_version']}: {why}"
                     for why in c["invalid_fields"].values())
        lines.extend("  " + _task_line(t) for t in c["tasks"])
    t = v["totals"]
    lines.append(f"{t['cases']} open case(s) to version {v['to_version']}"
                 + (f", {t['closing']} closing" if t["closing"] else "")
                 + f"; follow-ups: {t['kept']} kept, {t['re-planned']} re-planned, "
                 f"{t['cancelled']} cancelled, {t['new']} new (dry run: nothing changed)")
    return "\n".join(lines)


def _task_line(t: dict[str, Any]) -> str:
    rule = t["rule"] if t["was_rule"] in (None, t["rule"]) else f"{t['was_rule']} -> {t['rule']}"
    if t["action"] == "re-planned":
        when = f"{t['old_due']} -> {t['new_due']}"
    else:
        when = t["new_due"] or t["old_due"]
    task = f"#{t['task']}" if t["task"] else "new"
    return f"{_ACTION[t['action']]:<10}  {task:<6}  {rule}  {when}"


def render_outcomes(v: dict[str, Any]) -> str:
    rows = v.get("cases", [v])
    lines = []
    for o in rows:
        if o["migrated"]:
            lines.append(f"{o['key']}  moved v{o['from_version']} {o['from']} -> "
                         f"v{o['to_version']} {o['to']} (event {o['event']})")
        else:
            lines.append(f"{o['key']}  left on v{o['from_version']}: {o['reason']}")
    return "\n".join(lines) if lines else "no open cases to move"
