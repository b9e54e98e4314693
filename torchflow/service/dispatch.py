"""Dispatch: pending notices -> channels, at least once, with the same key every time.

A batch is claimed in one statement that leases it (FOR UPDATE SKIP LOCKED on
PostgreSQL; BEGIN IMMEDIATE serialises claims on SQLite), each notice is sent
and then marked. A crash between send and mark resends after the lease runs
out, under the same idempotency key, which receivers can use to drop it.

Leases and retry backoff use the wall clock, not TORCHFLOW_NOW: they measure
whether a process is still alive and how long a receiver has had to recover,
which simulated business time cannot tell. ``not_before`` stays business time:
when a notice falls due.

A move or withdrawal that came while a notice was leased is applied when the
lease ends unsent: on a failure, a hand-back, or (sender dead) by the next claim.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, or_, select, update

from torchflow.channels import CHANNEL_TYPES as CHANNEL_NAMES
from torchflow.channels import Channel, Message, build_channel, channel_type
from torchflow.clock import wall_clock
from torchflow.config import Settings
from torchflow.domain.retry import compute_backoff, should_give_up
from torchflow.domain.status import NoticeStatus
from torchflow.errors import ConfigError, DeliveryError
from torchflow.service import gate
from torchflow.service.absences import FALLBACK_AFTER
from torchflow.service.app import App
from torchflow.service.notices import settle_deferred
from torchflow.store.models import NOTICES, PEOPLE

PENDING, SENT, DEAD = NoticeStatus.PENDING, NoticeStatus.SENT, NoticeStatus.DEAD

log = logging.getLogger("torchflow.dispatch")


def worker_id() -> str:
    return f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Channels:
    """The configured channels, each built on first use and closed together. A
    channel that cannot be built (a webhook with no secret) is remembered with
    why: its notices are held (service/gate.py), everyone else's go on."""

    def __init__(self, settings: Settings, overrides: Mapping[str, Channel] | None = None):
        self.settings = settings
        self._built: dict[str, Channel] = dict(overrides or {})
        self._broken: dict[str, str] = {}
        self._problems: dict[tuple[str, str], str | None] = {}
        self._paced: list[str] | None = None

    def get(self, name: str) -> Channel:
        if name not in self._built:
            self._built[name] = build_channel(self.settings, name)
        return self._built[name]

    def problem(self, name: str, address: str) -> str | None:
        """Why a notice by ``name`` to ``address`` cannot be sent as configured, or None."""
        if (name, address) not in self._problems:
            self._problems[(name, address)] = self._problem(name, address)
        return self._problems[(name, address)]

    def _problem(self, name: str, address: str) -> str | None:
        if name in self._broken:
            return self._broken[name]
        try:
            channel = self.get(name)
        except ConfigError as exc:
            self._broken[name] = str(exc)
            return self._broken[name]
        found = channel.problem(address)
        return str(found) if found is not None else None

    def paced(self) -> list[str]:
        """The channels whose sends share a budget per robot (base.ChannelType)."""
        if self._paced is None:
            self._paced = [n for n in CHANNEL_NAMES if getattr(channel_type(n), "paced", False)]
        return self._paced

    def dedup(self, name: str) -> bool:
        """Whether a resend reaches the person once all the same (base.ChannelType)."""
        if name in self._built:
            return bool(getattr(self._built[name], "dedup", True))
        return channel_type(name).dedup if name in CHANNEL_NAMES else True

    def check(self, names: list[str]) -> list[str]:
        """Build each channel in use now and say which cannot be used (their
        notices will be held): one log line each, the service starts all the same."""
        broken = []
        for name in names:
            problem = self.problem(name, "") if name in CHANNEL_NAMES else None
            if problem is not None and name in self._broken:
                log.warning("channel %s cannot be used: %s; its notices are held until "
                            "this is fixed", name, problem)
                broken.append(name)
        return broken

    def close(self) -> None:
        for channel in self._built.values():
            channel.close()


def channels_in_use(app: App) -> list[str]:
    """The channels notices go by: the default and people's own and fallbacks. (A
    stray pending notice on an unknown channel fails alone; it does not stop the service.)"""
    with app.db.transaction() as s:
        names = {app.settings.notify.default_channel}
        for column in (PEOPLE.c.channel, PEOPLE.c.fallback_channel):
            names |= set(s.scalars(select(column).distinct().where(column.is_not(None))))
    return sorted(names)


@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    released: int = 0


@dataclass(frozen=True)
class Claimed:
    id: int
    message: Message
    channel: str
    attempts: int
    lease_until: datetime | None = None  # wall clock; past it, another owner may take it
    send_started: datetime | None = None  # a send to a robot a crash cut short
    parts_done: int = 0  # the parts of a split notice already sent


def claim(app: App, owner: str, limit: int, wall: datetime | None = None,
          channels: Channels | None = None) -> list[Claimed]:
    """Lease a batch of due notices; with ``channels``, only those the gate lets
    through now (service/gate.py: held, rate budgets, folding, busy minutes)."""
    wall = wall or wall_clock()
    lease = timedelta(seconds=app.settings.scheduler.lease_seconds)
    with app.db.transaction() as s:
        # A sender that died holding a notice someone moved or withdrew: settle that
        # first, so the notice is claimed (or not) as it is now addressed.
        settle_deferred(app, s, wall=wall)
        paced = channels.paced() if channels is not None else []
        due = (
            select(NOTICES.c.id)
            .where(
                NOTICES.c.status == PENDING,
                NOTICES.c.held.is_(None),  # held until their channel can be used (gate.mend)
                NOTICES.c.not_before <= app.now(),
                or_(NOTICES.c.retry_at.is_(None), NOTICES.c.retry_at <= wall),
                or_(NOTICES.c.lease_until.is_(None), NOTICES.c.lease_until < wall),
            )
            # A robot's notices first: their pace starts at once, and the few its
            # budget cannot take now wait apart (retry_at) for the others to pass.
            .order_by(*([case((NOTICES.c.channel.in_(paced), 0), else_=1)] if paced else []),
                      NOTICES.c.not_before, NOTICES.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = s.execute(
            update(NOTICES)
            .where(NOTICES.c.id.in_(due.scalar_subquery()))
            .values(lease_owner=owner, lease_until=wall + lease, attempts=NOTICES.c.attempts + 1)
            .returning(*NOTICES.c)
        ).all()
        rows = sorted(rows, key=lambda r: (r.not_before, r.id))
        handles = {h for r in rows for h in gate.mentioned(r.recipient, r.payload or {})}
        ids = gate.mentions(s, handles)
        claimed = [_claimed(r, ids) for r in rows]
        if channels is not None:  # ---- the gate (service/gate.py) ----
            claimed = gate.admit(app, s, claimed, channels, owner, wall)
    return claimed


def _claimed(r: Any, ids: Mapping[str, Mapping[str, str]]) -> Claimed:
    payload = dict(r.payload or {})
    message = Message(
        idempotency_key=r.idempotency_key, kind=r.kind, recipient=r.recipient,
        address=r.address, subject=r.subject, body=r.body, payload=payload,
        mentions=tuple(ids[h] for h in gate.mentioned(r.recipient, payload) if h in ids),
    )
    return Claimed(r.id, message, r.channel, r.attempts, r.lease_until, r.send_started,
                   r.parts_done or 0)


def dispatch(
    app: App,
    channels: Channels,
    owner: str,
    *,
    stop: threading.Event | None = None,
    on_result: Callable[[Claimed, str, str], None] | None = None,
) -> DispatchResult:
    """Send what is due until nothing is; a set ``stop`` finishes the send in
    flight, hands the rest of the batch back and returns."""
    result = DispatchResult()
    batch = app.settings.scheduler.batch_size
    sent = _SentMarks(app, owner)
    gate.mend(app, channels)  # ---- held notices whose channel can be used now ----
    pauses = gate.Pauses()
    try:
        while not (stop and stop.is_set()):
            claimed = claim(app, owner, batch, channels=channels)
            robot_next = gate.next_paced(app, channels.paced(), wall_clock())  # ---- robots ----
            for i, notice in enumerate(claimed):
                if (stop and stop.is_set()) or _lease_over(notice):
                    # Stopping, or slow sends outlived the lease (another service may
                    # own the rest by now): hand back what is still ours.
                    sent.flush()
                    result.released += release(app, owner, [n.id for n in claimed[i:]])
                    break
                if i and robot_next is not None and wall_clock() >= robot_next:
                    # A robot may send again: claim again (robots first) rather than
                    # keep its group waiting behind the rest of this batch.
                    sent.flush()
                    release(app, owner, [n.id for n in claimed[i:]])
                    break
                outcome, detail = _deliver(app, channels, owner, notice, sent, pauses)
                setattr(result, outcome, getattr(result, outcome) + 1)
                if on_result:
                    on_result(notice, outcome, detail)
            else:
                if len(claimed) < batch:
                    break
    finally:
        # Also on an unexpected error: what was sent must not be handed back unmarked.
        sent.flush()
    return result


def _lease_over(notice: Claimed) -> bool:
    return notice.lease_until is not None and wall_clock() >= notice.lease_until


MARK_GROUP = 20  # sent notices marked per commit


class _SentMarks:
    """Marks sent notices a few at a time: one commit (one fsync) per group, not
    per notice. A crash loses at most a group's marks, and those notices are
    resent after the lease under the same idempotency key. Once half a lease is
    spent, each mark is written at once, before another service could take over."""

    def __init__(self, app: App, owner: str) -> None:
        self.app, self.owner = app, owner
        self.half_lease = timedelta(seconds=app.settings.scheduler.lease_seconds / 2)
        self.pending: list[dict[str, Any]] = []

    def add(self, notice: Claimed, at_once: bool = False) -> None:
        """``at_once``: a send no receiver would drop again is marked before the next."""
        self.pending.append({"nid": notice.id, "owner": self.owner, "at": self.app.now()})
        late = notice.lease_until is not None and (
            wall_clock() >= notice.lease_until - self.half_lease)
        if at_once or late or len(self.pending) >= MARK_GROUP:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with self.app.db.transaction() as s:
            s.execute(_MARK_SENT, self.pending)
        self.pending = []


_MARK_SENT = (
    update(NOTICES)
    .where(NOTICES.c.id == bindparam("nid"), NOTICES.c.lease_owner == bindparam("owner"))
    # Sent stays sent, to whom it went: a move or withdrawal deferred meanwhile is dropped.
    .values(status=SENT, sent_at=bindparam("at"), lease_owner=None, lease_until=None,
            last_error="", deferred=None, send_started=None)
)


def _deliver(
    app: App, channels: Channels, owner: str, notice: Claimed, sent: _SentMarks,
    pauses: gate.Pauses,
) -> tuple[str, str]:
    dedup = channels.dedup(notice.channel)
    try:
        channel = channels.get(notice.channel)
        if (until := pauses.until(channel, notice)) is not None:  # ---- throttled ----
            gate.wait(app, owner, notice, until)
            return "released", ""
        _send(app, channel, owner, notice, dedup)
    except DeliveryError as exc:
        if exc.retry_after is not None:  # ---- throttled: the platform's window ----
            pauses.add(channel, notice, gate.throttled(app, owner, notice, channel,
                                                       exc.retry_after, str(exc)))
            return "failed", str(exc)
        return _failed(app, owner, notice, str(exc), permanent=exc.permanent, fatal=exc.fatal)
    except ConfigError as exc:
        return _failed(app, owner, notice, str(exc))
    sent.add(notice, at_once=not dedup)
    log.info("sent notice #%d %s to %s via %s", notice.id, notice.message.kind,
             notice.message.recipient, notice.channel)
    return "sent", ""


def _send(app: App, channel: Channel, owner: str, notice: Claimed, dedup: bool) -> None:
    """One notice: in parts when the channel splits it (each part recorded, so a
    resend goes on after the last part sent); to a platform that drops no
    resend, its start committed first (service/gate.py)."""
    if not dedup:  # ---- a crash in this send will be known (gate.started) ----
        gate.started(app, owner, notice.id)
    parted = getattr(channel, "send_parts", None)
    if parted is None:
        channel.send(notice.message)
        return
    parted(notice.message, notice.parts_done,
           lambda done: gate.part_sent(app, owner, notice.id, done))


def _failed(app: App, owner: str, notice: Claimed, error: str, *, permanent: bool = False,
            fatal: bool = False) -> tuple[str, str]:
    if permanent and _fall_back(app, owner, notice, error):
        return "failed", error
    sch = app.settings.scheduler
    # A fault in the office's set-up (a robot's key, signature, trusted IP): no
    # attempt can succeed; the notice dies now, saying what to fix.
    dead = fatal or should_give_up(notice.attempts, sch.max_attempts)
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": error,
                              "send_started": None}
    if dead:
        values["status"] = DEAD
    else:
        wait = compute_backoff(notice.attempts, base=sch.backoff_base_seconds,
                               cap=sch.backoff_max_seconds)
        values["retry_at"] = wall_clock() + timedelta(seconds=wait)
    with app.db.transaction() as s:
        s.execute(update(NOTICES)
                  .where(NOTICES.c.id == notice.id, NOTICES.c.lease_owner == owner)
                  .values(**values))
        settle_deferred(app, s, [notice.id])
    if dead:
        log.error("dead notice #%d %s to %s via %s after %d attempts: %s", notice.id,
                  notice.message.kind, notice.message.recipient, notice.channel,
                  notice.attempts, error)
        return "dead", error
    log.warning("failed notice #%d %s to %s via %s (attempt %d, retry at %s): %s", notice.id,
                notice.message.kind, notice.message.recipient, notice.channel, notice.attempts,
                values["retry_at"].isoformat(timespec="seconds"), error)
    return "failed", error


def _fall_back(app: App, owner: str, notice: Claimed, error: str) -> bool:
    """After the person's ``fallback_after`` permanent refusals of one notice (at
    the latest on its last attempt, so it never dies with a fallback set), send it
    by their fallback channel instead: the same row re-routed (so nothing is
    doubled), under a key of its own, with fresh attempts and the reason kept."""
    last = app.settings.scheduler.max_attempts
    with app.db.transaction() as s:
        person = s.execute(select(PEOPLE).where(
            PEOPLE.c.handle == notice.message.recipient)).first()
        if person is None or not person.fallback_channel \
                or _rerouted(notice, person.fallback_channel, person.fallback_address) \
                or notice.attempts < min(person.fallback_after or FALLBACK_AFTER, last):
            return False
        row = s.execute(select(NOTICES.c.reason).where(
            NOTICES.c.id == notice.id, NOTICES.c.lease_owner == owner)).first()
        if row is None:  # no longer ours: whoever holds it decides
            return False
        why = (f"re-routed from {notice.channel} {notice.message.address} after "
               f"{notice.attempts} refusal(s)")
        done = s.execute(
            update(NOTICES).where(NOTICES.c.id == notice.id, NOTICES.c.lease_owner == owner)
            .values(channel=person.fallback_channel, address=person.fallback_address or "",
                    idempotency_key=f"{notice.message.idempotency_key}:via:"
                                    f"{person.fallback_channel}",
                    attempts=0, retry_at=None, lease_owner=None, lease_until=None,
                    send_started=None, parts_done=None, last_error=error,
                    reason="; ".join(filter(None, [row.reason, why])))
        ).rowcount
        settle_deferred(app, s, [notice.id])
    log.warning("notice #%d to %s %s; now via %s", notice.id, notice.message.recipient, why,
                person.fallback_channel)
    return bool(done)


def _rerouted(notice: Claimed, channel: str, address: str | None) -> bool:
    """Whether the notice already goes by the fallback: re-routed once (its key
    says so), or its channel and address are the fallback's. An smtp fallback to
    another address is a fallback all the same."""
    return (":via:" in notice.message.idempotency_key
            or (notice.channel, notice.message.address) == (channel, address or ""))


def release(app: App, owner: str, ids: list[int] | None = None) -> int:
    """Hand leased notices back unsent (on shutdown), so another service sends them now."""
    with app.db.transaction() as s:
        query = update(NOTICES).where(NOTICES.c.lease_owner == owner,
                                      NOTICES.c.status == PENDING)
        if ids is not None:
            query = query.where(NOTICES.c.id.in_(ids))
        # The attempt was never made: give it back.
        released = list(s.scalars(query.values(lease_owner=None, lease_until=None,
                                               attempts=NOTICES.c.attempts - 1)
                                  .returning(NOTICES.c.id)))
        settle_deferred(app, s, released)
        return len(released)
