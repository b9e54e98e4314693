"""The statuses and kinds that tasks and notices take, one enum each.

``StrEnum`` members compare equal to their text, so they go into the database
and JSON as plain strings, and click choices are built from them
(``choices(NoticeStatus)``).
"""

from __future__ import annotations

from enum import StrEnum


class TaskKind(StrEnum):
    CONTACT = "contact"
    VISIT = "visit"
    DEADLINE = "deadline"
    DUTY = "duty"  # a duty on dates: yearly, or a span after a date field
    EACH = "each"  # one person's part of a deadline (a co-handler's report to the lead)


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
    MISSED = "missed"  # a contact whose next slot fell due while it was still open, a duty
    # still open the working day after its due day


class Outcome(StrEnum):
    """How a task ended, for compliance reports: stored as ``tasks.outcome_kind``
    (with ``late_by`` working days for a late one); cancelled tasks have none."""

    ON_TIME = "on_time"
    LATE = "late"
    MISSED = "missed"


class NoticeKind(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    DIGEST = "digest"
    REPORT = "report"  # the monthly HTML report ([reports] monthly)


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"
    FOLDED = "folded"  # a digest-only person's notice: listed in their daily digest instead


class EventKind(StrEnum):
    """What a case-history event records; every kind has a replay rule."""

    OPENED = "opened"
    ADVANCED = "advanced"
    NOTE = "note"
    FIELDS_SET = "fields_set"
    ASSIGNED = "assigned"
    CONTACT = "contact"
    VISIT = "visit"
    TASK_DONE = "task_done"
    TASK_SNOOZED = "task_snoozed"
    TASK_REASSIGNED = "task_reassigned"
    TASKS_REPLANNED = "tasks_replanned"
    CONTACT_MISSED = "contact_missed"
    DUTY_MISSED = "duty_missed"  # the sweep found a duty not done by its day
    DEADLINE_STEP = "deadline_step"  # a step of a missed deadline's ladder (催办, 通报, 督办)
    MIGRATED = "migrated"
    MIGRATION_REVERTED = "migration_reverted"
    IMPORTED = "imported"  # opened from, or updated by, a spreadsheet row


def choices(enum: type[StrEnum]) -> list[str]:
    """The values of ``enum``, in declaration order, for a click.Choice."""
    return [member.value for member in enum]
