"""The sweep: due tasks -> notices in the ledger, and the daily digests.

It reads only tasks whose next notice time has passed (an indexed column), so
its cost follows what is due, not what exists. Every notice whose time passed
since the last sweep is produced, however long the service was off; a task
found overdue after ten days gets its one overdue notice, not ten.

A contact still open when its next slot falls due is missed and rolls on to the
current slot (after downtime, the slots in between are recorded missed, and one
notice at most goes out for the roll); ``escalate_after`` missed in a row tell
the rule's escalation role. A contact therefore stays in the due index until it
is logged, cancelled or rolled: its next notice time after the overdue one is
the start of its next slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from torchflow.domain import wording
from torchflow.domain.absence import Receiver
from torchflow.domain.identity import SYSTEM
from torchflow.domain.planning import Roll, plan_roll
from torchflow.domain.rules import ContactRule
from torchflow.domain.status import EventKind, NoticeKind, NoticeStatus, TaskKind, TaskStatus
from torchflow.domain.timeline import digest_day, idempotency_key, notices_due, roll_at, timeline
from torchflow.service import followups
from torchflow.service.absences import (
    Router,
    folded_for,
    handled_while_away,
    people_handled_for,
)
from torchflow.service.app import App
from torchflow.service.events import CASES, CaseRow, append_event, lock_head
from torchflow.service.notices import ledger_row, one_per_group, people_by_id, task_notice
from torchflow.store.models import MARKS, NOTICES, PEOPLE, TASKS
from torchflow.store.queries import insert_ignore, inserted_keys

DIGEST = NoticeKind.DIGEST
ESCALATION = NoticeKind.ESCALATION
SWEEPER = SYSTEM  # the service acts as itself, never as a person (domain/identity.py)
# What a folded notice records when its task closed before any digest listed it.
CLOSED_BEFORE_DIGEST = "no digest: the task was closed first"


@dataclass
class SweepResult:
    tasks: int = 0
    notices: int = 0
    digests: int = 0
    missed: int = 0  # contacts recorded missed (skipped slots included)


def sweep(app: App, now: datetime | None = None) -> SweepResult:
    now = now or app.now()
    result = SweepResult()
    batch = app.settings.scheduler.batch_size
    people: dict[int, Row[Any]] = {}  # read with the first due batch, then reused
    while True:
        with app.db.transaction() as s:
            batch_result = _sweep_batch(app, s, now, batch, people)
        done, made, missed, rolled, skipped = batch_result
        result.tasks += done
        result.notices += made
        result.missed += missed
        # A roll opens a task due now: go round again for its notice. A contact
        # whose case was busy stays due, so stop rather than read it again.
        if skipped or (done < batch and not rolled):
            break
    result.digests = produce_digests(app, now)
    return result


def _sweep_batch(
    app: App, s: Connection, now: datetime, batch: int, people: dict[int, Row[Any]]
) -> tuple[int, int, int, int, int]:
    """(tasks read, notices made, contacts missed, rolls, rolls put off: case busy)."""
    rows = s.execute(
        select(TASKS, CASES.c.key.label("case_key"), CASES.c.title.label("case_title"),
               CASES.c.workflow_version_id, CASES.c.workflow)
        .join(CASES, CASES.c.id == TASKS.c.case_id)
        .where(TASKS.c.next_notice_at <= now)
        .order_by(TASKS.c.next_notice_at)
        .limit(batch)
        # Two services share the due tasks instead of both producing them; the
        # unique ledger key would make a double harmless anyway.
        .with_for_update(skip_locked=True, of=TASKS)
    ).all()
    if not rows:
        return 0, 0, 0, 0, 0
    if not people:
        people.update(people_by_id(s))
    router = Router.load(app, s, people, now)
    notices: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    missed = rolled = skipped = 0
    for task in rows:
        contact = _contact_rule(app, s, task)
        roll = None if contact is None else plan_roll(
            app.calendar, contact, due_on=task.due_on, occurrence=task.occurrence, now=now)
        if contact is not None and roll is not None:
            # Its stages are stale once the next slot is due: the roll says it all.
            count = _roll(app, s, task, contact, roll, router, notices, now)
            missed, rolled, skipped = missed + count, rolled + bool(count), skipped + (not count)
            continue
        tl = timeline(app.calendar, kind=task.kind, due_on=task.due_on, remind=task.remind)
        kinds, stage, next_at = notices_due(tl, stage_done=task.stage_done, now=now,
                                            cal=app.calendar)
        for kind in kinds:
            notices += _told(app, router, task, kind, now)
        if next_at is None and contact:
            next_at = roll_at(app.calendar, due_on=task.due_on, every=contact.every)
        updates.append({"tid": task.id, "stage": stage, "next_at": next_at})
    made = insert_ignore(s, NOTICES, notices, ["idempotency_key"])
    if updates:
        s.execute(
            update(TASKS)
            .where(TASKS.c.id == bindparam("tid"))
            .values(stage_done=bindparam("stage"), next_notice_at=bindparam("next_at")),
            updates,
        )
    return len(rows), made, missed, rolled, skipped


def _told(app: App, router: Router, task: Any, kind: str, now: datetime
          ) -> list[dict[str, Any]]:
    """The ledger rows of one task notice: to whom the router says (a substitute
    for someone away), folded or held as that person wants to be told."""
    rows = []
    for person, got in router.recipients(kind, task.assignee_id, task.escalate_to):
        row = task_notice(app.settings, task, task.case_key, task.case_title, kind, person,
                          now, on_behalf=_on_behalf(got))
        rows.append(router.tell(row, person, got))
    return one_per_group(rows)


def _on_behalf(got: Receiver) -> str | None:
    return wording.for_whom(got.person, got.away_until) if got.for_other else None


def _contact_rule(app: App, s: Connection, task: Row[Any]) -> ContactRule | None:
    """The contact rule of an open contact task, from its case's workflow version."""
    if task.kind != TaskKind.CONTACT:
        return None
    state = app.registry.by_id(s, task.workflow_version_id).spec.states.get(task.state)
    rule = state.contact if state else None
    return rule if rule is not None and rule.name == task.rule else None


def _roll(
    app: App, s: Connection, task: Row[Any], rule: ContactRule, roll: Roll,
    router: Router, notices: list[dict[str, Any]], now: datetime,
) -> int:
    """Roll one missed contact and record it in the case's history; the contacts
    missed, or 0 when its case is being changed right now (it rolls next sweep)."""
    lock_head(s)  # before the case and task rows, like every writer of history
    case = _lock_case(s, task.case_id)
    if case is None:
        return 0
    in_row = followups.roll_missed(s, app.calendar, task, rule, roll, now=now)
    if in_row is None:
        return 0
    # One escalation per roll at most, each time the run reaches a multiple of N.
    after = rule.escalate_after
    escalate = after > 0 and in_row // after > (in_row - roll.count) // after
    append_event(s, case, kind=EventKind.CONTACT_MISSED, actor=SWEEPER, at=now, data={
        "task": task.id, "rule": task.rule,
        "missed": [{"occurrence": o, "due_on": d.isoformat()} for o, d in
                   [(task.occurrence, task.due_on),
                    *((p.occurrence, p.due_on) for p in roll.missed)]],
        "next": {"occurrence": roll.following.occurrence,
                 "due_on": roll.following.due_on.isoformat()},
        "missed_in_row": in_row,
        **({"escalated_to": rule.escalate_to} if escalate else {}),
    })
    if escalate:
        task_ = {**task._mapping, "escalate_to": rule.escalate_to, "assignee_id": None}
        notices += _told(app, router, _Row(**task_), ESCALATION, now)
    return roll.count


def _lock_case(s: Connection, case_id: int) -> CaseRow | None:
    """The case, locked for its history event; None when another transaction holds
    it (waiting could deadlock: that one may be waiting for our task locks)."""
    row = s.execute(
        select(*(CASES.c[name] for name in CaseRow.__dataclass_fields__))
        .where(CASES.c.id == case_id).with_for_update(skip_locked=True)
    ).first()
    return CaseRow(*row) if row is not None else None


def produce_digests(app: App, now: datetime) -> int:
    """Today's digest for each person with work due, upcoming notices folded or
    work handled for them while away; a missed day is never replayed. The digest
    of someone away goes to whoever receives their notices (``absences.Router``)."""
    cal = app.calendar
    day = digest_day(cal, now, app.settings.scheduler.digest_time)
    if day is None:
        return 0
    with app.db.transaction() as s:
        last = _locked_mark(s, "digest")
        if cal.local_date(last) >= day:
            return 0
        rows = s.execute(
            select(TASKS.c.assignee_id, TASKS.c.kind, TASKS.c.due_on, CASES.c.key, CASES.c.title)
            .join(CASES, CASES.c.id == TASKS.c.case_id)
            # Through the assignee index, one person at a time: cheap however many
            # tasks exist, where "status = open AND due_on <= day" scans them all.
            .where(TASKS.c.assignee_id.in_(select(PEOPLE.c.id).where(PEOPLE.c.active.is_(True))),
                   TASKS.c.status == TaskStatus.OPEN, TASKS.c.due_on <= day)
            .order_by(TASKS.c.assignee_id, TASKS.c.due_on)
        ).all()
        by_person: dict[int, list[Any]] = {}
        for row in rows:
            by_person.setdefault(row.assignee_id, []).append(row)
        all_people = people_by_id(s)
        people = {pid: p for pid, p in all_people.items() if p.active}
        router = Router.load(app, s, all_people, now)
        folded_owners = _folded_owners(s)
        handled_for = set(people_handled_for(s))
        notices = []
        folded_into: dict[str, list[int]] = {}  # digest key -> the folded notices it lists
        for pid, owner in sorted(people.items()):  # in the order of the people
            # An absent person's digest goes to whoever receives their notices.
            to, got = router.receiver_of(owner, None)
            folded = folded_for(s, owner.handle) if owner.handle in folded_owners else []
            handled = (handled_while_away(s, owner.handle)
                       if not got.for_other and owner.handle in handled_for else [])
            items = by_person.get(pid, [])
            if not (items or handled or any(f.task_status == TaskStatus.OPEN for f in folded)):
                # Nothing to tell: folded notices of tasks closed since are settled unsent.
                if folded:
                    s.execute(update(NOTICES).where(NOTICES.c.id.in_([f.id for f in folded]))
                              .values(folded_into=CLOSED_BEFORE_DIGEST))
                continue
            notices.append(_digest(app, router, owner, to, got, items, folded, handled,
                                   day, now))
            if folded:
                folded_into[notices[-1]["idempotency_key"]] = [f.id for f in folded]
        made = inserted_keys(s, NOTICES, notices, ["idempotency_key"])
        # Only a digest really made settles what it lists: one whose key existed
        # was made before these notices were folded, and does not list them.
        for key in sorted(made & folded_into.keys()):
            s.execute(update(NOTICES).where(NOTICES.c.id.in_(folded_into[key]))
                      .values(folded_into=key))
        _mark(s, "digest", now)
    return len(made)


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def _locked_mark(s: Connection, name: str) -> datetime:
    """The mark, its row locked until commit (created if missing, as never), so
    two services cannot both act on the same old mark."""
    insert_ignore(s, MARKS, [{"name": name, "at": _NEVER}], ["name"])
    return s.execute(select(MARKS.c.at).where(MARKS.c.name == name).with_for_update()).scalar_one()


def _folded_owners(s: Connection) -> set[str]:
    """Whose folded notices wait for a digest: the person they are for (the
    recipient, unless a substitute received them)."""
    return {r.for_person or r.recipient for r in s.execute(
        select(NOTICES.c.recipient, NOTICES.c.for_person).distinct()
        .where(NOTICES.c.status == NoticeStatus.FOLDED, NOTICES.c.folded_into.is_(None)))}


class _Row(SimpleNamespace):
    """A row's values with a few replaced (an escalation has no assignee), or a
    digest item made from a folded notice's payload."""


def _digest(app: App, router: Router, owner: Row[Any], to: Row[Any], got: Receiver,
            items: list[Any], folded: list[Any], handled: list[Any], day: date,
            now: datetime) -> dict:
    on_behalf = _on_behalf(got)
    coming_up = [_Row(key=p["case"], kind=p["task_kind"],
                      due_on=date.fromisoformat(p["due_on"]), title=p["case_title"])
                 for f in folded if f.task_status == TaskStatus.OPEN
                 for p in [f.payload] if date.fromisoformat(p["due_on"]) > day]
    words = wording.digest(owner.name, day, items, on_behalf=on_behalf, coming_up=coming_up,
                           handled=handled)
    # A substitute's digest for someone away has its own key, beside their own digest.
    suffix = f":for:{owner.handle}" if got.for_other else ""
    row = ledger_row(
        app.settings, to, kind=DIGEST, task_id=None, subject=words.subject, body=words.body,
        payload={"day": day.isoformat(), "due_today": [i.key for i in items if i.due_on == day],
                 "overdue": [i.key for i in items if i.due_on < day],
                 **({"coming_up": [i.key for i in coming_up]} if coming_up else {}),
                 **({"handled_for_you": len(handled)} if handled else {})},
        now=now,
        key=lambda channel: idempotency_key(kind=DIGEST, recipient=to.handle,
                                            channel=channel, day=day) + suffix,
    )
    return router.tell(row, to, got)


def _mark(s: Connection, name: str, at: datetime) -> None:
    if not insert_ignore(s, MARKS, [{"name": name, "at": at}], ["name"]):
        s.execute(update(MARKS).where(MARKS.c.name == name).values(at=at))
