"""Replaying a case's events into the row they leave behind (domain/replay.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from torchflow.domain.history import EventRecord
from torchflow.domain.replay import (
    CHANGES_ROW,
    NO_CHANGE,
    CaseFacts,
    ReplayError,
    mismatches,
    replay,
)
from torchflow.domain.status import EventKind

AT = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
TERMINAL = frozenset({"closed", "lost", "withdrawn"})


def event(seq: int, kind: str, data: dict[str, Any] | None = None, *,
          from_state: str | None = None, to_state: str | None = None) -> EventRecord:
    return EventRecord(seq, kind, "wang.li", AT + timedelta(hours=seq), from_state, to_state,
                       data or {}, f"p{seq}", f"h{seq}", seq, "sha256-g")


OPENED = event(1, "opened", {"workflow": "project_introduction", "version": 1, "title": "氢能",
                             "owner": "wang.li", "fields": {"enterprise": "清能", "n": 1}},
               to_state="lead")


def walked() -> list[EventRecord]:
    return [
        OPENED,
        event(2, "advanced", {"trigger": "make_contact"}, from_state="lead",
              to_state="first_contact"),
        event(3, "note", {"note": "电话"}),
        event(4, "fields_set", {"fields": {"contact_person": "李总"}, "was": {}}),
        event(5, "advanced", {"trigger": "negotiate", "fields": {"n": 2}},
              from_state="first_contact", to_state="negotiation"),
        event(6, "assigned", {"owner": "zhao.min", "was": "wang.li"}),
        event(7, "contact", {"at": "2026-03-04"}),
        event(8, "task_done", {"task": 1}),
    ]


def test_replay_of_a_walked_case() -> None:
    facts = replay(walked(), TERMINAL)
    assert facts == CaseFacts(
        workflow="project_introduction", workflow_version=1, title="氢能",
        state="negotiation", previous_state="first_contact", owner="zhao.min",
        fields={"enterprise": "清能", "n": 2, "contact_person": "李总"},
        opened_at=AT + timedelta(hours=1), state_entered_at=AT + timedelta(hours=5),
        closed_at=None, version=9, last_seq=8, head_hash="h8",
        last_event_at=AT + timedelta(hours=8),
    )


def test_entering_a_terminal_state_closes_and_leaving_it_is_impossible() -> None:
    events = [*walked(), event(9, "advanced", {"trigger": "withdraw"},
                               from_state="negotiation", to_state="withdrawn")]
    facts = replay(events, TERMINAL)
    assert (facts.state, facts.closed_at) == ("withdrawn", AT + timedelta(hours=9))


def test_every_event_kind_has_one_replay_rule() -> None:
    assert set(EventKind) == NO_CHANGE | CHANGES_ROW
    assert not NO_CHANGE & CHANGES_ROW


def test_services_append_only_declared_kinds() -> None:
    # A string literal would bypass the enum, and with it the check above.
    service = Path(__file__).resolve().parents[2] / "torchflow" / "service"
    for path in service.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r'append_event\([^)]*kind="', text, re.S), path.name


@pytest.mark.parametrize(("events", "problem"), [
    ([], "the case has no events, not even the one that opened it"),
    ([event(1, "note")], "its first event is 'note', not 'opened'"),
    ([OPENED, event(2, "advanced", from_state="negotiation", to_state="signed")],
     "event #2 leaves 'negotiation' but the case was in 'lead'"),
    ([OPENED, event(2, "reopened")], "event #2 is of a kind torchflow does not write: 'reopened'"),
    ([OPENED, replace(OPENED, seq=2)], "event #2 is of a kind torchflow does not write: 'opened'"),
])
def test_events_torchflow_cannot_have_written(events: list[EventRecord], problem: str) -> None:
    with pytest.raises(ReplayError) as exc:
        replay(events, TERMINAL)
    assert str(exc.value) == problem


def test_mismatches_name_each_column() -> None:
    facts = replay(walked(), TERMINAL)
    row = replace(facts, state="signed", owner="chen.jie", fields={**facts.fields, "n": 3})
    assert mismatches(row, facts) == [
        "the case's state is 'signed' but its events say 'negotiation'",
        "the case's owner is 'chen.jie' but its events say 'zhao.min'",
        "the case's fields are {contact_person='李总', enterprise='清能', n=3} but its events "
        "say {contact_person='李总', enterprise='清能', n=2}",
    ]
    assert mismatches(facts, facts) == []


IMPORTED = event(1, "imported", {
    "workflow": "project_introduction", "version": 1, "title": "氢能", "owner": "wang.li",
    "fields": {"enterprise": "清能", "n": 1}, "source": "imported from m.csv row 2",
    "state_entered_at": "2026-02-02T01:00:00+00:00"}, to_state="negotiation")


def test_an_imported_case_entered_its_state_before_it_was_imported() -> None:
    facts = replay([IMPORTED], TERMINAL)
    entered = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)
    assert (facts.state, facts.opened_at, facts.state_entered_at, facts.closed_at) == (
        "negotiation", entered, entered, None)
    assert facts.last_event_at == IMPORTED.at
    closed = replace(IMPORTED, to_state="closed")
    assert replay([closed], TERMINAL).closed_at == entered


def test_a_reimported_row_changes_fields_title_and_owner() -> None:
    update = event(2, "imported", {"fields": {"n": 2}, "was": {"n": 1}, "title": "氢能二期",
                                   "was_title": "氢能", "owner": "zhao.min"})
    facts = replay([IMPORTED, update], TERMINAL)
    assert (facts.title, facts.owner, facts.fields) == (
        "氢能二期", "zhao.min", {"enterprise": "清能", "n": 2})
    assert facts.state == "negotiation" and facts.version == 3


def test_an_imported_event_without_its_entry_time_cannot_be_replayed() -> None:
    with pytest.raises(ReplayError, match="entered its state at None"):
        replay([replace(IMPORTED, data={"workflow": "x"})], TERMINAL)
