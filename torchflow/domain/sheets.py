"""An office's spreadsheet of matters, row by row: the columns of a workflow's
template, a header matched to them, and each row read into what a case needs.

Pure: cells come in as the values a reader gives (text from CSV; text, numbers,
dates and booleans from XLSX) and go out as the text ``field_values.coerce_value``
takes, so a spreadsheet row is checked exactly as ``case open --field`` is.
Every problem of a row is kept, with its column and what would be right.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import partial
from itertools import islice, zip_longest
from typing import Any

from msgspec import Struct, field

from torchflow.domain.field_values import DATE_MIN, PEOPLE_SEPARATOR, coerce_value, people_of
from torchflow.domain.graph import named_edges, only_through
from torchflow.domain.guards import guard_problems
from torchflow.domain.summary import clip
from torchflow.domain.text import FIELD_TEXT_MAX, TITLE_MAX, check_line
from torchflow.domain.vocabulary import fold, quoted, state_name
from torchflow.domain.workflow import PREVIOUS, FieldSpec, WorkflowSpec
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
# Columns an office's own ledger has beside the template's: the day a matter was
# registered (the case's opening) and its remarks (a note in its history).
OPENED, NOTE = "opened_on", "note"
LEDGER_COLUMNS: tuple[tuple[str, str], ...] = (
    (OPENED, "Registered on · 登记日期"),
    (NOTE, "Remarks · 备注"),
)
# The words Chinese ledgers head these columns with (序号 is the office's own number).
OFFICE_WORDS: dict[str, tuple[str, ...]] = {
    REF: ("序号", "编号", "项目编号", "外部编号", "No.", "No"),
    TITLE: ("项目名称", "名称", "事项", "事项名称"),
    OWNER: ("责任人", "负责人", "经办人", "跟踪人", "包联人"),
    STATE: ("当前阶段", "阶段", "项目状态", "项目阶段", "进展阶段", "状态", "当前状态"),
    ENTERED: ("进入状态日期", "进入阶段日期", "阶段日期"),
    OPENED: ("登记日期", "登记时间", "录入日期"),
    NOTE: ("备注", "说明", "备注说明"),
}
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
# A unit in brackets at the end of a column title: 计划投资(万元), （万元）, 【万元】.
_UNIT = re.compile(r"(.*?)\s*[(\[【]\s*([^()\[\]【】]*?)\s*[)\]】]\s*\Z", re.S)
MONEY = {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000)}
_MULTIPLIERS = {**MONEY, "万": Decimal(10_000), "亿": Decimal(100_000_000)}
_AMOUNT = re.compile(r"([+-]?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d+)?)(亿元|万元|元|亿|万)?\Z")
# Words that make a figure an estimate (约3000, 3000左右, 3000余万, 3000-5000).
_VAGUE = re.compile(r"约|左右|余|多|以上|以下|上下|近|超|逾|不到|不足|~|至|\d\s*-\s*\d")
_TOTALS = re.compile(r"(合计|总计|小计|total|sum)([:(].*)?\Z")
SHOWN_ROWS = 5
HEADER_SEARCH = 20  # rows looked at for the header
_LOOSE_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\Z")


def normal(text: str) -> str:
    """A header cell as compared: case, width and spacing ignored."""
    return fold(text)


def split_unit(title: str) -> tuple[str, str]:
    """A column title and the unit in brackets at its end: ('计划投资', '万元')."""
    m = _UNIT.match(fold(title))
    return (m.group(1), m.group(2)) if m and m.group(1) else (fold(title), "")


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
    parts = [{"date": f"date {DATE_FORMAT}", "person": "person handle",
              "people": "person handles, 、 between"}.get(f.type, f.type)]
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


class Header(Struct, frozen=True):
    """Which column of the file is which: ``columns[i]`` is a column key
    (``CASE_COLUMNS`` name or ``field:<name>``) or None for a column read past;
    ``units[i]`` the unit its title gives in brackets; ``skipped`` the titles of
    the columns left out by --ignore-column or --ignore-unknown."""

    columns: tuple[str | None, ...]
    titles: tuple[str, ...]
    units: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    last_row: int = 1  # the header's (last) row, as the spreadsheet numbers it

    def title_of(self, key: str, spec: WorkflowSpec) -> str:
        if key in self.columns:
            return self.titles[self.columns.index(key)]
        return dict(template_columns(spec)).get(key, key)


def _bilingual(title: str, known: Mapping[str, str]) -> str | None:
    """An "English · 中文" header (a template from before version 2): both halves
    name the same column."""
    keys = {known.get(normal(part)) for part in title.split("·") if part.strip()}
    return keys.pop() if len(keys) == 1 and "·" in title else None


def _spellings(spec: WorkflowSpec) -> dict[str, str]:
    """Every spelling of every column the workflow takes, to its key."""
    known: dict[str, str] = {}
    english = {FIELD_PREFIX + f.name: f.title_en for f in spec.fields.values()}
    for key, title in (*template_columns(spec), *LEDGER_COLUMNS):
        name = key.removeprefix(FIELD_PREFIX)
        for spelling in names_of(name, title, english.get(key, "")):
            known.setdefault(spelling, key)
    for key, words in OFFICE_WORDS.items():
        for word in words:
            known.setdefault(normal(word), key)
    # 计划投资 for 计划投资额: ledgers drop the 额 that names an amount.
    for spelling, key in list(known.items()):
        if spelling.endswith("额") and len(spelling) > 2:
            known.setdefault(spelling[:-1], key)
    return known


def _key_of(title: str, known: Mapping[str, str]) -> str | None:
    spelling = normal(title)
    if not spelling:
        return None
    return (known.get(spelling) or known.get(split_unit(title)[0])
            or _bilingual(title, known))


def find_header(leading: Sequence[Sequence[Any]], spec: WorkflowSpec, *,
                row: int | None = None) -> tuple[list[Any], int]:
    """The header among the first rows of a sheet, under any title rows (a merged
    title, 填报单位...): the row, or two rows read as one (a group title above its
    columns), naming most columns of the workflow; or row ``row`` as given (with
    the row above when that names more). Returns its cells and its last row's
    number (1-based)."""
    known = _spellings(spec)

    def score(cells: Sequence[Any]) -> int:
        return sum(1 for c in cells if _key_of(cell_text(c), known) is not None)

    def merged(upper: Sequence[Any], lower: Sequence[Any]) -> list[Any]:
        return [lo if cell_text(lo) else up for up, lo in zip_longest(upper, lower)]

    if row is not None:
        if not 1 <= row <= len(leading):
            raise InvalidInput(_("--header-row {row} is past the sheet's first {n} rows; give "
                                 "the number of the row that holds the column titles",
                                 row=row, n=len(leading)))
        last = row - 1
        candidates = [(list(leading[last]), last)]
        if last:
            candidates.append((merged(leading[last - 1], leading[last]), last))
    else:
        candidates = []
        for i in range(len(leading)):
            candidates.append((list(leading[i]), i))
            if i + 1 < len(leading):
                candidates.append((merged(leading[i], leading[i + 1]), i + 1))
    best = max(candidates, key=lambda c: score(c[0]), default=([], 0))
    if score(best[0]) == 0 and row is None and leading:
        best = (list(leading[0]), 0)
    return best[0], best[1] + 1


def match_header(cells: Sequence[Any], spec: WorkflowSpec, *, ignore: Iterable[str] = (),
                 ignore_unknown: bool = False, last_row: int = 1) -> Header:
    """Match a header row to the workflow's columns by name or title, either
    language, a unit in brackets aside (计划投资(万元)). A column that names
    nothing is refused unless ``ignore`` names it or ``ignore_unknown`` (a typo
    would otherwise lose a column of data); so is one that names a column twice."""
    known = _spellings(spec)
    passed = {s for name, title in (*EXPORT_ONLY, ERROR_COLUMN) for s in names_of(name, title)}
    skip = {normal(name): name for name in ignore}
    columns: list[str | None] = []
    titles = [cell_text(c) for c in cells]
    units: list[str] = []
    unknown: list[str] = []
    skipped: list[str] = []
    problems: list[Text] = []
    for number, title in enumerate(titles, start=1):
        spelling = normal(title)
        units.append(split_unit(title)[1])
        found = None if spelling in skip else _key_of(title, known)
        if found is None:
            if spelling in skip or (ignore_unknown and spelling and spelling not in passed):
                skipped.append(title)
                skip.pop(spelling, None)
            elif spelling and spelling not in passed:
                unknown.append(title)
            columns.append(None)
            continue
        if found in columns:
            problems.append(_("column {number} {title} names {column} again", number=number,
                              title=quoted(title), column=found.removeprefix(FIELD_PREFIX)))
        columns.append(found)
    if unknown:
        problems.append(_("the column(s) {columns} name nothing in '{workflow}'; skip them with "
                          "--ignore-column NAME (or all with --ignore-unknown), or retitle "
                          "them as the template (`torchflow import template`) does",
                          columns=_shown(_nearest(clip(t, 60), spec) for t in unknown),
                          workflow=spec.term))
    for name in skip.values():
        problems.append(_("--ignore-column {name} names no column of the sheet",
                          name=quoted(name)))
    for key, title in CASE_COLUMNS[:2]:
        if key not in columns:
            problems.append(_("the header has no column '{title}'; every row needs one",
                              title=title))
    if problems:
        raise InvalidInput(_join(problems))
    return Header(tuple(columns), tuple(titles), tuple(units), tuple(skipped), last_row)


def _nearest(title: str, spec: WorkflowSpec) -> str | Text:
    """An unknown column's title, with the column it most likely meant (a typo)."""
    titles = {normal(t): t for _k, t in template_columns(spec)}
    titles.update({normal(f.title_en): f.title_en for f in spec.fields.values() if f.title_en})
    near = difflib.get_close_matches(normal(title), list(titles), n=1, cutoff=0.75)
    if not near:
        return quoted(title)
    return _("{title} (did you mean {near}?)", title=quoted(title), near=quoted(titles[near[0]]))


def _join(parts: list[Text]) -> Text:
    return _("{first}; {rest}", first=parts[0], rest=_join(parts[1:])) if len(parts) > 1 \
        else parts[0]


def _shown(items: Iterable[Any], limit: int = 10) -> Listing | Text:
    """At most ``limit`` items, then how many more: an error line stays short."""
    items = list(items)
    if len(items) <= limit:
        return Listing(items)
    return _("{items} and {n} more", items=Listing(items[:limit]), n=len(items) - limit)


def is_totals(cells: Sequence[Any]) -> bool:
    """A totals row (合计, 总计, 小计) at the foot of a ledger: its first filled
    cells say so."""
    # Asked of every row: read cells only until three filled ones are found.
    filled = islice((t for c in cells if (t := cell_text(c))), 3)
    return any(_TOTALS.match("".join(fold(t).split())) for t in filled)


def amount_text(text: str, f: FieldSpec, column_unit: str = "") -> str | Text:
    """A number as offices write it, as the plain decimal of the field's unit:
    thousands separators dropped, 万 and 亿 (or the column's unit in brackets)
    converted (3.5亿 into 35000 for a field in 万元). An estimate (约3000) gives a
    refusal, as a Text; anything else not understood is given back as it is, for
    the field's own check to refuse."""
    t = "".join(fold(text).split())
    if not t:
        return t
    if f.unit and t.endswith(fold(f.unit)) and len(t) > len(fold(f.unit)):
        t = t[: -len(fold(f.unit))]
    m = _AMOUNT.match(t)
    if m is None or not m.group(1).strip("+-."):
        if _VAGUE.search(t) and any(ch.isdigit() for ch in t):
            unit = " (" + f.unit + ")" if f.unit else ""
            return _("{value} is an estimate; write one figure{unit}", value=quoted(text),
                     unit=unit)
        return text
    number, word = m.group(1).replace(",", ""), m.group(2)
    try:
        value = Decimal(number)
    except InvalidOperation:
        return text
    unit = word or (column_unit if column_unit in _MULTIPLIERS else "")
    if unit:
        base = MONEY.get(f.unit, Decimal(1))
        if unit in MONEY and f.unit not in MONEY:
            return text
        value = value * _MULTIPLIERS[unit] / base
    return format(value.normalize(), "f") if value else "0"


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


class RowProblem(Struct, frozen=True):
    row: int  # as the spreadsheet numbers it (the header is row 1)
    column: str
    message: str | Text

    def text(self) -> Text:
        return _("row {row}, column '{column}': {problem}", row=self.row, column=self.column,
                 problem=self.message)

    def __str__(self) -> str:
        return str(self.text())


def summarise(problems: Iterable[RowProblem]) -> list[Text]:
    """Problems once per column and message, with the rows that have it: 13 rows
    with '以商引商' in one column are one line, not 13. The rows listed are cut
    after a few (how many more is said), so every line stays short."""
    groups: dict[tuple[str, str], list[RowProblem]] = {}
    for problem in problems:
        groups.setdefault((problem.column, str(problem.message)), []).append(problem)
    lines = []
    for (column, _message), found in groups.items():
        if len(found) == 1:
            lines.append(found[0].text())
            continue
        rows = [p.row for p in found]
        shown: Listing | Text = Listing(rows)
        if len(rows) > SHOWN_ROWS:
            shown = _("{rows}, ... ({n} more)", rows=Listing(rows[:SHOWN_ROWS]),
                      n=len(rows) - SHOWN_ROWS)
        lines.append(_("column '{column}', {n} rows ({rows}): {problem}", column=column,
                       n=len(rows), rows=shown, problem=found[0].message))
    return lines


class SheetRow(Struct):
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
    opened_on: date | None = None
    note: str = ""
    state_given: bool = False  # the sheet names a state (else the initial one, for a new case)
    # The milestones passed on the way to ``state``, each with its own date column's
    # day (签约日期) or None: an imported matter counts at them too (reports).
    passed: dict[str, date | None] = field(default_factory=dict)


class People(Struct, frozen=True):
    """The people a sheet may name: each handle and whether the person is active,
    and each name held by one person only (王立) with that person's handle."""

    active: Mapping[str, bool]
    names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, people: Iterable[tuple[str, str, bool]]) -> People:
        people = list(people)
        counts: dict[str, int] = {}
        for _handle, name, _a in people:
            counts[name.strip()] = counts.get(name.strip(), 0) + 1
        return cls({h: a for h, _n, a in people},
                   {n.strip(): h for h, n, _a in people if counts[n.strip()] == 1})

    def handle(self, typed: str) -> str:
        """The handle ``typed`` names: a handle, or one person's exact name."""
        return typed if typed in self.active else self.names.get(typed, typed)


def _date(raw: str, today: date) -> date:
    day = date.fromisoformat(date_text(raw))
    if not DATE_MIN <= day <= today:
        raise ValueError(raw)
    return day


# Distinct values remembered per import (a state, a choice, a day, per column):
# more than any ledger's vocabulary, and a bound, so memory stays flat in rows.
WORDS_REMEMBERED = 10_000


class RowReader:
    """Rows of one sheet checked against the workflow (``read``): the header's
    columns placed once, and the office's words (a state, a choice, a day; 在谈,
    新能源) resolved once per distinct value, not once per cell: a ledger of
    100,000 matters writes a few dozen of them. The answers are the same as
    resolving each cell (``_word`` remembers the value or the refusal)."""

    def __init__(self, header: Header, spec: WorkflowSpec, *, today: date,
                 people: People | Mapping[str, bool]) -> None:
        self.header, self.spec, self.today = header, spec, today
        self.people = people if isinstance(people, People) else People(people)
        units = header.units
        self._slots = [(i, key) for i, key in enumerate(header.columns) if key is not None]
        self._units = {key: units[i] if i < len(units) else "" for i, key in self._slots}
        self._fields = [(f, FIELD_PREFIX + f.name) for f in spec.fields.values()]
        self._lines = ((REF, _("the external reference"), EXTERNAL_REF_MAX),
                       (TITLE, _("the title"), TITLE_MAX))
        self._note = _("the remarks")
        self._resolve = {f.name: partial(self._field, f) for f in spec.fields.values()}
        self._words: dict[tuple[str, str], tuple[bool, Any]] = {}
        self._milestones: dict[str, tuple[str, ...]] = {}  # passed on the way to a state

    def _word(self, key: str, raw: str, resolve: Callable[[str], Any]) -> tuple[bool, Any]:
        """(True, what ``resolve`` makes of ``raw``) or (False, its refusal), once
        per (column, value)."""
        found = self._words.get((key, raw))
        if found is None:
            try:
                found = (True, resolve(raw))
            except (InvalidInput, ValueError) as exc:
                found = (False, exc.text if isinstance(exc, InvalidInput) else None)
            if len(self._words) < WORDS_REMEMBERED:
                self._words[(key, raw)] = found
        return found

    def _state(self, typed: str) -> str:
        """The state a cell names: its code, title or alias (在谈, 已签约), or either
        half of an old bilingual title; else the cell as it is."""
        spec = self.spec
        if typed in spec.states:
            return typed
        try:
            return state_name(spec, typed)
        except InvalidInput:
            by_title = {normal(p): s for s, st in spec.states.items()
                        for p in names_of(s, *st.words)}
            return by_title.get(normal(typed), typed)

    def _field(self, f: FieldSpec, raw: str) -> Any:
        """A field's cell as stored; InvalidInput (with the nearest choice) if refused."""
        try:
            return coerce_value(f, date_text(raw) if f.type == "date" else raw)
        except InvalidInput as exc:
            raise InvalidInput(_suggested(f, raw, exc.text)) from None

    def read(self, number: int, cells: Sequence[Any]) -> SheetRow:
        """Check one row against the workflow: every problem at once."""
        spec, people, header = self.spec, self.people, self.header
        texts = [cell_text(c) for c in cells]
        row = SheetRow(number, texts)
        width = len(texts)
        values = {key: texts[index] if index < width else "" for index, key in self._slots}

        def bad(key: str, message: str | Text) -> None:
            row.problems.append(RowProblem(number, header.title_of(key, spec), message))

        for key, what, limit in self._lines:
            try:
                setattr(row, key, check_line(values.get(key, ""), what, limit))
            except InvalidInput as exc:
                bad(key, exc.text)
        owner = values.get(OWNER, "")
        if owner:
            owner = people.handle(owner)
            if not people.active.get(owner, False):
                bad(OWNER, _("no active person {name}; give a name or handle from "
                             "`torchflow person list`, or leave it empty", name=quoted(owner)))
            row.owner = owner
        typed = values.get(STATE, "")
        state = self._word(STATE, typed, self._state)[1] if typed else spec.initial
        row.state_given = bool(typed)
        if state in spec.states:
            row.state = state
        else:
            bad(STATE, _("{value} is not a state of '{workflow}'; one of: {states}",
                         value=quoted(typed), workflow=spec.term,
                         states=Listing(st.term for st in spec.states.values())))
        for key in (ENTERED, OPENED):
            raw = values.get(key, "")
            if raw:
                ok, day = self._word(key, raw, self._day)
                if ok:
                    setattr(row, key, day)
                else:
                    bad(key, _("wants a date as {format} between {first} and today ({today}), "
                               "got {value}", format=DATE_FORMAT, first=DATE_MIN.isoformat(),
                               today=self.today.isoformat(), value=quoted(raw)))
        if values.get(NOTE):
            try:
                row.note = check_line(values[NOTE], self._note, FIELD_TEXT_MAX)
            except InvalidInput as exc:
                bad(NOTE, exc.text)
        for f, key in self._fields:
            raw = values.get(key, "")
            if f.type in ("choice", "date"):  # the office's words: few distinct values
                ok, value = self._word(key, raw, self._resolve[f.name])
                if not ok:
                    bad(key, value)
                    continue
            else:
                if f.type == "number" and raw:
                    amount = self._amount(raw, f, self._units.get(key, ""))
                    if isinstance(amount, Text):
                        bad(key, amount)
                        continue
                    raw = amount
                elif f.type == "person" and raw:
                    raw = people.handle(raw)
                elif f.type == "people" and raw:
                    raw = PEOPLE_SEPARATOR.join(people.handle(name) for name in people_of(raw))
                try:
                    value = coerce_value(f, raw) if raw else None  # empty: no value
                except InvalidInput as exc:
                    bad(key, _suggested(f, raw, exc.text))
                    continue
            if value is None:
                if row.state and f.required_at(row.state):
                    bad(key, _("'{field}' is required in state '{state}'; give a value",
                               field=f.term, state=spec.states[row.state].term)
                        if not f.required else _("'{field}' is required; give a value",
                                                 field=f.term))
                continue
            if f.type == "person" and value not in people.active:
                bad(key, _("no person {name}; give a name or handle from `torchflow person "
                           "list`", name=quoted(str(value))))
                continue
            if f.type == "people" and (unknown := [h for h in people_of(value)
                                                   if h not in people.active]):
                bad(key, _("no person {name}; give a name or handle from `torchflow person "
                           "list`", name=quoted(unknown[0])))
                continue
            row.fields[f.name] = value
        if row.state and not row.problems:
            if row.entered_on is None:
                row.entered_on = _entered_from_dates(spec, row)
            row.passed = {m: _day_of(spec, m, row.fields) for m in self._passed(row.state)}
        return row

    def _passed(self, state: str) -> tuple[str, ...]:
        found = self._milestones.get(state)
        if found is None:
            found = self._milestones[state] = passed_milestones(self.spec, state)
        return found

    def _day(self, raw: str) -> date:
        return _date(raw, self.today)

    @staticmethod
    def _amount(raw: str, f: FieldSpec, column_unit: str) -> str | Text:
        # Plain digits are their own amount unless the column's unit scales them.
        if raw.isdigit() and raw.isascii() and column_unit not in _MULTIPLIERS:
            return raw
        return amount_text(raw, f, column_unit)


def read_row(
    number: int, cells: Sequence[Any], header: Header, spec: WorkflowSpec, *, today: date,
    people: People | Mapping[str, bool],
) -> SheetRow:
    """Check one row against the workflow: every problem at once. ``people``:
    who may be named (a mapping of handle to whether active will do). An import
    reads its rows with one ``RowReader``."""
    return RowReader(header, spec, today=today, people=people).read(number, cells)


def _entered_from_dates(spec: WorkflowSpec, row: SheetRow) -> date | None:
    """A row with no entered-state date: a lead's registration day (登记日期), or a
    milestone's own date column (签约日期 for 已签约), as reports should count it."""
    if row.state == spec.initial and row.opened_on:
        return row.opened_on
    return _day_of(spec, row.state, row.fields)


def _day_of(spec: WorkflowSpec, state: str, fields: Mapping[str, Any]) -> date | None:
    """A state's own date among a row's fields: a date field titled as the state
    or its milestone, with 日期 (签约日期 for signed, 开工日期 for construction)."""
    titles = {spec.states[state].title}
    titles.update(m.title for m in spec.milestones if m.state == state)
    for f in spec.fields.values():
        if f.type == "date" and f.name in fields and any(
                normal(f.title) == normal(t + "日期") for t in titles if t):
            day = date.fromisoformat(str(fields[f.name]))
            return day if day >= DATE_MIN else None
    return None


def passed_milestones(spec: WorkflowSpec, state: str) -> tuple[str, ...]:
    """The milestones a case in ``state`` has passed on its way there (签约 and
    开工 for one in production): the milestone states ``state`` is reached only
    through (``graph.only_through``), ``state`` itself aside."""
    edges = named_edges(spec.states, spec.transitions)
    return tuple(m.state for m in spec.milestones
                 if m.state != state and state in only_through(m.state, spec.initial, edges))


def _suggested(f: FieldSpec, typed: str, problem: str | Text) -> str | Text:
    """A choice's refusal with the nearest of its words, when one is near."""
    if f.type != "choice":
        return problem
    words = {fold(w): o.title or o.name for o in (f.option(v) for v in f.choices)
             for w in o.words}
    near = difflib.get_close_matches(fold(typed), list(words), n=1, cutoff=0.5)
    if not near:
        return problem
    return _("{problem}; did you mean {word}?", problem=problem, word=quoted(words[near[0]]))


class Move(Struct, frozen=True):
    """A re-imported row's new stage reached along the workflow: each transition
    fired, and the state it leads to."""

    steps: tuple[tuple[str, str], ...]  # (trigger, dest)


def plan_move(spec: WorkflowSpec, state: str, previous: str | None, target: str,
              fields: Mapping[str, Any], roles: Iterable[str]) -> Move | Text:
    """The shortest way from ``state`` to ``target`` along the workflow's
    transitions whose guards (required fields, roles) ``fields`` and ``roles``
    meet; or, as a Text, why there is none: the first guard in the way, or no
    way at all."""
    roles = tuple(roles)
    found = _shortest(spec, state, previous, target, lambda t: not guard_problems(
        t, fields, roles, spec.fields))
    if found is not None:
        return Move(found)
    where = _("from {state} to {target}", state=spec.states[state].term,
              target=spec.states[target].term)
    unguarded = _shortest(spec, state, previous, target, lambda t: True)
    if unguarded is None:
        return _("no transition of '{workflow}' leads {where}; move it with `torchflow case "
                 "advance`, or give its present stage", workflow=spec.term, where=where)
    at = state
    for trigger, dest in unguarded:
        transition = spec.transition(at, trigger)
        problems = guard_problems(transition, fields, roles, spec.fields) if transition else []
        if problems:
            return _("cannot move {where}: {problem}", where=where,
                     problem=Listing(problems, "clauses"))
        at = dest
    return _("cannot move {where}", where=where)


def _shortest(spec: WorkflowSpec, state: str, previous: str | None, target: str,
              passes: Any) -> tuple[tuple[str, str], ...] | None:
    """Breadth first over (state, the state before it), so @previous resolves."""
    start = (state, previous)
    came: dict[tuple[str, str | None], tuple[tuple[str, str | None], str] | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node[0] == target and node != start:
            steps: list[tuple[str, str]] = []
            while (link := came[node]) is not None:
                steps.append((link[1], node[0]))
                node = link[0]
            return tuple(reversed(steps))
        for t in spec.transitions_from(node[0]):
            dest = node[1] if t.dest == PREVIOUS else t.dest
            if dest is None or dest not in spec.states or not passes(t):
                continue
            nxt = (dest, node[0])
            if nxt not in came:
                came[nxt] = (node, t.trigger)
                queue.append(nxt)
    return None


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
