"""`torchflow import ...` and `torchflow export ...`: spreadsheets in and out."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, pass_env
from torchflow.cli.params import Choice
from torchflow.i18n import N_, Listing, Text, _

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
    result = env.call("import.template", workflow=workflow, out=out)
    env.emit(result, lambda r: _("wrote {file}: {n} columns for {workflow}; fill one row per "
                                 "matter under the hint row", file=r["file"],
                                 n=len(r["columns"]), workflow=env.names.workflow(r["workflow"])))


@import_.command("cases")
@click.argument("workflow")
@click.argument("file", type=FILE)
@click.option("--sheet", metavar="NAME", help="The sheet of an .xlsx to read (default: the first).")
@click.option("--dry-run", is_flag=True,
              help="Check every row and say what would be created or updated; write nothing.")
@click.option("--skip-bad", "skip_bad", type=FILE, metavar="FILE",
              help="Import the good rows and write the bad ones, with what is wrong, to FILE.")
@click.option("--header-row", "header_row", type=click.IntRange(1, 1000), metavar="N",
              help="The row holding the column titles (default: found under any title rows).")
@click.option("--ignore-column", "ignore_columns", multiple=True, metavar="NAME",
              help="Skip the column titled NAME (repeatable).")
@click.option("--ignore-unknown", is_flag=True,
              help="Skip every column the workflow does not know.")
@pass_env
def cases(env: Env, workflow: str, file: Path, sheet: str | None, dry_run: bool,
          skip_bad: Path | None, header_row: int | None, ignore_columns: tuple[str, ...],
          ignore_unknown: bool) -> None:
    """Import FILE's rows as cases of WORKFLOW, each in its state.

    A row whose external reference was imported before updates its case (one
    history event per changed row) or is left alone; nothing is doubled. Every bad
    row is reported with its row, column and what would be right, and nothing is
    imported while one is bad, unless --skip-bad.

    \b
    Example:
      torchflow --as wang.li import cases project_introduction matters.csv --dry-run
    """
    with _progress(env.tr(_("importing"))) as progress:  # in this process only
        result = env.call("import.cases", workflow=workflow, file=file, sheet=sheet,
                          dry_run=dry_run or None, skip_bad=skip_bad, header_row=header_row,
                          ignore_columns=list(ignore_columns) or None,
                          ignore_unknown=ignore_unknown or None,
                          in_process={"progress": progress})
    env.emit(result, lambda r: render_import(r, env.names))


MOVES_SHOWN = 20


def render_import(r: dict[str, Any], names: Any = None) -> Text:
    counts = {"file": r["file"], "created": r["created"], "updated": r["updated"],
              "unchanged": r["unchanged"]}
    text = (_("{file}: {created} would be created, {updated} would be updated, {unchanged} "
              "unchanged", **counts) if r["dry_run"] else
            _("{file}: {created} created, {updated} updated, {unchanged} unchanged", **counts))
    if r["bad"]:
        text = (_("{text}; {n} bad row(s) skipped, written to {file}", text=text, n=r["bad"],
                  file=r["bad_file"]) if r["bad_file"] else
                _("{text}; {n} bad row(s) skipped", text=text, n=r["bad"]))
    if r["dry_run"]:
        text = _("{text} (dry run: nothing written)", text=text)
    lines: list[Text] = []
    if r.get("header_row", 1) > 1:
        lines.append(_("the column titles are on row {row}; the rows above were read past",
                       row=r["header_row"]))
    if r.get("skipped_columns"):
        lines.append(_("columns skipped: {columns}", columns=Listing(r["skipped_columns"])))
    if r.get("totals_rows"):
        lines.append(_("totals row(s) {rows} read past (合计)", rows=Listing(r["totals_rows"])))
    w = r["workflow"]
    for move in r.get("moves", [])[:MOVES_SHOWN]:
        state = (lambda s: names.state(w, s)) if names else (lambda s: s)
        trigger = (lambda t: names.trigger(w, t)) if names else (lambda t: t)
        lines.append(_("{ref} ({key}): {from_state} -> {to_state} by {steps}", ref=move["ref"],
                       key=move["key"], from_state=state(move["from"]),
                       to_state=state(move["to"]),
                       steps=Listing(trigger(t) for t in move["steps"])))
    if len(r.get("moves", [])) > MOVES_SHOWN:
        lines.append(_("... and {n} more stage changes", n=len(r["moves"]) - MOVES_SHOWN))
    for line in lines:
        text = _("{text}\n{line}", text=text, line=line)
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
@click.option("--ignore-column", "ignore_columns", multiple=True, metavar="NAME",
              help="Skip the column titled NAME (repeatable).")
@click.option("--ignore-unknown", is_flag=True, help="Skip every column a staff list lacks.")
@pass_env
def people_(env: Env, file: Path, dry_run: bool, ignore_columns: tuple[str, ...],
            ignore_unknown: bool) -> None:
    """Import the office's staff list (handle, name, e-mail, roles, logins) from FILE.

    Columns as offices head them (账号, 姓名, 邮箱, 角色 in Chinese role names,
    登录名); a handle already known updates that person's name, e-mail and roles
    and adds its logins. A column people have no place for (科室) is named.

    \b
    Example:
      torchflow import people staff.csv
    """
    result = env.call("import.people", file=file, dry_run=dry_run or None,
                      ignore_columns=list(ignore_columns) or None,
                      ignore_unknown=ignore_unknown or None)
    env.emit(result, lambda r: _people_line(r))


@click.group("export")
def export() -> None:
    """Write cases, tasks, history or notices to a spreadsheet (.xlsx or .csv).

    \b
    Example:
      torchflow export cases matters.xlsx --open
      torchflow export tasks work.csv --assignee wang.li
    """


def _people_line(r: dict[str, Any]) -> Text:
    text = _("{file}: {added} added, {updated} updated, {unchanged} unchanged", file=r["file"],
             added=r["added"], updated=r["updated"], unchanged=r["unchanged"])
    if r["dry_run"]:
        text = _("{text} (dry run: nothing written)", text=text)
    if r.get("unused_columns"):
        text = _("{text}\n{line}", text=text, line=_(
            "columns not kept (people have no such field): {columns}",
            columns=Listing(r["unused_columns"])))
    if r.get("skipped_columns"):
        text = _("{text}\n{line}", text=text, line=_(
            "columns skipped: {columns}", columns=Listing(r["skipped_columns"])))
    return text


_EXPORTED = {"cases": N_("cases"), "tasks": N_("tasks"), "history": N_("history"),
             "notices": N_("notices")}


def _exported(r: dict[str, Any]) -> Text:
    what = Text(r["what"])
    if r.get("sheets"):
        return _("wrote {n} {what} to {file} in {sheets} sheet(s)", n=r["rows"], what=what,
                 file=r["file"], sheets=len(r["sheets"]))
    return _("wrote {n} {what} to {file}", n=r["rows"], what=what, file=r["file"])


@export.command("cases")
@click.argument("out", type=FILE)
@click.option("--workflow", help="Only this workflow (needed for a .csv of several).")
@click.option("--state", help="Only cases in this state.")
@click.option("--owner", metavar="HANDLE", help="Only cases this person owns.")
@click.option("--open/--closed", "is_open", default=None, help="Only open (or closed) cases.")
@pass_env
def export_cases(env: Env, out: Path, workflow: str | None, state: str | None,
                 owner: str | None, is_open: bool | None) -> None:
    """Cases to OUT, one sheet per workflow; it imports again as it is.

    \b
    Example:
      torchflow export cases matters.xlsx --workflow project_introduction
    """
    env.emit(env.call("export.cases", out=out, workflow=workflow, state=state, owner=owner,
                      is_open=is_open), _exported)


@export.command("tasks")
@click.argument("out", type=FILE)
@click.option("--assignee", metavar="HANDLE", help="Only HANDLE's tasks.")
@click.option("--kind", type=Choice(["contact", "visit", "deadline", "duty"]))
@click.option("--status", type=Choice(["open", "done", "cancelled", "missed"]))
@click.option("--workflow", help="Only this workflow's cases.")
@pass_env
def export_tasks(env: Env, out: Path, assignee: str | None, kind: str | None,
                 status: str | None, workflow: str | None) -> None:
    """Follow-up tasks, open and closed, to OUT.

    \b
    Example:
      torchflow export tasks work.xlsx --status open --assignee wang.li
    """
    env.emit(env.call("export.tasks", out=out, assignee=assignee, kind=kind, status=status,
                      workflow=workflow), _exported)


@export.command("history")
@click.argument("out", type=FILE)
@click.option("--case", "case_key", metavar="KEY", help="Only this case.")
@click.option("--workflow", help="Only this workflow's cases.")
@pass_env
def export_history(env: Env, out: Path, case_key: str | None, workflow: str | None) -> None:
    """Every history event, in the order written, to OUT.

    \b
    Example:
      torchflow export history history.xlsx --case PI-2026-0001
    """
    env.emit(env.call("export.history", out=out, case=case_key, workflow=workflow), _exported)


@export.command("notices")
@click.argument("out", type=FILE)
@click.option("--status", type=Choice(["pending", "sent", "dead", "cancelled"]))
@click.option("--to", "recipient", metavar="HANDLE", help="Only notices to HANDLE.")
@pass_env
def export_notices(env: Env, out: Path, status: str | None, recipient: str | None) -> None:
    """The notice ledger to OUT.

    \b
    Example:
      torchflow export notices dead.csv --status dead
    """
    env.emit(env.call("export.notices", out=out, status=status, recipient=recipient),
             _exported)


@click.command("feed-token")
@click.argument("handle")
@click.option("--new", "rotate", is_flag=True,
              help="Rotate the secret: the old feed file name stops working.")
@pass_env
def feed_token(env: Env, handle: str, rotate: bool) -> None:
    """Show (or with --new rotate) the secret in HANDLE's calendar feed file name.

    The scheduler writes each person's follow-ups to [feeds] ics_dir as
    HANDLE-TOKEN.ics; whoever knows the name can read the feed.

    \b
    Example:
      torchflow person feed-token wang.li --new
    """
    result = env.call("person.feed_token_rotate" if rotate else "person.feed_token",
                      handle=handle)
    env.emit(result, lambda r: f"{r['handle']}: feed file {r['file']}" if r["file"]
             else f"{r['handle']} has no feed token yet; give one with --new")
