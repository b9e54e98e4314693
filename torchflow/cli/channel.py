"""`torchflow channel ...`: try a notice channel before people rely on it."""

from __future__ import annotations

import click

from torchflow.cli.context import Env, pass_env
from torchflow.i18n import _


@click.group()
def channel() -> None:
    """Try the notice channels (WeCom, DingTalk, Feishu, e-mail, webhook).

    \b
    Example:
      torchflow channel test wecom_robot:pi_team --to wang.li
    """


@channel.command("test")
@click.argument("name", metavar="NAME")
@click.option("--to", "to", metavar="HANDLE",
              help="Send it as a notice to HANDLE would go (their address, their @).")
@pass_env
def test(env: Env, name: str, to: str | None) -> None:
    """Send one test message by channel NAME (CHANNEL or CHANNEL:ROBOT) and say
    what the platform answered: a trusted IP to add, a clock an hour off, a key
    or secret to check.

    \b
    Example:
      torchflow channel test dingtalk_robot:office
      torchflow channel test wecom_app --to wang.li
    """
    result = env.call("channel.test", name=name, to=to)
    env.emit(result, lambda r: _("{channel}: test message delivered to {to}; {answer}",
                                 channel=r["channel"], to=r["to"], answer=r["answer"])
             if r["to"] else _("{channel}: test message delivered; {answer}",
                               channel=r["channel"], answer=r["answer"]))
