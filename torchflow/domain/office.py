"""The office's own data in the audit: people (with their logins, notice
settings and feed token), absences, personal access tokens and stored workflow
versions. Pure: no I/O.

Each change appends one event to the office chain carrying the whole audited
row of its subject as the change left it (a snapshot), hashed as a case's events
are (domain/history.py: the same schemes, the same key), with the subject and
its id in the places a case event keeps its states. So the replay is simple and
exact: the last snapshot of each subject is the row it must be now, and any SQL
edit of an audited column, a row added or a row deleted shows.

A column added to an audited table later is audited once a release appends a
fresh snapshot of every subject (as migration 0014 seeded the first ones).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from msgspec import Struct

from torchflow.domain.history import EventRecord
from torchflow.i18n import N_

CHAIN = "office"  # in the hash where a case event has its case key


class Subject(StrEnum):
    PERSON = "person"
    ABSENCE = "absence"
    TOKEN = "token"
    WORKFLOW = "workflow"


class OfficeKind(StrEnum):
    """What happened; the snapshot says what the subject became."""

    SNAPSHOT = "snapshot"  # the genesis of migration 0014: the rows as they were
    ADDED = "person_added"
    EDITED = "person_edited"
    ROLES = "roles_changed"  # person edit whose roles changed (maybe more)
    LOGINS = "logins_changed"
    ACTIVATED = "reactivated"
    DEACTIVATED = "deactivated"
    FIRST_ADMIN = "first_admin"
    IMPORTED = "person_imported"
    NOTIFY = "notify_changed"
    FEED_TOKEN = "feed_token_rotated"
    AWAY = "absence_recorded"
    BACK = "absence_ended"
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"
    WORKFLOW_STORED = "workflow_stored"


# The audited columns of each subject (last use of a token is not audited: it
# changes at every use and grants nothing).
PERSON_COLUMNS = ("handle", "name", "email", "roles", "channel", "address", "active",
                  "notify", "quiet_start", "quiet_end", "fallback_channel",
                  "fallback_address", "fallback_after", "platform_ids")
ABSENCE_COLUMNS = ("person_id", "starts", "ends", "substitute_id", "reason", "created_by",
                   "created_at", "ended_at")
TOKEN_COLUMNS = ("person_id", "label", "secret_hash", "created_by", "created_at",
                 "expires_at", "revoked_at", "revoked_by")
WORKFLOW_COLUMNS = ("name", "version", "digest", "registered_at")
_ORDER = {name: i for i, name in enumerate(dict.fromkeys(
    (*PERSON_COLUMNS, "logins", *ABSENCE_COLUMNS, *TOKEN_COLUMNS, *WORKFLOW_COLUMNS)))}


# What an office event did (OfficeKind), and the names of what it changed.
EVENT_KINDS = {
    "snapshot": N_("on record at the upgrade"), "person_added": N_("added"),
    "person_edited": N_("details changed"), "roles_changed": N_("roles changed"),
    "logins_changed": N_("logins changed"), "reactivated": N_("reactivated"),
    "deactivated": N_("deactivated"), "first_admin": N_("made the first admin"),
    "person_imported": N_("imported from the staff list"),
    "notify_changed": N_("notice settings changed"),
    "feed_token_rotated": N_("feed token renewed"), "absence_recorded": N_("absence recorded"),
    "absence_ended": N_("absence ended (back)"), "token_issued": N_("access token issued"),
    "token_revoked": N_("access token revoked"),
}
FIELDS = {
    "handle": N_("handle"), "name": N_("name"), "email": N_("e-mail"), "roles": N_("roles"),
    "channel": N_("channel"), "address": N_("address"), "active": N_("active"),
    "notify": N_("notify"), "quiet_start": N_("quiet from"), "quiet_end": N_("quiet until"),
    "fallback_channel": N_("fallback channel"), "fallback_address": N_("fallback address"),
    "fallback_after": N_("fallback after"), "platform_ids": N_("platform ids"),
    "feed_token": N_("feed token"), "logins": N_("logins"), "person_id": N_("person"),
    "starts": N_("from"), "ends": N_("to"), "substitute_id": N_("substitute"),
    "reason": N_("reason"), "created_by": N_("recorded by"), "created_at": N_("recorded at"),
    "ended_at": N_("ended at"), "label": N_("token name"), "secret_hash": N_("secret"),
    "expires_at": N_("expires"), "revoked_at": N_("revoked at"),
    "revoked_by": N_("revoked by"), "source": N_("source"), "digest": N_("digest"),
    "version": N_("version"), "registered_at": N_("stored at"),
}


def plain(value: Any) -> Any:
    """A column's value as JSON keeps it, so a snapshot read back compares equal."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def sha256(text: str | None) -> str | None:
    """Secrets and long texts are kept as their SHA-256: the audit must not be a
    second place to read a feed token from, and a source's digest shows an edit."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def person_snapshot(row: Mapping[str, Any], logins: Iterable[str]) -> dict[str, Any]:
    snap = {c: plain(row[c]) for c in PERSON_COLUMNS}
    snap["roles"] = list(row["roles"] or [])
    snap["platform_ids"] = dict(row["platform_ids"] or {}) or None
    snap["feed_token"] = sha256(row["feed_token"])
    snap["logins"] = sorted(logins)
    return snap


def absence_snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    return {c: plain(row[c]) for c in ABSENCE_COLUMNS}


def token_snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    return {c: plain(row[c]) for c in TOKEN_COLUMNS}


def workflow_snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**{c: plain(row[c]) for c in WORKFLOW_COLUMNS}, "source": sha256(row["source"])}


def as_record(row: Any) -> EventRecord:
    """An office event as the chain check reads a case event: the subject and its
    id where a case event has its states, ``seq`` as its place in the chain."""
    return EventRecord(seq=row.seq, kind=row.kind, actor=row.actor, at=row.at,
                       from_state=row.subject, to_state=str(row.subject_id), data=row.data,
                       prev_hash=row.prev_hash, hash=row.hash, gseq=row.seq, scheme=row.scheme,
                       entered_by=row.entered_by, db_role=row.db_role, auth=row.auth)


SubjectKey = tuple[str, int]


def replay(records: Iterable[EventRecord]) -> dict[SubjectKey, dict[str, Any]]:
    """Each subject's row as its last event left it."""
    return {(ev.from_state or "", int(ev.to_state or 0)): ev.data for ev in records}


class Difference(Struct, frozen=True):
    """A subject whose row is not what its history says (``field`` None: the
    whole row is missing, or has no history)."""

    subject: str
    subject_id: int
    field: str | None
    recorded: Any
    found: Any


def differences(expected: Mapping[SubjectKey, dict[str, Any]],
                found: Mapping[SubjectKey, dict[str, Any]]) -> list[Difference]:
    """Every subject whose current row differs from its replayed one, in order."""
    out = []
    for key in sorted(set(expected) | set(found)):
        want, have = expected.get(key), found.get(key)
        if want is None or have is None:
            out.append(Difference(key[0], key[1], None, want, have))
            continue
        for name in sorted(set(want) | set(have)):
            if want.get(name) != have.get(name):
                out.append(Difference(key[0], key[1], name, want.get(name), have.get(name)))
                break
    return out


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]
            ) -> list[tuple[str, Any, Any]]:
    """What one event changed of its subject: (column, was, now); everything the
    first event of a subject says."""
    before = before or {}
    # In the columns' own order: PostgreSQL's jsonb keeps a row's keys in its own.
    names = sorted(after, key=lambda n: (_ORDER.get(n, len(_ORDER)), n))
    return [(name, before.get(name), after.get(name))
            for name in names if before.get(name) != after.get(name)]


def walk(records: Sequence[EventRecord]) -> list[tuple[EventRecord, list[tuple[str, Any, Any]]]]:
    """Each event with what it changed of its subject (from its previous event)."""
    last: dict[SubjectKey, dict[str, Any]] = {}
    out = []
    for ev in records:
        key = (ev.from_state or "", int(ev.to_state or 0))
        out.append((ev, changes(last.get(key), ev.data)))
        last[key] = ev.data
    return out
