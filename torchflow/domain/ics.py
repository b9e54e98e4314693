"""A follow-up task as an iCalendar event: the one UID a task has in every
calendar document torchflow writes (the feeds, a notice's attachment), so a
calendar that got both shows one event. ``icalendar`` is imported when a
document is made."""

from __future__ import annotations

from datetime import date, datetime, timedelta

PRODID = "-//torchflow//follow-ups//EN"
UID_DOMAIN = "torchflow"
CALENDAR_KINDS = ("visit", "deadline")  # the notices that carry their event


def task_uid(task_id: int) -> str:
    return f"task-{task_id}@{UID_DOMAIN}"


def task_event_document(*, task_id: int, due_on: date, summary: str, description: str,
                        now: datetime) -> bytes:
    """One all-day event on ``due_on`` in a PUBLISH calendar (an e-mail attachment)."""
    from icalendar import Calendar, Event

    doc = Calendar()
    doc.add("prodid", PRODID)
    doc.add("version", "2.0")
    doc.add("method", "PUBLISH")
    ev = Event()
    ev.add("uid", task_uid(task_id))
    ev.add("dtstamp", now)
    ev.add("dtstart", due_on)
    ev.add("dtend", due_on + timedelta(days=1))
    ev.add("summary", summary)
    ev.add("description", description)
    ev.add("status", "CONFIRMED")
    ev.add("transp", "TRANSPARENT")
    doc.add_component(ev)
    return bytes(doc.to_ical())
