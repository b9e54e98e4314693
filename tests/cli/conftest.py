"""The CLI in-process: click's CliRunner against this test's config.toml, with
TORCHFLOW_NOW pinned and the demo's office (two coordinators, a director, a
Torch liaison, an expert) added through `torchflow person add`.

Who acts is the OS login (cli/context.py ``os_login``): `init` makes the test
process's own login the admin ``office.admin``, each of the office logs in with
a login named as their handle, and ``run(as_=HANDLE)`` runs the command as if
HANDLE's login had typed it (not through --as, which only admins may use)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from tests.conftest import STAFF
from torchflow.cli.main import cli as torchflow

ADMIN = "office.admin"  # the test process's own login, made admin by `init`

# A Wednesday morning in Beijing, inside the officially covered calendar.
NOW = "2026-03-04T09:30:00+08:00"

PI_FIELDS = (
    "enterprise=Qingneng Power Co. · 清能动力",
    "industry=new energy",
    "lead_source=torch center",
    "planned_investment=120000",
)


@dataclass(frozen=True)
class Run:
    """One invocation: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def data(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs `torchflow --config <config_file> ...` with TORCHFLOW_NOW set."""

    def __init__(self, config: Path, now: str = NOW) -> None:
        self.config = config
        self.now = now
        self.runner = CliRunner()

    def run(self, *args: object, as_: str | None = None, json: bool = False,
            now: str | None = None, env: dict[str, str | None] | None = None,
            config: bool = True) -> Run:
        argv = ["--config", str(self.config)] if config else []
        if json:
            argv.append("--json")
        argv += [str(a) for a in args]
        environ: dict[str, str | None] = {
            "TORCHFLOW_NOW": now or self.now, "TORCHFLOW_USER": None, "TORCHFLOW_CONFIG": None,
            "TORCHFLOW_DATABASE_URL": None, "TORCHFLOW_JSON": None,
            # A webhook channel needs its secret (or allow_unsigned) to start.
            "TORCHFLOW_WEBHOOK_SECRET": "cli-test-secret",
        }
        environ.update(env or {})
        # catch_exceptions=False: a crash fails the test instead of passing as "exit 1".
        login = (mock.patch("torchflow.cli.context.os_login", return_value=as_) if as_
                 else nullcontext())  # no as_: the test process's real login (office.admin)
        with login:
            result = self.runner.invoke(torchflow, argv, env=environ, catch_exceptions=False,
                                        prog_name="torchflow")
        assert "Traceback" not in result.stderr
        return Run(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: object, **kwargs: Any) -> Run:
        run = self.run(*args, **kwargs)
        assert run.code == 0, f"exit {run.code}: {run.err}"
        return run

    def json(self, *args: object, **kwargs: Any) -> Any:
        return self.ok(*args, json=True, **kwargs).data

    def refused(self, *args: object, **kwargs: Any) -> str:
        """Exit 1, nothing on stdout, exactly one line on stderr: that line."""
        run = self.run(*args, **kwargs)
        assert run.code == 1, f"exit {run.code}: {run.out}{run.err}"
        assert run.out == ""
        lines = run.err.splitlines()
        assert len(lines) == 1, run.err
        return lines[0]

    def usage(self, *args: object, **kwargs: Any) -> str:
        """Exit 2, nothing on stdout, one line on stderr that points to --help."""
        run = self.run(*args, **kwargs)
        assert run.code == 2, f"exit {run.code}: {run.out}{run.err}"
        assert run.out == ""
        [line] = run.err.splitlines()
        # In the config's language; Chinese (the default) when none is named.
        assert ((line.startswith("Error: ") and line.endswith(" --help`)"))
                or (line.startswith("错误：") and line.endswith(" --help`）"))), line
        return run.err

    # Shortcuts for the common walk through project_introduction.

    def open_pi(self, title: str = "Hydrogen fuel-cell stack plant", *, as_: str = "wang.li",
                owner: str | None = None, fields: tuple[str, ...] = PI_FIELDS,
                now: str | None = None) -> str:
        args: list[str] = ["case", "open", "project_introduction", "--title", title]
        for pair in fields:
            args += ["--field", pair]
        if owner:
            args += ["--owner", owner]
        data = self.json(*args, as_=as_, now=now)
        return str(data["key"])

    def to_negotiation(self, key: str, *, as_: str = "wang.li") -> None:
        self.ok("case", "advance", key, "make_contact", as_=as_)
        self.ok("case", "advance", key, "negotiate", "--field", "contact_person=Ms. Li, CFO",
                as_=as_)

    def open_tasks(self, key: str) -> dict[str, dict[str, Any]]:
        """The case's open tasks by rule, from `case show --json`."""
        return {t["rule"]: t for t in self.json("case", "show", key)["tasks"]}


@pytest.fixture
def cli(config_file: Path) -> Cli:
    return seed_office(Cli(config_file))


def seed_office(tool: Cli) -> Cli:
    """The first admin (this process's login) and the office, each with a login."""
    tool.ok("init", "--admin", ADMIN)
    for handle, name, roles in STAFF:
        tool.ok("person", "add", handle, "--name", name, "--email", f"{handle}@zone.example.cn",
                "--login", handle, *(f"--role={role}" for role in roles))
    return tool
