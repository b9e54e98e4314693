"""A case's history on a real database: what each change records, and the hash chain
that `audit verify` checks, against rows edited or deleted behind torchflow's back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from tests.conftest import Clock, is_postgres
from torchflow.domain.history import GENESIS, event_hash
from torchflow.errors import NotFound
from torchflow.service.app import App
from torchflow.service.audit.verify import verify
from torchflow.service.cases.change import add_note, advance, assign, open_case, set_fields
from torchflow.service.cases.read import history
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, EVENTS

PI_OPEN = {
    "enterprise": "星河新材料有限公司",
    "industry": "new materials",
    "lead_source": "referral",
    "planned_investment": "12.5",
}
OK = {"ok": True, "broken_at": None, "reason": None}


def walked(app: App, staff: dict[str, Actor], clock: Clock) -> str:
    """A case with seven events of every kind a case service writes."""
    key = open_case(app, staff["wang.li"], "project_introduction", title="新材料基地 \"一期\"",
                    fields=PI_OPEN)["key"]
    clock.advance(hours=3, microseconds=654321)
    advance(app, staff["wang.li"], key, "make_contact", note="首次电话 ✓")
    clock.advance(days=1)
    add_note(app, staff["wang.li"], key, "反斜杠 \\ 引号 \" 换行\n第二行")
    set_fields(app, staff["wang.li"], key, {"contact_person": "李总", "expected_jobs": "0.5"})
    advance(app, staff["wang.li"], key, "negotiate")
    assign(app, staff["wang.li"], key, "zhao.min")
    advance(app, staff["zhao.min"], key, "hold")
    return key


def case_id(app: App, key: str) -> int:
    with app.db.transaction() as s:
        return s.execute(select(CASES.c.id).where(CASES.c.key == key)).scalar_one()


def event_where(app: App, key: str, seq: int) -> Any:
    return (EVENTS.c.case_id == case_id(app, key)) & (EVENTS.c.seq == seq)


def result(key: str, events: int, broken_at: int | None = None, reason: str | None = None):
    if broken_at is None:
        return {"key": key, "events": events, **OK}
    return {"key": key, "events": events, "ok": False, "broken_at": broken_at, "reason": reason}


@pytest.fixture
def two(app: App, staff: dict[str, Actor], clock: Clock) -> tuple[str, str]:
    """Two walked cases: one to tamper with, one that must stay intact."""
    clock.set("2026-03-04T09:15:30.123456+08:00")
    return walked(app, staff, clock), walked(app, staff, clock)


def test_history_records_every_change(app: App, staff: dict[str, Actor], clock: Clock) -> None:
    clock.set("2026-03-04T09:15:30.123456+08:00")
    key = walked(app, staff, clock)
    events = history(app, key)["events"]
    assert [(e["seq"], e["kind"], e["actor"], e["from"], e["to"]) for e in events] == [
        (1, "opened", "wang.li", None, "lead"),
        (2, "advanced", "wang.li", "lead", "first_contact"),
        (3, "note", "wang.li", None, None),
        (4, "fields_set", "wang.li", None, None),
        (5, "advanced", "wang.li", "first_contact", "negotiation"),
        (6, "assigned", "wang.li", None, None),
        (7, "advanced", "zhao.min", "negotiation", "on_hold"),
    ]
    # When, in the configured zone (Beijing), to the microsecond.
    assert events[0]["at"] == "2026-03-04T09:15:30.123456+08:00"
    assert events[1]["at"] == "2026-03-04T12:15:30.777777+08:00"
    assert events[0]["data"]["fields"]["planned_investment"] == 12.5
    assert events[1]["data"]["note"] == "首次电话 ✓"
    assert [p["rule"] for p in events[1]["data"]["planned"]] == [
        "first_contact.contact", "first_contact.deadline"
    ]
    assert len(events[1]["data"]["cancelled_tasks"]) == 1
    assert events[2]["data"] == {"note": "反斜杠 \\ 引号 \" 换行\n第二行"}
    assert events[3]["data"]["fields"] == {"contact_person": "李总", "expected_jobs": 0.5}
    assert events[5]["data"] == {"owner": "zhao.min", "was": "wang.li"}


def test_verify_a_walked_case(app: App, two: tuple[str, str]) -> None:
    first, second = two
    assert verify(app) == [result(first, 7), result(second, 7)]
    assert verify(app, second.lower()) == [result(second, 7)]
    with pytest.raises(NotFound):
        verify(app, "PI-2026-0099")


def test_the_chain_as_stored(app: App, two: tuple[str, str]) -> None:
    key = two[0]
    cid = case_id(app, key)
    with app.db.transaction() as s:
        rows = s.execute(
            select(EVENTS).where(EVENTS.c.case_id == cid).order_by(EVENTS.c.seq)
        ).all()
        head = s.execute(
            select(CASES.c.last_seq, CASES.c.head_hash).where(CASES.c.key == key)
        ).one()
    prev = GENESIS
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == event_hash(
            prev, case_key=key, seq=row.seq, kind=row.kind, actor=row.actor, at=row.at,
            from_state=row.from_state, to_state=row.to_state, data=row.data, gseq=row.gseq,
            entered_by=row.entered_by, db_role=row.db_role,
        )
        assert row.scheme == "sha256-g"  # unkeyed: no TORCHFLOW_AUDIT_KEY here
        # The database login that wrote it (the test URL's user); SQLite has none.
        assert row.db_role == ("postgres" if is_postgres() else None)
        assert row.entered_by is None
        prev = row.hash
    assert tuple(head) == (7, prev)


def test_verify_with_no_cases(app: App) -> None:
    assert verify(app) == []


def tamper(app: App, statement: Any, params: dict[str, Any] | None = None) -> None:
    """A change made behind torchflow's back."""
    with app.db.transaction() as s:
        s.execute(statement, params or {})


def test_changed_event_data(app: App, two: tuple[str, str]) -> None:
    first, second = two
    tamper(app, update(EVENTS).where(event_where(app, first, 4)).values(
        data={"fields": {"contact_person": "王总", "expected_jobs": 0.5},
              "was": {"contact_person": None, "expected_jobs": None}}
    ))
    assert verify(app) == [
        result(first, 7, 4, "its content was changed after it was written"),
        result(second, 7),
    ]


def test_changed_actor_through_raw_sql(app: App, two: tuple[str, str]) -> None:
    first, second = two
    tamper(app, text("UPDATE case_events SET actor = 'chen.jie' WHERE case_id = :c AND seq = 2"),
           {"c": case_id(app, first)})
    assert verify(app, first) == [
        result(first, 7, 2, "its content was changed after it was written")
    ]
    assert verify(app, second) == [result(second, 7)]


def test_changed_time(app: App, two: tuple[str, str]) -> None:
    first = two[0]
    row = history(app, first)["events"][4]
    moved = datetime.fromisoformat(row["at"]) - timedelta(days=1)
    tamper(app, update(EVENTS).where(event_where(app, first, 5)).values(at=moved))
    assert verify(app, first) == [
        result(first, 7, 5, "its content was changed after it was written")
    ]


@pytest.mark.parametrize("seq", [1, 4, 7])
def test_changed_hash(app: App, two: tuple[str, str], seq: int) -> None:
    first, second = two
    tamper(app, text("UPDATE case_events SET hash = :h WHERE case_id = :c AND seq = :s"),
           {"h": "f" * 64, "c": case_id(app, first), "s": seq})
    assert verify(app) == [
        result(first, 7, seq, "its content was changed after it was written"),
        result(second, 7),
    ]


def test_changed_prev_hash(app: App, two: tuple[str, str]) -> None:
    first = two[0]
    tamper(app, text("UPDATE case_events SET prev_hash = :h WHERE case_id = :c AND seq = 3"),
           {"h": "e" * 64, "c": case_id(app, first)})
    assert verify(app, first) == [
        result(first, 7, 3, "its link to the previous event does not match")
    ]


def test_rewritten_event_with_a_recomputed_hash(app: App, two: tuple[str, str]) -> None:
    # A careful forger recomputes the edited event's hash: the next link breaks.
    first = two[0]
    ev = history(app, first)["events"][2]
    data = {"note": "伪造的备注"}
    where = event_where(app, first, 3)
    with app.db.transaction() as s:
        prev, gseq, role = s.execute(select(EVENTS.c.prev_hash, EVENTS.c.gseq,
                                            EVENTS.c.db_role).where(where)).one()
    forged = event_hash(
        prev, case_key=first, seq=3, kind="note", actor=ev["actor"],
        at=datetime.fromisoformat(ev["at"]), from_state=None, to_state=None, data=data,
        gseq=gseq, entered_by=ev["entered_by"], db_role=role,
    )
    tamper(app, update(EVENTS).where(event_where(app, first, 3)).values(data=data, hash=forged))
    assert verify(app, first) == [
        result(first, 7, 4, "its link to the previous event does not match")
    ]


def test_rewritten_last_event_with_a_recomputed_hash(app: App, two: tuple[str, str]) -> None:
    # No later event links to the last one: the case's recorded head does.
    first = two[0]
    ev = history(app, first)["events"][6]
    data = {**ev["data"], "note": "后补说明"}
    where = event_where(app, first, 7)
    with app.db.transaction() as s:
        prev, gseq, role = s.execute(select(EVENTS.c.prev_hash, EVENTS.c.gseq,
                                            EVENTS.c.db_role).where(where)).one()
    forged = event_hash(
        prev, case_key=first, seq=7, kind=ev["kind"], actor=ev["actor"],
        at=datetime.fromisoformat(ev["at"]), from_state=ev["from"], to_state=ev["to"], data=data,
        gseq=gseq, entered_by=ev["entered_by"], db_role=role,
    )
    tamper(app, update(EVENTS).where(event_where(app, first, 7)).values(data=data, hash=forged))
    assert verify(app, first) == [
        result(first, 7, 7, "it does not match the head of the chain recorded on the case")
    ]


def test_deleted_last_event(app: App, two: tuple[str, str]) -> None:
    first, second = two
    tamper(app, delete(EVENTS).where(event_where(app, first, 7)))
    assert verify(app) == [
        result(first, 6, 7, "the case records later events that are missing"),
        result(second, 7),
    ]


def test_deleted_last_event_and_rewound_case_head(app: App, two: tuple[str, str]) -> None:
    # Deleting the last event and rewinding last_seq still leaves the head hash.
    first = two[0]
    tamper(app, delete(EVENTS).where(event_where(app, first, 7)))
    tamper(app, update(CASES).where(CASES.c.key == first).values(last_seq=6))
    assert verify(app, first) == [
        result(first, 6, 6, "it does not match the head of the chain recorded on the case")
    ]


def test_deleted_middle_event(app: App, two: tuple[str, str]) -> None:
    first = two[0]
    tamper(app, delete(EVENTS).where(event_where(app, first, 3)))
    assert verify(app, first) == [
        result(first, 6, 4, "expected event #3 here (an event is missing)")
    ]


def test_deleted_every_event(app: App, two: tuple[str, str]) -> None:
    first = two[0]
    tamper(app, delete(EVENTS).where(EVENTS.c.case_id == case_id(app, first)))
    assert verify(app, first) == [
        result(first, 0, 1, "the case records later events that are missing")
    ]


def test_new_events_after_a_break_do_not_hide_it(
    app: App, staff: dict[str, Actor], two: tuple[str, str]
) -> None:
    first = two[0]
    tamper(app, text("UPDATE case_events SET actor = 'x' WHERE case_id = :c AND seq = 2"),
           {"c": case_id(app, first)})
    add_note(app, staff["zhao.min"], first, "之后的备注")  # its owner now
    assert verify(app, first) == [
        result(first, 8, 2, "its content was changed after it was written")
    ]


def test_event_added_behind_the_cases_back(app: App, two: tuple[str, str]) -> None:
    # A well-chained extra event, but the case was not told (last_seq, head_hash).
    first = two[0]
    with app.db.transaction() as s:
        head = s.execute(select(CASES.c.head_hash).where(CASES.c.key == first)).scalar_one()
    at = datetime.fromisoformat(history(app, first)["events"][-1]["at"]) + timedelta(hours=1)
    data = {"note": "补录"}
    digest = event_hash(head, case_key=first, seq=8, kind="note", actor="wang.li", at=at,
                        from_state=None, to_state=None, data=data, gseq=15)
    tamper(app, EVENTS.insert().values(
        case_id=case_id(app, first), seq=8, kind="note", actor="wang.li", at=at,
        from_state=None, to_state=None, data=data, prev_hash=head, hash=digest, gseq=15,
        scheme="sha256-g",
    ))
    assert verify(app, first) == [
        result(first, 8, 8, "the case records only 7 events; this one was added behind its back")
    ]
