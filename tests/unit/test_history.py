"""The hash chain of a case's history: event_hash and first_broken."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from msgspec.structs import replace

from torchflow.domain.history import (
    GENESIS,
    KEYED,
    PLAIN,
    EventRecord,
    event_hash,
    first_broken,
    head_mac,
    key_id,
    sign,
    signature_matches,
)

KEY = "PI-2026-0001"
AT = datetime(2026, 3, 4, 1, 0, 0, 123456, tzinfo=UTC)

BASE: dict[str, Any] = {
    "case_key": KEY,
    "seq": 1,
    "kind": "opened",
    "actor": "wang.li",
    "at": AT,
    "from_state": None,
    "to_state": "lead",
    "data": {"title": "新材料项目", "fields": {"planned_investment": 5000}},
}


def h(prev: str = GENESIS, **changes: Any) -> str:
    return event_hash(prev, **{**BASE, **changes})


def chain(n: int = 4, key: str = KEY) -> list[EventRecord]:
    """n well-formed events, as append_event writes them."""
    records, prev = [], GENESIS
    for seq in range(1, n + 1):
        kind = "opened" if seq == 1 else "advanced"
        at = AT + timedelta(hours=seq)
        data = {"trigger": f"t{seq}", "n": seq}
        digest = event_hash(
            prev, case_key=key, seq=seq, kind=kind, actor="wang.li", at=at,
            from_state=f"s{seq - 1}", to_state=f"s{seq}", data=data,
        )
        records.append(
            EventRecord(seq, kind, "wang.li", at, f"s{seq - 1}", f"s{seq}", data, prev, digest)
        )
        prev = digest
    return records


# -- event_hash ---------------------------------------------------------------------------


def test_event_hash_is_sha256_of_the_canonical_json() -> None:
    canonical = json.dumps(
        [GENESIS, KEY, 1, "opened", "wang.li", "2026-03-04T01:00:00.123456+00:00", None, "lead",
         BASE["data"]],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    assert h() == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert len(h()) == 64
    assert GENESIS == "0" * 64


def test_event_hash_is_deterministic() -> None:
    assert h() == h()
    data_copy = json.loads(json.dumps(BASE["data"]))
    assert h(data=data_copy) == h()


def test_event_hash_ignores_key_order_in_data() -> None:
    a = {"a": 1, "b": {"x": 1, "y": 2}}
    b = {"b": {"y": 2, "x": 1}, "a": 1}
    assert h(data=a) == h(data=b)


def test_event_hash_depends_on_the_instant_not_its_time_zone() -> None:
    beijing = AT.astimezone(timezone(timedelta(hours=8)))
    assert beijing.hour == 9
    assert h(at=beijing) == h()
    # Microseconds count: a database that dropped them would break the chain.
    assert h(at=AT.replace(microsecond=0)) != h()


@pytest.mark.parametrize(
    "change",
    [
        {"case_key": "PI-2026-0002"},
        {"seq": 2},
        {"kind": "note"},
        {"actor": "zhao.min"},
        {"at": AT + timedelta(microseconds=1)},
        {"from_state": "lead"},
        {"to_state": "signed"},
        {"to_state": None},
        {"data": {"title": "新材料项目", "fields": {"planned_investment": 5001}}},
        {"data": {}},
    ],
    ids=lambda c: next(iter(c)),
)
def test_event_hash_covers_every_part(change: dict[str, Any]) -> None:
    assert h(**change) != h()


def test_event_hash_covers_the_previous_hash() -> None:
    assert h(prev="1" * 64) != h()


def test_event_hash_keeps_non_ascii_text() -> None:
    # ensure_ascii=False: the hash is over the UTF-8 of the text itself.
    assert h(data={"note": "签约"}) != h(data={"note": "签約"})


# -- first_broken ---------------------------------------------------------------------------


def test_intact_chain_and_empty_chain() -> None:
    assert first_broken(KEY, chain()) is None
    assert first_broken(KEY, []) is None


def test_chain_belongs_to_its_case_key() -> None:
    # The key is hashed in: moving events to another case breaks them.
    assert first_broken("PI-2026-0002", chain()) == (
        1, "its content was changed after it was written"
    )


def test_changed_data_is_found_at_its_seq() -> None:
    records = chain()
    records[2] = replace(records[2], data={"trigger": "t3", "n": 99})
    assert first_broken(KEY, records) == (3, "its content was changed after it was written")


@pytest.mark.parametrize(
    "field, value",
    [("actor", "mallory"), ("kind", "note"), ("to_state", "closed"),
     ("at", AT + timedelta(days=1)), ("hash", "f" * 64)],
)
def test_changed_column_is_found(field: str, value: Any) -> None:
    records = chain()
    records[1] = replace(records[1], **{field: value})
    assert first_broken(KEY, records) == (2, "its content was changed after it was written")


def test_rewritten_event_with_recomputed_hash_breaks_the_next_link() -> None:
    records = chain()
    old = records[1]
    data = {"trigger": "forged", "n": 2}
    forged = event_hash(
        old.prev_hash, case_key=KEY, seq=2, kind=old.kind, actor=old.actor, at=old.at,
        from_state=old.from_state, to_state=old.to_state, data=data,
    )
    records[1] = replace(old, data=data, hash=forged)
    assert first_broken(KEY, records) == (3, "its link to the previous event does not match")


def test_changed_prev_hash_is_a_broken_link() -> None:
    records = chain()
    records[0] = replace(records[0], prev_hash="1" * 64)
    assert first_broken(KEY, records) == (1, "its link to the previous event does not match")


def test_missing_middle_event() -> None:
    records = chain()
    del records[1]
    assert first_broken(KEY, records) == (3, "expected event #2 here (an event is missing)")


def test_missing_first_event() -> None:
    assert first_broken(KEY, chain()[1:]) == (2, "expected event #1 here (an event is missing)")


def test_missing_last_event_is_not_visible_to_the_chain_alone() -> None:
    # Cutting the tail leaves a valid prefix: the case's head (last_seq, head_hash)
    # is what reveals it, see audit.verify.
    assert first_broken(KEY, chain()[:-1]) is None


def test_duplicated_event_is_found() -> None:
    records = chain()
    records.insert(2, records[1])
    assert first_broken(KEY, records) == (2, "expected event #3 here (an event is missing)")


def test_reports_only_the_first_break() -> None:
    records = chain(6)
    records[1] = replace(records[1], actor="x")
    records[4] = replace(records[4], actor="y")
    assert first_broken(KEY, records) == (2, "its content was changed after it was written")


# -- schemes: the database-wide sequence and the audit key ---------------------------------

SECRET = b"0123456789abcdef-audit"


def keyed_chain(n: int = 4, key: bytes | None = SECRET, start: int = 10) -> list[EventRecord]:
    """n events as append_event writes them after migration 0002 (gseq from ``start``)."""
    scheme = KEYED if key else PLAIN
    records, prev = [], GENESIS
    for seq in range(1, n + 1):
        at = AT + timedelta(hours=seq)
        data = {"n": seq}
        gseq = start + seq
        digest = event_hash(prev, case_key=KEY, seq=seq, kind="note", actor="wang.li", at=at,
                            from_state=None, to_state=None, data=data, gseq=gseq, key=key)
        records.append(EventRecord(seq, "note", "wang.li", at, None, None, data, prev, digest,
                                   gseq, scheme))
        prev = digest
    return records


def test_the_legacy_hash_is_unchanged_by_the_new_schemes() -> None:
    # Events written before 0002 keep verifying: no gseq and no key is the old hash.
    assert h() == event_hash(GENESIS, **BASE, gseq=None, key=None)
    assert h() != event_hash(GENESIS, **BASE, gseq=1)
    assert event_hash(GENESIS, **BASE, gseq=1) != event_hash(GENESIS, **BASE, gseq=2)


def test_who_entered_it_is_covered_only_when_set() -> None:
    # Migration 0009: an event with no entered_by / db_role hashes as before it.
    plain = event_hash(GENESIS, **BASE, gseq=1)
    assert event_hash(GENESIS, **BASE, gseq=1, entered_by=None, db_role=None) == plain
    by_admin = event_hash(GENESIS, **BASE, gseq=1, entered_by="office.admin")
    as_role = event_hash(GENESIS, **BASE, gseq=1, db_role="wang.li")
    assert len({plain, by_admin, as_role}) == 3
    assert by_admin != event_hash(GENESIS, **BASE, gseq=1, entered_by="chen.jie")
    record = EventRecord(1, BASE["kind"], BASE["actor"], BASE["at"], BASE["from_state"],
                         BASE["to_state"], BASE["data"], GENESIS, by_admin, 1, "sha256-g",
                         entered_by="office.admin")
    assert first_broken(BASE["case_key"], [record]) is None
    forged = replace(record, entered_by="chen.jie")
    assert first_broken(BASE["case_key"], [forged]) == (
        1, "its content was changed after it was written")


def test_the_keyed_hash_is_hmac_sha256() -> None:
    plain = event_hash(GENESIS, **BASE, gseq=1)
    keyed = event_hash(GENESIS, **BASE, gseq=1, key=SECRET)
    assert keyed != plain
    assert keyed != event_hash(GENESIS, **BASE, gseq=1, key=b"another key entirely")
    assert len(keyed) == 64


def test_a_keyed_chain_verifies_with_its_key_only() -> None:
    records = keyed_chain()
    assert first_broken(KEY, records, SECRET) is None
    assert first_broken(KEY, records, b"not the right key!") == (
        1, "its content was changed after it was written "
        "(or TORCHFLOW_AUDIT_KEY is not the key it was written with)"
    )
    # Without the key the content cannot be checked; the links still are.
    assert first_broken(KEY, records, None) is None
    records[2] = replace(records[2], prev_hash="1" * 64)
    assert first_broken(KEY, records, None) == (3, "its link to the previous event does not match")


def test_a_keyed_event_rewritten_without_the_key_shows() -> None:
    records = keyed_chain()
    old = records[1]
    data = {"n": 99}
    forged = event_hash(old.prev_hash, case_key=KEY, seq=2, kind="note", actor="wang.li",
                        at=old.at, from_state=None, to_state=None, data=data, gseq=old.gseq)
    records[1] = replace(old, data=data, hash=forged, scheme=PLAIN)
    assert first_broken(KEY, records, SECRET, keyed_since=11) == (
        2, "it is not keyed although the history is keyed from an earlier event (rewritten?)"
    )


def test_plain_events_before_the_key_was_set_still_verify_with_it() -> None:
    plain = keyed_chain(2, key=None, start=0)
    assert first_broken(KEY, plain, SECRET, keyed_since=50) is None


def test_a_renumbered_gseq_shows() -> None:
    records = keyed_chain()
    records[1] = replace(records[1], gseq=99)
    assert first_broken(KEY, records, SECRET) == (
        2, "its content was changed after it was written "
        "(or TORCHFLOW_AUDIT_KEY is not the key it was written with)"
    )


def test_an_unknown_scheme_is_a_break() -> None:
    records = keyed_chain()
    records[0] = replace(records[0], scheme="md5")
    assert first_broken(KEY, records, SECRET) == (1, "its hash scheme 'md5' is unknown")


def test_head_and_checkpoint_signatures() -> None:
    mac = head_mac(SECRET, gseq=3, last_hash="a" * 64, keyed_since=1)
    assert mac != head_mac(SECRET, gseq=2, last_hash="a" * 64, keyed_since=1)
    assert mac != head_mac(b"another key entirely", gseq=3, last_hash="a" * 64, keyed_since=1)
    doc = {"events": 3, "cases": {"PI-2026-0001": [3, "a" * 64]}}
    assert signature_matches(SECRET, doc, sign(SECRET, doc))
    assert not signature_matches(SECRET, {**doc, "events": 2}, sign(SECRET, doc))
    assert key_id(SECRET) == key_id(SECRET) != key_id(b"another key entirely")
    assert SECRET.hex() not in key_id(SECRET)
