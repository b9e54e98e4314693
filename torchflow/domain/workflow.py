"""Workflow specifications: the TOML files under ``workflows/`` parsed into frozen
values, validated all at once, plus the coercion of custom-field values typed on
the command line.

Pure: the only I/O is reading files in ``load_file`` / ``load_directory``.
The file format is documented in docs/workflows.md.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import keyword
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from torchflow.domain.rules import ContactRule, DeadlineRule, Rule, VisitRule
from torchflow.errors import InvalidInput, WorkflowError

PREVIOUS = "@previous"
FIELD_TYPES = ("text", "number", "date", "choice", "person")

_IDENT = re.compile(r"[a-z][a-z0-9_]*\Z")
_KEY_PREFIX = re.compile(r"[A-Z]{2,4}\Z")
_DURATION = re.compile(r"\s*(\d+)\s*([A-Za-z]+)\s*\Z")
_UNITS = {
    "workday": "workdays", "workdays": "workdays", "wd": "workdays",
    "day": "days", "days": "days", "d": "days",
    "week": "weeks", "weeks": "weeks", "w": "weeks",
}  # fmt: skip
_PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)\Z")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")

# Triggers become methods of the case model in `transitions`, so they must not be
# Python keywords nor shadow what the library itself puts on the model.
_RESERVED_TRIGGERS = frozenset(keyword.kwlist) | {"trigger", "state"}

_TOP_KEYS = ("name", "title", "version", "key_prefix", "description", "initial",
             "fields", "states", "transitions")  # fmt: skip
_TOP_REQUIRED = ("name", "title", "version", "key_prefix", "states")
_FIELD_KEYS = ("type", "title", "required", "choices", "unit", "help")
_STATE_KEYS = ("title", "terminal", "contact", "visit", "deadline")
_TRANSITION_KEYS = ("trigger", "source", "dest", "requires", "roles", "title")
_RULE_KEYS = {
    "contact": (("every",), ("remind",)),
    "visit": (("min_gap", "max_gap"), ("remind",)),
    "deadline": (("within", "escalate_to"), ("remind",)),
}  # rule -> (required keys, optional keys)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class FieldSpec:
    """A custom field of the cases of a workflow."""

    name: str
    type: str  # one of FIELD_TYPES
    title: str
    required: bool  # required when the case is opened
    choices: tuple[str, ...] = ()
    unit: str = ""  # e.g. "万元" for a number
    help: str = ""


@dataclass(frozen=True)
class StateSpec:
    """A state and the follow-ups the engine keeps scheduled while a case sits in it."""

    name: str
    title: str
    terminal: bool
    contact: ContactRule | None = None
    visit: VisitRule | None = None
    deadline: DeadlineRule | None = None

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The follow-up rules present, in the order contact, visit, deadline."""
        return tuple(r for r in (self.contact, self.visit, self.deadline) if r is not None)


@dataclass(frozen=True)
class TransitionSpec:
    """A trigger leading from any of ``sources`` to ``dest`` (a state or PREVIOUS)."""

    trigger: str
    sources: tuple[str, ...]
    dest: str
    requires: tuple[str, ...] = ()  # custom fields that must have a value first
    roles: tuple[str, ...] = ()  # roles allowed to fire it; empty = anyone
    title: str = ""


@dataclass(frozen=True)
class WorkflowSpec:
    """One parsed and validated workflow definition."""

    name: str
    title: str
    version: int
    key_prefix: str
    initial: str
    fields: dict[str, FieldSpec]
    states: dict[str, StateSpec]
    transitions: tuple[TransitionSpec, ...]
    digest: str
    source: str
    path: str
    description: str = ""

    def transitions_from(self, state: str) -> list[TransitionSpec]:
        """The transitions that may fire in ``state``, in file order."""
        return [t for t in self.transitions if state in t.sources]

    def transition(self, state: str, trigger: str) -> TransitionSpec | None:
        """The transition ``trigger`` fires from ``state``, or None."""
        # Validation guarantees at most one match per (state, trigger).
        return next((t for t in self.transitions_from(state) if t.trigger == trigger), None)


# --------------------------------------------------------------------------- public API


def parse_workflow(text: str, path: str = "<string>") -> WorkflowSpec:
    """Parse and validate one TOML definition; WorkflowError lists every problem."""
    spec, problems = _build(text, path)
    if problems or spec is None:
        raise WorkflowError(problems or [f"{path}: invalid workflow"])
    return spec


def validate_text(text: str, path: str = "<string>") -> list[str]:
    """Every problem of a definition, each as "<path>: <key>: <message>"; [] when valid."""
    return _build(text, path)[1]


def load_file(path: str | Path) -> WorkflowSpec:
    """Read and parse one workflow file."""
    return parse_workflow(_read(Path(path)), str(path))


def load_directory(directory: str | Path) -> dict[str, WorkflowSpec]:
    """Every ``*.toml`` of ``directory`` keyed by workflow name; WorkflowError lists
    the problems of all files together, including names or key prefixes used twice."""
    folder = Path(directory)
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "not found"
        raise WorkflowError([f"{folder}: workflow directory {what}"])
    specs: dict[str, WorkflowSpec] = {}
    problems: list[str] = []
    for file in sorted(folder.glob("*.toml")):
        try:
            spec = load_file(file)
        except WorkflowError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(_clashes(spec, specs.values()))
        specs.setdefault(spec.name, spec)
    if problems:
        raise WorkflowError(problems)
    return specs


def parse_duration(text: str) -> tuple[int, str]:
    """Parse "<n> <unit>" into (n, "workdays") or (days, "days"); a week is 7 days."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise InvalidInput(
            f"bad duration {text!r}; write '<n> <unit>' with unit workdays, days or weeks, "
            "e.g. '5 workdays'"
        )
    n = int(match.group(1))
    return (n * 7, "days") if unit == "weeks" else (n, unit)


def coerce_value(field: FieldSpec, raw: str) -> str | int | float | None:
    """Turn the text of a CLI ``name=value`` into the field's stored value.

    An empty value means "clear" and gives None. Numbers are plain decimals
    (no thousands separators, no exponents) and come back as int when integral.
    """
    text = raw.strip()
    if not text:
        return None
    coerce = _COERCERS.get(field.type)
    if coerce is None:
        raise InvalidInput(f"field '{field.name}' has unknown type '{field.type}'")
    return coerce(field, text)


# --------------------------------------------------------------------------- coercion


def _coerce_text(field: FieldSpec, text: str) -> str:
    return text


def _coerce_number(field: FieldSpec, text: str) -> int | float:
    value: Decimal | None = None
    if _PLAIN_DECIMAL.match(text):
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
    if value is None:
        unit = f" ({field.unit})" if field.unit else ""
        raise InvalidInput(
            f"field '{field.name}' wants a number, got {text!r}; write plain decimal "
            f"digits without thousands separators, e.g. {field.name}=5000{unit}"
        )
    return int(value) if value == value.to_integral_value() else float(value)


def _coerce_date(field: FieldSpec, text: str) -> str:
    # date.fromisoformat alone would also take "20260105" or "2026-W01-1"; the
    # stored form must be exactly YYYY-MM-DD, so check the shape first.
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidInput(
            f"field '{field.name}' wants a date as YYYY-MM-DD, got {text!r}; "
            f"e.g. {field.name}=2026-03-15"
        ) from None


def _coerce_choice(field: FieldSpec, text: str) -> str:
    if text in field.choices:
        return text
    # Forgive letter case when it leaves exactly one candidate.
    folded = [c for c in field.choices if c.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise InvalidInput(
        f"field '{field.name}' must be one of: {', '.join(field.choices)}; got {text!r}"
    )


def _coerce_person(field: FieldSpec, text: str) -> str:
    # Only the shape is checked here; whether the person exists is the service's job.
    if any(ch.isspace() for ch in text):
        raise InvalidInput(
            f"field '{field.name}' wants a person's handle, got {text!r}; "
            f"e.g. {field.name}=wangfang"
        )
    return text


_COERCERS = {
    "text": _coerce_text,
    "number": _coerce_number,
    "date": _coerce_date,
    "choice": _coerce_choice,
    "person": _coerce_person,
}


# --------------------------------------------------------------------------- files


def _read(path: Path) -> str:
    try:
        # utf-8-sig: Windows editors often save a BOM that tomllib would reject.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise WorkflowError([f"{path}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise WorkflowError([f"{path}: not UTF-8 text ({exc.reason})"]) from None
    except OSError as exc:
        raise WorkflowError([f"{path}: cannot read: {exc.strerror}"]) from None


def _clashes(spec: WorkflowSpec, earlier: Iterable[WorkflowSpec]) -> list[str]:
    """Names and key prefixes must be unique across a directory: the name selects
    the workflow, the prefix makes case keys tell their workflow apart."""
    problems = []
    for other in earlier:
        if other.name == spec.name:
            problems.append(
                f"{spec.path}: name: workflow '{spec.name}' is already defined in "
                f"{other.path}; give each workflow its own name"
            )
        if other.key_prefix == spec.key_prefix:
            problems.append(
                f"{spec.path}: key_prefix: '{spec.key_prefix}' is already used by "
                f"'{other.name}' ({other.path}); give each workflow its own prefix"
            )
    return problems


# --------------------------------------------------------------------------- building


class _Report:
    """Collects problems as "<path>: <key>: <message>" so all are reported at once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}: {key}: {message}")


def _build(text: str, path: str) -> tuple[WorkflowSpec | None, list[str]]:
    report = _Report(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        report.add(f"line {line.group(1)}" if line else "toml", f"TOML syntax error: {exc}")
        return None, report.problems
    spec = _Builder(report, doc).build(text)
    return (spec if not report.problems else None), report.problems


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_keys(
    report: _Report,
    key: str,
    table: Mapping[str, Any],
    allowed: tuple[str, ...],
    required: tuple[str, ...] = (),
) -> None:
    prefix = f"{key}." if key else ""
    for name in table:
        if name not in allowed:
            report.add(
                f"{prefix}{name}",
                f"unknown key '{name}'{_suggest(name, allowed)}; "
                f"expected one of: {', '.join(allowed)}",
            )
    for name in required:
        if name not in table:
            report.add(f"{prefix}{name}", f"missing; required, e.g. {_EXAMPLES[name]}")


_EXAMPLES = {
    "name": 'name = "project_introduction"',
    "title": 'title = "Project introduction · 项目引进"',
    "version": "version = 1",
    "key_prefix": 'key_prefix = "PI"',
    "states": "a [states.<name>] table",
    "type": 'type = "text"',
    "trigger": 'trigger = "sign"',
    "source": 'source = "negotiation"',
    "dest": 'dest = "signed"',
    "every": 'every = "5 workdays"',
    "remind": 'remind = "1 workday"',
    "min_gap": 'min_gap = "2 weeks"',
    "max_gap": 'max_gap = "6 weeks"',
    "within": 'within = "20 workdays"',
    "escalate_to": 'escalate_to = "director"',
}


def _type_name(value: object) -> str:
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


class _Builder:
    """Turns one parsed TOML document into a WorkflowSpec, recording every problem.

    Each part is parsed independently and falls back to a harmless default when
    it is wrong, so that later checks still run and report their own problems.
    """

    def __init__(self, report: _Report, doc: dict[str, Any]) -> None:
        self.report = report
        self.doc = doc
        self.broken_refs = False  # a transition names a state that does not exist

    # -- typed getters -------------------------------------------------------

    def _str(self, table: Mapping[str, Any], name: str, key: str, default: str = "") -> str:
        value = table.get(name, default)
        if not isinstance(value, str):
            self.report.add(key, f"wants a string, got {_type_name(value)}")
            return default
        return value

    def _title(self, table: Mapping[str, Any], key: str, default: str = "") -> str:
        value = self._str(table, "title", key, default)
        if "title" in table and isinstance(table["title"], str) and not value.strip():
            self.report.add(key, "must not be empty")
        return value

    def _bool(self, table: Mapping[str, Any], name: str, key: str) -> bool:
        value = table.get(name, False)
        if not isinstance(value, bool):
            self.report.add(key, f"wants true or false, got {_type_name(value)}")
            return False
        return value

    def _ident(self, table: Mapping[str, Any], name: str, key: str, what: str) -> str:
        value = self._str(table, name, key)
        if isinstance(table.get(name), str) and not _IDENT.match(value):
            self.report.add(
                key,
                f"bad {what} {value!r}; use lowercase letters, digits and '_', "
                "starting with a letter",
            )
        return value

    def _names(
        self, table: Mapping[str, Any], name: str, key: str, scalar_ok: bool = False
    ) -> tuple[str, ...]:
        """A list of unique non-empty strings (or one string when scalar_ok)."""
        value = table.get(name, [])
        if scalar_ok and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            wanted = "an array of non-empty strings"
            wanted = f"a string or {wanted}" if scalar_ok else wanted
            self.report.add(key, f"wants {wanted}, got {value!r}")
            return ()
        for dup in sorted({v for v in value if value.count(v) > 1}):
            self.report.add(key, f"'{dup}' is listed twice")
        return tuple(dict.fromkeys(value))

    def _table(self, name: str) -> dict[str, Any]:
        value = self.doc.get(name, {})
        if not isinstance(value, dict):
            got = _type_name(value)
            self.report.add(name, f"wants a table of [{name}.<name>] tables, got {got}")
            return {}
        return value

    # -- the whole document -----------------------------------------------------

    def build(self, text: str) -> WorkflowSpec:
        doc, report = self.doc, self.report
        _check_keys(report, "", doc, _TOP_KEYS, _TOP_REQUIRED)
        name = self._ident(doc, "name", "name", "workflow name")
        title = self._title(doc, "title")
        version = self._version()
        key_prefix = self._key_prefix()
        description = self._str(doc, "description", "description")
        fields = self._fields()
        states = self._states()
        initial = self._initial(states)
        transitions = self._transitions(states, fields)
        if not self.broken_refs:
            # With a misspelt state name the graph is not the one meant: its dead
            # ends and unreachable states would only echo the typo.
            _Graph(report, states, transitions, initial).check()
        return WorkflowSpec(
            name=name,
            title=title,
            version=version,
            key_prefix=key_prefix,
            initial=initial,
            fields=fields,
            states=states,
            transitions=transitions,
            digest=_digest(doc),
            source=text,
            path=report.path,
            description=description,
        )

    def _version(self) -> int:
        value = self.doc.get("version", 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.report.add("version", f"wants a positive integer like 1, got {value!r}")
            return 1
        return value

    def _key_prefix(self) -> str:
        value = self._str(self.doc, "key_prefix", "key_prefix")
        if isinstance(self.doc.get("key_prefix"), str) and not _KEY_PREFIX.match(value):
            self.report.add(
                "key_prefix",
                f"bad key prefix {value!r}; use 2 to 4 uppercase letters, "
                "e.g. 'PI' for keys like PI-2026-0001",
            )
        return value

    def _initial(self, states: dict[str, StateSpec]) -> str:
        first = next(iter(states), "")
        if "initial" not in self.doc:
            return first
        value = self._str(self.doc, "initial", "initial", first)
        if value == PREVIOUS:
            self.report.add("initial", f"'{PREVIOUS}' cannot be the initial state; name a state")
        elif states and value not in states:
            self.report.add("initial", _unknown_state(value, states))
        return value

    # -- fields -------------------------------------------------------------------

    def _fields(self) -> dict[str, FieldSpec]:
        fields = {}
        for name, raw in self._table("fields").items():
            field = self._field(name, raw)
            if field is not None:
                fields[name] = field
        return fields

    def _field(self, name: str, raw: object) -> FieldSpec | None:
        key = f"fields.{name}"
        if not _IDENT.match(name):
            self.report.add(key, f"bad field name {name!r}; use lowercase letters, digits, '_'")
        if not isinstance(raw, dict):
            self.report.add(key, f"wants a [{key}] table, got {_type_name(raw)}")
            return None
        _check_keys(self.report, key, raw, _FIELD_KEYS, ("type",))
        ftype = self._str(raw, "type", f"{key}.type", "text")
        if ftype not in FIELD_TYPES:
            self.report.add(
                f"{key}.type",
                f"unknown field type {ftype!r}{_suggest(ftype, FIELD_TYPES)}; "
                f"types are: {', '.join(FIELD_TYPES)}",
            )
        return FieldSpec(
            name=name,
            type=ftype,
            title=self._title(raw, f"{key}.title", name),
            required=self._bool(raw, "required", f"{key}.required"),
            choices=self._choices(key, ftype, raw),
            unit=self._unit(key, ftype, raw),
            help=self._str(raw, "help", f"{key}.help"),
        )

    def _choices(self, key: str, ftype: str, raw: dict[str, Any]) -> tuple[str, ...]:
        if ftype != "choice":
            if "choices" in raw and ftype in FIELD_TYPES:  # else the type is the problem
                self.report.add(f"{key}.choices", f"only a choice field has choices, not {ftype}")
            return ()
        choices = self._names(raw, "choices", f"{key}.choices")
        if not choices and "choices" in raw and isinstance(raw["choices"], list):
            self.report.add(f"{key}.choices", "must list at least one choice")
        elif "choices" not in raw:
            self.report.add(
                f"{key}.choices", 'missing; a choice field needs choices = ["...", "..."]'
            )
        return choices

    def _unit(self, key: str, ftype: str, raw: dict[str, Any]) -> str:
        unit = self._str(raw, "unit", f"{key}.unit")
        if unit and ftype != "number" and ftype in FIELD_TYPES:
            self.report.add(f"{key}.unit", f"only a number field has a unit, not {ftype}")
        return unit

    # -- states --------------------------------------------------------------------

    def _states(self) -> dict[str, StateSpec]:
        table = self._table("states")
        if self.doc.get("states") == {}:
            self.report.add("states", "no states; define at least one [states.<name>] table")
        states = {}
        for name, raw in table.items():
            state = self._state(name, raw)
            if state is not None:
                states[name] = state
        if states and not any(s.terminal for s in states.values()):
            self.report.add("states", "no terminal state; mark at least one with terminal = true")
        return states

    def _state(self, name: str, raw: object) -> StateSpec | None:
        key = f"states.{name}"
        if not _IDENT.match(name):
            self.report.add(key, f"bad state name {name!r}; use lowercase letters, digits, '_'")
        if not isinstance(raw, dict):
            self.report.add(key, f"wants a [{key}] table, got {_type_name(raw)}")
            return None
        _check_keys(self.report, key, raw, _STATE_KEYS)
        terminal = self._bool(raw, "terminal", f"{key}.terminal")
        rules = _RuleParser(self.report, name, key)
        state = StateSpec(
            name=name,
            title=self._title(raw, f"{key}.title", name),
            terminal=terminal,
            contact=rules.contact(raw["contact"]) if "contact" in raw else None,
            visit=rules.visit(raw["visit"]) if "visit" in raw else None,
            deadline=rules.deadline(raw["deadline"]) if "deadline" in raw else None,
        )
        present = [kind for kind in _RULE_KEYS if kind in raw]
        if terminal and present:
            # A case in a terminal state is closed: nobody follows it up.
            self.report.add(
                key,
                f"a terminal state has no follow-ups; remove {', '.join(present)} "
                "or set terminal = false",
            )
        return state

    # -- transitions -------------------------------------------------------------

    def _transitions(
        self, states: dict[str, StateSpec], fields: dict[str, FieldSpec]
    ) -> tuple[TransitionSpec, ...]:
        raw = self.doc.get("transitions", [])
        if not isinstance(raw, list):
            self.report.add("transitions", f"wants [[transitions]] tables, got {_type_name(raw)}")
            return ()
        result = []
        seen: dict[tuple[str, str], int] = {}  # (source, trigger) -> index
        for index, item in enumerate(raw):
            t = self._transition(index, item, states, fields)
            if t is None:
                continue
            result.append(t)
            if t.trigger in _RESERVED_TRIGGERS:
                self.report.add(
                    f"transitions[{index}].trigger",
                    f"'{t.trigger}' is a reserved word; choose another trigger name",
                )
            if not _IDENT.match(t.trigger):
                continue  # already reported; a bad trigger cannot clash meaningfully
            for source in t.sources:
                earlier = seen.setdefault((source, t.trigger), index)
                if earlier != index:
                    self.report.add(
                        f"transitions[{index}].trigger",
                        f"trigger '{t.trigger}' from state '{source}' is already defined by "
                        f"transitions[{earlier}]; a trigger leaves a state only one way",
                    )
        return tuple(result)

    def _transition(
        self, index: int, raw: object, states: dict[str, StateSpec], fields: dict[str, FieldSpec]
    ) -> TransitionSpec | None:
        key = f"transitions[{index}]"
        if not isinstance(raw, dict):
            self.report.add(key, f"wants a [[transitions]] table, got {_type_name(raw)}")
            return None
        _check_keys(self.report, key, raw, _TRANSITION_KEYS, ("trigger", "source", "dest"))
        sources = self._names(raw, "source", f"{key}.source", scalar_ok=True)
        for source in sources:
            if source == PREVIOUS:
                self.report.add(f"{key}.source", f"'{PREVIOUS}' can only be a dest")
            elif source not in states:
                self.broken_refs = True
                self.report.add(f"{key}.source", _unknown_state(source, states))
        if "source" in raw and raw["source"] == []:
            self.report.add(f"{key}.source", "must name at least one state")
        dest = self._str(raw, "dest", f"{key}.dest")
        if "dest" in raw and dest != PREVIOUS and dest not in states:
            self.broken_refs = True
            self.report.add(f"{key}.dest", _unknown_state(dest, states, PREVIOUS))
        requires = self._names(raw, "requires", f"{key}.requires")
        for name in requires:
            if name not in fields:
                known = ", ".join(fields) or "(none declared)"
                self.report.add(
                    f"{key}.requires",
                    f"unknown field '{name}'{_suggest(name, fields)}; fields are: {known}",
                )
        roles = self._names(raw, "roles", f"{key}.roles")
        for role in roles:
            if not _IDENT.match(role):
                self.report.add(f"{key}.roles", f"bad role name {role!r}; e.g. 'director'")
        return TransitionSpec(
            trigger=self._ident(raw, "trigger", f"{key}.trigger", "trigger"),
            sources=tuple(s for s in sources if s in states),
            dest=dest,
            requires=requires,
            roles=roles,
            title=self._title(raw, f"{key}.title"),
        )


def _unknown_state(name: str, states: Mapping[str, object], *extra: str) -> str:
    known = ", ".join([*states, *extra]) or "(none declared)"
    return f"unknown state {name!r}{_suggest(name, states)}; states are: {known}"


def _digest(doc: dict[str, Any]) -> str:
    # Hash the parsed document, not the text: comments and layout do not count.
    canonical = json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- follow-up rules


class _RuleParser:
    """Parses the contact / visit / deadline inline tables of one state."""

    def __init__(self, report: _Report, state: str, key: str) -> None:
        self.report = report
        self.state = state
        self.key = key

    def _table(self, kind: str, raw: object) -> dict[str, Any] | None:
        key = f"{self.key}.{kind}"
        if not isinstance(raw, dict):
            self.report.add(key, f"wants a table like {_RULE_EXAMPLES[kind]}, got {raw!r}")
            return None
        required, optional = _RULE_KEYS[kind]
        _check_keys(self.report, key, raw, required + optional, required)
        return raw

    def _duration(
        self, kind: str, table: dict[str, Any], name: str, minimum: int, unit: str
    ) -> int | None:
        """A duration in `unit` ("workdays" or "days"); None when absent or bad."""
        if name not in table:
            return None
        key, raw = f"{self.key}.{kind}.{name}", table[name]
        example = _EXAMPLES[name].split(" = ")[1]
        try:
            n, got = parse_duration(raw)
        except InvalidInput:
            self.report.add(key, f"bad duration {raw!r}; write '<n> <unit>', e.g. {example}")
            return None
        if got != unit:
            counts = "working days" if unit == "workdays" else "calendar days or weeks"
            self.report.add(key, f"bad duration {raw!r}: this counts {counts}; e.g. {example}")
            return None
        if n < minimum:
            least = f"{minimum} {unit[:-1] if minimum == 1 else unit}"
            self.report.add(key, f"bad duration {raw!r}: must be at least {least}")
            return None
        return n

    def contact(self, raw: object) -> ContactRule | None:
        table = self._table("contact", raw)
        if table is None:
            return None
        every = self._duration("contact", table, "every", 1, "workdays")
        remind = self._duration("contact", table, "remind", 0, "workdays") or 0
        if every is not None and remind >= every:
            self.report.add(
                f"{self.key}.contact.remind",
                f"must be less than every ({every} workdays), or 0 for no reminder",
            )
        return ContactRule(self.state, every, remind) if every is not None else None

    def visit(self, raw: object) -> VisitRule | None:
        table = self._table("visit", raw)
        if table is None:
            return None
        low = self._duration("visit", table, "min_gap", 1, "days")
        high = self._duration("visit", table, "max_gap", 1, "days")
        remind = self._duration("visit", table, "remind", 0, "workdays") or 0
        if low is None or high is None:
            return None
        if low > high:
            self.report.add(
                f"{self.key}.visit.max_gap",
                f"max_gap ({high} days) must not be less than min_gap ({low} days)",
            )
        return VisitRule(self.state, low, high, remind)

    def deadline(self, raw: object) -> DeadlineRule | None:
        table = self._table("deadline", raw)
        if table is None:
            return None
        within = self._duration("deadline", table, "within", 1, "workdays")
        remind = self._duration("deadline", table, "remind", 0, "workdays") or 0
        escalate_to = self._escalate_to(table)
        if within is not None and remind >= within:
            self.report.add(
                f"{self.key}.deadline.remind",
                f"must be less than within ({within} workdays), or 0 for no reminder",
            )
        if within is None or escalate_to is None:
            return None
        return DeadlineRule(self.state, within, escalate_to, remind)

    def _escalate_to(self, table: dict[str, Any]) -> str | None:
        if "escalate_to" not in table:
            return None
        value = table["escalate_to"]
        if not isinstance(value, str) or not _IDENT.match(value):
            self.report.add(
                f"{self.key}.deadline.escalate_to",
                f"wants a role name like 'director', got {value!r}",
            )
            return None
        return value


_RULE_EXAMPLES = {
    "contact": '{ every = "5 workdays", remind = "1 workday" }',
    "visit": '{ min_gap = "2 weeks", max_gap = "6 weeks" }',
    "deadline": '{ within = "20 workdays", escalate_to = "director" }',
}


# --------------------------------------------------------------------------- graph


class _Graph:
    """Structural checks over states and transitions: reachability, exits, and
    where '@previous' can lead."""

    def __init__(
        self,
        report: _Report,
        states: dict[str, StateSpec],
        transitions: tuple[TransitionSpec, ...],
        initial: str,
    ) -> None:
        self.report = report
        self.states = states
        self.transitions = transitions
        self.initial = initial
        # Where a case in a state may have come from: '@previous' leads back there.
        self.entered_from: dict[str, set[str]] = {s: set() for s in states}
        for t in transitions:
            if t.dest in states:
                for source in t.sources:
                    self.entered_from[t.dest].add(source)

    def check(self) -> None:
        self._check_previous()
        dead_ends = self._check_exits()
        if self.initial in self.states:  # else already reported: nowhere to walk from
            self._check_reachable()
        self._check_can_finish(dead_ends)

    def _edges(self) -> list[tuple[str, str]]:
        edges: list[tuple[str, str]] = []
        for t in self.transitions:
            for source in t.sources:
                if t.dest == PREVIOUS:
                    edges.extend((source, back) for back in self.entered_from[source])
                elif t.dest in self.states:
                    edges.append((source, t.dest))
        return edges

    def _check_previous(self) -> None:
        for index, t in enumerate(self.transitions):
            if t.dest != PREVIOUS:
                continue
            for source in t.sources:
                if source == self.initial:
                    self.report.add(
                        f"transitions[{index}].dest",
                        f"'{PREVIOUS}' from the initial state '{source}': a case opened "
                        "there has no previous state; name a state instead",
                    )
                elif not self.entered_from[source]:
                    self.report.add(
                        f"transitions[{index}].dest",
                        f"'{PREVIOUS}' from state '{source}' has nowhere to go back to: "
                        f"no transition has dest = '{source}'",
                    )

    def _check_exits(self) -> set[str]:
        has_exit = {s for t in self.transitions for s in t.sources}
        dead = {n for n, s in self.states.items() if not s.terminal and n not in has_exit}
        for name in self.states:
            if name in dead:
                self.report.add(
                    f"states.{name}",
                    f"non-terminal state '{name}' has no way out; add a transition with "
                    f"source = '{name}' or set terminal = true",
                )
        return dead

    def _check_reachable(self) -> None:
        # '@previous' only returns to a state already visited, so it reaches nothing new.
        forward = [
            (s, t.dest) for t in self.transitions for s in t.sources if t.dest in self.states
        ]
        seen = _closure({self.initial}, forward)
        for name in self.states:
            if name not in seen:
                self.report.add(
                    f"states.{name}",
                    f"state '{name}' cannot be reached from the initial state "
                    f"'{self.initial}'; add a transition with dest = '{name}' or remove it",
                )

    def _check_can_finish(self, dead_ends: set[str]) -> None:
        terminals = {n for n, s in self.states.items() if s.terminal}
        if not terminals:
            return  # reported once as "no terminal state"
        backward = [(dest, source) for source, dest in self._edges()]
        finishing = _closure(terminals, backward)
        for name in self.states:
            if name not in finishing and name not in dead_ends:
                self.report.add(
                    f"states.{name}",
                    f"no path leads from state '{name}' to a terminal state; "
                    "add a transition towards one",
                )


def _closure(start: set[str], edges: list[tuple[str, str]]) -> set[str]:
    """All nodes reachable from ``start`` along ``edges``."""
    seen = set(start)
    stack = list(start)
    while stack:
        node = stack.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                stack.append(b)
    return seen
