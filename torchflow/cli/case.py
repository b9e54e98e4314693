"""`torchflow case ...`: open, advance and follow cooperation matters."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import click

from torchflow.cli.context import Env, pairs, pass_env, table
from torchflow.cli.params import ASSIGNMENT, ID, LIMIT, OFFSET, WHEN, assignments

AT_HELP = "When it happened (a date means noon; a time without offset is local; default now)."
FIELD = click.option("--field", "fields", multiple=True, metavar="NAME=VALUE", type=ASSIGNMENT,
                     callback=assignments, help="Set a custom field (repeatable).")
CASE_COLUMNS = [("KEY", "key"), ("WORKFLOW", "workflow"), ("STATE", "state"),
                ("OWNER", "owner"), ("TITLE", "title")]


@click.group()
def case() -> None:
    """Open, advance and follow cases.

    \b
    Example:
      torchflow case list --open
      torchflow --as wang.li case advance PI-2026-0001 make_contact
    """


@case.command("open")
@click.argument("workflow")
@click.option("--title", required=True, help="A short title of the matter.")
@click.option("--owner", metavar="HANDLE", help="Who follows the case (default: you).")
@FIELD
@pass_env
def open_(env: Env, workflow: str, title: str, owner: str | None, fields: dict[str, str]) -> None:
    """Open a case in WORKFLOW and print its key.

    \b
    Example:
      torchflow case open project_introduction --title "Hydrogen fuel cells" \\
          --field enterprise="Qingneng Co." --field industry="new energy" \\
          --field lead_source="torch center" --field planned_investment=120000
    """
    from torchflow.service.cases import change as cases

    result = cases.open_case(env.app, env.actor(), workflow, title=title, owner=owner,
                             fields=fields)
    env.emit(result, lambda r: r["key"])


@case.command("list")
@click.option("--workflow", help="Only this workflow.")
@click.option("--state", help="Only cases in this state.")
@click.option("--owner", metavar="HANDLE", help="Only cases this person owns.")
@click.option("--mine", is_flag=True, help="Only the cases you own (the acting person).")
@click.option("--open/--closed", "is_open", default=None, help="Only open (or closed) cases.")
@click.option("--limit", type=LIMIT, default=500, show_default=True)
@click.option("--offset", type=OFFSET, default=0, help="Skip this many cases first.")
@pass_env
def list_(env: Env, workflow: str | None, state: str | None, owner: str | None, mine: bool,
          is_open: bool | None, limit: int, offset: int) -> None:
    """List cases, oldest first.

    \b
    Example:
      torchflow case list --workflow project_introduction --open
      torchflow case list --mine --open
    """
    from torchflow.service.cases import read as cases

    if mine and owner:
        raise click.UsageError("--mine and --owner exclude each other; use one")
    if mine:
        owner = env.actor().handle
    page = cases.list_cases(env.app, workflow=workflow, state=state, owner=owner,
                            is_open=is_open, limit=limit, offset=offset)
    env.emit_page(page, CASE_COLUMNS)


@case.command("show")
@click.argument("key")
@pass_env
def show(env: Env, key: str) -> None:
    """State, fields, owner, what may happen next, open follow-ups, recent history.

    \b
    Example:
      torchflow case show PI-2026-0001
    """
    from torchflow.service.cases import read as cases

    reader = env.reader()
    view = cases.show_case(env.app, key, reader.roles if reader else None)
    env.emit(view, render_case)


def render_case(v: dict[str, Any]) -> str:
    head = pairs(v, [("Case", "key"), ("Title", "title"), ("Workflow", "workflow"),
                     ("State", "state_title"), ("Owner", "owner"), ("Opened", "opened_at"),
                     ("In state since", "state_entered_at"), ("Version", "case_version")])
    parts = [f"{head}"]
    if v["fields"]:
        parts.append("Fields:\n" + "\n".join(f"  {k}: {val}" for k, val in v["fields"].items()))
    if v["allowed"]:
        lines = []
        for a in v["allowed"]:
            blocked = f"  (blocked: {'; '.join(a['blocked'])})" if a["blocked"] else ""
            lines.append(f"  {a['trigger']} -> {a['to']}{blocked}")
        parts.append("Next:\n" + "\n".join(lines))
    else:
        parts.append("Next: none (terminal state)")
    if v["tasks"]:
        rows = table(v["tasks"], [("ID", "id"), ("KIND", "kind"), ("DUE", "due_on"),
                                  ("RULE", "rule")])
        parts.append("Follow-ups:\n" + "\n".join("  " + line for line in rows.splitlines()))
    parts.append("Recent history:\n" + "\n".join(describe_event(e) for e in v["history"]))
    return "\n\n".join(parts)


def describe_event(e: dict[str, Any]) -> str:
    data = e["data"] or {}
    what = {
        "opened": lambda: f"opened in {e['to']}",
        "advanced": lambda: f"{data.get('trigger')}: {e['from']} -> {e['to']}",
        "note": lambda: f"note: {data.get('note')}",
        "contact": lambda: _logged(e, data),
        "visit": lambda: _logged(e, data),
        "fields_set": lambda: "set " + ", ".join(f"{k}={v}" for k, v in data["fields"].items()),
        "assigned": lambda: f"assigned to {data.get('owner')}",
    }.get(e["kind"], lambda: e["kind"] + (f": {data.get('note')}" if data.get("note") else ""))()
    if e["kind"] == "advanced" and data.get("note"):
        what += f" ({data['note']})"
    who = e["actor"] + (f", entered by {e['entered_by']}" if e.get("entered_by") else "")
    return f"  #{e['seq']:<3} {e['at'][:16].replace('T', ' ')}  {who:<12} {what}"


def _logged(e: dict[str, Any], data: dict[str, Any]) -> str:
    """A contact or visit says when it happened, which may be before it was logged."""
    at = str(data.get("at") or e["at"])[:16].replace("T", " ")
    return f"{e['kind']} at {at}" + (f": {data['note']}" if data.get("note") else "")


@case.command("advance")
@click.argument("key")
@click.argument("trigger")
@click.option("--note", help="Why, in a sentence; kept in the history.")
@FIELD
@click.option("--if-version", "expected", type=ID, metavar="N",
              help="Refuse if the case changed since you saw version N.")
@pass_env
def advance(env: Env, key: str, trigger: str, note: str | None, fields: dict[str, str],
            expected: int | None) -> None:
    """Fire TRIGGER on case KEY (e.g. sign, register, resume).

    \b
    Example:
      torchflow case advance PI-2026-0001 sign --field planned_investment=50000 \\
          --note "Signed at the zone's investment fair"
    """
    from torchflow.service.cases import change as cases

    result = cases.advance(env.app, env.actor(), key, trigger, note=note,
                           fields=fields, expected_version=expected)
    env.emit(result.__dict__, lambda r: f"{r['key']}: {r['from_state']} -> {r['to_state']}"
             + (" (closed)" if r["closed"] else ""))


@case.command("note")
@click.argument("key")
@click.argument("text")
@pass_env
def note(env: Env, key: str, text: str) -> None:
    """Add a note to the history of KEY.

    \b
    Example:
      torchflow case note PI-2026-0001 "CFO confirms the land budget"
    """
    from torchflow.service.cases import change as cases

    result = cases.add_note(env.app, env.actor(), key, text)
    env.emit(result, lambda r: f"{r['key']}: note #{r['event']} added")


@case.command("set")
@click.argument("key")
@click.argument("pairs", nargs=-1, required=True, metavar="NAME=VALUE...", type=ASSIGNMENT,
                callback=assignments)
@pass_env
def set_(env: Env, key: str, pairs: dict[str, str]) -> None:
    """Set custom fields of KEY (an empty value clears a field).

    \b
    Example:
      torchflow case set PI-2026-0001 planned_investment=80000 expected_jobs=300
    """
    from torchflow.service.cases import change as cases

    result = cases.set_fields(env.app, env.actor(), key, pairs)
    env.emit(result, lambda r: f"{r['key']}: " + ", ".join(f"{k}={v}" for k, v in
                                                        r["fields"].items()))


@case.command("assign")
@click.argument("key")
@click.argument("handle")
@pass_env
def assign(env: Env, key: str, handle: str) -> None:
    """Make HANDLE the owner of KEY; its open follow-ups move too.

    \b
    Example:
      torchflow case assign PI-2026-0001 zhao.min
    """
    from torchflow.service.cases import change as cases

    result = cases.assign(env.app, env.actor(), key, handle)
    env.emit(result, lambda r: f"{r['key']}: owner {r['was']} -> {r['owner']}")


@case.command("history")
@click.argument("key")
@pass_env
def history(env: Env, key: str) -> None:
    """The whole history of KEY, oldest first.

    \b
    Example:
      torchflow case history PI-2026-0001
    """
    from torchflow.service.cases import read as cases

    result = cases.history(env.app, key)
    env.emit(result, lambda r: f"{r['key']}\n" + "\n".join(describe_event(e) for e in r["events"]))


@case.command("contact")
@click.argument("key")
@click.option("--note", help="What was discussed.")
@click.option("--at", "at", metavar="WHEN", type=WHEN, help=AT_HELP)
@pass_env
def contact(env: Env, key: str, note: str | None, at: date | datetime | None) -> None:
    """Log a routine contact with the enterprise or partner of KEY.

    \b
    Example:
      torchflow case contact PI-2026-0001 --note "Called the CFO about the land lease"
    """
    _log(env, key, "contact", note, at)


@case.command("visit")
@click.argument("key")
@click.option("--note", help="What was seen.")
@click.option("--at", "at", metavar="WHEN", type=WHEN, help=AT_HELP)
@pass_env
def visit(env: Env, key: str, note: str | None, at: date | datetime | None) -> None:
    """Log a visit to the enterprise or site of KEY.

    \b
    Example:
      torchflow case visit PI-2026-0001 --note "Workshop floor ready" --at 2026-03-04
    """
    _log(env, key, "visit", note, at)


def _log(env: Env, key: str, kind: str, note: str | None, at: date | datetime | None) -> None:
    from torchflow.service.followups import work as tasks

    result = tasks.log_followup(env.app, env.actor(), key, kind, note=note,
                                at=None if at is None else instant(env, at))
    nxt = result.get("next")
    env.emit(result, lambda r: f"{r['key']}: {kind} logged"
             + (f"; next {kind} due {nxt['due_on']}" if nxt else ""))


def instant(env: Env, when: date | datetime) -> datetime:
    """A parsed --at in the configured zone: a day means noon there, a time
    without an offset is local."""
    cal = env.app.calendar
    if not isinstance(when, datetime):
        return cal.at(when, time(12, 0))
    return when if when.tzinfo else cal.at(when.date(), when.time())
