"""`torchflow notice ...`: the ledger of reminders."""

from __future__ import annotations

import click

from torchflow.cli.context import Env, pass_env, table


@click.group()
def notice() -> None:
    """List notices and retry dead ones.

    \b
    Example:
      torchflow notice list --status dead
      torchflow notice retry 17
    """


@notice.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "dead", "cancelled"]))
@click.option("--to", "recipient", metavar="HANDLE", help="Only notices to HANDLE.")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True)
@pass_env
def list_(env: Env, status: str | None, recipient: str | None, limit: int) -> None:
    """Notices, newest first.

    \b
    Example:
      torchflow notice list --status dead
    """
    from torchflow.service import notices

    rows = notices.list_notices(env.app, status=status, recipient=recipient, limit=limit)
    env.emit(rows, lambda r: table(r, [("ID", "id"), ("KIND", "kind"), ("STATUS", "status"),
                                        ("TO", "to"), ("CHANNEL", "channel"),
                                        ("TRIES", "attempts"), ("SUBJECT", "subject")]))


@notice.command("retry")
@click.argument("notice_id", type=int)
@pass_env
def retry(env: Env, notice_id: int) -> None:
    """Send notice NOTICE_ID again at the next dispatch, with fresh attempts.

    \b
    Example:
      torchflow notice retry 17
    """
    from torchflow.service import notices

    result = notices.retry(env.app, notice_id)
    env.emit(result, lambda r: f"notice #{notice_id} queued again")
