"""Enterprises as records (一企一档): add, edit, list, find one by name or credit
code. THE WRITER of enterprises, enterprise_contacts and case_enterprises (the
links from a case's field to an enterprise): every other module calls in here.

A credit code whose check character fails is kept, with a warning in the
result: codes from the early pilot regions are legal and fail it
(domain/enterprises.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from torchflow.domain import enterprises as rules
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import Conflict, InvalidInput, NotFound
from torchflow.i18n import Text, _
from torchflow.service.app import App
from torchflow.service.paging import Page, fetch_page
from torchflow.service.people.lookup import Actor, active_person
from torchflow.store.models import CASE_ENTERPRISES, ENTERPRISE_CONTACTS, ENTERPRISES, PEOPLE


def find_enterprise(s: Connection, typed: str) -> Any:
    """The enterprise ``typed`` names: its credit code, or its exact name."""
    text = typed.strip()
    query = select(ENTERPRISES)
    if rules.looks_like_code(text):
        code = rules.normal_code(text)
        query = query.where(or_(ENTERPRISES.c.credit_code == code, ENTERPRISES.c.name == text))
    else:
        query = query.where(ENTERPRISES.c.name == text)
    row = s.execute(query).first()
    if row is None:
        raise NotFound(_("no enterprise named {typed} or with that credit code; see `torchflow "
                         "enterprise list`, or add it with `torchflow enterprise add`",
                         typed=repr(text)))
    return row


def add_enterprise(
    app: App, actor: Actor, name: str, *, credit_code: str | None = None, district: str = "",
    industry: str = "", tags: Sequence[str] = (), coordinator: str | None = None,
    contacts: Sequence[str] = (),
) -> dict[str, Any]:
    """A new enterprise; the result carries ``warnings`` (a failing check character)."""
    actor.authorize("enterprise.edit")
    values, warnings = _checked(name=name, credit_code=credit_code, district=district,
                                industry=industry)
    values["tags"] = rules.tags_of(list(tags))
    people = [rules.parse_contact(c) for c in contacts]
    now = app.now()
    with app.db.transaction() as s:
        values["coordinator_id"] = _coordinator_id(s, coordinator)
        _unique(s, values, None)
        enterprise_id = s.execute(insert(ENTERPRISES).values(
            **values, created_by=actor.handle, created_at=now, updated_at=now,
        ).returning(ENTERPRISES.c.id)).scalar_one()
        _add_contacts(s, enterprise_id, people)
        return {**enterprise_view(s, app, enterprise_id), "warnings": warnings}


def edit_enterprise(
    app: App, actor: Actor, enterprise: str, *, name: str | None = None,
    credit_code: str | None = None, district: str | None = None, industry: str | None = None,
    add_tags: Sequence[str] = (), remove_tags: Sequence[str] = (),
    coordinator: str | None = None, add_contacts: Sequence[str] = (),
    remove_contacts: Sequence[str] = (),
) -> dict[str, Any]:
    """Change what is given; an empty credit code or coordinator clears it."""
    actor.authorize("enterprise.edit")
    values, warnings = _checked(name=name, credit_code=credit_code, district=district,
                                industry=industry)
    people = [rules.parse_contact(c) for c in add_contacts]
    with app.db.transaction() as s:
        row = find_enterprise(s, enterprise)
        if add_tags or remove_tags:
            gone = set(rules.tags_of(list(remove_tags)))
            values["tags"] = [t for t in rules.tags_of([*row.tags, *add_tags]) if t not in gone]
        if coordinator is not None:
            values["coordinator_id"] = _coordinator_id(s, coordinator)
        _unique(s, values, row.id)
        if not values and not people and not remove_contacts:
            raise InvalidInput(_("nothing to change; give what changes, e.g. --district 新吴区"))
        s.execute(update(ENTERPRISES).where(ENTERPRISES.c.id == row.id)
                  .values(**values, updated_at=app.now()))
        _remove_contacts(s, row.id, remove_contacts)
        _add_contacts(s, row.id, people)
        return {**enterprise_view(s, app, row.id), "warnings": warnings}


def _checked(**given: str | None) -> tuple[dict[str, Any], list[Text]]:
    """The given values as stored (None: not given), and the credit code's warning."""
    values: dict[str, Any] = {}
    warnings: list[Text] = []
    if given["name"] is not None:
        values["name"] = rules.check_name(given["name"])
    code = given["credit_code"]
    if code is not None:
        values["credit_code"] = rules.normal_code(code) if code.strip() else None
        if values["credit_code"] and (warning := rules.code_warning(values["credit_code"])):
            warnings.append(warning)
    if given["district"] is not None:
        values["district"] = rules.check_place(given["district"], _("the district or park"))
    if given["industry"] is not None:
        values["industry"] = rules.check_place(given["industry"], _("the industry"))
    return values, warnings


def _coordinator_id(s: Connection, typed: str | None) -> int | None:
    if not typed or not typed.strip():
        return None
    return int(active_person(s, typed, _("name as the coordinator")).id)


def _unique(s: Connection, values: Mapping[str, Any], own_id: int | None) -> None:
    """A name or credit code already another enterprise's is refused, naming it."""
    for column, what in (("name", _("the name")), ("credit_code", _("the credit code"))):
        if not values.get(column):
            continue
        other = s.execute(select(ENTERPRISES.c.name).where(
            ENTERPRISES.c[column] == values[column],
            ENTERPRISES.c.id != (own_id or 0))).scalar()
        if other is not None:
            raise Conflict(_("{what} {value} is {other}'s already; edit that enterprise "
                             "instead (`torchflow enterprise edit`)", what=what,
                             value=repr(values[column]), other=other))


def _add_contacts(s: Connection, enterprise_id: int, people: Iterable[rules.Contact]) -> None:
    """A contact of the same name is replaced (a new phone, a new position)."""
    for person in people:
        s.execute(delete(ENTERPRISE_CONTACTS).where(
            ENTERPRISE_CONTACTS.c.enterprise_id == enterprise_id,
            ENTERPRISE_CONTACTS.c.name == person.name))
        s.execute(insert(ENTERPRISE_CONTACTS).values(
            enterprise_id=enterprise_id, name=person.name, position=person.position,
            phone=person.phone))


def _remove_contacts(s: Connection, enterprise_id: int, names: Iterable[str]) -> None:
    for name in names:
        gone = s.execute(delete(ENTERPRISE_CONTACTS).where(
            ENTERPRISE_CONTACTS.c.enterprise_id == enterprise_id,
            ENTERPRISE_CONTACTS.c.name == name.strip())).rowcount
        if not gone:
            raise NotFound(_("the enterprise has no contact named {name}", name=repr(name)))


def existing_id(s: Connection, values: Mapping[str, Any]) -> int | None:
    """The enterprise a row of a sheet is: by its credit code, else by its name."""
    key = (ENTERPRISES.c.credit_code == values["credit_code"]) if values.get("credit_code") \
        else (ENTERPRISES.c.name == values["name"])
    return s.execute(select(ENTERPRISES.c.id).where(key)).scalar()


def save_enterprise(s: Connection, values: Mapping[str, Any], contacts: Sequence[rules.Contact],
                    *, by: str, now: datetime) -> tuple[int, bool]:
    """An imported row: the enterprise with its credit code (else its name) updated,
    or added. Returns its id and whether it is new."""
    found = existing_id(s, values)
    _unique(s, values, found)
    new = found is None
    if found is None:
        found = s.execute(insert(ENTERPRISES).values(
            **values, created_by=by, created_at=now, updated_at=now,
        ).returning(ENTERPRISES.c.id)).scalar_one()
    else:
        s.execute(update(ENTERPRISES).where(ENTERPRISES.c.id == found)
                  .values(**values, updated_at=now))
    _add_contacts(s, found, contacts)
    return int(found), new


def list_enterprises(
    app: App, *, tag: str | None = None, district: str | None = None,
    coordinator: str | None = None, search: str | None = None, limit: int = 500,
    offset: int = 0,
) -> Page:
    """Enterprises by name, filtered by a tag, a district, a coordinator's handle
    or a part of the name or code."""
    query = (select(ENTERPRISES, PEOPLE.c.handle.label("coordinator"))
             .outerjoin(PEOPLE, PEOPLE.c.id == ENTERPRISES.c.coordinator_id)
             .order_by(ENTERPRISES.c.name))
    if district:
        query = query.where(ENTERPRISES.c.district == district.strip())
    if coordinator:
        query = query.where(or_(PEOPLE.c.handle == coordinator.strip(),
                                PEOPLE.c.name == coordinator.strip()))
    if search:
        like = f"%{search.strip().upper()}%"
        query = query.where(or_(func.upper(ENTERPRISES.c.name).like(like),
                                ENTERPRISES.c.credit_code.like(like)))
    with app.db.read() as s:
        if not tag:
            return fetch_page(s, query, limit=limit, offset=offset, view=_row_view)
        # Tags are a short JSON list: filtered here, the same on both databases.
        [wanted] = rules.tags_of([tag]) or [""]
        rows = [_row_view(r) for r in s.execute(query) if wanted in (r.tags or ())]
        return Page(rows[offset:offset + limit], total=len(rows), limit=limit, offset=offset)


def _row_view(r: Any) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "credit_code": r.credit_code, "district": r.district,
            "industry": r.industry, "tags": list(r.tags or ()), "coordinator": r.coordinator}


def enterprise_view(s: Connection, app: App, enterprise_id: int) -> dict[str, Any]:
    """An enterprise's record with its contacts (what add, edit and show return)."""
    row = s.execute(select(ENTERPRISES, PEOPLE.c.handle.label("coordinator"),
                           PEOPLE.c.name.label("coordinator_name"))
                    .outerjoin(PEOPLE, PEOPLE.c.id == ENTERPRISES.c.coordinator_id)
                    .where(ENTERPRISES.c.id == enterprise_id)).one()
    contacts = s.execute(select(ENTERPRISE_CONTACTS).where(
        ENTERPRISE_CONTACTS.c.enterprise_id == enterprise_id).order_by(ENTERPRISE_CONTACTS.c.id))
    code = row.credit_code
    return {**_row_view(row), "coordinator_name": row.coordinator_name,
            "code_check": None if code is None else rules.code_warning(code) is None,
            "contacts": [{"name": c.name, "position": c.position, "phone": c.phone}
                         for c in contacts],
            "created_at": app.local(row.created_at), "updated_at": app.local(row.updated_at)}


# --- links from cases ---------------------------------------------------------------------------

def link(s: Connection, case_id: int, field: str, enterprise_id: int | None, *, by: str,
         now: datetime) -> None:
    """Case ``case_id``'s ``field`` names ``enterprise_id`` (None: no enterprise)."""
    s.execute(delete(CASE_ENTERPRISES).where(CASE_ENTERPRISES.c.case_id == case_id,
                                             CASE_ENTERPRISES.c.field == field))
    if enterprise_id is not None:
        s.execute(insert(CASE_ENTERPRISES).values(case_id=case_id, field=field,
                                                  enterprise_id=enterprise_id, linked_by=by,
                                                  linked_at=now))


def link_fields(s: Connection, spec: WorkflowSpec, case_id: int, changed: Mapping[str, Any],
                *, by: str, now: datetime) -> None:
    """The links of a case's `enterprise` fields that changed (their values are the
    enterprises' names, as ``coerce`` left them)."""
    for name, value in changed.items():
        field = spec.fields.get(name)
        if field is None or field.type != "enterprise":
            continue
        enterprise_id = None if value is None else s.execute(
            select(ENTERPRISES.c.id).where(ENTERPRISES.c.name == value)).scalar_one()
        link(s, case_id, name, enterprise_id, by=by, now=now)


def linked_enterprise(s: Connection, case_id: int) -> Any | None:
    """The enterprise a case names (its first linked field), or None."""
    return s.execute(select(ENTERPRISES).join(
        CASE_ENTERPRISES, CASE_ENTERPRISES.c.enterprise_id == ENTERPRISES.c.id)
        .where(CASE_ENTERPRISES.c.case_id == case_id)
        .order_by(CASE_ENTERPRISES.c.field)).first()
