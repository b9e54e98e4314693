"""The gate between the ledger and the channels: what dispatch may send now.

Dispatch calls it at marked points. In the claim's own transaction, before
anything is sent (``admit``):

- a notice whose channel cannot be used as configured (a webhook without its
  secret, a person without a WeCom id, a robot without its key) is *held*:
  marked with the reason, its attempt given back, left out of claims until
  ``mend`` finds it can go (the configuration fixed and the service restarted,
  or the person's address set); everyone else's notices go on;
- a send to a platform that drops no resend (a group robot) that a crash cut
  short is not repeated blindly: it is marked dead, saying it most likely
  arrived and how to send it again;
- a notice to a robot or an app member takes its tokens from the budget every
  scheduler node shares (``channel_budgets``, a token bucket per key, changed
  only under its row lock); one that must wait is given back with ``retry_at``
  for its token; a backlog that cannot pass within ``fold_after_minutes`` is
  folded into one message instead of queueing for hours;
- sends in a platform's busy minutes (:00 and :30 for Feishu and WeCom apps)
  are moved off them, spread by a jitter fixed per notice.

After a send (``throttled``): a platform that says it is throttling pauses the
key's budget for its window, on every node; the notice waits for it, its
attempt not counted. Around a send to a platform without duplicate check:
``started`` records the send's start, ``part_sent`` each part of a split notice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, func, or_, select, update

from torchflow.channels.base import Message
from torchflow.channels.robots import Limit
from torchflow.channels.text import escape, office_translator
from torchflow.clock import wall_clock
from torchflow.domain.ratelimit import Bucket, busy_until, jitter
from torchflow.domain.status import NoticeKind, NoticeStatus
from torchflow.i18n import N_, Text, _, ngettext_
from torchflow.service.app import App
from torchflow.service.notices import route
from torchflow.store.models import BUDGETS, NOTICES, PEOPLE
from torchflow.store.queries import insert_ignore

PENDING, DEAD, FOLDED = NoticeStatus.PENDING, NoticeStatus.DEAD, NoticeStatus.FOLDED
log = logging.getLogger("torchflow.dispatch")

CUT_SHORT = N_("the service stopped while sending this notice to {channel}, which drops no "
               "repeated message: it has most likely arrived; if it has not, send it again "
               "with `torchflow notice retry {id}`")


class Sendable(Protocol):
    """A claimed notice, as dispatch holds it."""

    id: int
    message: Message
    channel: str
    send_started: datetime | None


class Gates(Protocol):
    """What the gate asks of dispatch's configured channels."""

    def problem(self, name: str, address: str) -> str | None: ...

    def get(self, name: str) -> Any: ...

    def dedup(self, name: str) -> bool: ...


# --------------------------------------------------------------------------- mentions


def mentions(session: Connection, handles: set[str]) -> dict[str, Mapping[str, str]]:
    """The platform ids of the people a batch of notices is for (or mentions)."""
    if not handles:
        return {}
    rows = session.execute(select(PEOPLE.c.handle, PEOPLE.c.platform_ids)
                           .where(PEOPLE.c.handle.in_(sorted(handles))))
    return {r.handle: dict(r.platform_ids or {}) for r in rows}


def mentioned(recipient: str, payload: Mapping[str, Any]) -> list[str]:
    """Whom a notice @-mentions in a group: its recipient, or (a folded
    backlog) everyone it is for."""
    found = payload.get("mention")
    return [str(h) for h in found] if isinstance(found, list) else [recipient]


# --------------------------------------------------------------------------- admit


@dataclass
class _Key:
    """One budget key in one claim: its bucket, the tokens it really has after
    this claim's grants, and the tokens projected past the notices made to wait."""

    bucket: Bucket
    tokens: float
    queued: float
    paused_until: datetime | None
    granted: set[int] = field(default_factory=set)
    waiting: list[int] = field(default_factory=list)


def admit(app: App, session: Connection, claimed: Sequence[Any], channels: Gates,
          owner: str, wall: datetime) -> list[Any]:
    """The claimed notices that may be sent now, in order; the others are held,
    marked, given back to wait, or folded, in ``session`` (the claim's)."""
    keep: list[Any] = []
    later: dict[int, datetime] = {}
    held: dict[int, str] = {}
    cut_short: list[Any] = []
    limited: list[tuple[Any, list[Limit], int]] = []
    for notice in claimed:
        address = notice.message.address
        if notice.send_started is not None and not channels.dedup(notice.channel):
            cut_short.append(notice)
            continue
        problem = channels.problem(notice.channel, address)
        if problem is not None:
            held[notice.id] = problem
            continue
        channel = channels.get(notice.channel)
        busy = busy_until(wall, getattr(channel, "busy_minutes", ()))
        if busy is not None:
            later[notice.id] = busy + jitter(notice.id)
            continue
        limits = channel.limits(address) if hasattr(channel, "limits") else []
        if limits:
            limited.append((notice, limits, channel.cost(notice.message)))
        else:
            keep.append(notice)
    go = {n.id for n in keep}
    if limited:
        keys = _spend(session, limited, wall, later)
        go |= {nid for k in keys.values() for nid in k.granted}
        _fold_backlogs(app, session, limited, keys, channels, owner, wall, later)
    _give_back(session, owner, later, held)
    _mark_cut_short(session, cut_short)
    return [n for n in claimed if n.id in go and n.id not in later]


def _spend(session: Connection, limited: list[tuple[Any, list[Limit], int]], wall: datetime,
           later: dict[int, datetime]) -> dict[str, _Key]:
    """Take each notice's tokens, in order, from its keys' buckets (locked in
    key order, so nodes never deadlock); a notice that cannot have them now
    waits for them, and so does every later one on the same keys."""
    wanted = {lim.key: Bucket.within(lim.count, lim.seconds)
              for _, limits, _ in limited for lim in limits}
    keys = _lock(session, wanted, wall)
    for notice, limits, cost in limited:
        mine = [keys[lim.key] for lim in limits]
        paused = max((k.paused_until for k in mine if k.paused_until and k.paused_until > wall),
                     default=None)
        waits = [k.bucket.wait(k.queued, cost) for k in mine]
        if paused is None and max(waits) == 0:
            for k in mine:
                k.tokens -= cost
                k.queued -= cost
                k.granted.add(notice.id)
            continue
        start = max(paused or wall, wall + timedelta(seconds=max(waits)))
        later[notice.id] = start
        for k in mine:
            k.queued -= cost  # the next notice on this key waits behind this one
            k.waiting.append(notice.id)
    session.execute(_SPENT, [{"bkey": key, "tokens": k.tokens, "at": wall}
                             for key, k in keys.items()])
    return keys


_SPENT = (update(BUDGETS).where(BUDGETS.c.key == bindparam("bkey"))
          .values(tokens=bindparam("tokens"), updated_at=bindparam("at")))


def _lock(session: Connection, wanted: Mapping[str, Bucket], wall: datetime) -> dict[str, _Key]:
    insert_ignore(session, BUDGETS, [{"key": key, "tokens": bucket.capacity, "updated_at": wall,
                                      "paused_until": None} for key, bucket in wanted.items()],
                  ["key"])
    rows = session.execute(select(BUDGETS).where(BUDGETS.c.key.in_(sorted(wanted)))
                           .order_by(BUDGETS.c.key).with_for_update()).all()
    keys = {}
    for r in rows:
        bucket = wanted[r.key]
        level = bucket.level(r.tokens, r.updated_at, wall)
        keys[r.key] = _Key(bucket, level, level, r.paused_until)
    return keys


def _give_back(session: Connection, owner: str, later: Mapping[int, datetime],
               held: Mapping[int, str]) -> None:
    """Unleased again, the attempt not counted: waiting for a token or a busy
    minute to pass, or held until the channel can be used."""
    free = {"lease_owner": None, "lease_until": None, "attempts": NOTICES.c.attempts - 1}
    for nid, at in later.items():
        session.execute(update(NOTICES).where(NOTICES.c.id == nid, NOTICES.c.lease_owner == owner)
                        .values(retry_at=at, **free))
    for nid, why in held.items():
        session.execute(update(NOTICES).where(NOTICES.c.id == nid, NOTICES.c.lease_owner == owner)
                        .values(held=why[:300], retry_at=None, **free))
    if held:
        log.warning("%d notice(s) held: %s", len(held), "; ".join(sorted(set(held.values()))))


def _mark_cut_short(session: Connection, notices: list[Any]) -> None:
    for notice in notices:
        why = Text(CUT_SHORT, {"channel": notice.channel, "id": notice.id})
        session.execute(update(NOTICES).where(NOTICES.c.id == notice.id).values(
            status=DEAD, last_error=str(why), send_started=None, lease_owner=None,
            lease_until=None))
        log.error("notice #%d to %s via %s: %s", notice.id, notice.message.recipient,
                  notice.channel, why)


def take(app: App, channel: Any, address: str) -> float:
    """One token from each of the keys of a send outside the ledger (`channel
    test`): 0 when taken, else the seconds until it could be."""
    limits = channel.limits(address) if hasattr(channel, "limits") else []
    if not limits:
        return 0.0
    wall = wall_clock()
    with app.db.transaction() as s:
        keys = _lock(s, {lim.key: Bucket.within(lim.count, lim.seconds) for lim in limits}, wall)
        paused = max((k.paused_until for k in keys.values()
                      if k.paused_until and k.paused_until > wall), default=None)
        wait = max(k.bucket.wait(k.tokens, 1) for k in keys.values())
        if paused is not None or wait > 0:
            return max(wait, (paused - wall).total_seconds() if paused else 0.0)
        for key, k in keys.items():
            s.execute(update(BUDGETS).where(BUDGETS.c.key == key)
                      .values(tokens=k.tokens - 1, updated_at=wall))
    return 0.0


def next_paced(app: App, paced: Sequence[str], wall: datetime) -> datetime | None:
    """When the next robot notice waiting for its token may go (None: none waits)."""
    if not paced:
        return None
    with app.db.read() as s:
        found: datetime | None = s.scalar(select(func.min(NOTICES.c.retry_at)).where(
            NOTICES.c.status == PENDING, NOTICES.c.held.is_(None),
            NOTICES.c.channel.in_(list(paced)), NOTICES.c.retry_at > wall,
            NOTICES.c.not_before <= app.now(), NOTICES.c.lease_owner.is_(None)))
    return found


# --------------------------------------------------------------------------- folding


def _fold_backlogs(app: App, session: Connection, limited: list[tuple[Any, list[Limit], int]],
                   keys: Mapping[str, _Key], channels: Gates, owner: str, wall: datetime,
                   later: dict[int, datetime]) -> None:
    """A key whose queue cannot pass within ``fold_after_minutes`` gets the
    rest of its queue folded into one message, sent first."""
    horizon = app.settings.notify.fold_after_minutes * 60.0
    seen: set[str] = set()
    for notice, limits, _cost in limited:
        key = keys[limits[0].key]
        if not key.waiting or limits[0].key in seen:
            continue
        seen.add(limits[0].key)
        passable = key.bucket.passable(max(key.tokens, 0.0), horizon)
        queue = _queue(session, channels, notice, owner)
        if len(queue) <= passable:
            continue
        folded = [q for q in queue[max(passable - 1, 0):] if q.id not in key.granted]
        if len(folded) < 2:
            continue
        start = wall + timedelta(seconds=key.bucket.wait(key.tokens, 1))
        _fold(app, session, notice, folded, start, wall)
        for q in folded:
            later.pop(q.id, None)


def _queue(session: Connection, channels: Gates, notice: Any, owner: str) -> list[Any]:
    """The pending notices on ``notice``'s key not leased by another node, in
    order, locked (skipping any another transaction holds)."""
    channel = channels.get(notice.channel)
    addresses = {notice.message.address}
    robot_of = getattr(channel, "robot_of", None)
    if robot_of is not None:  # a robot: "" is its default robot
        mine = robot_of(notice.message.address)
        addresses |= {a for a in ("", robot_of("")) if robot_of(a) == mine}
    return list(session.execute(
        select(NOTICES.c.id, NOTICES.c.subject, NOTICES.c.recipient, NOTICES.c.not_before)
        .where(NOTICES.c.status == PENDING, NOTICES.c.held.is_(None),
               NOTICES.c.channel == notice.channel, NOTICES.c.address.in_(sorted(addresses)),
               NOTICES.c.send_started.is_(None),
               or_(NOTICES.c.lease_owner.is_(None), NOTICES.c.lease_owner == owner))
        .order_by(NOTICES.c.not_before, NOTICES.c.id)
        .with_for_update(skip_locked=True)).all())


def _fold(app: App, session: Connection, first: Any, folded: list[Any], start: datetime,
          now: datetime) -> None:
    """One message listing ``folded`` (each then marked folded into it)."""
    tr = office_translator()
    people = sorted({f.recipient for f in folded})
    key = f"fold:{first.channel}:{first.message.address}:{folded[0].id}:{folded[-1].id}:" \
          f"{len(folded)}"
    subject = tr(ngettext_("{n} notice folded into one message: the robot's rate limit",
                           "{n} notices folded into one message: the robot's rate limit",
                           len(folded)))
    body = "\n".join(f"· {escape(f.subject)}" for f in folded)
    insert_ignore(session, NOTICES, [{
        "idempotency_key": key, "task_id": None, "kind": NoticeKind.DIGEST,
        "channel": first.channel, "recipient": people[0] if len(people) == 1 else "#group",
        "address": first.message.address, "subject": subject, "body": body,
        "payload": {"fold": len(folded), "mention": people}, "status": PENDING,
        "attempts": 0, "not_before": app.now(), "retry_at": start, "created_at": app.now(),
        "last_error": "", "reason": str(_("a backlog the rate budget could not pass")),
        "for_person": None, "folded_into": None}], ["idempotency_key"])
    session.execute(update(NOTICES).where(NOTICES.c.id.in_([f.id for f in folded])).values(
        status=FOLDED, folded_into=key, lease_owner=None, lease_until=None, retry_at=None))
    log.warning("%d notice(s) to %s %s folded into one message (%s)", len(folded),
                first.channel, first.message.address or "(default robot)", key)


# --------------------------------------------------------------------------- after a send


def started(app: App, owner: str, notice_id: int, wall: datetime | None = None) -> None:
    """Before a send to a platform that drops no resend: committed, so a crash
    in the send is known afterwards (and not repeated blindly)."""
    with app.db.transaction() as s:
        s.execute(update(NOTICES).where(NOTICES.c.id == notice_id,
                                        NOTICES.c.lease_owner == owner)
                  .values(send_started=wall or wall_clock()))


def part_sent(app: App, owner: str, notice_id: int, done: int) -> None:
    """Part ``done`` of a split notice is out: a resend starts after it."""
    with app.db.transaction() as s:
        s.execute(update(NOTICES).where(NOTICES.c.id == notice_id,
                                        NOTICES.c.lease_owner == owner)
                  .values(parts_done=done))


class Pauses:
    """The keys a platform said it throttles, during one dispatch: the rest of
    a batch already granted on them waits too, instead of being refused."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def until(self, channel: Any, notice: Any) -> datetime | None:
        found = [self._until[k] for k in _keys(channel, notice) if k in self._until]
        return max(found) if found else None

    def add(self, channel: Any, notice: Any, until: datetime) -> None:
        for key in _keys(channel, notice):
            self._until[key] = until


def _keys(channel: Any, notice: Any) -> list[str]:
    return [lim.key for lim in channel.limits(notice.message.address)] \
        if hasattr(channel, "limits") else []


def wait(app: App, owner: str, notice: Any, until: datetime) -> None:
    """Give ``notice`` back to wait until ``until`` (its attempt not counted)."""
    with app.db.transaction() as s:
        s.execute(update(NOTICES).where(NOTICES.c.id == notice.id,
                                        NOTICES.c.lease_owner == owner)
                  .values(retry_at=until + jitter(notice.id, 5.0), lease_owner=None,
                          lease_until=None, attempts=NOTICES.c.attempts - 1))


def throttled(app: App, owner: str, notice: Any, channel: Any, seconds: float, error: str
              ) -> datetime:
    """The platform throttles this robot or member: every node leaves the key
    alone until the window has passed; the notice waits for it, its attempt
    not counted. Returns when it will be tried again."""
    wall = wall_clock()
    until = wall + timedelta(seconds=seconds)
    keys = _keys(channel, notice)
    with app.db.transaction() as s:
        for key in sorted(keys):
            insert_ignore(s, BUDGETS, [{"key": key, "tokens": 0.0, "updated_at": wall,
                                        "paused_until": until}], ["key"])
            s.execute(update(BUDGETS).where(BUDGETS.c.key == key)
                      .values(tokens=0.0, updated_at=wall, paused_until=until))
        s.execute(update(NOTICES).where(NOTICES.c.id == notice.id,
                                        NOTICES.c.lease_owner == owner)
                  .values(retry_at=until + jitter(notice.id, 5.0), lease_owner=None,
                          lease_until=None, attempts=NOTICES.c.attempts - 1,
                          send_started=None, last_error=error))
    log.warning("notice #%d via %s throttled by the platform: waiting until %s", notice.id,
                notice.channel, until.isoformat(timespec="seconds"))
    return until


# --------------------------------------------------------------------------- mend


def mend(app: App, channels: Gates) -> int:
    """Held notices whose channel can be used now go back to pending: the
    configuration was fixed (the service restarted); or the person's own
    address (a WeCom id, a URL) or channel was set since, which their notice
    then follows."""
    with app.db.transaction() as s:
        rows = s.execute(select(NOTICES).where(NOTICES.c.status == PENDING,
                                               NOTICES.c.held.is_not(None))
                         .with_for_update(skip_locked=True)).all()
        if not rows:
            return 0
        people = {p.handle: p for p in s.execute(
            select(PEOPLE).where(PEOPLE.c.handle.in_({r.recipient for r in rows})))}
        mended = 0
        for row in rows:
            channel, address, key = row.channel, row.address, row.idempotency_key
            problem = channels.problem(channel, address)
            if problem is not None and _follows_person(row, people.get(row.recipient)):
                channel, address, key = _route_now(app, row, people[row.recipient])
                problem = channels.problem(channel, address)
            if key != row.idempotency_key and s.scalar(
                    select(NOTICES.c.id).where(NOTICES.c.idempotency_key == key)):
                s.execute(update(NOTICES).where(NOTICES.c.id == row.id)
                          .values(status=NoticeStatus.CANCELLED, held=None))
                continue
            s.execute(update(NOTICES).where(NOTICES.c.id == row.id).values(
                channel=channel, address=address, idempotency_key=key,
                held=problem[:300] if problem else None))
            mended += problem is None
    if mended:
        log.info("%d held notice(s) can be sent now", mended)
    return mended


def _follows_person(row: Any, person: Any) -> bool:
    """A notice that goes where its person is told: not a group robot's, not
    one re-routed to a fallback (its key says so)."""
    return person is not None and not (row.payload or {}).get("group") \
        and ":via:" not in row.idempotency_key


def _route_now(app: App, row: Any, person: Any) -> tuple[str, str, str]:
    """Where the person is told now (the key follows the channel)."""
    channel, address = route(app.settings, person)
    key = row.idempotency_key
    if channel != row.channel:
        key = key.replace(f":{row.recipient}:{row.channel}", f":{row.recipient}:{channel}", 1)
    return channel, address, key
