"""`torchflow notice ...`: the ledger of reminders."""

from __future__ import annotations

import click

from torchflow.cli.context import Env, pass_env
from torchflow.cli.params import ID, LIMIT, OFFSET
from torchflow.domain.status import NoticeStatus, choices


@click.group()
def notice() -> None:
    """List notices and retry dead ones.

    \b
    Example:
      torchflow notice list --status dead
      torchflow notice retry 17
    """


@notice.command("list")
@click.option("--status", type=click.Choice(choices(NoticeStatus)))
@click.option("--to", "recipient", metavar="HANDLE", help="Only notices to HANDLE.")
@click.option("--limit", type=LIMIT, default=200, show_default=True)
@click.option("--offset", type=OFFSET, default=0, help="Skip this many notices first.")
@pass_env
def list_(env: Env, status: str | None, recipient: str | None, limit: int, offset: int) -> None:
    """Notices, newest first.

    \b
    Example:
      torchflow notice list --status dead
    """
    from torchflow.service import notices

    page = notices.list_notices(env.app, status=status, recipient=recipient, limit=limit,
                                offset=offset)
    env.emit_page(page, [("ID", "id"), ("KIND", "kind"), ("STATUS", "status"), ("TO", "to"),
                         ("CHANNEL", "channel"), ("TRIES", "attempts"), ("SUBJECT", "subject")])


@notice.command("retry")
@click.argument("notice_id", type=ID)
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
