"""The daily digests: what each person has due, what was folded for them, and
what their substitutes handled while they were away; once per person per
working day after the digest time, a missed day never replayed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select, update

from torchflow.domain import wording
from torchflow.domain.status import NoticeKind, NoticeStatus, TaskStatus
from torchflow.domain.timeline import digest_day
from torchflow.i18n import Translator
from torchflow.service.app import App
from torchflow.service.delivery import ledger
from torchflow.service.delivery.routing import Route, Router
from torchflow.service.people.lookup import people_by_id
from torchflow.store.models import CASES, MARKS, NOTICES, PEOPLE, TASKS
from torchflow.store.queries import insert_ignore

DIGEST = NoticeKind.DIGEST
# What a folded notice records when its task closed before any digest listed it.
CLOSED_BEFORE_DIGEST = "no digest: the task was closed first"


def produce_digests(app: App, now: datetime) -> int:
    """Today's digest for each person with work due, upcoming notices folded or
    work handled for them while away; a missed day is never replayed. The digest
    of someone away goes to whoever receives their notices (``routing.Router``)."""
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
                ledger.settle_folded(s, [f.id for f in folded], CLOSED_BEFORE_DIGEST)
                continue
            notices.append(_digest(router.route(DIGEST, to, got), router.tr, owner, items,
                                   folded, handled, day, now))
            if folded:
                folded_into[notices[-1]["idempotency_key"]] = [f.id for f in folded]
        made = ledger.add_keys(s, notices)
        # Only a digest really made settles what it lists: one whose key existed
        # was made before these notices were folded, and does not list them.
        for key in sorted(made & folded_into.keys()):
            ledger.settle_folded(s, folded_into[key], key)
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


def _digest(route: Route, tr: Translator, owner: Row[Any], items: list[Any],
            folded: list[Any], handled: list[Any], day: date, now: datetime) -> dict[str, Any]:
    """``owner``'s digest of ``day`` as ``route`` takes it (to a substitute while
    they are away, held through quiet hours), in the office's language (``tr``)."""
    coming_up = [SimpleNamespace(key=p["case"], kind=p["task_kind"],
                                 due_on=date.fromisoformat(p["due_on"]), title=p["case_title"])
                 for f in folded if f.task_status == TaskStatus.OPEN
                 for p in [f.payload] if date.fromisoformat(p["due_on"]) > day]
    words = wording.digest(owner.name, day, items, on_behalf=route.on_behalf,
                           coming_up=coming_up, handled=handled, tr=tr)
    payload = {"day": day.isoformat(), "due_today": [i.key for i in items if i.due_on == day],
               "overdue": [i.key for i in items if i.due_on < day],
               **({"coming_up": [i.key for i in coming_up]} if coming_up else {}),
               **({"handled_for_you": len(handled)} if handled else {})}
    return ledger.digest_notice(route, day, words.subject, words.body, payload, now)


def _mark(s: Connection, name: str, at: datetime) -> None:
    if not insert_ignore(s, MARKS, [{"name": name, "at": at}], ["name"]):
        s.execute(update(MARKS).where(MARKS.c.name == name).values(at=at))


def folded_for(session: Connection, owner: str) -> list[Any]:
    """The folded notices of ``owner`` (received by them, or for them by a
    substitute) not yet in a digest, with their task's status: their next
    digest takes them all and lists those whose task is still open."""
    return list(session.execute(
        select(NOTICES.c.id, NOTICES.c.kind, NOTICES.c.payload,
               TASKS.c.status.label("task_status"))
        .join(TASKS, TASKS.c.id == NOTICES.c.task_id)
        .where(NOTICES.c.status == NoticeStatus.FOLDED, NOTICES.c.folded_into.is_(None),
               or_(NOTICES.c.for_person == owner,
                   and_(NOTICES.c.for_person.is_(None), NOTICES.c.recipient == owner)))
        .order_by(NOTICES.c.id)).all())


def handled_while_away(session: Connection, handle: str) -> list[Any]:
    """Task notices others received for ``handle`` since ``handle``'s own last
    digest: what their substitutes handled while they were away."""
    last = session.scalar(
        select(NOTICES.c.created_at)
        .where(NOTICES.c.recipient == handle, NOTICES.c.kind == NoticeKind.DIGEST,
               NOTICES.c.for_person.is_(None))
        .order_by(NOTICES.c.created_at.desc()).limit(1))
    query = (select(NOTICES.c.recipient, NOTICES.c.kind, NOTICES.c.status, NOTICES.c.subject)
             .where(NOTICES.c.for_person == handle, NOTICES.c.task_id.is_not(None),
                    NOTICES.c.status != NoticeStatus.CANCELLED))
    if last is not None:
        query = query.where(NOTICES.c.created_at > last)
    return list(session.execute(query.order_by(NOTICES.c.id)).all())


def people_handled_for(session: Connection) -> list[str]:
    """Everyone some substitute received notices for (candidates for a
    "handled for you" section)."""
    return sorted(h for h in session.scalars(
        select(NOTICES.c.for_person).distinct().where(NOTICES.c.for_person.is_not(None)))
        if h)
