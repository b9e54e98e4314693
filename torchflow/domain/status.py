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


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
    MISSED = "missed"  # a contact whose next slot fell due while it was still open


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


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"


def choices(enum: type[StrEnum]) -> list[str]:
    """The values of ``enum``, in declaration order, for a click.Choice."""
    return [member.value for member in enum]
