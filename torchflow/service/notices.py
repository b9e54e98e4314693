"""The notice ledger: by which channel and with what words a notice goes (who
is told is ``absences.Router``'s); listing, re-addressing, withdrawing and
retrying notices.

A notice a sender holds (leased) is never re-addressed or withdrawn under its
feet: the move or withdrawal is recorded in ``deferred`` and applied when the
lease ends unsent (a failed send, a hand-back, or an expired lease found by the
next claim). A send that succeeds stays sent, to whom it was sent, and the
deferred action is dropped: the notice was delivered once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, or_, select, update

from torchflow.channels import channel_type
from torchflow.clock import wall_clock
from torchflow.config import Settings
from torchflow.domain import wording
from torchflow.domain.status import NoticeKind, NoticeStatus
from torchflow.domain.timeline import idempotency_key
from torchflow.errors import NotFound, Refused
from torchflow.service import people as people_service
from torchflow.service.app import App
from torchflow.service.paging import Page, fetch_page
from torchflow.store.models import NOTICES, PEOPLE

PENDING, DEAD, CANCELLED = NoticeStatus.PENDING, NoticeStatus.DEAD, NoticeStatus.CANCELLED
WITHDRAW = "withdraw"
_MOVE = "move:"


def move_to(handle: str) -> str:
    """The deferred action that sends a leased notice to ``handle`` if it ends unsent."""
    return _MOVE + handle


def route(settings: Settings, person: Row[Any], group: str | None = None) -> tuple[str, str]:
    """(channel, address) for a person: a group robot's (a task notice of a
    workflow or a role that names one, ``group_of``), else their own choice,
    else the configured default."""
    if group:
        channel, _, robot = group.partition(":")
        return channel, robot
    channel = person.channel or settings.notify.default_channel
    return channel, channel_type(channel).address_of(person)


def group_of(settings: Settings, person: Row[Any], workflow: str | None,
             kind: str = "") -> str | None:
    """The group robot ("CHANNEL:ROBOT") a task notice goes to instead of the
    person's own channel, from [notify.groups]: the workflow's, else one of the
    person's roles' (an escalation, addressed to a role: the role's first). The
    person is @-mentioned there, and told nowhere else."""
    groups = settings.notify.groups
    by_role = [groups[r] for r in sorted(person.roles or ()) if r in groups]
    by_workflow = [groups[workflow]] if workflow and workflow in groups else []
    found = by_role + by_workflow if kind == NoticeKind.ESCALATION else by_workflow + by_role
    return found[0] if found else None


def task_notice(
    settings: Settings, task: Any, case_key: str, case_title: str, kind: str, person: Row[Any],
    now: datetime, on_behalf: str | None = None,
) -> dict[str, Any]:
    """One row of the ledger for a task's notice (not yet written); ``on_behalf``
    marks one a substitute receives (``wording.for_whom``)."""
    words = wording.task_notice(task, case_key, case_title, kind, on_behalf)
    workflow = getattr(task, "workflow", None)
    group = group_of(settings, person, workflow, kind)
    payload = {"case": case_key, "task": task.id, "task_kind": task.kind, "rule": task.rule,
               "occurrence": task.occurrence, "due_on": task.due_on.isoformat(),
               "case_title": case_title, **({"workflow": workflow} if workflow else {}),
               **({"group": group} if group else {})}
    return ledger_row(
        settings, person, kind=kind, task_id=task.id, subject=words.subject, body=words.body,
        payload=payload, now=now, group=group,
        key=lambda channel: idempotency_key(kind=kind, recipient=person.handle, channel=channel,
                                            task_id=task.id, occurrence=task.occurrence,
                                            due_on=task.due_on),
    )


def ledger_row(
    settings: Settings, person: Row[Any], *, kind: str, task_id: int | None, subject: str,
    body: str, payload: dict[str, Any], now: datetime, key: Callable[[str], str],
    group: str | None = None,
) -> dict[str, Any]:
    """A pending notice to ``person`` by their channel (or ``group``'s robot),
    ready to insert; ``key`` makes its idempotency key from the channel."""
    channel, address = route(settings, person, group)
    return {
        "idempotency_key": key(channel), "task_id": task_id, "kind": kind, "channel": channel,
        "recipient": person.handle, "address": address, "subject": subject, "body": body,
        "payload": payload, "status": PENDING, "attempts": 0, "not_before": now,
        "created_at": now, "last_error": "", "reason": "", "for_person": None,
        "folded_into": None,
    }


def one_per_group(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One notice's rows for several people (an escalation to a role's holders):
    those going to the same group robot become one message @-mentioning them all."""
    merged: list[dict[str, Any]] = []
    first: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        grouped = "group" in row["payload"]
        # Told alike: folding and quiet hours may treat the people differently.
        where = (row["channel"], row["address"], row["status"], row["not_before"])
        if grouped and where in first:
            kept = first[where]
            kept["payload"] = {**kept["payload"], "mention": [
                *kept["payload"].get("mention", [kept["recipient"]]), row["recipient"]]}
            continue
        if grouped:
            first[where] = row
        merged.append(row)
    return merged


def people_by_id(session: Connection) -> dict[int, Row[Any]]:
    return {p.id: p for p in session.execute(select(PEOPLE))}


# --------------------------------------------------------------------------- moving


@dataclass(frozen=True)
class Readdressed:
    moved: int = 0  # now
    in_flight: int = 0  # held by a sender: they move if that send ends unsent

    def __add__(self, other: Readdressed) -> Readdressed:
        return Readdressed(self.moved + other.moved, self.in_flight + other.in_flight)


def readdress_pending(app: App, session: Connection, old: Row[Any], new: Row[Any],
                      task_ids: list[int] | None = None) -> Readdressed:
    """Pending notices of ``old`` (or deferred to ``old``) go to ``new`` instead,
    under a key for ``new``; a leased one moves when its sender lets it go unsent.
    Notices folded for ``old``'s next digest go to ``new``'s next digest."""
    query = select(NOTICES).where(
        NOTICES.c.status == PENDING,
        or_(NOTICES.c.recipient == old.handle, NOTICES.c.deferred == move_to(old.handle)))
    folded = select(NOTICES).where(
        NOTICES.c.status == NoticeStatus.FOLDED, NOTICES.c.folded_into.is_(None),
        NOTICES.c.recipient == old.handle)
    if task_ids is not None:
        query = query.where(NOTICES.c.task_id.in_(task_ids))
        folded = folded.where(NOTICES.c.task_id.in_(task_ids))
    moved = in_flight = 0
    # Left with ``old``, they would wait for a digest ``old`` may never get again.
    for row in session.execute(folded.order_by(NOTICES.c.id).with_for_update()).all():
        moved += _readdress(app, session, row, new, fresh=False)
    # Locked: a sender cannot claim, mark or hand back these rows until we commit
    # (on SQLite, BEGIN IMMEDIATE already serialises every writer).
    for row in session.execute(query.order_by(NOTICES.c.id).with_for_update()).all():
        if row.lease_owner is not None:
            if row.deferred != WITHDRAW:
                _defer(session, row.id, move_to(new.handle))
            in_flight += 1
        elif _readdress(app, session, row, new):
            moved += 1
    return Readdressed(moved, in_flight)


def withdraw_pending(session: Connection, task_ids: list[int]) -> None:
    """Cancel the tasks' notices not yet sent; one being sent is cancelled only if
    that send ends unsent."""
    if not task_ids:
        return
    rows = session.execute(
        select(NOTICES.c.id, NOTICES.c.lease_owner)
        .where(NOTICES.c.task_id.in_(task_ids), NOTICES.c.status == PENDING)
        .with_for_update()
    ).all()
    free = [r.id for r in rows if r.lease_owner is None]
    held = [r.id for r in rows if r.lease_owner is not None]
    if free:
        session.execute(update(NOTICES).where(NOTICES.c.id.in_(free))
                        .values(status=CANCELLED, deferred=None))
    if held:
        session.execute(update(NOTICES).where(NOTICES.c.id.in_(held)).values(deferred=WITHDRAW))


def settle_deferred(app: App, session: Connection, ids: list[int] | None = None,
                    wall: datetime | None = None) -> int:
    """Apply the deferred moves and withdrawals of notices no sender holds any
    more: handed back, failed, dead, or leased by a sender whose lease ran out."""
    wall = wall or wall_clock()
    query = select(NOTICES).where(
        NOTICES.c.deferred.is_not(None), NOTICES.c.status.in_((PENDING, DEAD)),
        or_(NOTICES.c.lease_owner.is_(None), NOTICES.c.lease_until < wall))
    if ids is not None:
        query = query.where(NOTICES.c.id.in_(ids))
    rows = session.execute(query.order_by(NOTICES.c.id).with_for_update(skip_locked=True)).all()
    for row in rows:
        target = row.deferred.removeprefix(_MOVE) if row.deferred.startswith(_MOVE) else None
        person = session.execute(select(PEOPLE).where(PEOPLE.c.handle == target)).first()
        if person is None or not _readdress(app, session, row, person):
            _cancel(session, row.id)
    return len(rows)


def _readdress(app: App, session: Connection, row: Any, new: Row[Any],
               fresh: bool = True) -> bool:
    """Send ``row`` to ``new`` (True), or cancel it (False) when ``new`` has that
    notice already or it is a digest (the new person's own digest covers it).
    ``fresh``: it becomes pending with no attempts (else its status stays)."""
    if row.task_id is None:
        _cancel(session, row.id)
        return False
    p = row.payload
    group = group_of(app.settings, new, p.get("workflow"), row.kind)
    channel, address = route(app.settings, new, group)
    key = idempotency_key(kind=row.kind, recipient=new.handle, channel=channel,
                          task_id=row.task_id, occurrence=p["occurrence"],
                          due_on=date.fromisoformat(p["due_on"]))
    if key != row.idempotency_key and session.scalar(
            select(NOTICES.c.id).where(NOTICES.c.idempotency_key == key)):
        _cancel(session, row.id)
        return False
    # Failures (even death) were the old address's: the new one starts afresh.
    payload = {k: v for k, v in p.items() if k not in ("group", "mention")}
    session.execute(update(NOTICES).where(NOTICES.c.id == row.id).values(
        recipient=new.handle, channel=channel, address=address, idempotency_key=key,
        payload={**payload, **({"group": group} if group else {})}, deferred=None,
        **(_FRESH if fresh else {})))
    return True


def _defer(session: Connection, notice_id: int, action: str) -> None:
    session.execute(update(NOTICES).where(NOTICES.c.id == notice_id).values(deferred=action))


def _cancel(session: Connection, notice_id: int) -> None:
    session.execute(update(NOTICES).where(NOTICES.c.id == notice_id).values(
        status=CANCELLED, deferred=None, lease_owner=None, lease_until=None))


# --------------------------------------------------------------------------- views


HELD = "held"  # shown for a pending notice its channel cannot send as configured


def notice_view(app: App, n: Any) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "status": HELD if n.held else n.status, "to": n.recipient,
        "channel": n.channel, "attempts": n.attempts, "subject": n.subject,
        "key": n.idempotency_key, "not_before": app.local(n.not_before),
        "retry_at": app.local(n.retry_at), "sent_at": app.local(n.sent_at),
        "last_error": n.last_error, "for": n.for_person, "reason": _reason(n),
    }


def _reason(n: Any) -> str:
    """Why it went where and when (a folded notice names the digest it went into;
    a held one says what to fix)."""
    if n.held:
        return str(n.held)
    return (n.reason or "") + (f": {n.folded_into}" if n.folded_into else "")


def list_notices(app: App, *, status: str | None = None, recipient: str | None = None,
                 limit: int = 200, offset: int = 0) -> Page:
    with app.db.read() as s:
        query = select(NOTICES)
        if status == HELD:
            query = query.where(NOTICES.c.status == PENDING, NOTICES.c.held.is_not(None))
        elif status:
            query = query.where(NOTICES.c.status == status)
        if recipient:
            people_service.person_by_handle(s, recipient)
            query = query.where(NOTICES.c.recipient == recipient)
        return fetch_page(s, query.order_by(NOTICES.c.id.desc()), limit=limit, offset=offset,
                          view=lambda n: notice_view(app, n))


# --------------------------------------------------------------------------- retry


@dataclass(frozen=True)
class Retried:
    ids: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.ids)


# A retried notice starts afresh: no attempts, no backoff, no lease.
_FRESH = {"status": PENDING, "attempts": 0, "retry_at": None, "lease_owner": None,
          "lease_until": None, "held": None, "send_started": None, "parts_done": None}


def retry(app: App, notice_id: int) -> Retried:
    """A dead (or failing, not being sent) notice gets a fresh set of attempts, now."""
    with app.db.transaction() as s:
        row = s.execute(select(NOTICES).where(NOTICES.c.id == notice_id)
                        .with_for_update()).first()
        if row is None:
            raise NotFound(f"no notice #{notice_id}; see `torchflow notice list`")
        if row.status not in (DEAD, PENDING):
            raise Refused(f"notice #{notice_id} is {row.status}; only dead or pending ones retry")
        if row.lease_owner is not None and row.lease_until >= wall_clock():
            raise Refused(f"notice #{notice_id} is being sent right now; "
                          "see `torchflow notice list` in a moment")
        s.execute(update(NOTICES).where(NOTICES.c.id == notice_id).values(**_FRESH))
    return Retried((notice_id,))


def retry_dead(app: App, *, recipient: str | None = None, kind: str | None = None,
               channel: str | None = None) -> Retried:
    """Every dead notice (matching the filters) gets a fresh set of attempts, in
    one transaction."""
    with app.db.transaction() as s:
        query = update(NOTICES).where(NOTICES.c.status == DEAD)
        if recipient:
            people_service.person_by_handle(s, recipient)
            query = query.where(NOTICES.c.recipient == recipient)
        if kind:
            query = query.where(NOTICES.c.kind == kind)
        if channel:
            query = query.where(NOTICES.c.channel == channel)
        rows = s.execute(query.values(**_FRESH).returning(NOTICES.c.id)).scalars().all()
    return Retried(tuple(sorted(rows)))
