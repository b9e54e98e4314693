"""Each person's follow-ups in their own calendar: iCalendar (RFC 5545) made with
the ``icalendar`` library.

A task is an all-day event on its due day, titled with its case key and title,
described with what to do, with a reminder alarm at its rule's lead time
(``remind`` working days before, as the upcoming notice: an absolute trigger,
since a calendar app does not know the office's working days). The UID is the
task's, so a phone or Outlook subscribed to a feed updates an event when the task
moves and marks it cancelled (STATUS:CANCELLED) when the case leaves its state.

``[feeds] ics_dir``: the scheduler keeps one file per person there, named with
the person's secret feed token (``person feed-token HANDLE --new`` rotates it),
each written whole (a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.ics import PRODID, task_uid
from torchflow.domain.office import OfficeKind, Subject
from torchflow.domain.permissions import Facts
from torchflow.domain.status import TaskStatus
from torchflow.domain.timeline import timeline
from torchflow.errors import InvalidInput
from torchflow.files import PRIVATE, FileModes, make_folder, replacing
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.people.lookup import Actor, person_by_handle
from torchflow.store.models import CASES, PEOPLE, TASKS

DEFAULT_DAYS = 60
# Cancelled tasks stay in a feed this long, so subscribed calendars drop them.
CANCELLED_KEPT_DAYS = 30
# The scheduler refreshes the folder at most this often (wall clock), not every tick.
REFRESH_SECONDS = 300.0
_last_refresh: dict[tuple[int, Path], float] = {}  # per App (a process's service)
log = logging.getLogger("torchflow.feeds")

WHAT_TO_DO = {
    "contact": "Routine contact with the enterprise or partner (日常联络); log it with "
               "`torchflow case contact {key}`.",
    "visit": "Visit (不定期互访), on a working day of the window {window}; log it with "
             "`torchflow case visit {key}`.",
    "deadline": "Stage deadline: the case should leave '{state}' by this day; escalates to "
                "{escalate} when missed.",
    "duty": "Duty on a date (限期事项): done by this day, or it is missed the next working "
            "day; mark it with `torchflow task done`.",
    "each": "Your part (协办意见报送): report it to the lead handler by this day and mark it "
            "with `torchflow task done`.",
}


def _rows(s: Connection, person_id: int | None, today: date, days: int) -> list[Any]:
    horizon = today + timedelta(days=days)
    query = (select(TASKS.c.id, TASKS.c.kind, TASKS.c.rule, TASKS.c.occurrence, TASKS.c.state,
                    TASKS.c.due_on, TASKS.c.window_start, TASKS.c.window_end, TASKS.c.remind,
                    TASKS.c.escalate_to, TASKS.c.status, TASKS.c.closed_at,
                    TASKS.c.created_at, CASES.c.key, CASES.c.title, PEOPLE.c.handle)
             .select_from(TASKS.join(CASES, CASES.c.id == TASKS.c.case_id)
                          .outerjoin(PEOPLE, PEOPLE.c.id == TASKS.c.assignee_id))
             .where(TASKS.c.due_on <= horizon,
                    (TASKS.c.status == TaskStatus.OPEN)
                    | ((TASKS.c.status == TaskStatus.CANCELLED)
                       & (TASKS.c.due_on >= today - timedelta(days=CANCELLED_KEPT_DAYS))))
             .order_by(TASKS.c.due_on, TASKS.c.id))
    if person_id is not None:
        query = query.where(TASKS.c.assignee_id == person_id)
    return list(s.execute(query))


def agenda_ics(app: App, *, person: str | None = None, days: int = DEFAULT_DAYS) -> bytes:
    """The open follow-ups due within ``days`` (overdue ones too) of ``person``, or of
    everyone, and those cancelled lately, as one iCalendar document."""
    now = app.now()
    today = app.calendar.local_date(now)
    with app.db.read() as s:
        person_id = person_by_handle(s, person).id if person else None
        rows = _rows(s, person_id, today, days)
    return _calendar(app.calendar, rows, now, name=f"torchflow · {person or 'everyone'}")


def _calendar(cal: WorkCalendar, rows: list[Any], now: datetime, *, name: str) -> bytes:
    from icalendar import Alarm, Calendar, Event

    doc = Calendar()
    doc.add("prodid", PRODID)
    doc.add("version", "2.0")
    doc.add("calscale", "GREGORIAN")
    doc.add("x-wr-calname", name)
    for r in rows:
        doc.add_component(_event(cal, r, now, Event, Alarm))
    return bytes(doc.to_ical())


def _event(cal: WorkCalendar, r: Any, now: datetime, event_cls: Any, alarm_cls: Any) -> Any:
    ev = event_cls()
    ev.add("uid", task_uid(r.id))
    ev.add("dtstamp", now)
    ev.add("dtstart", r.due_on)
    ev.add("dtend", r.due_on + timedelta(days=1))
    ev.add("summary", f"{r.key} {r.title} · {r.kind}")
    window = (f"{r.window_start.isoformat()} to {r.window_end.isoformat()}"
              if r.window_start else "")
    todo = WHAT_TO_DO.get(r.kind, "").format(key=r.key, window=window, state=r.state,
                                             escalate=r.escalate_to or "the director")
    ev.add("description", f"Case {r.key}: {r.title}\n{todo}\nRule {r.rule}, occurrence "
                          f"{r.occurrence}; assigned to {r.handle or 'nobody'}.")
    ev.add("categories", [r.kind])
    ev.add("transp", "TRANSPARENT")
    if r.status == TaskStatus.CANCELLED:
        ev.add("sequence", 1)  # a revision of the event the feed showed open
        ev.add("status", "CANCELLED")
        return ev
    ev.add("status", "CONFIRMED")
    tl = timeline(cal, kind=r.kind, due_on=r.due_on, remind=r.remind)
    alarm = alarm_cls()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"{r.key} {r.title}: {r.kind} due {r.due_on.isoformat()}")
    alarm.add("trigger", tl.upcoming_at or tl.due_at)
    ev.add_component(alarm)
    return ev


def write_ics(path: Path, document: bytes, modes: FileModes = PRIVATE) -> None:
    """Whole or not at all: a reader of the folder never sees half a file. Made
    with ``modes`` ([files] group) from the start."""
    if not path.parent.is_dir():
        raise InvalidInput(_("there is no folder '{parent}' to write '{name}' in",
                             parent=path.parent, name=path.name))
    with replacing(path, modes) as tmp:
        tmp.write_bytes(document)


# --------------------------------------------------------------------------- the feed folder


def new_token() -> str:
    return secrets.token_hex(16)  # no '-': the file name splits at its last one


def feed_name(handle: str, token: str) -> str:
    return f"{handle}-{token}.ics"


def rotate_token(app: App, actor: Actor, handle: str) -> dict[str, Any]:
    """A new secret for the person's feed: the old file name stops working (its
    file is removed at the next refresh). The token is a secret (whoever knows it
    reads the feed): one's own, or an admin's to see and rotate."""
    actor.authorize("person.feed_token", Facts(subject=handle))
    token = new_token()
    with app.db.transaction() as s:
        person = person_by_handle(s, handle)
        s.execute(update(PEOPLE).where(PEOPLE.c.handle == handle).values(feed_token=token))
        office.record(s, OfficeKind.FEED_TOKEN, Subject.PERSON, person.id,
                      actor=actor or handle, at=app.now())
    return {"handle": handle, "token": token, "file": feed_name(handle, token)}


def show_token(app: App, actor: Actor, handle: str) -> dict[str, Any]:
    actor.authorize("person.feed_token", Facts(subject=handle))
    with app.db.read() as s:
        token = person_by_handle(s, handle).feed_token
    return {"handle": handle, "token": token,
            "file": feed_name(handle, token) if token else None}


def refresh_feeds(app: App, directory: Path, *, days: int = DEFAULT_DAYS) -> int:
    """Write every active person's feed into ``directory`` (a person without a
    token is given one) and remove the files of rotated tokens. Returns the files
    written. The folder is made unlistable (0700, or 0710 with [files] group),
    and one that others can list is refused: the file names are the secrets."""
    make_folder(directory, app.settings.files)
    _check_unlisted(directory)
    now = app.now()
    today = app.calendar.local_date(now)
    with app.db.transaction() as s:
        people = list(s.execute(select(PEOPLE.c.id, PEOPLE.c.handle, PEOPLE.c.feed_token)
                                .where(PEOPLE.c.active.is_(True))))
        tokens = {}
        for p in people:
            token = p.feed_token
            if not token:
                token = new_token()
                s.execute(update(PEOPLE).where(PEOPLE.c.id == p.id).values(feed_token=token))
                office.record(s, OfficeKind.FEED_TOKEN, Subject.PERSON, p.id,
                              actor=office.SYSTEM, at=now)
            tokens[p.id] = (p.handle, token)
    wanted = set()
    with app.db.read() as s:
        for person_id, (handle, token) in tokens.items():
            rows = _rows(s, person_id, today, days)
            name = feed_name(handle, token)
            write_ics(directory / name,
                      _calendar(app.calendar, rows, now, name=f"torchflow · {handle}"),
                      app.settings.files)
            wanted.add(name)
    # Only files named as feeds of these people go: a rotated token's, never others.
    handles = {h for h, _ in tokens.values()}
    for stale in directory.glob("*-*.ics"):
        if stale.name not in wanted and stale.name.rsplit("-", 1)[0] in handles:
            stale.unlink(missing_ok=True)
    return len(wanted)


def _check_unlisted(directory: Path) -> None:
    """Refuse a feed folder that anyone but its owner may list (read bit for the
    group or others): listing it shows every person's token."""
    mode = directory.stat().st_mode & 0o777
    if mode & 0o044:
        raise InvalidInput(_("the feed folder {folder} can be listed by others (mode {mode:o}), "
                             "which shows every person's feed token; make it unlistable: "
                             "chmod go-r {folder}", folder=directory, mode=mode))


def refresh_if_due(app: App, directory: Path) -> int | None:
    """The scheduler's hook: refresh the folder when the last refresh of this
    process is ``REFRESH_SECONDS`` old (or none was made). A folder that cannot be
    written is logged, and the tick goes on."""
    mark = (id(app), directory)
    last = _last_refresh.get(mark)
    if last is not None and time.monotonic() - last < REFRESH_SECONDS:
        return None
    try:
        written = refresh_feeds(app, directory)
    except OSError as exc:
        log.warning("calendar feeds not written to %s: %s", directory, exc.strerror or exc)
        return None
    except InvalidInput as exc:  # a folder others may list
        log.warning("calendar feeds not written: %s", exc.text)
        return None
    _last_refresh[mark] = time.monotonic()
    return written
