"""Who acts, as real processes of two operating-system users: root (this test
process, the first admin) and `nobody` (a coordinator's login), through
`runuser -u nobody`. Identity comes from the process's real uid, so setting
$USER or $LOGNAME (or naming someone with --as) does not make nobody an admin.

`nobody` cannot run the interpreter in root's home, so the test session makes a
venv with Debian's /usr/bin/python3 (the same 3.11) whose .pth file adds this
test run's site-packages (where torchflow is installed, editable, with its
dependencies): nothing is downloaded or installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import RUNUSER
from tests.conftest import WORKFLOWS, is_postgres

NOW = "2026-03-04T09:30:00+08:00"
FIELDS = ("enterprise=Qingneng Power Co.", "industry=new energy",
          "lead_source=torch center", "planned_investment=120000")


@pytest.fixture
def office(database_url: str) -> Iterator[Path]:
    """A folder and config that nobody may read and write, on this test's database."""
    folder = Path(tempfile.mkdtemp(prefix="tf-os-users-"))
    try:
        folder.chmod(0o777)
        url = database_url
        if not is_postgres():
            path = folder / "torchflow.db"
            shutil.copyfile(database_url.removeprefix("sqlite:///"), path)
            path.chmod(0o666)
            url = f"sqlite:///{path}"
        config = folder / "config.toml"
        config.write_text(f'[database]\nurl = "{url}"\n\n[workflows]\ndirectory = "{WORKFLOWS}"\n'
                          f'\n[notify.file]\npath = "{folder / "outbox.jsonl"}"\n',
                          encoding="utf-8")
        config.chmod(0o644)
        yield config
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(python: Path, config: Path, *args: str, user: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`torchflow --config CONFIG ARGS` as root, or as ``user`` through runuser."""
    environ = {"PATH": "/usr/bin:/bin", "TORCHFLOW_NOW": NOW, "PYTHONDONTWRITEBYTECODE": "1",
               **(env or {})}
    argv = [str(python), "-m", "torchflow", "--config", str(config), *args]
    if user:
        pairs = [f"{k}={v}" for k, v in environ.items()]
        argv = [RUNUSER, "-u", user, "--", "/usr/bin/env", *pairs, *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=environ,
                          cwd="/")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def ok(*args: Any, **kwargs: Any) -> str:
    proc = run(*args, **kwargs)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def refused(*args: Any, **kwargs: Any) -> str:
    proc = run(*args, **kwargs)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    return line


def test_a_second_os_user_acts_as_their_person_and_nothing_more(
    nobody_python: Path, office: Path
) -> None:
    py = nobody_python
    # root runs init: the first admin, named for the login.
    first = json.loads(ok(py, office, "--json", "init"))
    assert first["admin"] == "root"
    ok(py, office, "person", "add", "wang.li", "--name", "Wang Li", "--role", "coordinator",
       "--login", "nobody")
    ok(py, office, "person", "add", "chen.jie", "--name", "Chen Jie", "--role", "director")

    # nobody is wang.li: no --as, no TORCHFLOW_USER.
    opened = json.loads(ok(py, office, "--json", "case", "open", "project_introduction",
                           "--title", "Hydrogen plant",
                           *[a for f in FIELDS for a in ("--field", f)], user="nobody"))
    key = opened["key"]
    # $USER and $LOGNAME say root: ignored, the real uid is nobody's.
    ok(py, office, "case", "note", key, "called the CFO", user="nobody",
       env={"USER": "root", "LOGNAME": "root"})
    # The office speaks Chinese (no [office] in its config): refusals name the role
    # as roles.toml does.
    assert refused(py, office, "--as", "chen.jie", "case", "note", key, "as the director",
                   user="nobody") == (
        "错误：wang.li 无权以他人身份操作（`--as`、TORCHFLOW_USER）：需要“系统管理员”角色"
        "（见 `torchflow person roles`）")
    assert refused(py, office, "case", "note", key, "x", user="nobody",
                   env={"TORCHFLOW_USER": "root", "USER": "root"}).startswith(
        "错误：wang.li 无权以他人身份操作")
    assert refused(py, office, "person", "add", "zhao.min", "--name", "Zhao Min",
                   "--role", "admin", user="nobody") == (
        "错误：wang.li 无权添加人员（`person add`）：需要“系统管理员”角色"
        "（见 `torchflow person roles`）")
    assert refused(py, office, "person", "edit", "wang.li", "--add-role", "admin",
                   user="nobody").startswith("错误：wang.li 无权授予或收回角色")

    # root, an admin, enters a note for the director: both are recorded.
    ok(py, office, "--as", "chen.jie", "case", "note", key, "signed on paper")
    history = json.loads(ok(py, office, "--json", "case", "history", key, user="nobody"))
    assert [(e["actor"], e["entered_by"]) for e in history["events"]] == [
        ("wang.li", None), ("wang.li", None), ("chen.jie", "root")]
    text = ok(py, office, "case", "history", key, user="nobody")
    assert "chen.jie（root 代录）" in text
    people = json.loads(ok(py, office, "--json", "person", "list"))["items"]
    assert [p["handle"] for p in people] == ["chen.jie", "root", "wang.li"]
    assert json.loads(ok(py, office, "--json", "audit", "verify"))["ok"] is True
