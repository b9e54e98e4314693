"""The scheduler service: APScheduler calls tick (sweep, then dispatch) on a clock.

APScheduler's job store stays in memory: job stores must never be shared
between schedulers, and the database rows, not the jobs, are the truth. Any
number of services may run on one PostgreSQL database.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from typing import Any

from msgspec import Struct
from msgspec.structs import asdict

from torchflow.errors import TorchflowError
from torchflow.service.app import App
from torchflow.service.delivery.dispatch import (
    Channels,
    DispatchResult,
    channels_in_use,
    dispatch,
    worker_id,
)
from torchflow.service.delivery.ledger import release
from torchflow.service.delivery.monthly import produce_monthly
from torchflow.service.delivery.sweep import SweepResult, sweep
from torchflow.service.followups.replan import warn_if_stale
from torchflow.service.people.lookup import Actor

log = logging.getLogger("torchflow.scheduler")


class TickResult(Struct):
    sweep: SweepResult
    dispatch: DispatchResult

    def as_dict(self) -> dict[str, Any]:
        return {"sweep": asdict(self.sweep), "dispatch": asdict(self.dispatch)}


def tick(app: App, channels: Channels, owner: str,
         stop: threading.Event | None = None) -> TickResult:
    """One sweep and one dispatch: what cron, systemd timers and tests call; then
    the calendar feeds, when ``[feeds] ics_dir`` is set."""
    swept = sweep(app)
    produce_monthly(app)  # [reports] monthly: the ledger keeps it to once a month
    result = TickResult(swept, dispatch(app, channels, owner, stop=stop))
    if app.settings.feeds.ics_dir is not None:
        from torchflow.service.followups.feeds import refresh_if_due

        refresh_if_due(app, app.settings.feeds.ics_dir)
    return result


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(stop: threading.Event) -> list[Any]:
    """SIGTERM and Ctrl-C ask to stop: the send in flight finishes, the rest is handed
    back. Returns the handlers replaced, for ``restore_signals``."""
    return [signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS]


def restore_signals(previous: list[Any]) -> None:
    for sig, handler in zip(_STOP_SIGNALS, previous, strict=True):
        signal.signal(sig, handler)


def tick_once(app: App, actor: Actor | None = None, *, signals: bool = True) -> TickResult:
    """`torchflow scheduler tick`: one tick as its own process. Like the service, a
    signal finishes the send in flight and hands back every lease before returning
    (``signals``: in the main thread; a server's worker thread cannot take them).
    ``actor``: a person asking the server for a tick (an admin's); None is the
    process that holds the database itself (cron, a timer), acting as ``system``."""
    if actor is not None:
        actor.authorize("scheduler.tick")
    channels = Channels(app.settings)
    channels.check(channels_in_use(app))
    owner, stop = worker_id(), threading.Event()
    previous = stop_on_signals(stop) if signals else None
    try:
        return tick(app, channels, owner, stop)
    finally:
        released = release(app, owner)
        channels.close()
        if previous is not None:
            restore_signals(previous)  # an in-process caller (tests, CliRunner) gets its own
        if stop.is_set():
            log.info("tick %s stopped (%d lease(s) handed back)", owner, released)


class Service:
    """`torchflow scheduler run`: ticks until SIGTERM or Ctrl-C, then finishes the
    send in flight, hands back its leases and returns 0."""

    def __init__(self, app: App, channels: Channels | None = None) -> None:
        self.app = app
        self.channels = channels or Channels(app.settings)
        self.owner = worker_id()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._scheduler: Any = None

    def run(self) -> int:
        """Until SIGTERM or Ctrl-C (`torchflow scheduler run`)."""
        self.start()
        stop_on_signals(self.stop)
        try:
            self.stop.wait()
        finally:
            self.shutdown()
        return 0

    def start(self) -> None:
        """Tick in the background (the server runs it so, beside its requests)."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        # A channel that cannot work (a webhook with no secret) is logged; its
        # notices are held and everyone else's go on (service/delivery/gate.py).
        self.channels.check(channels_in_use(self.app))
        settings = self.app.settings.scheduler
        tz = self.app.calendar.tz
        scheduler = BackgroundScheduler(timezone=tz)
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True,
                                  "misfire_grace_time": None}
        # First tick at once: catching up on downtime is the start-up job.
        scheduler.add_job(self._tick, "interval", seconds=settings.interval_seconds,
                          next_run_time=datetime.now(tz), id="tick", **common)
        digest = settings.digest_time
        scheduler.add_job(self._tick, CronTrigger(hour=digest.hour, minute=digest.minute,
                                                  timezone=tz), id="digest", **common)
        log.info("scheduler %s started: tick every %ss, digests at %s", self.owner,
                 settings.interval_seconds, digest.strftime("%H:%M"))
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        """Finish the send in flight, hand back the leases of the rest."""
        self.stop.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
        released = release(self.app, self.owner)
        self.channels.close()
        log.info("scheduler %s stopped (%d lease(s) handed back)", self.owner, released)

    def _tick(self) -> None:
        if self.stop.is_set() or not self._lock.acquire(blocking=False):
            return
        try:
            warn_if_stale(self.app)  # once per tick: open tasks planned with other calendar data
            result = tick(self.app, self.channels, self.owner, self.stop)
            if result.sweep.notices or result.dispatch.sent or result.dispatch.failed:
                log.info("tick: %d notice(s) produced, %d sent, %d failed, %d dead",
                         result.sweep.notices + result.sweep.digests, result.dispatch.sent,
                         result.dispatch.failed, result.dispatch.dead)
        except TorchflowError as exc:  # e.g. the database is busy: one line, next tick retries
            log.warning("tick failed: %s; trying again next tick", exc)
        except Exception:  # a bug: the service outlives it, the trace is for whoever fixes it
            log.exception("tick failed")
        finally:
            self._lock.release()
