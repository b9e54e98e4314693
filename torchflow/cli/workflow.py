"""`torchflow workflow ...`: the workflow definitions under workflows/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, code, pad, pairs, pass_env, table, usage_error
from torchflow.cli.params import STATE_PAIR, Choice, Whole
from torchflow.i18n import N_, Label, Listing, Role, Text, Translator, _, ngettext_


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
    names = env.names
    env.emit(env.call("workflow.list"), lambda r: table(
        [{**row, "title": names.workflow_label(row["name"]) or row["title"]} for row in r],
        [(N_("NAME"), "name"), (N_("VERSION"), "version"), (N_("STORED"), "stored_versions"),
         (N_("OPEN"), "open_cases"), (N_("TITLE"), "title")], env.tr))


@workflow.command("show")
@click.argument("name")
@click.option("--version", "version", type=Whole(1), help="A stored older version.")
@pass_env
def show(env: Env, name: str, version: int | None) -> None:
    """States, transitions, fields and follow-up rules of NAME.

    \b
    Example:
      torchflow workflow show project_introduction
      torchflow workflow show project_introduction --version 1
    """
    env.emit(env.call("workflow.show", name=name, version=version),
             lambda v: render_spec(v, env.tr))


def render_spec(v: dict[str, Any], tr: Translator) -> str:
    initial = next((s for s in v["states"] if s["name"] == v["initial"]), None)
    head = pairs({**v, "title": _named(v),
                  "initial": Label(initial["title"] or v["initial"], v["initial"])
                  if initial is not None else v["initial"]}, [
        (N_("Workflow"), "name"), (N_("Title"), "title"), (N_("Version"), "version"),
        (N_("Key prefix"), "key_prefix"), (N_("Starts in"), "initial")], tr)
    fields = table([{**f, "type": code(f["type"]), "title": _named(f),
                     "required": _("from {state}", state=f["required_from"])
                     if f.get("required_from") else f["required"]} for f in v["fields"]],
                   [(N_("FIELD"), "name"), (N_("TYPE"), "type"), (N_("REQUIRED"), "required"),
                    (N_("TITLE"), "title")], tr)
    states = []
    for s in v["states"]:
        label = tr(Label(s["title"], s.get("title_en") or s["title"]))
        line = (_("{state} (terminal): {title}", state=s["name"], title=label) if s["terminal"]
                else _("{state}: {title}", state=s["name"], title=label))
        states.append("  " + tr(line))
        states.extend("      - " + tr(describe_rule(r)) for r in s["follow_ups"])
    moves = table(
        [{**t, "from": ", ".join(t["from"]), "roles": [tr(Role(r)) for r in t["roles"]]}
         for t in v["transitions"]],
        [(N_("TRIGGER"), "trigger"), (N_("FROM"), "from"), (N_("TO"), "to"),
         (N_("REQUIRES"), "requires"), (N_("ROLES"), "roles")], tr)
    return "\n\n".join([head, fields, tr(_("States:")) + "\n" + "\n".join(states), moves])


def _named(view: dict[str, Any]) -> Label:
    """A workflow's or a field's title in the reader's language (``spec_view``)."""
    title = view["title"] or view["name"]
    return Label(title, view.get("title_en") or title)


def describe_rule(view: dict[str, Any]) -> Text:
    """A follow-up rule in words (``workflows.rule_view``)."""
    ahead = view["remind_workdays"]
    if view["kind"] == "contact":
        every = view["every_workdays"]
        text = (_("daily contact") if every == 1
                else _("contact every {n} workdays", n=every))
        if "escalate_after" in view:
            text = _("{rule}, {n} missed in a row escalate to {role}", rule=text,
                     n=view["escalate_after"], role=Role(view["escalate_to"]))
    elif view["kind"] == "visit":
        low, high = view["gap_days"]
        text = _("visit at a random working day {low}-{high} days after the last", low=low,
                 high=high)
    elif view["kind"] == "duty":
        text = _describe_duty(view)
    elif view["kind"] == "each":
        text = _("{part}: each of {people} within {n} workdays, overdue: tell {lead}",
                 part=Label(view["title"], view.get("title_en") or view["title"]),
                 people=view["people"], n=view["within_workdays"],
                 lead=view["report_to"] or Role(view["escalate_to"] or ""))
    elif "after" in view:
        text = _("deadline {span} after {field}, escalate to {role}", span=_span(view["after"]),
                 field=_field(view), role=Role(view["escalate_to"]))
    else:
        text = _("deadline within {n} workdays, escalate to {role}",
                 n=view["within_workdays"], role=Role(view["escalate_to"]))
        if "within_by" in view:
            text = _("{rule} ({budgets} by {field})", rule=text, field=view["by"],
                     budgets=Listing(f"{value} {n}" for value, n in view["within_by"].items()))
    if ahead:
        text = _("{rule}, reminder {n} workday(s) ahead", rule=text, n=ahead)
    if "ladder" in view:
        text = _("{rule}; missed: {steps}", rule=text, steps=_ladder(view["ladder"]))
    return text


def _ladder(steps: list[dict[str, Any]]) -> Listing:
    """A deadline's escalation ladder in words: 催办 D+1 to 招商专员, ..."""
    return Listing(_("{step} D+{n} to {role}", step=Label(s["title"], s["title_en"] or s["title"]),
                     n=s["after_workdays"], role=Role(s["to"])) for s in steps)


def _describe_duty(view: dict[str, Any]) -> Text:
    title = Label(view["title"], view.get("title_en") or view["title"])
    if "every_year_on" in view:
        month, day = (int(p) for p in view["every_year_on"].split("-"))
        text = _("{duty}: each year by {month}/{day}", duty=title, month=month, day=day)
    else:
        text = _("{duty}: {span} after {field}", duty=title, span=_span(view["after"]),
                 field=_field(view))
    n = view["escalate_after"]
    if n > 1:
        return _("{rule}; {n} missed in a row: escalate to {role}", rule=text, n=n,
                 role=Role(view["escalate_to"]))
    return _("{rule}, missed: escalate to {role}", rule=text, role=Role(view["escalate_to"]))


def _field(view: dict[str, Any]) -> Label | str:
    """The date field a rule counts from, by its titles when the view has them."""
    titles = view.get("from_title")
    return Label(*titles) if titles else str(view.get("from", ""))


def _span(after: dict[str, int]) -> Text:
    if after["years"]:
        return _("{n} year(s)", n=after["years"])
    if after["months"]:
        return _("{n} month(s)", n=after["months"])
    return _("{n} day(s)", n=after["days"])


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
    found = env.call("workflow.validate", files=_definitions(env, files))
    if env.as_json:
        env.emit(found, "")
    else:
        tr = env.tr
        for problem in found["problems"]:
            click.echo(tr(_("error: {problem}", problem=problem)), err=True)
        for warning in found["warnings"]:
            click.echo(tr(_("warning: {warning}", warning=warning)), err=True)
        click.echo(tr(Listing([
            ngettext_("{n} workflow", "{n} workflows", found["files"]),
            ngettext_("{n} error", "{n} errors", len(found["problems"])),
            ngettext_("{n} warning", "{n} warnings", len(found["warnings"]))])))
    if found["problems"]:
        raise SystemExit(1)


def _definitions(env: Env, files: tuple[Path, ...]) -> list[Path] | None:
    """The files to check. In client mode a folder given is sent as its *.toml
    files (the server reads none of the client's folders)."""
    if not files:
        return None
    if env.client is None:
        return list(files)
    return [f for path in files
            for f in (sorted(path.glob("*.toml")) if path.is_dir() else [path])]


@workflow.command("diagram")
@click.argument("name")
@click.option("--format", "fmt", type=Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@click.option("--version", "version", type=Whole(1), help="A stored older version.")
@pass_env
def diagram(env: Env, name: str, fmt: str, version: int | None) -> None:
    """Draw the state machine of NAME as Mermaid or Graphviz DOT text.

    \b
    Example:
      torchflow workflow diagram project_introduction --format mermaid > pi.mmd
    """
    result = env.call("workflow.diagram", name=name, fmt=fmt, version=version)
    env.emit(result, result["diagram"])


@workflow.command("migrate")
@click.argument("name", required=False)
@click.option("--to", "to_version", type=Whole(1),
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
    tr = env.tr
    if revert_key:
        if name or to_version or pairs_ or case_key or dry_run or allow_terminal:
            raise usage_error(_("--revert KEY takes no NAME or other options; e.g. torchflow "
                                "workflow migrate --revert PI-2026-0001"))
        env.emit(env.call("case.revert", key=revert_key), lambda v: render_outcomes(v, tr))
        return
    if not name or to_version is None:
        raise usage_error(_("give NAME and --to VERSION, e.g. torchflow workflow migrate "
                            "project_introduction --to 2 --dry-run"))
    mapping = dict(pairs_)
    if len(mapping) != len(pairs_):
        raise usage_error(_("--map names a state twice; map each old state once"))
    result = env.call("workflow.migrate", name=name, to_version=to_version, mapping=mapping,
                      case_key=case_key, dry_run=dry_run or None,
                      allow_terminal=allow_terminal or None)
    if dry_run:
        env.emit(result, lambda v: render_plan(v, tr))
        return
    env.emit(result, lambda v: render_outcomes(v, tr))
    outcomes = result["cases"]
    failed = [o for o in outcomes if not o["migrated"]]
    if failed:
        click.echo(tr(_("Error: {message}", message=_(
            "{failed} of {total} cases left on their version (see above); fix and run again",
            failed=len(failed), total=len(outcomes)))), err=True)
        raise SystemExit(1)


_ACTION = {"kept": N_("kept"), "re-planned": N_("re-planned"), "cancelled": N_("cancelled"),
           "new": N_("new")}


def render_plan(v: dict[str, Any], tr: Translator) -> str:
    lines = []
    to = v["to_version"]
    for c in v["cases"]:
        move = _("{key}  v{old} {from_state} -> v{new} {to_state}", key=c["key"],
                 old=c["from_version"], from_state=c["from"], new=to, to_state=c["to"])
        lines.append(tr(_("{move} (closes the case)", move=move) if c["closes"] else move))
        if c["missing_fields"]:
            lines.append("  " + tr(_("required to open, missing: {fields}",
                                     fields=Listing(c["missing_fields"]))))
        lines.extend("  " + tr(_("needed before {trigger}: {fields}", trigger=trigger,
                                 fields=Listing(names)))
                     for trigger, names in c["needed_before"].items())
        lines.extend("  " + tr(_("not valid in v{version}: {why}", version=to, why=why))
                     for why in c["invalid_fields"].values())
        lines.extend("  " + _task_line(t, tr) for t in c["tasks"])
    t = v["totals"]
    head = _("{n} open case(s) to version {version}", n=t["cases"], version=to)
    if t["closing"]:
        head = _("{cases}, {n} closing", cases=head, n=t["closing"])
    lines.append(tr(_("{cases}; follow-ups: {kept} kept, {replanned} re-planned, {cancelled} "
                      "cancelled, {new} new (dry run: nothing changed)", cases=head,
                      kept=t["kept"], replanned=t["re-planned"], cancelled=t["cancelled"],
                      new=t["new"])))
    return "\n".join(lines)


def _task_line(t: dict[str, Any], tr: Translator) -> str:
    rule = t["rule"] if t["was_rule"] in (None, t["rule"]) else f"{t['was_rule']} -> {t['rule']}"
    if t["action"] == "re-planned":
        when = f"{t['old_due']} -> {t['new_due']}"
    else:
        when = t["new_due"] or t["old_due"]
    task = f"#{t['task']}" if t["task"] else tr.gettext(_ACTION["new"])
    action = tr.gettext(_ACTION[t["action"]])
    return f"{pad(action, 10)}  {pad(task, 6)}  {rule}  {when}"


def render_outcomes(v: dict[str, Any], tr: Translator) -> str:
    rows = v.get("cases", [v])
    lines = []
    for o in rows:
        if o["migrated"]:
            lines.append(tr(_("{key}  moved v{old} {from_state} -> v{new} {to_state} (event "
                              "{event})", key=o["key"], old=o["from_version"],
                              from_state=o["from"], new=o["to_version"], to_state=o["to"],
                              event=o["event"])))
        else:
            lines.append(tr(_("{key}  left on v{old}: {reason}", key=o["key"],
                              old=o["from_version"], reason=o["reason"])))
    return "\n".join(lines) if lines else tr(_("no open cases to move"))
