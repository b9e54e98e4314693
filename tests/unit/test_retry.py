"""compute_backoff and should_give_up: pure arithmetic, checked exactly."""

from __future__ import annotations

import pytest

from torchflow.domain.retry import compute_backoff, should_give_up


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(0, 0.0), (1, 30.0), (2, 60.0), (3, 120.0), (7, 1920.0), (8, 3600.0), (50, 3600.0)],
)
def test_backoff_doubles_from_base_up_to_the_cap(attempts: int, expected: float) -> None:
    assert compute_backoff(attempts) == expected


def test_backoff_honours_custom_base_and_cap() -> None:
    assert [compute_backoff(n, base=1.0, cap=5.0) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_backoff_survives_huge_attempt_counts() -> None:
    # 2 ** 5000 does not fit a float; the cap must still come back, not OverflowError.
    assert compute_backoff(5000) == 3600.0
    assert compute_backoff(5000, cap=float("inf")) > 1e300


def test_jitter_shortens_by_at_most_its_fraction() -> None:
    assert compute_backoff(2, jitter=0.5, rand=lambda: 0.0) == 60.0
    assert compute_backoff(2, jitter=0.5, rand=lambda: 0.5) == 45.0
    assert compute_backoff(2, jitter=0.5, rand=lambda: 0.999999) == pytest.approx(30.0, abs=1e-3)


def test_jitter_never_exceeds_the_cap() -> None:
    draws = iter([r / 10 for r in range(10)])
    delays = [compute_backoff(30, jitter=1.0, rand=lambda: next(draws)) for _ in range(10)]
    assert max(delays) == 3600.0
    assert min(delays) == pytest.approx(360.0)


def test_jitter_uses_the_default_random_source_within_bounds() -> None:
    delays = {compute_backoff(3, jitter=0.25) for _ in range(200)}
    assert all(90.0 < d <= 120.0 for d in delays)
    assert len(delays) > 1


@pytest.mark.parametrize(("attempts", "jitter"), [(-1, 0.0), (1, 1.5), (1, -0.1)])
def test_backoff_rejects_nonsense(attempts: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        compute_backoff(attempts, jitter=jitter)


@pytest.mark.parametrize(
    ("attempts", "max_attempts", "expected"),
    [(0, 5, False), (4, 5, False), (5, 5, True), (6, 5, True), (1, 1, True)],
)
def test_should_give_up_once_max_attempts_are_spent(
    attempts: int, max_attempts: int, expected: bool
) -> None:
    assert should_give_up(attempts, max_attempts) is expected


def test_should_give_up_rejects_a_zero_limit() -> None:
    with pytest.raises(ValueError):
        should_give_up(0, 0)
