"""The single source of "now". TORCHFLOW_NOW (an ISO-8601 instant) replaces the
wall clock everywhere, for tests, simulation and backfill."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from torchflow.errors import ConfigError

ENV_NOW = "TORCHFLOW_NOW"


def parse_instant(text: str, what: str = ENV_NOW) -> datetime:
    """Parse an ISO-8601 instant; a naive value is refused, not guessed."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{what}={text!r} is not an ISO-8601 instant; use e.g. 2026-03-02T09:00:00+08:00"
        ) from None
    if value.tzinfo is None:
        raise ConfigError(
            f"{what}={text!r} has no UTC offset; add one, e.g. {text.strip()}+08:00"
        )
    return value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC, honouring TORCHFLOW_NOW."""
    override = os.environ.get(ENV_NOW)
    if override:
        return parse_instant(override)
    return datetime.now(UTC)
