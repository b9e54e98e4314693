"""THE WRITER of office_events and office_head: the office's own data in the audit.

Every writer of people, person_logins, absences, access_tokens and
workflow_versions calls ``record`` once per change, in its own transaction,
after the change: the subject's audited row is read back and appended to the
office chain (domain/office.py), keyed with TORCHFLOW_AUDIT_KEY as the case
chains are. ``problems`` is `audit verify`'s part: the chain, its head, and
the replay of the events against the rows as they are.

Lock order: the cases' audit head first (``lock_head``), then the office head,
so a transaction that writes both (a handover, a case opened on a new workflow
version) never waits in a cycle with another.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update

from torchflow.domain.history import GENESIS, event_hash, first_broken, head_mac, key_id, scheme_for
from torchflow.domain.office import (
    ABSENCE_COLUMNS,
    CHAIN,
    FIELDS,
    PERSON_COLUMNS,
    TOKEN_COLUMNS,
    WORKFLOW_COLUMNS,
    Difference,
    OfficeKind,
    Subject,
    SubjectKey,
    absence_snapshot,
    as_record,
    differences,
    person_snapshot,
    replay,
    token_snapshot,
    workflow_snapshot,
)
from torchflow.errors import ConfigError, Refused
from torchflow.i18n import Text, _
from torchflow.service.audit.head import ENV_AUDIT_KEY, audit_key, caller_auth, db_role, lock_head
from torchflow.store.models import (
    ABSENCES,
    ACCESS_TOKENS,
    AUDIT_HEAD,
    OFFICE_EVENTS,
    OFFICE_HEAD,
    PEOPLE,
    PERSON_LOGINS,
    WORKFLOW_VERSIONS,
)

HEAD_ID = 1
SYSTEM = "system"  # who stores what no person asked for (a feed token given at refresh)
_TABLES = {Subject.PERSON: PEOPLE, Subject.ABSENCE: ABSENCES, Subject.TOKEN: ACCESS_TOKENS,
           Subject.WORKFLOW: WORKFLOW_VERSIONS}
_READ = {Subject.PERSON: ("id", *PERSON_COLUMNS, "feed_token"),
         Subject.ABSENCE: ("id", *ABSENCE_COLUMNS), Subject.TOKEN: ("id", *TOKEN_COLUMNS),
         Subject.WORKFLOW: ("id", *WORKFLOW_COLUMNS, "source")}


class Acting(Protocol):
    """Who acts, as service/people/lookup.Actor has it."""

    @property
    def handle(self) -> str: ...

    @property
    def entered_by(self) -> str | None: ...


# -- the rows as they are ------------------------------------------------------------------


def current(s: Connection, subject: Subject, ids: Iterable[int] | None = None
            ) -> dict[SubjectKey, dict[str, Any]]:
    """The audited rows of ``subject`` (those of ``ids``, or all) as snapshots."""
    table = _TABLES[subject]
    # The audited columns by name: migration 0014 reads them through this too, before
    # any later revision's columns exist.
    query = select(*(table.c[n] for n in _READ[subject])).order_by(table.c.id)
    if ids is not None:
        query = query.where(table.c.id.in_(list(ids)))
    rows = s.execute(query).all()
    if subject is Subject.PERSON:
        logins: dict[int, list[str]] = {}
        login_query = select(PERSON_LOGINS.c.person_id, PERSON_LOGINS.c.login)
        if ids is not None:
            login_query = login_query.where(PERSON_LOGINS.c.person_id.in_([r.id for r in rows]))
        for person_id, login in s.execute(login_query):
            logins.setdefault(person_id, []).append(login)
        return {(subject.value, r.id): person_snapshot(dict(r._mapping), logins.get(r.id, []))
                for r in rows}
    make = {Subject.ABSENCE: absence_snapshot, Subject.TOKEN: token_snapshot,
            Subject.WORKFLOW: workflow_snapshot}[subject]
    return {(subject.value, r.id): make(dict(r._mapping)) for r in rows}


def everything(s: Connection) -> dict[SubjectKey, dict[str, Any]]:
    found: dict[SubjectKey, dict[str, Any]] = {}
    for subject in Subject:
        found.update(current(s, subject))
    return found


def person_ids(s: Connection, handles: Iterable[str]) -> list[int]:
    return list(s.scalars(select(PEOPLE.c.id).where(PEOPLE.c.handle.in_(list(handles)))))


# -- the writer ----------------------------------------------------------------------------


def record(s: Connection, kind: OfficeKind, subject: Subject, ids: int | Iterable[int], *,
           actor: Acting | str, at: datetime) -> None:
    """Append one event per subject id, each carrying its row as it is now (in
    this transaction, after the change)."""
    wanted = [ids] if isinstance(ids, int) else sorted(set(ids))
    if not wanted:
        return
    snapshots = current(s, subject, wanted)
    handle, entered_by = (actor, None) if isinstance(actor, str) else (
        actor.handle, actor.entered_by)
    _append(s, [(kind, subject, i, snapshots[(subject.value, i)]) for i in wanted],
            actor=handle, entered_by=entered_by, at=at)


def seed(s: Connection, at: datetime) -> int:
    """Migration 0014: one snapshot event for every audited row already there, so
    an office upgraded from before verifies; the number of events."""
    snapshots = everything(s)
    _append(s, [(OfficeKind.SNAPSHOT, Subject(k[0]), k[1], snap)
                for k, snap in snapshots.items()], actor=SYSTEM, entered_by=None, at=at)
    return len(snapshots)


def _append(s: Connection, events: list[tuple[OfficeKind, Subject, int, dict[str, Any]]], *,
            actor: str, entered_by: str | None, at: datetime) -> None:
    key = audit_key()
    seq, prev, keyed_since = _take_head(s, key)
    role, auth = db_role(s), caller_auth(s)
    rows = []
    for kind, subject, subject_id, snap in events:
        seq += 1
        digest = event_hash(prev, case_key=CHAIN, seq=seq, kind=kind.value, actor=actor, at=at,
                            from_state=subject.value, to_state=str(subject_id), data=snap,
                            gseq=seq, key=key, entered_by=entered_by, db_role=role, auth=auth)
        rows.append({"seq": seq, "kind": kind.value, "subject": subject.value,
                     "subject_id": subject_id, "person_id": _whose(subject, subject_id, snap),
                     "actor": actor, "entered_by": entered_by, "db_role": role, "auth": auth,
                     "at": at, "data": snap, "prev_hash": prev, "hash": digest,
                     "scheme": scheme_for(key)})
        prev = digest
    if not rows:
        return
    s.execute(insert(OFFICE_EVENTS), rows)
    since = (keyed_since or seq - len(rows) + 1) if key else keyed_since
    s.execute(update(OFFICE_HEAD).where(OFFICE_HEAD.c.id == HEAD_ID).values(
        seq=seq, hash=prev, keyed_since=since, key_id=key_id(key) if key else "",
        mac=head_mac(key, gseq=seq, last_hash=prev, keyed_since=since) if key else ""))


def _whose(subject: Subject, subject_id: int, snap: dict[str, Any]) -> int | None:
    if subject is Subject.PERSON:
        return subject_id
    return snap.get("person_id")


def _take_head(s: Connection, key: bytes | None) -> tuple[int, str, int | None]:
    """The office head, locked after the cases' head; refused, as a case write
    is, without the key the history is keyed with or with another one."""
    lock_head(s)
    cases = s.execute(select(AUDIT_HEAD.c.keyed_since, AUDIT_HEAD.c.key_id)).first()
    query = select(OFFICE_HEAD.c.seq, OFFICE_HEAD.c.hash, OFFICE_HEAD.c.keyed_since,
                   OFFICE_HEAD.c.key_id).where(OFFICE_HEAD.c.id == HEAD_ID)
    if s.dialect.name == "postgresql":
        query = query.with_for_update()
    head = s.execute(query).first()
    if head is None:
        raise Refused(_("the database has no office audit head row (it was deleted); see "
                        "`torchflow audit verify` before writing"))
    stored = {i for i in (head.key_id, cases.key_id if cases else "") if i}
    keyed = head.keyed_since is not None or (cases is not None and cases.keyed_since is not None)
    if key is None and keyed:
        raise ConfigError(_("this database's history is keyed; set {name} to write to it",
                            name=ENV_AUDIT_KEY))
    if key is not None and stored - {key_id(key)}:
        raise ConfigError(_("{name} is not the key this database's history is written with",
                            name=ENV_AUDIT_KEY))
    return int(head.seq), head.hash or GENESIS, head.keyed_since


# -- `audit verify` ------------------------------------------------------------------------


def events(s: Connection, person_id: int | None = None) -> list[Any]:
    query = select(OFFICE_EVENTS).order_by(OFFICE_EVENTS.c.seq)
    if person_id is not None:
        query = query.where(OFFICE_EVENTS.c.person_id == person_id)
    return list(s.execute(query))


def problems(s: Connection, secret: bytes | None) -> list[Text]:
    """The office chain intact, ending where its head says, and every audited row
    what its events leave behind."""
    head = s.execute(select(OFFICE_HEAD).where(OFFICE_HEAD.c.id == HEAD_ID)).first()
    if head is None:
        return [_("the office's audit head row is missing: it was deleted behind "
                  "torchflow's back")]
    if secret is not None and head.keyed_since is not None and head.key_id != key_id(secret):
        return [_("TORCHFLOW_AUDIT_KEY is not the key the office's history was written with")]
    records = [as_record(r) for r in events(s)]
    broken = first_broken(CHAIN, records, secret, head.keyed_since)
    if broken:
        return [_("the office's history is broken at event #{seq}: {reason}",
                  seq=broken[0], reason=broken[1])]
    found = _head_problems(head, records, secret)
    labels = _labels(s)
    found += [_difference(d, labels) for d in differences(replay(records), everything(s))]
    return found


def _head_problems(head: Any, records: list[Any], secret: bytes | None) -> list[Text]:
    count = len(records)
    if head.seq > count:
        return [_("the office's history records {head} event(s), {count} are there: the "
                  "newest were removed", head=head.seq, count=count)]
    if head.seq < count:
        return [_("the office's history has {count} event(s), its head records {head}: "
                  "events were added behind torchflow's back", head=head.seq, count=count)]
    last = records[-1].hash if records else ""
    if last != (head.hash or ""):
        return [_("the office's newest event does not match its head: rewritten behind "
                  "torchflow's back")]
    if secret is not None and head.keyed_since is not None:
        want = head_mac(secret, gseq=head.seq, last_hash=last, keyed_since=head.keyed_since)
        if head.mac != want:
            return [_("the office's head (event #{seq}) is not signed with the key: rewound "
                      "or rewritten behind torchflow's back", seq=head.seq)]
    return []


def _labels(s: Connection) -> dict[SubjectKey, str]:
    """How a subject is named in a problem: a person's handle, a version's name."""
    handles = dict(s.execute(select(PEOPLE.c.id, PEOPLE.c.handle)).all())
    labels = {(Subject.PERSON.value, i): h for i, h in handles.items()}
    for i, name, version in s.execute(select(WORKFLOW_VERSIONS.c.id, WORKFLOW_VERSIONS.c.name,
                                             WORKFLOW_VERSIONS.c.version)):
        labels[(Subject.WORKFLOW.value, i)] = f"{name} v{version}"
    return labels


SUBJECT_NAMES = {Subject.PERSON.value: _("person"), Subject.ABSENCE.value: _("absence"),
                 Subject.TOKEN.value: _("access token"),
                 Subject.WORKFLOW.value: _("stored workflow version")}


def _difference(d: Difference, labels: dict[SubjectKey, str]) -> Text:
    what = SUBJECT_NAMES[d.subject]
    name = labels.get((d.subject, d.subject_id)) or f"#{d.subject_id}"
    if d.found is None:
        return _("{what} {name}: deleted behind torchflow's back (its history says it "
                 "exists)", what=what, name=name)
    if d.recorded is None:
        return _("{what} {name}: not in the office's history: added behind torchflow's back",
                 what=what, name=name)
    return _("{what} {name}: {field} is {found}, its history says {recorded}: changed behind "
             "torchflow's back", what=what, name=name,
             field=Text(FIELDS[d.field]) if d.field in FIELDS else d.field, found=_shown(d.found),
             recorded=_shown(d.recorded))


def _shown(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- checkpoints ---------------------------------------------------------------------------


def checkpoint_part(s: Connection) -> dict[str, Any]:
    head = s.execute(select(OFFICE_HEAD.c.seq, OFFICE_HEAD.c.hash)
                     .where(OFFICE_HEAD.c.id == HEAD_ID)).first()
    count = head.seq if head else 0
    last = s.scalar(select(OFFICE_EVENTS.c.hash).where(OFFICE_EVENTS.c.seq == count))
    return {"events": count, "last_hash": last or ""}


def since_checkpoint(s: Connection, part: Any) -> list[Text]:
    """What changed in the office chain since a checkpoint: removed or rewritten."""
    if not isinstance(part, dict) or not isinstance(part.get("events"), int):
        return []  # a checkpoint made before the office chain
    count = part["events"]
    now = s.scalar(select(OFFICE_HEAD.c.seq).where(OFFICE_HEAD.c.id == HEAD_ID)) or 0
    if now < count:
        return [_("the office's history has {now} event(s), {count} at the checkpoint: events "
                  "removed and the count rewound", now=now, count=count)]
    if not count:
        return []
    stored = s.scalar(select(OFFICE_EVENTS.c.hash).where(OFFICE_EVENTS.c.seq == count))
    if stored != part.get("last_hash"):
        return [_("the office's history up to event #{seq} was rewritten since the "
                  "checkpoint", seq=count)]
    return []
