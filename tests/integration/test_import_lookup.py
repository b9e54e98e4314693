"""The import looks each chunk's rows up among the stored cases on their indexes:
one OR of "this reference" and "this key" made SQLite walk every case of the
workflow per chunk, an import quadratic in its rows (service/sheets/imports._stored)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import is_postgres
from torchflow.service.app import App
from torchflow.service.sheets import imports

# A search on the whole of an index's key: the reference within the workflow, or the key.
ON_INDEX = re.compile(r"SEARCH cases USING (COVERING )?INDEX \S+ "
                      r"\((workflow=\? AND external_ref=\?|key=\?)\)")


@pytest.mark.skipif(is_postgres(), reason="reads SQLite's query plan")
def test_stored_cases_are_found_on_their_indexes(app: App) -> None:
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                _many: bool) -> None:
        if "FROM cases" in statement:
            seen.append((statement, parameters))

    event.listen(app.db.engine, "before_cursor_execute", capture)
    try:
        with app.db.read() as s:
            imports._stored(s, "project_introduction", ["ZB-000001", "PI-2026-0001"])
    finally:
        event.remove(app.db.engine, "before_cursor_execute", capture)
    assert seen
    raw = app.db.engine.raw_connection()
    try:
        for statement, parameters in seen:
            plan = [r[3] for r in raw.driver_connection.execute(  # type: ignore[union-attr]
                "EXPLAIN QUERY PLAN " + statement, parameters)]
            assert plan and all(ON_INDEX.fullmatch(step) for step in plan), plan
    finally:
        raw.close()
