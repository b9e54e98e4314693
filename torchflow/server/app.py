"""The HTTP API: one route per operation of the table, who is calling, request
limits, and errors as JSON with a stable code and the right status.

A request is authenticated first (a token, else the socket's peer, else a
trusted proxy's Remote-User), its parameters read and checked against the
table (uploads streamed to a temporary folder), then the operation runs in a
worker thread exactly as the CLI runs it in-process (``invoke``). The answer is
the operation's JSON, or the file it wrote with that JSON in a header.

Every message, in a result or an error, is in the office's language ([office]
locale, ``App.tr``), which each response names in Content-Language: the client
prints what it gets and renders its own words in that language too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

from msgspec import Struct
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from torchflow.api.client import H_AS, H_NOW, H_RESULT
from torchflow.api.invoke import Caller, invoke, prepare, ref
from torchflow.api.operations import OPERATIONS, PREFIX, Operation
from torchflow.clock import parse_instant
from torchflow.errors import (
    BadRequest,
    ConfigError,
    Conflict,
    InvalidInput,
    NotFound,
    Problems,
    Refused,
    TooLarge,
    TorchflowError,
    Unauthorized,
    UsageError,
)
from torchflow.i18n import Translator, _
from torchflow.server.openapi import openapi
from torchflow.server.peer import PEER

log = logging.getLogger("torchflow.server")
CHUNK = 1 << 16
STATUS: list[tuple[type[TorchflowError], int]] = [
    (UsageError, 400), (BadRequest, 400), (Unauthorized, 401), (Refused, 403),
    (NotFound, 404), (Conflict, 409), (TooLarge, 413), (Problems, 422), (InvalidInput, 422),
    (ConfigError, 500),
]
NOBODY = _("who is calling? send a personal access token (TORCHFLOW_TOKEN, or the "
           "credentials file); an admin issues one with `torchflow token create HANDLE`")


class Options(Struct, frozen=True):
    """What the server was started with, beside the application's settings."""

    manual_clock: bool = False
    max_upload: int = 64 << 20
    max_request: int = 1 << 20
    timeout: float = 60.0
    proxies: tuple[str, ...] = ()


def create_app(app: Any, options: Options) -> Starlette:
    """The ASGI application serving ``app`` (a torchflow App) with ``options``."""
    trusted = Trusted(options.proxies)
    tr: Translator = app.tr  # the office's language: its settings do not change while it runs
    routes = [Route(PREFIX + "/openapi.json", lambda _r: JSONResponse(openapi()),
                    methods=["GET"]),
              Route(PREFIX + "/health", lambda _r: JSONResponse({"ok": True}), methods=["GET"])]
    routes += [Route(PREFIX + op.path, _endpoint(app, op, options, trusted, tr),
                     methods=[op.method], name=op.name)
               for op in OPERATIONS.values() if not op.local]

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code,
                                                                 "bad_request")
        message = {404: _("no such resource; see /api/v1/openapi.json"),
                   405: _("this resource does not take that method; see "
                          "/api/v1/openapi.json")}.get(exc.status_code, exc.detail)
        return JSONResponse({"error": {"code": code, "message": tr(message)}},
                            status_code=exc.status_code, headers=language(tr))

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


def language(tr: Translator) -> dict[str, str]:
    """The Content-Language header of a response in ``tr``'s language (zh-CN, en)."""
    return {"Content-Language": tr.locale.replace("_", "-")}


def _endpoint(app: Any, op: Operation, options: Options, trusted: Trusted, tr: Translator
              ) -> Callable[[Request], Awaitable[Response]]:
    files = bool(op.uploads) or op.out is not None

    async def endpoint(request: Request) -> Response:
        # A folder only for an operation that takes or writes files.
        folder = Path(tempfile.mkdtemp(prefix="torchflow-request-")) if files else None
        cleanup = BackgroundTask(shutil.rmtree, folder, ignore_errors=True) if folder else None
        try:
            caller = who_calls(request, trusted)
            if caller is None and op.uploads:  # a token: checked before an upload is taken
                caller = await run_in_threadpool(by_token, app, request)
            clock = request_clock(request, options)
            raw, renames, out = await read_params(request, op, options, folder)
            result = await run_in_threadpool(_run, app, caller or request, op, raw, renames,
                                             clock)
            if out is not None and out.is_file():
                return _file(out, json.loads(result), cleanup, tr)
            return Response(result, media_type="application/json", background=cleanup,
                            headers=language(tr))
        except TorchflowError as exc:
            if isinstance(exc, Unauthorized | Refused):  # with or without the access log
                log.warning("%s %s refused (%s, %s): %s", request.method, request.url.path,
                            exc.code, _peer(request), tr(exc.text))
            return error_response(exc, tr, cleanup)
        except Exception:  # a bug: the trace is for the log, the caller gets one line
            log.exception("%s %s failed", request.method, request.url.path)
            return JSONResponse({"error": {
                "code": "internal", "message": tr(_(
                    "the server failed on this request (its log says why); tell the "
                    "office's administrator"))}}, status_code=500, background=cleanup,
                headers=language(tr))

    return endpoint


def _run(app: Any, caller: Caller | Request, op: Operation, raw: dict[str, Any],
         renames: dict[str, str], clock: Callable[[], datetime] | None) -> str:
    """In a worker thread (one hop per request): the caller's token looked up if it
    sent one, the parameters checked, the operation run; its JSON text."""
    if isinstance(caller, Request):
        caller = by_token(app, caller)
    body: str = invoke(app, caller, op.name, prepare(op, raw), renames=renames, clock=clock,
                       text=True)
    return body


def error_response(exc: TorchflowError, tr: Translator,
                   cleanup: BackgroundTask | None = None) -> Response:
    """The error as JSON: its stable code, and its message (and each problem) in
    the office's language."""
    status = next((s for cls, s in STATUS if isinstance(exc, cls)), 400)
    body: dict[str, Any] = {"code": exc.code, "message": tr(exc.text)}
    if isinstance(exc, Problems):
        body["problems"] = [tr(p) for p in exc.problems]
    if isinstance(exc, UsageError) and exc.param:
        body["param"] = exc.param
    return JSONResponse({"error": body}, status_code=status, background=cleanup,
                        headers=language(tr))


def _file(path: Path, result: Any, cleanup: BackgroundTask | None, tr: Translator
          ) -> Response:
    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream", background=cleanup,
                             headers={H_RESULT: json.dumps(result, ensure_ascii=True),
                                      "Content-Length": str(path.stat().st_size),
                                      **language(tr)})


# --- who is calling --------------------------------------------------------------------------

class Trusted:
    """The configured reverse proxies: addresses and networks, and ``unix:LOGIN``
    for one that comes in through the socket."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self.logins = {e[len("unix:"):] for e in entries if e.startswith("unix:")}
        self.networks = [ipaddress.ip_network(e, strict=False)
                         for e in entries if not e.startswith("unix:")]

    def address(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def who_calls(request: Request, trusted: Trusted) -> Caller | None:
    """Who calls, when the request itself says it without the database: the
    socket's peer (the kernel's word) or a trusted proxy's Remote-User; None when a
    token must be looked up (``authenticate``). Anyone else is refused (401)."""
    requested = unquote(request.headers.get(H_AS, "")) or None
    scheme, _sep, secret = request.headers.get("authorization", "").partition(" ")
    if secret and scheme.lower() == "bearer":
        return None
    peer = (request.scope.get("extensions") or {}).get(PEER)
    remote_user = request.headers.get("remote-user", "").strip()
    if peer is not None:
        login = peer["login"]
        if login in trusted.logins:  # a proxy on the socket speaks for its user
            return _proxied(remote_user, requested)
        return Caller(auth=f"peer:{login}", login=login, requested=requested)
    client = request.client.host if request.client else None
    if trusted.address(client):
        return _proxied(remote_user, requested)
    # A Remote-User header from anyone else is ignored, as if it had been stripped.
    raise Unauthorized(NOBODY)


def by_token(app: Any, request: Request) -> Caller:
    """The caller of a request that sends a personal access token (which wins over
    the socket's peer: it was sent on purpose), looked up in the database."""
    _scheme, _sep, secret = request.headers.get("authorization", "").partition(" ")
    token_id, handle = ref("tokens.authenticate")(app, secret.strip())
    requested = unquote(request.headers.get(H_AS, "")) or None
    return Caller(auth=f"token:{token_id}", person=handle, requested=requested)


def _peer(request: Request) -> str:
    """The other end of a request's connection, for the log: the socket's peer
    login, else the client's address."""
    peer = (request.scope.get("extensions") or {}).get(PEER)
    if peer is not None:
        return f"peer:{peer['login']}"
    return f"{request.client.host}" if request.client else "?"


def _proxied(user: str, requested: str | None) -> Caller:
    if not user or len(user) > 64:
        raise Unauthorized(NOBODY)
    return Caller(auth=f"proxy:{user}", login=user, requested=requested)


def request_clock(request: Request, options: Options) -> Callable[[], datetime] | None:
    """This request's business time: the client's TORCHFLOW_NOW on a server that
    simulates time (``--manual-clock``); refused on any other."""
    now = request.headers.get(H_NOW)
    if not now:
        return None
    if not options.manual_clock:
        raise BadRequest(_("TORCHFLOW_NOW is refused: the server keeps the office's clock "
                           "(only a server started with --manual-clock takes it); unset it"))
    try:
        instant = parse_instant(now)
    except ConfigError as exc:
        raise BadRequest(exc.text) from None
    return lambda: instant


# --- parameters and uploads ------------------------------------------------------------------

async def read_params(request: Request, op: Operation, options: Options, folder: Path | None
                      ) -> tuple[dict[str, Any], dict[str, str], Path | None]:
    """The request's parameters as JSON values, the renames of temporary paths to
    the caller's names, and where the operation's output file goes (if asked)."""
    raw: dict[str, Any] = dict(request.path_params)
    renames: dict[str, str] = {}
    if op.method in ("GET", "DELETE"):
        for key in request.query_params:
            param = op.param(key)
            values = request.query_params.getlist(key)
            raw[key] = values if param is not None and param.kind in ("strs", "files") \
                else values[-1]
    else:
        limit = options.max_upload if op.uploads else options.max_request
        body = limited(request, limit, options.timeout)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            if folder is None:
                raise BadRequest(_("{operation} takes no files", operation=op.name))
            raw.update(await _form(body, op, folder, renames))
        else:
            raw.update(await _json(body))
    out = None
    if folder is not None and op.out is not None and isinstance(raw.get(op.out.name), str):
        name = raw[op.out.name]
        out = folder / "out" / base_name(name, "out")
        out.parent.mkdir()
        raw[op.out.name] = str(out)
        renames[str(out)] = name
    return raw, renames, out


def limited(request: Request, limit: int, timeout: float) -> Request:
    """The same request, its body bounded in size (413) and in the time it takes
    to arrive (400): a slow or endless upload cannot hold a worker."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    receive, received = request.receive, 0

    async def bounded() -> Any:
        nonlocal received
        try:
            async with asyncio.timeout(timeout):  # no task per message, as wait_for makes
                message = await receive()
        except TimeoutError:
            raise BadRequest(_("the request did not arrive within {seconds:g} s; try again",
                               seconds=timeout)) from None
        received += len(message.get("body", b""))
        if received > limit:
            raise too_large(limit)
        return message

    return Request(request.scope, bounded)


def too_large(limit: int) -> TooLarge:
    return TooLarge(_("the request is larger than this server takes ({kib} KiB; [serve] "
                      "max_upload_mb and max_request_kb set it)", kib=limit >> 10))


async def _json(request: Request) -> dict[str, Any]:
    data = await request.body()
    if not data:
        return {}
    try:
        value = json.loads(data)
    except ValueError:
        raise BadRequest(_("the request body is not JSON; send the parameters as a JSON "
                           "object")) from None
    if not isinstance(value, dict):
        raise BadRequest(_("the request body is not a JSON object of parameters"))
    return value


async def _form(request: Request, op: Operation, folder: Path, renames: dict[str, str]
                ) -> dict[str, Any]:
    """A multipart body: the parameters as one JSON part named ``params``, each file
    as a part named for its parameter; files are kept under ``folder``."""
    uploads = {p.name: p for p in op.uploads}
    raw: dict[str, Any] = {}
    async with request.form(max_files=200, max_fields=20) as form:
        for key, value in form.multi_items():
            if key == "params" and isinstance(value, str):
                raw.update(await _json_text(value))
            elif key in uploads and isinstance(value, UploadFile):
                path = await _keep(value, folder / f"in{len(renames)}")
                renames[str(path)] = unquote(value.filename or path.name)
                if uploads[key].kind == "files":
                    raw.setdefault(key, []).append(str(path))
                else:
                    raw[key] = str(path)
            else:
                raise BadRequest(_("{operation} takes no part '{key}'", operation=op.name,
                                   key=key))
    return raw


async def _json_text(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise BadRequest(_("the params part is not a JSON object")) from None
    if not isinstance(value, dict):
        raise BadRequest(_("the params part is not a JSON object"))
    return value


def base_name(name: str, default: str) -> str:
    """The last part of a client's file name (which keeps its suffix: .xlsx, .toml),
    never a way out of the request's own folder."""
    last = PurePosixPath(name.replace("\\", "/")).name
    return last if last not in ("", ".", "..") else default


async def _keep(upload: UploadFile, folder: Path) -> Path:
    """An uploaded file under ``folder``, by its own base name (a workflow file's
    name, a sheet's suffix, say what it is)."""
    folder.mkdir()
    path = folder / base_name(unquote(upload.filename or ""), "upload")
    with open(path, "wb") as fh:
        while chunk := await upload.read(CHUNK):
            fh.write(chunk)
    return path
