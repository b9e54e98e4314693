"""The one way a case changes: check its version, update it, append an event.

Written with Core statements on purpose: an advance is the hot path, and two
statements (a guarded UPDATE and an INSERT) are all it needs. The statements are
built once with bound parameters, so a call pays for neither building them nor
computing their cache keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Update, bindparam, insert, select, update

from torchflow.domain.history import GENESIS, event_hash
from torchflow.errors import Conflict, NotFound
from torchflow.store.models import CASES, EVENTS


@dataclass(frozen=True)
class CaseRow:
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


_COLUMNS = [CASES.c[name] for name in CaseRow.__dataclass_fields__]
_BY_KEY = select(*_COLUMNS).where(CASES.c.key == bindparam("key"))
_BY_ID = select(*_COLUMNS).where(CASES.c.id == bindparam("id"))
_INSERT_EVENT = insert(EVENTS)


def load_case(session: Connection, key: str) -> CaseRow:
    row = session.execute(_BY_KEY, {"key": key.strip().upper()}).first()
    if row is None:
        raise NotFound(f"no case with key '{key}'; see `torchflow case list`")
    return CaseRow(*row)


def case_by_id(session: Connection, case_id: int) -> CaseRow:
    return CaseRow(*session.execute(_BY_ID, {"id": case_id}).one())


@cache
def _bump(changed: frozenset[str]) -> Update:
    """The guarded UPDATE for one set of changed columns (a handful of shapes)."""
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in sorted(changed)}
    return (
        update(CASES)
        .where(CASES.c.id == bindparam("case_id"), CASES.c.version == bindparam("read_version"))
        .values(
            version=bindparam("new_version"), last_seq=bindparam("new_seq"),
            head_hash=bindparam("new_hash"), **values,
        )
    )


def append_event(
    session: Connection,
    case: CaseRow,
    *,
    kind: str,
    actor: str,
    at: datetime,
    data: dict[str, Any],
    from_state: str | None = None,
    to_state: str | None = None,
    changes: dict[str, Any] | None = None,
) -> int:
    """Append one event and apply ``changes`` to the case, if nobody changed it
    since ``case`` was read. Returns the event's seq."""
    seq = case.last_seq + 1
    prev = case.head_hash or GENESIS
    digest = event_hash(
        prev, case_key=case.key, seq=seq, kind=kind, actor=actor, at=at,
        from_state=from_state, to_state=to_state, data=data,
    )
    changes = changes or {}
    params = {f"new_{name}": value for name, value in changes.items()}
    params.update(case_id=case.id, read_version=case.version, new_version=case.version + 1,
                  new_seq=seq, new_hash=digest)
    result = session.execute(_bump(frozenset(changes)), params)
    if result.rowcount != 1:
        raise changed_since_read(case.key)
    session.execute(
        _INSERT_EVENT,
        {"case_id": case.id, "seq": seq, "kind": kind, "actor": actor, "at": at,
         "from_state": from_state, "to_state": to_state, "data": data, "prev_hash": prev,
         "hash": digest},
    )
    return seq


def changed_since_read(key: str, now: int | None = None, read: int | None = None) -> Conflict:
    detail = f" (version {now} now, you read {read})" if now is not None else ""
    return Conflict(
        f"case {key} changed since you read it{detail}; "
        f"look again with `torchflow case show {key}` and retry"
    )
