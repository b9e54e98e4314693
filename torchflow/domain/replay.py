"""Replay a case's events into the case row they must have produced.

A case row is a cache of its history: every write to a case goes through one
event (service/cases/events.py), and the event carries what changed. Replaying the
events and comparing the result with the row shows an edit of the row made
behind torchflow's back (its state, fields or owner), which the chain alone,
covering only the events, cannot. Pure: no I/O.

What each event kind changes (the kinds written in service/*.py):
- ``opened``: workflow, version, title, owner, fields; enters ``to_state``.
- ``advanced``: enters ``to_state`` from ``from_state``; ``data.fields`` merged.
- ``fields_set``: ``data.fields`` merged.
- ``assigned``: ``data.owner`` becomes the owner (also for a handover).
- ``imported``: first, as ``opened``, with the time the state was entered (and
  the case opened) given by ``data.state_entered_at``, an imported matter having
  entered its state before it was imported; later, a re-import of a changed row:
  ``data.fields`` merged, ``data.title`` and ``data.owner`` when given.
- ``migrated``, ``migration_reverted``: another workflow version (``data.to_version``)
  and the mapped ``to_state``; the time the state was entered stays.
- ``note``, ``contact``, ``visit``, ``task_done``, ``task_snoozed``,
  ``task_reassigned``, ``tasks_replanned`` (calendar re-planning),
  ``contact_missed`` (the sweep rolled a missed contact on), ``duty_missed``
  (a duty not done by its day), ``deadline_step`` (a step of a missed
  deadline's escalation ladder): the case row
  changes only by its version and head.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from msgspec import Struct
from msgspec.structs import fields

from torchflow.domain.history import EventRecord
from torchflow.domain.status import EventKind

K = EventKind
NO_CHANGE = frozenset({K.NOTE, K.CONTACT, K.VISIT, K.TASK_DONE, K.TASK_SNOOZED,
                       K.TASK_REASSIGNED, K.TASKS_REPLANNED, K.CONTACT_MISSED,
                       K.DUTY_MISSED, K.DEADLINE_STEP})
CHANGES_ROW = frozenset({K.OPENED, K.ADVANCED, K.FIELDS_SET, K.ASSIGNED, K.MIGRATED,
                         K.MIGRATION_REVERTED, K.IMPORTED})


class CaseFacts(Struct, frozen=True):
    """What a case row says, in the terms its events use (owner as a handle)."""

    workflow: str | None
    workflow_version: int | str | None
    title: str | None
    state: str | None
    previous_state: str | None
    owner: str | None
    fields: dict[str, Any]
    opened_at: datetime | None
    state_entered_at: datetime | None
    closed_at: datetime | None
    version: int
    last_seq: int
    head_hash: str
    last_event_at: datetime | None


class ReplayError(ValueError):
    """The events themselves cannot have been written by torchflow."""


def replay(events: Sequence[EventRecord], terminal: frozenset[str]) -> CaseFacts:
    """The case row that ``events`` (in seq order) leave behind."""
    if not events:
        raise ReplayError("the case has no events, not even the one that opened it")
    first = events[0]
    if first.kind not in ("opened", "imported"):
        raise ReplayError(f"its first event is '{first.kind}', not 'opened'")
    state = _facts_opened(first, terminal)
    for ev in events[1:]:
        state = _apply(state, ev, terminal)
    return state


def _facts_opened(ev: EventRecord, terminal: frozenset[str]) -> CaseFacts:
    data = ev.data
    entered, closed = ev.at, None
    opened = entered
    if ev.kind == "imported":
        entered = _instant(data.get("state_entered_at"), ev)
        closed = entered if ev.to_state in terminal else None
        # A ledger's 登记日期: registered before it entered its state.
        opened = _instant(data["opened_at"], ev) if data.get("opened_at") else entered
    return CaseFacts(
        workflow=data.get("workflow"), workflow_version=data.get("version"),
        title=data.get("title"), state=ev.to_state, previous_state=None,
        owner=data.get("owner"), fields=dict(data.get("fields") or {}),
        opened_at=opened, state_entered_at=entered, closed_at=closed,
        version=2, last_seq=ev.seq, head_hash=ev.hash, last_event_at=ev.at,
    )


def _apply(facts: CaseFacts, ev: EventRecord, terminal: frozenset[str]) -> CaseFacts:
    changes: dict[str, Any] = {
        "version": facts.version + 1, "last_seq": ev.seq, "head_hash": ev.hash,
        "last_event_at": ev.at,
    }
    if ev.kind == "advanced":
        if ev.from_state != facts.state:
            raise ReplayError(
                f"event #{ev.seq} leaves '{ev.from_state}' but the case was in '{facts.state}'"
            )
        changes.update(
            state=ev.to_state, previous_state=ev.from_state, state_entered_at=ev.at,
            closed_at=ev.at if ev.to_state in terminal else None,
            fields={**facts.fields, **(ev.data.get("fields") or {})},
        )
    elif ev.kind == "fields_set":
        changes["fields"] = {**facts.fields, **(ev.data.get("fields") or {})}
    elif ev.kind == "imported":
        changes["fields"] = {**facts.fields, **(ev.data.get("fields") or {})}
        for name in ("title", "owner"):
            if name in ev.data:
                changes[name] = ev.data[name]
    elif ev.kind == "assigned":
        changes["owner"] = ev.data.get("owner")
    elif ev.kind in ("migrated", "migration_reverted"):
        # Another workflow version: the state is mapped, the time it was entered kept.
        changes.update(
            state=ev.to_state, previous_state=ev.data.get("previous_state"),
            workflow_version=ev.data.get("to_version"),
            closed_at=ev.at if ev.data.get("closed") else None,
        )
    elif ev.kind == "opened" or ev.kind not in NO_CHANGE:
        raise ReplayError(f"event #{ev.seq} is of a kind torchflow does not write: '{ev.kind}'")
    return _replace(facts, changes)


def _instant(value: Any, ev: EventRecord) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ReplayError(f"event #{ev.seq} says it entered its state at {value!r}, "
                          "not a time") from None


def _replace(facts: CaseFacts, changes: dict[str, Any]) -> CaseFacts:
    values = {f.name: getattr(facts, f.name) for f in fields(facts)}
    values.update(changes)
    return CaseFacts(**values)


LABELS = {
    "workflow": "workflow", "workflow_version": "workflow version", "title": "title",
    "state": "state", "previous_state": "previous state", "owner": "owner",
    "fields": "fields", "opened_at": "opening time",
    "state_entered_at": "time it entered its state",
    "closed_at": "closing time", "version": "version", "last_seq": "event count",
    "head_hash": "head hash", "last_event_at": "time of its last change",
}


def mismatches(row: CaseFacts, replayed: CaseFacts) -> list[str]:
    """Each column where the case row differs from what its events say."""
    out = []
    for f in fields(row):
        have, want = getattr(row, f.name), getattr(replayed, f.name)
        if have != want:
            verb = "are" if f.name == "fields" else "is"
            out.append(f"the case's {LABELS[f.name]} {verb} {_show(have)} "
                       f"but its events say {_show(want)}")
    return out


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(value.items())) + "}"
    return repr(value)
