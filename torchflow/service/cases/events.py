"""The one writer of cases and their history: a new case and its key, and the
one way a case changes: check its version, update it, append an event.

Written with Core statements on purpose: an advance is the hot path, and three
statements are all it needs: bump the database-wide head (which hands out the
event's ``gseq``), the guarded UPDATE of the case and the INSERT of the event;
with an audit key, a fourth signs the head. The statements are built once with
bound parameters, so a call pays for neither building them nor computing their
cache keys.

The head row is locked first, by every writer of events: one lock order for
all (head, then case rows), so concurrent writers on PostgreSQL queue on the
head instead of deadlocking, and gseq has no gaps or doubles.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from msgspec import Struct
from sqlalchemy import Connection, Integer, Update, bindparam, insert, text, update

from torchflow.domain.history import GENESIS, event_hash, head_mac, key_id, scheme_for
from torchflow.errors import ConfigError, Conflict, Refused
from torchflow.i18n import _
from torchflow.service.audit.head import ENV_AUDIT_KEY, HEAD_ID, audit_key, caller_auth, db_role
from torchflow.service.cases.rows import CaseRow
from torchflow.store.models import AUDIT_HEAD, CASES, EVENTS

_INSERT_EVENT = insert(EVENTS)
# Plain SQL, run as is: it has no parameters, and skipping Core's compile and
# result set-up makes the extra statement on the hot path nearly free.
def _head_next(count: int) -> str:
    return (f"UPDATE audit_head SET gseq = gseq + {int(count)} WHERE id = {HEAD_ID} "
            "RETURNING gseq, keyed_since, key_id")


_HEAD_NEXT = _head_next(1)
_HEAD_SIGN = (
    update(AUDIT_HEAD).where(AUDIT_HEAD.c.id == HEAD_ID)
    .values(keyed_since=bindparam("keyed_since"), key_id=bindparam("key_id"),
            mac=bindparam("mac"))
)


def next_keys(session: Connection, prefix: str, year: int, count: int = 1) -> list[str]:
    """``count`` new case keys (``PI-2026-0001``) in one statement on both
    databases: concurrent opens and imports serialise on the sequence row."""
    last = session.execute(
        text("INSERT INTO key_sequences (prefix, year, last) VALUES (:p, :y, :n) "
             "ON CONFLICT (prefix, year) DO UPDATE SET last = key_sequences.last + :n "
             "RETURNING last").columns(last=Integer),
        {"p": prefix, "y": year, "n": count},
    ).scalar_one()
    return [f"{prefix}-{year}-{n:04d}" for n in range(last - count + 1, last + 1)]


def insert_case(session: Connection, row: dict[str, Any]) -> int:
    """A new case (its first event follows through ``append_event``); its id."""
    return int(session.execute(insert(CASES).values(row).returning(CASES.c.id)).scalar_one())


def insert_opened(session: Connection, records: list[dict[str, Any]],
                  events: list[NewEvent]) -> dict[str, int]:
    """New cases (an import's chunk), each with its first event (``events[i]``
    is ``records[i]``'s, its case read from the record, id not known yet): the
    case rows written with the chain state that event leaves them in (version,
    last_seq, head_hash, last_event_at as ``append_event`` sets them), so no
    guarded update follows each insert; the head bumped once. Their ids by key."""
    if not records:
        return {}
    key = audit_key()
    last, keyed_since = _next_gseq(session, key, len(events))
    first = last - len(events) + 1
    role, auth = db_role(session), caller_auth(session)
    rows = []
    for gseq, (record, event) in enumerate(zip(records, events, strict=True), start=first):
        if event.changes or event.case.key != record["key"] or event.case.last_seq:
            raise ValueError("insert_opened takes a new case's first event, changing nothing")
        bump, row = _chained(event, gseq, key, role, auth)
        record.update(version=bump["new_version"], last_seq=bump["new_seq"],
                      head_hash=bump["new_hash"], last_event_at=bump["new_at"])
        rows.append(row)
    # By key: RETURNING in parameter order makes SQLAlchemy insert one row per
    # statement on SQLite (no sentinel); by key, a chunk is a few statements.
    ids: dict[str, int] = dict(session.execute(  # type: ignore[arg-type]
        insert(CASES).returning(CASES.c.key, CASES.c.id), records).all())
    for row, record in zip(rows, records, strict=True):
        row["case_id"] = ids[record["key"]]
    session.execute(_INSERT_EVENT, rows)
    _sign_head(session, key, keyed_since or first, last, rows[-1]["hash"])
    return ids


@cache
def _bump(changed: frozenset[str]) -> Update:
    """The guarded UPDATE for one set of changed columns (a handful of shapes)."""
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in sorted(changed)}
    return (
        update(CASES)
        .where(CASES.c.id == bindparam("case_id"), CASES.c.version == bindparam("read_version"))
        .values(
            version=bindparam("new_version"), last_seq=bindparam("new_seq"),
            head_hash=bindparam("new_hash"), last_event_at=bindparam("new_at"), **values,
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
    entered_by: str | None = None,
) -> int:
    """Append one event and apply ``changes`` to the case, if nobody changed it
    since ``case`` was read. Returns the event's seq. ``entered_by`` is the real
    person when an admin acts as ``actor`` (None when they are the same)."""
    refuse_out_of_order(case, at)
    key = audit_key()
    gseq, keyed_since = _next_gseq(session, key)
    event = NewEvent(case, kind=kind, actor=actor, at=at, data=data, from_state=from_state,
                     to_state=to_state, changes=changes, entered_by=entered_by)
    bump, row = _chained(event, gseq, key, db_role(session), caller_auth(session))
    result = session.execute(_bump(frozenset(event.changes or {})), bump)
    if result.rowcount != 1:
        raise changed_since_read(case.key)
    session.execute(_INSERT_EVENT, row)
    _sign_head(session, key, keyed_since, gseq, row["hash"])
    return int(row["seq"])


class NewEvent(Struct, frozen=True):
    """One event for ``insert_opened``: what ``append_event`` takes, as a value."""

    case: CaseRow
    kind: str
    actor: str
    at: datetime
    data: dict[str, Any]
    from_state: str | None = None
    to_state: str | None = None
    changes: dict[str, Any] | None = None
    entered_by: str | None = None


def _chained(event: NewEvent, gseq: int, key: bytes | None, role: str | None,
             auth: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The guarded case update's parameters and the event row, hashed into the chain."""
    case = event.case
    seq = case.last_seq + 1
    prev = case.head_hash or GENESIS
    digest = event_hash(
        prev, case_key=case.key, seq=seq, kind=event.kind, actor=event.actor, at=event.at,
        from_state=event.from_state, to_state=event.to_state, data=event.data, gseq=gseq,
        key=key, entered_by=event.entered_by, db_role=role, auth=auth,
    )
    bump = {f"new_{name}": value for name, value in (event.changes or {}).items()}
    bump.update(case_id=case.id, read_version=case.version, new_version=case.version + 1,
                new_seq=seq, new_hash=digest, new_at=event.at)
    row = {"case_id": case.id, "seq": seq, "kind": event.kind, "actor": event.actor,
           "at": event.at, "from_state": event.from_state, "to_state": event.to_state,
           "data": event.data, "prev_hash": prev, "hash": digest, "gseq": gseq,
           "scheme": scheme_for(key), "entered_by": event.entered_by, "db_role": role,
           "auth": auth}
    return bump, row


def _sign_head(session: Connection, key: bytes | None, keyed_since: int | None, gseq: int,
               digest: str) -> None:
    if key:
        since = keyed_since or gseq
        session.execute(_HEAD_SIGN, {
            "keyed_since": since, "key_id": key_id(key),
            "mac": head_mac(key, gseq=gseq, last_hash=digest, keyed_since=since),
        })


def refuse_out_of_order(case: CaseRow, at: datetime) -> None:
    """History stays in time order: a write dated before the case's newest event
    (TORCHFLOW_NOW set back) is refused before anything is written."""
    last = case.last_event_at
    if last is not None and at < last:
        raise Refused(
            _("case {key} last changed at {last}; now is earlier ({at}): set TORCHFLOW_NOW to "
              "that time or later, or unset it",
              key=case.key, last=last.isoformat(), at=at.isoformat())
        )


def _bump_head(session: Connection, count: int = 1) -> Any:
    """``_HEAD_NEXT``'s row. On SQLite straight to the driver, as db.py's BEGIN
    IMMEDIATE is: the write lock is already held, so this cannot wait, and Core's
    per-statement cost would be a tenth of an advance. A driver error runs the
    statement again through SQLAlchemy, which turns it into a one-line error (a
    failed SQLite statement changes nothing). PostgreSQL goes through SQLAlchemy,
    which words a deadlock or a serialization failure as a conflict."""
    if session.dialect.name == "sqlite":
        try:
            cursor = session.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(_HEAD_NEXT if count == 1 else _head_next(count))
                return cursor.fetchone()
            finally:
                cursor.close()
        except session.dialect.loaded_dbapi.Error:
            pass
    return session.exec_driver_sql(_HEAD_NEXT if count == 1 else _head_next(count)).first()


def _next_gseq(session: Connection, key: bytes | None, count: int = 1
               ) -> tuple[int, int | None]:
    """Take the database-wide head (its row lock is held to commit) and the next
    gseq (the last of the next ``count``)."""
    head = _bump_head(session, count)
    if head is None:
        raise Refused(
            _("the database has no audit head row (it was deleted); see `torchflow audit verify` "
              "before writing")
        )
    gseq, keyed_since, stored_id = head
    if key is None and keyed_since is not None:
        raise ConfigError(
            _("this database's history is keyed (since event #{keyed_since}); set "
              "{env_audit_key} to write to it",
              keyed_since=keyed_since, env_audit_key=ENV_AUDIT_KEY)
        )
    if key is not None and stored_id and stored_id != key_id(key):
        raise ConfigError(
            _("{env_audit_key} is not the key this database's history is written with",
              env_audit_key=ENV_AUDIT_KEY)
        )
    return gseq, keyed_since


def changed_since_read(key: str, now: int | None = None, read: int | None = None) -> Conflict:
    detail = f" (version {now} now, you read {read})" if now is not None else ""
    return Conflict(
        f"case {key} changed since you read it{detail}; "
        f"look again with `torchflow case show {key}` and retry"
    )
