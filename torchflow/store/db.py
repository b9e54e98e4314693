"""Engine and unit-of-work set-up for SQLite (embedded) and PostgreSQL (scale-out).

SQLite is made power-safe (WAL + synchronous=FULL) and every transaction takes
the write lock up front (BEGIN IMMEDIATE), which is how two scheduler services
on one file avoid claiming the same notice: SQLAlchemy drops FOR UPDATE SKIP
LOCKED on SQLite silently, so the lock has to come from the BEGIN.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from torchflow.errors import ConfigError, Conflict, TorchflowError

SQLITE_BUSY_MS = 15000
UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for "relation ... does not exist"
NO_TABLES = "the database has no torchflow tables yet; run `torchflow init` first"


def make_engine(url: str, **kwargs: Any) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"database URL {url!r} is not valid; use e.g. sqlite:///torchflow.db "
            "or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, **kwargs)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the database driver is not installed ({exc.name}); "
            "install torchflow[postgres] for PostgreSQL"
        ) from None


def _sqlite_engine(url: str, database: str | None, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        folder = Path(database).parent
        if not folder.is_dir():
            raise ConfigError(f"the folder of the database file {database} does not exist")
    # Every transaction ends in COMMIT or ROLLBACK (Database.transaction), so the
    # pool's extra rollback on check-in is only cost.
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000},
                           pool_reset_on_return=None, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's begin event (the pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver: this runs once per transaction, on the hot path.
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")

    return engine


class Database:
    """An engine; ``transaction()`` is the unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All of it or none of it; database conflicts become a clear Conflict."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except TorchflowError:
            raise
        except OperationalError as exc:
            raise _translate(exc) from exc
        except DBAPIError as exc:
            if _is_serialization_failure(exc):
                raise Conflict(
                    "another torchflow changed the same rows at the same time; try again"
                ) from exc
            if _sqlstate(exc) == UNDEFINED_TABLE:
                # PostgreSQL reports a missing table as a ProgrammingError, not an
                # OperationalError as SQLite does.
                raise ConfigError(NO_TABLES) from exc
            raise

    def dispose(self) -> None:
        self.engine.dispose()


def _translate(exc: OperationalError) -> TorchflowError | OperationalError:
    message = str(exc.orig) if exc.orig is not None else str(exc)
    if "locked" in message or "busy" in message:
        return Conflict(
            "the database is busy (another torchflow is writing to it); try again in a moment"
        )
    # Connection failures first: PostgreSQL's "database ... does not exist" is one,
    # not a missing table (psycopg 3 says "connection failed", psycopg 2 "could not").
    if any(m in message for m in ("unable to open database", "could not connect",
                                  "connection failed")):
        return ConfigError(f"cannot open the database: {message.splitlines()[0]}")
    if "no such table" in message or "does not exist" in message:
        return ConfigError(NO_TABLES)
    return exc


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def _is_serialization_failure(exc: DBAPIError) -> bool:
    return _sqlstate(exc) in ("40001", "40P01")
