"""The scheduler service: APScheduler calls tick (sweep, then dispatch) on a clock.

APScheduler's job store stays in memory: job stores must never be shared
between schedulers, and the database rows, not the jobs, are the truth. Any
number of services may run on one PostgreSQL database.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from torchflow.errors import TorchflowError
from torchflow.service.app import App
from torchflow.service.dispatch import Channels, DispatchResult, dispatch, release, worker_id
from torchflow.service.sweep import SweepResult, sweep

log = logging.getLogger("torchflow.scheduler")


@dataclass
class TickResult:
    sweep: SweepResult
    dispatch: DispatchResult

    def as_dict(self) -> dict[str, Any]:
        return {"sweep": self.sweep.__dict__, "dispatch": self.dispatch.__dict__}


def tick(app: App, channels: Channels, owner: str,
         stop: threading.Event | None = None) -> TickResult:
    """One sweep and one dispatch: what cron, systemd timers and tests call."""
    return TickResult(sweep(app), dispatch(app, channels, owner, stop=stop))


class Service:
    """`torchflow scheduler run`: ticks until SIGTERM or Ctrl-C, then finishes the
    send in flight, hands back its leases and returns 0."""

    def __init__(self, app: App, channels: Channels | None = None) -> None:
        self.app = app
        self.channels = channels or Channels(app.settings)
        self.owner = worker_id()
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> int:
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

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
        self._install_signals()
        log.info("scheduler %s started: tick every %ss, digests at %s", self.owner,
                 settings.interval_seconds, digest.strftime("%H:%M"))
        scheduler.start()
        try:
            self.stop.wait()
        finally:
            scheduler.shutdown(wait=True)
            released = release(self.app, self.owner)
            self.channels.close()
            log.info("scheduler %s stopped (%d lease(s) handed back)", self.owner, released)
        return 0

    def _install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())

    def _tick(self) -> None:
        if self.stop.is_set() or not self._lock.acquire(blocking=False):
            return
        try:
            result = tick(self.app, self.channels, self.owner, self.stop)
            if result.sweep.notices or result.dispatch.sent or result.dispatch.failed:
                log.info("tick: %d notice(s) produced, %d sent, %d failed, %d dead",
                         result.sweep.notices + result.sweep.digests, result.dispatch.sent,
                         result.dispatch.failed, result.dispatch.dead)
        except TorchflowError as exc:  # a busy or unreachable database: one line, retried
            log.warning("tick skipped: %s", exc)
        except Exception:  # the service outlives one bad tick; the next one retries
            log.exception("tick failed")
        finally:
            self._lock.release()
