"""`torchflow serve`: the server that holds the office's keys (docs/deployment.md)."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import click

from torchflow.cli.context import Env, pass_env
from torchflow.i18n import _


@click.command()
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Listen on this Unix socket (mode 0660, [serve] socket_group).")
@click.option("--host", help="TCP address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="TCP port to listen on.")
@click.option("--no-scheduler", is_flag=True,
              help="Do not run the scheduler here (`scheduler run` services do it).")
@click.option("--manual-clock", is_flag=True,
              help="Simulate time: each client's TORCHFLOW_NOW is honoured (demos, tests).")
@click.option("--check", "check_only", is_flag=True,
              help="Check the whole configuration, say what is wrong, and exit.")
@pass_env
def serve(env: Env, socket_path: Path | None, host: str | None, port: int | None,
          no_scheduler: bool, manual_clock: bool, check_only: bool) -> None:
    """Serve the API to the office's CLIs: the one process holding the database,
    the workflows, the calendar, the channel secrets, the clock and the scheduler.

    \b
    Example:
      torchflow --config /etc/torchflow/config.toml serve --socket /run/torchflow/torchflow.sock
      torchflow serve --port 8080 --check
    """
    env.local("serve")
    try:
        from torchflow.server import run
    except ModuleNotFoundError as exc:
        from torchflow.errors import ConfigError

        raise ConfigError(_("{module} is not installed; pip install 'torchflow[server]'",
                            module=exc.name)) from None
    where = run.listen_of(env.settings, socket_path, host, port)
    problems = run.check(env.app, where, scheduler=not no_scheduler)
    tr = env.tr
    for problem in problems:
        click.echo(tr(_("error: {problem}", problem=problem)), err=True)
    if problems:
        raise SystemExit(1)
    if check_only:
        click.echo(tr(_("configuration ok: database, workflows, calendar, channels, socket")
                      if where.socket else
                      _("configuration ok: database, workflows, calendar, channels")))
        return
    gc.enable()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # transitions says INFO twice per fired trigger (a state's callbacks done): noise
    # in the server's log, and a tenth of an advance's time in the server.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    raise SystemExit(run.serve(env.app, where, scheduler=not no_scheduler,
                               manual_clock=manual_clock))
