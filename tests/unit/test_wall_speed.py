"""TORCHFLOW_WALL_SPEED: the wall clock sped up alike in every process given it."""

from __future__ import annotations

import time

import pytest

from torchflow.clock import ENV_WALL_SPEED, parse_speed, wall_clock
from torchflow.errors import ConfigError


def test_the_wall_clock_runs_faster_from_the_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    epoch = time.time() - 10.0  # ten real seconds ago
    monkeypatch.setenv(ENV_WALL_SPEED, f"{epoch}:60")
    ahead = wall_clock().timestamp() - epoch
    assert 600 <= ahead <= 600 + 60 * 5  # ten seconds at sixty times: ten minutes on
    monkeypatch.delenv(ENV_WALL_SPEED)
    assert abs(wall_clock().timestamp() - time.time()) < 5


@pytest.mark.parametrize("text", ["60", "x:60", "1773000000:0", "1773000000:1e9", ":5"])
def test_a_bad_speed_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match=r"is not EPOCH:FACTOR; use e\.g\. 1773000000:60"):
        parse_speed(text)


def test_the_wall_clock_may_start_at_a_chosen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    epoch = time.time()
    monkeypatch.setenv(ENV_WALL_SPEED, f"{epoch}:10:1773450600")  # 2026-03-14 01:10 UTC
    assert 0 <= wall_clock().timestamp() - 1773450600 < 10 * 5
