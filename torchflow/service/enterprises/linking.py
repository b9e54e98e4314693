"""`enterprise link`: cases whose enterprise was typed as text, before enterprises
were records, linked to the record of the same name or credit code. A dry run
says what would be linked and what matches nothing, and writes nothing.

Names are compared as people type them loosely: full-width and half-width
forms alike (（） and ()), spaces around ignored, letter case forgiven. A case
whose name and code name two different enterprises is left alone and listed.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import select

from torchflow.domain import enterprises as rules
from torchflow.errors import InvalidInput
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.enterprises.records import link
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASE_ENTERPRISES, CASES, ENTERPRISES


def loose(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def link_cases(app: App, actor: Actor, *, field: str = "enterprise",
               code_field: str = "credit_code", workflow: str | None = None,
               dry_run: bool = False) -> dict[str, Any]:
    """Link every case whose ``field`` (a name) or ``code_field`` (a credit code)
    matches one enterprise and is not linked on ``field`` yet."""
    actor.authorize("enterprise.link")
    now = app.now()
    with app.db.transaction() as s:
        known = list(s.execute(select(ENTERPRISES.c.id, ENTERPRISES.c.name,
                                      ENTERPRISES.c.credit_code)))
        by_name = {loose(e.name): e for e in known}
        by_code = {e.credit_code: e for e in known if e.credit_code}
        linked = set(s.scalars(select(CASE_ENTERPRISES.c.case_id)
                               .where(CASE_ENTERPRISES.c.field == field)))
        query = select(CASES.c.id, CASES.c.key, CASES.c.fields).order_by(CASES.c.id)
        if workflow:
            query = query.where(CASES.c.workflow == workflow)
        result: dict[str, Any] = {"dry_run": dry_run, "field": field, "linked": [],
                                  "unmatched": [], "conflicts": [], "already": 0}
        seen = 0
        for case in s.execute(query):
            fields = case.fields or {}
            name, code = fields.get(field), fields.get(code_field)
            if name is None and code is None:
                continue
            seen += 1
            if case.id in linked:
                result["already"] += 1
                continue
            match = _match(by_name, by_code, name, code)
            if match is None:
                result["unmatched"].append({"key": case.key, "name": name, "code": code})
            elif isinstance(match, dict):
                result["conflicts"].append({"key": case.key, "name": name, "code": code,
                                            **match})
            else:
                enterprise, how = match
                result["linked"].append({"key": case.key, "enterprise": enterprise.name,
                                         "by": how})
                if not dry_run:
                    link(s, case.id, field, enterprise.id, by=actor.handle, now=now)
        if not seen:
            raise InvalidInput(_("no case has a field {field} or {code_field}; name the fields "
                                 "that hold the enterprise, e.g. --field enterprise "
                                 "--code-field credit_code", field=repr(field),
                                 code_field=repr(code_field)))
        return result


def _match(by_name: dict[str, Any], by_code: dict[str, Any], name: Any, code: Any) -> Any:
    """(enterprise, "code" | "name"); the two enterprises' names when the name and
    the code disagree; or None."""
    of_name = by_name.get(loose(str(name))) if name else None
    of_code = None
    if code and rules.looks_like_code(str(code)):
        of_code = by_code.get(rules.normal_code(str(code)))
    if of_name is not None and of_code is not None and of_name.id != of_code.id:
        return {"by_name": of_name.name, "by_code": of_code.name}
    if of_code is not None:
        return of_code, "code"
    return (of_name, "name") if of_name is not None else None
