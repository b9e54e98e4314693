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
attempt not counted. Around a send to a platform without duplicate check, the
ledger records the send's start and each part of a split notice
(``ledger.started``, ``ledger.part_sent``).

This module writes the budgets (``channel_budgets``); what it decides for a
notice (held, waiting, folded, dead) the ledger writes, the notices' one writer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from msgspec import Struct, field
from sqlalchemy import Connection, bindparam, func, or_, select, update

from torchflow.channels.base import Message
from torchflow.channels.robots import Limit
from torchflow.channels.text import escape
from torchflow.clock import wall_clock
from torchflow.domain.ratelimit import Bucket, busy_until, jitter
from torchflow.domain.status import NoticeStatus
from torchflow.i18n import N_, Text, _, ngettext_
from torchflow.service.app import App
from torchflow.service.delivery import ledger
from torchflow.store.models import BUDGETS, NOTICES
from torchflow.store.queries import insert_ignore

PENDING = NoticeStatus.PENDING
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


# --------------------------------------------------------------------------- admit


class _Key(Struct):
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
    ledger.give_back(session, owner, later, held)
    if held:
        log.warning("%d notice(s) held: %s", len(held), "; ".join(sorted(set(held.values()))))
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


def _mark_cut_short(session: Connection, notices: list[Any]) -> None:
    whys = {n.id: Text(CUT_SHORT, {"channel": n.channel, "id": n.id}) for n in notices}
    ledger.mark_dead(session, {nid: str(why) for nid, why in whys.items()})
    for notice in notices:
        why = whys[notice.id]
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
    """One message listing ``folded`` (each then marked folded into it), in the
    office's language."""
    tr = app.tr
    subject = tr(ngettext_("{n} notice folded into one message: the robot's rate limit",
                           "{n} notices folded into one message: the robot's rate limit",
                           len(folded)))
    body = "\n".join(f"· {escape(f.subject)}" for f in folded)
    key = ledger.fold(session, first, folded, subject=subject, body=body,
                      reason=str(_("a backlog the rate budget could not pass")),
                      start=start, now=app.now())
    log.warning("%d notice(s) to %s %s folded into one message (%s)", len(folded),
                first.channel, first.message.address or "(default robot)", key)


# --------------------------------------------------------------------------- after a send


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
        ledger.wait(s, owner, notice.id, until + jitter(notice.id, 5.0))


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
        ledger.wait(s, owner, notice.id, until + jitter(notice.id, 5.0), error)
    log.warning("notice #%d via %s throttled by the platform: waiting until %s", notice.id,
                notice.channel, until.isoformat(timespec="seconds"))
    return until


# --------------------------------------------------------------------------- mend


def mend(app: App, channels: Gates) -> int:
    """Held notices whose channel can be used now go back to pending (the
    ledger re-addresses one whose person was given a usable channel since)."""
    mended = ledger.mend_held(app, channels.problem)
    if mended:
        log.info("%d held notice(s) can be sent now", mended)
    return mended
