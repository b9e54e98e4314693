"""Real `torchflow scheduler run` processes for the tests here, never left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TORCHFLOW = str(Path(sys.executable).with_name("torchflow"))
NOW = "2026-03-04T09:00:00+08:00"  # the clock fixture's start: the notices are due
SECRET = "process-test-secret"


class Services:
    """Starts `torchflow scheduler run` processes and never leaves one behind."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopped: set[str] = set()

    def start(self, name: str, config: Path, now: str,
              extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
        env.update(TORCHFLOW_NOW=now, PYTHONUNBUFFERED="1", TORCHFLOW_WEBHOOK_SECRET=SECRET,
                   **(extra or {}))
        with open(self.logs / f"{name}.log", "wb") as log:
            proc = subprocess.Popen([TORCHFLOW, "--config", str(config), "scheduler", "run"],
                                    env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        self.stopped.add(name)
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def terminate(self, name: str, timeout: float = 30) -> int:
        self.stopped.add(name)
        self.procs[name].send_signal(signal.SIGTERM)
        return self.procs[name].wait(timeout=timeout)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def all_logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{self.log(n)[-3000:]}" for n in self.procs)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if name not in self.stopped and proc.poll() is not None:
                pytest.fail(f"service {name} exited with {proc.returncode}\n{self.all_logs()}")

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    running = Services(tmp_path)
    try:
        yield running
    finally:
        running.close()


