"""The hash chain of a case's history: each event's hash covers the previous
hash and the event's content, so editing or deleting a row shows.

Three schemes coexist, named on each event, so a database written before the
audit key (or before the database-wide sequence) still verifies:

- ``sha256``: before migration 0002; plain SHA-256, no database-wide sequence.
- ``sha256-g``: plain SHA-256 that also covers ``gseq``, the event's place in the
  whole database. Anyone who can write to the database can recompute it.
- ``hmac-sha256-g``: HMAC-SHA256 under TORCHFLOW_AUDIT_KEY over the same content;
  a rewrite without the key shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from msgspec import Struct

GENESIS = "0" * 64
LEGACY = "sha256"
PLAIN = "sha256-g"
KEYED = "hmac-sha256-g"
SCHEMES = (LEGACY, PLAIN, KEYED)


class EventRecord(Struct, frozen=True):
    seq: int
    kind: str
    actor: str
    at: datetime
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str
    gseq: int | None = None
    scheme: str = LEGACY
    entered_by: str | None = None
    db_role: str | None = None
    auth: str | None = None


def scheme_for(key: bytes | None) -> str:
    return KEYED if key else PLAIN


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
    gseq: int | None = None,
    key: bytes | None = None,
    entered_by: str | None = None,
    db_role: str | None = None,
    auth: str | None = None,
) -> str:
    """The legacy hash with no ``gseq`` and no ``key``; ``sha256-g`` with ``gseq``;
    ``hmac-sha256-g`` with both. ``entered_by`` and ``db_role`` (migration 0009)
    and ``auth`` (0012) are covered only when set, so every hash made before them
    is unchanged."""
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    content: list[Any] = [prev_hash, case_key, seq, kind, actor, stamp, from_state, to_state, data]
    if gseq is not None:
        content.append(gseq)
    who = {name: value for name, value in (("entered_by", entered_by), ("db_role", db_role),
                                           ("auth", auth)) if value is not None}
    if who:
        content.append(who)
    canonical = _canonical(content)
    if key:
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return hashlib.sha256(canonical).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def key_id(key: bytes) -> str:
    """A fingerprint of the key (not the key): tells a wrong key from a tampered row."""
    return hmac.new(key, b"torchflow audit key id", hashlib.sha256).hexdigest()[:16]


def head_mac(key: bytes, *, gseq: int, last_hash: str, keyed_since: int | None) -> str:
    """The database-wide head, signed: rewinding it (after deleting the newest
    events) needs the key."""
    return hmac.new(key, _canonical(["head", gseq, last_hash, keyed_since]),
                    hashlib.sha256).hexdigest()


def sign(key: bytes, document: dict[str, Any]) -> str:
    """HMAC-SHA256 of a JSON document in canonical form (a checkpoint)."""
    return hmac.new(key, _canonical(document), hashlib.sha256).hexdigest()


def signature_matches(key: bytes, document: dict[str, Any], mac: str) -> bool:
    return hmac.compare_digest(sign(key, document), mac)


def recompute(case_key: str, prev: str, ev: EventRecord, key: bytes | None) -> str | None:
    """The hash ``ev`` should carry under its own scheme; None when it cannot be
    known (a keyed event and no key)."""
    if ev.scheme == LEGACY:
        gseq, use = None, None
    elif ev.scheme == PLAIN:
        gseq, use = ev.gseq, None
    elif key:
        gseq, use = ev.gseq, key
    else:
        return None
    return event_hash(
        prev, case_key=case_key, seq=ev.seq, kind=ev.kind, actor=ev.actor, at=ev.at,
        from_state=ev.from_state, to_state=ev.to_state, data=ev.data, gseq=gseq, key=use,
        entered_by=ev.entered_by, db_role=ev.db_role, auth=ev.auth,
    )


def first_broken(
    case_key: str,
    events: Iterable[EventRecord],
    key: bytes | None = None,
    keyed_since: int | None = None,
) -> tuple[int, str] | None:
    """The seq of the first event that does not chain, and why; None if intact.

    With ``key``, an event not keyed although it comes after the database's first
    keyed event (``keyed_since``) is a break: keyed chains are never written
    without the key, so it was rewritten by someone who lacks it."""
    prev, expected_seq = GENESIS, 1
    for ev in events:
        problem = _event_problem(case_key, prev, expected_seq, ev, key, keyed_since)
        if problem:
            return ev.seq, problem
        prev, expected_seq = ev.hash, expected_seq + 1
    return None


def _event_problem(
    case_key: str, prev: str, expected_seq: int, ev: EventRecord, key: bytes | None,
    keyed_since: int | None,
) -> str | None:
    if ev.seq != expected_seq:
        return f"expected event #{expected_seq} here (an event is missing)"
    if ev.prev_hash != prev:
        return "its link to the previous event does not match"
    if ev.scheme not in SCHEMES:
        return f"its hash scheme {ev.scheme!r} is unknown"
    if key and ev.scheme != KEYED and _after(ev.gseq, keyed_since):
        return "it is not keyed although the history is keyed from an earlier event (rewritten?)"
    recomputed = recompute(case_key, prev, ev, key)
    if recomputed is not None and not hmac.compare_digest(recomputed, ev.hash):
        if ev.scheme == KEYED:
            return ("its content was changed after it was written "
                    "(or TORCHFLOW_AUDIT_KEY is not the key it was written with)")
        return "its content was changed after it was written"
    return None


def _after(gseq: int | None, keyed_since: int | None) -> bool:
    return keyed_since is not None and (gseq is None or gseq >= keyed_since)
