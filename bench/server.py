"""The server: a client command's start-up, and advances through the API.

1. ``torchflow case show KEY`` in client mode (TORCHFLOW_SERVER naming a running
   ``torchflow serve`` on a Unix socket) against the same command embedded
   (target: client <= 1.0x embedded), with the import floor of click,
   SQLAlchemy and transitions reported beside them. Fresh processes, interleaved
   in a rotating order, medians.
2. Advances per second through the HTTP API (one keep-alive connection per
   client, ``POST /api/v1/cases/KEY/advance`` on the Unix socket, each client on
   its own case of the ping-pong workflow) against the service called
   in-process (``torchflow.service.cases.advance`` with the acting person
   resolved once, one thread per client) on its own copy of the same database,
   with 1 and 8 concurrent clients (target: >= 0.5x). Every request does what
   the server always does: resolve the caller (the socket's peer) and the
   acting person, check the parameters, run the use case in a worker thread,
   answer JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.advance import PINGPONG
from bench.startup import FLOOR, KEY, _env, _prepare, _script, _time
from bench.sweep import workdir, write_config

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
Log = Callable[[str], None]


class _Served:
    """`torchflow serve` on a Unix socket, for the length of a benchmark."""

    def __init__(self, config: Path, folder: Path, *args: str) -> None:
        self.socket = folder / "tf.sock"
        env = {**_env(), "PYTHONUNBUFFERED": "1"}
        self.log = open(folder / "server.log", "w", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*_script(), "--config", str(config), "serve", "--socket", str(self.socket),
             "--no-scheduler", *args], stdout=self.log, stderr=subprocess.STDOUT, env=env,
            cwd=folder)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {(folder / 'server.log').read_text()}")
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(self.socket))
                    return
                except OSError:
                    time.sleep(0.05)
        raise RuntimeError("the server did not start within 30 s")

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()


def _startup(quick: bool, log: Log) -> list[dict[str, Any]]:
    rounds = 7 if quick else 21
    folder = workdir() / "server-startup"
    config = _prepare(folder)
    served = _Served(config, folder)
    try:
        tf, env = _script(), _env()
        client_env = {**env, "TORCHFLOW_SERVER": f"unix:{served.socket}"}
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "floor": ([sys.executable, "-c", FLOOR], env),
            "embedded": ([*tf, "--config", str(config), "case", "show", KEY], env),
            "client": ([*tf, "case", "show", KEY], client_env),
        }
        for cmd, e in commands.values():
            _time(cmd, e, folder)
        times: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for r in range(rounds):
            for name in names[r % 3:] + names[:r % 3]:
                cmd, e = commands[name]
                times[name].append(_time(cmd, e, folder))
    finally:
        served.close()
    med = {name: statistics.median(v) for name, v in times.items()}
    log("  medians: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in med.items()))
    return [
        {"name": "case show KEY, client mode", "value": med["client"], "unit": "s",
         "baseline": med["embedded"], "baseline_name": "the same command embedded",
         "check": ("ratio<=", 1.0),
         "note": f"median of {rounds}, through a running server on a Unix socket; the import "
                 f"floor ({FLOOR}) was {med['floor'] * 1000:.0f} ms, so client mode is "
                 f"{med['client'] / med['floor']:.2f}x the floor"},
    ]


def _database(folder: Path, clients: int) -> tuple[Path, list[str]]:
    """A database with ``clients`` ping-pong cases, and its config."""
    from torchflow.config import load_settings
    from torchflow.service.app import build_app
    from torchflow.service.cases.change import open_case
    from torchflow.service.people.lookup import resolve_actor
    from torchflow.service.people.staff import add_person
    from torchflow.store.migrate import upgrade

    folder.mkdir(parents=True)
    workflows = folder / "workflows"
    workflows.mkdir()
    (workflows / "pingpong.toml").write_text(PINGPONG, encoding="utf-8")
    config = write_config(folder, folder / "torchflow.db", workflows)
    app = build_app(load_settings(config, env={}), clock=lambda: NOW, create=True)
    try:
        upgrade(app.db)
        login = _login()
        add_person(app, "wang.li", name="Wang Li", roles=["coordinator"], logins=[login])
        actor = resolve_actor(app, "wang.li")
        keys = [open_case(app, actor, "pingpong", title=f"ping-pong {i}")["key"]
                for i in range(clients)]
    finally:
        app.close()
    return config, keys


def _login() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _api_rate(sock: Path, keys: list[str], n: int) -> float:
    """Advances/s of ``len(keys)`` clients, each ``n`` advances on its own case."""

    def client(key: str, barrier: threading.Barrier, errors: list[str]) -> None:
        from torchflow.api.client import UnixConnection

        conn = UnixConnection(str(sock), 60)
        state = "a"
        barrier.wait()
        try:
            for _ in range(n):
                trigger = "to_b" if state == "a" else "to_a"
                conn.request("POST", f"/api/v1/cases/{key}/advance",
                             body=json.dumps({"trigger": trigger}),
                             headers={"Content-Type": "application/json",
                                      "Torchflow-Now": NOW.isoformat()})
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    errors.append(body.decode())
                    return
                state = json.loads(body)["to_state"]
        finally:
            conn.close()

    return _threads(keys, client)


def _service(config: Path) -> tuple[Any, Any]:
    """The application and the acting person of the in-process side, built once
    for all its rounds, as the server builds its own once."""
    from torchflow.config import load_settings
    from torchflow.service.app import build_app
    from torchflow.service.people.lookup import resolve_actor

    app = build_app(load_settings(config, env={}), clock=lambda: NOW)
    return app, resolve_actor(app, "wang.li")


def _service_rate(service: tuple[Any, Any], keys: list[str], n: int) -> float:
    from torchflow.service.cases.change import advance

    app, actor = service

    def client(key: str, barrier: threading.Barrier, errors: list[str]) -> None:
        state = "a"
        barrier.wait()
        try:
            for _ in range(n):
                trigger = "to_b" if state == "a" else "to_a"
                state = advance(app, actor, key, trigger).to_state
        except Exception as exc:  # said by _threads, after every thread has ended
            errors.append(repr(exc))

    return _threads(keys, client)


def _threads(keys: list[str], client: Callable[..., None]) -> float:
    """Start one thread per key, time from the barrier to the last one done."""
    barrier = threading.Barrier(len(keys) + 1)
    errors: list[str] = []
    threads = [threading.Thread(target=client, args=(k, barrier, errors)) for k in keys]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"an advance failed: {errors[0][:500]}")
    return elapsed


def _throughput(quick: bool, log: Log) -> list[dict[str, Any]]:
    figures = []
    rounds = 3 if quick else 7
    for clients in (1, 8):
        n = (100 if quick else 320) // clients // 2 * 2  # even: each case ends in state a
        base = workdir() / f"server-advance-{clients}"
        api_config, api_keys = _database(base / "api", clients)
        svc_config, svc_keys = _database(base / "service", clients)
        served = _Served(api_config, base / "api", "--manual-clock")
        service = _service(svc_config)
        api: list[float] = []
        svc: list[float] = []
        try:
            # Warm-up, both sides alike: the worker threads, the pools, the statement
            # caches, the workflow's compiled machine, the pages of both databases.
            _api_rate(served.socket, api_keys, 40)
            _service_rate(service, svc_keys, 40)
            for r in range(rounds):  # interleaved, the order alternating
                for side in ("api", "svc") if r % 2 == 0 else ("svc", "api"):
                    if side == "api":
                        api.append(n * clients / _api_rate(served.socket, api_keys, n))
                    else:
                        svc.append(n * clients / _service_rate(service, svc_keys, n))
        finally:
            served.close()
            service[0].close()
            shutil.rmtree(base, ignore_errors=True)
        ratios = sorted(a / s for a, s in zip(api, svc, strict=True))
        log(f"  {clients} client(s): API {statistics.median(api):,.0f}/s, in-process "
            f"{statistics.median(svc):,.0f}/s; round ratios "
            + ", ".join(f"{r:.2f}" for r in ratios))
        figures.append({
            "name": f"advances through the API, {clients} client(s)",
            "value": statistics.median(api), "unit": "/s", "baseline": statistics.median(svc),
            "baseline_name": f"service.cases.advance in-process, {clients} thread(s)",
            "check": ("ratio>=", 0.5),
            "note": f"medians of {rounds} interleaved rounds of {n * clients} advances a side "
                    f"(ping-pong workflow, file SQLite, one case per client); the rounds' "
                    f"ratios {ratios[0]:.2f}-{ratios[-1]:.2f}, median "
                    f"{statistics.median(ratios):.2f}; each request: peer credentials, the "
                    f"acting person, parameters checked, the use case in a worker thread",
        })
    return figures


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    return _startup(quick, log) + _throughput(quick, log)
