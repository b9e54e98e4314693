"""Who acts, as real processes of two operating-system users: root (this test
process, the first admin) and `nobody` (a coordinator's login), through
`runuser -u nobody`. Identity comes from the process's real uid, so setting
$USER or $LOGNAME (or naming someone with --as) does not make nobody an admin.

`nobody` cannot run the interpreter in root's home, so the test session makes a
venv with Debian's /usr/bin/python3 (the same 3.11) whose .pth file adds this
test run's site-packages (where torchflow is installed, editable, with its
dependencies): nothing is downloaded or installed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WORKFLOWS, is_postgres

NOW = "2026-03-04T09:30:00+08:00"
SYSTEM_PYTHON = Path("/usr/bin/python3")
RUNUSER = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin") or ""
FIELDS = ("enterprise=Qingneng Power Co.", "industry=new energy",
          "lead_source=torch center", "planned_investment=120000")


@pytest.fixture(scope="session")
def nobody_python() -> Path:
    """An interpreter `nobody` can run that imports this run's torchflow, or a skip."""
    if os.geteuid() != 0 or not RUNUSER or not SYSTEM_PYTHON.exists():
        pytest.skip("needs root, runuser and /usr/bin/python3 to act as a second OS user")
    purelib = sysconfig.get_paths()["purelib"]
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if version != str(tuple(sys.version_info[:2])):
        pytest.skip(f"/usr/bin/python3 is {version}, this run is {sys.version_info[:2]}")
    # One venv per site-packages, so parallel runs from other checkouts do not collide.
    venv = Path(f"/tmp/venv-nobody-{hashlib.sha256(purelib.encode()).hexdigest()[:8]}")
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", venv], check=True)
        site = Path(subprocess.run([python, "-c", "import sysconfig; print("
                                    "sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
        # addsitedir also runs that folder's .pth files (the editable install's finder).
        (site / "torchflow-tests.pth").write_text(
            f"import site; site.addsitedir({purelib!r})\n", encoding="utf-8")
    # From "/", as the commands run: from the checkout, '' on sys.path would find
    # torchflow even when nobody cannot read the site-packages (a 0700 mktemp dir).
    probe = subprocess.run([RUNUSER, "-u", "nobody", "--", python, "-c", "import torchflow"],
                           capture_output=True, text=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot import torchflow from {purelib}: {probe.stderr.strip()}")
    return python


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
        "错误：wang.li 无权添加人员（`person add`、`import people`）：需要“系统管理员”角色"
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
