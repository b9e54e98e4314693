"""Report periods and the working-day table reports count with. Pure.

A period is a span of local dates, both ends included: ``2026Q4``, ``2026-11``,
``2026`` or ``--from/--to``. Reports group by month, quarter or year.

Working days in SQL: every local date of the span a report touches gets one row
(``DayRow``): the UTC instant its local day starts, its labels per month /
quarter / year and ``wd``, the number of working days from the start of the
table up to and including that date. A database joins an instant's local date
to its row (by equality when the zone has one offset over the span, see
``fixed_offset_minutes``; else one index seek: the last row starting at or
before it) and subtracts two ``wd`` values: ``wd(left) - wd(entered)`` is
``WorkCalendar.count_workdays`` (the day of entering excluded, the day of
leaving included), on any database, with no calendar logic in SQL.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from msgspec import Struct

from torchflow.domain.calendar import WorkCalendar
from torchflow.errors import InvalidInput
from torchflow.i18n import _

BY = ("month", "quarter", "year")
_QUARTER = re.compile(r"(\d{4})[Qq]([1-4])\Z")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})\Z")
_YEAR = re.compile(r"(\d{4})\Z")


class Period(Struct, frozen=True):
    start: date
    end: date  # included

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def parse_period(text: str) -> Period:
    """``2026Q4``, ``2026-11`` or ``2026``."""
    value = text.strip()
    if m := _QUARTER.match(value):
        year, q = int(m.group(1)), int(m.group(2))
        start = date(year, 3 * q - 2, 1)
        return Period(start, _month_end(year, 3 * q))
    if (m := _MONTH.match(value)) and 1 <= int(m.group(2)) <= 12:
        year, month = int(m.group(1)), int(m.group(2))
        return Period(date(year, month, 1), _month_end(year, month))
    if m := _YEAR.match(value):
        year = int(m.group(1))
        return Period(date(year, 1, 1), date(year, 12, 31))
    raise InvalidInput(_("bad period {text!r}; write a quarter (2026Q4), a month (2026-11) "
                         "or a year (2026)", text=text))


def resolve(period: str | None, start: date | None, end: date | None, today: date) -> Period:
    """The span of a report: ``--period``, or ``--from/--to`` (default: this year so far)."""
    if period is not None:
        if start is not None or end is not None:
            raise InvalidInput(_("give --period or --from/--to, not both"))
        return parse_period(period)
    first = start or date(today.year, 1, 1)
    last = end or max(today, first)
    if last < first:
        raise InvalidInput(_("--to {end} is before --from {start}", end=last.isoformat(),
                             start=first.isoformat()))
    return Period(first, last)


def _month_end(year: int, month: int) -> date:
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return nxt - timedelta(days=1)


def bucket(d: date, by: str) -> str:
    """The label of ``d``'s month (2026-11), quarter (2026Q4) or year (2026)."""
    if by == "month":
        return f"{d.year}-{d.month:02d}"
    if by == "quarter":
        return f"{d.year}Q{(d.month - 1) // 3 + 1}"
    return str(d.year)


class DayRow(Struct, frozen=True):
    day: date
    starts: datetime  # UTC instant of local midnight
    wd: int  # working days from the table's first day up to and including this one
    month: str
    quarter: str
    year: str


def day_rows(calendar: WorkCalendar, first: date, last: date) -> list[DayRow]:
    """One row per local date of ``first..last`` (see the module docstring)."""
    rows: list[DayRow] = []
    count = 0
    day = first
    working = set(calendar.workdays(first, last))
    while day <= last:
        count += day in working
        rows.append(DayRow(day, calendar.at(day, time(0, 0)), count, bucket(day, "month"),
                           bucket(day, "quarter"), bucket(day, "year")))
        day += timedelta(days=1)
    return rows


def fixed_offset_minutes(rows: list[DayRow]) -> int | None:
    """The zone's one UTC offset over the rows' span in minutes, or None when it
    changes there (daylight saving): with one offset a database can take an
    instant's local date by shifting it, an equality join on the day table
    instead of a lookup per instant."""
    offsets = {datetime.combine(r.day, time(0)) - r.starts.replace(tzinfo=None) for r in rows}
    if len(offsets) != 1:
        return None
    return int(offsets.pop().total_seconds() // 60)
