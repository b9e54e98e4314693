"""An office's spreadsheet moved in: a workflow's template, its rows imported as
cases (created, updated or left alone by their external reference), and the
office's staff list.

Two passes over the file. The first checks every row (domain/sheets.py, with
``coerce_value`` and the text limits, as ``case open`` does) and classifies it
against the cases stored, writing nothing: every bad row is reported at once,
and a dry run stops there. The second writes, a chunk of rows per transaction:
new cases with one executemany each for cases, tasks and events
(``events.append_events``: one head bump per chunk, the chain as
``append_event`` makes it); a changed row goes through ``append_event`` with
the follow-up effects of a field change, as ``case set`` does. Each chunk stands
alone, so a run stopped half-way is finished by running it again.

A case imported in a state entered on a past day has its visits and deadlines
planned from that day, as if it had entered then: what is overdue is overdue, and
the sweep's catch-up (domain/timeline.notices_due) sends one notice per task, the
latest stage, not every reminder missed. Its contacts start at the slot in
progress at import time (``planning.plan_roll``'s ``following``): the contacts
due before the office used torchflow were not missed in torchflow, so the first
sweep records none.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Connection, insert, select

from torchflow.domain import sheets
from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.permissions import ADMIN
from torchflow.domain.planning import PlannedTask, counted_from, plan_next, plan_roll
from torchflow.domain.rules import ContactRule, Rule, VisitRule
from torchflow.domain.status import EventKind
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import InvalidInput, Problems
from torchflow.service.app import App
from torchflow.service.cases.events import (
    NewEvent,
    append_event,
    append_events,
    insert_cases,
    next_keys,
)
from torchflow.service.cases.rows import CaseRow
from torchflow.service.followups import writer as followups
from torchflow.service.people.checks import check_channel, check_person, named_roles
from torchflow.service.people.lookup import Actor, admins
from torchflow.service.sheets.files import read_rows, write_sheets
from torchflow.service.workflows.registry import Pinned
from torchflow.store.models import CASES, PEOPLE

CHUNK = 1000
MAX_SHOWN_PROBLEMS = 200


def write_template(app: App, workflow: str, out: Path) -> dict[str, Any]:
    spec = app.registry.file(workflow)
    header = [title for _, title in sheets.template_columns(spec)]
    write_sheets(out, [(spec.name, header, [sheets.hint_row(spec)])], app.settings.files)
    return {"workflow": spec.name, "file": str(out), "columns": header}


@dataclass
class ImportResult:
    file: str
    workflow: str
    dry_run: bool
    created: list[str] = field(default_factory=list)  # external references
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    bad: int = 0
    bad_file: str | None = None

    def view(self) -> dict[str, Any]:
        return {"file": self.file, "workflow": self.workflow, "dry_run": self.dry_run,
                "created": len(self.created), "updated": len(self.updated),
                "unchanged": self.unchanged, "bad": self.bad, "bad_file": self.bad_file}


Progress = Callable[[int], None]


def import_cases(
    app: App, actor: Actor, workflow: str, path: Path, *, sheet: str | None = None,
    dry_run: bool = False, skip_bad: Path | None = None,
    progress: Callable[[int], Progress] | None = None,
) -> ImportResult:
    """Import the rows of ``path`` as cases of ``workflow``. ``progress(total)``
    gives a callback told how many rows each written chunk held."""
    now = app.now()
    today = app.calendar.local_date(now)
    pinned: Pinned | None = None
    if dry_run:  # pinning would store the version on first use: a dry run writes nothing
        spec = app.registry.file(workflow)
        with app.db.read() as s:
            people = _people(s)
    else:
        with app.db.transaction() as s:
            pinned = app.registry.current(s, workflow, now)
            people = _people(s)
        spec = pinned.spec
    result = ImportResult(str(path), spec.name, dry_run)
    if dry_run:
        return _import(app, actor, pinned, spec, path, sheet, today, now, people, result,
                       None, skip_bad, progress)
    with tempfile.TemporaryFile(prefix="torchflow-import-") as spill:
        return _import(app, actor, pinned, spec, path, sheet, today, now, people, result,
                       spill, skip_bad, progress)


def _import(
    app: App, actor: Actor, pinned: Pinned | None, spec: WorkflowSpec, path: Path,
    sheet: str | None, today: date, now: datetime, people: dict[str, tuple[int, bool]],
    result: ImportResult, spill: IO[bytes] | None, skip_bad: Path | None,
    progress: Callable[[int], Progress] | None,
) -> ImportResult:
    header, bad_rows, good = _check(app, spec, path, sheet, today, people, result, spill)
    result.bad = len(bad_rows)
    if bad_rows and skip_bad is None:
        problems = [str(p) for r in bad_rows for p in r.problems]
        shown = problems[:MAX_SHOWN_PROBLEMS]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more problem(s); "
                         "fix these first, or import the good rows with --skip-bad FILE")
        raise Problems(shown)
    if pinned is None or spill is None:
        return result
    if bad_rows and skip_bad is not None:
        _write_bad(app, skip_bad, header, bad_rows)
        result.bad_file = str(skip_bad)
    tick = progress(good) if progress else None
    label = path.name
    planner = _Planner(app.calendar, now)
    for chunk in _spilled(spill):
        with app.db.transaction() as s:
            _write_chunk(app, s, actor, pinned, chunk, label, people, planner)
        if tick:
            tick(len(chunk))
    return result


def _people(s: Connection) -> dict[str, tuple[int, bool]]:
    return {h: (i, bool(a)) for h, i, a in
            s.execute(select(PEOPLE.c.handle, PEOPLE.c.id, PEOPLE.c.active))}


def _active(people: dict[str, tuple[int, bool]]) -> dict[str, bool]:
    return {h: a for h, (_, a) in people.items()}


def _rows(spec: WorkflowSpec, path: Path, sheet: str | None
          ) -> tuple[sheets.Header, Iterator[tuple[int, list[Any]]]]:
    rows = read_rows(path, sheet)
    head = next(rows, None)
    if head is None:
        raise InvalidInput(f"'{path.name}' is empty; start from `torchflow import template`")
    header = sheets.match_header(head, spec)

    def body() -> Iterator[tuple[int, list[Any]]]:
        for number, cells in enumerate(rows, start=2):
            if number == 2 and sheets.is_hint(cells):
                continue
            if any(sheets.cell_text(c) for c in cells):
                yield number, cells
    return header, body()


def _check(
    app: App, spec: WorkflowSpec, path: Path, sheet: str | None, today: date,
    people: dict[str, tuple[int, bool]], result: ImportResult, spill: IO[bytes] | None,
) -> tuple[sheets.Header, list[sheets.SheetRow], int]:
    """Pass one: every row checked and classified; returns the bad rows and how
    many good ones there are. The good rows, checked, go to ``spill`` a chunk at a
    time, for pass two to write without reading the file again (memory stays flat)."""
    header, body = _rows(spec, path, sheet)
    bad: list[sheets.SheetRow] = []
    good = 0
    for chunk in _chunks(_checked(spec, header, body, today, people)):
        ok = [row for row in chunk if not row.problems]
        bad += [row for row in chunk if row.problems]
        good += len(ok)
        for row in ok:
            row.cells = []  # kept only to write a bad row back out
        if spill is not None and ok:
            pickle.dump(ok, spill, protocol=pickle.HIGHEST_PROTOCOL)
        with app.db.read() as s:
            stored = _stored(s, spec.name, [r.external_ref for r in ok])
        for row in ok:
            case = stored.get(row.external_ref)
            if case is None:
                result.created.append(row.external_ref)
            elif _changes(case, row, people, case_owner=_owner(case, people)):
                result.updated.append(row.external_ref)
            else:
                result.unchanged += 1
    return header, bad, good


def _checked(spec: WorkflowSpec, header: sheets.Header, body: Iterator[tuple[int, list[Any]]],
             today: date, people: dict[str, tuple[int, bool]]) -> Iterator[sheets.SheetRow]:
    """Each row read and checked, a reference seen on an earlier row refused."""
    active = _active(people)
    seen: dict[str, int] = {}
    for number, cells in body:
        row = sheets.read_row(number, cells, header, spec, today=today, people=active)
        if row.external_ref and row.external_ref in seen:
            row.problems.append(sheets.RowProblem(
                row.number, header.title_of(sheets.REF, spec),
                f"'{row.external_ref}' is on row {seen[row.external_ref]} already; "
                "each matter once"))
        elif row.external_ref:
            seen[row.external_ref] = row.number
        yield row


def _spilled(spill: IO[bytes]) -> Iterator[list[sheets.SheetRow]]:
    """Pass two: the good rows pass one checked, a chunk at a time (a file this
    process wrote, never one a user gave)."""
    spill.seek(0)
    while True:
        try:
            yield pickle.load(spill)
        except EOFError:
            return


def _chunks(rows: Iterator[sheets.SheetRow] | Any, size: int = CHUNK
            ) -> Iterator[list[sheets.SheetRow]]:
    chunk: list[sheets.SheetRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_CASE_COLUMNS = [CASES.c[name] for name in CaseRow.__dataclass_fields__]


def _stored(s: Connection, workflow: str, refs: list[str]) -> dict[str, CaseRow]:
    if not refs:
        return {}
    # A case opened here, never imported, is named by its key (what an export
    # writes). Two statements, each on its own index: one OR of the two made
    # SQLite scan every case of the workflow per chunk (an import quadratic in
    # its rows). A reference that is both one case's and another's key is the
    # imported case's.
    by_key = s.execute(select(CASES.c.external_ref, *_CASE_COLUMNS)
                       .where(CASES.c.key.in_(refs)))
    found = {r.key: CaseRow(*r[1:]) for r in by_key
             if r.workflow == workflow and r.external_ref is None}
    by_ref = s.execute(select(CASES.c.external_ref, *_CASE_COLUMNS).where(
        CASES.c.workflow == workflow, CASES.c.external_ref.in_(refs)))
    found.update((r[0], CaseRow(*r[1:])) for r in by_ref)
    return found


def _owner(case: CaseRow, people: dict[str, tuple[int, bool]]) -> str | None:
    return next((h for h, (i, _) in people.items() if i == case.owner_id), None)


def _changes(case: CaseRow, row: sheets.SheetRow, people: dict[str, tuple[int, bool]],
             case_owner: str | None) -> dict[str, Any]:
    """What a re-imported row changes on its case: fields (a value the sheet
    leaves empty is left as stored), the title, the owner when the sheet names one.
    The state is the case's own once imported: `case advance` moves it."""
    changed: dict[str, Any] = {}
    fields = {n: v for n, v in row.fields.items() if case.fields.get(n) != v}
    if fields:
        changed["fields"] = fields
    if row.title != case.title:
        changed["title"] = row.title
    if row.owner and row.owner != case_owner:
        changed["owner"] = row.owner
    return changed


def _write_chunk(
    app: App, s: Connection, actor: Actor, pinned: Pinned, chunk: list[sheets.SheetRow],
    label: str, people: dict[str, tuple[int, bool]], planner: _Planner,
) -> None:
    spec = pinned.spec
    stored = _stored(s, spec.name, [r.external_ref for r in chunk])
    new = [r for r in chunk if r.external_ref not in stored]
    for row in chunk:
        case = stored.get(row.external_ref)
        if case is not None:
            _update(app, s, actor, spec, case, row, label, people, planner.now)
    if new:
        _create(s, actor, pinned, new, label, people, planner)


class _RememberingCalendar:
    """The office's calendar, each answer remembered for one import: an import
    plans the same rules from the same few entry days thousands of times, and the
    calendar's answers are pure functions of their arguments."""

    def __init__(self, cal: WorkCalendar) -> None:
        self._cal = cal
        self.tz = cal.tz
        self.workday_start, self.workday_end = cal.workday_start, cal.workday_end
        self.add_workdays = cache(cal.add_workdays)
        self.is_workday = cache(cal.is_workday)
        self.next_workday = cache(cal.next_workday)
        self.count_workdays = cache(cal.count_workdays)
        self.workdays = cache(cal.workdays)
        self.at = cache(cal.at)
        self.planning_digest = cache(cal.planning_digest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cal, name)


class _Planner:
    """The follow-ups of imported rows, for one import. A contact or deadline
    planned from a day is the same for every case entered that day, and so is a
    task row but for its case, assignee and visit seed: each is computed once per
    (rule, day), not once per row. Visits are drawn per case (their seed is the
    case key's), from the remembered calendar."""

    def __init__(self, cal: WorkCalendar, now: datetime) -> None:
        self.cal = cast(WorkCalendar, _RememberingCalendar(cal))
        self.now = now
        self._plans: dict[tuple[str, date], PlannedTask] = {}
        self._rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def plan(self, rules: tuple[Rule, ...], fields: dict[str, Any], *, case_key: str,
             entered_on: date) -> list[PlannedTask]:
        """What ``planning.plan_state_entry`` plans for a first stay (occurrence 1,
        a rule's ``from`` field honoured), contacts moved on to the current slot."""
        since, _ = counted_from(rules, fields)
        return [self._first(rule, case_key, since.get(rule.name, entered_on)) for rule in rules]

    def _first(self, rule: Rule, case_key: str, since: date) -> PlannedTask:
        if isinstance(rule, VisitRule):
            return plan_next(self.cal, rule, case_key=case_key, since=since, occurrence=1)
        planned = self._plans.get((rule.name, since))
        if planned is None:
            planned = _from_now_on(self.cal, rule, plan_next(
                self.cal, rule, case_key=case_key, since=since, occurrence=1), self.now)
            self._plans[(rule.name, since)] = planned
        return planned

    def row(self, planned: PlannedTask, rule: Rule, *, case_id: int,
            assignee_id: int | None) -> dict[str, Any]:
        """``followups.task_row`` of a planned task; everything in it but the case,
        assignee and seed follows from (rule, occurrence, due day, counted-from day,
        window end)."""
        key = (planned.rule, planned.occurrence, planned.due_on, planned.since,
               planned.window_end)
        base = self._rows.get(key)
        if base is None:
            base = followups.task_row(self.cal, planned, rule, case_id=0, assignee_id=None,
                                      now=self.now)
            # Enum members as their text: the driver binds a plain str faster
            # than a str subclass, and a row is bound tens of thousands of times.
            base = {k: str(v) if isinstance(v, StrEnum) else v for k, v in base.items()}
            self._rows[key] = base
        return {**base, "case_id": case_id, "assignee_id": assignee_id, "seed": planned.seed,
                "window_start": planned.window_start}


def _create(
    s: Connection, actor: Actor, pinned: Pinned, rows: list[sheets.SheetRow],
    label: str, people: dict[str, tuple[int, bool]], planner: _Planner,
) -> None:
    spec, cal, now = pinned.spec, planner.cal, planner.now
    active = {h: i for h, (i, a) in people.items() if a}
    keys = next_keys(s, spec.key_prefix, cal.local_date(now).year, len(rows))
    records: list[dict[str, Any]] = []
    for key, row in zip(keys, rows, strict=True):
        entered = cal.at(row.entered_on, cal.workday_start) if row.entered_on else now
        entered = min(entered, now)
        owner = row.owner or actor.handle
        terminal = spec.states[row.state].terminal
        records.append({
            "key": key, "workflow": spec.name, "workflow_version_id": pinned.version_id,
            "state": row.state, "previous_state": None, "title": row.title,
            "owner_id": people[owner][0] if owner in people else actor.id,
            "fields": row.fields, "opened_at": entered, "state_entered_at": entered,
            "closed_at": entered if terminal else None, "version": 1, "last_seq": 0,
            "head_hash": "", "last_event_at": None, "external_ref": row.external_ref,
        })
    ids = insert_cases(s, records)
    events, tasks = [], []
    for record, row in zip(records, rows, strict=True):
        case_id = ids[record["key"]]
        ext = record.pop("external_ref")
        case = CaseRow(id=case_id, **record)
        rules = spec.states[row.state].rules
        planned = planner.plan(rules, row.fields, case_key=case.key,
                               entered_on=cal.local_date(case.state_entered_at))
        by_name = {r.name: r for r in rules}
        assignees = followups.assignees(rules, row.fields, case.owner_id, active)
        tasks += [planner.row(p, by_name[p.rule], case_id=case_id,
                              assignee_id=assignees.get(p.rule, case.owner_id))
                  for p in planned]
        events.append(NewEvent(
            case, kind=EventKind.IMPORTED, actor=actor.handle, at=now, to_state=row.state,
            entered_by=actor.entered_by,
            data={"source": f"imported from {label} row {row.number}", "file": label,
                  "row": row.number, "external_ref": ext, "workflow": spec.name,
                  "version": spec.version, "title": row.title,
                  "owner": row.owner or actor.handle, "fields": row.fields,
                  "state_entered_at": case.state_entered_at.isoformat(),
                  "planned": [{"rule": p.rule, "occurrence": p.occurrence,
                               "due_on": p.due_on.isoformat()} for p in planned]},
        ))
    append_events(s, events)
    followups.insert_rows(s, tasks)


def _from_now_on(cal: WorkCalendar, rule: Rule, planned: PlannedTask, now: datetime
                 ) -> PlannedTask:
    """A contact planned from a past entry day, moved on to the slot in progress
    ``now`` (the one the sweep would open after marking every earlier one missed),
    as the same occurrence: nothing was missed before the case was imported. It
    counts from the slot before, so a re-plan finds the same day."""
    if not isinstance(rule, ContactRule):
        return planned
    roll = plan_roll(cal, rule, due_on=planned.due_on, occurrence=planned.occurrence, now=now)
    if roll is None:
        return planned
    before = roll.missed[-1].due_on if roll.missed else planned.due_on
    return replace(roll.following, occurrence=planned.occurrence, since=before)


def _update(
    app: App, s: Connection, actor: Actor, spec: WorkflowSpec, case: CaseRow,
    row: sheets.SheetRow, label: str, people: dict[str, tuple[int, bool]], now: datetime,
) -> None:
    """A changed row: one event saying what changed and from which row, with
    what ``case set`` and ``case assign`` do to the follow-ups."""
    changed = _changes(case, row, people, _owner(case, people))
    if not changed:
        return
    fields = changed.get("fields", {})
    values = {**case.fields, **fields}
    follow = followups.follow_fields(
        s, app.calendar, case_id=case.id, case_key=case.key,
        rules=spec.states[case.state].rules, entered_at=case.state_entered_at,
        changed=fields, fields=values, owner_id=case.owner_id) if fields else None
    data: dict[str, Any] = {"source": f"imported from {label} row {row.number}",
                            "file": label, "row": row.number}
    updates: dict[str, Any] = {}
    if fields:
        data.update(fields=fields, was={n: case.fields.get(n) for n in fields})
        updates["fields"] = values
    if "title" in changed:
        data.update(title=changed["title"], was_title=case.title)
        updates["title"] = changed["title"]
    if "owner" in changed:
        data.update(owner=changed["owner"], was_owner=_owner(case, people))
        updates["owner_id"] = people[changed["owner"]][0]
    if follow is not None:
        data.update(follow.notes)
    append_event(s, case, kind=EventKind.IMPORTED, actor=actor.handle, at=now, data=data,
                 entered_by=actor.entered_by,
                 changes=updates)
    if follow is not None:
        followups.apply_follow(app, s, follow)
    if "owner" in changed:
        taker = s.execute(select(PEOPLE).where(PEOPLE.c.handle == changed["owner"])).one()
        followups.move_work(app, s, taker, task_ids=followups.open_task_ids(s, case.id))


def _write_bad(app: App, out: Path, header: sheets.Header, rows: list[sheets.SheetRow]
               ) -> None:
    """The bad rows as they were, with what is wrong, to fix and import again."""
    titles = [*header.titles, sheets.ERROR_COLUMN[1]]
    width = len(header.titles)
    body = ([*r.cells[:width], *[""] * (width - len(r.cells)),
             "; ".join(f"{p.column}: {p.message}" for p in r.problems)] for r in rows)
    write_sheets(out, [("bad rows", titles, body)], app.settings.files)


# --------------------------------------------------------------------------- people

PEOPLE_COLUMNS = (("handle", "Handle · 账号"), ("name", "Name · 姓名"),
                  ("email", "E-mail · 电子邮箱"), ("roles", "Roles · 角色"))


def import_people(app: App, path: Path, *, dry_run: bool = False) -> dict[str, Any]:
    """The staff list: a handle not known is added, a known one updated (name,
    e-mail, roles); every bad row reported at once, nothing written while one is."""
    rows = read_rows(path)
    head = next(rows, None)
    if head is None:
        raise InvalidInput(f"'{path.name}' is empty; give a header: handle, name, e-mail, roles")
    known = {s: key for key, title in PEOPLE_COLUMNS for s in sheets.names_of(key, title)}
    known.update({"e-mail": "email", "mail": "email", "role": "roles"})
    columns = [known.get(sheets.normal(sheets.cell_text(c))) for c in head]
    missing = [t for k, t in PEOPLE_COLUMNS[:2] if k not in columns]
    if missing:
        raise InvalidInput("the header has no column " + ", ".join(f"'{m}'" for m in missing))
    problems: list[str] = []
    wanted: dict[str, dict[str, Any]] = {}
    for number, cells in enumerate(rows, start=2):
        texts = [sheets.cell_text(c) for c in cells]
        if not any(texts):
            continue
        values = {k: texts[i] if i < len(texts) else "" for i, k in enumerate(columns) if k}
        handle = values.get("handle", "")
        try:
            roles = check_person(handle, values.get("name", ""), values.get("email", ""),
                                 named_roles(app, [values.get("roles", "")]), None, "")
        except InvalidInput as exc:
            problems.append(f"row {number}: {exc}")
            continue
        if handle in wanted:
            problems.append(f"row {number}: '{handle}' is on an earlier row already")
            continue
        wanted[handle] = {"name": values["name"].strip(), "email": values.get("email", ""),
                          "roles": roles, "row": number}
    if problems:
        raise Problems(problems)
    added: list[dict[str, Any]] = []
    updated: list[tuple[str, dict[str, Any]]] = []
    with (app.db.read() if dry_run else app.db.transaction()) as s:
        stored = {p.handle: p for p in s.execute(select(PEOPLE))}
        # As `person add` / `person edit`: a channel that cannot reach them is refused now.
        for handle, values in wanted.items():
            person = stored.get(handle)
            try:
                check_channel(app, person.channel if person else None, values["email"],
                              (person.address or "") if person else "")
            except InvalidInput as exc:
                problems.append(f"row {values['row']}: {handle}: {exc}")
            del values["row"]
        if problems:
            raise Problems(problems)
        for handle, values in wanted.items():
            person = stored.get(handle)
            if person is None:
                added.append({"handle": handle, **values, "channel": None, "address": "",
                              "active": True, "created_at": app.now()})
            elif (person.name, person.email, sorted(person.roles or [])) != (
                    values["name"], values["email"], values["roles"]):
                updated.append((handle, values))
        # As `person edit`: the sheet may not take the role from the last admin who can act
        # (an imported person has no login yet, so cannot be one).
        acting = admins(s, lock=not dry_run)
        if acting and not set(acting) - {h for h, v in updated if ADMIN not in v["roles"]}:
            raise InvalidInput(f"the staff list takes the 'admin' role from {', '.join(acting)}, "
                               "the last admin(s) with a login; keep it on one of their rows")
        if not dry_run:
            if added:
                s.execute(insert(PEOPLE), added)
            for handle, values in updated:
                s.execute(PEOPLE.update().where(PEOPLE.c.handle == handle).values(**values))
    return {"file": str(path), "dry_run": dry_run, "added": len(added),
            "updated": len(updated), "unchanged": len(wanted) - len(added) - len(updated)}
