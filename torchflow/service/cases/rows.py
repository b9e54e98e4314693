"""A case as read: the row every use case works on, found by key or id with
statements built once. Read by both sides (events.py writes; read.py shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct
from sqlalchemy import Connection, bindparam, select

from torchflow.errors import NotFound
from torchflow.store.models import CASES


class CaseRow(Struct, frozen=True):
    id: int
    key: str
    workflow: str
    workflow_version_id: int
    state: str
    previous_state: str | None
    title: str
    owner_id: int | None
    fields: dict[str, Any]
    opened_at: datetime
    state_entered_at: datetime
    closed_at: datetime | None
    version: int
    last_seq: int
    head_hash: str
    last_event_at: datetime | None = None


_COLUMNS = [CASES.c[name] for name in CaseRow.__struct_fields__]


_BY_KEY = select(*_COLUMNS).where(CASES.c.key == bindparam("key"))


_BY_ID = select(*_COLUMNS).where(CASES.c.id == bindparam("id"))


def load_case(session: Connection, key: str) -> CaseRow:
    row = session.execute(_BY_KEY, {"key": key.strip().upper()}).first()
    if row is None:
        raise NotFound(f"no case with key '{key}'; see `torchflow case list`")
    return CaseRow(*row)


def case_by_id(session: Connection, case_id: int) -> CaseRow:
    return CaseRow(*session.execute(_BY_ID, {"id": case_id}).one())
