"""`torchflow task ...`: the follow-ups that are due."""

from __future__ import annotations

from datetime import date, timedelta

import click

from torchflow.cli.context import Env, code, due, pass_env
from torchflow.cli.params import DATE, ID, LIMIT, OFFSET, SPAN, Choice
from torchflow.domain.status import TaskKind, choices
from torchflow.i18n import N_, _

TASK_COLUMNS = [(N_("ID"), "id"), (N_("CASE"), "case"), (N_("KIND"), "kind"),
                (N_("DUE"), "due_on"), (N_("ASSIGNEE"), "assignee"), (N_("TITLE"), "title")]


@click.group()
def task() -> None:
    """List, complete, snooze and reassign follow-up tasks.

    \b
    Example:
      torchflow --as wang.li task list --mine --overdue
      torchflow --as wang.li task done 42 --note "Called the CFO"
    """


@task.command("list")
@click.option("--mine", is_flag=True, help="Only tasks assigned to you.")
@click.option("--assignee", metavar="HANDLE", help="Only tasks assigned to HANDLE.")
@click.option("--due-within", metavar="SPAN", type=SPAN,
              help="Only tasks due within SPAN (0d, 3d, 2w).")
@click.option("--overdue", is_flag=True, help="Only overdue tasks.")
@click.option("--kind", type=Choice(choices(TaskKind)))
@click.option("--limit", type=LIMIT, default=500, show_default=True)
@click.option("--offset", type=OFFSET, default=0, help="Skip this many tasks first.")
@pass_env
def list_(env: Env, mine: bool, assignee: str | None, due_within: timedelta | None,
          overdue: bool, kind: str | None, limit: int, offset: int) -> None:
    """Open tasks, soonest first.

    \b
    Example:
      torchflow --as wang.li task list --mine --due-within 3d
    """
    page = env.call("task.list", mine=mine, assignee=assignee, due_within=due_within,
                    overdue=overdue, kind=kind, limit=limit, offset=offset)
    env.emit_page(page, TASK_COLUMNS, lambda r: {**r, "kind": code(r["kind"]), "due_on": due(r)})


@task.command("done")
@click.argument("task_id", type=ID)
@click.option("--note", help="What was done.")
@pass_env
def done(env: Env, task_id: int, note: str | None) -> None:
    """Mark task TASK_ID done; a contact or visit plans its next occurrence.

    \b
    Example:
      torchflow task done 42 --note "Called; land lease signed"
    """
    result = env.call("task.done", task_id=task_id, note=note)
    nxt = result["next"]
    env.emit(result, lambda r: _("task #{id} done; next due {due}", id=task_id,
                                 due=nxt["due_on"]) if nxt
             else _("task #{id} done", id=task_id))


@task.command("snooze")
@click.argument("task_id", type=ID)
@click.option("--to", "to", required=True, metavar="DATE", type=DATE,
              help="New due day (YYYY-MM-DD).")
@click.option("--reason", required=True, help="Why it moves; kept in the history.")
@pass_env
def snooze(env: Env, task_id: int, to: date, reason: str) -> None:
    """Move task TASK_ID to another day (the next working day if DATE is not one).

    \b
    Example:
      torchflow task snooze 42 --to 2026-12-07 --reason "CEO abroad until Friday"
    """
    result = env.call("task.snooze", task_id=task_id, to=to, reason=reason)
    env.emit(result, lambda r: _("task #{id} now due {due}{note}", id=task_id, due=r["due_on"],
                                 note=r["note"]))


@task.command("reassign")
@click.argument("task_id", type=ID)
@click.argument("handle")
@pass_env
def reassign(env: Env, task_id: int, handle: str) -> None:
    """Give task TASK_ID to HANDLE; its pending notices follow.

    \b
    Example:
      torchflow task reassign 42 zhao.min
    """
    result = env.call("task.reassign", task_id=task_id, handle=handle)
    env.emit(result, lambda r: _("task #{id} assigned to {handle}", id=task_id,
                                 handle=r["assignee"]))
