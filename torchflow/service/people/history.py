"""`person history HANDLE`: who changed a person, their logins, roles, notice
settings, feed token, absences and access tokens, and when, read from the
office chain (service/audit/office.py); `person show` takes the role history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from torchflow.domain.office import Subject, as_record, walk
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.people.lookup import person_by_handle
from torchflow.store.models import PEOPLE

# Values kept as digests: a change is shown, its value is not.
_DIGESTS = frozenset({"feed_token", "secret_hash", "source"})
_PEOPLE_IDS = frozenset({"person_id", "substitute_id"})
_EMPTY: tuple[Any, ...] = (None, "", [], {})
# What a new subject's first event says without being told: whose, by whom, when.
_IMPLIED = frozenset({"handle", "person_id", "created_by", "created_at", "active",
                      "secret_hash"})


def person_history(app: App, handle: str) -> dict[str, Any]:
    """Every change of HANDLE's own data, oldest first."""
    with app.db.read() as s:
        person = person_by_handle(s, handle)
        return {"handle": person.handle, "events": history_of(app, s, person.id)}


def history_of(app: App, s: Connection, person_id: int) -> list[dict[str, Any]]:
    handles = dict(s.execute(select(PEOPLE.c.id, PEOPLE.c.handle)).all())
    out = []
    for ev, changed in walk([as_record(r) for r in office.events(s, person_id)]):
        out.append({
            "seq": ev.seq, "at": app.local(ev.at), "kind": ev.kind, "subject": ev.from_state,
            "subject_id": int(ev.to_state or 0), "actor": ev.actor,
            "entered_by": ev.entered_by, "auth": ev.auth,
            "changes": [_change(app, name, was, now, handles) for name, was, now in changed
                        if not (was is None and (now in _EMPTY or name in _IMPLIED))],
        })
    return out


def _change(app: App, name: str, was: Any, now: Any, handles: dict[int, str]
            ) -> dict[str, Any]:
    if name in _DIGESTS:
        return {"field": name, "was": None, "now": None}
    if name in _PEOPLE_IDS:
        was, now = handles.get(was, was), handles.get(now, now)
    if name.endswith("_at"):
        was, now = _local(app, was), _local(app, now)
    return {"field": name, "was": was, "now": now}


def _local(app: App, value: Any) -> Any:
    return app.local(datetime.fromisoformat(value)) if isinstance(value, str) else value


def role_history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who gave or took which role, and when (`person show`)."""
    return [{"at": e["at"], "actor": e["actor"], "entered_by": e["entered_by"],
             "was": c["was"] or [], "now": c["now"] or []}
            for e in events if e["subject"] == Subject.PERSON.value
            for c in e["changes"] if c["field"] == "roles"]
