"""Dispatch: pending notices -> channels, at least once, with the same key every time.

A batch is claimed in one statement that leases it (``ledger.claim``: FOR UPDATE
SKIP LOCKED on PostgreSQL; BEGIN IMMEDIATE serialises claims on SQLite), each
notice is sent and then marked: the ledger writes every row, this module sends.
A crash between send and mark resends after the lease runs out, under the same
idempotency key, which receivers can use to drop it.

Leases and retry backoff use the wall clock, not TORCHFLOW_NOW: they measure
whether a process is still alive and how long a receiver has had to recover,
which simulated business time cannot tell. ``not_before`` stays business time:
when a notice falls due.

A move or withdrawal that came while a notice was leased is applied when the
lease ends unsent: on a failure, a hand-back, or (sender dead) by the next claim.

Between the claim and the channels stands the gate (delivery/gate.py): held
notices, shared rate budgets, folding, busy minutes, sends a crash cut short.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from msgspec import Struct
from sqlalchemy import Connection, select

from torchflow.channels import CHANNEL_TYPES as CHANNEL_NAMES
from torchflow.channels import Channel, build_channel, channel_type
from torchflow.clock import wall_clock
from torchflow.config import Settings
from torchflow.domain.retry import compute_backoff, should_give_up
from torchflow.errors import ConfigError, DeliveryError
from torchflow.service.app import App
from torchflow.service.delivery import gate, ledger
from torchflow.service.delivery.ledger import Claimed
from torchflow.service.delivery.routing import fallback
from torchflow.store.models import PEOPLE

log = logging.getLogger("torchflow.dispatch")


def worker_id() -> str:
    return f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Channels:
    """The configured channels, each built on first use and closed together. A
    channel that cannot be built (a webhook with no secret) is remembered with
    why: its notices are held (delivery/gate.py), everyone else's go on."""

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

    def admit(self, app: App, session: Connection, claimed: list[Claimed], owner: str,
              wall: datetime) -> list[Claimed]:
        """The claimed notices these channels may send now (the gate decides)."""
        return gate.admit(app, session, claimed, self, owner, wall)

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


class DispatchResult(Struct):
    sent: int = 0
    failed: int = 0
    dead: int = 0
    released: int = 0


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
    gate.mend(app, channels)  # held notices whose channel can be used now
    pauses = gate.Pauses()
    try:
        while not (stop and stop.is_set()):
            claimed = ledger.claim(app, owner, batch, channels=channels)
            robot_next = gate.next_paced(app, channels.paced(), wall_clock())
            for i, notice in enumerate(claimed):
                if (stop and stop.is_set()) or _lease_over(notice):
                    # Stopping, or slow sends outlived the lease (another service may
                    # own the rest by now): hand back what is still ours.
                    sent.flush()
                    result.released += ledger.release(app, owner, [n.id for n in claimed[i:]])
                    break
                if i and robot_next is not None and wall_clock() >= robot_next:
                    # A robot may send again: claim again (robots first) rather than
                    # keep its group waiting behind the rest of this batch.
                    sent.flush()
                    ledger.release(app, owner, [n.id for n in claimed[i:]])
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
        ledger.mark_sent(self.app, self.pending)
        self.pending = []


def _deliver(
    app: App, channels: Channels, owner: str, notice: Claimed, sent: _SentMarks,
    pauses: gate.Pauses,
) -> tuple[str, str]:
    dedup = channels.dedup(notice.channel)
    try:
        channel = channels.get(notice.channel)
        if (until := pauses.until(channel, notice)) is not None:  # throttled in this batch
            gate.wait(app, owner, notice, until)
            return "released", ""
        _send(app, channel, owner, notice, dedup)
    except DeliveryError as exc:
        if exc.retry_after is not None:  # throttled: the platform's window, on every node
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
    resend, its start committed first (the gate marks one a crash cut short)."""
    if not dedup:
        ledger.started(app, owner, notice.id)
    parted = getattr(channel, "send_parts", None)
    if parted is None:
        channel.send(notice.message)
        return
    parted(notice.message, notice.parts_done,
           lambda done: ledger.part_sent(app, owner, notice.id, done))


def _failed(app: App, owner: str, notice: Claimed, error: str, *, permanent: bool = False,
            fatal: bool = False) -> tuple[str, str]:
    if permanent and _fall_back(app, owner, notice, error):
        return "failed", error
    sch = app.settings.scheduler
    # A fault in the office's set-up (a robot's key, signature, trusted IP): no
    # attempt can succeed; the notice dies now, saying what to fix.
    dead = fatal or should_give_up(notice.attempts, sch.max_attempts)
    retry_at = None
    if not dead:
        wait = compute_backoff(notice.attempts, base=sch.backoff_base_seconds,
                               cap=sch.backoff_max_seconds)
        retry_at = wall_clock() + timedelta(seconds=wait)
    ledger.mark_failed(app, notice.id, owner, error, retry_at=retry_at)
    if dead:
        log.error("dead notice #%d %s to %s via %s after %d attempts: %s", notice.id,
                  notice.message.kind, notice.message.recipient, notice.channel,
                  notice.attempts, error)
        return "dead", error
    log.warning("failed notice #%d %s to %s via %s (attempt %d, retry at %s): %s", notice.id,
                notice.message.kind, notice.message.recipient, notice.channel, notice.attempts,
                retry_at.isoformat(timespec="seconds") if retry_at else "-", error)
    return "failed", error


def _fall_back(app: App, owner: str, notice: Claimed, error: str) -> bool:
    """A notice refused for good goes by its person's fallback channel when the
    router says so (``routing.fallback``): the same row re-routed, so nothing is
    doubled."""
    with app.db.transaction() as s:
        person = s.execute(select(PEOPLE).where(
            PEOPLE.c.handle == notice.message.recipient)).first()
        way = fallback(person, channel=notice.channel, address=notice.message.address,
                       key=notice.message.idempotency_key, attempts=notice.attempts,
                       max_attempts=app.settings.scheduler.max_attempts)
        done = way is not None and ledger.reroute(app, s, notice.id, owner, way, error)
    if way is not None and done:
        log.warning("notice #%d to %s %s; now via %s", notice.id, notice.message.recipient,
                    way.why, way.channel)
    return done
