"""The CLI in-process: click's CliRunner against this test's config.toml, with
TORCHFLOW_NOW pinned and the demo's office (two coordinators, a director, a
Torch liaison, an expert) added through `torchflow person add`.

Who acts is the OS login (cli/context.py ``os_login``): `init` makes the test
process's own login the admin ``office.admin``, each of the office logs in with
a login named as their handle, and ``run(as_=HANDLE)`` runs the command as if
HANDLE's login had typed it (not through --as, which only admins may use).

Client mode: a test module marked ``pytest.mark.client`` runs each test twice,
embedded and against a real `torchflow serve` process on a Unix socket (with
--manual-clock, so TORCHFLOW_NOW travels). There the test process's own login
is office.admin through the socket (SO_PEERCRED) and ``run(as_=HANDLE)``
presents HANDLE's personal access token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from tests.conftest import STAFF, is_postgres
from tests.servers import running_server
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


# What a client's environment may say; anything else is the server's to hold.
CLIENT_ENV = {"TORCHFLOW_NOW", "TORCHFLOW_USER", "TORCHFLOW_CONFIG", "TORCHFLOW_JSON"}


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
    """Runs `torchflow --config <config_file> ...` with TORCHFLOW_NOW set; with
    ``server``, through that server (client mode), each person by their token."""

    def __init__(self, config: Path, now: str = NOW, server: str | None = None) -> None:
        self.config = config
        self.now = now
        self.runner = CliRunner()
        self.server = server
        self.tokens: dict[str, str] = {}

    @property
    def client(self) -> bool:
        return self.server is not None

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
        if self.server is not None:
            held = sorted(k for k in env or {} if k not in CLIENT_ENV)
            if held:
                pytest.skip(f"{', '.join(held)} is the server's own setting: a client's "
                            "changes nothing there")
            if as_ and as_ not in self.tokens:
                pytest.skip(f"the login {as_!r} is nobody's: through the server a caller is "
                            "a person's token or the socket's peer")
            environ.update({"TORCHFLOW_SERVER": self.server,
                            "TORCHFLOW_TOKEN": self.tokens[as_] if as_ else None})
        environ.update(env or {})
        # catch_exceptions=False: a crash fails the test instead of passing as "exit 1".
        login = (mock.patch("torchflow.cli.context.os_login", return_value=as_) if as_
                 and not self.client else nullcontext())  # else the process's own login
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of a module marked ``client`` run in both modes, but those that change
    what only the server holds (its config, its environment, its wall clock:
    ``wall``), marked ``embedded``, which a running server cannot see. Client mode
    runs on SQLite: the server's edge is the same on either database (its own
    tests, tests/acceptance/test_server.py, run on both), and CI's time is kept."""
    marks = metafunc.definition
    if ("cli_mode" in metafunc.fixturenames and marks.get_closest_marker("client")
            and not is_postgres()
            and not marks.get_closest_marker("embedded") and "wall" not in metafunc.fixturenames):
        metafunc.parametrize("cli_mode", ["embedded", "client"])


@pytest.fixture
def cli_mode() -> str:
    return "embedded"


@pytest.fixture
def cli(config_file: Path, cli_mode: str, tmp_path: Path) -> Iterator[Cli]:
    if cli_mode == "embedded":
        yield seed_office(Cli(config_file))
        return
    # init where the database is, as an office does, while the server starts
    with running_server(config_file, tmp_path, graceful=False,
                        meanwhile=lambda: Cli(config_file).ok("init", "--admin", ADMIN)
                        ) as server:
        tool = seed_office(Cli(config_file, server=server.unix), init=False)
        for handle, _, _ in STAFF:
            tool.tokens[handle] = tool.json("token", "create", handle)["token"]
        yield tool


def seed_office(tool: Cli, *, init: bool = True) -> Cli:
    """The first admin (this process's login) and the office, each with a login."""
    if init:
        tool.ok("init", "--admin", ADMIN)
    for handle, name, roles in STAFF:
        tool.ok("person", "add", handle, "--name", name, "--email", f"{handle}@zone.example.cn",
                "--login", handle, *(f"--role={role}" for role in roles))
    return tool
