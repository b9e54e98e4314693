"""The daily digests: what each person has due, what was folded for them, and
what their substitutes handled while they were away; once per person per
working day after the digest time, a missed day never replayed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from types import SimpleNamespace
from typing import Any

from msgspec import Struct, field
from sqlalchemy import Connection, Row, and_, or_, select, update

from torchflow.domain import wording
from torchflow.domain.identity import SYSTEM
from torchflow.domain.status import EventKind, NoticeKind, NoticeStatus, TaskStatus
from torchflow.domain.timeline import digest_day
from torchflow.service.app import App
from torchflow.service.delivery import ledger
from torchflow.service.delivery.routing import Route, Router
from torchflow.service.people.lookup import people_by_id
from torchflow.store.models import CASES, EVENTS, MARKS, NOTICES, PEOPLE, TASKS
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
            select(TASKS.c.id, TASKS.c.assignee_id, TASKS.c.kind, TASKS.c.due_on, CASES.c.key,
                   CASES.c.title, CASES.c.fields)
            .join(CASES, CASES.c.id == TASKS.c.case_id)
            # Through the assignee index, one person at a time: cheap however many
            # tasks exist, where "status = open AND due_on <= day" scans them all.
            .where(TASKS.c.assignee_id.in_(select(PEOPLE.c.id).where(PEOPLE.c.active.is_(True))),
                   TASKS.c.status == TaskStatus.OPEN, TASKS.c.due_on <= day)
            .order_by(TASKS.c.assignee_id, TASKS.c.due_on)
        ).all()
        url = app.settings.notify.case_url
        by_person: dict[int, list[Any]] = {}
        for row in rows:
            by_person.setdefault(row.assignee_id, []).append(SimpleNamespace(
                **row._mapping, about=wording.about(row.fields, row.key, url)))
        told = told_today(s, cal.at(day, time(0, 0)))
        all_people = people_by_id(s)
        people = {pid: p for pid, p in all_people.items() if p.active}
        router = Router.load(app, s, all_people, now)
        folded_owners = _folded_owners(s)
        handled_for = set(people_handled_for(s))
        notices = []
        folded_into: dict[str, list[int]] = {}  # digest key -> the folded notices it lists
        absorbed: dict[str, list[int]] = {}  # digest key -> today's waiting notices it takes
        for pid, owner in sorted(people.items()):  # in the order of the people
            # An absent person's digest goes to whoever receives their notices.
            to, got = router.receiver_of(owner, None)
            folded = folded_for(s, owner.handle) if owner.handle in folded_owners else []
            handled = (handled_while_away(s, owner, day, cal.tz, url)
                       if not got.for_other and owner.handle in handled_for
                       else wording.Away())
            # A task told to its receiver on its own today is not listed again; its
            # notice still waiting (not yet sent) is taken into the digest instead.
            # What is still open from an absence is listed in its own section.
            apart = {t.id for t in handled.still_open}
            route = router.route(DIGEST, to, got)
            # (A notice waiting at another channel, a group robot's, goes there.)
            gone = told.gone(route.channel)
            items = [i for i in by_person.get(pid, [])
                     if (to.handle, i.id) not in gone and i.id not in apart]
            if not (items or handled.logged or handled.still_open
                    or any(f.task_status == TaskStatus.OPEN for f in folded)):
                # Nothing to tell: folded notices of tasks closed since are settled unsent.
                ledger.settle_folded(s, [f.id for f in folded], CLOSED_BEFORE_DIGEST)
                continue
            notices.append(_digest(app, route, owner, items, folded, handled, day, now))
            waiting = [n for i in items for n, _at in told.waiting.get((to.handle, i.id), ())]
            if folded:
                folded_into[notices[-1]["idempotency_key"]] = [f.id for f in folded]
            if waiting:
                absorbed[notices[-1]["idempotency_key"]] = waiting
        made = ledger.add_keys(s, notices)
        # Only a digest really made settles what it lists: one whose key existed
        # was made before these notices were folded, and does not list them.
        for key in sorted(made & folded_into.keys()):
            ledger.settle_folded(s, folded_into[key], key)
        for key in sorted(made & absorbed.keys()):
            ledger.absorb(s, absorbed[key], key)
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


def _digest(app: App, route: Route, owner: Row[Any], items: list[Any], folded: list[Any],
            away: wording.Away, day: date, now: datetime) -> dict[str, Any]:
    """``owner``'s digest of ``day`` as ``route`` takes it (to a substitute while
    they are away, held through quiet hours), in the office's language."""
    coming_up = [SimpleNamespace(key=p["case"], kind=p["task_kind"], id=p.get("task"),
                                 due_on=date.fromisoformat(p["due_on"]), title=p["case_title"])
                 for f in folded if f.task_status == TaskStatus.OPEN
                 for p in [f.payload] if date.fromisoformat(p["due_on"]) > day]
    words = wording.digest(owner.name, day, items, on_behalf=route.on_behalf,
                           coming_up=coming_up, away=away, office=app.settings.office.name,
                           late=lambda due: app.calendar.count_workdays(due, day),
                           tr=app.tr)
    listed = [i.id for i in (*items, *away.still_open, *coming_up) if i.id is not None]
    payload = {"day": day.isoformat(), "due_today": [i.key for i in items if i.due_on == day],
               "overdue": [i.key for i in items if i.due_on < day],
               "tasks": sorted(set(listed)),
               **({"coming_up": [i.key for i in coming_up]} if coming_up else {}),
               **({"handled_for_you": len(away.logged) + len(away.still_open)}
                  if away.logged or away.still_open else {})}
    return ledger.digest_notice(route, day, words.subject, words.body, payload, now)


class Told(Struct):
    """Task notices of today, by (receiver, task): those gone (sent, being
    sent, or in a summary), whose tasks a digest made later does not list;
    those waiting, which the digest takes in (their ids)."""

    sent: set[tuple[str, int]] = field(default_factory=set)
    # (receiver, task) -> [(notice id, its channel)]
    waiting: dict[tuple[str, int], list[tuple[int, str]]] = field(default_factory=dict)

    def gone(self, channel: str) -> set[tuple[str, int]]:
        """Tasks not to list in a digest going by ``channel``: told already, or
        waiting to be told by another channel."""
        return self.sent | {where for where, ids in self.waiting.items()
                            if any(at != channel for _id, at in ids)}


def told_today(s: Connection, since: datetime) -> Told:
    """``Told`` of the task notices made since ``since`` (the local day's start);
    escalations, which go to others, are never taken into a digest."""
    told = Told()
    for r in s.execute(
            select(NOTICES.c.id, NOTICES.c.recipient, NOTICES.c.task_id, NOTICES.c.status,
                   NOTICES.c.lease_owner, NOTICES.c.folded_into, NOTICES.c.channel)
            .where(NOTICES.c.created_at >= since, NOTICES.c.task_id.is_not(None),
                   NOTICES.c.kind != NoticeKind.ESCALATION,
                   NOTICES.c.status.in_((NoticeStatus.PENDING, NoticeStatus.SENT,
                                         NoticeStatus.FOLDED)))
            .with_for_update()):
        where = (r.recipient, r.task_id)
        if r.status == NoticeStatus.PENDING and r.lease_owner is None:
            told.waiting.setdefault(where, []).append((r.id, r.channel))
        elif r.status != NoticeStatus.FOLDED or str(r.folded_into or "").startswith("fold:"):
            told.sent.add(where)
    return told


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


def handled_while_away(session: Connection, owner: Row[Any], day: date, tz: Any,
                       case_url: str = "") -> wording.Away:
    """What became of ``owner``'s work while substitutes were told of it (since
    ``owner``'s own last digest): what others logged on their cases (contacts,
    visits, tasks done, notes), and their tasks that fell due meanwhile and are
    still open."""
    handle = owner.handle
    last = session.scalar(
        select(NOTICES.c.created_at)
        .where(NOTICES.c.recipient == handle, NOTICES.c.kind == NoticeKind.DIGEST,
               NOTICES.c.for_person.is_(None))
        .order_by(NOTICES.c.created_at.desc()).limit(1))
    query = (select(NOTICES.c.task_id, NOTICES.c.created_at)
             .where(NOTICES.c.for_person == handle, NOTICES.c.status != NoticeStatus.CANCELLED))
    if last is not None:
        query = query.where(NOTICES.c.created_at > last)
    told = session.execute(query).all()
    if not told:
        return wording.Away()
    since = last or min(r.created_at for r in told)
    told_tasks = sorted({r.task_id for r in told if r.task_id is not None})
    tasks = session.execute(
        select(TASKS.c.id, TASKS.c.kind, TASKS.c.due_on, TASKS.c.status, TASKS.c.case_id,
               CASES.c.key, CASES.c.title, CASES.c.fields)
        .join(CASES, CASES.c.id == TASKS.c.case_id)
        .where(TASKS.c.status == TaskStatus.OPEN, TASKS.c.due_on <= day,
               or_(TASKS.c.id.in_(told_tasks),
                   and_(TASKS.c.assignee_id == owner.id,
                        TASKS.c.due_on >= since.astimezone(tz).date())))
        .order_by(TASKS.c.due_on, TASKS.c.id)).all()
    still_open = [SimpleNamespace(**t._mapping, about=wording.about(t.fields, t.key, case_url))
                  for t in tasks]
    cases = session.execute(
        select(CASES.c.id, CASES.c.key, CASES.c.title)
        .where(or_(CASES.c.owner_id == owner.id,
                   CASES.c.id.in_(select(TASKS.c.case_id).where(TASKS.c.id.in_(told_tasks))))))
    by_id = {c.id: c for c in cases}
    logged = [SimpleNamespace(day=e.at.astimezone(tz).date().isoformat(), who=e.actor,
                              kind=e.kind, key=by_id[e.case_id].key, title=by_id[e.case_id].title)
              for e in session.execute(
                  select(EVENTS.c.case_id, EVENTS.c.actor, EVENTS.c.kind, EVENTS.c.at)
                  .where(EVENTS.c.case_id.in_(sorted(by_id)), EVENTS.c.at > since,
                         EVENTS.c.kind.in_(LOGGED), EVENTS.c.actor.not_in((handle, SYSTEM)))
                  .order_by(EVENTS.c.at, EVENTS.c.id))]
    return wording.Away(logged, still_open)


# What a substitute logs on someone's work: shown as done for them while away.
LOGGED = (EventKind.CONTACT, EventKind.VISIT, EventKind.TASK_DONE, EventKind.NOTE)


def people_handled_for(session: Connection) -> list[str]:
    """Everyone some substitute received notices for (candidates for a
    "handled for you" section)."""
    return sorted(h for h in session.scalars(
        select(NOTICES.c.for_person).distinct().where(NOTICES.c.for_person.is_not(None)))
        if h)
