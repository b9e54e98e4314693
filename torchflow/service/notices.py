"""The notice ledger: who is told, by which channel, with what words; listing,
re-addressing and retrying notices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from torchflow.config import Settings
from torchflow.domain.timeline import idempotency_key
from torchflow.errors import NotFound, Refused
from torchflow.service.app import App
from torchflow.service.paging import Page, fetch_page
from torchflow.service.people import has_role, person_by_handle
from torchflow.store.models import NOTICES, PEOPLE

_WHAT = {"contact": "Routine contact", "visit": "Visit", "deadline": "Deadline"}
_WHEN = {
    "upcoming": "coming up on {due}",
    "due": "due today ({due})",
    "overdue": "overdue since {due}",
    "escalation": "missed on {due}: escalated to you",
}


def route(settings: Settings, person: Row[Any]) -> tuple[str, str]:
    """(channel, address) for a person: their own choice, else the configured default."""
    channel = person.channel or settings.notify.default_channel
    address = {"smtp": person.email, "webhook": person.address}.get(channel, "")
    return channel, address


def task_notice_key(task_id: int, occurrence: int, kind: str, recipient: str, channel: str,
                    due_on: date) -> str:
    # The due day is part of the key so a snoozed task reminds again for its new day,
    # while sweeping the same day twice stays a no-op.
    base = idempotency_key(kind=kind, recipient=recipient, channel=channel, task_id=task_id,
                           occurrence=occurrence)
    return f"{base}:{due_on.isoformat()}"


def task_notice(
    settings: Settings, task: Any, case_key: str, case_title: str, kind: str, person: Row[Any],
    now: datetime,
) -> dict[str, Any]:
    """One row of the ledger for a task's notice (not yet written)."""
    what = _WHAT.get(task.kind, task.kind.capitalize())
    when = _WHEN[kind].format(due=task.due_on.isoformat())
    subject = f"[{case_key}] {what} {when}: {case_title}"
    lines = [
        f"Case {case_key}: {case_title}",
        f"{what} (rule {task.rule}, #{task.occurrence}) is {when}.",
    ]
    if task.window_start is not None:
        lines.append(f"Visit window {task.window_start} to {task.window_end}, seed {task.seed}.")
    lines.append(f"Log it with: torchflow case {task.kind} {case_key}"
                 if task.kind in ("contact", "visit") else
                 f"Review it with: torchflow case show {case_key}")
    payload = {"case": case_key, "task": task.id, "task_kind": task.kind, "rule": task.rule,
               "occurrence": task.occurrence, "due_on": task.due_on.isoformat()}
    return ledger_row(
        settings, person, kind=kind, task_id=task.id, subject=subject, body="\n".join(lines),
        payload=payload, now=now,
        key=lambda channel: task_notice_key(task.id, task.occurrence, kind, person.handle,
                                            channel, task.due_on),
    )


def ledger_row(
    settings: Settings, person: Row[Any], *, kind: str, task_id: int | None, subject: str,
    body: str, payload: dict[str, Any], now: datetime, key: Callable[[str], str],
) -> dict[str, Any]:
    """A pending notice to ``person`` by their channel, ready to insert; ``key``
    makes its idempotency key from the channel."""
    channel, address = route(settings, person)
    return {
        "idempotency_key": key(channel), "task_id": task_id, "kind": kind, "channel": channel,
        "recipient": person.handle, "address": address, "subject": subject, "body": body,
        "payload": payload, "status": "pending", "attempts": 0, "not_before": now,
        "created_at": now, "last_error": "",
    }


def people_by_id(session: Connection) -> dict[int, Row[Any]]:
    return {p.id: p for p in session.execute(select(PEOPLE))}


def recipients(
    people: Mapping[int, Row[Any]], kind: str, assignee_id: int | None, escalate_to: str | None
) -> list[Row[Any]]:
    """Who is told of a notice of ``kind``: the assignee, or for an escalation the
    active holders of the rule's escalation role."""
    if kind == "escalation":
        return [p for p in people.values() if p.active and has_role(p, escalate_to or "")]
    person = people.get(assignee_id) if assignee_id is not None else None
    return [person] if person is not None else []


def readdress_pending(app: App, session: Connection, old: Row[Any], new: Row[Any],
                      task_ids: list[int] | None = None) -> int:
    """Pending notices of ``old`` go to ``new`` instead, under a key for ``new``."""
    query = select(NOTICES.c.id, NOTICES.c.kind, NOTICES.c.payload, NOTICES.c.task_id).where(
        NOTICES.c.recipient == old.handle, NOTICES.c.status == "pending")
    if task_ids is not None:
        query = query.where(NOTICES.c.task_id.in_(task_ids))
    channel, address = route(app.settings, new)
    moved = 0
    for row in session.execute(query).all():
        if row.task_id is None:  # a digest: the new person's own digest covers it
            session.execute(update(NOTICES).where(NOTICES.c.id == row.id)
                            .values(status="cancelled"))
            continue
        p = row.payload
        key = task_notice_key(row.task_id, p["occurrence"], row.kind, new.handle, channel,
                              date.fromisoformat(p["due_on"]))
        if session.scalar(select(NOTICES.c.id).where(NOTICES.c.idempotency_key == key)):
            session.execute(update(NOTICES).where(NOTICES.c.id == row.id)
                            .values(status="cancelled"))
            continue
        session.execute(update(NOTICES).where(NOTICES.c.id == row.id).values(
            recipient=new.handle, channel=channel, address=address, idempotency_key=key,
            lease_owner=None, lease_until=None))
        moved += 1
    return moved


def notice_view(app: App, n: Any) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "status": n.status, "to": n.recipient,
        "channel": n.channel, "attempts": n.attempts, "subject": n.subject,
        "key": n.idempotency_key, "not_before": app.local(n.not_before),
        "sent_at": app.local(n.sent_at), "last_error": n.last_error,
    }


def list_notices(app: App, *, status: str | None = None, recipient: str | None = None,
                 limit: int = 200, offset: int = 0) -> Page:
    with app.db.read() as s:
        query = select(NOTICES)
        if status:
            query = query.where(NOTICES.c.status == status)
        if recipient:
            person_by_handle(s, recipient)
            query = query.where(NOTICES.c.recipient == recipient)
        return fetch_page(s, query.order_by(NOTICES.c.id.desc()), limit=limit, offset=offset,
                          view=lambda n: notice_view(app, n))


def retry(app: App, notice_id: int) -> dict[str, Any]:
    """A dead (or failing) notice gets a fresh set of attempts, from now."""
    with app.db.transaction() as s:
        row = s.execute(select(NOTICES).where(NOTICES.c.id == notice_id)).first()
        if row is None:
            raise NotFound(f"no notice #{notice_id}; see `torchflow notice list`")
        if row.status not in ("dead", "pending"):
            raise Refused(f"notice #{notice_id} is {row.status}; only dead or pending ones retry")
        s.execute(update(NOTICES).where(NOTICES.c.id == notice_id).values(
            status="pending", attempts=0, not_before=app.now(), lease_owner=None,
            lease_until=None))
    return {"id": notice_id, "status": "pending"}
