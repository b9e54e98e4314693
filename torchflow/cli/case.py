"""`torchflow case ...`: open, advance and follow cooperation matters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click

from torchflow.cli.context import (
    Env,
    Names,
    code,
    due,
    pad,
    pairs,
    pass_env,
    table,
)
from torchflow.cli.params import ASSIGNMENT, ID, LIMIT, OFFSET, WHEN, assignments
from torchflow.i18n import N_, Listing, Text, Translator, _, people_time

AT_HELP = ("When it happened (a date alone is kept as a day, with no time of day; a time "
           "without offset is local; default now).")
FIELD = click.option("--field", "fields", multiple=True, metavar="NAME=VALUE", type=ASSIGNMENT,
                     callback=assignments, help="Set a custom field (repeatable).")
CASE_COLUMNS = [(N_("KEY"), "key"), (N_("WORKFLOW"), "workflow"), (N_("STATE"), "state"),
                (N_("OWNER"), "owner"), (N_("TITLE"), "title")]
# The office's own number (序号), shown when a case listed has one.
REF_COLUMN = (N_("REF"), "ref")


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
    result = env.call("case.open", workflow=workflow, title=title, owner=owner, fields=fields)
    env.emit(result, lambda r: r["key"])


@case.command("list")
@click.option("--workflow", help="Only this workflow.")
@click.option("--state", help="Only cases in this state.")
@click.option("--owner", metavar="HANDLE", help="Only cases this person owns.")
@click.option("--mine", is_flag=True, help="Only the cases you own (the acting person).")
@click.option("--open/--closed", "is_open", default=None, help="Only open (or closed) cases.")
@click.option("--limit", type=LIMIT, default=500, show_default=True)
@click.option("--offset", type=OFFSET, default=0, help="Skip this many cases first.")
@click.option("--search", metavar="TEXT",
              help="Only cases with TEXT in the key, title, reference (序号) or a text field.")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE", type=ASSIGNMENT,
              callback=assignments, help="Only cases whose field NAME is VALUE (repeatable).")
@pass_env
def list_(env: Env, workflow: str | None, state: str | None, owner: str | None, mine: bool,
          is_open: bool | None, limit: int, offset: int, search: str | None,
          fields: dict[str, str]) -> None:
    """List cases, oldest first.

    \b
    Example:
      torchflow case list --workflow project_introduction --open
      torchflow case list --mine --open
      torchflow case list --search 清能 --field 所属产业=新能源
    """
    page = env.call("case.list", workflow=workflow, state=state, owner=owner, mine=mine,
                    is_open=is_open, limit=limit, offset=offset, search=search,
                    field=[f"{k}={v}" for k, v in fields.items()] or None)
    names = env.names
    columns = CASE_COLUMNS
    if any(r.get("ref") for r in page["items"]):
        columns = [CASE_COLUMNS[0], REF_COLUMN, *CASE_COLUMNS[1:]]
    env.emit_page(page, columns, lambda r: {
        **r, "workflow": names.workflow(r["workflow"]),
        "state": names.state(r["workflow"], r["state"])})


@case.command("show")
@click.argument("key")
@pass_env
def show(env: Env, key: str) -> None:
    """State, fields, owner, what may happen next, open follow-ups, recent history.

    \b
    Example:
      torchflow case show PI-2026-0001
    """
    env.emit(env.call("case.show", key=key), lambda v: render_case(v, env.tr, own_names(v)))


def render_case(v: dict[str, Any], tr: Translator, names: Names) -> str:
    w = v["workflow"]
    state = names.state_label(w, v["state"])
    # The workflow's version says which rules apply; the revision (the row's
    # version) is what --if-version compares.
    head = pairs({**v, "workflow": _("{workflow}, workflow version {version}",
                                     workflow=names.workflow(w), version=v["version"]),
                  "state_title": state if state is not None else v["state_title"]},
                 [(N_("Case"), "key"),
                  *([(N_("Reference"), "external_ref")] if v.get("external_ref") else []),
                  (N_("Title"), "title"), (N_("Workflow"), "workflow"),
                  (N_("State"), "state_title"), (N_("Owner"), "owner"),
                  (N_("Opened"), "opened_at"), (N_("In state since"), "state_entered_at"),
                  (N_("Revision"), "case_version")], tr)
    parts = [head]
    if v["fields"]:
        parts.append(tr(_("Fields:")) + "\n" + "\n".join(
            "  " + tr(_("{field}: {value}", field=names.field(w, k),
                        value=names.value(w, k, val) if val is not None else "-"))
            for k, val in v["fields"].items()))
    if v["allowed"]:
        lines = []
        for a in v["allowed"]:
            move = _("{trigger} -> {to}", trigger=names.trigger(w, a["trigger"]),
                     to=names.state(w, a["to"]) if a["to"] != "@previous" else a["to"])
            if a["blocked"]:
                move = _("{move}  (blocked: {why})", move=move,
                         why=Listing(a["blocked"], "clauses"))
            lines.append("  " + tr(move))
        parts.append(tr(_("Next:")) + "\n" + "\n".join(lines))
    else:
        parts.append(tr(_("Next: none (terminal state)")))
    if v["tasks"]:
        rows = table([{**t, "kind": code(t["kind"]), "due_on": due(t)} for t in v["tasks"]],
                     [(N_("ID"), "id"), (N_("KIND"), "kind"), (N_("DUE"), "due_on"),
                      (N_("RULE"), "rule")], tr)
        parts.append(tr(_("Follow-ups:")) + "\n"
                     + "\n".join("  " + line for line in rows.splitlines()))
    parts.append(tr(_("Recent history:")) + "\n"
                 + "\n".join(describe_event(e, tr, names, w) for e in v["history"]))
    return "\n\n".join(parts)


def describe_event(e: dict[str, Any], tr: Translator, names: Names, workflow: str) -> str:
    """One history line: when, who (and who entered it for them), what."""
    data = e["data"] or {}
    what = tr(event_text(e, data, names, workflow))
    who = e["actor"] if not e.get("entered_by") else tr(
        _("{actor}, entered by {admin}", actor=e["actor"], admin=e["entered_by"]))
    return f"  #{e['seq']:<3} {people_time(e['at'])}  {pad(who, 12)} {what}"


def event_text(e: dict[str, Any], data: dict[str, Any], names: Names, w: str) -> Text:
    kind, note = e["kind"], data.get("note")
    state = names.state
    if kind == "opened":
        return _("opened in {state}", state=state(w, e["to"]))
    if kind == "advanced":
        text = _("{trigger}: {from_state} -> {to_state}",
                 trigger=names.trigger(w, data.get("trigger")),
                 from_state=state(w, e["from"]), to_state=state(w, e["to"]))
        return _("{what} ({note})", what=text, note=note) if note else text
    if kind == "note":
        return _("note: {note}", note=note)
    if kind in ("contact", "visit"):
        # It says when it happened, which may be before it was logged; a day
        # given alone is shown as a day.
        if data.get("on"):
            day = data["on"]
            text = (_("contact on {day}", day=day) if kind == "contact"
                    else _("visit on {day}", day=day))
        else:
            at = people_time(str(data.get("at") or e["at"]))
            text = (_("contact at {at}", at=at) if kind == "contact"
                    else _("visit at {at}", at=at))
        return _("{what}: {note}", what=text, note=note) if note else text
    if kind == "fields_set":
        return _("set {fields}", fields=Listing(
            _("{field}={value}", field=names.field(w, k), value=names.value(w, k, v))
            for k, v in data["fields"].items()))
    if kind == "assigned":
        return _("assigned to {owner}", owner=data.get("owner"))
    return _("{what}: {note}", what=Text(kind), note=note) if note else Text(kind)


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
    result = env.call("case.advance", key=key, trigger=trigger, note=note, fields=fields,
                      expected_version=expected)
    env.emit(result, lambda r: _advanced(r, env.names))


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
    result = env.call("case.note", key=key, note=text)
    env.emit(result, lambda r: _("{key}: note #{event} added", key=r["key"], event=r["event"]))


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
    result = env.call("case.set", key=key, pairs=pairs)
    env.emit(result, lambda r: _set_line(r, env.names))


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
    result = env.call("case.assign", key=key, handle=handle)
    env.emit(result, lambda r: _("{key}: owner {was} -> {owner}", key=r["key"], was=r["was"],
                                 owner=r["owner"]))


@case.command("history")
@click.argument("key")
@pass_env
def history(env: Env, key: str) -> None:
    """The whole history of KEY, oldest first.

    \b
    Example:
      torchflow case history PI-2026-0001
    """
    result = env.call("case.history", key=key)
    env.emit(result, lambda r: _history(r, env))


def request_options(func: Any) -> Any:
    """--request and --category of `case contact` and `case visit`."""
    func = click.option("--category", metavar="CATEGORY",
                        help="The requests' category: land (用地), power, financing, permit, "
                             "talent_housing, policy, other.")(func)
    return click.option("--request", "requests", multiple=True, metavar="TEXT",
                        help="A request (诉求) the enterprise raised; repeat for several.")(func)


@case.command("contact")
@click.argument("key")
@click.option("--note", help="What was discussed.")
@click.option("--at", "at", metavar="WHEN", type=WHEN, help=AT_HELP)
@request_options
@pass_env
def contact(env: Env, key: str, note: str | None, at: date | datetime | None,
          requests: tuple[str, ...], category: str | None) -> None:
    """Log a routine contact with the enterprise or partner of KEY.

    \b
    Example:
      torchflow case contact PI-2026-0001 --note "Called the CFO about the land lease"
    """
    _log(env, key, "contact", note, at, requests, category)


@case.command("visit")
@click.argument("key")
@click.option("--note", help="What was seen.")
@click.option("--at", "at", metavar="WHEN", type=WHEN, help=AT_HELP)
@request_options
@pass_env
def visit(env: Env, key: str, note: str | None, at: date | datetime | None,
          requests: tuple[str, ...], category: str | None) -> None:
    """Log a visit to the enterprise or site of KEY.

    \b
    Example:
      torchflow case visit PI-2026-0001 --note "Workshop floor ready" --at 2026-03-04
    """
    _log(env, key, "visit", note, at, requests, category)


def _log(env: Env, key: str, kind: str, note: str | None, at: date | datetime | None,
         requests: tuple[str, ...] = (), category: str | None = None) -> None:
    if requests:  # the requests the enterprise raised, opened with the visit (诉求)
        result = env.call("request.raise", key=key, kind=kind, note=note, at=at,
                          requests=list(requests), category=category)
    else:
        result = env.call("case.log", key=key, kind=kind, note=note, at=at)
    nxt = result.get("next")
    if kind == "contact":
        done = _("{key}: contact logged", key=key)
        text = _("{key}: contact logged; next contact due {due}", key=key,
                 due=nxt["due_on"]) if nxt else done
    else:
        done = _("{key}: visit logged", key=key)
        text = _("{key}: visit logged; next visit due {due}", key=key,
                 due=nxt["due_on"]) if nxt else done
    if result.get("requests"):
        text = _("{text}; requests opened: {keys}", text=text, keys=Listing(result["requests"]))
    env.emit(result, lambda r: text)


def _advanced(r: dict[str, Any], names: Names) -> Text:
    w = names.of_key(r["key"])
    line = _("{key}: {from_state} -> {to_state}", key=r["key"],
             from_state=names.state(w, r["from_state"]), to_state=names.state(w, r["to_state"]))
    return _("{line} (closed)", line=line) if r["closed"] else line


def _set_line(r: dict[str, Any], names: Names) -> Text:
    w = names.of_key(r["key"])
    return _("{key}: {fields}", key=r["key"], fields=Listing(
        _("{field}={value}", field=names.field(w, k), value=names.value(w, k, v))
        for k, v in r["fields"].items()))


def own_names(v: dict[str, Any]) -> Names:
    """The names of a case's own workflow, which `case show` and `case history`
    carry (no other workflow file is read to show one case)."""
    return Names({v["workflow"]: v["names"]})


def _history(r: dict[str, Any], env: Env) -> str:
    names = own_names(r)
    w = r["workflow"]
    return r["key"] + "\n" + "\n".join(describe_event(e, env.tr, names, w) for e in r["events"])

