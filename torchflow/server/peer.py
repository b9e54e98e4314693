"""Who is on the other end of the Unix socket, as the kernel says (SO_PEERCRED,
as PostgreSQL's peer authentication asks it).

uvicorn does not put the socket's credentials in the ASGI scope, so its HTTP
protocol (httptools where installed, else h11) is subclassed: when a connection
is made on a Unix socket, the peer's pid, uid, gid and login are read once from
the transport's socket, and every request of that connection carries them as
``scope["extensions"]["torchflow.peer"]``.
The kernel fills them in at connect(): no header, environment or config the
caller controls can change them.
"""

from __future__ import annotations

import pwd
import socket
import struct
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

PEER = "torchflow.peer"
_CREDS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_credentials(sock: Any) -> dict[str, Any] | None:
    """The pid, uid, gid and login of a Unix socket's peer; None for any other socket.
    The login is looked up once per connection, not per request."""
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    pid, uid, gid = _CREDS.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                  _CREDS.size))
    return {"pid": pid, "uid": uid, "gid": gid, "login": login_of(uid)}


def login_of(uid: int) -> str:
    """The login of ``uid`` from the password database (its number if it has none)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class PeerApp:
    """The application for one connection, its peer's credentials in the scope."""

    def __init__(self, app: Any, peer: dict[str, Any]) -> None:
        self.app, self.peer = app, peer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope["extensions"] = {**(scope.get("extensions") or {}), PEER: self.peer}
        await self.app(scope, receive, send)


class _Peer:
    """Mixed into a uvicorn protocol: tells the application who the socket's peer is."""

    app: Any

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        peer = peer_credentials(transport.get_extra_info("socket"))
        if peer is not None:
            self.app = PeerApp(self.app, peer)


class PeerH11Protocol(_Peer, H11Protocol):
    """uvicorn's pure-Python HTTP/1.1 protocol (h11), with the peer."""


def protocol() -> type[Any]:
    """The fastest protocol installed: httptools' C parser (``torchflow[server]``
    brings it where a wheel exists), else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return PeerH11Protocol

    class PeerHttpToolsProtocol(_Peer, HttpToolsProtocol):
        """uvicorn's httptools protocol, with the peer."""

    return PeerHttpToolsProtocol
