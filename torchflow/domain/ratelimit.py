"""Rate budgets as token buckets: pure arithmetic, no clock and no database.

A platform allows at most ``count`` requests in any ``seconds`` (a robot 20 a
minute). A bucket holding ``capacity`` tokens that refills at ``rate`` lets at
most ``capacity + rate * window`` through in any window; so the bucket is made
with ``capacity + rate * (seconds + slack) = count``: half the limit may go at
once, the rest is paced, and a send that lands a little after its token was
taken (the requests before it in the same batch) still keeps to the limit
wherever the platform's minute begins. The slack is a small share of the window.

Tokens may go below zero: a notice in several parts takes them all at once, and
the next one waits until the debt is paid back.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from msgspec import Struct

SLACK_SHARE = 0.01  # of the window: how late a send may land after its token
SLACK_MIN = 0.2  # seconds, for windows of a second


class Bucket(Struct, frozen=True):
    capacity: float
    rate: float  # tokens a second

    @classmethod
    def within(cls, count: int, seconds: float) -> Bucket:
        """The bucket that never lets more than ``count`` through in any ``seconds``."""
        capacity = max(1, count // 2)
        slack = max(SLACK_MIN, seconds * SLACK_SHARE)
        return cls(capacity, (count - capacity) / (seconds + slack))

    def level(self, tokens: float, since: datetime, now: datetime) -> float:
        """The tokens at ``now``, refilled since ``since`` up to the capacity."""
        elapsed = max(0.0, (now - since).total_seconds())
        return min(self.capacity, tokens + elapsed * self.rate)

    def wait(self, tokens: float, need: float) -> float:
        """Seconds until ``tokens`` have grown to ``need`` (0 if they have)."""
        need = min(need, self.capacity)
        return max(0.0, (need - tokens) / self.rate)

    def passable(self, tokens: float, seconds: float) -> int:
        """How many single requests can go within ``seconds`` from now."""
        return max(0, math.floor(tokens + self.rate * seconds))


def busy_until(now: datetime, minutes: tuple[int, ...], span: float = 60.0) -> datetime | None:
    """The end of the busy window ``now`` is in (``span`` seconds either side of
    each of ``minutes`` past the hour), or None when it is in none."""
    for minute in minutes:
        mark = now.replace(minute=minute, second=0, microsecond=0)
        for candidate in (mark - timedelta(hours=1), mark, mark + timedelta(hours=1)):
            if abs((now - candidate).total_seconds()) < span:
                return candidate + timedelta(seconds=span)
    return None


def jitter(seed: int, spread: float = 60.0) -> timedelta:
    """A spread of sends that is the same for one notice on every node."""
    return timedelta(seconds=random.Random(seed).uniform(0.0, spread))
