"""`audit verify` and `audit checkpoint`: is the history as it was written?

Three checks, each catching what the others cannot:
- each case's chain (domain/history.py), keyed with TORCHFLOW_AUDIT_KEY when set;
- each case row against the replay of its events (domain/replay.py);
- the database-wide sequence against the head row, and key numbers against
  the numbers handed out, so a deleted event or a deleted case shows;
- the office chain (people, logins, absences, notice settings, feed and access
  tokens, stored workflow versions: service/audit/office.py) and its replay
  against those rows.
A checkpoint (counts and heads, signed with the key) kept outside the database
shows what the database alone cannot: the newest events removed and the head
rewound by someone holding write access.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from msgspec import Struct, field
from sqlalchemy import Connection, func, select

from torchflow.clock import wall_clock
from torchflow.domain.history import (
    KEYED,
    EventRecord,
    first_broken,
    head_mac,
    key_id,
    sign,
    signature_matches,
)
from torchflow.domain.replay import CaseFacts, ReplayError, mismatches, replay
from torchflow.errors import InvalidInput, NotFound
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.audit.head import HEAD_ID
from torchflow.service.audit.head import audit_key as key_from_env
from torchflow.service.cases.rows import CaseRow, case_by_id, load_case
from torchflow.store.models import (
    AUDIT_HEAD,
    CASES,
    EVENTS,
    KEY_SEQUENCES,
    PEOPLE,
    WORKFLOW_VERSIONS,
)

CHECKPOINT_FORMAT = "torchflow-audit-checkpoint"
CHECKPOINT_VERSION = 1
UNKEYED = (
    "the chain is unkeyed (TORCHFLOW_AUDIT_KEY is not set): anyone who can write to the "
    "database can rewrite a history and recompute its hashes, and this cannot detect it; "
    "set the key, and keep `torchflow audit checkpoint` files outside the database"
)
_EVENT_COLUMNS = (
    EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.actor, EVENTS.c.at, EVENTS.c.from_state,
    EVENTS.c.to_state, EVENTS.c.data, EVENTS.c.prev_hash, EVENTS.c.hash, EVENTS.c.gseq,
    EVENTS.c.scheme, EVENTS.c.entered_by, EVENTS.c.db_role, EVENTS.c.auth,
)


class Report(Struct):
    """Per-case results, database-wide problems, and notes on what was not checked."""

    cases: list[dict[str, Any]]
    problems: list[Any] = field(default_factory=list)  # str or Text
    notes: list[Any] = field(default_factory=list)
    keyed: bool = False
    office_events: int = 0  # in the office chain (service/audit/office.py)

    @property
    def ok(self) -> bool:
        return not self.problems and all(c["ok"] for c in self.cases)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "keyed": self.keyed, "cases": self.cases,
                "problems": self.problems, "notes": self.notes}


class _Head(Struct, frozen=True):
    gseq: int
    keyed_since: int | None
    key_id: str
    mac: str


def _key(audit_key_value: bytes | None) -> bytes | None:
    """An explicit key, or TORCHFLOW_AUDIT_KEY; b"" means none."""
    return key_from_env() if audit_key_value is None else (audit_key_value or None)


def verify(app: App, key: str | None = None, *, audit_key: bytes | None = None
           ) -> list[dict[str, Any]]:
    """Each case's chain and row (one case with ``key``); see ``audit`` for the whole."""
    return audit(app, key, audit_key=audit_key).cases


def audit(app: App, key: str | None = None, *, audit_key: bytes | None = None,
          against: dict[str, Any] | None = None) -> Report:
    secret = _key(audit_key)
    with app.db.read() as s:
        _snapshot(s)
        head = _head(s)
        cases = [load_case(s, key)] if key else _all_cases(s)
        handles = dict(s.execute(select(PEOPLE.c.id, PEOPLE.c.handle)).all())
        keyed_since = head.keyed_since if head else None
        results = [_verify_case(app, s, c, handles, secret, keyed_since) for c in cases]
        report = Report(results, keyed=secret is not None)
        if not key:
            report.problems.extend(_database_problems(s, head, secret))
            if not _wrong_key(head, secret):  # said once, for the whole history
                report.problems.extend(office.problems(s, secret))
            report.office_events = office.checkpoint_part(s)["events"]
        if against is not None:
            report.problems.extend(_against(s, against, secret, report.notes))
        report.notes[:0] = _notes(s, secret, head)
    return report


def _snapshot(s: Connection) -> None:
    """One consistent view for every statement that follows. A SQLite read
    transaction (WAL) is a snapshot already; on PostgreSQL, READ COMMITTED would
    let writers committing between two statements look like a head ahead of its
    events."""
    if s.dialect.name == "postgresql":
        s.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _all_cases(s: Connection) -> list[CaseRow]:
    return [case_by_id(s, i) for i in s.scalars(select(CASES.c.id).order_by(CASES.c.id))]


def _head(s: Connection) -> _Head | None:
    row = s.execute(select(AUDIT_HEAD.c.gseq, AUDIT_HEAD.c.keyed_since, AUDIT_HEAD.c.key_id,
                           AUDIT_HEAD.c.mac).where(AUDIT_HEAD.c.id == HEAD_ID)).first()
    return _Head(*row) if row else None


def _events(s: Connection, case_id: int) -> list[EventRecord]:
    rows = s.execute(select(*_EVENT_COLUMNS).where(EVENTS.c.case_id == case_id)
                     .order_by(EVENTS.c.seq))
    return [EventRecord(*row) for row in rows]


def _verify_case(app: App, s: Connection, case: CaseRow, handles: dict[int, str],
                 secret: bytes | None, keyed_since: int | None) -> dict[str, Any]:
    records = _events(s, case.id)
    broken = (first_broken(case.key, records, secret, keyed_since)
              or _head_problem(case, records) or _row_problem(app, s, case, records, handles))
    return {
        "key": case.key,
        "events": len(records),
        "ok": broken is None,
        "broken_at": broken[0] if broken else None,
        "reason": broken[1] if broken else None,
    }


def _head_problem(case: CaseRow, records: list[EventRecord]) -> tuple[int, str] | None:
    """The chain itself is intact; does it end where the case says it does?"""
    if case.last_seq > len(records):
        # Its head was cut off: events after the last one present were removed.
        return len(records) + 1, "the case records later events that are missing"
    if case.last_seq < len(records):
        return case.last_seq + 1, (
            f"the case records only {case.last_seq} events; this one was added behind its back"
        )
    if records and records[-1].hash != case.head_hash:
        # The last event was rewritten (hash recomputed) or replaced.
        return len(records), "it does not match the head of the chain recorded on the case"
    return None


def _row_problem(app: App, s: Connection, case: CaseRow, records: list[EventRecord],
                 handles: dict[int, str]) -> tuple[int | None, str] | None:
    """The chain is intact: is the case row what its events leave behind?"""
    version = s.execute(select(WORKFLOW_VERSIONS.c.name, WORKFLOW_VERSIONS.c.version)
                        .where(WORKFLOW_VERSIONS.c.id == case.workflow_version_id)).first()
    if version is None:
        return None, f"its workflow version #{case.workflow_version_id} is not stored"
    try:
        spec = app.registry.by_id(s, case.workflow_version_id).spec
        terminal = frozenset(n for n, st in spec.states.items() if st.terminal)
        replayed = replay(records, terminal)
    except (ReplayError, NotFound) as exc:
        return None, str(exc)
    row = CaseFacts(
        workflow=case.workflow,
        workflow_version=version.version if version.name == case.workflow
        else f"{version.name} v{version.version}", title=case.title, state=case.state,
        previous_state=case.previous_state,
        owner=handles.get(case.owner_id) if case.owner_id is not None else None,
        fields=case.fields, opened_at=case.opened_at, state_entered_at=case.state_entered_at,
        closed_at=case.closed_at, version=case.version, last_seq=case.last_seq,
        head_hash=case.head_hash, last_event_at=case.last_event_at,
    )
    found = mismatches(row, replayed)
    return (None, found[0] + " (the case row was changed behind torchflow's back)") if found \
        else None


# -- the whole database --------------------------------------------------------------------


def _database_problems(s: Connection, head: _Head | None, secret: bytes | None) -> list[str]:
    if head is None:
        return ["the audit head row is missing: it was deleted behind torchflow's back"]
    problems = _sequence_problems(s, head)
    problems += _head_signature_problems(s, head, secret)
    problems += _missing_cases(s)
    return problems


def _sequence_problems(s: Connection, head: _Head) -> list[str]:
    numbers = list(s.scalars(select(EVENTS.c.gseq).order_by(EVENTS.c.gseq)))
    problems = []
    missing = _gaps(numbers, head.gseq)
    if missing:
        problems.append(
            f"{len(missing)} event(s) of the database are missing ({_ranges(missing)} of "
            f"1-{head.gseq}): deleted, alone or with their case"
        )
    beyond = [n for n in numbers if n > head.gseq or n < 1]
    if beyond:
        problems.append(
            f"event(s) {_ranges(beyond)} lie outside the database's count of {head.gseq}: "
            "added behind torchflow's back"
        )
    return problems


def _gaps(numbers: list[int], top: int) -> list[int]:
    present = set(numbers)
    return [n for n in range(1, top + 1) if n not in present]


def _ranges(numbers: Iterable[int], limit: int = 5) -> str:
    shown = [f"#{n}" for n in list(numbers)[:limit]]
    more = len(list(numbers)) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _wrong_key(head: _Head | None, secret: bytes | None) -> bool:
    return (secret is not None and head is not None and head.keyed_since is not None
            and head.key_id != key_id(secret))


def _head_signature_problems(s: Connection, head: _Head, secret: bytes | None) -> list[str]:
    if secret is None or head.keyed_since is None:
        return []
    if head.key_id != key_id(secret):
        return ["TORCHFLOW_AUDIT_KEY is not the key this database's history was written with"]
    last = s.scalar(select(EVENTS.c.hash).where(EVENTS.c.gseq == head.gseq))
    want = head_mac(secret, gseq=head.gseq, last_hash=last or "", keyed_since=head.keyed_since)
    if head.mac != want:
        return [f"the database-wide head (event #{head.gseq}) is not signed with the key: "
                "rewound or rewritten behind torchflow's back"]
    return []


def _missing_cases(s: Connection) -> list[str]:
    """Keys are handed out 1, 2, 3... in the transaction that opens the case, so
    every number up to the last one handed out names a case that exists."""
    keys = set(s.scalars(select(CASES.c.key)))
    problems = []
    for prefix, year, last in s.execute(select(KEY_SEQUENCES)):
        gone = [f"{prefix}-{year}-{n:04d}" for n in range(1, last + 1)
                if f"{prefix}-{year}-{n:04d}" not in keys]
        if gone:
            problems.append(
                f"case(s) {', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''} are missing: "
                f"numbers up to {last} were handed out for {prefix}-{year}"
            )
    return problems


def _notes(s: Connection, secret: bytes | None, head: _Head | None) -> list[str]:
    keyed = s.scalar(select(func.count()).select_from(EVENTS).where(EVENTS.c.scheme == KEYED))
    if secret is None:
        if not keyed:
            return [UNKEYED]
        return [f"TORCHFLOW_AUDIT_KEY is not set, so the content of {keyed} keyed event(s) "
                "was not checked (only their links and order); set it to check them"]
    total = head.gseq if head else 0
    unkeyed = s.scalar(select(func.count()).select_from(EVENTS).where(EVENTS.c.scheme != KEYED))
    if unkeyed:
        return [f"{unkeyed} of {total} event(s) were written before the audit key was set and "
                "are protected only by the plain chain; a checkpoint pins them"]
    return []


# -- checkpoints ---------------------------------------------------------------------------


def checkpoint(app: App, *, audit_key: bytes | None = None,
               made_at: datetime | None = None) -> dict[str, Any]:
    """Counts and heads of the whole database, signed with the audit key if set."""
    secret = _key(audit_key)
    with app.db.transaction() as s:
        _snapshot(s)
        head = _head(s)
        gseq = head.gseq if head else 0
        doc: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "made_at": (made_at or wall_clock()).isoformat(),
            "events": gseq,
            "last_hash": s.scalar(select(EVENTS.c.hash).where(EVENTS.c.gseq == gseq)) or "",
            "keyed_events": s.scalar(select(func.count()).select_from(EVENTS)
                                     .where(EVENTS.c.scheme == KEYED)),
            "cases": {k: [n, h] for k, n, h in s.execute(
                select(CASES.c.key, CASES.c.last_seq, CASES.c.head_hash).order_by(CASES.c.id))},
            "keys": {f"{p}-{y}": n for p, y, n in s.execute(select(KEY_SEQUENCES))},
            "office": office.checkpoint_part(s),
        }
    doc["signature"] = {"scheme": "hmac-sha256", "mac": sign(secret, doc)} if secret else None
    return doc


def _against(s: Connection, doc: dict[str, Any], secret: bytes | None,
             notes: list[Any]) -> list[Any]:
    body = _checkpoint_body(doc)
    problems: list[Any] = _signature(body, doc.get("signature"), secret, notes)
    if problems:
        return problems  # an edited checkpoint says nothing reliable about the database
    problems += _cases_since(s, body["cases"])
    problems += _events_since(s, body)
    problems += office.since_checkpoint(s, body.get("office"))
    return problems


def _checkpoint_body(doc: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise InvalidInput("the file is not a torchflow audit checkpoint")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise InvalidInput(f"checkpoint version {doc.get('version')!r} is not known; "
                           f"this torchflow reads version {CHECKPOINT_VERSION}")
    body = {k: v for k, v in doc.items() if k != "signature"}
    if not isinstance(body.get("cases"), dict) or not isinstance(body.get("events"), int):
        raise InvalidInput("the checkpoint has no 'cases' and 'events'; it is not one torchflow "
                           "wrote")
    return body


def _signature(body: dict[str, Any], signature: Any, secret: bytes | None,
               notes: list[Any]) -> list[str]:
    if not signature:
        notes.append("the checkpoint is unsigned: it shows what changed only if the file "
                     "itself was kept where the database's writers cannot edit it")
        return []
    if secret is None:
        notes.append("the checkpoint is signed, but without TORCHFLOW_AUDIT_KEY its "
                     "signature cannot be checked")
        return []
    mac = signature.get("mac", "") if isinstance(signature, dict) else ""
    if not signature_matches(secret, body, str(mac)):
        return ["the checkpoint's signature does not match: the file was edited, or it was "
                "made with another key"]
    return []


def _cases_since(s: Connection, cases: dict[str, Any]) -> list[str]:
    now = {k: (n, h) for k, n, h in s.execute(
        select(CASES.c.key, CASES.c.last_seq, CASES.c.head_hash))}
    problems = []
    for key, (count, head_hash) in cases.items():
        if key not in now:
            problems.append(f"{key}: removed since the checkpoint (it had {count} event(s))")
            continue
        problems += _case_since(s, key, count, head_hash, now[key][0])
    return problems


def _case_since(s: Connection, key: str, count: int, head_hash: str, current: int) -> list[str]:
    if current < count:
        return [f"{key}: {current} event(s) now, {count} at the checkpoint: events removed"]
    if count == 0:
        return []
    stored = s.scalar(select(EVENTS.c.hash).select_from(EVENTS.join(CASES))
                      .where(CASES.c.key == key, EVENTS.c.seq == count))
    if stored != head_hash:
        return [f"{key}: its history up to event #{count} was rewritten since the checkpoint"]
    return []


def _events_since(s: Connection, body: dict[str, Any]) -> list[str]:
    head = _head(s)
    current = head.gseq if head else 0
    count = body["events"]
    if current < count:
        return [f"the database has {current} event(s), {count} at the checkpoint: "
                "events removed and the count rewound"]
    present = s.scalar(select(func.count()).select_from(EVENTS).where(EVENTS.c.gseq <= count))
    problems = []
    if present != count:
        problems.append(f"{count - (present or 0)} of the {count} event(s) at the checkpoint "
                        "are gone")
    last = s.scalar(select(EVENTS.c.hash).where(EVENTS.c.gseq == count)) if count else ""
    if count and last != body.get("last_hash"):
        problems.append(f"event #{count} of the database was rewritten since the checkpoint")
    keyed_then = body.get("keyed_events") or 0
    keyed_now = s.scalar(select(func.count()).select_from(EVENTS).where(EVENTS.c.scheme == KEYED))
    if (keyed_now or 0) < keyed_then:
        problems.append(f"{keyed_then} keyed event(s) at the checkpoint, {keyed_now} now: "
                        "keyed events were rewritten without the key")
    return problems
