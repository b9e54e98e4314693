"""The import looks each chunk's rows up among the stored cases on their indexes:
one OR of "this reference" and "this key" made SQLite walk every case of the
workflow per chunk, an import quadratic in its rows (service/sheets/imports._stored);
and it reads the stored cases' facts for a chunk at once, not two statements a row."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.conftest import is_postgres
from torchflow.errors import Problems
from torchflow.service.app import App
from torchflow.service.audit.verify import checkpoint
from torchflow.service.people.lookup import Actor
from torchflow.service.sheets import imports
from torchflow.store.models import WORKFLOW_VERSIONS

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


def _sheet(path: Path, rows: int, title: str) -> Path:
    lines = ["外部编号,标题,负责人,状态,企业名称,所属产业,线索来源,计划投资额"]
    lines += [f"ZB-{i:03d},{title} {i},wang.li,在谈,企业 {i},新能源,以商引商,{100 + i}"
              for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _statements(app: App, run: Callable[[], Any]) -> int:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(app.db.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(app.db.engine, "before_cursor_execute", count)
    return len(seen)


@pytest.mark.parametrize("who", ["wang.li", "office.admin"])
def test_a_reimport_reads_the_cases_facts_once_per_chunk(
        app: App, staff: dict[str, Actor], admin: Actor, tmp_path: Path, who: str) -> None:
    """Each renamed row is `case set` on a stored case, held to its facts (owner,
    assignees): read for the chunk in one statement, an admin's rows as anyone's,
    so checking a sheet costs the same statements for 3 rows as for 40."""
    actor = admin if who == "office.admin" else staff[who]
    counts = []
    for rows in (3, 40):
        folder = tmp_path / str(rows)
        folder.mkdir()
        first = _sheet(folder / "first.csv", rows, "项目")
        imports.import_cases(app, staff["wang.li"], "project_introduction", first)
        renamed = _sheet(folder / "renamed.csv", rows, f"更名 {rows}")
        done: list[Any] = []
        counts.append(_statements(app, partial(
            lambda sheet, out: out.append(imports.import_cases(
                app, actor, "project_introduction", sheet, dry_run=True)), renamed, done)))
        assert len(done[0].updated) == rows
    assert counts[1] <= counts[0], counts  # the first also reads the version once


def test_a_row_is_refused_what_its_case_refuses_by_hand(
        app: App, staff: dict[str, Actor], tmp_path: Path) -> None:
    """Facts read per chunk still refuse: zhao.min may not rename wang.li's cases."""
    imports.import_cases(app, staff["wang.li"], "project_introduction",
                         _sheet(tmp_path / "first.csv", 3, "项目"))
    with pytest.raises(Problems) as refused:
        imports.import_cases(app, staff["zhao.min"], "project_introduction",
                             _sheet(tmp_path / "renamed.csv", 3, "更名"), dry_run=True)
    assert "zhao.min may not set" in str(refused.value)
    assert "and 2 more problem" in str(refused.value)


def test_a_refused_import_stores_nothing_not_even_the_workflow_version(
        app: App, staff: dict[str, Actor], tmp_path: Path) -> None:
    bad = _sheet(tmp_path / "bad.csv", 3, "项目")
    bad.write_text(bad.read_text(encoding="utf-8").replace(",wang.li,", ",nobody.here,"),
                   encoding="utf-8")
    before = checkpoint(app)["office"]["events"]
    with pytest.raises(Problems):
        imports.import_cases(app, staff["wang.li"], "project_introduction", bad)
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(WORKFLOW_VERSIONS)) == 0
    assert checkpoint(app)["office"]["events"] == before
    # The same rows, good: the version is stored with them.
    imports.import_cases(app, staff["wang.li"], "project_introduction",
                         _sheet(tmp_path / "good.csv", 3, "项目"))
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(WORKFLOW_VERSIONS)) == 1
