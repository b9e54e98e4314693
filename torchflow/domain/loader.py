"""Workflow files read into WorkflowSpec values: parse the TOML, check it and
report every problem at once, each with file and key. The format is documented
in docs/workflows.md.

Pure but for reading files in ``load_file`` / ``load_directory``. The states and
their follow-ups are read by ``state_rules``, the structural checks are
``graph``'s.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from torchflow.domain.graph import check_graph, named_edges, only_through
from torchflow.domain.problems import IDENT, Report, suggest, type_name
from torchflow.domain.state_rules import parse_states
from torchflow.domain.summary import lines
from torchflow.domain.vocabulary import fold, labels
from torchflow.domain.workflow import (
    FIELD_TYPES,
    PREVIOUS,
    ChoiceSpec,
    FieldSpec,
    Milestone,
    Named,
    RoleSpec,
    StateSpec,
    TransitionSpec,
    WorkflowSpec,
)
from torchflow.errors import TorchflowError, WorkflowError
from torchflow.i18n import Translator, translator

_KEY_PREFIX = re.compile(r"[A-Z]{2,4}\Z")

# Triggers become methods of the case model in `transitions`, so they must not be
# Python keywords nor shadow what the library itself puts on the model.
_RESERVED_TRIGGERS = frozenset(keyword.kwlist) | {"trigger", "state"}

_TOP_KEYS = ("name", "title", "title_en", "version", "key_prefix", "description",
             "description_en", "initial", "fields", "states", "transitions",
             "milestones")  # fmt: skip
_TOP_REQUIRED = ("name", "title", "version", "key_prefix", "states")
_FIELD_KEYS = ("type", "title", "title_en", "required", "required_from", "choices", "unit",
               "help", "help_en",
               "sum")
_CHOICE_KEYS = ("value", "title", "title_en", "aliases")
_TRANSITION_KEYS = ("trigger", "source", "dest", "requires", "roles", "title", "title_en",
                    "aliases", "when", "count", "deadline_to", "before_deadline")


# --------------------------------------------------------------------------- public API


def parse_workflow(text: str, path: str = "<string>") -> WorkflowSpec:
    """Parse and validate one TOML definition; WorkflowError lists every problem."""
    spec, problems = check_text(text, path)
    if problems or spec is None:
        raise WorkflowError(problems or [f"{path}: invalid workflow"])
    return spec


def validate_text(text: str, path: str = "<string>") -> list[str]:
    """Every problem of a definition, each as "<path>: <key>: <message>"; [] when valid."""
    return check_text(text, path)[1]


def check_text(text: str, path: str = "<string>") -> tuple[WorkflowSpec | None, list[Any]]:
    """(the definition, or None when it has problems; every problem)."""
    report = Report(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        report.add(f"line {line.group(1)}" if line else "toml", f"TOML syntax error: {exc}")
        return None, report.problems
    spec = _build(report, doc, text)
    # However many keys are wrong, a file's problems are its first lines and a count.
    return (spec if not report.problems else None), lines(report.problems, what=path)


def read_definition(path: Path) -> str:
    """The text of a workflow file; WorkflowError names the file when it cannot be read."""
    try:
        # utf-8-sig: Windows editors often save a BOM that tomllib would reject.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise WorkflowError([f"{path}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise WorkflowError([f"{path}: not UTF-8 text ({exc.reason})"]) from None
    except OSError as exc:
        raise WorkflowError([f"{path}: cannot read: {exc.strerror}"]) from None


def load_file(path: str | Path) -> WorkflowSpec:
    """Read and parse one workflow file."""
    return parse_workflow(read_definition(Path(path)), str(path))


def load_directory(directory: str | Path) -> dict[str, WorkflowSpec]:
    """Every ``*.toml`` of ``directory`` keyed by workflow name; WorkflowError lists
    the problems of all files together, including names or key prefixes used twice."""
    folder = Path(directory)
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "not found"
        raise WorkflowError([f"{folder}: workflow directory {what}"])
    specs: dict[str, WorkflowSpec] = {}
    problems: list[Any] = []
    for file in workflow_files(folder):
        try:
            spec = load_file(file)
        except WorkflowError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(clashes(spec, specs.values()))
        specs.setdefault(spec.name, spec)
    problems.extend(p for spec in specs.values() for p in step_roles(spec, known_roles(folder)))
    if problems:
        raise WorkflowError(problems)
    return specs


ROLES_FILE = "roles.toml"
_ROLE_KEYS = ("title", "title_en", "aliases")


def load_roles(directory: str | Path) -> dict[str, RoleSpec]:
    """The office's names of its roles: ``roles.toml`` beside the workflows, one
    ``[roles.<code>]`` table each (title, title_en, aliases); {} without the file."""
    path = Path(directory) / ROLES_FILE
    if not path.is_file():
        return {}
    return parse_roles(read_definition(path), str(path))


def known_roles(directory: str | Path | None) -> frozenset[str] | None:
    """The role codes roles.toml in ``directory`` declares; None without a
    readable file (then a ladder's roles are not checked against it)."""
    if directory is None:
        return None
    try:
        roles = load_roles(directory)
    except TorchflowError:
        return None  # `workflow validate` reports the file's own problems
    return frozenset(roles) or None


def step_roles(spec: WorkflowSpec, roles: frozenset[str] | None) -> list[str]:
    """A ladder step goes to people by their role, so a role the office does not
    declare (roles.toml) reaches nobody: one line per such step."""
    if roles is None:
        return []
    problems = []
    for state in spec.states.values():
        for i, step in enumerate(state.deadline.ladder if state.deadline else ()):
            if step.to not in roles:
                problems.append(
                    f"{spec.path}: states.{state.name}.deadline.ladder[{i}].to: unknown role "
                    f"'{step.to}'{suggest(step.to, roles)}; roles are: {', '.join(sorted(roles))}")
    return problems


def office_translator(locale: str, directory: str | Path) -> Translator:
    """The Translator of ``locale`` naming roles as the office does (roles.toml
    in ``directory``); without the names when that file is broken (it is
    `workflow validate`'s to report)."""
    tr = translator(locale)
    try:
        return tr.with_roles(labels(load_roles(directory)))
    except TorchflowError:
        return tr


def parse_roles(text: str, path: str = ROLES_FILE) -> dict[str, RoleSpec]:
    report = Report(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkflowError([f"{path}: TOML syntax error: {exc}"]) from None
    report.check_keys("", doc, ("roles",))
    roles = {}
    for code, raw in report.tables(doc, "roles").items():
        key = f"roles.{code}"
        if not IDENT.match(code):
            report.add(key, f"bad role name {code!r}; e.g. 'director'")
        if not isinstance(raw, dict):
            report.add(key, f"wants a [{key}] table, got {type_name(raw)}")
            continue
        report.check_keys(key, raw, _ROLE_KEYS, ("title",))
        roles[code] = RoleSpec(code, report.title(raw, f"{key}.title", code),
                               report.string(raw, "title_en", f"{key}.title_en"),
                               report.aliases(raw, f"{key}.aliases"))
    check_words(report, "roles", roles.values())
    if report.problems:
        raise WorkflowError(report.problems)
    return roles


def workflow_files(folder: Path) -> list[Path]:
    """The workflow definitions of a folder: its ``*.toml`` but ``roles.toml``."""
    return [f for f in sorted(folder.glob("*.toml")) if f.name != ROLES_FILE]


def roles_problems(path: Path) -> list[Any]:
    """Every problem of a roles.toml (`workflow validate`)."""
    try:
        parse_roles(read_definition(path), str(path))
    except WorkflowError as exc:
        return exc.problems
    return []


def clashes(spec: WorkflowSpec, earlier: Iterable[WorkflowSpec]) -> list[str]:
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


# --------------------------------------------------------------------------- the document


def _build(report: Report, doc: dict[str, Any], text: str) -> WorkflowSpec:
    """The whole document, each part read independently so every problem shows."""
    report.check_keys("", doc, _TOP_KEYS, _TOP_REQUIRED)
    name = report.ident(doc, "name", "name", "workflow name")
    title = report.title(doc, "title")
    version = _version(report, doc)
    key_prefix = _key_prefix(report, doc)
    description = report.string(doc, "description", "description")
    fields = _fields(report, doc)
    states = parse_states(report, doc, fields)
    initial = _initial(report, doc, states)
    milestones = _milestones(report, doc, states)
    reader = _TransitionReader(report, states, fields)
    transitions = reader.read(doc)
    fields, transitions = _required_from(report, fields, states, transitions, initial)
    check_words(report, "states", states.values())
    if not reader.broken_refs:
        # With a misspelt state name the graph is not the one meant: its dead
        # ends and unreachable states would only echo the typo.
        check_graph(report, states, transitions, initial)
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
        milestones=milestones,
        title_en=report.string(doc, "title_en", "title_en"),
        description_en=report.string(doc, "description_en", "description_en"),
    )


def _required_from(
    report: Report, fields: dict[str, FieldSpec], states: dict[str, StateSpec],
    transitions: tuple[TransitionSpec, ...], initial: str,
) -> tuple[dict[str, FieldSpec], tuple[TransitionSpec, ...]]:
    """``required_from = "negotiation"``: the field is required in that state and
    every state after it, so each transition into one of them requires it (a
    guard, as ``requires`` is) and an import of a row in one of them wants it.
    After it: reachable from it, but not from the initial state without passing
    through it, so the exits every stage shares (lost, withdrawn, on hold) do
    not ask a lead for what it need not know yet."""
    edges = named_edges(states, transitions)
    for name, f in list(fields.items()):
        if not f.required_from:
            continue
        key = f"fields.{name}.required_from"
        if f.required_from not in states:
            report.add(key, _unknown_state(f.required_from, states))
            continue
        if f.required:
            report.add(key, "a field required from the start (required = true) needs no "
                            "required_from; keep one of the two")
            continue
        region = frozenset(only_through(f.required_from, initial, edges))
        fields[name] = replace(f, required_in=region)
        transitions = tuple(
            replace(t, requires=(*t.requires, name))
            if t.dest in region and name not in t.requires else t for t in transitions)
    return fields, transitions


def _version(report: Report, doc: dict[str, Any]) -> int:
    value = doc.get("version", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        report.add("version", f"wants a positive integer like 1, got {value!r}")
        return 1
    return value


def _key_prefix(report: Report, doc: dict[str, Any]) -> str:
    value = report.string(doc, "key_prefix", "key_prefix")
    if isinstance(doc.get("key_prefix"), str) and not _KEY_PREFIX.match(value):
        report.add(
            "key_prefix",
            f"bad key prefix {value!r}; use 2 to 4 uppercase letters, "
            "e.g. 'PI' for keys like PI-2026-0001",
        )
    return value


def _initial(report: Report, doc: dict[str, Any], states: dict[str, StateSpec]) -> str:
    first = next(iter(states), "")
    if "initial" not in doc:
        return first
    value = report.string(doc, "initial", "initial", first)
    if value == PREVIOUS:
        report.add("initial", f"'{PREVIOUS}' cannot be the initial state; name a state")
    elif states and value not in states:
        report.add("initial", _unknown_state(value, states))
    return value


def _milestones(report: Report, doc: dict[str, Any],
                states: dict[str, StateSpec]) -> tuple[Milestone, ...]:
    """``milestone = true`` states and the ``[milestones]`` table (state = "title"),
    in the order of the states; a title in the table replaces the state's own."""
    raw = doc.get("milestones", {})
    titles: dict[str, tuple[str, str]] = {}
    if not isinstance(raw, dict):
        report.add("milestones", f'wants a table of state = "title", got {type_name(raw)}')
        raw = {}
    for name, value in raw.items():
        key = f"milestones.{name}"
        # "签约", or { title = "签约", title_en = "Signed" }
        table = value if isinstance(value, dict) else {"title": value}
        title = table.get("title")
        if states and name not in states:
            report.add(key, _unknown_state(name, states))
        elif not isinstance(title, str) or not title.strip():
            got = type_name(title) if not isinstance(title, str) else "an empty string"
            report.add(key, f'wants a title like "签约" or {{ title = "签约", title_en = '
                            f'"Signed" }}, got {got}')
        else:
            if isinstance(value, dict):
                report.check_keys(key, value, ("title", "title_en"), ("title",))
            titles[name] = (title, report.string(table, "title_en", f"{key}.title_en"))
    return tuple(Milestone(st.name, *titles.get(st.name, (st.title, st.title_en)))
                 for st in states.values() if st.milestone or st.name in titles)


# Report annotations (docs/reports.md): they change no case's behaviour, so they
# are left out of the digest and adding or retitling them needs no new version.
_REPORT_ONLY = {"states": "milestone", "fields": "sum"}
_REPORT_ONLY_TABLES = ("milestones",)


def _digest(doc: dict[str, Any]) -> str:
    # Hash the parsed document, not the text: comments and layout do not count.
    doc = {k: v for k, v in doc.items() if k not in _REPORT_ONLY_TABLES}
    for table, key in _REPORT_ONLY.items():
        if isinstance(doc.get(table), dict):
            doc[table] = {name: ({k: v for k, v in raw.items() if k != key}
                                 if isinstance(raw, dict) else raw)
                          for name, raw in doc[table].items()}
    canonical = json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _unknown_state(name: str, states: Mapping[str, object], *extra: str) -> str:
    known = ", ".join([*states, *extra]) or "(none declared)"
    return f"unknown state {name!r}{suggest(name, states)}; states are: {known}"


# --------------------------------------------------------------------------- fields


def _fields(report: Report, doc: dict[str, Any]) -> dict[str, FieldSpec]:
    fields = {}
    for name, raw in report.tables(doc, "fields").items():
        field = _field(report, name, raw)
        if field is not None:
            fields[name] = field
    return fields


def _field(report: Report, name: str, raw: object) -> FieldSpec | None:
    key = f"fields.{name}"
    if not IDENT.match(name):
        report.add(key, f"bad field name {name!r}; use lowercase letters, digits, '_'")
    if not isinstance(raw, dict):
        report.add(key, f"wants a [{key}] table, got {type_name(raw)}")
        return None
    report.check_keys(key, raw, _FIELD_KEYS, ("type",))
    ftype = report.string(raw, "type", f"{key}.type", "text")
    if ftype not in FIELD_TYPES:
        report.add(
            f"{key}.type",
            f"unknown field type {ftype!r}{suggest(ftype, FIELD_TYPES)}; "
            f"types are: {', '.join(FIELD_TYPES)}",
        )
    options = _choices(report, key, ftype, raw)
    return FieldSpec(
        name=name,
        type=ftype,
        title=report.title(raw, f"{key}.title", name),
        required=report.boolean(raw, "required", f"{key}.required"),
        choices=tuple(o.name for o in options),
        unit=_unit(report, key, ftype, raw),
        help=report.string(raw, "help", f"{key}.help"),
        sum=_sum(report, key, ftype, raw),
        title_en=report.string(raw, "title_en", f"{key}.title_en"),
        help_en=report.string(raw, "help_en", f"{key}.help_en"),
        options=options,
        required_from=report.string(raw, "required_from", f"{key}.required_from"),
    )


def _sum(report: Report, key: str, ftype: str, raw: dict[str, Any]) -> bool:
    """``sum = true``: reports add the field up; only a number can be added."""
    value = report.boolean(raw, "sum", f"{key}.sum")
    if value and ftype != "number" and ftype in FIELD_TYPES:
        report.add(f"{key}.sum", f"only a number field can be summed, not {ftype}")
    return value


def _choices(report: Report, key: str, ftype: str,
             raw: dict[str, Any]) -> tuple[ChoiceSpec, ...]:
    """``choices = ["other", { value = "new energy", title = "新能源", aliases = [...] }]``:
    a plain string is a value that is its own title."""
    if ftype != "choice":
        if "choices" in raw and ftype in FIELD_TYPES:  # else the type is the problem
            report.add(f"{key}.choices", f"only a choice field has choices, not {ftype}")
        return ()
    items = raw.get("choices", [])
    if "choices" not in raw:
        report.add(f"{key}.choices", 'missing; a choice field needs choices = ["...", "..."]')
        return ()
    if not isinstance(items, list):
        report.add(f"{key}.choices", f"wants an array of choices, got {items!r}")
        return ()
    if not items:
        report.add(f"{key}.choices", "must list at least one choice")
    options = [o for i, item in enumerate(items)
               if (o := _choice(report, f"{key}.choices[{i}]", item)) is not None]
    values = [o.name for o in options]
    for dup in sorted({v for v in values if values.count(v) > 1}):
        report.add(f"{key}.choices", f"'{dup}' is listed twice")
    check_words(report, f"{key}.choices", options)
    return tuple(dict((o.name, o) for o in options).values())


def _choice(report: Report, key: str, item: object) -> ChoiceSpec | None:
    if isinstance(item, str) and item:
        return ChoiceSpec(item, item)
    if not isinstance(item, dict):
        report.add(key, f'wants a string or {{ value = "...", title = "..." }}, got {item!r}')
        return None
    report.check_keys(key, item, _CHOICE_KEYS, ("value",))
    value = report.string(item, "value", f"{key}.value")
    if "value" in item and not value:
        report.add(f"{key}.value", "must not be empty")
    if not value:
        return None
    return ChoiceSpec(value, report.title(item, f"{key}.title", value),
                      report.string(item, "title_en", f"{key}.title_en"),
                      report.aliases(item, f"{key}.aliases"))


def check_words(report: Report, key: str, items: Iterable[Named]) -> None:
    """No word (name, title, alias) may name two things of one kind: a person
    typing it would not know which they get."""
    owner: dict[str, str] = {}
    for item in items:
        for word in item.words:
            folded = fold(word)
            other = owner.setdefault(folded, item.name)
            if other != item.name:
                report.add(key, f"'{word}' names both '{other}' and '{item.name}'; "
                                "give each its own title and aliases")


def _unit(report: Report, key: str, ftype: str, raw: dict[str, Any]) -> str:
    unit = report.string(raw, "unit", f"{key}.unit")
    if unit and ftype != "number" and ftype in FIELD_TYPES:
        report.add(f"{key}.unit", f"only a number field has a unit, not {ftype}")
    return unit


# --------------------------------------------------------------------------- transitions


class _TransitionReader:
    """The ``[[transitions]]`` tables, checked against the states and fields read."""

    def __init__(
        self, report: Report, states: dict[str, StateSpec], fields: dict[str, FieldSpec]
    ) -> None:
        self.report = report
        self.states = states
        self.fields = fields
        self.broken_refs = False  # a transition names a state that does not exist

    def read(self, doc: dict[str, Any]) -> tuple[TransitionSpec, ...]:
        raw = doc.get("transitions", [])
        if not isinstance(raw, list):
            self.report.add("transitions", f"wants [[transitions]] tables, got {type_name(raw)}")
            return ()
        result = []
        seen: dict[tuple[str, str], int] = {}  # (source, trigger) -> index
        for index, item in enumerate(raw):
            t = self._transition(index, item)
            if t is not None:
                result.append(t)
                self._check_trigger(index, t, seen)
        self._check_words(result)
        return tuple(result)

    def _check_words(self, transitions: list[TransitionSpec]) -> None:
        """A word typed to fire a transition (its title or alias) names one
        transition out of each state."""
        owner: dict[tuple[str, str], str] = {}
        for t in transitions:
            for word in t.words[1:]:  # the trigger itself is checked above
                for source in t.sources:
                    other = owner.setdefault((source, fold(word)), t.trigger)
                    if other != t.trigger:
                        self.report.add(
                            "transitions",
                            f"'{word}' names both '{other}' and '{t.trigger}' from state "
                            f"'{source}'; give each its own title and aliases")

    def _check_trigger(
        self, index: int, t: TransitionSpec, seen: dict[tuple[str, str], int]
    ) -> None:
        if t.trigger in _RESERVED_TRIGGERS:
            self.report.add(
                f"transitions[{index}].trigger",
                f"'{t.trigger}' is a reserved word; choose another trigger name",
            )
        if not IDENT.match(t.trigger):
            return  # already reported; a bad trigger cannot clash meaningfully
        for source in t.sources:
            earlier = seen.setdefault((source, t.trigger), index)
            if earlier != index:
                self.report.add(
                    f"transitions[{index}].trigger",
                    f"trigger '{t.trigger}' from state '{source}' is already defined by "
                    f"transitions[{earlier}]; a trigger leaves a state only one way",
                )

    def _transition(self, index: int, raw: object) -> TransitionSpec | None:
        key = f"transitions[{index}]"
        if not isinstance(raw, dict):
            self.report.add(key, f"wants a [[transitions]] table, got {type_name(raw)}")
            return None
        self.report.check_keys(key, raw, _TRANSITION_KEYS, ("trigger", "source", "dest"))
        # Read before the trigger: problems keep the order they have always had.
        sources = self._sources(key, raw)
        dest = self._dest(key, raw)
        requires = self._requires(key, raw)
        roles = self._roles(key, raw)
        deadline_to = self._field_of_type(key, raw, "deadline_to", "date")
        if deadline_to and deadline_to not in requires:
            requires = (*requires, deadline_to)
        return TransitionSpec(
            trigger=self.report.ident(raw, "trigger", f"{key}.trigger", "trigger"),
            sources=tuple(s for s in sources if s in self.states),
            dest=dest,
            requires=requires,
            roles=roles,
            title=self.report.title(raw, f"{key}.title"),
            title_en=self.report.string(raw, "title_en", f"{key}.title_en"),
            aliases=self.report.aliases(raw, f"{key}.aliases"),
            when=self._when(key, raw),
            count=self._field_of_type(key, raw, "count", "number"),
            deadline_to=deadline_to,
            before_deadline=self._before_deadline(key, raw),
        )

    def _before_deadline(self, key: str, raw: dict[str, Any]) -> int:
        value = raw.get("before_deadline", 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 250:
            self.report.add(f"{key}.before_deadline", f"wants a whole number of working days "
                            f"from 0 to 250, got {value!r}")
            return 0
        return value

    def _field_of_type(self, key: str, raw: dict[str, Any], name: str, ftype: str) -> str:
        """``count`` (a number field) or ``deadline_to`` (a date field)."""
        value = self.report.string(raw, name, f"{key}.{name}")
        field = self.fields.get(value) if value else None
        if value and (field is None or field.type != ftype):
            names = [n for n, f in self.fields.items() if f.type == ftype]
            self.report.add(f"{key}.{name}", f"wants a {ftype} field, got '{value}'; "
                            f"{ftype} fields are: {', '.join(names) or '(none declared)'}")
            return ""
        return value

    def _when(self, key: str, raw: dict[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``when = { satisfaction = "dissatisfied" }``: choice fields and the values
        (one or a list) they must hold."""
        table = raw.get("when", {})
        if not isinstance(table, dict):
            self.report.add(f"{key}.when", f"wants a table of choice fields and values, "
                            f"got {type_name(table)}")
            return ()
        result = []
        for name, wanted in table.items():
            values = tuple(wanted) if isinstance(wanted, list) else (wanted,)
            field = self.fields.get(name)
            if field is None or field.type != "choice":
                self.report.add(f"{key}.when.{name}", "wants a choice field of this workflow")
                continue
            bad = [v for v in values if v not in field.choices]
            if bad or not values:
                self.report.add(f"{key}.when.{name}", f"values must be among its choices: "
                                f"{', '.join(field.choices)}")
                continue
            result.append((name, values))
        return tuple(result)

    def _sources(self, key: str, raw: dict[str, Any]) -> tuple[str, ...]:
        sources = self.report.names(raw, "source", f"{key}.source", scalar_ok=True)
        for source in sources:
            if source == PREVIOUS:
                self.report.add(f"{key}.source", f"'{PREVIOUS}' can only be a dest")
            elif source not in self.states:
                self.broken_refs = True
                self.report.add(f"{key}.source", _unknown_state(source, self.states))
        if "source" in raw and raw["source"] == []:
            self.report.add(f"{key}.source", "must name at least one state")
        return sources

    def _dest(self, key: str, raw: dict[str, Any]) -> str:
        dest = self.report.string(raw, "dest", f"{key}.dest")
        if "dest" in raw and dest != PREVIOUS and dest not in self.states:
            self.broken_refs = True
            self.report.add(f"{key}.dest", _unknown_state(dest, self.states, PREVIOUS))
        return dest

    def _requires(self, key: str, raw: dict[str, Any]) -> tuple[str, ...]:
        requires = self.report.names(raw, "requires", f"{key}.requires")
        for name in requires:
            if name not in self.fields:
                known = ", ".join(self.fields) or "(none declared)"
                self.report.add(
                    f"{key}.requires",
                    f"unknown field '{name}'{suggest(name, self.fields)}; fields are: {known}",
                )
        return requires

    def _roles(self, key: str, raw: dict[str, Any]) -> tuple[str, ...]:
        roles = self.report.names(raw, "roles", f"{key}.roles")
        for role in roles:
            if not IDENT.match(role):
                self.report.add(f"{key}.roles", f"bad role name {role!r}; e.g. 'director'")
        return roles
