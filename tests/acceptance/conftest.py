"""A second operating-system user for the acceptance tests: `nobody`, through
`runuser`, with an interpreter it can run.

`nobody` cannot run the interpreter in root's home, so the test session makes a
venv with Debian's /usr/bin/python3 (the same 3.11) whose .pth file adds this
test run's site-packages (where torchflow is installed, editable, with its
dependencies): nothing is downloaded or installed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

SYSTEM_PYTHON = Path("/usr/bin/python3")
RUNUSER = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin") or ""


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
        _make_venv(venv, purelib)
    # From "/", as the commands run: from the checkout, '' on sys.path would find
    # torchflow even when nobody cannot read the site-packages (a 0700 mktemp dir).
    probe = subprocess.run([RUNUSER, "-u", "nobody", "--", python, "-c", "import torchflow"],
                           capture_output=True, text=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot import torchflow from {purelib}: {probe.stderr.strip()}")
    return python


def _make_venv(venv: Path, purelib: str) -> None:
    """The venv built beside its place and renamed into it: pytest-xdist's workers
    may each make it at once, and a half-made venv is never seen."""
    staging = Path(f"{venv}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", staging], check=True)
    site = Path(subprocess.run([staging / "bin" / "python", "-c", "import sysconfig; print("
                                "sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # addsitedir also runs that folder's .pth files (the editable install's finder).
    (site / "torchflow-tests.pth").write_text(
        f"import site; site.addsitedir({purelib!r})\n", encoding="utf-8")
    try:
        staging.rename(venv)
    except OSError:  # another worker's venv got there first: use that one
        shutil.rmtree(staging, ignore_errors=True)
