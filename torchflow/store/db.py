"""Engine and unit-of-work set-up for SQLite (embedded) and PostgreSQL (scale-out).

SQLite is made power-safe (WAL + synchronous=FULL) and every write transaction
takes the write lock up front (BEGIN IMMEDIATE), which is how two scheduler
services on one file avoid claiming the same notice: SQLAlchemy drops FOR UPDATE
SKIP LOCKED on SQLite silently, so the lock has to come from the BEGIN. Reads
(``Database.read()``) begin DEFERRED: under WAL they see a snapshot and never wait
for a writer, so `case show` works while a service holds the lock.

Only ``init`` may create a SQLite file (``create=True``); everything else opens
it with ``mode=rw``, so a mistyped path is refused instead of leaving an empty
database behind.
"""

from __future__ import annotations

import copy
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import msgspec
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from torchflow.errors import ConfigError, Conflict, TorchflowError
from torchflow.files import PRIVATE, FileModes
from torchflow.files import create as create_file
from torchflow.i18n import _

BUSY_SECONDS = 15.0
UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for "relation ... does not exist"
NO_TABLES = "the database has no torchflow tables yet; run `torchflow init` first"
BUSY = "the database is busy (another torchflow is writing to it); try again in a moment"
READ_OPTION = "torchflow_read"
AUTH_INFO = "torchflow_auth"  # Connection.info key: how this transaction's caller was authenticated


def json_text(value: Any) -> str:
    """A JSON column's text. msgspec's encoder: the standard library's was a tenth
    of a bulk import's time (fields, event data), spent in Python."""
    return msgspec.json.encode(value).decode()


def make_engine(url: str, *, create: bool = False, busy_seconds: float = BUSY_SECONDS,
                files: FileModes = PRIVATE, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", json_text)
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, create, busy_seconds, files, **kwargs)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            _("the database driver is not installed ({name}); install torchflow[postgres] for "
              "PostgreSQL", name=exc.name)
        ) from None


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(_("database URL {url!r} is not valid; use e.g. sqlite:///torchflow.db "
                            "or postgresql+psycopg://user@host/db", url=url)) from None
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ConfigError(_("database URL port {port} is not valid; use 1 to 65535",
                            port=parsed.port))
    return parsed


def _sqlite_engine(parsed: URL, create: bool, busy_seconds: float, files: FileModes,
                   **kwargs: Any) -> Engine:
    database = parsed.database
    connect_args: dict[str, Any] = {"timeout": busy_seconds}
    if database and database != ":memory:":
        _check_sqlite_path(Path(database), create)
        if create:
            _create_sqlite_file(Path(database), files)
        else:
            # mode=rw: open an existing file only; never create one before init.
            parsed = parsed.set(database=f"file:{quote(os.path.abspath(database))}",
                                query={**parsed.query, "mode": "rw", "uri": "true"})
    # Every transaction ends in COMMIT or ROLLBACK (Database.transaction), so the
    # pool's extra rollback on check-in is only cost.
    engine = create_engine(parsed, connect_args=connect_args, pool_reset_on_return=None,
                           **kwargs)
    busy_ms = int(busy_seconds * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's begin event (the pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver: this runs once per transaction, on the hot path.
        # It runs outside SQLAlchemy's error wrapping, so the driver's error is
        # caught by Database._errors as sqlite3.Error.
        begin = "BEGIN" if conn.get_execution_options().get(READ_OPTION) else "BEGIN IMMEDIATE"
        conn.connection.dbapi_connection.execute(begin)

    return engine


def _check_sqlite_path(path: Path, create: bool) -> None:
    if path.is_dir():
        raise ConfigError(_("the database {path} is a folder; give the path of a file in it",
                            path=path))
    if not path.parent.is_dir():
        raise ConfigError(_("the folder of the database file {path} does not exist", path=path))
    if not create and not path.exists():
        raise ConfigError(_("the database file {path} does not exist; run `torchflow init` first",
                            path=path))


def _create_sqlite_file(path: Path, files: FileModes) -> None:
    """A new database file made by torchflow, with its mode ([files] group), before
    SQLite opens it (an empty file is an empty database): SQLite would make it
    0644, and gives its WAL and SHM files the database file's mode. With a group
    they need the folder's setgid bit, or they would get the creator's own group."""
    if files.gid is not None:
        folder = path.parent.stat()
        if folder.st_gid != files.gid or not folder.st_mode & stat.S_ISGID:
            raise ConfigError(_(
                "the folder of the database {path} must belong to the group {group} with the "
                "setgid bit, so that SQLite's journal files get the group too: chgrp {group} "
                "{folder} && chmod 2770 {folder}", path=path, group=files.group,
                folder=path.parent))
    try:
        os.close(create_file(path, files, shared=True))
    except FileExistsError:
        return  # `init` again, or an upgrade: the file keeps the mode it has
    except OSError as exc:
        raise ConfigError(_("cannot create the database {path}: {reason}", path=path,
                            reason=exc.strerror or str(exc))) from None


class Database:
    """An engine; ``transaction()`` is the unit of work, ``read()`` a read-only one."""

    def __init__(self, url: str, *, create: bool = False, busy_seconds: float = BUSY_SECONDS,
                 files: FileModes = PRIVATE, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, create=create, busy_seconds=busy_seconds, files=files,
                                  **engine_kwargs)
        self.auth: str | None = None
        self.on_begin: Callable[[Connection], None] | None = None

    def stamped(self, auth: str | None,
                on_begin: Callable[[Connection], None] | None = None) -> Database:
        """This database (the same engine and pool) for one caller: the events its
        transactions write record ``auth``, how that caller was authenticated;
        ``on_begin`` is called with each transaction's connection as it opens
        (the server reads who calls in the use case's own transaction)."""
        view = copy.copy(self)
        view.auth, view.on_begin = auth, on_begin
        return view

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All of it or none of it; database conflicts become a clear Conflict."""
        with self.errors(), self.engine.begin() as conn:
            # Set on every transaction: the pooled connection outlives the caller.
            conn.info[AUTH_INFO] = self.auth
            if self.on_begin is not None:
                self.on_begin(conn)
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot that takes no write lock (deferred BEGIN on SQLite,
        a READ ONLY transaction on PostgreSQL)."""
        options = {READ_OPTION: True}
        if self.engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        with self.errors(), self.engine.connect() as conn:
            conn = conn.execution_options(**options)
            with conn.begin():
                if self.on_begin is not None:
                    self.on_begin(conn)
                yield conn

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Driver errors a user can cause (a lock, a bad path, an unreachable
        server) become one clear TorchflowError; anything else is a bug and stays."""
        try:
            yield
        except TorchflowError:
            raise
        except (DBAPIError, sqlite3.Error) as exc:
            # sqlite3.Error: raised by the begin event, outside SQLAlchemy's wrapping.
            orig = exc.orig if isinstance(exc, DBAPIError) else exc
            translated = _translate(self.engine, orig, exc)
            if translated is None:
                raise
            raise translated from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _translate(engine: Engine, orig: BaseException | None, exc: Exception
               ) -> TorchflowError | None:
    """The one-line error for a driver error a user can cause; None for a bug."""
    if _sqlstate(orig) in ("40001", "40P01"):
        return Conflict("another torchflow changed the same rows at the same time; try again")
    if _sqlstate(orig) == UNDEFINED_TABLE:
        # PostgreSQL reports a missing table as a ProgrammingError, not an
        # OperationalError as SQLite does.
        return ConfigError(NO_TABLES)
    message = str(orig if orig is not None else exc)
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    if engine.dialect.name == "sqlite":
        return _translate_sqlite(engine, first)
    return _translate_postgres(engine, first, orig)


def _translate_sqlite(engine: Engine, message: str) -> TorchflowError | None:
    path = _sqlite_path(engine)
    if "locked" in message or "busy" in message:
        return Conflict(BUSY)
    if "no such table" in message:
        return ConfigError(NO_TABLES)
    if "not a database" in message or "malformed" in message:
        return ConfigError(f"{path} is not a torchflow database (not SQLite, or damaged); "
                           "check [database] url")
    if "readonly" in message or "read-only" in message or "unable to open" in message:
        if path and not os.access(path, os.W_OK):
            return ConfigError(f"the database file {path} is read-only; torchflow needs to "
                               "write it (check its permissions)")
        if path and not os.access(os.path.dirname(path) or ".", os.W_OK):
            return ConfigError(f"the folder of the database file {path} is read-only; SQLite "
                               "needs to write its journal beside the file")
        return ConfigError(f"cannot open the database {path}: {message}")
    if "disk i/o" in message or "disk is full" in message:
        return ConfigError(f"cannot write the database {path}: {message}")
    return None


def _sqlite_path(engine: Engine) -> str:
    database = engine.url.database or ""
    if database.startswith("file:"):
        database = unquote(database[len("file:"):])
    return database


def _translate_postgres(engine: Engine, message: str, orig: BaseException | None
                        ) -> TorchflowError | None:
    where = engine.url.render_as_string(hide_password=True)
    if _sqlstate(orig) == "55P03":  # lock_not_available
        return Conflict(BUSY)
    if "does not exist" in message and "database" in message:
        # A missing database, not missing tables: init cannot create it.
        return ConfigError(f"cannot connect to the database {where}: {message}")
    name = type(orig).__name__ if orig is not None else ""
    # psycopg 3 says "connection failed" / "failed to resolve host", psycopg 2
    # "could not connect" / "could not translate host name".
    connection = ("connection failed", "could not connect", "resolve host", "translate host",
                  "connection refused", "timeout expired", "password authentication",
                  "invalid integer value", "invalid port")
    if (name == "OperationalError" and _sqlstate(orig) is None) or any(
            m in message for m in connection):
        return ConfigError(f"cannot connect to the database {where}: {message}")
    if "does not exist" in message:
        return ConfigError(NO_TABLES)
    return None


def _sqlstate(orig: BaseException | None) -> str | None:
    return getattr(orig, "sqlstate", None)
