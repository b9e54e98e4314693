"""When a task's notices fall due, and which ones a sweep should produce now.

A task passes through up to four stages, numbered in order:

1. ``upcoming``   - ``remind`` working days before the due date, at the start of the day
2. ``due``        - the due date, at the start of the working day
3. ``overdue``    - the due date, at the end of the working day
4. ``escalation`` - deadlines only, at the same moment as ``overdue``

and, for a deadline with an escalation ladder, one stage per step after those
(``step:0``, ``step:1``, ...: 5, 6, ...), each at the start of the working day
that many working days after the due day (催办 at D+1, 通报 at D+5).

The sweep stores the highest stage produced (``stage_done``) on the task, so
nothing here depends on hitting an exact minute: a sweep that runs late, or after
days of downtime, still produces the stage that is due.
Pure: ``now`` is always an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from msgspec import Struct

from torchflow.domain.calendar import WorkCalendar
from torchflow.errors import InvalidInput

KINDS = ("upcoming", "due", "overdue", "escalation")
DIGEST = "digest"
STEP = "step"  # a ladder step's stage kind: "step:<index>"
TASK_KINDS = ("contact", "visit", "deadline", "duty", "each", "custom")
_STAGE_OF = {kind: stage for stage, kind in enumerate(KINDS, start=1)}


class Timeline(Struct, frozen=True):
    """The instants (aware, UTC) at which each stage of one task falls due."""

    upcoming_at: datetime | None
    due_at: datetime
    overdue_at: datetime
    escalation_at: datetime | None
    steps_at: tuple[datetime, ...] = ()  # a deadline's ladder steps


def timeline(cal: WorkCalendar, *, kind: str, due_on: date, remind: int,
             steps: Sequence[int] = ()) -> Timeline:
    """The stage times of a task of ``kind`` due on ``due_on``.

    ``remind`` counts working days, so a reminder for a Monday task with
    ``remind=1`` comes on the Friday before, not on Sunday. ``steps``: a
    deadline's ladder, the working days after the due day of each step.
    """
    if kind not in TASK_KINDS:
        raise InvalidInput(f"unknown task kind {kind!r}; expected one of {', '.join(TASK_KINDS)}")
    if remind < 0:
        raise InvalidInput(f"remind must be 0 or more working days, got {remind}")
    upcoming = cal.at(cal.add_workdays(due_on, -remind), cal.workday_start) if remind > 0 else None
    overdue = cal.at(due_on, cal.workday_end)
    return Timeline(
        upcoming_at=upcoming,
        due_at=cal.at(due_on, cal.workday_start),
        overdue_at=overdue,
        # Only a deadline escalates when overdue (DeadlineRule.escalate_to), and a
        # person's part of one (EachRule: to the lead); a duty does when it is
        # missed, N in a row (the sweep's roll).
        escalation_at=overdue if kind in ("deadline", "each") else None,
        steps_at=tuple(cal.at(cal.add_workdays(due_on, n), cal.workday_start)
                       for n in steps) if kind == "deadline" else (),
    )


def roll_at(cal: WorkCalendar, *, due_on: date, every: int) -> datetime:
    """When an open contact due on ``due_on`` is missed: its next slot, ``every``
    working days on, falls due (the start of that working day). The sweep keeps
    the contact's ``next_notice_at`` at this time once its stages are produced."""
    return cal.at(cal.add_workdays(due_on, every), cal.workday_start)


def duty_miss_at(cal: WorkCalendar, *, due_on: date) -> datetime:
    """When an open duty due on ``due_on`` is missed: the start of the next working
    day. The sweep keeps its ``next_notice_at`` there once its stages are produced."""
    return cal.at(cal.next_workday(due_on, inclusive=False), cal.workday_start)


def stage_times(tl: Timeline) -> list[tuple[int, str, datetime]]:
    """``(stage, kind, time)`` for each stage the timeline has, in stage order."""
    times = (tl.upcoming_at, tl.due_at, tl.overdue_at, tl.escalation_at)
    return [
        (_STAGE_OF[kind], kind, at) for kind, at in zip(KINDS, times, strict=True) if at is not None
    ] + [(len(KINDS) + 1 + i, step_kind(i), at) for i, at in enumerate(tl.steps_at)]


def step_kind(index: int) -> str:
    """The stage kind of a ladder's step ``index`` (0 = the first)."""
    return f"{STEP}:{index}"


def step_index(kind: str) -> int | None:
    """The ladder step a stage kind names, or None for the four notice stages."""
    prefix, _, index = kind.partition(":")
    return int(index) if prefix == STEP and index.isdigit() else None


def notices_due(
    tl: Timeline, *, stage_done: int, now: datetime, cal: WorkCalendar | None = None
) -> tuple[list[str], int, datetime | None]:
    """What a sweep at ``now`` should produce for a task whose stages up to
    ``stage_done`` (0 = none) are already produced.

    Returns the notice kinds to produce, the new ``stage_done`` and the time of
    the next stage still ahead (None when none is left).

    After downtime only the latest of upcoming/due/overdue that has passed is
    produced: a reminder that the task is coming is noise once it is overdue.
    An escalation goes to other people, so it is never swallowed that way, nor
    is a ladder's step (each is recorded in the case's history, once).

    With ``cal``, nothing goes out outside working time: stages that passed
    (during an outage, or on a due day that became a day off) wait for the start
    of the next working day, which is then returned as the next time.
    """
    _require_aware(now, "now")
    last = len(KINDS) + len(tl.steps_at)
    if not 0 <= stage_done <= last:
        raise InvalidInput(f"stage_done must be 0..{last}, got {stage_done}")
    stages = stage_times(tl)
    passed = [(stage, kind) for stage, kind, at in stages if at <= now and stage > stage_done]
    if passed and cal is not None and (opens := working_time_from(cal, now)) > now:
        return [], stage_done, opens
    routine = [kind for stage, kind in passed if kind in KINDS and kind != "escalation"]
    kinds = routine[-1:] + [kind for _, kind in passed
                            if kind == "escalation" or step_index(kind) is not None]
    new_done = max([stage_done, *(stage for stage, _ in passed)])
    ahead = [at for stage, _, at in stages if stage > new_done]
    return kinds, new_done, min(ahead, default=None)


def working_time_from(cal: WorkCalendar, now: datetime) -> datetime:
    """``now`` if it is working time (a working day, from its start on), else the
    start of the next working day: when a notice held back on a day off goes out."""
    today = cal.local_date(now)
    if cal.is_workday(today):
        opens = cal.at(today, cal.workday_start)
        return max(now, opens)
    return cal.at(cal.next_workday(today), cal.workday_start)


def digest_day(cal: WorkCalendar, now: datetime, digest_time: time) -> date | None:
    """The local date whose digest is due at ``now``, or None.

    Today counts when it is a working day and the local time has reached
    ``digest_time``. Earlier days missed during downtime are never returned: a
    digest of yesterday's work list is stale, today's replaces it.
    """
    _require_aware(now, "now")
    local = now.astimezone(cal.tz)
    today = local.date()
    if cal.is_workday(today) and local.time() >= digest_time.replace(tzinfo=None):
        return today
    return None


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what}={value.isoformat()} has no UTC offset; pass an aware datetime")
