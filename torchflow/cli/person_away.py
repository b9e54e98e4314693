"""`torchflow person away|back|notify`: absences with substitutes, and how each
person is told (attached to the `person` group in cli/main.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import click

from torchflow.cli.context import Env, code, pass_env, usage_error
from torchflow.cli.params import DATE, Whole
from torchflow.i18n import _


@click.command("away")
@click.argument("handle")
@click.option("--from", "starts", type=DATE, required=True, help="First day away (YYYY-MM-DD).")
@click.option("--to", "ends", type=DATE, required=True, help="Last day away (inclusive).")
@click.option("--substitute", required=True, metavar="OTHER",
              help="Who receives HANDLE's notices and new work meanwhile.")
@click.option("--reason", default="", help="Why (shown in the agenda and `person show`).")
@pass_env
def away(env: Env, handle: str, starts: date, ends: date, substitute: str, reason: str) -> None:
    """HANDLE is away from --from to --to; OTHER stands in.

    While away, HANDLE's notices and digests go to OTHER (marked "for HANDLE,
    away until ..."), and tasks planned meanwhile are assigned to OTHER. If
    OTHER is away too, OTHER's own substitute receives them.

    \b
    Example:
      torchflow person away wang.li --from 2026-12-07 --to 2026-12-18 \\
          --substitute zhao.min --reason "annual leave"
    """
    from torchflow.service.people import absences

    result = absences.record_absence(env.app, env.actor(), handle, starts=starts, ends=ends,
                                     substitute=substitute, reason=reason)
    env.emit(result, lambda r: _("{handle} away {start} to {end}; {substitute} stands in",
                                 handle=r["handle"], start=r["from"], end=r["to"],
                                 substitute=r["substitute"]))


@click.command("back")
@click.argument("handle")
@pass_env
def back(env: Env, handle: str) -> None:
    """HANDLE is back: their absences not over end today.

    \b
    Example:
      torchflow person back wang.li
    """
    from torchflow.service.people import absences

    result = absences.end_absence(env.app, env.actor(), handle)
    env.emit(result, lambda r: _("{handle} back on {day} ({n} absence(s) ended)",
                                 handle=r["handle"], day=r["back_on"], n=r["ended"]))


def _checked(parser: Callable[[], Callable[[str], Any]]) -> Callable[..., Any]:
    """A flag value checked at the edge by ``parser`` (imported on use): a usage
    error, exit 2, naming the flag."""

    def callback(_ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        from torchflow.errors import InvalidInput

        try:
            return parser()(value)
        except InvalidInput as exc:
            raise click.BadParameter(exc.text, param=param) from None  # type: ignore[arg-type]

    return callback


def _parse_quiet() -> Callable[[str], Any]:
    from torchflow.domain.routing import parse_quiet

    return parse_quiet


def _parse_fallback() -> Callable[[str], Any]:
    from torchflow.service.people.notify import parse_fallback

    return parse_fallback


@click.command("notify")
@click.argument("handle")
@click.option("--each", "mode", flag_value="each", help="Every notice as it falls due.")
@click.option("--digest", "mode", flag_value="digest",
              help="Upcoming and due notices folded into the daily digest.")
@click.option("--quiet", callback=_checked(_parse_quiet), metavar="HH:MM-HH:MM",
              help="Quiet hours, local time (e.g. 20:00-08:00): only escalations go then.")
@click.option("--no-quiet", is_flag=True, help="No quiet hours.")
@click.option("--fallback", callback=_checked(_parse_fallback), metavar="CHANNEL:ADDRESS",
              help="Where notices go when the e-mail address keeps bouncing.")
@click.option("--no-fallback", is_flag=True, help="No fallback channel.")
@click.option("--fallback-after", type=Whole(1, 50), metavar="N",
              help="Permanent SMTP refusals of one notice before the fallback (default 3).")
@pass_env
def notify(env: Env, handle: str, mode: str | None, quiet: Any, no_quiet: bool,
           fallback: Any, no_fallback: bool, fallback_after: int | None) -> None:
    """How HANDLE is told; with no option, show it.

    \b
    Example:
      torchflow person notify wang.li --digest --quiet 20:00-08:00
      torchflow person notify wang.li --fallback webhook:https://hooks.example/wl \\
          --fallback-after 2
    """
    from torchflow.service.people import notify as absences

    if quiet is not None and no_quiet:
        raise usage_error(_("give --quiet or --no-quiet, not both"))
    if fallback is not None and no_fallback:
        raise usage_error(_("give --fallback or --no-fallback, not both"))
    changes: dict[str, Any] = {"notify": mode, "fallback_after": fallback_after}
    if quiet is not None or no_quiet:
        changes["quiet"] = quiet
    if fallback is not None or no_fallback:
        changes["fallback"] = fallback
    if mode is not None or fallback_after is not None or {"quiet", "fallback"} & changes.keys():
        result = absences.set_notify(env.app, env.actor(), handle, **changes)
    else:  # nothing to change: a read, open to anyone
        result = absences.notify_of(env.app, handle)
    env.emit(result, lambda r: _(
        "{handle}: {notify}, quiet {quiet}, fallback {fallback} after {n} refusal(s)",
        handle=r["handle"], notify=code(r["notify"]), quiet=r["quiet"] or _("none"),
        fallback=r["fallback"], n=r["fallback_after"]) if r["fallback"] else _(
        "{handle}: {notify}, quiet {quiet}, fallback {fallback}", handle=r["handle"],
        notify=code(r["notify"]), quiet=r["quiet"] or _("none"), fallback=_("none")))


COMMANDS = (away, back, notify)
