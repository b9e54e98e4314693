"""What every command shares: the operation call (embedded or through the
server), output in text or JSON in the office's language, and the translation
of errors into one stderr line."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from torchflow.i18n import (
    ENGLISH,
    N_,
    Label,
    Listing,
    Renderable,
    Text,
    Translator,
    _,
    people_time,
    translator,
)

if TYPE_CHECKING:
    from torchflow.api.client import Client
    from torchflow.config import Settings
    from torchflow.service.app import App


class Env:
    """click's Context.obj: configuration passed explicitly, built on first use.

    ``call`` runs one operation of the table (torchflow/api/operations.py): in
    this process on the configured database (embedded mode, the default), or
    through the server named by ``server`` in the config or TORCHFLOW_SERVER
    (client mode). Both return the same JSON, its messages in the office's
    language, which the commands render in that language (``tr``)."""

    def __init__(self, config_path: str | None, user: str | None, as_json: bool) -> None:
        self.config_path = config_path
        self.user = user
        self.as_json = as_json
        self.create = False  # only `init` may create the database file
        self._settings: Settings | None = None
        self._app: App | None = None
        self._client: Client | None = None
        self._mode: str | None = None
        self._tr: Translator | None = None
        self._tr_language: str | None = None
        self._words: Mapping[str, Any] | None = None

    @property
    def client(self) -> Client | None:
        """The server's client in client mode; None in embedded mode."""
        if self._mode is None:
            import os

            from torchflow.api.target import Target, client_settings, read_token

            found = client_settings(self.config_path, os.environ)
            self._mode = "client" if found else "embedded"
            if found:
                from torchflow.api.client import Client  # http.client: in client mode only

                target = Target.parse(found["server"])
                token = read_token(os.environ, found["credentials"])
                self._client = Client(target, token=token, act_as=self.user,
                                      now=os.environ.get("TORCHFLOW_NOW") or None)
        return self._client

    def local(self, command: str) -> None:
        """Refuse, in client mode, a command that runs only where the database is."""
        if self.client is not None:
            from torchflow.errors import Refused

            raise Refused(_("`torchflow {command}` runs where the database is, not through "
                            "the server {server}: run it on the server's host with the "
                            "server's config (unset TORCHFLOW_SERVER)", command=command,
                            server=self.client.target.text))

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from torchflow.config import load_settings

            path = Path(self.config_path) if self.config_path else None
            self._settings = load_settings(path)
        return self._settings

    @property
    def tr(self) -> Translator:
        """The office's language and its names of roles: in embedded mode, the
        config's ([office] locale, roles.toml); in client mode, the server's (its
        Content-Language, its roles asked for when one is shown). The default
        language when neither can be read yet."""
        language = self._client.language if self._client is not None else None
        if self._tr is None or language != self._tr_language:
            self._tr, self._tr_language = office_translator(self, language), language
        return self._tr

    @property
    def names(self) -> Names:
        """The office's names for the workflows' codes, to show them; none when
        the files cannot be read (the codes then show as they are)."""
        return Names(self.words().get("workflows", {}))

    def words(self) -> Mapping[str, Any]:
        """The office's names of its roles and of the workflows' codes, asked once
        (``office.names``: from the config's files, or the server's)."""
        from torchflow.errors import TorchflowError

        if self._words is None:
            try:
                self._words = self.call("office.names")
            except (TorchflowError, UnicodeError):  # the codes then show as they are
                self._words = {}
        return self._words

    @property
    def app(self) -> App:
        if self._app is None:
            from torchflow.api.invoke import ref

            self._app = ref("app.build")(self.settings, create=self.create)
        return self._app

    def call(self, name: str, /, *, in_process: dict[str, Any] | None = None,
             **params: Any) -> Any:
        """Operation ``name`` of the table, in whichever mode this CLI is in.
        ``in_process``: what only an in-process call can take (a progress bar)."""
        from torchflow.errors import UsageError

        try:
            client = self.client
            if client is not None:
                return client.call(name, params)
            return self._invoke(name, params, in_process or {})
        except UsageError as exc:
            # Inside the command: click names it and points to its --help (exit 2).
            text: Any = exc.text  # a Text: rendered in the office's language by handle_errors
            if exc.param:
                raise click.BadParameter(text, param_hint=f"'{exc.param}'") from None
            raise usage_error(text) from None

    def _invoke(self, name: str, params: dict[str, Any], extra: dict[str, Any]) -> Any:
        from torchflow.api.invoke import Caller, invoke, prepare
        from torchflow.api.operations import OPERATIONS
        from torchflow.api.values import encode

        login = os_login()
        caller = Caller(auth=f"os:{login}", login=login, requested=self.user)
        given = {k: encode(v) for k, v in params.items() if v is not None}
        return invoke(lambda: self.app, caller, name, prepare(OPERATIONS[name], given),
                      settings=self.settings, extra=extra)

    def emit(self, data: Any, text: Callable[[Any], Shown] | Shown) -> None:
        """``data`` as JSON, or ``text`` (made from it) in the office's language."""
        from torchflow.domain.text import json_printable, printable

        # Stored text may hold control characters; none reaches the terminal raw.
        if self.as_json:
            click.echo(json_printable(json.dumps(data, ensure_ascii=False, indent=2,
                                                 default=self._json_value)))
        else:
            click.echo(printable(self.tr(text(data) if callable(text) else text)))

    def _json_value(self, value: Any) -> str:
        # A message in the data (why a transition is blocked) reads as the text would.
        return self.tr(value) if isinstance(value, Renderable) else str(value)

    def emit_page(self, page: dict[str, Any], columns: Sequence[tuple[str, str]],
                  shown: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        """A list that may be cut (``items``, ``total``, ``limit``, ``offset``): the
        JSON says them all; the text (each row ``shown``: codes as the reader knows
        them) says when rows were left out and how to see them."""
        if self.as_json:
            self.emit(page, "")
            return
        rows = page["items"]
        click.echo(table([shown(r) for r in rows] if shown else rows, columns, self.tr))
        if page["offset"] or len(rows) < page["total"]:
            click.echo(self.tr(_("{shown} of {total} shown; use --limit / --offset",
                                 shown=len(rows), total=page["total"])))

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_env = click.make_pass_decorator(Env)
Shown = Renderable | str

# The codes people read in lists (task kinds, statuses, event kinds): shown with
# ``code(...)`` in the reader's language, typed as code or as shown (params.Choice).
CODES = (
    N_("contact"), N_("visit"), N_("deadline"),  # task kinds
    N_("open"), N_("done"), N_("cancelled"), N_("missed"),  # task statuses
    N_("on_time"), N_("late"),  # outcomes
    N_("upcoming"), N_("due"), N_("overdue"), N_("escalation"), N_("digest"),
    N_("report"),  # notice kinds
    N_("pending"), N_("sent"), N_("dead"), N_("folded"), N_("held"),  # notice statuses
    N_("each"),  # how a person is told
    N_("file"), N_("smtp"), N_("webhook"), N_("wecom_robot"), N_("wecom_app"),
    N_("dingtalk_robot"), N_("feishu_robot"),  # channels
    N_("month"), N_("quarter"), N_("year"),  # report grouping
    N_("text"), N_("number"), N_("date"), N_("choice"), N_("person"), N_("people"),  # field types
    N_("enterprise"),
)


def due(task: Mapping[str, Any]) -> Text | str:
    """A task's due day as a list shows it: marked when it is overdue."""
    if task.get("overdue"):
        return _("{day} (overdue)", day=task["due_on"])
    return str(task["due_on"])


def code(value: str | None) -> Text | None:
    """A code (a task kind, a status) as the reader's language shows it."""
    return None if value is None else Text(value)


class Names:
    """Codes of the workflow files as the reader knows them (``term``: titles in
    Chinese, codes in English), from ``office.names``: the same words embedded
    and through the server. A code the files do not know shows as it is."""

    def __init__(self, words: Mapping[str, Any]) -> None:
        self.words = words  # workflow -> its names (service/workflows/names.names_view)

    def _of(self, workflow: str, kind: str, code: str | None) -> Any:
        found = self.words.get(workflow, {}).get(kind, {})
        return found.get(code) if code is not None else None

    def workflow(self, workflow: str) -> Label | str:
        found = self.words.get(workflow)
        return _label(found["term"]) if found else workflow

    def workflow_label(self, workflow: str) -> Label | None:
        """Its title in the reader's language (None: a workflow the files do not know)."""
        found = self.words.get(workflow)
        return _label(found["label"]) if found else None

    def of_key(self, key: str) -> str:
        """The workflow whose cases have keys like ``key`` (PI-2026-0001), or ""."""
        prefix = str(key).split("-", 1)[0]
        return next((w for w, found in self.words.items() if found["key_prefix"] == prefix), "")

    def state(self, workflow: str, state: str | None) -> Label | str | None:
        found = self._of(workflow, "states", state)
        return _label(found["term"]) if found else state

    def state_label(self, workflow: str, state: str | None) -> Label | None:
        found = self._of(workflow, "states", state)
        return _label(found["label"]) if found else None

    def field(self, workflow: str, name: str) -> Label | str:
        found = self._of(workflow, "fields", name)
        return _label(found["term"]) if found else name

    def value(self, workflow: str, name: str, value: Any) -> Any:
        found = self._of(workflow, "fields", name)
        if found is not None and found.get("choices") is not None and isinstance(value, str):
            choice = found["choices"].get(value)
            return _label(choice) if choice else value
        return value

    def trigger(self, workflow: str, trigger: str | None) -> Label | str | None:
        found = self._of(workflow, "transitions", trigger)
        return _label(found) if found else trigger


def _label(pair: Sequence[str]) -> Label:
    return Label(pair[0], pair[1])


class ServerRoles(Mapping[str, Label]):
    """The office's names of its roles as the server has them (roles.toml there),
    asked for only when a role is shown."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._found: dict[str, Label] | None = None

    def _roles(self) -> dict[str, Label]:
        if self._found is None:
            roles = self.env.words().get("roles", {})
            self._found = {code: _label(pair) for code, pair in roles.items()}
        return self._found

    def __getitem__(self, code: str) -> Label:
        return self._roles()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._roles())

    def __len__(self) -> int:
        return len(self._roles())

    def __bool__(self) -> bool:
        return True  # asked for when a role is shown, not when a Translator is made


def usage_error(text: Text) -> click.UsageError:
    """A usage error (exit 2) whose message ``handle_errors`` renders in the
    office's language."""
    return click.UsageError(text)  # type: ignore[arg-type]


def office_translator(env: Env | None, language: str | None = None) -> Translator:
    """The Translator of the office's locale with its role names: ``language``
    the server said (client mode: its roles asked of it when shown), else the
    config's; the default locale's when there is no Env yet or its config cannot
    be read (the error about that config is then said in the default language)."""
    from torchflow.config import OfficeSettings
    from torchflow.errors import TorchflowError

    if env is not None and language is not None:
        return translator(language).with_roles(ServerRoles(env))
    try:
        if env is None:
            raise LookupError
        settings = env.settings
    except (TorchflowError, LookupError):
        return translator(OfficeSettings().locale)
    try:
        client = env.client
    except TorchflowError:
        client = None  # the error about it is said in the config's language
    if client is not None:  # nothing heard from the server yet
        return translator(settings.office.locale).with_roles(ServerRoles(env))
    from torchflow.domain.loader import office_translator as of_office

    return of_office(settings.office.locale, settings.workflows_dir)


def os_login() -> str:
    """The login of the process's real uid, from the password database: $USER and
    $LOGNAME are not asked, anyone can set them. A uid with no entry is its number."""
    import os
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@contextmanager
def handle_errors(tr: Callable[[], Translator]) -> Iterator[None]:
    """A user's mistake is one line on stderr, never a traceback, in the office's
    language (``tr``): exit 1 for a refusal, 2 for a usage error (a malformed flag
    value, a missing argument)."""
    from torchflow.errors import Problems, TorchflowError

    try:
        yield
    except Problems as exc:
        office = tr()
        for problem in exc.problems:
            click.echo(office(_("error: {problem}", problem=one_line(office(problem)))),
                       err=True)
        raise SystemExit(1) from None
    except TorchflowError as exc:
        raise OneLineError(exc.text, tr()) from None
    except UnicodeEncodeError:
        # Bytes that are not UTF-8 (from an environment variable such as
        # TORCHFLOW_USER; arguments are checked as they are parsed), caught before
        # any write: the transaction they reached rolled back.
        raise OneLineError(_("a value given is not valid UTF-8; type it again in a UTF-8 "
                             "terminal"), tr()) from None
    except click.UsageError as exc:
        if isinstance(exc, OneLineUsage):
            raise
        # Some parser errors carry no context; the command being parsed is the one.
        where = exc.ctx or click.get_current_context(silent=True)
        raise OneLineUsage(usage_message(exc), where, tr()) from None


def one_line(text: str) -> str:
    """Stored or typed text in an error line: escaped, on one line, and bounded
    (a line of half a million characters is its start and a count)."""
    from torchflow.domain.summary import clip
    from torchflow.domain.text import printable

    return clip(printable(text).replace("\n", "\\n"))


class OneLineError(click.ClickException):
    """A refusal (exit 1) as one line in the office's language."""

    def __init__(self, message: Shown, tr: Translator) -> None:
        self.text, self.tr = message, tr
        super().__init__(tr(message))

    def show(self, file: Any = None) -> None:
        click.echo(self.tr(_("Error: {message}", message=one_line(self.tr(self.text)))),
                   err=True)


class OneLineUsage(click.UsageError):
    """A usage error as one line: what is wrong, and where help is."""

    def __init__(self, message: Shown, ctx: click.Context | None = None,
                 tr: Translator = ENGLISH) -> None:
        self.text, self.tr = message, tr
        super().__init__(tr(message), ctx)

    def show(self, file: Any = None) -> None:
        message = one_line(self.tr(self.text))
        if self.ctx is None:
            click.echo(self.tr(_("Error: {message}", message=message)), err=True)
            return
        click.echo(self.tr(_("Error: {message} (see `{command} --help`)", message=message,
                             command=self.ctx.command_path)), err=True)


# click's own messages for which it keeps no structure: the English it prints
# and what the catalogs say instead.
_CLICK_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Text]]] = [
    (re.compile(r"No such command '(.+)'\.\Z"),
     lambda m: _("No such command '{name}'.", name=m[1])),
    (re.compile(r"Got unexpected extra arguments? \((.+)\)\Z"),
     lambda m: _("Got unexpected extra argument(s) ({args})", args=m[1])),
    (re.compile(r"Option '(.+)' requires an argument\.\Z"),
     lambda m: _("Option '{name}' requires an argument.", name=m[1])),
    (re.compile(r"Option '(.+)' requires (\d+) arguments\.\Z"),
     lambda m: _("Option '{name}' requires {n} arguments.", name=m[1], n=m[2])),
    (re.compile(r"Option '(.+)' does not take a value\.\Z"),
     lambda m: _("Option '{name}' does not take a value.", name=m[1])),
    (re.compile(r"Missing command\.\Z"), lambda m: _("Missing command.")),
]


def usage_message(exc: click.UsageError) -> Shown:
    """What a click usage error says, as a message of the catalogs where it can be:
    ours carry a ``Text``; click's have their parameter, or a known shape."""
    message: Any = getattr(exc, "message", "")
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        name = exc.param.get_error_hint(exc.ctx) if exc.ctx else exc.param.name
        if exc.param.param_type_name == "argument":
            return _("Missing argument {name}.", name=name)
        return _("Missing option {name}.", name=name)
    if isinstance(exc, click.NoSuchOption):
        if exc.possibilities:
            return _("No such option '{name}'. Did you mean {options}?", name=exc.option_name,
                     options=Listing((f"'{p}'" for p in sorted(exc.possibilities)), "or"))
        return _("No such option '{name}'.", name=exc.option_name)
    if isinstance(exc, click.BadParameter):
        hint = exc.param_hint or (exc.param.get_error_hint(exc.ctx)
                                  if exc.param is not None and exc.ctx else None)
        if hint is None:
            return _("Invalid value: {message}", message=message)
        if isinstance(hint, list | tuple):
            hint = " / ".join(hint)
        return _("Invalid value for {param}: {message}", param=hint, message=message)
    if isinstance(message, Renderable):
        return message
    for pattern, text in _CLICK_MESSAGES:
        if match := pattern.match(str(message)):
            return text(match)
    return exc.format_message()


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Env).as_json = True  # type: ignore[union-attr]


JSON_AFTER = click.Option(["--json"], is_flag=True, expose_value=False, callback=_set_json,
                          help="Print one JSON document instead of text (as the global --json).")


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, size: int) -> str:
    return text + " " * max(size - width(text), 0)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str | Text, str]],
          tr: Translator = ENGLISH) -> str:
    """A plain aligned table; CJK characters count double so columns line up.
    Headers are message ids (``N_``), or a ``Text`` for one that needs its context
    (``pgettext_``); cells may be ``Text`` or ``Label``: both shown in ``tr``'s
    language."""
    if not rows:
        return tr(_("(none)"))
    heads = [tr(header) if isinstance(header, Text) else tr.gettext(header)
             for header, _key in columns]
    cells = [[_cell(row.get(key), tr, key) for _h, key in columns] for row in rows]
    widths = [max(width(head), *(width(line[i]) for line in cells))
              for i, head in enumerate(heads)]
    lines = ["  ".join(pad(h, w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines += ["  ".join(pad(c, w) for c, w in zip(line, widths, strict=True)).rstrip()
              for line in cells]
    return "\n".join(lines)


def _cell(value: Any, tr: Translator, key: str = "") -> str:
    """A value on one line of a table, with control characters escaped; an
    instant (a ``*_at`` key, the services' name for one) in people's form,
    2026-03-09 09:30, and nothing else (a title typed as a time stays as typed)."""
    if isinstance(value, str) and (key == "at" or key.endswith("_at")):
        value = people_time(value)
    return one_line(shown(value, tr))


def shown(value: Any, tr: Translator = ENGLISH) -> str:
    """A value as a person reads it: - for none, yes/no, a list joined."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return tr(_("yes") if value else _("no"))
    if isinstance(value, list | tuple):
        return tr(Listing(value))
    if isinstance(value, Renderable):
        return tr(value)
    return str(value)


def pairs(data: dict[str, Any], keys: Sequence[tuple[str, str]],
          tr: Translator = ENGLISH) -> str:
    """``label: value`` lines for a summary; labels are message ids (``N_``)."""
    labels = [tr(_("{label}:", label=tr.gettext(label))) for label, _key in keys]
    size = max(width(label) for label in labels)
    return "\n".join(f"{pad(label, size)} {_cell(data.get(key), tr, key)}"
                     for label, (_l, key) in zip(labels, keys, strict=True))
