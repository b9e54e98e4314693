"""The calendar as data: office-typed schedule files, month grids, and the
yearly check that every year with work in it has official data.

``calendar check`` is the November routine (docs/calendar.md): it names each
year that has open tasks, or lies within the next 13 months, and is decided by
the statutory fallback only, with what to do about it.
"""

from __future__ import annotations

import calendar as monthly
import stat
import tomllib
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import extract, func, select

from torchflow.domain.calendar import (
    OFFICIAL,
    STATUTORY,
    OfficialSchedule,
    WorkCalendar,
    parse_schedule,
)
from torchflow.domain.summary import clip, lines
from torchflow.errors import ConfigError, InvalidInput, ScheduleError
from torchflow.i18n import Text, _
from torchflow.store.models import OPEN, TASKS

HORIZON_DAYS = 395  # "the next ~13 months" of planning, listed by the check
# The State Council notice for year Y comes out in November of Y-1 and the
# library weeks later; from 1 December of Y-1 a missing Y fails the check.
EXPECTED_FROM = (12, 1)

SHOWN_PER_FILE = 5  # problem lines of one schedule file before "and N more"

def load_schedules(paths: Iterable[Path]) -> tuple[OfficialSchedule, ...]:
    """Read and check the ``[calendar] official`` files: one line per kind of
    problem, at most a few lines per file and a count of the rest."""
    schedules: list[OfficialSchedule] = []
    problems: list[str | Text] = []
    for path in paths:
        try:
            schedules.append(parse_schedule(tomllib.loads(_read(path)), str(path)))
        except tomllib.TOMLDecodeError as exc:
            problems.append(_("{path}: not valid TOML: {reason}", path=path,
                              reason=clip(str(exc), 200)))
        except ScheduleError as exc:
            problems += lines(exc.problems, SHOWN_PER_FILE, what=str(path))
        except ConfigError as exc:
            problems.append(exc.text)
    if problems:
        raise ScheduleError(problems)
    return tuple(schedules)


def _read(path: Path) -> str:
    """A schedule file's text; a folder, a device or a pipe is refused before
    it is opened (reading /dev/zero or a FIFO would never end)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(_("{path}: not a regular file; list schedule files such as "
                                "calendars/cn-2027.toml in [calendar] official", path=path))
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(_("{path}: no such file; fix [calendar] official in the config",
                            path=path)) from None
    except UnicodeDecodeError:
        raise ConfigError(_("{path}: not UTF-8 text; save it as UTF-8", path=path)) from None
    except OSError as exc:
        raise ConfigError(_("{path}: cannot be read: {reason}", path=path,
                            reason=exc.strerror or str(exc))) from None


def open_task_years(app: Any) -> dict[int, int]:
    """Open tasks per year of their due date, in one grouped query."""
    year = extract("year", TASKS.c.due_on)
    with app.db.transaction() as s:
        rows = s.execute(
            select(year.label("year"), func.count().label("n"))
            .where(TASKS.c.status == OPEN)
            .group_by(year)
        ).all()
    return {int(row.year): int(row.n) for row in rows}


def check(app: Any, today: date) -> dict[str, Any]:
    """Years with work ahead that only the statutory fallback decides.

    Also runs every check of the office files (their statutory days need the
    holiday data, so the calendar would otherwise only find out on first use).
    """
    cal: WorkCalendar = app.calendar
    tasks = open_task_years(app)
    horizon = today + timedelta(days=HORIZON_DAYS)
    years = sorted({*tasks, *range(today.year, horizon.year + 1)})
    problems = [
        line for schedule in cal.office_schedules().values()
        if cal.source(schedule.year).kind != OFFICIAL
        for line in schedule.missing_statutory()
    ]
    rows = [
        {"year": y, "source": cal.source(y).kind, "detail": cal.source(y).detail,
         "open_tasks": tasks.get(y, 0)}
        for y in years
    ]
    uncovered = [row for row in rows if row["source"] == STATUTORY]
    missing = [row for row in uncovered if today >= expected_from(row["year"])]
    pending = [row for row in uncovered if today < expected_from(row["year"])]
    for row in missing:
        row["todo"] = todo(row["year"], row["open_tasks"])
    for row in pending:
        row["note"] = (
            f"{row['year']}: planned with its statutory holidays until its notice is out "
            f"(expected before {expected_from(row['year'])}); {row['open_tasks']} open task(s)"
        )
    overridden = [
        {"year": y, "path": s.path}
        for y, s in cal.office_schedules().items() if cal.source(y).kind == OFFICIAL
    ]
    return {"years": rows, "missing": missing, "pending": pending, "file_problems": problems,
            "overridden": overridden, "ok": not missing and not problems}


def expected_from(year: int) -> date:
    """From when the official schedule of ``year`` should be typed in or released."""
    return date(year - 1, *EXPECTED_FROM)


def todo(year: int, open_tasks: int) -> str:
    """What to do about one uncovered year, as one line."""
    why = f"{open_tasks} open task(s) due then" if open_tasks else "within the next 13 months"
    return (
        f"{year}: no official working-day schedule ({why}); once the State Council notice "
        f"is out (November), upgrade holidays if a release carries {year}, else run "
        f"`torchflow calendar template {year} --out calendars/cn-{year}.toml`, type in its "
        f"days off and worked weekend days, and list it in [calendar] official"
    )


def show(cal: WorkCalendar, year: int, month: int | None = None) -> dict[str, Any]:
    """The days of ``year`` (or one month) that are not plain working days or
    plain weekends, with the source that decided the year."""
    if not 1 <= year <= 9998:
        raise InvalidInput(_("year {year} is out of range; give a year such as 2027", year=year))
    if month is not None and not 1 <= month <= 12:
        raise InvalidInput(_("--month {month} is not a month; give 1 to 12", month=month))
    months = [month] if month else list(range(1, 13))
    source = cal.source(year)
    out: dict[str, Any] = {"year": year, "source": source.kind, "detail": source.detail,
                           "months": []}
    for m in months:
        days = [date(year, m, d) for d in range(1, monthly.monthrange(year, m)[1] + 1)]
        kinds = {d.isoformat(): cal.day_kind(d) for d in days}
        out["months"].append({"month": m, "days": kinds})
    return out
