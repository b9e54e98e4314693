"""`torchflow person away|back|notify`: absences with substitutes, and how each
person is told (attached to the `person` group in cli/main.py)."""

from __future__ import annotations

from datetime import date

import click

from torchflow.cli.context import Env, code, pass_env
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
    result = env.call("person.away", handle=handle, starts=starts, ends=ends,
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
    result = env.call("person.back", handle=handle)
    env.emit(result, lambda r: _("{handle} back on {day} ({n} absence(s) ended)",
                                 handle=r["handle"], day=r["back_on"], n=r["ended"]))


@click.command("notify")
@click.argument("handle")
@click.option("--each", "mode", flag_value="each", help="Every notice as it falls due.")
@click.option("--digest", "mode", flag_value="digest",
              help="Upcoming and due notices folded into the daily digest.")
@click.option("--quiet", metavar="HH:MM-HH:MM",
              help="Quiet hours, local time (e.g. 20:00-08:00): only escalations go then.")
@click.option("--no-quiet", is_flag=True, help="No quiet hours.")
@click.option("--fallback", metavar="CHANNEL:ADDRESS",
              help="Where notices go when the e-mail address keeps bouncing.")
@click.option("--no-fallback", is_flag=True, help="No fallback channel.")
@click.option("--fallback-after", type=Whole(1, 50), metavar="N",
              help="Permanent SMTP refusals of one notice before the fallback (default 3).")
@pass_env
def notify(env: Env, handle: str, mode: str | None, quiet: str | None, no_quiet: bool,
           fallback: str | None, no_fallback: bool, fallback_after: int | None) -> None:
    """How HANDLE is told; with no option, show it.

    \b
    Example:
      torchflow person notify wang.li --digest --quiet 20:00-08:00
      torchflow person notify wang.li --fallback webhook:https://hooks.example/wl \\
          --fallback-after 2
    """
    if any((mode, quiet is not None, no_quiet, fallback is not None, no_fallback,
            fallback_after is not None)):
        result = env.call("person.notify_set", handle=handle, notify=mode, quiet=quiet,
                          no_quiet=no_quiet or None, fallback=fallback,
                          no_fallback=no_fallback or None, fallback_after=fallback_after)
    else:  # nothing to change: a read, open to anyone
        result = env.call("person.notify", handle=handle)
    env.emit(result, lambda r: _(
        "{handle}: {notify}, quiet {quiet}, fallback {fallback} after {n} refusal(s)",
        handle=r["handle"], notify=code(r["notify"]), quiet=r["quiet"] or _("none"),
        fallback=r["fallback"], n=r["fallback_after"]) if r["fallback"] else _(
        "{handle}: {notify}, quiet {quiet}, fallback {fallback}", handle=r["handle"],
        notify=code(r["notify"]), quiet=r["quiet"] or _("none"), fallback=_("none")))


COMMANDS = (away, back, notify)
