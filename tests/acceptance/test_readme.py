"""README's "A coordinator's day" and "An office's set-up", run from the README
text itself: every shell block of the two, in order, as real processes in a temporary copy of the
repository's config.toml and workflows. A command shown with `# Error: ...`
under it must be refused with that one line; one shown with `# <output>` must
print it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, is_postgres

README = ROOT / "README.md"
SECTIONS = ("## A coordinator's day", "## An office's set-up")
TIMEOUT = 60


@dataclass
class Step:
    command: str
    error: str | None = None
    output: list[str] = field(default_factory=list)


def walkthrough(text: str) -> list[Step]:
    """The commands of the sections' ```sh blocks, with what each is shown to print."""
    steps: list[Step] = []
    for title in SECTIONS:
        section = text.split(title, 1)[1].split("\n## ", 1)[0]
        for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
            _parse_block(block, steps)
    return steps


def _parse_block(block: str, steps: list[Step]) -> None:
    pending = ""
    for line in block.splitlines():
        if pending:
            pending += "\n" + line
        elif line.startswith(("# Error: ", "# 错误：")):
            steps[-1].error = line.removeprefix("# Error: ").removeprefix("# 错误：")
            continue
        elif line.startswith("#        ") and steps and steps[-1].error is not None:
            # A long error shown wrapped: Chinese runs on without a space.
            space = "" if steps[-1].error[-1] >= "\u2e80" else " "
            steps[-1].error += space + line[1:].strip()
            continue
        elif line.startswith("# "):
            steps[-1].output.append(line.removeprefix("# "))
            continue
        elif line.strip():
            pending = line
        if pending and not pending.endswith("\\"):
            steps.append(Step(pending))
            pending = ""
    assert not pending, f"a block ends inside a command: {pending!r}"


def expected_error(shown: str) -> re.Pattern[str]:
    """The shown error as a pattern: '(...)' stands for a detail the README leaves out."""
    parts = [re.escape(p) for p in shown.split("(...)")]
    return re.compile(r"(Error: |错误：)" + r"[(（].*?[)）]".join(parts))


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def office_shell(folder: Path, now: str = "2026-03-04T09:30:00+08:00"
                 ) -> Callable[[str], str]:
    """A shell in ``folder`` holding the repository's config.toml and workflows,
    this run's torchflow first on PATH and business time pinned: each command
    must succeed without a word on stderr; it gives back what it printed."""
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    shutil.copytree(ROOT / "workflows", folder / "workflows")
    bindir = Path(shutil.which("torchflow") or "").parent
    env = environment()
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["TORCHFLOW_NOW"] = now

    def run(command: str) -> str:
        done = subprocess.run(["bash", "-c", command], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
        assert done.returncode == 0 and not done.stderr, (command, done.stdout, done.stderr)
        return done.stdout

    return run


def export(command: str, env: dict[str, str]) -> bool:
    """`export NAME=value` changes the environment of the commands after it."""
    words = shlex.split(command, comments=True)
    if not words or words[0] != "export":
        return False
    for word in words[1:]:
        name, _, value = word.partition("=")
        env[name] = value
    return True


def test_the_walkthrough_parses() -> None:
    steps = walkthrough(README.read_text(encoding="utf-8"))
    commands = [s.command.split()[0] for s in steps]
    assert set(commands) == {"torchflow", "export"}
    assert any(s.error for s in steps)
    assert steps[0].command.startswith("export TORCHFLOW_NOW=")  # dates only mean something then


@pytest.mark.skipif(is_postgres(), reason="the walkthrough uses the SQLite default of config.toml")
def test_every_command_of_the_walkthrough_works_when_pasted_in_order(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    shutil.copytree(ROOT / "workflows", tmp_path / "workflows")
    bindir = Path(shutil.which("torchflow") or "").parent
    env = environment()
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    for step in walkthrough(README.read_text(encoding="utf-8")):
        if export(step.command, env):
            continue
        done = subprocess.run(["bash", "-c", step.command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
        assert "Traceback" not in done.stderr, (step.command, done.stderr)
        if step.error is not None:
            assert done.returncode == 1, (step.command, done.stdout, done.stderr)
            assert done.stderr.count("\n") == 1, done.stderr
            assert expected_error(step.error).fullmatch(done.stderr.strip()), done.stderr
            continue
        assert done.returncode == 0, (step.command, done.stdout, done.stderr)
        for line in step.output:
            assert line in done.stdout.splitlines(), (step.command, done.stdout)
    assert (tmp_path / "audit-2026-04-02.json").is_file()
