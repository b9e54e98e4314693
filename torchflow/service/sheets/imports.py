"""An office's spreadsheet moved in: a workflow's template, its rows imported as
cases (created, updated or left alone by their external reference), and the
office's staff list.

Two passes over the file. The first checks every row (domain/sheets.py, with
``coerce_value`` and the text limits, as ``case open`` does) and classifies it
against the cases stored, writing nothing: every bad row is reported at once,
and a dry run stops there. The second writes, a chunk of rows per transaction:
new cases with one executemany each for cases, tasks and events
(``events.insert_opened``: one head bump per chunk, the chain as
``append_event`` makes it, each case row written with its chain state); a
changed row goes through ``append_event`` with the follow-up effects of a
field change, as ``case set`` does. Each chunk stands
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
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any, cast

from msgspec import Struct, field
from msgspec.structs import asdict, replace
from sqlalchemy import Connection, insert, select

from torchflow.domain import sheets
from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.guards import reachable, roles_into
from torchflow.domain.office import OfficeKind, Subject
from torchflow.domain.permissions import ADMIN
from torchflow.domain.planning import (
    PlannedTask,
    counted_from,
    plan_next,
    plan_roll,
    planned_rules,
)
from torchflow.domain.rules import ContactRule, DeadlineRule, Rule, VisitRule
from torchflow.domain.status import EventKind
from torchflow.domain.vocabulary import quoted
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import InvalidInput, Problems, Refused, WorkflowError
from torchflow.i18n import Listing, Role, Text, _
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.cases.authority import cases_facts
from torchflow.service.cases.change import fire_within
from torchflow.service.cases.events import (
    NewEvent,
    append_event,
    insert_opened,
    next_keys,
)
from torchflow.service.cases.rows import CaseRow, load_case
from torchflow.service.followups import writer as followups
from torchflow.service.people.checks import (
    check_channel,
    check_logins,
    check_person,
    named_roles,
)
from torchflow.service.people.lookup import Actor, admins
from torchflow.service.sheets.files import read_rows, write_sheets
from torchflow.service.workflows.registry import Pinned, stored_problems
from torchflow.store.models import CASES, PEOPLE, PERSON_LOGINS

CHUNK = 1000
MAX_SHOWN_PROBLEMS = 200


def write_template(app: App, workflow: str, out: Path) -> dict[str, Any]:
    spec = app.registry.file(workflow)
    header = [title for _, title in sheets.template_columns(spec)]
    write_sheets(out, [(spec.name, header, [sheets.hint_row(spec)])], app.settings.files)
    return {"workflow": spec.name, "file": str(out), "columns": header}


class ImportResult(Struct):
    file: str
    workflow: str
    dry_run: bool
    created: list[str] = field(default_factory=list)  # external references
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    bad: int = 0
    bad_file: str | None = None
    header_row: int = 1
    skipped_columns: list[str] = field(default_factory=list)
    totals_rows: list[int] = field(default_factory=list)  # 合计 rows read past
    moves: list[dict[str, Any]] = field(default_factory=list)  # stages changed by the sheet

    def view(self) -> dict[str, Any]:
        return {"file": self.file, "workflow": self.workflow, "dry_run": self.dry_run,
                "created": len(self.created), "updated": len(self.updated),
                "unchanged": self.unchanged, "bad": self.bad, "bad_file": self.bad_file,
                "header_row": self.header_row, "skipped_columns": self.skipped_columns,
                "totals_rows": self.totals_rows, "moves": self.moves}


class Layout(Struct, frozen=True):
    """How to read the sheet: its header row when not found, columns to skip."""

    sheet: str | None = None
    header_row: int | None = None
    ignore_columns: tuple[str, ...] = ()
    ignore_unknown: bool = False


Progress = Callable[[int], None]


def import_cases(
    app: App, actor: Actor, workflow: str, path: Path, *, sheet: str | None = None,
    dry_run: bool = False, skip_bad: Path | None = None,
    progress: Callable[[int], Progress] | None = None, header_row: int | None = None,
    ignore_columns: tuple[str, ...] | list[str] = (), ignore_unknown: bool = False,
) -> ImportResult:
    """Import the rows of ``path`` as cases of ``workflow``. ``progress(total)``
    gives a callback told how many rows each written chunk held. Each row is
    held to the rules of the same work done by hand (``_authorize_row``)."""
    actor.authorize("import.cases")
    layout = Layout(sheet, header_row, tuple(ignore_columns or ()), bool(ignore_unknown))
    now = app.now()
    today = app.calendar.local_date(now)
    # Nothing is stored before a row is: the version is pinned (stored on first use)
    # by the transaction of the first rows written. What pinning would refuse is
    # asked first, so a stale file is refused before the sheet is read.
    spec = app.registry.file(workflow)
    with app.db.read() as s:
        people = _people(s)
        stale = stored_problems(s, spec)
    if stale:
        raise WorkflowError(stale)
    result = ImportResult(str(path), spec.name, dry_run)
    if dry_run:
        return _import(app, actor, spec, path, layout, today, now, people, result, None,
                       skip_bad, progress)
    with tempfile.TemporaryFile(prefix="torchflow-import-") as spill:
        return _import(app, actor, spec, path, layout, today, now, people, result, spill,
                       skip_bad, progress)


def _import(
    app: App, actor: Actor, spec: WorkflowSpec, path: Path, layout: Layout, today: date,
    now: datetime, people: dict[str, tuple[int, bool]], result: ImportResult,
    spill: IO[bytes] | None, skip_bad: Path | None, progress: Callable[[int], Progress] | None,
) -> ImportResult:
    header, bad_rows, good = _check(app, actor, spec, path, layout, today, people, result,
                                    spill)
    result.bad = len(bad_rows)
    if bad_rows and skip_bad is None:
        problems: list[str | Text] = list(sheets.summarise(
            p for r in bad_rows for p in r.problems))
        shown = problems[:MAX_SHOWN_PROBLEMS]
        if len(problems) > len(shown):
            shown.append(_("... and {n} more problem(s); fix these first, or import the good "
                           "rows with --skip-bad FILE", n=len(problems) - len(shown)))
        raise Problems(cast(list[str], shown))  # Texts: the edge renders each
    if spill is None:  # a dry run
        return result
    if bad_rows and skip_bad is not None:
        _write_bad(app, skip_bad, header, bad_rows)
        result.bad_file = str(skip_bad)
    tick = progress(good) if progress else None
    label = path.name
    planner = _Planner(app.calendar, now)
    pinned: Pinned | None = None
    for chunk in _spilled(spill):
        with app.db.transaction() as s:
            if pinned is None:
                pinned = app.registry.current(s, spec.name, now, actor=actor)
            _write_chunk(app, s, actor, pinned, chunk, label, people, planner)
        if tick:
            tick(len(chunk))
    return result


class _People(dict[str, tuple[int, bool]]):
    """Each handle's (id, active), ``index``: whom a sheet may name (by name too),
    and ``handles``: each id's handle (a stored case's owner, once per row)."""

    index: sheets.People
    handles: dict[int, str]


def _people(s: Connection) -> _People:
    found = _People()
    rows = list(s.execute(select(PEOPLE.c.handle, PEOPLE.c.id, PEOPLE.c.active,
                                 PEOPLE.c.name)))
    found.update((h, (i, bool(a))) for h, i, a, _n in rows)
    found.index = sheets.People.of((h, n or "", bool(a)) for h, _i, a, n in rows)
    found.handles = {i: h for h, i, _a, _n in rows}
    return found


def _index(people: dict[str, tuple[int, bool]]) -> sheets.People:
    index = getattr(people, "index", None)
    return index if index is not None else sheets.People({h: a for h, (_, a) in people.items()})


def _rows(app: App, spec: WorkflowSpec, path: Path, layout: Layout, result: ImportResult
          ) -> tuple[sheets.Header, Iterator[tuple[int, list[Any]]]]:
    """The header (found under any title rows, or the row given) and the body's
    rows with their numbers: the template's hint row, blank rows and totals rows
    (合计, noted in ``result``) read past."""
    rows = read_rows(path, layout.sheet, app.settings.sheets)
    leading = list(islice(rows, sheets.HEADER_SEARCH))
    if not leading:
        raise InvalidInput(_("'{file}' is empty; start from `torchflow import template`",
                             file=path.name))
    cells, last = sheets.find_header(leading, spec, row=layout.header_row)
    header = sheets.match_header(cells, spec, ignore=layout.ignore_columns,
                                 ignore_unknown=layout.ignore_unknown, last_row=last)
    result.header_row = last
    result.skipped_columns = list(header.skipped)

    def body() -> Iterator[tuple[int, list[Any]]]:
        for number, cells in enumerate(chain(leading[last:], rows), start=last + 1):
            if number == last + 1 and sheets.is_hint(cells):
                continue
            if not any(sheets.cell_text(c) for c in cells):
                continue
            if sheets.is_totals(cells):
                result.totals_rows.append(number)
                continue
            yield number, cells
    return header, body()


def _check(
    app: App, actor: Actor, spec: WorkflowSpec, path: Path, layout: Layout, today: date,
    people: dict[str, tuple[int, bool]], result: ImportResult, spill: IO[bytes] | None,
) -> tuple[sheets.Header, list[sheets.SheetRow], int]:
    """Pass one: every row checked and classified (a changed stage decided: moved
    along the workflow, or the row refused); returns the bad rows and how many
    good ones there are. The good rows, checked, go to ``spill`` a chunk at a
    time, for pass two to write without reading the file again (memory stays flat)."""
    header, body = _rows(app, spec, path, layout, result)
    bad: list[sheets.SheetRow] = []
    good = 0
    may_reach = reachable(spec, actor.roles)
    for chunk in _chunks(_checked(spec, header, body, today, people)):
        fine = [row for row in chunk if not row.problems]
        with app.db.read() as s:
            stored = _stored(s, spec.name, [r.external_ref for r in fine])
            _authorize_rows(s, actor, spec, header, fine, stored, people, may_reach)
            for row in fine:
                case = stored.get(row.external_ref)
                if case is not None and not row.problems:
                    _classify(app, s, actor, case, row, people, result, header)
        ok = [row for row in chunk if not row.problems]
        bad += [row for row in chunk if row.problems]
        good += len(ok)
        for row in ok:
            row.cells = []  # kept only to write a bad row back out
        if spill is not None and ok:
            pickle.dump(ok, spill, protocol=pickle.HIGHEST_PROTOCOL)
        for row in ok:
            if row.external_ref not in stored:
                result.created.append(row.external_ref)
    return header, bad, good


def _classify(app: App, s: Connection, actor: Actor, case: CaseRow, row: sheets.SheetRow,
              people: dict[str, tuple[int, bool]], result: ImportResult,
              header: sheets.Header) -> None:
    """A stored case's row: updated, moved, unchanged, or refused (a problem on the
    row) when its new stage cannot be reached."""
    spec = app.registry.by_id(s, case.workflow_version_id).spec
    move = row_move(spec, case, row, actor)
    if isinstance(move, Text):
        row.problems.append(sheets.RowProblem(row.number, header.title_of(sheets.STATE, spec),
                                              move))
        return
    if move is not None:
        result.moves.append({"ref": row.external_ref, "key": case.key, "from": case.state,
                             "to": row.state, "steps": [t for t, _d in move.steps]})
    if move is not None or _changes(case, row, people, case_owner=_owner(case, people)):
        result.updated.append(row.external_ref)
    else:
        result.unchanged += 1


def row_move(spec: WorkflowSpec, case: CaseRow, row: sheets.SheetRow, actor: Actor
             ) -> sheets.Move | Text | None:
    """THE place a re-imported row's stage is decided: None when the sheet names no
    other state; the transitions that reach it, each guard met by the case's fields
    (with the row's) and the acting person's roles; or why the row is refused."""
    if not row.state_given or row.state == case.state:
        return None
    values = {**case.fields, **row.fields}
    return sheets.plan_move(spec, case.state, case.previous_state, row.state, values,
                            actor.roles)


def _authorize_rows(s: Connection, actor: Actor, spec: WorkflowSpec, header: sheets.Header,
                    rows: list[sheets.SheetRow], stored: dict[str, CaseRow],
                    people: dict[str, tuple[int, bool]], may_reach: frozenset[str]) -> None:
    """Rows are held to the rules of the same work done by hand: a new case's
    state must be one the actor's roles can reach by transitions (`case advance`);
    a row naming a stored case changes only what the actor may change on it
    (`case set`, `case assign` for its owner, `case advance` for its stage; the
    transitions' own roles are row_move's). The stored cases' facts are read
    for the chunk at once, for every actor alike."""
    needs: list[tuple[sheets.SheetRow, CaseRow, list[str]]] = []
    for row in rows:
        case = stored.get(row.external_ref)
        if case is None:
            if row.state not in may_reach:
                row.problems.append(sheets.RowProblem(row.number, header.title_of(
                    sheets.STATE, spec), _(
                        "{handle} may not put a case in '{state}': only {roles} may bring a "
                        "case there", handle=actor.handle, state=spec.states[row.state].term,
                        roles=Listing((Role(r) for r in roles_into(spec, row.state)), "or"))))
            continue
        actions = _row_actions(case, row, people)
        if actions:
            needs.append((row, case, actions))
    facts = cases_facts(s, [case for _r, case, _a in needs], spec)
    for row, case, actions in needs:
        for action in actions:
            try:
                actor.authorize(action, facts[case.id])
            except Refused as exc:
                row.problems.append(sheets.RowProblem(row.number, header.title_of(
                    sheets.REF, spec), exc.text))
                break


def _row_actions(case: CaseRow, row: sheets.SheetRow, people: dict[str, tuple[int, bool]]
                 ) -> list[str]:
    """The actions a row naming a stored case would be by hand."""
    changed = _changes(case, row, people, _owner(case, people))
    moved = row.state_given and row.state != case.state
    needs = {"case.advance": moved,
             # A moved row's fields go with its move, as `case advance --field` takes them.
             "case.set": "title" in changed or ("fields" in changed and not moved),
             "case.assign": "owner" in changed}
    return [action for action, needed in needs.items() if needed]


def _checked(spec: WorkflowSpec, header: sheets.Header, body: Iterator[tuple[int, list[Any]]],
             today: date, people: dict[str, tuple[int, bool]]) -> Iterator[sheets.SheetRow]:
    """Each row read and checked, a reference seen on an earlier row refused."""
    reader = sheets.RowReader(header, spec, today=today, people=_index(people))
    seen: dict[str, int] = {}
    for number, cells in body:
        row = reader.read(number, cells)
        if row.external_ref and row.external_ref in seen:
            row.problems.append(sheets.RowProblem(
                row.number, header.title_of(sheets.REF, spec),
                _("{ref} is on row {row} already; each matter once",
                  ref=quoted(row.external_ref), row=seen[row.external_ref])))
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


_CASE_COLUMNS = [CASES.c[name] for name in CaseRow.__struct_fields__]


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
    handles = getattr(people, "handles", None)
    if handles is not None:
        return handles.get(case.owner_id) if case.owner_id is not None else None
    return next((h for h, (i, _) in people.items() if i == case.owner_id), None)


def _changes(case: CaseRow, row: sheets.SheetRow, people: dict[str, tuple[int, bool]],
             case_owner: str | None) -> dict[str, Any]:
    """What a re-imported row changes on its case: fields (a value the sheet
    leaves empty is left as stored), the title, the owner when the sheet names one.
    A changed stage is ``row_move``'s to decide."""
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
            if row.state_given and row.state != case.state:  # else nothing to load
                _move(app, s, actor, case.key, row, label, planner.now)
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
        self._plans: dict[tuple[str, date, int], PlannedTask] = {}
        self._rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def plan(self, rules: tuple[Rule, ...], fields: dict[str, Any], *, case_key: str,
             entered_on: date) -> list[PlannedTask]:
        """What ``planning.plan_state_entry`` plans for a first stay (occurrence 1,
        a rule's ``from`` field honoured), contacts moved on to the current slot."""
        since, _ = counted_from(rules, fields)
        return [self._first(rule, case_key, since.get(rule.name, entered_on), fields)
                for rule in planned_rules(rules, since)]

    def _first(self, rule: Rule, case_key: str, since: date,
               fields: dict[str, Any]) -> PlannedTask:
        if isinstance(rule, VisitRule):
            return plan_next(self.cal, rule, case_key=case_key, since=since, occurrence=1)
        # A deadline's budget may follow a choice of the row (``by``).
        budget = rule.within_for(fields) if isinstance(rule, DeadlineRule) else 0
        planned = self._plans.get((rule.name, since, budget))
        if planned is None:
            planned = _from_now_on(self.cal, rule, plan_next(
                self.cal, rule, case_key=case_key, since=since, occurrence=1, fields=fields),
                self.now)
            self._plans[(rule.name, since, budget)] = planned
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
    """New cases, each with its first event (``events.insert_opened``: the case
    row written with its chain state, no update after it) and its follow-ups."""
    spec, cal, now = pinned.spec, planner.cal, planner.now
    active = {h: i for h, (i, a) in people.items() if a}
    keys = next_keys(s, spec.key_prefix, cal.local_date(now).year, len(rows))
    records: list[dict[str, Any]] = []
    events: list[NewEvent] = []
    plans: list[list[PlannedTask]] = []
    for key, row in zip(keys, rows, strict=True):
        entered = cal.at(row.entered_on, cal.workday_start) if row.entered_on else now
        entered = min(entered, now)
        opened = min(cal.at(row.opened_on, cal.workday_start), entered) if row.opened_on \
            else entered
        owner = row.owner or actor.handle
        terminal = spec.states[row.state].terminal
        case = CaseRow(
            id=0, key=key, workflow=spec.name, workflow_version_id=pinned.version_id,
            state=row.state, previous_state=None, title=row.title,
            owner_id=people[owner][0] if owner in people else actor.id, fields=row.fields,
            opened_at=opened, state_entered_at=entered,
            closed_at=entered if terminal else None, version=1, last_seq=0, head_hash="")
        records.append({**asdict(case), "external_ref": row.external_ref})
        del records[-1]["id"]
        planned = planner.plan(spec.states[row.state].rules, row.fields, case_key=key,
                               entered_on=cal.local_date(entered))
        plans.append(planned)
        events.append(NewEvent(
            case, kind=EventKind.IMPORTED, actor=actor.handle, at=now, to_state=row.state,
            entered_by=actor.entered_by,
            data={"source": f"imported from {label} row {row.number}", "file": label,
                  "row": row.number, "external_ref": row.external_ref, "workflow": spec.name,
                  "version": spec.version, "title": row.title,
                  "owner": row.owner or actor.handle, "fields": row.fields,
                  "state_entered_at": entered.isoformat(),
                  **({"opened_at": opened.isoformat()} if opened != entered else {}),
                  **({"note": row.note} if row.note else {}),
                  # No entry date in the sheet: reports count it in no period.
                  **({"date_unknown": True} if row.entered_on is None else {}),
                  # The milestones passed before (签约 for one imported in production),
                  # each at its own date column's day: reports count them there.
                  **({"passed": _passed(cal, row, now)} if row.passed else {}),
                  "planned": [{"rule": p.rule, "occurrence": p.occurrence,
                               "due_on": p.due_on.isoformat()} for p in planned]},
        ))
    ids = insert_opened(s, records, events)
    tasks = []
    for record, row, planned in zip(records, rows, plans, strict=True):
        case_id, owner_id = ids[record["key"]], record["owner_id"]
        rules = spec.states[row.state].rules
        by_name = {r.name: r for r in rules}
        assignees = followups.assignees(rules, row.fields, owner_id, active)
        tasks += [planner.row(p, by_name[p.rule], case_id=case_id,
                              assignee_id=assignees.get(p.rule, owner_id))
                  for p in planned]
    followups.insert_rows(s, tasks)


def _passed(cal: WorkCalendar, row: sheets.SheetRow, now: datetime) -> dict[str, Any]:
    """Each milestone passed before the row's state, as the imported event records
    it: entered at its date column's day (as the row's own state is), or with no
    date, "imported, date unknown"."""
    return {state: {"state_entered_at": min(cal.at(day, cal.workday_start), now).isoformat()}
            if day is not None else {"date_unknown": True}
            for state, day in row.passed.items()}


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


def _move(app: App, s: Connection, actor: Actor, key: str, row: sheets.SheetRow, label: str,
          now: datetime) -> None:
    """The row's new stage reached, one transition at a time, each in the history
    with the file and row (as `case advance` fires it, follow-ups and all). Decided
    again on the case as it now stands, so a run finished after a stop moves on
    from where it was."""
    case = load_case(s, key)
    pinned = app.registry.by_id(s, case.workflow_version_id)
    move = row_move(pinned.spec, case, row, actor)
    if move is None:
        return
    if isinstance(move, Text):  # changed since pass one checked it
        raise Refused(_("{key}: {problem}", key=case.key, problem=move))
    source = f"imported from {label} row {row.number}"
    for trigger, _dest in move.steps:
        dest = pinned.compiled.fire(case.state, case.previous_state, trigger)
        fire_within(app, s, case, pinned.spec, actor, trigger, dest, now, source,
                    dict(case.fields))
        case = load_case(s, key)


def _write_bad(app: App, out: Path, header: sheets.Header, rows: list[sheets.SheetRow]
               ) -> None:
    """The bad rows as they were, with what is wrong, to fix and import again."""
    titles = [*header.titles, sheets.ERROR_COLUMN[1]]
    width = len(header.titles)
    tr = app.tr
    body = ([*r.cells[:width], *[""] * (width - len(r.cells)),
             "; ".join(f"{p.column}: {tr(p.message)}" for p in r.problems)] for r in rows)
    write_sheets(out, [("bad rows", titles, body)], app.settings.files)


# --------------------------------------------------------------------------- people

PEOPLE_COLUMNS = (("handle", "Handle · 账号"), ("name", "Name · 姓名"),
                  ("email", "E-mail · 电子邮箱"), ("roles", "Roles · 角色"),
                  ("logins", "Logins · 登录名"))
# The words staff lists head these columns with.
PEOPLE_WORDS: dict[str, tuple[str, ...]] = {
    "handle": ("用户名", "handle"),
    "name": ("姓名", "名字"),
    "email": ("邮箱", "电子邮件", "邮件", "e-mail", "mail", "email"),
    "roles": ("角色", "岗位", "role"),
    "logins": ("登录名", "登录账号", "系统账号", "login", "logins"),
}
# Columns a staff list often has that people here have no place for: read past,
# and said so (科室: people have no department field).
PEOPLE_UNUSED = ("序号", "科室", "部门", "处室", "职务", "职务职级", "电话", "手机", "联系电话",
                 "办公电话", "备注")


def _people_header(cells: list[Any], ignore: tuple[str, ...], ignore_unknown: bool
                   ) -> tuple[list[str | None], list[str], list[str]]:
    """Each column's key (None: read past), the unused columns and the skipped ones."""
    known = {s: key for key, title in PEOPLE_COLUMNS for s in sheets.names_of(key, title)}
    known.update({sheets.normal(w): key for key, words in PEOPLE_WORDS.items() for w in words})
    unused_words = {sheets.normal(w) for w in PEOPLE_UNUSED}
    skip = {sheets.normal(n): n for n in ignore}
    columns: list[str | None] = []
    unused: list[str] = []
    skipped: list[str] = []
    unknown: list[str] = []
    for cell in cells:
        title = sheets.cell_text(cell)
        spelling = sheets.normal(title)
        key = None if spelling in skip else known.get(spelling)
        if key is not None and key in columns:
            raise InvalidInput(_("column {title} names {column} again", title=quoted(title),
                                 column=key))
        columns.append(key)
        if key is None and spelling:
            if spelling in skip or (ignore_unknown and spelling not in unused_words):
                skipped.append(title)
                skip.pop(spelling, None)
            elif spelling in unused_words:
                unused.append(title)
            else:
                unknown.append(title)
    if unknown:
        raise InvalidInput(_("the column(s) {columns} name nothing a staff list holds (handle, "
                             "name, e-mail, roles, logins); skip them with --ignore-column NAME "
                             "(or all with --ignore-unknown)",
                             columns=Listing(quoted(t) for t in unknown[:10])))
    if skip:
        raise InvalidInput(_("--ignore-column {name} names no column of the sheet",
                             name=quoted(next(iter(skip.values())))))
    if "handle" not in columns and "logins" in columns:
        columns[columns.index("logins")] = "handle+login"  # the login is the handle too
    missing = [t for k, t in PEOPLE_COLUMNS[:2] if k not in columns and not (
        k == "handle" and "handle+login" in columns)]
    if missing:
        raise InvalidInput(_("the header has no column {columns}",
                             columns=Listing(quoted(m) for m in missing)))
    return columns, unused, skipped


def _staff_rows(path: Path, rows: Iterator[list[Any]], ignore: tuple[str, ...],
                ignore_unknown: bool) -> tuple[list[str | None], list[str], list[str],
                                               Iterator[tuple[int, list[Any]]]]:
    """The header (the first of the leading rows naming two columns or more, under
    any title rows) and the numbered rows under it."""
    leading = list(islice(rows, sheets.HEADER_SEARCH))
    if not leading:
        raise InvalidInput(_("'{file}' is empty; give a header: handle, name, e-mail, roles",
                             file=path.name))
    known = {sheets.normal(w) for key, words in PEOPLE_WORDS.items() for w in words} | {
        s for key, title in PEOPLE_COLUMNS for s in sheets.names_of(key, title)}
    at = next((i for i, cells in enumerate(leading)
               if sum(sheets.normal(sheets.cell_text(c)) in known for c in cells) >= 2), 0)
    columns, unused, skipped = _people_header(leading[at], ignore, ignore_unknown)
    body = ((n, cells) for n, cells in enumerate(chain(leading[at + 1:], rows), start=at + 2))
    return columns, unused, skipped, body


def import_people(app: App, actor: Actor, path: Path, *, dry_run: bool = False,
                  ignore_columns: tuple[str, ...] | list[str] = (),
                  ignore_unknown: bool = False) -> dict[str, Any]:
    """The staff list: a handle not known is added, a known one updated (name,
    e-mail, roles; logins added); every bad row reported at once, nothing written
    while one is. A column it does not use is said (科室), or refused when it
    names nothing it knows, as `import cases` does. An admin's (a dry run,
    anyone's: it writes nothing)."""
    if not dry_run:
        actor.authorize("import.people")
    rows = read_rows(path, None, app.settings.sheets)
    columns, unused, skipped, body = _staff_rows(path, rows, tuple(ignore_columns or ()),
                                                 bool(ignore_unknown))
    problems: list[str | Text] = []
    wanted: dict[str, dict[str, Any]] = {}
    for number, cells in body:
        texts = [sheets.cell_text(c) for c in cells]
        if not any(texts):
            continue
        values = {k: texts[i] if i < len(texts) else "" for i, k in enumerate(columns) if k}
        if "handle+login" in values:
            values["handle"] = values["logins"] = values.pop("handle+login")
        handle = values.get("handle", "")
        try:
            roles = check_person(handle, values.get("name", ""), values.get("email", ""),
                                 named_roles(app, [values.get("roles", "")]), None, "")
            logins = check_logins(re.split("[,，、;； ]+", values.get("logins", "").strip())
                                  if values.get("logins", "").strip() else [])
        except InvalidInput as exc:
            problems.append(_("row {row}: {problem}", row=number, problem=exc.text))
            continue
        if handle in wanted:
            problems.append(_("row {row}: {handle} is on an earlier row already", row=number,
                              handle=quoted(handle)))
            continue
        wanted[handle] = {"name": values["name"].strip(), "email": values.get("email", ""),
                          "roles": roles, "row": number, "logins": logins}
    if problems:
        raise Problems(cast(list[str], problems))
    added: list[dict[str, Any]] = []
    updated: list[tuple[str, dict[str, Any]]] = []
    new_logins: dict[str, list[str]] = {}
    with (app.db.read() if dry_run else app.db.transaction()) as s:
        stored = {p.handle: p for p in s.execute(select(PEOPLE))}
        held = {login: handle for login, handle in s.execute(
            select(PERSON_LOGINS.c.login, PEOPLE.c.handle).join(
                PEOPLE, PEOPLE.c.id == PERSON_LOGINS.c.person_id))}
        # As `person add` / `person edit`: a channel that cannot reach them is refused now,
        # and a login is one person's.
        for handle, values in wanted.items():
            person = stored.get(handle)
            try:
                check_channel(app, person.channel if person else None, values["email"],
                              (person.address or "") if person else "")
            except InvalidInput as exc:
                problems.append(_("row {row}: {handle}: {problem}", row=values["row"],
                                  handle=handle, problem=exc.text))
            for login in values.pop("logins"):
                owner = held.get(login)
                if owner is None:  # new here (or on an earlier row of this sheet: refused)
                    held[login] = handle
                    new_logins.setdefault(handle, []).append(login)
                elif owner != handle:
                    problems.append(_("row {row}: login {login} is {owner}'s already",
                                      row=values["row"], login=quoted(login), owner=owner))
            del values["row"]
        if problems:
            raise Problems(cast(list[str], problems))
        for handle, values in wanted.items():
            person = stored.get(handle)
            if person is None:
                added.append({"handle": handle, **values, "channel": None, "address": "",
                              "active": True, "created_at": app.now()})
            elif (person.name, person.email, sorted(person.roles or [])) != (
                    values["name"], values["email"], values["roles"]) or new_logins.get(handle):
                updated.append((handle, values))
        # As `person edit`: the sheet may not take the role from the last admin who can act
        # (an imported person has no login yet, so cannot be one).
        acting = admins(s, lock=not dry_run)
        if acting and not set(acting) - {h for h, v in updated if ADMIN not in v["roles"]}:
            raise InvalidInput(_("the staff list takes the 'admin' role from {admins}, the last "
                                 "admin(s) with a login; keep it on one of their rows",
                                 admins=Listing(acting)))
        if not dry_run:
            if added:
                s.execute(insert(PEOPLE), added)
            for handle, values in updated:
                s.execute(PEOPLE.update().where(PEOPLE.c.handle == handle).values(**values))
            _add_logins(s, new_logins)
            changed = [p["handle"] for p in added] + [h for h, _v in updated]
            office.record(s, OfficeKind.IMPORTED, Subject.PERSON, office.person_ids(s, changed),
                          actor=actor, at=app.now())
    return {"file": str(path), "dry_run": dry_run, "added": len(added),
            "updated": len(updated), "unchanged": len(wanted) - len(added) - len(updated),
            "unused_columns": unused, "skipped_columns": skipped,
            "logins": sum(len(v) for v in new_logins.values())}


def _add_logins(s: Connection, logins: dict[str, list[str]]) -> None:
    """The staff list's logins, each checked above to be no one else's (as
    ``people.staff`` checks one person's), in one statement."""
    if not any(logins.values()):
        return
    ids = dict(s.execute(select(PEOPLE.c.handle, PEOPLE.c.id).where(
        PEOPLE.c.handle.in_(list(logins)))).all())
    s.execute(insert(PERSON_LOGINS), [{"person_id": ids[h], "login": login}
                                      for h, ls in logins.items() for login in ls])
