"""Top-level commands: init, agenda, demo."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, code, pass_env, table
from torchflow.cli.params import Whole
from torchflow.i18n import N_, Translator, _


@click.command()
@click.option("--admin", "admin", metavar="HANDLE",
              help="Handle of the first admin (default: made from your login).")
@pass_env
def init(env: Env, admin: str | None) -> None:
    """Create the database or upgrade it to this release; safe to run twice.

    On a database with nobody in it, the operating-system login that runs
    init becomes the first admin, so a fresh install can always be administered.

    \b
    Example:
      torchflow init
      torchflow init --admin wang.li
    """
    env.local("init")
    env.create = True
    found = env.call("database.init", admin=admin)
    before, after, added, login = found["before"], found["after"], found["admin"], found["login"]
    result = {k: found[k] for k in ("database", "before", "after", "admin")}
    tr = env.tr
    if before is None:
        text = tr(_("created the torchflow tables (schema {schema})", schema=after))
    elif before == after:
        text = tr(_("database already at schema {schema}", schema=after))
    else:
        text = tr(_("upgraded the database from schema {before} to {after}", before=before,
                    after=after))
    if added:
        text += "\n" + tr(_("first admin: {handle} (login {login}); add people with "
                            "`torchflow person add HANDLE --name NAME --login OSUSER`",
                            handle=added, login=login))
    elif (admins := found["admins"]) == []:
        text += "\n" + tr(_("no admin has a login yet (people from before logins): run "
                            "`torchflow init --admin HANDLE` to make HANDLE, with your login, "
                            "the admin"))
    elif admins and admin:
        text += "\n" + tr(_("--admin {handle} changed nobody: the database has an admin "
                            "already ({admins}); an admin gives the role with `torchflow person "
                            "edit HANDLE --add-role admin`", handle=admin,
                            admins=", ".join(admins)))
    env.emit(result, text)


@click.command()
@click.option("--days", type=Whole(1, 90), default=14, show_default=True)
@click.option("--assignee", "--person", "assignee", metavar="HANDLE", help="Only HANDLE's work.")
@click.option("--all", "everyone", is_flag=True, help="The whole office's work.")
@click.option("--mine", is_flag=True, help="Only your own work (the default).")
@click.option("--ics", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.ics",
              help="Write the open follow-ups as an iCalendar file for a phone or Outlook.")
@pass_env
def agenda(env: Env, days: int, assignee: str | None, everyone: bool, mine: bool,
           ics: Path | None) -> None:
    """What comes due in the next DAYS for you (--all: the office) and which
    notices will go out or wait folded for a digest.

    \b
    Example:
      torchflow agenda --days 7
      torchflow agenda --all --days 7
      torchflow agenda --days 7 --assignee wang.li
      torchflow agenda --ics wang.li.ics --person wang.li --days 60
    """
    if ics is not None:
        result = env.call("task.agenda_ics", out=ics, person=assignee, days=days)
        env.emit(result, _("wrote {file}: follow-ups of {person} due within {days} days",
                           file=ics, person=assignee or _("everyone"), days=days))
        return
    env.emit(env.call("task.agenda", days=days, assignee=assignee, all=everyone, mine=mine),
             lambda r: render_agenda(r, env.tr))


def render_agenda(r: dict[str, Any], tr: Translator) -> str:
    def coded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**row, **{k: code(row[k]) for k in ("kind", "channel") if k in row}}
                for row in rows]

    tasks = table(coded(r["tasks"]), [(N_("ID"), "id"), (N_("CASE"), "case"),
                                      (N_("KIND"), "kind"), (N_("DUE"), "due_on"),
                                      (N_("ASSIGNEE"), "assignee"), (N_("TITLE"), "title")], tr)
    def when(rows: list[dict[str, Any]]) -> str:
        return table(coded([{**n, "at": n["at"][:16].replace("T", " ")} for n in rows]),
                     [(N_("WHEN"), "at"), (N_("KIND"), "kind"), (N_("TO"), "to"),
                      (N_("CASE"), "case"), (N_("TASK"), "task")], tr)

    going = [n for n in r["notices"] if not n.get("folded")]
    folded = [n for n in r["notices"] if n.get("folded")]
    notices = when(going)
    pending = table(coded(r["pending"]), [(N_("ID"), "id"), (N_("KIND"), "kind"),
                                          (N_("TO"), "to"), (N_("CHANNEL"), "channel"),
                                          (N_("SUBJECT"), "subject")], tr)
    away = table(r.get("away", []), [(N_("PERSON"), "person"), (N_("FROM"), "from"),
                                     (N_("TO"), "to"), (N_("SUBSTITUTE"), "substitute")], tr)
    whose = (tr(_("Work of {person}", person=r["whose"])) if r.get("whose")
             else tr(_("Work of the whole office")))
    parts = [whose + " · " + tr(_("Due by {today} + {days} days:", today=r["today"],
                                  days=r["days"])) + "\n" + tasks,
             tr(_("Notices that will go out:")) + "\n" + notices]
    if folded:
        parts.append(tr(_("Folded into the daily digest (no message of their own):"))
                     + "\n" + when(folded))
    parts.append(tr(_("Waiting to be sent:")) + "\n" + pending)
    if r.get("away"):
        parts.append(tr(_("Away:")) + "\n" + away)
    return "\n\n".join(parts)


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the demo (default: a new temporary folder).")
@click.option("--days", type=Whole(1, 120), default=30, show_default=True,
              help="How many days to simulate.")
@pass_env
def demo(env: Env, directory: Path | None, days: int) -> None:
    """Walk every shipped workflow and simulate a month of the scheduler.

    Writes its own config, SQLite file and outbox in a fresh folder; your own
    database is never touched.

    \b
    Example:
      torchflow demo --dir ./demo
    """
    from torchflow.demo import run_demo

    gc.enable()
    summary = run_demo(directory, days=days, echo=None if env.as_json else click.echo)
    if env.as_json:
        env.emit(summary, "")
