"""`audit verify`: recompute every case's hash chain and name the first broken event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from torchflow.domain.history import EventRecord, first_broken
from torchflow.service.app import App
from torchflow.service.events import CASES, EVENTS, CaseRow, case_by_id, load_case


def verify(app: App, key: str | None = None) -> list[dict[str, Any]]:
    with app.db.read() as s:
        if key:
            cases = [load_case(s, key)]
        else:
            ids = s.scalars(select(CASES.c.id).order_by(CASES.c.id))
            cases = [case_by_id(s, case_id) for case_id in ids]
        return [_verify_case(s, case) for case in cases]


def _verify_case(session: Connection, case: CaseRow) -> dict[str, Any]:
    rows = session.execute(
        select(EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.actor, EVENTS.c.at, EVENTS.c.from_state,
               EVENTS.c.to_state, EVENTS.c.data, EVENTS.c.prev_hash, EVENTS.c.hash)
        .where(EVENTS.c.case_id == case.id)
        .order_by(EVENTS.c.seq)
    )
    records = [EventRecord(*row) for row in rows]
    broken = first_broken(case.key, records) or _head_problem(case, records)
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
