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
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from torchflow.channels import Channel, build_channel
from torchflow.clock import wall_clock
from torchflow.config import Settings
from torchflow.domain.retry import compute_backoff, should_give_up
from torchflow.errors import ConfigError, DeliveryError
from torchflow.service.app import App
from torchflow.service.delivery import ledger
from torchflow.service.delivery.ledger import Claimed
from torchflow.service.delivery.routing import fallback
from torchflow.store.models import PEOPLE

log = logging.getLogger("torchflow.dispatch")


def worker_id() -> str:
    return f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Channels:
    """The configured channels, each built on first use and closed together."""

    def __init__(self, settings: Settings, overrides: Mapping[str, Channel] | None = None):
        self.settings = settings
        self._built: dict[str, Channel] = dict(overrides or {})

    def get(self, name: str) -> Channel:
        if name not in self._built:
            self._built[name] = build_channel(self.settings, name)
        return self._built[name]

    def check(self, names: list[str]) -> None:
        """Build each channel now, so a bad configuration (e.g. a webhook with no
        secret) refuses the service at start instead of failing notices one by one."""
        for name in names:
            self.get(name)

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
    try:
        while not (stop and stop.is_set()):
            claimed = ledger.claim(app, owner, batch)
            for i, notice in enumerate(claimed):
                if (stop and stop.is_set()) or _lease_over(notice):
                    # Stopping, or slow sends outlived the lease (another service may
                    # own the rest by now): hand back what is still ours.
                    sent.flush()
                    result.released += ledger.release(app, owner, [n.id for n in claimed[i:]])
                    break
                outcome, detail = _deliver(app, channels, owner, notice, sent)
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

    def add(self, notice: Claimed) -> None:
        self.pending.append({"nid": notice.id, "owner": self.owner, "at": self.app.now()})
        late = notice.lease_until is not None and (
            wall_clock() >= notice.lease_until - self.half_lease)
        if late or len(self.pending) >= MARK_GROUP:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        ledger.mark_sent(self.app, self.pending)
        self.pending = []


def _deliver(
    app: App, channels: Channels, owner: str, notice: Claimed, sent: _SentMarks
) -> tuple[str, str]:
    try:
        channels.get(notice.channel).send(notice.message)
    except DeliveryError as exc:
        return _failed(app, owner, notice, str(exc), permanent=exc.permanent)
    except ConfigError as exc:
        return _failed(app, owner, notice, str(exc))
    sent.add(notice)
    log.info("sent notice #%d %s to %s via %s", notice.id, notice.message.kind,
             notice.message.recipient, notice.channel)
    return "sent", ""


def _failed(app: App, owner: str, notice: Claimed, error: str, *, permanent: bool = False
            ) -> tuple[str, str]:
    if permanent and _fall_back(app, owner, notice, error):
        return "failed", error
    sch = app.settings.scheduler
    dead = should_give_up(notice.attempts, sch.max_attempts)
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
