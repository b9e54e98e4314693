"""Notice timing: stage times, catch-up after downtime, digests, ledger keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.timeline import (
    KINDS,
    Timeline,
    digest_day,
    notices_due,
    stage_times,
    timeline,
)
from torchflow.errors import InvalidInput
from torchflow.service.delivery.keys import idempotency_key

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Shanghai wall time as an aware datetime."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# -- stage times -----------------------------------------------------------------


def test_deadline_timeline(cal: WorkCalendar) -> None:
    # Due Wednesday 12 March 2025, reminded 2 working days before.
    tl = timeline(cal, kind="deadline", due_on=date(2025, 3, 12), remind=2)
    assert tl == Timeline(
        upcoming_at=sh(2025, 3, 10, 9),
        due_at=sh(2025, 3, 12, 9),
        overdue_at=sh(2025, 3, 12, 18),
        escalation_at=sh(2025, 3, 12, 18),
    )
    assert tl.due_at.tzinfo is UTC


def test_only_deadlines_escalate(cal: WorkCalendar) -> None:
    for kind in ("contact", "visit", "custom"):
        assert timeline(cal, kind=kind, due_on=date(2025, 3, 12), remind=0).escalation_at is None


def test_no_reminder_without_remind(cal: WorkCalendar) -> None:
    assert timeline(cal, kind="contact", due_on=date(2025, 3, 12), remind=0).upcoming_at is None


def test_remind_across_a_weekend(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="contact", due_on=date(2025, 3, 10), remind=1)  # a Monday
    assert tl.upcoming_at == sh(2025, 3, 7, 9)  # the Friday before


def test_remind_across_spring_festival(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="visit", due_on=date(2025, 2, 5), remind=2)
    assert tl.upcoming_at == sh(2025, 1, 26, 9)  # the worked Sunday


def test_workday_hours_come_from_the_calendar() -> None:
    cal = WorkCalendar(workday_start=time(8, 30), workday_end=time(17, 30))
    tl = timeline(cal, kind="contact", due_on=date(2025, 3, 12), remind=0)
    assert (tl.due_at, tl.overdue_at) == (sh(2025, 3, 12, 8, 30), sh(2025, 3, 12, 17, 30))


def test_timeline_refuses_bad_input(cal: WorkCalendar) -> None:
    with pytest.raises(InvalidInput, match="kind"):
        timeline(cal, kind="Deadline", due_on=date(2025, 3, 12), remind=0)
    with pytest.raises(InvalidInput, match="remind"):
        timeline(cal, kind="contact", due_on=date(2025, 3, 12), remind=-1)


def test_stage_times_lists_existing_stages_in_order(cal: WorkCalendar) -> None:
    full = timeline(cal, kind="deadline", due_on=date(2025, 3, 12), remind=1)
    assert [(s, k) for s, k, _ in stage_times(full)] == list(enumerate(KINDS, start=1))
    plain = timeline(cal, kind="contact", due_on=date(2025, 3, 12), remind=0)
    assert stage_times(plain) == [
        (2, "due", sh(2025, 3, 12, 9)),
        (3, "overdue", sh(2025, 3, 12, 18)),
    ]


# -- notices_due -------------------------------------------------------------------


def test_each_stage_in_order_as_time_advances(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="deadline", due_on=date(2025, 3, 12), remind=2)
    done = 0
    seen = []
    steps = [
        (sh(2025, 3, 10, 8, 59), [], 0, tl.upcoming_at),
        (sh(2025, 3, 10, 9), ["upcoming"], 1, tl.due_at),
        (sh(2025, 3, 11, 12), [], 1, tl.due_at),
        (sh(2025, 3, 12, 9, 1), ["due"], 2, tl.overdue_at),
        (sh(2025, 3, 12, 18), ["overdue", "escalation"], 4, None),
        (sh(2025, 3, 20, 9), [], 4, None),
    ]
    for now, kinds, new_done, ahead in steps:
        got = notices_due(tl, stage_done=done, now=now)
        assert got == (kinds, new_done, ahead), now
        done = got[1]
        seen += got[0]
    assert seen == ["upcoming", "due", "overdue", "escalation"]


def test_catch_up_after_downtime_gives_only_the_latest(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="contact", due_on=date(2025, 3, 12), remind=2)
    ten_days_later = sh(2025, 3, 22, 10)
    assert notices_due(tl, stage_done=0, now=ten_days_later) == (["overdue"], 3, None)


def test_catch_up_between_stages(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="contact", due_on=date(2025, 3, 12), remind=2)
    # Offline from before the reminder until the due morning: just "due".
    assert notices_due(tl, stage_done=0, now=sh(2025, 3, 12, 10)) == (
        ["due"],
        2,
        tl.overdue_at,
    )


def test_catch_up_still_escalates(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="deadline", due_on=date(2025, 3, 12), remind=2)
    assert notices_due(tl, stage_done=0, now=sh(2025, 3, 22, 10)) == (
        ["overdue", "escalation"],
        4,
        None,
    )
    # Overdue already sent, escalation not: only the escalation remains.
    assert notices_due(tl, stage_done=3, now=sh(2025, 3, 22, 10)) == (["escalation"], 4, None)


def test_nothing_is_produced_twice(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="deadline", due_on=date(2025, 3, 12), remind=2)
    assert notices_due(tl, stage_done=4, now=sh(2025, 4, 1, 10)) == ([], 4, None)
    assert notices_due(tl, stage_done=2, now=sh(2025, 3, 12, 9, 30)) == ([], 2, tl.overdue_at)


def test_contact_has_no_escalation_stage(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="visit", due_on=date(2025, 3, 12), remind=0)
    assert notices_due(tl, stage_done=2, now=sh(2025, 3, 13, 9)) == (["overdue"], 3, None)


def test_notices_due_in_any_zone_is_the_same_instant(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="contact", due_on=date(2025, 3, 12), remind=0)
    utc_now = datetime(2025, 3, 12, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert notices_due(tl, stage_done=0, now=utc_now)[0] == ["due"]
    assert notices_due(tl, stage_done=0, now=utc_now - timedelta(seconds=1))[0] == []


def test_notices_due_refuses_naive_now(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="contact", due_on=date(2025, 3, 12), remind=0)
    with pytest.raises(InvalidInput, match="no UTC offset"):
        notices_due(tl, stage_done=0, now=datetime(2025, 3, 12, 10))
    with pytest.raises(InvalidInput, match="stage_done"):
        notices_due(tl, stage_done=5, now=sh(2025, 3, 12, 10))


# -- digest_day ----------------------------------------------------------------------


def test_digest_after_the_digest_time_on_a_workday(cal: WorkCalendar) -> None:
    assert digest_day(cal, sh(2025, 3, 12, 8, 30), time(8, 30)) == date(2025, 3, 12)
    assert digest_day(cal, sh(2025, 3, 12, 17), time(8, 30)) == date(2025, 3, 12)


def test_no_digest_before_the_digest_time(cal: WorkCalendar) -> None:
    assert digest_day(cal, sh(2025, 3, 12, 8, 29), time(8, 30)) is None


def test_no_digest_on_a_holiday_or_weekend(cal: WorkCalendar) -> None:
    assert digest_day(cal, sh(2025, 1, 29, 10), time(8, 30)) is None  # Spring Festival
    assert digest_day(cal, sh(2025, 3, 15, 10), time(8, 30)) is None  # Saturday
    assert digest_day(cal, sh(2025, 2, 8, 10), time(8, 30)) == date(2025, 2, 8)  # worked Sat


def test_digest_uses_the_calendar_zone(cal: WorkCalendar) -> None:
    # 23:00 UTC on Tuesday is 07:00 Wednesday in Shanghai: before 08:30.
    assert digest_day(cal, datetime(2025, 3, 11, 23, 0, tzinfo=UTC), time(8, 30)) is None
    # 01:00 UTC Wednesday is 09:00 Wednesday in Shanghai.
    assert digest_day(cal, datetime(2025, 3, 12, 1, 0, tzinfo=UTC), time(8, 30)) == date(
        2025, 3, 12
    )
    # 20:00 UTC on Friday is already Saturday in Shanghai: no digest.
    assert digest_day(cal, datetime(2025, 3, 14, 20, 0, tzinfo=UTC), time(8, 30)) is None


def test_missed_digest_days_are_not_replayed(cal: WorkCalendar) -> None:
    # Back on Monday after a weekend and a missed Friday: only Monday's digest.
    assert digest_day(cal, sh(2025, 3, 17, 11), time(8, 30)) == date(2025, 3, 17)
    # Back on a Sunday after missing Friday: nothing.
    assert digest_day(cal, sh(2025, 3, 16, 11), time(8, 30)) is None


# -- idempotency keys ------------------------------------------------------------


def test_task_notice_key() -> None:
    key = idempotency_key(
        kind="overdue", recipient="li.wei", channel="smtp", task_id=42, occurrence=3,
        due_on=date(2025, 3, 12),
    )
    assert key == "task:42:3:overdue:li.wei:smtp:2025-03-12"


def test_digest_key() -> None:
    key = idempotency_key(kind="digest", recipient="li.wei", channel="file", day=date(2025, 3, 12))
    assert key == "digest:2025-03-12:li.wei:file"


def test_keys_differ_by_every_part() -> None:
    base: dict[str, Any] = {"kind": "due", "recipient": "li.wei", "channel": "smtp",
                            "task_id": 1, "occurrence": 1, "due_on": date(2025, 3, 12)}
    variants: list[dict[str, Any]] = [
        {"due_on": date(2025, 3, 13)},
        {"kind": "overdue"},
        {"recipient": "zhang.min"},
        {"channel": "webhook"},
        {"task_id": 2},
        {"occurrence": 2},
    ]
    keys = {idempotency_key(**base)} | {idempotency_key(**(base | v)) for v in variants}
    assert len(keys) == len(variants) + 1


def test_key_needs_its_parts() -> None:
    with pytest.raises(InvalidInput, match="task_id"):
        idempotency_key(kind="due", recipient="li.wei", channel="smtp", task_id=1)
    with pytest.raises(InvalidInput, match="due_on"):
        idempotency_key(kind="due", recipient="li.wei", channel="smtp", task_id=1, occurrence=1)
    with pytest.raises(InvalidInput, match="day"):
        idempotency_key(kind="digest", recipient="li.wei", channel="smtp")
    with pytest.raises(InvalidInput, match="notice kind"):
        idempotency_key(
            kind="reminder", recipient="li.wei", channel="smtp", task_id=1, occurrence=1
        )
    with pytest.raises(InvalidInput, match="recipient"):
        idempotency_key(kind="due", recipient="", channel="smtp", task_id=1, occurrence=1)
