"""The read side of cases imports only what it reads (issue 19): `case show`,
`case list` and `case history` load no write side (no writer of cases, tasks or
notices, no planning, no transitions machine, no reports), and
showing one case reads no workflow file but its own version. Start-up time
itself is a benchmark (bench/startup.py), never a timed test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.conftest import WORKFLOWS

# What a read must not load: the write side and what only writing or sending needs.
WRITE_SIDE = ("transitions", "torchflow.domain.machine", "torchflow.domain.planning",
              "torchflow.domain.timeline", "torchflow.service.cases.change",
              "torchflow.service.cases.events", "torchflow.service.followups.writer",
              "torchflow.service.followups.work", "torchflow.service.delivery",
              "torchflow.service.workflows.definitions", "torchflow.reports",
              "torchflow.service.reports", "torchflow.service.sheets", "jinja2", "matplotlib")
# Nor the other commands' modules: the top-level commands load when they are run.
OTHER_COMMANDS = ("torchflow.cli.audit", "torchflow.cli.calendar", "torchflow.cli.person",
                  "torchflow.cli.report", "torchflow.cli.sheets", "torchflow.cli.scheduler")
# (The configured channels' modules load with the config, which reads each one's
# [notify.NAME] table through its module; what they send with loads when they send.)

PROBE = """\
import sys
from torchflow.cli.main import cli
try:
    cli(sys.argv[1:], prog_name="torchflow")
except SystemExit as exc:
    assert not exc.code, exc.code
loaded = sorted(m for m in sys.modules if any(m == w or m.startswith(w + ".") for w in {w!r}))
print("LOADED", loaded)
"""


def _loaded(config: Path, *args: str) -> tuple[str, list[str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
    environ["TORCHFLOW_NOW"] = "2026-03-04T09:30:00+08:00"
    probe = PROBE.format(w=WRITE_SIDE + OTHER_COMMANDS)
    proc = subprocess.run([sys.executable, "-c", probe, "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, env=environ)
    assert proc.returncode == 0, proc.stderr
    *shown, last = proc.stdout.splitlines()
    assert last.startswith("LOADED ")
    return "\n".join(shown), eval(last[len("LOADED "):])  # a list of module names


@pytest.mark.parametrize("command", [("case", "show"), ("case", "history"), ("case", "list")])
def test_the_read_side_loads_nothing_of_the_write_side(cli: Cli, command: tuple[str, ...]
                                                       ) -> None:
    key = cli.open_pi()
    cli.to_negotiation(key)
    args = (*command, key) if command != ("case", "list") else command
    shown, loaded = _loaded(cli.config, *args)
    assert key in shown
    assert loaded == []
    # The probe sees a write when there is one: the same probe on `case note` does.
    _, wrote = _loaded(cli.config, "--as", "wang.li", "case", "note", key, "probe")
    assert "torchflow.service.cases.change" in wrote


def test_showing_a_case_reads_no_other_workflow_file(cli: Cli, config_file: Path,
                                                      tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    # In Chinese, where names and codes differ.
    config_file.write_text(config_file.read_text(encoding="utf-8").replace(
        f'directory = "{WORKFLOWS}"', f'directory = "{folder}"').replace(
        'locale = "en"', 'locale = "zh-CN"'), encoding="utf-8")
    key = cli.open_pi()
    cli.to_negotiation(key)
    # Another file of the folder is broken now: the case shows with its own names.
    (folder / "zz_broken.toml").write_text("name = [", encoding="utf-8")
    shown = cli.ok("case", "show", key).out
    history = cli.ok("case", "history", key).out
    assert "流程：       项目引进，流程第 3 版" in shown
    assert "环节：       洽谈" in shown
    assert "完成初次接洽：线索 -> 初步接洽" in history
    names = cli.json("case", "show", key)["names"]
    assert names["states"]["negotiation"]["label"] == ["洽谈", "Negotiation"]
