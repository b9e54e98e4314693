"""Statements whose SQL differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table


def insert_ignore(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> int:
    """INSERT ... ON CONFLICT DO NOTHING; returns how many rows were new."""
    return len(inserted_keys(conn, table, rows, conflict))


def inserted_keys(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> set[Any]:
    """INSERT ... ON CONFLICT DO NOTHING; the first conflict column of the rows
    really inserted (a row whose key existed is not among them)."""
    if not rows:
        return set()
    # Only the dialect in use is imported: PostgreSQL's costs SQLite users start-up time.
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as module
    else:
        from sqlalchemy.dialects import sqlite as module  # type: ignore[no-redef]
    stmt = (
        module.insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict))
        # RETURNING yields only the rows really inserted, on both databases; a
        # rowcount is unreliable for executemany.
        .returning(table.c[conflict[0]])
    )
    return {row[0] for row in conn.execute(stmt, list(rows)).all()}
