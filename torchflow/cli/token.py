"""`torchflow token ...`: personal access tokens, how a caller who is not on the
server's Unix socket says who they are (docs/security.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from torchflow.cli.context import Env, code, pass_env, table
from torchflow.cli.params import ID, SPAN
from torchflow.i18n import N_, _

TOKEN_COLUMNS = [(N_("ID"), "id"), (N_("PERSON"), "handle"), (N_("LABEL"), "label"),
                 (N_("STATUS"), "state"), (N_("EXPIRES"), "expires_at"),
                 (N_("LAST USED"), "last_used_at")]
# A token's states (service/people/tokens.py), shown as the office says them.
STATES = (N_("active"), N_("expired"), N_("revoked"))


@click.group()
def token() -> None:
    """Issue, list and revoke personal access tokens for the server's API.

    \b
    Example:
      torchflow token create wang.li --name laptop --expires 90d
      torchflow token list
      torchflow token revoke 3
    """


@token.command("create")
@click.argument("handle")
@click.option("--name", "label", default="", help="What the token is for, e.g. laptop.")
@click.option("--expires", type=SPAN, default="90d", show_default=True, metavar="SPAN",
              help="How long it is valid: 30d, 12w (at most 3660d).")
@pass_env
def create(env: Env, handle: str, label: str, expires: timedelta) -> None:
    """Issue a token for HANDLE (admins only). It is shown once: keep it in a
    credentials file only its owner can read, or in TORCHFLOW_TOKEN.

    \b
    Example:
      torchflow token create wang.li --name laptop
    """
    if expires.days < 1:
        raise click.BadParameter(_("a token must live at least 1d"),  # type: ignore[arg-type]
                                 param_hint="'--expires'")
    result = env.call("token.create", handle=handle, label=label, expires_days=expires.days)
    env.emit(result, lambda r: r["token"] + "\n" + env.tr(_(
        "token #{id} for {handle}, valid until {until}; it is shown only now: save it as "
        "token = \"...\" in ~/.config/torchflow/credentials (chmod 600) or set TORCHFLOW_TOKEN",
        id=r["id"], handle=r["handle"], until=r["expires_at"])))


@token.command("list")
@click.argument("handle", required=False)
@pass_env
def list_(env: Env, handle: str | None) -> None:
    """Tokens with their last use: your own, or (admins) everyone's or HANDLE's.

    \b
    Example:
      torchflow token list wang.li
    """
    env.emit(env.call("token.list", handle=handle), lambda r: _listed(r, env))


def _listed(rows: list[dict[str, Any]], env: Env) -> str:
    return table([{**row, "state": code(row["state"])} for row in rows], TOKEN_COLUMNS, env.tr)


@token.command("revoke")
@click.argument("token_id", type=ID, metavar="ID")
@pass_env
def revoke(env: Env, token_id: int) -> None:
    """Revoke token ID at once: your own, or (admins) anyone's.

    \b
    Example:
      torchflow token revoke 3
    """
    result = env.call("token.revoke", token_id=token_id)
    env.emit(result, lambda r: _("token #{id} of {handle} revoked", id=r["id"],
                                 handle=r["handle"]))
