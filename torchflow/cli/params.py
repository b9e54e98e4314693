"""Flag values parsed at the edge: a malformed date, span, instant, `--field` pair
or number is a usage error (exit 2) before anything else runs, and the service
layer receives ``date``, ``timedelta``, ``datetime`` and dicts.

Dates are bounded to years the calendar and the databases both handle, so a
typo such as 9999-12-31 is a usage error, not an overflow deep inside.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import click

from torchflow.clock import FIRST_YEAR, LAST_YEAR

MAX_SPAN_DAYS = 3660  # ten years: a horizon, not a typo
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000


class Whole(click.IntRange):
    """A bounded whole number ("'x' is not a valid integer", not "integer range")."""

    name = "integer"


ID = Whole(1, 2**31 - 1)  # PostgreSQL's INTEGER, the id columns
LIMIT = Whole(1, MAX_LIMIT)
OFFSET = Whole(0, MAX_OFFSET)


def _check_year(value: date, param: click.Parameter | None, ctx: click.Context | None,
                kind: click.ParamType) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        kind.fail(f"{value.isoformat()} is out of range; use a date from {FIRST_YEAR} "
                  f"to {LAST_YEAR}", param, ctx)


class DateType(click.ParamType):
    """A calendar day, YYYY-MM-DD."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-12-07", param, ctx)
        _check_year(day, param, ctx, self)
        return day


class WhenType(click.ParamType):
    """A day (noon, local), a local date-time or an ISO instant with an offset.

    Returns a ``date``, a naive ``datetime`` (local) or an aware one: only the
    command knows the configured zone to place the first two in.
    """

    name = "when"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date | datetime:
        if isinstance(value, date):
            return value
        text = str(value).strip()
        hint = "use e.g. 2026-03-04, 2026-03-04T15:30 or 2026-03-04T15:30+08:00"
        try:
            when: date | datetime = (date.fromisoformat(text) if len(text) == 10
                                     else datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            self.fail(f"{value!r} is not a date or time; {hint}", param, ctx)
        _check_year(when if isinstance(when, date) else when.date(), param, ctx, self)
        return when


class SpanType(click.ParamType):
    """A span of calendar days or weeks: 0d, 3d, 2w."""

    name = "span"
    pattern = re.compile(r"\s*(\d+)\s*([dw])\s*")

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = self.pattern.fullmatch(str(value))
        if not match:
            self.fail(f"{value!r} is not a span; use e.g. 3d or 2w", param, ctx)
        # Bounded by digits before int(): a span of a million digits is not parsed.
        days = int(match[1][-9:]) * (7 if match[2] == "w" else 1)
        if len(match[1].lstrip("0")) > 9 or days > MAX_SPAN_DAYS:
            self.fail(f"{value!r} is too long; at most {MAX_SPAN_DAYS}d", param, ctx)
        return timedelta(days=days)


class PairType(click.ParamType):
    """LEFT=RIGHT, as (left, right): a field and its value, a state and its new name."""

    def __init__(self, name: str, example: str, *, right_required: bool = False) -> None:
        self.name, self.example, self.right_required = name, example, right_required

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        left, sep, right = str(value).partition("=")
        if not sep or not left.strip() or (self.right_required and not right.strip()):
            self.fail(f"{value!r} is not {self.name}; e.g. {self.example}", param, ctx)
        return left.strip(), right.strip()


DATE = DateType()
WHEN = WhenType()
SPAN = SpanType()
ASSIGNMENT = PairType("name=value", "industry=biomedicine")
STATE_PAIR = PairType("old_state=new_state", "--map negotiation=talks", right_required=True)


def assignments(_ctx: click.Context, _param: click.Parameter,
                pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """A click callback: the pairs as a dict (a name given again wins, as the
    last of repeated options does)."""
    return dict(pairs)
