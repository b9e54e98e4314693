"""Flag values parsed at the edge: a malformed date, span, instant, `--field` pair
or number is a usage error (exit 2) before anything else runs, and the service
layer receives ``date``, ``timedelta``, ``datetime`` and dicts.

Dates are bounded to years the calendar and the databases both handle, so a
typo such as 9999-12-31 is a usage error, not an overflow deep inside.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

import click

from torchflow.clock import FIRST_YEAR, LAST_YEAR
from torchflow.i18n import ZH, Label, Listing, Text, _, translator

MAX_SPAN_DAYS = 3660  # ten years: a horizon, not a typo
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000


def fail(text: Text, param: click.Parameter | None, ctx: click.Context | None) -> NoReturn:
    """A bad flag value: click's usage error (exit 2) carrying the message as a
    ``Text``, which the CLI renders in the office's language (cli/context.py)."""
    raise click.BadParameter(text, ctx=ctx, param=param)  # type: ignore[arg-type]


class Whole(click.IntRange):
    """A bounded whole number ("'x' is not a valid integer", not "integer range")."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not re.fullmatch(r"[+-]?\d{1,18}", text):
                fail(_("{value!r} is not a valid integer", value=value), param, ctx)
            number = int(text)
        low, high = self.min, self.max
        if (low is not None and number < low) or (high is not None and number > high):
            if high is None:
                fail(_("{value} is not in the range x>={low}.", value=number, low=low),
                     param, ctx)
            fail(_("{value} is not in the range {low}<=x<={high}.", value=number, low=low,
                   high=high), param, ctx)
        return number


class Choice(click.Choice):
    """One of fixed codes (a task kind, a notice status), also typed as the office
    says it: the code's Chinese from the catalogs (走访 for visit)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        typed = str(value).strip()
        chinese = translator(ZH)
        for choice in self.choices:
            if typed.casefold() in (str(choice).casefold(), chinese.gettext(str(choice))):
                return choice
        fail(_("{value!r} is not one of {choices}", value=value,
               choices=Listing(_shown_choice(str(c), chinese.gettext(str(c)))
                               for c in self.choices)), param, ctx)


def _shown_choice(code: str, chinese: str) -> Label:
    """A choice in a refusal: 'visit' in English, 走访 (visit) in Chinese."""
    return Label(f"{chinese}（{code}）" if chinese != code else code, repr(code))


ID = Whole(1, 2**31 - 1)  # PostgreSQL's INTEGER, the id columns
LIMIT = Whole(1, MAX_LIMIT)
OFFSET = Whole(0, MAX_OFFSET)


def _check_year(value: date, param: click.Parameter | None, ctx: click.Context | None) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        fail(_("{day} is out of range; use a date from {first} to {last}",
                    day=value.isoformat(), first=FIRST_YEAR, last=LAST_YEAR), param, ctx)


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
            fail(_("{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-12-07", value=value),
                      param, ctx)
        _check_year(day, param, ctx)
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
        try:
            when: date | datetime = (date.fromisoformat(text) if len(text) == 10
                                     else datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            fail(_("{value!r} is not a date or time; use e.g. 2026-03-04, 2026-03-04T15:30 "
                        "or 2026-03-04T15:30+08:00", value=value), param, ctx)
        _check_year(when if isinstance(when, date) else when.date(), param, ctx)
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
            fail(_("{value!r} is not a span; use e.g. 3d or 2w", value=value), param, ctx)
        # Bounded by digits before int(): a span of a million digits is not parsed.
        days = int(match[1][-9:]) * (7 if match[2] == "w" else 1)
        if len(match[1].lstrip("0")) > 9 or days > MAX_SPAN_DAYS:
            fail(_("{value!r} is too long; at most {days}d", value=value,
                        days=MAX_SPAN_DAYS), param, ctx)
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
            fail(_("{value!r} is not {form}; e.g. {example}", value=value, form=self.name,
                        example=self.example), param, ctx)
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
