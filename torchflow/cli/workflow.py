"""`torchflow workflow ...`: the workflow definitions under workflows/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, pairs, pass_env, table


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
    from torchflow.service import workflows

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
    from torchflow.service import workflows

    view = workflows.spec_view(workflows.get_spec(env.app, name, version))
    env.emit(view, render_spec)


def render_spec(v: dict[str, Any]) -> str:
    from torchflow.service.workflows import describe_rule

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
    from torchflow.service import workflows

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
    from torchflow.service import workflows

    text = workflows.diagram(workflows.get_spec(env.app, name, version), fmt)
    env.emit({"name": name, "format": fmt, "diagram": text}, text)
