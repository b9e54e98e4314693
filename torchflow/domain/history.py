"""The hash chain of a case's history: each event's hash covers the previous
hash and the event's content, so editing or deleting a row shows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class EventRecord:
    seq: int
    kind: str
    actor: str
    at: datetime
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


def event_hash(
    prev_hash: str,
    *,
    case_key: str,
    seq: int,
    kind: str,
    actor: str,
    at: datetime,
    from_state: str | None,
    to_state: str | None,
    data: dict[str, Any],
) -> str:
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(
        [prev_hash, case_key, seq, kind, actor, stamp, from_state, to_state, data],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def first_broken(case_key: str, events: Iterable[EventRecord]) -> tuple[int, str] | None:
    """The seq of the first event that does not chain, and why; None if intact."""
    prev, expected_seq = GENESIS, 1
    for ev in events:
        if ev.seq != expected_seq:
            return ev.seq, f"expected event #{expected_seq} here (an event is missing)"
        if ev.prev_hash != prev:
            return ev.seq, "its link to the previous event does not match"
        recomputed = event_hash(
            prev,
            case_key=case_key,
            seq=ev.seq,
            kind=ev.kind,
            actor=ev.actor,
            at=ev.at,
            from_state=ev.from_state,
            to_state=ev.to_state,
            data=ev.data,
        )
        if recomputed != ev.hash:
            return ev.seq, "its content was changed after it was written"
        prev, expected_seq = ev.hash, expected_seq + 1
    return None
