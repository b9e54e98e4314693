"""One writer per table: every statement that inserts, updates or deletes rows of
cases, case_events, tasks, notices, channel_budgets, access_tokens, enterprises,
enterprise_contacts, case_enterprises, office_events or office_head is in that
table's one module (read from the source, so a new writer anywhere else fails here)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import torchflow

ROOT = Path(torchflow.__file__).parent
WRITERS = {
    "CASES": "service/cases/events.py",
    "EVENTS": "service/cases/events.py",
    "KEY_SEQUENCES": "service/cases/events.py",
    "TASKS": "service/followups/writer.py",
    "NOTICES": "service/delivery/ledger.py",
    "BUDGETS": "service/delivery/gate.py",
    "ACCESS_TOKENS": "service/people/tokens.py",
    "ENTERPRISES": "service/enterprises/records.py",
    "ENTERPRISE_CONTACTS": "service/enterprises/records.py",
    "CASE_ENTERPRISES": "service/enterprises/records.py",
    "OFFICE_EVENTS": "service/audit/office.py",
    "OFFICE_HEAD": "service/audit/office.py",
}
SQL_NAMES = {"cases": "CASES", "case_events": "EVENTS", "key_sequences": "KEY_SEQUENCES",
             "tasks": "TASKS", "notices": "NOTICES", "channel_budgets": "BUDGETS",
             "access_tokens": "ACCESS_TOKENS", "enterprises": "ENTERPRISES",
             "enterprise_contacts": "ENTERPRISE_CONTACTS", "case_enterprises": "CASE_ENTERPRISES",
             "office_events": "OFFICE_EVENTS", "office_head": "OFFICE_HEAD"}
WRITE_CALLS = {"insert", "update", "delete", "insert_ignore", "inserted_keys"}
SQL_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


def _table(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) and node.id in WRITERS else None


def writes(tree: ast.AST) -> set[str]:
    """The tables a module's code writes: ``insert(T)``, ``T.update()``,
    ``insert_ignore(s, T, ...)``, and raw SQL naming them."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else "")
            if name in WRITE_CALLS:
                found.update(t for a in node.args[:2] if (t := _table(a)))
            is_method = isinstance(func, ast.Attribute) and func.attr in WRITE_CALLS
            if is_method and (table := _table(func.value)):  # type: ignore[union-attr]
                found.add(table)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in SQL_WRITE.finditer(node.value):
                if match[1].lower() in SQL_NAMES:
                    found.add(SQL_NAMES[match[1].lower()])
    return found


def modules() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_tables_writer_writes_it(path: Path) -> None:
    here = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    strangers = {t for t in writes(tree) if WRITERS[t] != here}
    assert not strangers, f"{here} writes {sorted(strangers)}; " + "; ".join(
        f"{t} is written by {WRITERS[t]} only" for t in sorted(strangers))


def test_the_check_sees_each_kind_of_write() -> None:
    source = '''
insert(TASKS)
NOTICES.update()
insert_ignore(s, NOTICES, rows, ["idempotency_key"])
s.execute(text("UPDATE cases SET title = 'x'"))
"INSERT INTO key_sequences (prefix, year, last) VALUES (:p, :y, 1)"
select(EVENTS)
'''
    assert writes(ast.parse(source)) == {"TASKS", "NOTICES", "CASES", "KEY_SEQUENCES"}


def test_each_writer_writes_its_tables() -> None:
    for table, module in WRITERS.items():
        assert table in writes(ast.parse((ROOT / module).read_text(encoding="utf-8"))), table
