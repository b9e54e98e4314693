"""Pure retry arithmetic for notice delivery: how long to wait, when to stop."""

from __future__ import annotations

import random
from collections.abc import Callable

# 2.0 ** 1024 overflows; any exponent this large is far past every sensible cap.
_MAX_EXPONENT = 1000


def compute_backoff(
    attempts: int,
    *,
    base: float = 30.0,
    cap: float = 3600.0,
    jitter: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the next try after ``attempts`` failed attempts.

    ``base * 2 ** (attempts - 1)``, never more than ``cap``. With ``jitter`` in
    [0, 1] the delay is shortened by up to that fraction (``rand()`` in [0, 1)),
    so notices that failed together do not all retry together, and ``cap``
    stays a true ceiling. No failed attempt yet means no wait.
    """
    if attempts < 0:
        raise ValueError(f"attempts must be >= 0, got {attempts}")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be between 0 and 1, got {jitter}")
    if attempts == 0:
        return 0.0
    delay = min(base * 2.0 ** min(attempts - 1, _MAX_EXPONENT), cap)
    if jitter:
        delay *= 1.0 - jitter * rand()
    return max(delay, 0.0)


def should_give_up(attempts: int, max_attempts: int) -> bool:
    """True once ``attempts`` tries have been made and no more are allowed."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    return attempts >= max_attempts
