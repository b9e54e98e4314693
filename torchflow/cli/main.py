"""The `torchflow` command: global options, the command tree, error handling.

Only click is imported at start-up; each command imports the layers it needs
when it runs, so `--help` and shell completion stay fast.
"""

from __future__ import annotations

import gc
import importlib
import os
from typing import Any

import click

from torchflow.cli.context import (
    JSON_AFTER,
    Env,
    OneLineUsage,
    handle_errors,
    office_translator,
    usage_message,
)
from torchflow.i18n import _

# Each top-level command and the module that defines it, imported when the command
# is run or listed (click's lazy subcommands): `case show` loads the cases'
# commands, not the other nineteen modules and what they import.
COMMANDS = {
    "agenda": "torchflow.cli.single:agenda",
    "audit": "torchflow.cli.audit:audit",
    "calendar": "torchflow.cli.calendar:calendar",
    "case": "torchflow.cli.case:case",
    "channel": "torchflow.cli.channel:channel",
    "demo": "torchflow.cli.single:demo",
    "enterprise": "torchflow.cli.enterprise:enterprise",
    "export": "torchflow.cli.sheets:export",
    "import": "torchflow.cli.sheets:import_",
    "init": "torchflow.cli.single:init",
    "notice": "torchflow.cli.notice:notice",
    "person": "torchflow.cli.person:person",
    "replan": "torchflow.cli.calendar:replan",
    "report": "torchflow.cli.report:report",
    "request": "torchflow.cli.request:request",
    "scheduler": "torchflow.cli.scheduler:scheduler",
    "serve": "torchflow.cli.serve:serve",
    "task": "torchflow.cli.task:task",
    "token": "torchflow.cli.token:token",
    "workflow": "torchflow.cli.workflow:workflow",
}


class TorchflowGroup(click.Group):
    """Loads its commands when they are used, and turns every TorchflowError into
    one line on stderr and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _sep, attr = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attr)
            _json_after(command)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:
            if not _is_utf8(arg):
                raise OneLineUsage(_("argument {arg!r} is not valid UTF-8; type it again in a "
                                     "UTF-8 terminal",
                                     arg=arg.encode("utf-8", "replace").decode()),
                                   ctx, office_translator(_early_env(args)))
        given = list(args)  # click's parser consumes the list it is handed
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if isinstance(exc, OneLineUsage):
                raise
            raise OneLineUsage(usage_message(exc), exc.ctx,
                               office_translator(_early_env(given))) from None

    def invoke(self, ctx: click.Context) -> Any:
        # A subcommand unknown is found before the group's callback makes the Env.
        # The Env's language: in client mode, the server's once it has answered.
        with handle_errors(lambda: (
                ctx.find_object(Env) or Env(ctx.params.get("config_path"), None, False)).tr):
            return super().invoke(ctx)


def _early_env(args: list[str]) -> Env | None:
    """The config named on a command line that could not be parsed, to say what
    was wrong in the office's language (else the default one)."""
    path = None
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            path = args[i + 1]
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
    if path is None and not os.environ.get("TORCHFLOW_CONFIG") \
            and not os.path.exists("config.toml"):
        return None
    return Env(config_path=path, user=None, as_json=False)


def _is_utf8(arg: str) -> bool:
    # click decodes argv with surrogateescape: bytes that are not UTF-8 become
    # lone surrogates, which no database or terminal accepts.
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_after(command: click.Command) -> None:
    """`--json` after any subcommand means what the global one means."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _json_after(sub)
    elif not any(p.name == "json" for p in command.params):
        command.params.append(JSON_AFTER)


@click.group(cls=TorchflowGroup, context_settings={"auto_envvar_prefix": "TORCHFLOW",
                                                    "help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="TORCHFLOW_CONFIG",
              help="config.toml to use (default: ./config.toml, or TORCHFLOW_CONFIG).")
@click.option("--as", "user", metavar="HANDLE", envvar="TORCHFLOW_USER",
              help="Act as this person (admins only; default: the person of your "
                   "login, or TORCHFLOW_USER).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.version_option(package_name="torchflow")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, user: str | None, as_json: bool) -> None:
    """Follow the cooperation matters of a city and the Torch programme.

    \b
    Cases move through workflows defined in workflows/*.toml; while a case sits
    in a state, torchflow keeps its contacts, visits and deadlines scheduled.

    \b
    Example:
      torchflow init
      torchflow --as wang.li case open project_introduction --title "Hydrogen fuel cells" \\
          --field enterprise="Qingneng Co." --field industry="new energy" \\
          --field lead_source="torch center" --field planned_investment=120000
    """
    ctx.obj = Env(config_path=config_path, user=user, as_json=as_json)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    # A command runs for a fraction of a second and leaves little cyclic garbage;
    # collecting while SQLAlchemy's modules load costs a tenth of the start-up.
    # Long-running commands (scheduler run, demo) turn collection back on.
    gc.disable()
    cli(prog_name="torchflow")
