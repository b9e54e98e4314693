"""`torchflow import ...` and `torchflow export ...`: spreadsheets in and out."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, pass_env

FILE = click.Path(dir_okay=False, path_type=Path)


@click.group("import")
def import_() -> None:
    """Move an office's spreadsheet in: a template, then its rows as cases.

    \b
    Example:
      torchflow import template project_introduction matters.xlsx
      torchflow --as wang.li import cases project_introduction matters.xlsx --dry-run
      torchflow --as wang.li import cases project_introduction matters.xlsx
    """


@import_.command("template")
@click.argument("workflow")
@click.argument("out", type=FILE)
@pass_env
def template(env: Env, workflow: str, out: Path) -> None:
    """Write WORKFLOW's import template to OUT (.xlsx or .csv).

    The header names every column (bilingual titles); the row under it says each
    column's type, whether it is required, its choices and the date format, and is
    skipped on import.

    \b
    Example:
      torchflow import template project_introduction matters.xlsx
    """
    from torchflow.service import imports

    result = imports.write_template(env.app, workflow, out)
    env.emit(result, lambda r: f"wrote {r['file']}: {len(r['columns'])} columns for "
                               f"{r['workflow']}; fill one row per matter under the hint row")


@import_.command("cases")
@click.argument("workflow")
@click.argument("file", type=FILE)
@click.option("--sheet", metavar="NAME", help="The sheet of an .xlsx to read (default: the first).")
@click.option("--dry-run", is_flag=True,
              help="Check every row and say what would be created or updated; write nothing.")
@click.option("--skip-bad", "skip_bad", type=FILE, metavar="FILE",
              help="Import the good rows and write the bad ones, with what is wrong, to FILE.")
@pass_env
def cases(env: Env, workflow: str, file: Path, sheet: str | None, dry_run: bool,
          skip_bad: Path | None) -> None:
    """Import FILE's rows as cases of WORKFLOW, each in its state.

    A row whose external reference was imported before updates its case (one
    history event per changed row) or is left alone; nothing is doubled. Every bad
    row is reported with its row, column and what would be right, and nothing is
    imported while one is bad, unless --skip-bad.

    \b
    Example:
      torchflow --as wang.li import cases project_introduction matters.csv --dry-run
    """
    from torchflow.service import imports

    actor = env.actor()
    with _progress("importing") as progress:
        result = imports.import_cases(env.app, actor, workflow, file, sheet=sheet,
                                      dry_run=dry_run, skip_bad=skip_bad, progress=progress)
    env.emit(result.view(), render_import)


def render_import(r: dict[str, Any]) -> str:
    would = "would be " if r["dry_run"] else ""
    text = (f"{r['file']}: {r['created']} {would}created, {r['updated']} {would}updated, "
            f"{r['unchanged']} unchanged")
    if r["bad"]:
        text += f"; {r['bad']} bad row(s) skipped"
        if r["bad_file"]:
            text += f", written to {r['bad_file']}"
    if r["dry_run"]:
        text += " (dry run: nothing written)"
    return text


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    bars: list[Any] = []

    def start(total: int) -> Callable[[int], None]:
        bar = click.progressbar(length=total, label=label, file=sys.stderr)
        bar.__enter__()
        bars.append(bar)
        return bar.update

    try:
        yield start
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)


@import_.command("people")
@click.argument("file", type=FILE)
@click.option("--dry-run", is_flag=True, help="Say who would be added or updated; write nothing.")
@pass_env
def people_(env: Env, file: Path, dry_run: bool) -> None:
    """Import the office's staff list (handle, name, e-mail, roles) from FILE.

    A handle already known updates that person's name, e-mail and roles.

    \b
    Example:
      torchflow import people staff.csv
    """
    from torchflow.service import imports

    result = imports.import_people(env.app, file, dry_run=dry_run)
    env.emit(result, lambda r: f"{r['file']}: {r['added']} added, {r['updated']} updated, "
                               f"{r['unchanged']} unchanged"
                               + (" (dry run: nothing written)" if r["dry_run"] else ""))
