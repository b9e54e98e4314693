"""`enterprise import` and `enterprise export`: the office's enterprise ledger
(企业台账) as a spreadsheet. Every row is checked before any is written; then
all are written in one transaction, an enterprise found by its credit code
(else its name) updated, a new one added. What export writes imports again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from torchflow.domain import enterprises as rules
from torchflow.domain import sheets
from torchflow.errors import InvalidInput, TorchflowError
from torchflow.i18n import Listing, Text, _
from torchflow.service.app import App
from torchflow.service.enterprises.records import existing_id, save_enterprise
from torchflow.service.people.lookup import Actor, active_person
from torchflow.service.sheets.files import read_rows, write_sheets
from torchflow.store.models import ENTERPRISE_CONTACTS, ENTERPRISES, PEOPLE

# (key, the header written, other headers offices use)
COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("name", "企业名称", ("name", "enterprise", "单位名称", "企业")),
    ("credit_code", "统一社会信用代码", ("credit code", "信用代码", "社会信用代码")),
    ("district", "所在区域", ("district", "区域", "园区", "所在园区", "所在地区", "板块")),
    ("industry", "所属行业", ("industry", "行业")),
    ("tags", "企业标签", ("tags", "标签", "企业类型")),
    ("coordinator", "挂钩联系人", ("coordinator", "包联干部", "挂钩干部", "联系干部")),
    ("contact", "联系人", ("contact", "企业联系人")),
    ("position", "职务", ("position",)),
    ("phone", "联系电话", ("phone", "电话", "手机")),
    ("more_contacts", "其他联系人", ("more contacts",)),
)
ERRORS_SHOWN = 5


def import_enterprises(app: App, actor: Actor, path: Path, *,
                       dry_run: bool = False) -> dict[str, Any]:
    actor.authorize("enterprise.edit")
    rows = read_rows(path)
    columns = _columns(next(rows, None), path)
    checked, errors, warnings = [], [], []
    with app.db.transaction() as s:
        for number, cells in enumerate(rows, start=2):
            given = {key: sheets.cell_text(cells[i]) for i, key in enumerate(columns)
                     if key and i < len(cells)}
            if not any(given.values()):
                continue
            try:
                values, contacts = _row(given)
                if given.get("coordinator"):
                    values["coordinator_id"] = active_person(
                        s, given["coordinator"], _("name as the coordinator")).id
            except TorchflowError as exc:
                errors.append(_("row {row}: {problem}", row=number, problem=exc.text))
                continue
            if values.get("credit_code") and (w := rules.code_warning(values["credit_code"])):
                warnings.append(_("row {row}: {problem}", row=number, problem=w))
            checked.append((values, contacts))
        if errors:
            more = len(errors) - ERRORS_SHOWN
            shown: list[Text] = errors[:ERRORS_SHOWN]
            if more > 0:
                shown.append(_("{count} more", count=more))
            raise InvalidInput(_("{file}: nothing imported; {problems}", file=path.name,
                                 problems=Listing(shown, "clauses")))
        added = updated = 0
        now = app.now()
        for values, contacts in checked:
            if dry_run:
                new = existing_id(s, values) is None
            else:
                _id, new = save_enterprise(s, values, contacts, by=actor.handle, now=now)
            added, updated = added + new, updated + (not new)
    return {"file": path.name, "added": added, "updated": updated, "dry_run": dry_run,
            "warnings": warnings}


def _columns(head: list[Any] | None, path: Path) -> list[str | None]:
    if head is None:
        raise InvalidInput(_("{file} is empty; give a header row: 企业名称, 统一社会信用代码, ...",
                             file=path.name))
    known = {spelling: key for key, title, others in COLUMNS
             for spelling in sheets.names_of(key, title, *others)}
    columns = [known.get(sheets.normal(sheets.cell_text(c))) for c in head]
    if "name" not in columns:
        raise InvalidInput(_("{file} has no column 企业名称 (the enterprise's name); the header "
                             "row names the columns", file=path.name))
    return columns


def _row(given: dict[str, str]) -> tuple[dict[str, Any], list[rules.Contact]]:
    values: dict[str, Any] = {"name": rules.check_name(given.get("name", ""))}
    code = given.get("credit_code", "")
    values["credit_code"] = rules.normal_code(code) if code else None
    for key, what in (("district", _("the district or park")), ("industry", _("the industry"))):
        if key in given:
            values[key] = rules.check_place(given[key], what)
    if given.get("tags"):
        values["tags"] = rules.tags_of([given["tags"]])
    contacts = []
    if given.get("contact") or given.get("phone"):
        who = given.get("contact", "")
        if given.get("position"):
            who += "/" + given["position"]
        contacts.append(rules.parse_contact(f"{who}={given.get('phone', '')}"))
    for more in re.split(r"[；;]", given.get("more_contacts", "")):
        if more.strip():
            contacts.append(rules.parse_contact(more))
    return values, contacts


def export_enterprises(app: App, out: Path) -> dict[str, Any]:
    with app.db.read() as s:
        contacts: dict[int, list[Any]] = {}
        for c in s.execute(select(ENTERPRISE_CONTACTS).order_by(ENTERPRISE_CONTACTS.c.id)):
            contacts.setdefault(c.enterprise_id, []).append(c)
        rows = list(s.execute(
            select(ENTERPRISES, PEOPLE.c.handle.label("coordinator"))
            .outerjoin(PEOPLE, PEOPLE.c.id == ENTERPRISES.c.coordinator_id)
            .order_by(ENTERPRISES.c.name)))
    header = [title for _key, title, _others in COLUMNS]
    count = write_sheets(out, [("企业台账", header, _cells(rows, contacts))])
    return {"file": out.name, "rows": count, "what": "enterprises"}


def _cells(rows: list[Any], contacts: dict[int, list[Any]]) -> Iterator[list[Any]]:
    for r in rows:
        first, *others = contacts.get(r.id) or [None]
        yield [r.name, r.credit_code, r.district, r.industry, "、".join(r.tags or ()),
               r.coordinator, first.name if first else None, first.position if first else None,
               first.phone if first else None,
               "；".join(_contact_text(c) for c in others if c is not None)]


def _contact_text(c: Any) -> str:
    return f"{c.name}/{c.position}={c.phone}" if c.position else f"{c.name}={c.phone}"
