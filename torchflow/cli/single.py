"""Top-level commands: init, agenda, demo."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, pass_env, table


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
    from torchflow.cli.context import os_login
    from torchflow.domain.identity import handle_from_login
    from torchflow.service.people.checks import check_handle
    from torchflow.service.people.staff import acting_admins, first_admin
    from torchflow.store.migrate import upgrade

    login = os_login()
    handle = admin or handle_from_login(login)
    check_handle(handle)  # before any table is made: nothing half-done
    env.create = True
    before, after = upgrade(env.app.db)
    added = first_admin(env.app, handle, login, named=admin is not None)
    result = {"database": env.app.db.engine.url.render_as_string(hide_password=True),
              "before": before, "after": after, "admin": added["handle"] if added else None}
    if before is None:
        text = f"created the torchflow tables (schema {after})"
    elif before == after:
        text = f"database already at schema {after}"
    else:
        text = f"upgraded the database from schema {before} to {after}"
    if added:
        text += (f"\nfirst admin: {added['handle']} (login {login}); add people with "
                 "`torchflow person add HANDLE --name NAME --login OSUSER`")
    elif (admins := acting_admins(env.app)) == []:
        text += ("\nno admin has a login yet (people from before logins): run `torchflow "
                 "init --admin HANDLE` to make HANDLE, with your login, the admin")
    elif admins and admin:
        text += (f"\n--admin {admin} changed nobody: the database has an admin already "
                 f"({', '.join(admins)}); an admin gives the role with `torchflow person "
                 "edit HANDLE --add-role admin`")
    env.emit(result, text)


@click.command()
@click.option("--days", type=click.IntRange(1, 90), default=14, show_default=True)
@click.option("--assignee", "--person", "assignee", metavar="HANDLE", help="Only HANDLE's work.")
@click.option("--ics", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.ics",
              help="Write the open follow-ups as an iCalendar file for a phone or Outlook.")
@pass_env
def agenda(env: Env, days: int, assignee: str | None, ics: Path | None) -> None:
    """What comes due in the next DAYS and which notices will go out.

    \b
    Example:
      torchflow agenda --days 7 --assignee wang.li
      torchflow agenda --ics wang.li.ics --person wang.li --days 60
    """
    from torchflow.service.followups import work as tasks

    if ics is not None:
        from torchflow.service.followups import feeds

        feeds.write_ics(ics, feeds.agenda_ics(env.app, person=assignee, days=days))
        env.emit({"file": str(ics), "person": assignee, "days": days},
                 f"wrote {ics}: follow-ups of {assignee or 'everyone'} due within {days} days")
        return

    result = tasks.agenda(env.app, days=days, assignee=assignee)
    env.emit(result, render_agenda)


def render_agenda(r: dict[str, Any]) -> str:
    tasks = table(r["tasks"], [("ID", "id"), ("CASE", "case"), ("KIND", "kind"),
                               ("DUE", "due_on"), ("ASSIGNEE", "assignee"),
                               ("TITLE", "title")])
    notices = table([{**n, "at": n["at"][:16].replace("T", " ")} for n in r["notices"]],
                    [("WHEN", "at"), ("KIND", "kind"), ("TO", "to"), ("CASE", "case"),
                     ("TASK", "task")])
    pending = table(r["pending"], [("ID", "id"), ("KIND", "kind"), ("TO", "to"),
                                   ("CHANNEL", "channel"), ("SUBJECT", "subject")])
    away = table(r.get("away", []), [("PERSON", "person"), ("FROM", "from"), ("TO", "to"),
                                     ("SUBSTITUTE", "substitute")])
    return (f"Due by {r['today']} + {r['days']} days:\n{tasks}\n\n"
            f"Notices that will go out:\n{notices}\n\nWaiting to be sent:\n{pending}"
            + (f"\n\nAway:\n{away}" if r.get("away") else ""))


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the demo (default: a new temporary folder).")
@click.option("--days", type=click.IntRange(1, 120), default=30, show_default=True,
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
