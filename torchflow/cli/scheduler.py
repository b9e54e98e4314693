"""`torchflow scheduler ...`: the service that turns due tasks into notices."""

from __future__ import annotations

import gc
import logging

import click

from torchflow.cli.context import Env, pass_env
from torchflow.i18n import _


@click.group()
def scheduler() -> None:
    """Run the notice service, or one tick of it.

    \b
    Example:
      torchflow scheduler run
      torchflow scheduler tick
    """


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")


@scheduler.command("run")
@pass_env
def run(env: Env) -> None:
    """Sweep and dispatch on the configured interval until SIGTERM or Ctrl-C.

    \b
    Example:
      torchflow --config /etc/torchflow/config.toml scheduler run
    """
    env.local("scheduler run")
    gc.enable()
    _logging()
    raise SystemExit(env.call("scheduler.run"))


@scheduler.command("tick")
@pass_env
def tick(env: Env) -> None:
    """One sweep and one dispatch, then exit (for cron, systemd timers, tests).
    SIGTERM or Ctrl-C finishes the send in flight, hands back the rest and exits 0.

    \b
    Example:
      TORCHFLOW_NOW=2026-12-01T09:30:00+08:00 torchflow scheduler tick
    """
    _logging()
    result = env.call("scheduler.tick")
    s, d = result["sweep"], result["dispatch"]
    env.emit(result,
             _("swept {tasks} task(s): {notices} notice(s), {digests} digest(s); sent {sent}, "
               "failed {failed}, dead {dead}", tasks=s["tasks"], notices=s["notices"],
               digests=s["digests"], sent=d["sent"], failed=d["failed"], dead=d["dead"]))
