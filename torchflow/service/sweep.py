"""The sweep: due tasks -> notices in the ledger, and the daily digests.

It reads only tasks whose next notice time has passed (an indexed column), so
its cost follows what is due, not what exists. Every notice whose time passed
since the last sweep is produced, however long the service was off; a task
found overdue after ten days gets its one overdue notice, not ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from torchflow.domain import wording
from torchflow.domain.status import NoticeKind, TaskStatus
from torchflow.domain.timeline import digest_day, idempotency_key, notices_due, timeline
from torchflow.service.app import App
from torchflow.service.events import CASES
from torchflow.service.notices import ledger_row, people_by_id, recipients, task_notice
from torchflow.store.models import MARKS, NOTICES, PEOPLE, TASKS
from torchflow.store.queries import insert_ignore

DIGEST = NoticeKind.DIGEST


@dataclass
class SweepResult:
    tasks: int = 0
    notices: int = 0
    digests: int = 0


def sweep(app: App, now: datetime | None = None) -> SweepResult:
    now = now or app.now()
    result = SweepResult()
    batch = app.settings.scheduler.batch_size
    people: dict[int, Row[Any]] = {}  # read with the first due batch, then reused
    while True:
        with app.db.transaction() as s:
            done, made = _sweep_batch(app, s, now, batch, people)
        result.tasks += done
        result.notices += made
        if done < batch:
            break
    result.digests = produce_digests(app, now)
    return result


def _sweep_batch(
    app: App, s: Connection, now: datetime, batch: int, people: dict[int, Row[Any]]
) -> tuple[int, int]:
    rows = s.execute(
        select(TASKS, CASES.c.key.label("case_key"), CASES.c.title.label("case_title"))
        .join(CASES, CASES.c.id == TASKS.c.case_id)
        .where(TASKS.c.next_notice_at <= now)
        .order_by(TASKS.c.next_notice_at)
        .limit(batch)
        # Two services share the due tasks instead of both producing them; the
        # unique ledger key would make a double harmless anyway.
        .with_for_update(skip_locked=True, of=TASKS)
    ).all()
    if not rows:
        return 0, 0
    if not people:
        people.update(people_by_id(s))
    notices: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for task in rows:
        tl = timeline(app.calendar, kind=task.kind, due_on=task.due_on, remind=task.remind)
        kinds, stage, next_at = notices_due(tl, stage_done=task.stage_done, now=now,
                                            cal=app.calendar)
        for kind in kinds:
            for person in recipients(people, kind, task.assignee_id, task.escalate_to):
                notices.append(task_notice(app.settings, task, task.case_key, task.case_title,
                                           kind, person, now))
        updates.append({"tid": task.id, "stage": stage, "next_at": next_at})
    made = insert_ignore(s, NOTICES, notices, ["idempotency_key"])
    s.execute(
        update(TASKS)
        .where(TASKS.c.id == bindparam("tid"))
        .values(stage_done=bindparam("stage"), next_notice_at=bindparam("next_at")),
        updates,
    )
    return len(rows), made


def produce_digests(app: App, now: datetime) -> int:
    """Today's digest for each person with work due; a missed day is never replayed."""
    cal = app.calendar
    day = digest_day(cal, now, app.settings.scheduler.digest_time)
    if day is None:
        return 0
    with app.db.transaction() as s:
        last = s.scalar(select(MARKS.c.at).where(MARKS.c.name == "digest"))
        if last is not None and cal.local_date(last) >= day:
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
        people = {pid: p for pid, p in people_by_id(s).items() if p.active}
        notices = [
            _digest(app, people[pid], items, day, now)
            for pid, items in by_person.items() if pid in people
        ]
        made = insert_ignore(s, NOTICES, notices, ["idempotency_key"])
        _mark(s, "digest", now)
    return made


def _digest(app: App, person: Row[Any], items: list[Any], day: date, now: datetime) -> dict:
    words = wording.digest(person.name, day, items)
    return ledger_row(
        app.settings, person, kind=DIGEST, task_id=None, subject=words.subject, body=words.body,
        payload={"day": day.isoformat(), "due_today": [i.key for i in items if i.due_on == day],
                 "overdue": [i.key for i in items if i.due_on < day]},
        now=now,
        key=lambda channel: idempotency_key(kind=DIGEST, recipient=person.handle,
                                            channel=channel, day=day),
    )


def _mark(s: Connection, name: str, at: datetime) -> None:
    if not insert_ignore(s, MARKS, [{"name": name, "at": at}], ["name"]):
        s.execute(update(MARKS).where(MARKS.c.name == name).values(at=at))
