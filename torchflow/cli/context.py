"""What every command shares: the lazily built application, the acting person,
output in text or JSON in the office's language, and the translation of errors
into one stderr line."""

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
    translator,
)

if TYPE_CHECKING:
    from torchflow.config import Settings
    from torchflow.domain.workflow import WorkflowSpec
    from torchflow.service.app import App
    from torchflow.service.paging import Page
    from torchflow.service.people.lookup import Actor


class Env:
    """click's Context.obj: configuration passed explicitly, built on first use."""

    def __init__(self, config_path: str | None, user: str | None, as_json: bool) -> None:
        self.config_path = config_path
        self.user = user
        self.as_json = as_json
        self.create = False  # only `init` may create the database file
        self._settings: Settings | None = None
        self._app: App | None = None
        self._actor: Actor | None = None
        self._tr: Translator | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from torchflow.config import load_settings

            path = Path(self.config_path) if self.config_path else None
            self._settings = load_settings(path)
        return self._settings

    @property
    def tr(self) -> Translator:
        """The office's language ([office] locale) and its names of roles; the
        default language when the config itself cannot be read."""
        if self._tr is None:
            self._tr = office_translator(self)
        return self._tr

    @property
    def names(self) -> Names:
        """The workflow files' names for codes, to show them; none when the files
        cannot be read (the codes then show as they are)."""
        from torchflow.errors import TorchflowError

        try:
            return Names(self.app.registry.files())
        except TorchflowError:
            return Names({})

    @property
    def app(self) -> App:
        if self._app is None:
            from torchflow.service.app import build_app

            self._app = build_app(self.settings, create=self.create)
        return self._app

    def actor(self) -> Actor:
        """The real person (the OS login of this process's real uid) or, for an
        admin, the one named with --as / TORCHFLOW_USER. Resolved once."""
        if self._actor is None:
            from torchflow.service.people.lookup import acting

            self._actor = acting(self.app, os_login(), self.user)
        return self._actor

    def reader(self) -> Actor | None:
        """The actor for a read that shows what they may do (``case show``); None
        when this login is nobody's and no one is named: reading needs no person."""
        from torchflow.service.people.lookup import acting

        if self._actor is None:
            self._actor = acting(self.app, os_login(), self.user, required=False)
        return self._actor

    def require(self, action: str) -> Actor:
        """The actor, if the permissions table lets them do ``action``; the real
        person's roles count when an admin acts as someone else."""
        from torchflow.domain.permissions import require

        actor = self.actor()
        if actor.entered_by is None:
            require(action, actor.handle, actor.roles)
        # else: only an admin may act as another, and admins may administer.
        return actor

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

    def emit_page(self, page: Page, columns: Sequence[tuple[str, str]],
                  shown: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        """A list that may be cut: the JSON says total, limit and offset; the text
        (each row ``shown``: codes as the reader knows them) says when rows were
        left out and how to see them."""
        if self.as_json:
            self.emit({"items": list(page), "total": page.total, "limit": page.limit,
                       "offset": page.offset}, "")
            return
        click.echo(table([shown(r) for r in page] if shown else page, columns, self.tr))
        if page.offset or len(page) < page.total:
            click.echo(self.tr(_("{shown} of {total} shown; use --limit / --offset",
                                 shown=len(page), total=page.total)))

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
    N_("text"), N_("number"), N_("date"), N_("choice"), N_("person"),  # field types
)


def code(value: str | None) -> Text | None:
    """A code (a task kind, a status) as the reader's language shows it."""
    return None if value is None else Text(value)


class Names:
    """Codes of the workflow files as the reader knows them (``term``): titles in
    Chinese, codes in English. A code the files do not know shows as it is."""

    def __init__(self, specs: Mapping[str, WorkflowSpec]) -> None:
        self.specs = specs

    def workflow(self, workflow: str) -> Label | str:
        spec = self.specs.get(workflow)
        return spec.term if spec is not None else workflow

    def state(self, workflow: str, state: str | None) -> Label | str | None:
        spec = self.specs.get(workflow)
        found = spec.states.get(state) if spec is not None and state else None
        return found.term if found is not None else state

    def field(self, workflow: str, name: str) -> Label | str:
        spec = self.specs.get(workflow)
        found = spec.fields.get(name) if spec is not None else None
        return found.term if found is not None else name

    def value(self, workflow: str, name: str, value: Any) -> Any:
        spec = self.specs.get(workflow)
        found = spec.fields.get(name) if spec is not None else None
        if found is not None and found.type == "choice" and isinstance(value, str):
            return found.option(value).term
        return value

    def trigger(self, workflow: str, trigger: str | None) -> Label | str | None:
        spec = self.specs.get(workflow)
        found = next((t for t in spec.transitions if t.trigger == trigger), None) \
            if spec is not None else None
        return found.term if found is not None else trigger


def usage_error(text: Text) -> click.UsageError:
    """A usage error (exit 2) whose message ``handle_errors`` renders in the
    office's language."""
    return click.UsageError(text)  # type: ignore[arg-type]


def office_translator(env: Env | None) -> Translator:
    """The Translator of the office's locale with its role names; the default
    locale's when there is no Env yet or its config cannot be read (the error
    about that config is then said in the default language)."""
    from torchflow.config import OfficeSettings
    from torchflow.errors import TorchflowError

    try:
        if env is None:
            raise LookupError
        settings = env.settings
    except (TorchflowError, LookupError):
        return translator(OfficeSettings.locale)
    from torchflow.domain.loader import load_roles
    from torchflow.domain.vocabulary import labels

    tr = translator(settings.office.locale)
    try:
        return tr.with_roles(labels(load_roles(settings.workflows_dir)))
    except TorchflowError:
        return tr  # a broken roles.toml is `workflow validate`'s to report


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
            click.echo(office(_("error: {problem}", problem=problem)), err=True)
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
    """Stored or typed text in an error line: escaped, and on one line."""
    from torchflow.domain.text import printable

    return printable(text).replace("\n", "\\n")


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


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
          tr: Translator = ENGLISH) -> str:
    """A plain aligned table; CJK characters count double so columns line up.
    Headers are message ids (``N_``), cells may be ``Text`` or ``Label``: both
    shown in ``tr``'s language."""
    if not rows:
        return tr(_("(none)"))
    heads = [tr.gettext(header) for header, _key in columns]
    cells = [[_cell(row.get(key), tr) for _h, key in columns] for row in rows]
    widths = [max(width(head), *(width(line[i]) for line in cells))
              for i, head in enumerate(heads)]
    lines = ["  ".join(pad(h, w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines += ["  ".join(pad(c, w) for c, w in zip(line, widths, strict=True)).rstrip()
              for line in cells]
    return "\n".join(lines)


def _cell(value: Any, tr: Translator) -> str:
    """A value on one line of a table, with control characters escaped."""
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
    return "\n".join(f"{pad(label, size)} {_cell(data.get(key), tr)}"
                     for label, (_l, key) in zip(labels, keys, strict=True))
