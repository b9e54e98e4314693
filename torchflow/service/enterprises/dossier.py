"""`enterprise show`: an enterprise's file (一企一档). Its record and contacts, the
cases that name it (open and closed), the contacts and visits logged on them
with their notes, and its requests (诉求) with how each ended. Read only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from torchflow.domain.status import EventKind
from torchflow.service.app import App
from torchflow.service.enterprises.records import enterprise_view, find_enterprise
from torchflow.store.models import CASE_ENTERPRISES, CASES, EVENTS, PEOPLE

REQUEST_WORKFLOW = "enterprise_request"
VISITS_SHOWN = 50


def show_enterprise(app: App, enterprise: str) -> dict[str, Any]:
    with app.db.read() as s:
        row = find_enterprise(s, enterprise)
        view = enterprise_view(s, app, row.id)
        cases = _cases(s, app, row.id)
        plain = [c for c in cases if c["workflow"] != REQUEST_WORKFLOW]
        requests = [_request(c) for c in cases if c["workflow"] == REQUEST_WORKFLOW]
        raised: dict[tuple[str, int], list[str]] = {}
        for r in requests:
            if r["raised_on"] and r["raised_on_event"] is not None:
                raised.setdefault((r["raised_on"], int(r["raised_on_event"])), []).append(r["key"])
        return {
            **view,
            "open_cases": [c for c in plain if c["closed_at"] is None],
            "closed_cases": [c for c in plain if c["closed_at"] is not None],
            "followups": _followups(s, app, [c["id"] for c in plain], raised),
            "requests": requests,
        }


def _cases(s: Connection, app: App, enterprise_id: int) -> list[dict[str, Any]]:
    rows = s.execute(
        select(CASES.c.id, CASES.c.key, CASES.c.workflow, CASES.c.workflow_version_id,
               CASES.c.state, CASES.c.title, CASES.c.fields, CASES.c.opened_at,
               CASES.c.closed_at, PEOPLE.c.handle.label("owner"))
        .join(CASE_ENTERPRISES, CASE_ENTERPRISES.c.case_id == CASES.c.id)
        .outerjoin(PEOPLE, PEOPLE.c.id == CASES.c.owner_id)
        .where(CASE_ENTERPRISES.c.enterprise_id == enterprise_id)
        .distinct().order_by(CASES.c.opened_at, CASES.c.id))
    found = []
    for r in rows:
        state = app.registry.by_id(s, r.workflow_version_id).spec.states.get(r.state)
        found.append({"id": r.id, "key": r.key, "workflow": r.workflow, "state": r.state,
                      "state_title": state.title if state else r.state, "title": r.title,
                      "owner": r.owner, "fields": dict(r.fields or {}),
                      "opened_at": app.local(r.opened_at), "closed_at": app.local(r.closed_at)})
    return found


def _followups(s: Connection, app: App, case_ids: list[int],
               raised: dict[tuple[str, int], list[str]]) -> list[dict[str, Any]]:
    """The contacts and visits logged on the enterprise's cases, newest first, with
    the requests raised on each."""
    if not case_ids:
        return []
    rows = s.execute(
        select(CASES.c.key, EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.actor, EVENTS.c.at, EVENTS.c.data)
        .join(CASES, CASES.c.id == EVENTS.c.case_id)
        .where(EVENTS.c.case_id.in_(case_ids),
               EVENTS.c.kind.in_((EventKind.CONTACT, EventKind.VISIT)))
        .order_by(EVENTS.c.at.desc(), EVENTS.c.id.desc()).limit(VISITS_SHOWN))
    return [{"key": r.key, "kind": r.kind, "by": r.actor,
             "at": app.local(datetime.fromisoformat((r.data or {}).get("at") or r.at.isoformat())),
             "note": (r.data or {}).get("note"), "event": r.seq,
             "requests": raised.get((r.key, r.seq), [])} for r in rows]


def _request(case: dict[str, Any]) -> dict[str, Any]:
    fields = case["fields"]
    return {"key": case["key"], "title": case["title"], "category": fields.get("category"),
            "state": case["state"], "state_title": case["state_title"],
            "satisfaction": fields.get("satisfaction"), "raised_on": fields.get("source_case"),
            "raised_on_event": fields.get("source_event"), "returns": fields.get("returns"),
            "extensions": fields.get("extensions"), "rehandles": fields.get("rehandles"),
            "opened_at": case["opened_at"], "closed_at": case["closed_at"]}
