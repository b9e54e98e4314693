"""`torchflow notice ...`: the ledger of reminders."""

from __future__ import annotations

import click

from torchflow.channels import CHANNEL_TYPES
from torchflow.cli.context import Env, code, pass_env, usage_error
from torchflow.cli.params import ID, LIMIT, OFFSET, Choice
from torchflow.domain.status import NoticeKind, NoticeStatus, choices
from torchflow.i18n import N_, _


@click.group()
def notice() -> None:
    """List notices and retry dead ones.

    \b
    Example:
      torchflow notice list --status dead
      torchflow notice retry 17
      torchflow notice retry --all-dead --to wang.li
    """


@notice.command("list")
@click.option("--status", type=Choice([*choices(NoticeStatus), "held"]),
              help="held: pending, but their channel cannot be used as configured "
                   "(the REASON says what to fix).")
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
    page = env.call("notice.list", status=status, recipient=recipient, limit=limit,
                    offset=offset)
    env.emit_page(page, [(N_("ID"), "id"), (N_("KIND"), "kind"), (N_("STATUS"), "status"),
                         (N_("TO"), "to"), (N_("CHANNEL"), "channel"), (N_("TRIES"), "attempts"),
                         (N_("SUBJECT"), "subject"), (N_("REASON"), "reason")],
                  lambda r: {**r, "kind": code(r["kind"]), "status": code(r["status"]),
                             "channel": code(r["channel"])})


@notice.command("retry")
@click.argument("notice_id", type=ID, required=False)
@click.option("--all-dead", is_flag=True, help="Every dead notice (narrowed by the filters).")
@click.option("--to", "recipient", metavar="HANDLE", help="With --all-dead: only to HANDLE.")
@click.option("--kind", type=Choice(choices(NoticeKind)), help="With --all-dead.")
@click.option("--channel", type=Choice(list(CHANNEL_TYPES)), help="With --all-dead.")
@pass_env
def retry(env: Env, notice_id: int | None, all_dead: bool, recipient: str | None,
          kind: str | None, channel: str | None) -> None:
    """Send notice NOTICE_ID, or every dead notice, again at the next dispatch,
    with fresh attempts.

    \b
    Example:
      torchflow notice retry 17
      torchflow notice retry --all-dead --channel webhook
    """
    filtered = recipient or kind or channel
    if (notice_id is None) == (not all_dead):
        raise usage_error(_("give a NOTICE_ID or --all-dead, not both"))
    if notice_id is not None and filtered:
        raise usage_error(_("--to, --kind and --channel go with --all-dead"))
    if notice_id is not None:
        result = env.call("notice.retry", notice_id=notice_id)
    else:
        result = env.call("notice.retry_dead", recipient=recipient, kind=kind, channel=channel)
    env.emit(result,
             lambda r: _("{n} notice(s) queued again: {ids}", n=r["count"],
                         ids=", ".join(f"#{i}" for i in r["ids"]))
             if 0 < r["count"] <= 20 else _("{n} notice(s) queued again", n=r["count"]))
