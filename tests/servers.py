"""A real `torchflow serve` process for a test: on a Unix socket and/or a TCP
port of 127.0.0.1, stopped (SIGTERM, then SIGKILL) when the test ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_SECONDS = 30.0  # a cold interpreter on a busy 2-core machine
STOP_SECONDS = 15.0


@dataclass
class Server:
    process: subprocess.Popen[str]
    socket: Path | None
    port: int | None
    log: Path

    @property
    def unix(self) -> str:
        return f"unix:{self.socket}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(config: Path, folder: Path, *, unix: bool = True, port: int | None = None,
                   args: tuple[str, ...] = ("--manual-clock", "--no-scheduler"),
                   env: dict[str, str] | None = None, python: str = sys.executable,
                   meanwhile: Callable[[], object] | None = None, graceful: bool = True
                   ) -> Iterator[Server]:
    """`torchflow --config CONFIG serve` in its own process, until the block ends.
    ``meanwhile`` runs while the server starts; without ``graceful`` it is killed
    at the end instead of being asked to stop (a test that does not test stopping)."""
    sock = folder / "tf.sock" if unix else None
    log = folder / "server.log"
    argv = [python, "-m", "torchflow", "--config", str(config), "serve", *args]
    if sock is not None:
        argv += ["--socket", str(sock)]
    if port is not None:
        argv += ["--port", str(port)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
    environ.update({"TORCHFLOW_WEBHOOK_SECRET": "cli-test-secret", **(env or {})})
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True,
                                   env=environ, cwd=folder)
    server = Server(process, sock, port, log)
    try:
        if meanwhile is not None:
            meanwhile()
        _wait_ready(server)
        yield server
    finally:
        if graceful:
            _stop(process)
        else:
            process.kill()
            process.wait(STOP_SECONDS)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited {server.process.returncode}:\n"
                                 f"{server.output()}")
        if _accepts(server):
            return
        time.sleep(0.05)  # polling for the process to bind, not waiting for business time
    raise AssertionError(f"the server did not listen within {START_SECONDS} s:\n"
                         f"{server.output()}")


def _accepts(server: Server) -> bool:
    family, address = ((socket.AF_UNIX, str(server.socket)) if server.socket is not None
                       else (socket.AF_INET, ("127.0.0.1", server.port)))
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(address)  # type: ignore[arg-type]
        except OSError:
            return False
    return True


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)
