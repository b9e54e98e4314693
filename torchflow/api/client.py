"""Client mode: the CLI sends each operation to a ``torchflow serve`` and gets
back the JSON the service would have returned in-process.

The server is named by ``server = "unix:/run/torchflow/torchflow.sock"`` or
``"https://torchflow.zone.gov.cn"`` in the config (or TORCHFLOW_SERVER). On the
socket the kernel tells the server who is calling; elsewhere a personal access
token does (TORCHFLOW_TOKEN, or a credentials file only its owner can read).
The client chooses no database, workflows, calendar, channel or clock: it sends
an operation's parameters and nothing else (TORCHFLOW_NOW travels, and is
refused unless the server simulates time).

Stdlib only (http.client, socket, ssl): a client command imports neither
SQLAlchemy nor transitions, so it starts faster than an embedded one.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from torchflow.api.operations import OPERATIONS, PREFIX, Operation
from torchflow.api.target import Target
from torchflow.api.values import Param, encode
from torchflow.errors import (
    InvalidInput,
    Problems,
    Unavailable,
    UsageError,
    error_class,
)
from torchflow.files import create as create_file
from torchflow.i18n import _

ENV_NOW = "TORCHFLOW_NOW"
TIMEOUT_SECONDS = 600.0  # an import or a year's report may take minutes; a dead server does not
CHUNK = 1 << 16
# Headers of the API (docs/deployment.md).
H_AS, H_NOW, H_RESULT = "Torchflow-Act-As", "Torchflow-Now", "Torchflow-Result"


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket: the server learns the caller's uid from the kernel."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Client:
    def __init__(self, target: Target, *, token: str | None, act_as: str | None,
                 now: str | None, timeout: float = TIMEOUT_SECONDS) -> None:
        self.target, self.token, self.act_as, self.now = target, token, act_as, now
        self.timeout = timeout
        self.language: str | None = None  # the office's, as the server says (Content-Language)

    def call(self, name: str, params: Mapping[str, Any]) -> Any:
        """Operation ``name`` on the server; its result, or its error raised again
        as the same TorchflowError with the same message."""
        op = OPERATIONS[name]
        given = {k: encode(v) for k, v in params.items() if v is not None}
        dest = None
        if op.out is not None and op.out.name in given:
            dest = Path(given[op.out.name])
            _check_writable(op.out, dest)
        for param in op.uploads:
            for local in _listed(given.get(param.name)):
                _check_readable(param, local)
        path = PREFIX + _fill(op, given)
        if op.method in ("GET", "DELETE"):
            path += _query(given)
        body, headers = self._body(op, given)
        response, conn = self._send(op, path, body, headers)
        try:
            return self._result(response, dest)
        finally:
            conn.close()

    def _body(self, op: Operation, given: dict[str, Any]
              ) -> tuple[Iterator[bytes] | bytes | None, dict[str, str]]:
        headers = {"Accept": "application/json", "User-Agent": "torchflow-cli"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.act_as:  # percent-encoded: a header is ASCII, a mistyped handle may not be
            headers[H_AS] = quote(self.act_as, safe="")
        if self.now:
            headers[H_NOW] = self.now
        if op.method in ("GET", "DELETE"):
            return None, headers
        uploads = {p.name for p in op.uploads}
        if not uploads & given.keys():
            headers["Content-Type"] = "application/json"
            return json.dumps(given, ensure_ascii=False).encode("utf-8"), headers
        files = {k: given.pop(k) for k in list(given) if k in uploads}
        boundary = uuid.uuid4().hex
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        headers["Transfer-Encoding"] = "chunked"
        return _multipart(boundary, given, files), headers

    def _send(self, op: Operation, path: str, body: Any, headers: dict[str, str]
              ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
        t = self.target
        conn: http.client.HTTPConnection
        if t.socket:
            conn = UnixConnection(t.socket, self.timeout)
        elif t.scheme == "https":
            conn = http.client.HTTPSConnection(t.host, t.port, timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(t.host, t.port, timeout=self.timeout)
        try:
            conn.request(op.method, t.base + path, body=body, headers=headers,
                         encode_chunked=isinstance(body, Iterator))
            return conn.getresponse(), conn
        except InvalidInput:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) \
                or type(exc).__name__
            raise Unavailable(_("cannot reach the torchflow server at {where}: {why}; is "
                                "`torchflow serve` running there?", where=t.text,
                                why=why)) from None

    def _result(self, response: http.client.HTTPResponse, dest: Path | None) -> Any:
        self.language = response.getheader("Content-Language") or self.language
        kind = response.getheader("Content-Type", "")
        if response.status >= 400:
            raise _error(response, kind)
        if kind.startswith("application/json"):
            return json.loads(response.read().decode("utf-8"))
        result = json.loads(response.getheader(H_RESULT) or "null")
        if dest is not None:
            _save(response, dest)
        return result


def _fill(op: Operation, given: dict[str, Any]) -> str:
    path = op.path
    for name in op.path_params:
        value = given.pop(name)
        path = path.replace("{" + name + "}", quote(str(value), safe="")).replace(
            "{" + name + ":int}", quote(str(value), safe=""))
    return path


def _query(given: dict[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for name, value in given.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            pairs.append((name, "true" if v is True else "false" if v is False else str(v)))
    return "?" + urlencode(pairs) if pairs else ""


def _multipart(boundary: str, fields: dict[str, Any], files: dict[str, Any]
               ) -> Iterator[bytes]:
    """A multipart/form-data body, the files read in chunks as it is sent: the
    parameters as one JSON part, each file as its own part."""
    dash = f"--{boundary}\r\n".encode()
    yield dash
    yield (b'Content-Disposition: form-data; name="params"\r\n'
           b"Content-Type: application/json\r\n\r\n")
    yield json.dumps(fields, ensure_ascii=False).encode("utf-8") + b"\r\n"
    for name, value in files.items():
        for local in value if isinstance(value, list) else [value]:
            handle = _open(local)
            with handle:
                yield dash
                filename = quote(str(local), safe="/")
                yield (f'Content-Disposition: form-data; name="{name}"; '
                       f'filename="{filename}"\r\n'
                       "Content-Type: application/octet-stream\r\n\r\n").encode()
                while chunk := handle.read(CHUNK):
                    yield chunk
                yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def _open(local: str) -> BinaryIO:
    return open(local, "rb")


def _listed(value: Any) -> list[str]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _check_readable(param: Param, local: str) -> None:
    """A file to send that cannot be read is refused before anything is sent, in
    the words the operation uses in-process."""
    try:
        with open(local, "rb"):
            pass
    except OSError as exc:
        raise InvalidInput(param.unusable(local, exc.strerror or str(exc))) from None


def _check_writable(param: Param, dest: Path) -> None:
    """Refuse before the server works for nothing: a file the client cannot write."""
    folder = dest.parent
    try:
        if not folder.is_dir():
            folder.stat()  # the reason, in the system's words
            raise NotADirectoryError(20, os.strerror(20))
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, os.strerror(13))
    except OSError as exc:
        raise InvalidInput(param.unusable(str(dest), exc.strerror or str(exc))) from None


def _save(response: http.client.HTTPResponse, dest: Path) -> None:
    """The response body to ``dest``, written aside and renamed: never half a file."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        tmp.unlink(missing_ok=True)
        # The caller's own file, readable by them alone (0600) from the start.
        with os.fdopen(create_file(tmp), "wb") as fh:
            while chunk := response.read(CHUNK):
                fh.write(chunk)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(_("cannot write {path}: {reason}", path=dest,
                             reason=exc.strerror)) from None


def _error(response: http.client.HTTPResponse, kind: str) -> Exception:
    raw = response.read(1 << 20)
    try:
        error = json.loads(raw.decode("utf-8"))["error"] if kind.startswith(
            "application/json") else None
    except (ValueError, KeyError, TypeError):
        error = None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return Unavailable(_("the server answered {status} {reason}, not as torchflow does; "
                             "is the address that of a torchflow server?",
                             status=response.status, reason=response.reason))
    code, message = str(error.get("code")), error["message"]
    if code == Problems.code or isinstance(error.get("problems"), list):
        return Problems([str(p) for p in error.get("problems") or [message]])
    if code == UsageError.code:
        return UsageError(message, param=error.get("param"))
    return error_class(code)(message)
