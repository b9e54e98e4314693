"""What every command shares: the lazily built application, the acting person,
output in text or JSON, and the translation of errors into one stderr line."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from torchflow.config import Settings
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

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from torchflow.config import load_settings

            path = Path(self.config_path) if self.config_path else None
            self._settings = load_settings(path)
        return self._settings

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

    def emit(self, data: Any, text: Callable[[Any], str] | str) -> None:
        from torchflow.domain.text import json_printable, printable

        # Stored text may hold control characters; none reaches the terminal raw.
        if self.as_json:
            click.echo(json_printable(json.dumps(data, ensure_ascii=False, indent=2,
                                                 default=str)))
        else:
            click.echo(printable(text(data) if callable(text) else text))

    def emit_page(self, page: Page, columns: Sequence[tuple[str, str]]) -> None:
        """A list that may be cut: the JSON says total, limit and offset; the text
        says when rows were left out and how to see them."""
        if self.as_json:
            self.emit({"items": list(page), "total": page.total, "limit": page.limit,
                       "offset": page.offset}, "")
            return
        click.echo(table(page, columns))
        if page.offset or len(page) < page.total:
            click.echo(f"{len(page)} of {page.total} shown; use --limit / --offset")

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_env = click.make_pass_decorator(Env)


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
def handle_errors() -> Iterator[None]:
    """A user's mistake is one line on stderr, never a traceback: exit 1 for a
    refusal, 2 for a usage error (a malformed flag value, a missing argument)."""
    from torchflow.errors import Problems, TorchflowError

    try:
        yield
    except Problems as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1) from None
    except TorchflowError as exc:
        raise click.ClickException(one_line(str(exc))) from None
    except UnicodeEncodeError:
        # Bytes that are not UTF-8 (from an environment variable such as
        # TORCHFLOW_USER; arguments are checked as they are parsed), caught before
        # any write: the transaction they reached rolled back.
        raise click.ClickException("a value given is not valid UTF-8; type it again in a "
                                   "UTF-8 terminal") from None
    except click.UsageError as exc:
        if isinstance(exc, OneLineUsage):
            raise
        # Some parser errors carry no context; the command being parsed is the one.
        where = exc.ctx or click.get_current_context(silent=True)
        raise OneLineUsage(exc.format_message(), where) from None


def one_line(text: str) -> str:
    """Stored or typed text in an error line: escaped, and on one line."""
    from torchflow.domain.text import printable

    return printable(text).replace("\n", "\\n")


class OneLineUsage(click.UsageError):
    """A usage error as one line: what is wrong, and where help is."""

    def show(self, file: Any = None) -> None:
        hint = f" (see `{self.ctx.command_path} --help`)" if self.ctx is not None else ""
        click.echo(f"Error: {one_line(self.format_message())}{hint}", err=True)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Env).as_json = True  # type: ignore[union-attr]


JSON_AFTER = click.Option(["--json"], is_flag=True, expose_value=False, callback=_set_json,
                          help="Print one JSON document instead of text (as the global --json).")


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, size: int) -> str:
    return text + " " * max(size - width(text), 0)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A plain aligned table; CJK characters count double so columns line up."""
    if not rows:
        return "(none)"
    cells = [[_cell(row.get(key)) for _, key in columns] for row in rows]
    widths = [
        max(width(header), *(width(line[i]) for line in cells))
        for i, (header, _) in enumerate(columns)
    ]
    lines = ["  ".join(pad(h, w) for (h, _), w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(pad(c, w) for c, w in zip(line, widths, strict=True)).rstrip()
              for line in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A value on one line of a table, with control characters escaped."""
    return one_line(_text(value))


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def pairs(data: dict[str, Any], keys: Sequence[tuple[str, str]]) -> str:
    """``label: value`` lines for a summary."""
    size = max(width(label) for label, _ in keys)
    return "\n".join(f"{pad(label + ':', size + 1)} {_cell(data.get(key))}" for label, key in keys)
