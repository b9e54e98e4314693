"""An office's spreadsheet of matters, row by row: the columns of a workflow's
template, a header matched to them, and each row read into what a case needs.

Pure: cells come in as the values a reader gives (text from CSV; text, numbers,
dates and booleans from XLSX) and go out as the text ``field_values.coerce_value``
takes, so a spreadsheet row is checked exactly as ``case open --field`` is.
Every problem of a row is kept, with its column and what would be right.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from torchflow.domain.field_values import DATE_MIN, coerce_value
from torchflow.domain.summary import clip, few
from torchflow.domain.text import TITLE_MAX, check_line
from torchflow.domain.vocabulary import state_name
from torchflow.domain.workflow import FieldSpec, WorkflowSpec
from torchflow.errors import InvalidInput
from torchflow.i18n import Listing, Text, _

EXTERNAL_REF_MAX = 200
DATE_FORMAT = "YYYY-MM-DD"

# The case columns every template starts with: (name, bilingual title).
REF, TITLE, OWNER, STATE, ENTERED = "external_ref", "title", "owner", "state", "entered_on"
CASE_COLUMNS: tuple[tuple[str, str], ...] = (
    (REF, "External reference · 外部编号"),
    (TITLE, "Title · 标题"),
    (OWNER, "Owner · 负责人"),
    (STATE, "State · 状态"),
    (ENTERED, "Entered state on · 进入状态日期"),
)
# Columns an export adds that an import reads past (they are the engine's own).
EXPORT_ONLY: tuple[tuple[str, str], ...] = (
    ("key", "Case key · 案件编号"),
    ("workflow", "Workflow · 流程"),
    ("version", "Workflow version · 流程版本"),
    ("opened_at", "Opened at · 立案时间"),
    ("closed_at", "Closed at · 结案时间"),
)
# The column `--skip-bad` adds to the rows it writes out, read past on import, so
# that file, fixed, imports again as it is.
ERROR_COLUMN = ("error", "error · 错误")
FIELD_PREFIX = "field:"
_HINT = re.compile(r"\[.*\]\Z", re.S)
_SPACES = re.compile(r"\s+")
_LOOSE_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\Z")


def normal(text: str) -> str:
    """A header cell as compared: case and spacing ignored."""
    return _SPACES.sub(" ", text.strip()).casefold()


def names_of(name: str, *titles: str) -> set[str]:
    """Every spelling that names a column: its name, its titles, and each language
    of a bilingual "English · 中文" header (templates written before version 2)."""
    spellings = {normal(name)}
    for title in titles:
        spellings.add(normal(title))
        spellings.update(normal(part) for part in title.split("·") if part.strip())
    return spellings


def template_columns(spec: WorkflowSpec) -> list[tuple[str, str]]:
    """(column key, header title) of the workflow's template, in order."""
    return [*CASE_COLUMNS,
            *((FIELD_PREFIX + f.name, f.title or f.name) for f in spec.fields.values())]


def hint_row(spec: WorkflowSpec) -> list[str]:
    """The row under the header: for each column its type, whether it is
    required, its choices and the date format, in brackets (import skips it)."""
    states = " | ".join(spec.states)
    hints = [
        "[text, required, unique: the matter's number in your sheet · 必填]",
        "[text, required · 必填]",
        "[person handle; empty: you]",
        f"[one of: {states}; empty: {spec.initial}]",
        f"[date {DATE_FORMAT}; empty: today]",
    ]
    return hints + [_field_hint(f) for f in spec.fields.values()]


def _field_hint(f: FieldSpec) -> str:
    parts = [{"date": f"date {DATE_FORMAT}", "person": "person handle"}.get(f.type, f.type)]
    if f.unit:
        parts.append(f.unit)
    parts.append("required · 必填" if f.required else "optional")
    if f.choices:
        parts.append("one of: " + " | ".join(f.choices))
    return "[" + ", ".join(parts) + "]"


def is_hint(cells: Sequence[Any]) -> bool:
    """A template's hint row: every filled cell is in brackets."""
    filled = [c for c in cells if cell_text(c)]
    return bool(filled) and all(_HINT.match(cell_text(c)) for c in filled)


@dataclass(frozen=True)
class Header:
    """Which column of the file is which: ``columns[i]`` is a column key
    (``CASE_COLUMNS`` name or ``field:<name>``) or None for a column read past."""

    columns: tuple[str | None, ...]
    titles: tuple[str, ...]

    def title_of(self, key: str, spec: WorkflowSpec) -> str:
        if key in self.columns:
            return self.titles[self.columns.index(key)]
        return dict(template_columns(spec)).get(key, key)


def _bilingual(title: str, known: Mapping[str, str]) -> str | None:
    """An "English · 中文" header (a template from before version 2): both halves
    name the same column."""
    keys = {known.get(normal(part)) for part in title.split("·") if part.strip()}
    return keys.pop() if len(keys) == 1 and "·" in title else None


def match_header(cells: Sequence[Any], spec: WorkflowSpec) -> Header:
    """Match a header row to the workflow's columns by name or title, either
    language. A column that names nothing, or names a column twice, is refused
    (a typo would otherwise lose a column of data)."""
    known: dict[str, str] = {}
    english = {FIELD_PREFIX + f.name: f.title_en for f in spec.fields.values()}
    for key, title in template_columns(spec):
        name = key.removeprefix(FIELD_PREFIX)
        for spelling in names_of(name, title, english.get(key, "")):
            known.setdefault(spelling, key)
    ignored = {s for name, title in (*EXPORT_ONLY, ERROR_COLUMN) for s in names_of(name, title)}
    columns: list[str | None] = []
    titles = [cell_text(c) for c in cells]
    problems: list[Text] = []
    unknown, twice = [], []
    for number, title in enumerate(titles, start=1):
        spelling = normal(title)
        found = known.get(spelling) or _bilingual(title, known)
        if found is None:
            if spelling and spelling not in ignored:
                unknown.append(f"{number} '{clip(title, 60)}'")
            columns.append(None)
            continue
        if found in columns:
            twice.append(f"{number} '{clip(title, 60)}' ({found.removeprefix(FIELD_PREFIX)})")
        columns.append(found)
    # However many columns are wrong, one bounded line each kind (domain/summary.py).
    if unknown:
        problems.append(_("column {columns} names no column of '{workflow}'; columns: {known}",
                          columns=few(unknown), workflow=spec.name,
                          known=Listing(t for _k, t in template_columns(spec))))
    if twice:
        problems.append(_("column {columns} names a column again", columns=few(twice)))
    for key, title in CASE_COLUMNS[:2]:
        if key not in columns:
            problems.append(_("the header has no column '{title}'; every row needs one",
                              title=title))
    if len(problems) > 1:
        raise InvalidInput(_("{first}; {rest}", first=problems[0],
                             rest=Listing(problems[1:], "clauses")))
    if problems:
        raise InvalidInput(problems[0])
    return Header(tuple(columns), tuple(titles))


def cell_text(value: Any) -> str:
    """A cell as text: an XLSX number as a plain decimal (integral ones without
    '.0'), a date as YYYY-MM-DD, a date-time at midnight as its date."""
    if type(value) is str:  # every CSV cell, most XLSX ones: first, not last
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    return str(value).strip()


def date_text(text: str) -> str:
    """Dates as Chinese offices write them (2026/3/4, 2026.03.04, 2026年3月4日)
    in the stored form YYYY-MM-DD; anything else as it is, to be refused."""
    m = _LOOSE_DATE.match(text.strip())
    if m is None:
        return text
    year, month, day = (int(g) for g in m.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


@dataclass(frozen=True)
class RowProblem:
    row: int  # as the spreadsheet numbers it (the header is row 1)
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column '{self.column}': {self.message}"


@dataclass
class SheetRow:
    """One row read: the case it describes, or its problems."""

    number: int
    cells: list[str]
    external_ref: str = ""
    title: str = ""
    owner: str | None = None
    state: str = ""
    entered_on: date | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)


def read_row(
    number: int, cells: Sequence[Any], header: Header, spec: WorkflowSpec, *, today: date,
    people: Mapping[str, bool],
) -> SheetRow:
    """Check one row against the workflow: every problem at once. ``people``
    maps each known handle to whether the person is active."""
    texts = [cell_text(c) for c in cells]
    row = SheetRow(number, texts)
    values: dict[str, str] = {}
    for index, key in enumerate(header.columns):
        if key is not None:
            values[key] = texts[index] if index < len(texts) else ""

    def bad(key: str, message: str) -> None:
        row.problems.append(RowProblem(number, header.title_of(key, spec), message))

    for key, what, limit in ((REF, "the external reference", EXTERNAL_REF_MAX),
                             (TITLE, "the title", TITLE_MAX)):
        try:
            setattr(row, key, check_line(values.get(key, ""), what, limit))
        except InvalidInput as exc:
            bad(key, str(exc))
    owner = values.get(OWNER, "")
    if owner:
        if not people.get(owner, False):
            bad(OWNER, f"no active person '{owner}'; give a handle from `torchflow person list`"
                       " or leave it empty")
        row.owner = owner
    state = values.get(STATE, "") or spec.initial
    if state not in spec.states:
        # Its title or an alias (在谈, 已签约), or either half of an old bilingual title.
        by_title = {normal(p): s for s, st in spec.states.items()
                    for p in names_of(s, *st.words)}
        try:
            state = state_name(spec, state)
        except InvalidInput:
            state = by_title.get(normal(state), state)
    if state in spec.states:
        row.state = state
    else:
        bad(STATE, f"'{values.get(STATE)}' is not a state of '{spec.name}'; one of: "
                   + ", ".join(spec.states))
    entered = date_text(values.get(ENTERED, ""))
    if entered:
        try:
            day = date.fromisoformat(entered)
            if not DATE_MIN <= day <= today:
                raise ValueError(entered)
            row.entered_on = day
        except ValueError:
            bad(ENTERED, f"wants a date as {DATE_FORMAT} between {DATE_MIN} and today "
                         f"({today}), got {entered!r}")
    for f in spec.fields.values():
        raw = values.get(FIELD_PREFIX + f.name, "")
        if f.type == "date":
            raw = date_text(raw)
        try:
            value = coerce_value(f, raw)
        except InvalidInput as exc:
            bad(FIELD_PREFIX + f.name, str(exc))
            continue
        if value is None:
            if f.required:
                bad(FIELD_PREFIX + f.name, f"'{f.name}' is required; give a value")
            continue
        if f.type == "person" and value not in people:
            bad(FIELD_PREFIX + f.name, f"no person '{value}'; give a handle from "
                                       "`torchflow person list`")
            continue
        row.fields[f.name] = value
    return row


_SHEET_NAME_BAD = str.maketrans({c: "_" for c in "[]:*?/\\"})


def sheet_name(name: str, used: set[str]) -> str:
    """A valid, unique worksheet name (31 characters, none of []:*?/\\)."""
    base = name.translate(_SHEET_NAME_BAD)[:31] or "sheet"
    candidate, n = base, 2
    while candidate.casefold() in used:
        candidate = f"{base[:28]}~{n}"
        n += 1
    used.add(candidate.casefold())
    return candidate
