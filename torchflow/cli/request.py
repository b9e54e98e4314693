"""`torchflow request ...`: an enterprise's requests (诉求), docs/enterprises.md.
A request is a case of the enterprise_request workflow: `case advance` moves it
through 交办, 签收, 办理, 答复, 回访 and 办结."""

from __future__ import annotations

import click

from torchflow.cli.context import Env, pass_env
from torchflow.i18n import _


@click.group()
def request() -> None:
    """An enterprise's requests (诉求): land, power, financing, permits, talent housing.

    \b
    Example:
      torchflow request open 无锡清能动力有限公司 "扩产需新增用地30亩" --category 用地
      torchflow case visit PI-2026-0001 --request "扩产需新增用地30亩" --category land
      torchflow case advance RQ-2026-0001 交办 --field lead_unit=自然资源局 --field handler=zhao.min
    """


@request.command("open")
@click.argument("enterprise")
@click.argument("text", metavar="REQUEST")
@click.option("--category", required=True, metavar="CATEGORY",
              help="land (用地), power, financing, permit, talent_housing, policy, other.")
@click.option("--owner", metavar="PERSON", help="Who coordinates it (default: you).")
@pass_env
def open_(env: Env, enterprise: str, text: str, category: str, owner: str | None) -> None:
    """Open REQUEST of ENTERPRISE (its name or credit code), raised other than on a
    visit or contact (a letter, the hotline).

    \b
    Example:
      torchflow request open 91320214MA1XXXXXXX "高企认定政策咨询" --category policy
    """
    result = env.call("request.open", enterprise=enterprise, request=text, category=category,
                      owner=owner)
    env.emit(result, lambda r: _("request {key} opened", key=r["key"]))
