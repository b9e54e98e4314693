"""Requests (诉求): a case of the `enterprise_request` workflow, opened on its own
(`request open ENTERPRISE`) or raised on a visit or contact of another case
(`case visit KEY --request ...`). A request keeps its link to both: its
`enterprise` field links it to the enterprise's record, `source_case` and
`source_event` name the visit or contact it was raised on. The loop itself
(assign, sign for, handle, answer, call back, close) is the workflow file's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from torchflow.domain.text import TITLE_MAX, check_block, check_line
from torchflow.errors import InvalidInput, Refused
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.cases.change import open_in
from torchflow.service.cases.rows import load_case
from torchflow.service.enterprises.records import find_enterprise, linked_enterprise
from torchflow.service.followups.work import log_in
from torchflow.service.people.lookup import Actor

WORKFLOW = "enterprise_request"


def open_request(app: App, actor: Actor, enterprise: str, *, request: str, category: str,
                 owner: str | None = None) -> dict[str, Any]:
    """A request the enterprise raised (by phone, a letter, the hotline)."""
    title = _title(request)
    now = app.now()
    with app.db.transaction() as s:
        name = find_enterprise(s, enterprise).name
        return open_in(app, s, actor, WORKFLOW, title=title, owner=owner,
                       fields={"enterprise": name, "category": category}, now=now)


def log_with_requests(app: App, actor: Actor, key: str, kind: str, *,
                      requests: Sequence[str] = (), category: str | None = None,
                      note: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """A contact or visit logged on case ``key`` and the requests the enterprise
    raised on it opened, in one transaction: all of them or none."""
    titles = [_title(r) for r in requests]
    if titles and not category:
        raise InvalidInput(_("a request needs its category: --category land (用地), power, "
                             "financing, permit, talent_housing, policy or other"))
    note = check_block(note, _("the note")) if note else note
    now = app.now()
    with app.db.transaction() as s:
        enterprise = linked_enterprise(s, load_case(s, key).id) if titles else None
        if titles and enterprise is None:
            raise Refused(_("{key} is linked to no enterprise, so a request raised on it "
                            "has nowhere to go; link it first (`torchflow enterprise link`, "
                            "or an enterprise field) or use `torchflow request open`",
                            key=key))
        logged = log_in(app, s, actor, key, kind, note=note, at=at, now=now)
        name = enterprise.name if enterprise is not None else ""
        opened = [open_in(app, s, actor, WORKFLOW, title=title, owner=None, now=now,
                          fields={"enterprise": name, "category": str(category),
                                  "source_case": logged["key"],
                                  "source_event": str(logged["event"])})["key"]
                  for title in titles]
    return {**logged, "requests": opened}


def _title(request: str) -> str:
    if not request.strip():
        raise InvalidInput(_("the request is empty; write what the enterprise asks for, "
                             "e.g. \"扩产需新增用地30亩\""))
    return check_line(request.strip(), _("the request"), TITLE_MAX)
