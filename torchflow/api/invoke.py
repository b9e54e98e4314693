"""One operation run where the database is: in the CLI's own process (embedded
mode) or in the server, for one request. Either way the parameters are checked
against the table (``prepare``), the caller's person is resolved once, and the
result comes back as plain JSON, its messages in the office's language
(``Call.tr``), so both modes render the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from msgspec import Struct
from msgspec.structs import replace

from torchflow.api import adapters
from torchflow.api.operations import OPERATIONS, REFS, Operation
from torchflow.api.values import decode
from torchflow.errors import BadRequest, Problems, TorchflowError
from torchflow.i18n import Renderable, Translator, _

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from torchflow.config import Settings
    from torchflow.service.app import App
    from torchflow.service.people.lookup import Actor


class Caller(Struct, frozen=True):
    """Who is calling, as the edge established it. ``login`` is mapped to a person
    through ``person_logins`` (an OS login, the socket peer's, a proxy's user);
    ``person`` is a token's; ``auth`` says how, and goes on every event written;
    ``requested`` is the --as handle."""

    auth: str
    login: str | None = None
    person: str | None = None
    requested: str | None = None


@cache
def resolve(ref: str) -> Any:
    """A "module:attribute" reference of the table, imported on first use."""
    module, _, name = ref.partition(":")
    return getattr(import_module(module), name)


def ref(name: str) -> Any:
    """A service the edges use that is not an operation (``REFS``)."""
    return resolve(REFS[name])


class Call:
    """One operation's context: the application (built on first use, stamped with
    how its caller was authenticated, on this request's clock) and the acting
    person, resolved on first use."""

    def __init__(self, app: App | Callable[[], App], caller: Caller, settings: Settings,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._source, self.settings = app, settings
        self._app: App | None = None
        self.caller, self.clock = caller, clock
        self._actor: Actor | None = None
        self._resolved = False
        self._pending = False  # an actor was handed out and is read in the next transaction

    @property
    def tr(self) -> Translator:
        """The office's language and its names of roles (the application's when it
        is built; else read from the settings, so a call needing no database
        opens none)."""
        if self._app is not None:
            return self._app.tr
        return office_translator(self.settings)

    @property
    def app(self) -> App:
        if self._app is None:
            app = self._source if not callable(self._source) else self._source()
            app = replace(app, db=app.db.stamped(self.caller.auth, on_begin=self._begun))
            self._app = app if self.clock is None else replace(app, clock=self.clock)
        return self._app

    def actor(self) -> Actor:
        """The caller's person or, for an admin, the one named with --as: read in
        the first transaction the use case opens (``people.lookup.Deferred``), or
        in one of its own if the use case asks before it opens any."""
        if self._actor is not None:
            return self._actor
        self._pending = True
        # Not an Actor, but it answers as one (people.lookup.Deferred).
        return cast("Actor", ref("people.deferred")(self._read_actor))

    def reader(self) -> Actor | None:
        """The actor for a read that shows what they may do (``case show``); None
        when the caller is nobody's person and names no one."""
        return self._acting(required=False)

    def _read_actor(self) -> Actor:
        self._pending = False
        actor = self._acting(required=True)
        assert actor is not None
        return actor

    def _begun(self, s: Connection) -> None:
        """A transaction of the use case opens: the actor it was handed is read in it."""
        if self._pending and self._actor is None:
            self._pending = False
            c = self.caller
            self._actor = ref("people.acting_in")(s, c.login or "", c.requested,
                                                  required=True, person=c.person)
            self._resolved = True

    def _acting(self, *, required: bool) -> Actor | None:
        if self._actor is None and not (self._resolved and not required):
            c = self.caller
            self._actor = ref("people.acting")(self.app, c.login or "", c.requested,
                                               required=required, person=c.person)
            self._resolved = True
        return self._actor


def prepare(op: Operation, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of ``op`` from a request: each decoded and checked, unknown
    ones refused, required ones present; those not given are left out (the
    service's defaults apply)."""
    unknown = sorted(set(raw) - {p.name for p in op.params})
    if unknown:
        raise BadRequest(_("{operation} takes no parameter '{name}'; it takes {names}",
                           operation=op.name, name=unknown[0],
                           names=", ".join(p.name for p in op.params) or "none"))
    out: dict[str, Any] = {}
    for param in op.params:
        value = decode(param, raw.get(param.name))
        if value is None:
            if param.required:
                raise BadRequest(_("{operation} needs the parameter '{name}'",
                                   operation=op.name, name=param.name))
            continue
        # Files are paths to the services (the server's own copies of uploads).
        if param.kind in ("file", "out"):
            value = Path(value)
        elif param.kind == "files":
            value = [Path(v) for v in value]
        out[param.name] = value
    return out


def invoke(app: App | Callable[[], App], caller: Caller, name: str, params: dict[str, Any],
           *, settings: Settings | None = None, renames: Mapping[str, str] | None = None,
           clock: Callable[[], datetime] | None = None,
           extra: Mapping[str, Any] | None = None, text: bool = False) -> Any:
    """Run operation ``name`` with checked ``params``; its result as plain JSON.
    ``renames`` turn the server's temporary file paths back into the caller's
    file names, in the result and in any error; ``clock`` is this request's
    simulated time (``serve --manual-clock``); ``extra``, what an adapter takes
    only in-process (a progress callback). ``app`` may be a function that builds
    it, given ``settings``: an operation that needs no database opens none.
    ``text``: the JSON as text, as the server sends it."""
    op = OPERATIONS[name]
    if settings is None:
        if callable(app):
            raise ValueError("an application built on first use needs its settings given")
        settings = app.settings
    call = Call(app, caller, settings, clock)
    functions = [resolve(r) for r in op.calls]
    try:
        if caller.requested and not op.local:
            # --as is resolved once for every command, reads included: an unknown
            # handle, or a non-admin naming another, is refused before anything runs.
            call.reader()
        if op.adapter:
            result = getattr(adapters, name.replace(".", "_"))(call, *functions, **params,
                                                               **(extra or {}))
        elif op.actor:
            result = functions[0](call.app, call.actor(), **params)
        else:
            result = functions[0](call.app, **params)
    except TorchflowError as exc:
        if renames:
            _rename_error(exc, renames, call.tr)
        raise
    body = json_text(result, renames or {}, call.tr)
    return body if text else json.loads(body)


def office_translator(settings: Settings) -> Translator:
    """The Translator of the office ([office] locale, roles.toml's names)."""
    return resolve(REFS["office.translator"])(settings.office.locale, settings.workflows_dir)


def json_text(result: Any, renames: Mapping[str, str], tr: Translator) -> str:
    """The JSON a client receives: a page with its counts, dates as text,
    messages in the office's language (``tr``), temporary paths renamed."""
    if isinstance(result, list) and hasattr(result, "total"):  # a Page
        page: Any = result
        result = {"items": list(page), "total": page.total, "limit": page.limit,
                  "offset": page.offset}
    body = json.dumps(result, ensure_ascii=False,
                      default=lambda value: tr(value) if isinstance(value, Renderable)
                      else str(value))
    for temp, name in renames.items():
        body = body.replace(json.dumps(temp)[1:-1], json.dumps(name)[1:-1])
    return body


def _rename_error(exc: TorchflowError, renames: Mapping[str, str], tr: Translator) -> None:
    """The server's temporary paths in an error turned back into the caller's
    file names (the message rendered in the office's language to do it)."""
    def swap(text: str) -> str:
        for temp, name in renames.items():
            text = text.replace(temp, name)
        return text

    if isinstance(exc, Problems):
        exc.problems = [swap(tr(p)) for p in exc.problems]
    message = swap(tr(exc.text))
    exc.args = (message,)
    exc.text = message


def local_path(value: Any) -> Path:
    return value if isinstance(value, Path) else Path(value)
