"""Working-day arithmetic on the official calendar of mainland China.

A working day is a whole local date in the configured time zone. The official
schedule (public holidays *and* the adjusted weekend days that are worked) comes
from ``holidays.China``; see docs/calendar.md for why that library and how years
without published data fall back to Monday-Friday.

Pure: no clock, no I/O. Each year is turned once into a bitmap of 365/366 flags,
so the hot calls (``is_workday`` and the loops built on it) are a dict lookup and
an index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from torchflow.errors import ConfigError, InvalidInput

_log = logging.getLogger("torchflow.calendar")

_SATURDAY = 5  # date.weekday(): Monday == 0


@cache
def _official_years() -> frozenset[int]:
    """Years for which the library carries the officially published schedule.

    ``holidays.China`` keeps the State Council's yearly notice as a table of
    substituted days (``special_public_holidays``: a holiday moved onto a weekday
    and the weekend day worked in exchange). Past the last notice it still
    computes festivals by rule but knows no adjusted working days, so the table's
    years are the honest measure of coverage. Should a future release rename the
    table, fall back to "years with at least one weekend working day".
    """
    import holidays  # lazy: 75 ms that only planning needs, not every command

    china = holidays.country_holidays("CN")
    table = getattr(china, "special_public_holidays", None)
    if isinstance(table, dict) and table:
        return frozenset(
            year
            for year, entries in table.items()
            if any(len(entry) >= 4 for entry in _entries(entries))
        )
    return frozenset(d.year for d in getattr(china, "weekend_workdays", ()))


def _entries(value: tuple) -> tuple[tuple, ...]:
    """A year's table value is one entry or a tuple of entries; always give the latter."""
    return value if value and isinstance(value[0], tuple) else (value,)


@cache
def _official_flags(year: int) -> bytes | None:
    """Per-day working flags (1 = working) of a covered year, None if uncovered.

    Shared by every calendar instance: the official data never changes at run time.
    """
    if year not in _official_years():
        return None
    # is_working_day, not ``d in china``: membership ignores worked weekend days.
    import holidays

    china = holidays.country_holidays("CN", years=year)
    jan1 = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - jan1).days
    return bytes(china.is_working_day(jan1 + timedelta(days=i)) for i in range(days))


def _weekday_flags(year: int) -> bytes:
    """Monday-Friday flags, the fallback for years without official data."""
    jan1 = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - jan1).days
    return bytes((jan1 + timedelta(days=i)).weekday() < _SATURDAY for i in range(days))


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(
            f"unknown time zone {name!r}; use an IANA name such as 'Asia/Shanghai'"
        ) from None


def _dates(values: Iterable[date], what: str) -> frozenset[date]:
    days = frozenset(values)
    for day in days:
        # A datetime is a date too, but would slip a time of day into the sets.
        if not isinstance(day, date) or isinstance(day, datetime):
            raise ConfigError(f"[calendar] {what}: {day!r} is not a date; use e.g. 2026-12-31")
    return days


class WorkCalendar:
    """Working days in one time zone, with configured blackout and extra days.

    Precedence for a date: a blackout date is never a working day; an extra
    working day always is; otherwise the official schedule decides (holidays off,
    adjusted weekend days worked), and for a year without official data,
    Monday-Friday (with one warning per year per instance).
    """

    def __init__(
        self,
        timezone: str = "Asia/Shanghai",
        blackout: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        workday_start: time = time(9, 0),
        workday_end: time = time(18, 0),
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.tz: ZoneInfo = _load_zone(timezone)
        if workday_start.tzinfo is not None or workday_end.tzinfo is not None:
            raise ConfigError("workday_start/workday_end are local wall times; drop the offset")
        if workday_start >= workday_end:
            raise ConfigError(
                f"workday_start {workday_start.isoformat()} must be before "
                f"workday_end {workday_end.isoformat()}"
            )
        self.workday_start: time = workday_start
        self.workday_end: time = workday_end
        self._blackout = _dates(blackout, "blackout")
        self._extra = _dates(extra_workdays, "extra_workdays")
        self._warn = warn if warn is not None else _log.warning
        # year -> (ordinal of 1 January, flags); built lazily, read without a lock.
        self._years: dict[int, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    # -- the calendar ---------------------------------------------------------

    def covers(self, year: int) -> bool:
        """True when the official schedule (holidays and worked weekend days) of
        ``year`` is known; otherwise that year falls back to Monday-Friday."""
        return year in _official_years()

    def is_workday(self, d: date) -> bool:
        base, flags = self._years.get(d.year) or self._load_year(d.year)
        return flags[d.toordinal() - base] == 1

    def next_workday(self, d: date, *, inclusive: bool = True) -> date:
        """The first working day on or after ``d`` (strictly after if not inclusive)."""
        day = d if inclusive else d + timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_workdays(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (``d`` itself never counts), or
        before it for ``n < 0``; ``n == 0`` is ``d`` if a working day, else the next."""
        if n == 0:
            return self.next_workday(d)
        step = timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        day = d
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays(self, start: date, end: date) -> list[date]:
        """Working days in ``[start, end]``, both ends included; [] if start > end."""
        count = (end - start).days + 1
        days = (start + timedelta(days=i) for i in range(max(count, 0)))
        return [day for day in days if self.is_workday(day)]

    def count_workdays(self, start: date, end: date) -> int:
        """Working days in ``(start, end]``: ``start`` excluded, ``end`` included.

        This is the inverse of ``add_workdays``: when ``end`` is a working day
        after ``start``, ``add_workdays(start, count_workdays(start, end)) == end``.
        An empty interval (``end <= start``) counts 0, never a negative number.
        """
        if end <= start:
            return 0
        return len(self.workdays(start + timedelta(days=1), end))

    # -- time zone ------------------------------------------------------------

    def local_date(self, instant: datetime) -> date:
        """The calendar date of an aware instant in this calendar's zone."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise InvalidInput(
                f"instant {instant.isoformat()} has no UTC offset; pass an aware datetime"
            )
        return instant.astimezone(self.tz).date()

    def at(self, d: date, t: time) -> datetime:
        """Local wall time ``t`` on ``d`` as an aware UTC datetime.

        Around a DST change zoneinfo's fold=0 rules apply: a skipped wall time is
        read with the offset in force before the change (02:30 on a spring-forward
        night becomes 03:30 summer time), a repeated one means its first occurrence.
        """
        return datetime.combine(d, t.replace(tzinfo=None), tzinfo=self.tz).astimezone(UTC)

    # -- internals --------------------------------------------------------------

    def _load_year(self, year: int) -> tuple[int, bytes]:
        with self._lock:
            # Another thread may have built it while this one waited; build (and
            # warn) once only.
            if (entry := self._years.get(year)) is not None:
                return entry
            flags = _official_flags(year)
            if flags is None:
                self._warn(
                    f"no official working-day schedule for {year}; "
                    "treating Monday-Friday as working days"
                )
                flags = _weekday_flags(year)
            entry = (date(year, 1, 1).toordinal(), self._overlay(year, flags))
            self._years[year] = entry
            return entry

    def _overlay(self, year: int, flags: bytes) -> bytes:
        """Apply configured extra working days, then blackout dates (which win)."""
        base = date(year, 1, 1).toordinal()
        out = bytearray(flags)
        for day in self._extra:
            if day.year == year:
                out[day.toordinal() - base] = 1
        for day in self._blackout:
            if day.year == year:
                out[day.toordinal() - base] = 0
        return bytes(out)
