"""Working-day arithmetic on the official calendar of mainland China.

A working day is a whole local date in the configured time zone. The official
schedule (public holidays *and* the adjusted weekend days that are worked) comes
from ``holidays.China`` for the years it carries (``OFFICIAL_YEARS``), else from
an office-typed schedule file (``OfficialSchedule``), else the statutory holidays
computed by rule with no worked weekend day; see docs/calendar.md.

Pure: no clock, no I/O. Each year is turned once into a bitmap of 365/366 flags,
so the hot calls (``is_workday`` and the loops built on it) are a dict lookup and
an index.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from msgspec import Struct

from torchflow.domain.summary import clip, few, grouped
from torchflow.errors import ConfigError, InvalidInput, ScheduleError
from torchflow.i18n import Listing, Text, _

_log = logging.getLogger("torchflow.calendar")

_SATURDAY = 5  # date.weekday(): Monday == 0


# The years whose State Council notice (holidays *and* worked weekend days) the
# installed ``holidays`` carries: 0.109 has the notices of 2001-2026. Declared
# here, not read from the library's private tables, so an upgrade cannot move it
# silently; tests/unit/test_calendar_data.py fails when the library disagrees. Raise
# the end when an upgrade brings a new year (the November routine, docs/calendar.md).
OFFICIAL_YEARS = range(2001, 2027)

OFFICIAL, OFFICE, STATUTORY = "official", "office", "statutory"
# A year the library or the statutory rule decides has about 250 working days and
# never fewer than this: fewer blackout dates cannot empty it.
_FEWEST_RULE_WORKDAYS = 200


class OfficialSchedule(Struct, frozen=True):
    """One year's official schedule typed in by the office (``[calendar] official``).

    ``days_off``: every day off of the year that the notice lists (holidays and
    the weekdays given in exchange); ``worked_weekends``: the Saturdays and
    Sundays that are worked. ``source`` names the notice (title, number, URL).
    """

    year: int
    days_off: frozenset[date]
    worked_weekends: frozenset[date]
    source: str
    path: str = "<schedule>"

    def problems(self) -> list[Text]:
        """One line per kind of problem that needs no holiday data (checked at load
        time), the days of each named first and counted (domain/summary.py)."""
        out = []
        if outside := sorted(d for d in self.days_off | self.worked_weekends
                             if d.year != self.year):
            out.append(_("{path}: {days} not in {year}; list days of that year",
                         path=self.path, days=few(outside), year=self.year))
        if weekdays := sorted(d for d in self.worked_weekends if d.weekday() < _SATURDAY):
            out.append(_("{path}: worked_weekends: {days} not a Saturday or Sunday; list only "
                         "the Saturdays and Sundays that are worked",
                         path=self.path, days=few(weekdays)))
        if both := sorted(self.days_off & self.worked_weekends):
            out.append(_("{path}: {days} both off and worked; keep each day in one list",
                         path=self.path, days=few(both)))
        if not self.source.strip():
            out.append(_("{path}: source is empty; name the State Council notice (title, URL)",
                         path=self.path))
        if not out and not any(_office_flags(self)):
            out.append(_("{path}: {year} has no working day left (every weekday is off and no "
                         "weekend day is worked); list only the notice's days off",
                         path=self.path, year=self.year))
        return out

    def missing_statutory(self) -> list[Text]:
        """The statutory holidays of the year missing from ``days_off``, one line
        (needs the holiday data, so checked when the year is first used)."""
        missing = [f"{day} ({name})" for day, name in sorted(statutory_holidays(self.year).items())
                   if day not in self.days_off]
        if not missing:
            return []
        return [_("{path}: days_off lacks {days}, statutory holidays of {year}; copy every "
                  "day off of the notice", path=self.path, days=few(missing), year=self.year)]


class YearSource(Struct, frozen=True):
    """Which data decided a year's working days, for ``calendar show`` and logs."""

    year: int
    kind: str  # OFFICIAL | OFFICE | STATUTORY
    detail: str


@cache
def _library_version() -> str:
    import holidays

    return str(holidays.__version__)


@cache
def _library_flags(year: int) -> tuple[bytes, bool]:
    """Per-day working flags (1 = working) from ``holidays.China``, and whether
    the library has the official notice of ``year``.

    Shared by every calendar instance: the library data never changes at run
    time. For a year without a notice the library still computes the statutory
    holidays by rule, with a weekday off in lieu of one on a weekend, but knows
    no worked weekend days: exactly the "statutory" fallback.
    """
    # is_working_day, not ``d in china``: membership ignores worked weekend days.
    import holidays  # lazy: 75 ms that only planning needs, not every command

    china = holidays.country_holidays("CN", years=year)
    jan1 = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - jan1).days
    flags = bytes(china.is_working_day(jan1 + timedelta(days=i)) for i in range(days))
    # A declared year that an older installed release lacks (no worked weekend
    # day at all) is not official data, whatever OFFICIAL_YEARS says.
    official = year in OFFICIAL_YEARS and any(d.year == year for d in china.weekend_workdays)
    return flags, official


@cache
def _library_holidays(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays("CN", years=year))


@cache
def statutory_holidays(year: int, language: str = "en_US") -> dict[date, str]:
    """The statutory days off of ``year`` as the regulation fixes them (no day
    in lieu, no exchange): 13 days since the 2024 revision; named in
    ``language`` (en_US, zh_CN)."""
    import holidays

    return dict(holidays.country_holidays("CN", years=year, observed=False, language=language))


def _office_flags(schedule: OfficialSchedule) -> bytes:
    jan1 = date(schedule.year, 1, 1)
    days = (date(schedule.year + 1, 1, 1) - jan1).days

    def working(day: date) -> bool:
        if day in schedule.worked_weekends:
            return True
        return day.weekday() < _SATURDAY and day not in schedule.days_off

    return bytes(working(jan1 + timedelta(days=i)) for i in range(days))


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(
            f"unknown time zone {name!r}; use an IANA name such as 'Asia/Shanghai'"
        ) from None


def _by_year(schedules: Iterable[OfficialSchedule]) -> dict[int, OfficialSchedule]:
    out: dict[int, OfficialSchedule] = {}
    for schedule in schedules:
        if not isinstance(schedule, OfficialSchedule):
            raise ConfigError(f"[calendar] official: {schedule!r} is not a schedule")
        if (other := out.get(schedule.year)) is not None:
            raise ConfigError(
                f"{schedule.path}: {schedule.year} is already given by {other.path}; "
                "keep one file per year"
            )
        out[schedule.year] = schedule
    if problems := [line for s in out.values() for line in s.problems()]:
        raise ScheduleError(problems)
    return out


_SCHEDULE_KEYS = ("year", "source", "days_off", "worked_weekends")


def parse_schedule(data: dict[str, Any], path: str) -> OfficialSchedule:
    """An ``OfficialSchedule`` from the parsed TOML of one schedule file.

    Refuses, with one line per kind of problem, unknown keys and values of the
    wrong type; ``OfficialSchedule.problems`` then checks the dates themselves.
    """
    problems: list[Text] = []
    if unknown := [repr(key) for key in data if key not in _SCHEDULE_KEYS]:
        problems.append(_("{path}: unknown key {keys}; expected {expected}", path=path,
                          keys=few(unknown), expected=Listing(_SCHEDULE_KEYS)))
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        problems.append(_("{path}: year = {value} is not valid; it wants a year such as 2027",
                          path=path, value=clip(repr(year), 40)))
    source = data.get("source")
    if not isinstance(source, str):
        problems.append(_("{path}: source is missing; name the State Council notice (title, "
                          "number, URL)", path=path))
    days_off, bad_off = _date_list(data.get("days_off"), path, "days_off")
    worked, bad_worked = _date_list(data.get("worked_weekends", []), path, "worked_weekends")
    problems += bad_off + bad_worked
    if problems:
        raise ScheduleError(problems)
    schedule = OfficialSchedule(
        year=int(year),  # type: ignore[arg-type]  # checked above
        days_off=days_off, worked_weekends=worked, source=str(source), path=path,
    )
    if problems := schedule.problems():
        raise ScheduleError(problems)
    return schedule


def _date_list(values: object, path: str, key: str) -> tuple[frozenset[date], list[Text]]:
    if not isinstance(values, list) or (not values and key == "days_off"):
        return frozenset(), [_("{path}: {key} wants a list of dates such as [2027-01-01]",
                               path=path, key=key)]
    out, bad = set(), []
    for value in values:
        if isinstance(value, date) and not isinstance(value, datetime):
            out.add(value)
            continue
        try:
            out.add(date.fromisoformat(str(value)))
        except ValueError:
            bad.append(repr(value))
    if bad:  # one line for all of them, however many
        return frozenset(out), [_("{path}: {key}: {values} not a date; use e.g. 2027-02-08",
                                  path=path, key=key, values=few(bad))]
    return frozenset(out), []


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
    working day always is; otherwise the year's source decides: the library's
    official data, else an office-typed ``official`` schedule of that year, else
    the statutory holidays computed by rule with no worked weekend day (with one
    warning per year per instance).
    """

    def __init__(
        self,
        timezone: str = "Asia/Shanghai",
        blackout: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        workday_start: time = time(9, 0),
        workday_end: time = time(18, 0),
        warn: Callable[[Text], None] | None = None,
        official: Iterable[OfficialSchedule] = (),
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
        self._warn = warn if warn is not None else (lambda text: _log.warning("%s", text))
        self._office = _by_year(official)
        if empty := self._years_without_work():
            raise ConfigError(_("[calendar] blackout leaves {years} without a single working "
                                "day; black out only the days the office is closed",
                                years=few(empty)))
        self._digests: dict[tuple[int, int], str] = {}
        # year -> (ordinal of 1 January, flags); built lazily, read without a lock.
        self._years: dict[int, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    # -- the calendar ---------------------------------------------------------

    def covers(self, year: int) -> bool:
        """True when the official schedule (holidays and worked weekend days) of
        ``year`` is known, from the library or an office file; otherwise that
        year falls back to the statutory holidays. Asking never warns."""
        return self.source(year).kind != STATUTORY

    def source(self, year: int) -> YearSource:
        """Which data decides ``year``: a later library release beats the office file."""
        if _library_flags(year)[1]:
            detail = f"holidays {_library_version()} (State Council notice)"
            return YearSource(year, OFFICIAL, detail)
        if (schedule := self._office.get(year)) is not None:
            return YearSource(year, OFFICE, f"{schedule.path}: {schedule.source}")
        return YearSource(
            year, STATUTORY,
            "statutory holidays by rule, days in lieu estimated, no worked weekend days known",
        )

    def office_schedules(self) -> dict[int, OfficialSchedule]:
        """The configured office schedules by year (used or overridden by the library)."""
        return dict(self._office)

    def planning_digest(self, first_year: int, last_year: int) -> str:
        """A short digest of the working days of ``first_year``..``last_year`` as
        this calendar sees them (source, office file, blackout and extra days):
        a task records it, and a different value later means its dates were
        planned with other calendar data (``torchflow replan``)."""
        key = (first_year, last_year)
        if (found := self._digests.get(key)) is None:
            h = hashlib.sha256()
            for year in range(first_year, last_year + 1):
                _, flags = self._years.get(year) or self._load_year(year)
                h.update(year.to_bytes(2, "big") + flags)
            found = self._digests[key] = h.hexdigest()[:16]
        return found

    def day_kind(self, d: date) -> str:
        """What ``d`` is, for month grids: ``blackout``, ``extra`` (configured),
        ``worked_weekend``, ``weekend``, ``off`` (a holiday or day in lieu) or ``work``."""
        if d in self._blackout:
            return "blackout"
        if d in self._extra:
            return "extra"
        working = self._base_flags(d.year)[d.toordinal() - date(d.year, 1, 1).toordinal()] == 1
        if d.weekday() < _SATURDAY:
            return "work" if working else "off"
        if working:
            return "worked_weekend"
        return "off" if d in self._holidays(d.year) else "weekend"

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
        out: list[date] = []
        day = start
        while day <= end:
            # One slice of the year's flags at a time: no per-day method call.
            base, flags = self._years.get(day.year) or self._load_year(day.year)
            last = min(end, date(day.year, 12, 31))
            lo, hi = day.toordinal() - base, last.toordinal() - base
            out += [date.fromordinal(base + i) for i in range(lo, hi + 1) if flags[i]]
            day = last + timedelta(days=1)
        return out

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

    def _years_without_work(self) -> list[int]:
        """The years whose every working day the blackout dates take away (and no
        extra working day gives one back). Asks the holiday data only of a year
        the blackout could empty: one with as many blackout days as a year by the
        library or the rule could have working days, or whose office schedule's
        working days are all blacked out."""
        out = []
        for year, days in grouped((d.year, d) for d in self._blackout):
            if any(d.year == year for d in self._extra):
                continue
            office = self._office.get(year)
            base = date(year, 1, 1).toordinal()
            if len(days) < _FEWEST_RULE_WORKDAYS and (office is None or any(
                    flag and date.fromordinal(base + i) not in self._blackout
                    for i, flag in enumerate(_office_flags(office)))):
                continue
            flags = self._base_flags(year)
            if not any(flag and date.fromordinal(base + i) not in self._blackout
                       for i, flag in enumerate(flags)):
                out.append(year)
        return sorted(out)

    def _load_year(self, year: int) -> tuple[int, bytes]:
        with self._lock:
            # Another thread may have built it while this one waited; build (and
            # warn) once only.
            if (entry := self._years.get(year)) is not None:
                return entry
            flags = self._base_flags(year)
            if self.source(year).kind == STATUTORY:
                self._warn(_(
                    "no official working-day schedule for {year}; assuming its statutory "
                    "holidays (a weekday off in lieu of one on a weekend) and no worked "
                    "weekend day; add the State Council schedule to [calendar] official",
                    year=year))
            entry = (date(year, 1, 1).toordinal(), self._overlay(year, flags))
            self._years[year] = entry
            return entry

    def _holidays(self, year: int) -> Collection[date]:
        """The year's named days off (for display: a holiday on a Sunday)."""
        schedule = self._office.get(year)
        if schedule is not None and not _library_flags(year)[1]:
            return schedule.days_off
        return _library_holidays(year)

    def _base_flags(self, year: int) -> bytes:
        """The year's flags before blackout/extra days, from its source."""
        flags, official = _library_flags(year)
        schedule = self._office.get(year)
        if official or schedule is None:
            return flags
        # Checked here, when the year is first used: it needs the holiday data.
        if problems := schedule.missing_statutory():
            raise ScheduleError(problems)
        return _office_flags(schedule)

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
