"""Running the server: check the whole configuration, bind the Unix socket
(0660, the configured group) and/or the TCP address, serve with uvicorn, and
run the scheduler beside the requests until SIGTERM.

Several servers may share one PostgreSQL database (behind a proxy): every
exactly-once promise is kept by the database (leases claimed with SKIP LOCKED,
unique idempotency keys), not by there being one process.
"""

from __future__ import annotations

import grp
import logging
import os
import signal
import socket
import stat
from pathlib import Path
from typing import Any

from msgspec import Struct

from torchflow.api.invoke import ref
from torchflow.config import Settings
from torchflow.errors import ConfigError, TorchflowError
from torchflow.i18n import Text, _
from torchflow.server.app import Options, create_app
from torchflow.server.peer import protocol

log = logging.getLogger("torchflow.server")
SOCKET_MODE = 0o660
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Listen(Struct, frozen=True):
    socket: Path | None
    host: str
    port: int | None


def listen_of(settings: Settings, socket_path: Path | None, host: str | None,
              port: int | None) -> Listen:
    """The flags over the config's [serve]; at least one address is needed."""
    serve = settings.serve
    where = Listen(socket_path or serve.socket, host or serve.host,
                   port if port is not None else serve.port)
    if where.socket is None and where.port is None:
        raise ConfigError(_("give the server somewhere to listen: --socket PATH or --port N "
                            "(or [serve] socket / port in the config)"))
    if where.socket is not None and len(os.fsencode(where.socket)) > 100:
        raise ConfigError(_("the socket path {path} is too long for a Unix socket; use a "
                            "shorter one, e.g. /run/torchflow/torchflow.sock",
                            path=where.socket))
    return where


def check(app: Any, where: Listen, *, scheduler: bool) -> list[Text | str]:
    """Everything the server needs, each as one line: the database's schema, the
    workflows, the calendar files (read when the app was built), the channels'
    secrets, the socket's folder and group. Empty when all is well."""
    problems: list[Text | str] = []
    try:
        current, head = ref("store.current")(app.db), ref("store.head")()
        if current != head:
            problems.append(_("the database is at schema {current}, this release wants "
                              "{head}: run `torchflow init` with this config first",
                              current=current or "none", head=head))
    except TorchflowError as exc:
        problems.append(exc.text)
    found = ref("workflows.load")([app.settings.workflows_dir],
                                  workflows_dir=app.settings.workflows_dir, app=None)
    problems.extend(found.errors)
    if scheduler:
        try:
            ref("scheduler.service")(app).channels.check(ref("scheduler.channels")(app))
        except TorchflowError as exc:
            problems.append(exc.text)
    if where.socket is not None:
        problems.extend(_socket_problems(where.socket, app.settings.serve.socket_group))
    return problems


def _socket_problems(path: Path, group: str) -> list[Text | str]:
    problems: list[Text | str] = []
    if not path.parent.is_dir():
        problems.append(_("the socket's folder {folder} does not exist; make it "
                          "(systemd: RuntimeDirectory=torchflow)", folder=path.parent))
    elif not os.access(path.parent, os.W_OK):
        problems.append(_("the socket's folder {folder} is not writable by this user",
                          folder=path.parent))
    if group:
        try:
            grp.getgrnam(group)
        except KeyError:
            problems.append(_("[serve] socket_group '{group}' is not a group on this "
                              "machine", group=group))
    return problems


def bind(where: Listen, group: str) -> list[socket.socket]:
    """The listening sockets. A socket file left by a server that died is replaced;
    one a running server answers on is refused."""
    sockets = []
    if where.socket is not None:
        sockets.append(_unix(where.socket, group))
    if where.port is not None:
        family = socket.AF_INET6 if ":" in where.host else socket.AF_INET
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((where.host, where.port))
        except OSError as exc:
            tcp.close()
            raise ConfigError(_("cannot listen on {host}:{port}: {reason}", host=where.host,
                                port=where.port, reason=exc.strerror)) from None
        tcp.listen(128)
        sockets.append(tcp)
    return sockets


def _unix(path: Path, group: str) -> socket.socket:
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ConfigError(_("{path} exists and is not a socket; give another --socket",
                                path=path))
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            raise ConfigError(_("a server already listens on {path}; stop it first",
                                path=path))
        except OSError:
            path.unlink()  # left behind by a server that is gone
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)  # never a moment when others could connect
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise ConfigError(_("cannot listen on {path}: {reason}", path=path,
                            reason=exc.strerror)) from None
    finally:
        os.umask(old)
    if group:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    os.chmod(path, SOCKET_MODE)
    sock.listen(128)
    return sock


def serve(app: Any, where: Listen, *, scheduler: bool, manual_clock: bool) -> int:
    """Serve until SIGTERM or Ctrl-C, then finish the requests in flight, stop the
    scheduler (its leases handed back) and remove the socket file."""
    import uvicorn

    settings = app.settings.serve
    options = Options(manual_clock=manual_clock,
                      max_upload=int(settings.max_upload_mb * (1 << 20)),
                      max_request=int(settings.max_request_kb * (1 << 10)),
                      timeout=settings.request_timeout_seconds,
                      proxies=settings.trusted_proxies)
    sockets = bind(where, settings.socket_group)
    config = uvicorn.Config(
        create_app(app, options), http=protocol(), lifespan="off",
        # The peer's address is the caller's: no X-Forwarded-For is believed.
        proxy_headers=False, server_header=False, timeout_keep_alive=5,
        timeout_graceful_shutdown=30, h11_max_incomplete_event_size=64 << 10,
        log_config=None, access_log=settings.access_log)
    service = ref("scheduler.service")(app) if scheduler else None
    if service is not None:
        service.start()
    for where_ in _described(where):
        log.info("torchflow serves on %s%s", where_,
                 " (manual clock: TORCHFLOW_NOW of each client is honoured)"
                 if manual_clock else "")
    # uvicorn hands SIGTERM/SIGINT back to the handlers it found once it has shut
    # down (raising the signal again): these let the cleanup below run, then exit 0.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in STOP_SIGNALS}
    try:
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if service is not None:
            service.shutdown()
        for sock in sockets:
            sock.close()
        if where.socket is not None:
            where.socket.unlink(missing_ok=True)
    return 0


def _described(where: Listen) -> list[str]:
    out = []
    if where.socket is not None:
        out.append(f"unix:{where.socket}")
    if where.port is not None:
        out.append(f"http://{where.host}:{where.port}")
    return out
