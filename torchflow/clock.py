"""The one home of time.

Two clocks, for two questions:
- ``utcnow()`` is business time: when a case changed, what is due. TORCHFLOW_NOW
  (an ISO-8601 instant) replaces it, for tests, simulation and backfill.
- ``wall_clock()`` is real time: whether a lease ran out, when a failed send is
  tried again, a platform's rate budget. It measures processes, which simulated
  business time cannot tell. TORCHFLOW_WALL_SPEED (``EPOCH:FACTOR[:START]``)
  runs it FACTOR times faster from the unix time EPOCH (showing START then, EPOCH
  if not given), in every process given the same value: how tests and
  benchmarks see an hour of rate limits in a minute.

``ManualClock`` is a settable business clock, for the demo and tests, so nothing
has to write ``os.environ`` to move time.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from torchflow.errors import ConfigError
from torchflow.i18n import _

ENV_NOW = "TORCHFLOW_NOW"
ENV_WALL_SPEED = "TORCHFLOW_WALL_SPEED"
# Business time outside these years is a typo: the working calendar, the date
# arithmetic of follow-ups and both databases all work well inside them.
FIRST_YEAR, LAST_YEAR = 1970, 2199


def parse_instant(text: str, what: str = ENV_NOW) -> datetime:
    """Parse an ISO-8601 instant; a naive value is refused, not guessed."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            _("{what}={text!r} is not an ISO-8601 instant; use e.g. 2026-03-02T09:00:00+08:00",
              what=what, text=text)
        ) from None
    if value.tzinfo is None:
        raise ConfigError(
            _("{what}={text!r} has no UTC offset; add one, e.g. {example}+08:00",
              what=what, text=text, example=text.strip())
        )
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = datetime.max.replace(tzinfo=UTC)
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ConfigError(_("{what}={text!r} is out of range; use a time from {first_year} to "
                            "{last_year}",
                            what=what, text=text, first_year=FIRST_YEAR, last_year=LAST_YEAR))
    return value


def utcnow() -> datetime:
    """Business now, timezone-aware in UTC, honouring TORCHFLOW_NOW."""
    override = os.environ.get(ENV_NOW)
    if override:
        return parse_instant(override)
    return datetime.now(UTC)


def wall_clock() -> datetime:
    """Real now, whatever TORCHFLOW_NOW says: for leases, retry timing and rate
    budgets (sped up by TORCHFLOW_WALL_SPEED, for simulation)."""
    speed = os.environ.get(ENV_WALL_SPEED)
    if not speed:
        return datetime.now(UTC)
    epoch, factor, start = parse_speed(speed)
    return datetime.fromtimestamp(start + (time.time() - epoch) * factor, UTC)


def parse_speed(text: str) -> tuple[float, float, float]:
    """``EPOCH:FACTOR[:START]`` of TORCHFLOW_WALL_SPEED: (unix seconds, how many
    times faster, the unix time shown at EPOCH)."""
    fields = text.split(":")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        values = []
    if len(values) == 2:
        values.append(values[0])
    if len(values) != 3 or not (values[0] > 0 and 0 < values[1] <= 10_000 and values[2] > 0):
        raise ConfigError(_("{env_wall_speed}={text!r} is not EPOCH:FACTOR; use e.g. "
                            "1773000000:60 (a unix time, and 1 to 10000 times faster)",
                            env_wall_speed=ENV_WALL_SPEED, text=text))
    return values[0], values[1], values[2]


class ManualClock:
    """A business clock that is set and moved by hand (the demo, tests)."""

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, instant: datetime) -> datetime:
        self.now = instant.astimezone(UTC)
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now
