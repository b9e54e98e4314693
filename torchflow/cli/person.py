"""`torchflow person ...`: the people who act and are told."""

from __future__ import annotations

from typing import Any

import click

from torchflow.channels import CHANNEL_TYPES
from torchflow.cli.context import Env, Names, code, pass_env, table
from torchflow.cli.params import LIMIT, OFFSET, Choice
from torchflow.cli.person_away import COMMANDS as PERSON_AWAY
from torchflow.cli.sheets import feed_token
from torchflow.domain.office import EVENT_KINDS, FIELDS
from torchflow.i18n import N_, Listing, Role, Text, _

PEOPLE_COLUMNS = [(N_("HANDLE"), "handle"), (N_("NAME"), "name"), (N_("ROLES"), "roles"),
                  (N_("EMAIL"), "email"), (N_("CHANNEL"), "channel"), (N_("ACTIVE"), "active")]


def roles_of(roles: list[str] | None) -> Listing | None:
    """Role codes as the office names them (roles.toml)."""
    return Listing(Role(r) for r in roles) if roles else None


def platform_ids(func: Any) -> Any:
    """The --wecom-id, --dingtalk-mobile and --feishu-id options (channels/ids.py)."""
    for flag, name, what in reversed([
        ("--wecom-id", "wecom_id", "WeCom user id (帐号): wecom_app's address, @ by robots."),
        ("--dingtalk-mobile", "mobile", "Mobile number: @ by DingTalk (and WeCom) robots."),
        ("--feishu-id", "feishu_id", "Feishu open_id or user_id: @ by Feishu robots."),
    ]):
        func = click.option(flag, name, metavar="ID", help=what + " '' removes it.")(func)
    return func


def _ids(wecom_id: str | None, mobile: str | None, feishu_id: str | None) -> dict[str, str]:
    given = {"wecom": wecom_id, "mobile": mobile, "feishu": feishu_id}
    return {k: v for k, v in given.items() if v is not None}


@click.group()
def person() -> None:
    """Add, change, show, deactivate and hand over people (administration needs
    the admin role: see `torchflow person roles`).

    \b
    Example:
      torchflow person add wang.li --name "Wang Li" --role coordinator --login wangli
      torchflow person handover wang.li zhao.min
    """


@person.command("add")
@click.argument("handle")
@click.option("--name", required=True, help="Full name.")
@click.option("--email", default="", help="E-mail address (for the smtp channel).")
@click.option("--role", "roles", multiple=True,
              help="A role, e.g. coordinator, director (repeatable or comma-separated).")
@click.option("--channel", type=Choice(list(CHANNEL_TYPES)),
              help="How notices reach this person (default: notify.default_channel).")
@click.option("--address", default="",
              help="Their address on the channel: a webhook URL, a robot's name.")
@click.option("--login", "logins", multiple=True, metavar="OSUSER",
              help="An operating-system login this person acts from (repeatable).")
@platform_ids
@pass_env
def add(env: Env, handle: str, name: str, email: str, roles: tuple[str, ...],
        channel: str | None, address: str, logins: tuple[str, ...], wecom_id: str | None,
        mobile: str | None, feishu_id: str | None) -> None:
    """Add a person with HANDLE.

    \b
    Example:
      torchflow person add wang.li --name "Wang Li" --email wang.li@zone.gov.cn \\
          --role coordinator --login wangli
    """
    result = env.call("person.add", handle=handle, name=name, email=email, roles=list(roles),
                      channel=channel, address=address, logins=list(logins),
                      ids=_ids(wecom_id, mobile, feishu_id) or None)
    env.emit(result, lambda r: _("added {handle} ({roles})", handle=r["handle"],
                                 roles=roles_of(r["roles"]) or _("no roles")))


@person.command("edit")
@click.argument("handle")
@click.option("--name", help="Full name.")
@click.option("--email", help="E-mail address ('' to clear).")
@click.option("--channel", type=Choice(list(CHANNEL_TYPES)), help="How notices reach them.")
@click.option("--address", help="Their address on the channel: a webhook URL, a robot's "
                                "name ('' to clear).")
@click.option("--add-role", "add_roles", multiple=True, metavar="ROLE", help="Give a role.")
@click.option("--remove-role", "remove_roles", multiple=True, metavar="ROLE",
              help="Take a role away.")
@click.option("--login", "add_logins", multiple=True, metavar="OSUSER",
              help="Add an operating-system login (repeatable).")
@click.option("--remove-login", "remove_logins", multiple=True, metavar="OSUSER",
              help="Remove a login.")
@click.option("--new-feed-token", "new_feed_token", is_flag=True,
              help="Rotate the secret in HANDLE's calendar feed file name (as "
                   "`person feed-token --new`; one's own needs no role).")
@platform_ids
@pass_env
def edit(env: Env, handle: str, name: str | None, email: str | None, channel: str | None,
         address: str | None, add_roles: tuple[str, ...], remove_roles: tuple[str, ...],
         add_logins: tuple[str, ...], remove_logins: tuple[str, ...],
         new_feed_token: bool, wecom_id: str | None, mobile: str | None,
         feishu_id: str | None) -> None:
    """Change HANDLE's details, roles or logins, with the checks of `person add`.

    \b
    Example:
      torchflow person edit he.yu --channel webhook --address https://hooks.example.cn/he
      torchflow person edit wang.li --channel wecom_app --wecom-id WangLi
      torchflow person edit wang.li --add-role admin --login wangli
      torchflow person edit wang.li --new-feed-token
    """
    result = env.call("person.edit", handle=handle, name=name, email=email, channel=channel,
                      address=address, add_roles=list(add_roles) or None,
                      remove_roles=list(remove_roles) or None,
                      add_logins=list(add_logins) or None,
                      remove_logins=list(remove_logins) or None,
                      ids=_ids(wecom_id, mobile, feishu_id) or None,
                      new_feed_token=new_feed_token or None)
    env.emit(result, lambda r: _("changed {handle}; feed file {file}", handle=r["handle"],
                                 file=r["feed_file"]) if "feed_file" in r
             else _("changed {handle}", handle=r["handle"]))


@person.command("deactivate")
@click.argument("handle")
@click.option("--handover-to", metavar="OTHER", help="Move HANDLE's open work to OTHER first.")
@pass_env
def deactivate(env: Env, handle: str, handover_to: str | None) -> None:
    """Mark HANDLE as no longer active; refused while they own open cases or tasks,
    unless --handover-to moves them.

    \b
    Example:
      torchflow person deactivate wang.li --handover-to zhao.min
    """
    result = env.call("person.deactivate", handle=handle, handover_to=handover_to)
    env.emit(result, _("deactivated {handle} (work moved to {other})", handle=handle,
                       other=handover_to) if handover_to
             else _("deactivated {handle}", handle=handle))


@person.command("reactivate")
@click.argument("handle")
@pass_env
def reactivate(env: Env, handle: str) -> None:
    """Mark HANDLE as active again.

    \b
    Example:
      torchflow person reactivate wang.li
    """
    env.emit(env.call("person.reactivate", handle=handle),
             _("reactivated {handle}", handle=handle))


@person.command("show")
@click.argument("handle")
@pass_env
def show(env: Env, handle: str) -> None:
    """HANDLE's roles, logins, channel and how they are told, open cases and tasks,
    overdue count, absences, and notices that bounced or died.

    \b
    Example:
      torchflow person show wang.li
    """
    env.emit(env.call("person.show", handle=handle), lambda v: render_person(v, env))


def render_person(v: dict[str, Any], env: Env) -> str:
    from torchflow.cli.context import pairs

    tr, names = env.tr, env.names
    head = pairs({**v, "logins": v["logins"] or None, "roles": roles_of(v["roles"]),
                  "channel": code(v["channel"]), "notify": code(v["notify"]),
                  "ids": platform_ids_of(v.get("ids") or {})},
                 [(N_("Person"), "handle"), (N_("Name"), "name"), (N_("Roles"), "roles"),
                  (N_("Logins"), "logins"), (N_("E-mail"), "email"), (N_("Channel"), "channel"),
                  (N_("Address"), "address"), (N_("Platform ids"), "ids"),
                  (N_("Notify"), "notify"),
                  (N_("Quiet hours"), "quiet"), (N_("Fallback"), "fallback"),
                  (N_("Active"), "active"), (N_("Overdue"), "overdue")], tr)
    cases = table([{**c, "state": _case_state(c, names)} for c in v["open_cases"]],
                  [(N_("CASE"), "key"), (N_("STATE"), "state"), (N_("TITLE"), "title")], tr)
    tasks = table(v["open_tasks"], [(N_("ID"), "id"), (N_("CASE"), "case"), (N_("RULE"), "rule"),
                                    (N_("DUE"), "due_on"), (N_("OVERDUE"), "overdue")], tr)
    away = table(v["absences"], [(N_("FROM"), "from"), (N_("TO"), "to"),
                                 (N_("SUBSTITUTE"), "substitute"), (N_("REASON"), "reason"),
                                 (N_("ENDED"), "ended_at")], tr)
    problems = table([{**p, "kind": code(p["kind"]), "status": code(p["status"]),
                       "channel": code(p["channel"])} for p in v["delivery_problems"]],
                     [(N_("NOTICE"), "id"), (N_("KIND"), "kind"), (N_("STATUS"), "status"),
                      (N_("CHANNEL"), "channel"), (N_("REASON"), "reason"),
                      (N_("ERROR"), "error")], tr)
    roles = table([{"at": r["at"], "by": _by(r), "was": roles_of(r["was"]) or "-",
                    "now": roles_of(r["now"]) or "-"} for r in v.get("role_history", [])],
                  [(N_("WHEN"), "at"), (N_("BY"), "by"), (N_("ROLES BEFORE"), "was"),
                   (N_("ROLES AFTER"), "now")], tr)
    return "\n\n".join([head, tr(_("Open cases:")) + "\n" + cases,
                         tr(_("Open tasks:")) + "\n" + tasks, tr(_("Absences:")) + "\n" + away,
                         tr(_("Bounced, dead or held notices:")) + "\n" + problems,
                         tr(_("Role history:")) + "\n" + roles])


@person.command("history")
@click.argument("handle")
@pass_env
def history(env: Env, handle: str) -> None:
    """Who changed HANDLE, and when: roles given and taken, logins, details,
    notice settings, feed token, absences and access tokens, from the office's
    audited history.

    \b
    Example:
      torchflow person history wang.li
    """
    env.emit(env.call("person.history", handle=handle),
             lambda v: render_history(v["events"], env))


def render_history(events: list[dict[str, Any]], env: Env) -> str:
    tr = env.tr
    rows = [{"at": e["at"], "by": _by(e),
             "what": Text(EVENT_KINDS[e["kind"]]) if e["kind"] in EVENT_KINDS else e["kind"],
             "changes": "; ".join(tr(_change(c)) for c in e["changes"]) or "-"}
            for e in events]
    return table(rows, [(N_("WHEN"), "at"), (N_("BY"), "by"), (N_("WHAT"), "what"),
                        (N_("CHANGES"), "changes")], tr)


def _by(e: dict[str, Any]) -> Any:
    if e.get("entered_by"):
        return _("{actor}, entered by {admin}", actor=e["actor"], admin=e["entered_by"])
    return e["actor"]


def _change(c: dict[str, Any]) -> Text:
    field = Text(FIELDS[c["field"]]) if c["field"] in FIELDS else c["field"]
    if c["was"] is None and c["now"] is None:
        return _("{field} changed", field=field)
    return _("{field}: {was} → {now}", field=field, was=_value(c["field"], c["was"]),
             now=_value(c["field"], c["now"]))


def _value(field: str, value: Any) -> Any:
    if field == "roles":
        return roles_of(value) or "-"
    if value is None or value == [] or value == "":
        return "-"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return Listing(str(v) for v in value)
    if isinstance(value, dict):
        return Listing(f"{k} {v}" for k, v in value.items())
    return str(value)


# A person's ids on the platforms (channels/ids.py), as the office names them.
PLATFORMS = {"wecom": N_("WeCom"), "mobile": N_("mobile"), "feishu": N_("Feishu")}


def platform_ids_of(ids: dict[str, str]) -> Listing | None:
    """A person's ids on the platforms, each named as the office calls it."""
    if not ids:
        return None
    return Listing(_("{platform} {id}", platform=Text(PLATFORMS.get(k, k)), id=i)
                   for k, i in ids.items())


def _case_state(row: dict[str, Any], names: Names) -> Any:
    return names.state(names.of_key(str(row.get("key", ""))), row.get("state"))


@person.command("roles")
@pass_env
def roles_(env: Env) -> None:
    """What each role may do: the permissions table.

    \b
    Example:
      torchflow person roles
    """
    from torchflow.domain.permissions import ADMIN

    env.emit(env.call("person.roles"), lambda r: table(
        [{**row, "role": Role(row["role"]) if row["role"] == ADMIN
          else Text(row["role"]), "what": Text(row["what"])} for row in r],
        [(N_("ACTION"), "action"), (N_("ROLE"), "role"), (N_("WHAT"), "what")], env.tr))


@person.command("list")
@click.option("--limit", type=LIMIT, default=500, show_default=True)
@click.option("--offset", type=OFFSET, default=0, help="Skip this many people first.")
@pass_env
def list_(env: Env, limit: int, offset: int) -> None:
    """Everyone, by handle.

    \b
    Example:
      torchflow person list
    """
    env.emit_page(env.call("person.list", limit=limit, offset=offset), PEOPLE_COLUMNS,
                  lambda r: {**r, "roles": roles_of(r["roles"]), "channel": code(r["channel"])})


@person.command("handover")
@click.argument("old")
@click.argument("new")
@click.option("--deactivate", is_flag=True, help="Also mark OLD as no longer active.")
@pass_env
def handover(env: Env, old: str, new: str, deactivate: bool) -> None:
    """Move OLD's open cases, open tasks and pending notices to NEW.

    \b
    Example:
      torchflow person handover wang.li zhao.min --deactivate
    """
    data = env.call("person.handover", handle=old, to=new, deactivate=deactivate)
    moved = _("{old} -> {new}: {cases} case(s), {tasks} task(s), {notices} pending notice(s) "
              "moved", old=data["from"], new=data["to"], cases=data["cases"],
              tasks=data["tasks"], notices=data["notices"])
    env.emit(data, _("{moved} ({n} being sent: moved if that send fails)", moved=moved,
                     n=data["in_flight"]) if data["in_flight"] else moved)


# Commands of the person group defined beside what they share code with.
for _command in (feed_token, *PERSON_AWAY):  # feed-token, away, back, notify
    person.add_command(_command)
