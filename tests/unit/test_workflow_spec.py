"""Workflow specifications: parsing, validation (every problem at once, each naming
file and key), digest, transition look-up, field coercion, and the shipped files."""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from pathlib import Path

import pytest

from torchflow.domain.loader import load_directory, load_file, parse_workflow, validate_text
from torchflow.domain.rules import ContactRule, DeadlineRule, VisitRule
from torchflow.domain.state_rules import parse_duration
from torchflow.domain.workflow import (
    PREVIOUS,
    FieldSpec,
    Named,
    StateSpec,
    TransitionSpec,
    WorkflowSpec,
)
from torchflow.errors import InvalidInput, WorkflowError

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
ROLES = {"coordinator", "director", "torch_liaison", "expert"}

# A small but complete definition; the invalid cases below each change one thing.
BASE = """\
name = "demo"
title = "Demo · 示例"
version = 2
key_prefix = "DM"
description = "for tests"

[fields.enterprise]
type = "text"
title = "Enterprise"
required = true

[fields.investment]
type = "number"
unit = "万元"

[fields.industry]
type = "choice"
choices = ["new materials", "biomedicine"]

[states.lead]
title = "Lead"
contact = { every = "5 workdays", remind = "1 workday" }
visit = { min_gap = "2 weeks", max_gap = "6 weeks", remind = "2 wd" }
deadline = { within = "20 workdays", escalate_to = "director", remind = "3 workdays" }

[states.signed]
title = "Signed"

[states.on_hold]
title = "On hold"

[states.done]
title = "Done"
terminal = true

[[transitions]]
trigger = "sign"
source = "lead"
dest = "signed"
requires = ["investment"]
roles = ["director"]
title = "Signed"

[[transitions]]
trigger = "finish"
source = "signed"
dest = "done"

[[transitions]]
trigger = "hold"
source = ["lead", "signed"]
dest = "on_hold"

[[transitions]]
trigger = "resume"
source = "on_hold"
dest = "@previous"
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """Replace a fragment that must exist, so that no case passes by editing nothing."""
    assert old in text, old
    return text.replace(old, new, 1)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- valid specs


def test_base_spec_parses_into_the_dataclasses() -> None:
    spec = parse_workflow(BASE, "demo.toml")

    assert isinstance(spec, WorkflowSpec)
    assert (spec.name, spec.title, spec.version, spec.key_prefix) == (
        "demo",
        "Demo · 示例",
        2,
        "DM",
    )
    assert spec.description == "for tests"
    assert spec.path == "demo.toml" and spec.source == BASE
    assert spec.initial == "lead"  # no `initial`: the first state
    assert list(spec.fields) == ["enterprise", "investment", "industry"]
    assert spec.fields["enterprise"] == FieldSpec("enterprise", "text", "Enterprise", True)
    assert spec.fields["investment"] == FieldSpec(
        "investment", "number", "investment", False, (), "万元"
    )
    assert spec.fields["industry"].choices == ("new materials", "biomedicine")
    assert list(spec.states) == ["lead", "signed", "on_hold", "done"]
    assert spec.states["done"] == StateSpec("done", "Done", terminal=True)
    assert spec.transitions[0] == TransitionSpec(
        "sign", ("lead",), "signed", ("investment",), ("director",), "Signed"
    )
    assert spec.transitions[2].sources == ("lead", "signed")
    assert spec.transitions[3].dest == PREVIOUS


def test_rules_are_built_with_their_state_and_converted_units() -> None:
    lead = parse_workflow(BASE).states["lead"]

    assert lead.contact == ContactRule(state="lead", every=5, remind=1)
    assert lead.visit == VisitRule(state="lead", min_gap=14, max_gap=42, remind=2)
    assert lead.deadline == DeadlineRule(state="lead", within=20, escalate_to="director", remind=3)
    assert lead.rules == (lead.contact, lead.visit, lead.deadline)
    assert parse_workflow(BASE).states["signed"].rules == ()


def test_rules_keep_the_order_contact_visit_deadline_whatever_the_file_order() -> None:
    text = edit(
        'title = "Signed"\n',
        'title = "Signed"\ndeadline = { within = "9 wd", escalate_to = "director" }\n'
        'contact = { every = "1 workday" }\n',
    )
    signed = parse_workflow(text).states["signed"]

    assert [r.kind for r in signed.rules] == ["contact", "deadline"]
    assert signed.contact == ContactRule("signed", 1, 0)


def test_explicit_initial_state_is_used() -> None:
    text = edit('description = "for tests"\n', 'initial = "signed"\n')
    text = edit(
        '[[transitions]]\ntrigger = "sign"',
        '[[transitions]]\ntrigger = "reopen"\n'
        'source = "done"\ndest = "lead"\n\n[[transitions]]\ntrigger = "sign"',
        text,
    )

    assert parse_workflow(text).initial == "signed"


def test_a_terminal_state_may_be_a_transition_source() -> None:
    text = BASE + '\n[[transitions]]\ntrigger = "reopen"\nsource = "done"\ndest = "lead"\n'

    assert validate_text(text) == []
    assert parse_workflow(text).transition("done", "reopen").dest == "lead"


# --------------------------------------------------------------------------- invalid specs

INVALID = [
    # (id, text, key, fragment of the message)
    ("syntax", edit("version = 2", "version = = 2"), "line 3", "TOML syntax error"),
    ("missing name", edit('name = "demo"\n', ""), "name", "missing"),
    ("bad name", edit('name = "demo"', 'name = "Demo-1"'), "name", "bad workflow name"),
    ("missing title", edit('title = "Demo · 示例"\n', ""), "title", "missing"),
    ("ill-typed title", edit('title = "Demo · 示例"', "title = 3"), "title", "wants a string"),
    ("version zero", edit("version = 2", "version = 0"), "version", "positive integer"),
    ("version string", edit("version = 2", 'version = "2"'), "version", "positive integer"),
    ("prefix lowercase", edit('key_prefix = "DM"', 'key_prefix = "dm"'), "key_prefix", "uppercase"),
    ("prefix too long", edit('key_prefix = "DM"', 'key_prefix = "DEMOS"'), "key_prefix", "2 to 4"),
    (
        "unknown top key",
        edit("version = 2", "version = 2\ncolour = 1"),
        "colour",
        "unknown key 'colour'; expected one of: name, title",
    ),
    (
        "unknown transition key",
        edit('dest = "done"', 'dset = "done"'),
        "transitions[1].dset",
        "did you mean 'dest'?",
    ),
    (
        "unknown state key",
        edit('title = "Done"', 'title = "Done"\nterminl = true'),
        "states.done.terminl",
        "did you mean 'terminal'?",
    ),
    (
        "unknown field key",
        edit('unit = "万元"', 'units = "万元"'),
        "fields.investment.units",
        "unknown key 'units'",
    ),
    (
        "unknown rule key",
        edit('every = "5 workdays"', 'every = "5 workdays", evry = 2'),
        "states.lead.contact.evry",
        "expected one of: every, remind",
    ),
    (
        "unknown dest",
        edit('dest = "signed"', 'dest = "sigend"'),
        "transitions[0].dest",
        "unknown state 'sigend' (did you mean 'signed'?); states are: lead, signed, on_hold, done",
    ),
    (
        "unknown source",
        edit('source = ["lead", "signed"]', 'source = ["lead", "singed"]'),
        "transitions[2].source",
        "unknown state 'singed'",
    ),
    (
        "unknown initial",
        edit('description = "for tests"', 'initial = "leed"'),
        "initial",
        "unknown state 'leed'",
    ),
    (
        "previous as initial",
        edit('description = "for tests"', 'initial = "@previous"'),
        "initial",
        "cannot be the initial state",
    ),
    (
        "previous as source",
        edit('source = "on_hold"', 'source = "@previous"'),
        "transitions[3].source",
        "'@previous' can only be a dest",
    ),
    (
        "unreachable state",
        edit("[states.done]", "[states.orphan]\nterminal = true\n\n[states.done]"),
        "states.orphan",
        "cannot be reached from the initial state 'lead'",
    ),
    (
        "no way out",
        edit("[states.done]", "[states.stuck]\n\n[states.done]")
        + '[[transitions]]\ntrigger = "stick"\nsource = "lead"\ndest = "stuck"\n',
        "states.stuck",
        "non-terminal state 'stuck' has no way out",
    ),
    (
        "trap loop",
        BASE + '[[transitions]]\ntrigger = "go"\nsource = "lead"\ndest = "loop_a"\n'
        '[[transitions]]\ntrigger = "go"\nsource = "loop_a"\ndest = "loop_b"\n'
        '[[transitions]]\ntrigger = "go"\nsource = "loop_b"\ndest = "loop_a"\n'
        "[states.loop_a]\n[states.loop_b]\n",
        "states.loop_a",
        "to a terminal state",
    ),
    (
        "trigger twice",
        BASE + '[[transitions]]\ntrigger = "sign"\nsource = "lead"\ndest = "done"\n',
        "transitions[4].trigger",
        "trigger 'sign' from state 'lead' is already defined by transitions[0]",
    ),
    (
        "source listed twice",
        edit('source = ["lead", "signed"]', 'source = ["lead", "lead"]'),
        "transitions[2].source",
        "'lead' is listed twice",
    ),
    (
        "bad trigger",
        edit('trigger = "finish"', 'trigger = "Finish now"'),
        "transitions[1].trigger",
        "bad trigger 'Finish now'",
    ),
    (
        "reserved trigger",
        edit('trigger = "finish"', 'trigger = "continue"'),
        "transitions[1].trigger",
        "reserved word",
    ),
    ("missing dest", edit('dest = "done"\n', ""), "transitions[1].dest", "missing"),
    (
        "requires undeclared",
        edit('requires = ["investment"]', 'requires = ["investmnet"]'),
        "transitions[0].requires",
        "unknown field 'investmnet' (did you mean 'investment'?); fields are: enterprise",
    ),
    (
        "bad role",
        edit('roles = ["director"]', 'roles = ["Director General"]'),
        "transitions[0].roles",
        "bad role name",
    ),
    (
        "bad field type",
        edit('type = "number"', 'type = "numeric"'),
        "fields.investment.type",
        "unknown field type 'numeric' (did you mean 'number'?); types are: text, number",
    ),
    (
        "choice without choices",
        edit('choices = ["new materials", "biomedicine"]\n', ""),
        "fields.industry.choices",
        "a choice field needs choices",
    ),
    (
        "empty choices",
        edit('choices = ["new materials", "biomedicine"]', "choices = []"),
        "fields.industry.choices",
        "at least one choice",
    ),
    (
        "duplicate choices",
        edit('"new materials", "biomedicine"', '"biomedicine", "biomedicine"'),
        "fields.industry.choices",
        "'biomedicine' is listed twice",
    ),
    (
        "choices on text",
        edit('title = "Enterprise"', 'title = "Enterprise"\nchoices = ["a"]'),
        "fields.enterprise.choices",
        "only a choice field has choices",
    ),
    (
        "unit on text",
        edit('title = "Enterprise"', 'title = "Enterprise"\nunit = "kg"'),
        "fields.enterprise.unit",
        "only a number field has a unit",
    ),
    (
        "required not bool",
        edit("required = true", 'required = "yes"'),
        "fields.enterprise.required",
        "wants true or false",
    ),
    ("missing field type", edit('type = "text"\n', ""), "fields.enterprise.type", "missing"),
    (
        "no states",
        edit("version = 2", "version = 2\nstates = {}", BASE.split("[states.lead]")[0]),
        "states",
        "no states",
    ),
    ("no terminal", edit("terminal = true\n", ""), "states", "no terminal state"),
    (
        "terminal with follow-ups",
        edit('title = "Done"\n', 'title = "Done"\ncontact = { every = "5 workdays" }\n'),
        "states.done",
        "a terminal state has no follow-ups",
    ),
    (
        "previous from initial",
        BASE + '[[transitions]]\ntrigger = "back"\nsource = "lead"\ndest = "@previous"\n',
        "transitions[4].dest",
        "no previous state",
    ),
    (
        "previous from never entered",
        edit("[states.done]", "[states.parked]\n\n[states.done]")
        + '[[transitions]]\ntrigger = "back"\nsource = "parked"\ndest = "@previous"\n',
        "transitions[4].dest",
        "has nowhere to go back to",
    ),
    (
        "every in days",
        edit('every = "5 workdays"', 'every = "5 days"'),
        "states.lead.contact.every",
        "bad duration '5 days': this counts working days",
    ),
    (
        "every zero",
        edit('every = "5 workdays"', 'every = "0 workdays"'),
        "states.lead.contact.every",
        "must be at least 1 workday",
    ),
    (
        "every garbage",
        edit('every = "5 workdays"', 'every = "weekly"'),
        "states.lead.contact.every",
        "bad duration 'weekly'",
    ),
    (
        "every integer",
        edit('every = "5 workdays"', "every = 5"),
        "states.lead.contact.every",
        "bad duration 5",
    ),
    (
        "every negative",
        edit('every = "5 workdays"', 'every = "-5 workdays"'),
        "states.lead.contact.every",
        "bad duration",
    ),
    (
        "remind not below every",
        edit('remind = "1 workday" }', 'remind = "5 workdays" }'),
        "states.lead.contact.remind",
        "must be less than every",
    ),
    ("missing every", edit('every = "5 workdays", ', ""), "states.lead.contact.every", "missing"),
    (
        "gap in workdays",
        edit('min_gap = "2 weeks"', 'min_gap = "3 workdays"'),
        "states.lead.visit.min_gap",
        "calendar days or weeks",
    ),
    (
        "gap zero",
        edit('min_gap = "2 weeks"', 'min_gap = "0 days"'),
        "states.lead.visit.min_gap",
        "at least 1 day",
    ),
    (
        "gaps reversed",
        edit('max_gap = "6 weeks"', 'max_gap = "1 week"'),
        "states.lead.visit.max_gap",
        "must not be less than min_gap (14 days)",
    ),
    (
        "visit remind in days",
        edit('remind = "2 wd"', 'remind = "2 d"'),
        "states.lead.visit.remind",
        "working days",
    ),
    (
        "within in weeks",
        edit('within = "20 workdays"', 'within = "4 weeks"'),
        "states.lead.deadline.within",
        "working days",
    ),
    (
        "escalate_to empty",
        edit('escalate_to = "director"', 'escalate_to = ""'),
        "states.lead.deadline.escalate_to",
        "role name",
    ),
    (
        "deadline remind too long",
        edit('remind = "3 workdays"', 'remind = "20 workdays"'),
        "states.lead.deadline.remind",
        "must be less than within",
    ),
    (
        "rule not a table",
        edit('contact = { every = "5 workdays", remind = "1 workday" }', 'contact = "5 workdays"'),
        "states.lead.contact",
        "wants a table",
    ),
    (
        "contact every beyond three years of working days",
        edit('every = "5 workdays"', 'every = "100000000 workdays"'),
        "states.lead.contact.every",
        "bad duration '100000000 workdays': must be at most 750 workdays (about three years)",
    ),
    (
        "a count too long for int() is still a bounded refusal",
        edit('every = "5 workdays"', 'every = "' + "9" * 5000 + ' workdays"'),
        "states.lead.contact.every",
        "must be at most 750 workdays",
    ),
    (
        "deadline within beyond the bound",
        edit('within = "20 workdays"', 'within = "751 workdays"'),
        "states.lead.deadline.within",
        "must be at most 750 workdays (about three years)",
    ),
    (
        "visit gap beyond three years",
        edit('max_gap = "6 weeks"', 'max_gap = "157 weeks"'),
        "states.lead.visit.max_gap",
        "must be at most 1095 days or 156 weeks (three years)",
    ),
    (
        "remind beyond the bound",
        edit('remind = "2 wd"', 'remind = "1000 wd"'),
        "states.lead.visit.remind",
        "must be at most 750 workdays",
    ),
    (
        "transitions not an array",
        edit("version = 2", "version = 2\ntransitions = 3", BASE.split("[[transitions]]")[0]),
        "transitions",
        "wants [[transitions]] tables",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragment"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_each_kind_of_mistake_is_reported_with_file_and_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, "demo.toml", text)

    with pytest.raises(WorkflowError) as caught:
        load_file(path)

    prefix = f"{path}: {key}: "
    matching = [p for p in caught.value.problems if p.startswith(prefix)]
    assert matching, f"no problem at {key!r} in {caught.value.problems}"
    assert any(fragment in p for p in matching), matching


def test_every_problem_is_reported_at_once() -> None:
    text = edit('key_prefix = "DM"', 'key_prefix = "demo"')
    text = edit('type = "number"', 'type = "money"', text)
    text = edit('dest = "done"', 'dest = "dnoe"', text)

    problems = validate_text(text, "three.toml")

    assert len(problems) == 3, problems
    assert problems[0].startswith("three.toml: key_prefix: ")
    assert problems[1].startswith("three.toml: fields.investment.type: ")
    assert problems[2].startswith("three.toml: transitions[1].dest: ")


def test_parse_workflow_raises_with_the_same_problems_validate_text_returns() -> None:
    text = edit("version = 2", "version = -1")
    text = edit('every = "5 workdays"', 'every = "5 hours"', text)

    with pytest.raises(WorkflowError) as caught:
        parse_workflow(text, "x.toml")

    assert caught.value.problems == validate_text(text, "x.toml")
    assert len(caught.value.problems) == 2
    assert str(caught.value).startswith("x.toml: version: ")


def test_a_valid_text_has_no_problems() -> None:
    assert validate_text(BASE, "ok.toml") == []


# --------------------------------------------------------------------------- digest


def test_digest_is_the_sha256_of_the_canonical_json_of_the_document() -> None:
    canonical = json.dumps(
        tomllib.loads(BASE), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )

    assert parse_workflow(BASE).digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_digest_ignores_comments_and_whitespace() -> None:
    reformatted = "# a comment\n\n" + BASE.replace(" = ", "   =   ").replace(
        "[states.signed]", "# signing\n\n\n[states.signed]   # inline comment"
    )
    assert reformatted != BASE

    assert parse_workflow(reformatted).digest == parse_workflow(BASE).digest


def test_digest_changes_with_content() -> None:
    changed = edit('every = "5 workdays"', 'every = "4 workdays"')

    assert parse_workflow(changed).digest != parse_workflow(BASE).digest


# --------------------------------------------------------------------------- look-ups


def test_transitions_from_lists_in_file_order_including_previous() -> None:
    spec = parse_workflow(BASE)

    assert [t.trigger for t in spec.transitions_from("lead")] == ["sign", "hold"]
    assert [t.trigger for t in spec.transitions_from("signed")] == ["finish", "hold"]
    assert [(t.trigger, t.dest) for t in spec.transitions_from("on_hold")] == [("resume", PREVIOUS)]
    assert spec.transitions_from("done") == []
    assert spec.transitions_from("nowhere") == []


def test_transition_finds_the_one_a_trigger_fires_from_a_state() -> None:
    spec = parse_workflow(BASE)

    assert spec.transition("signed", "hold") is spec.transitions[2]
    assert spec.transition("lead", "finish") is None
    assert spec.transition("lead", "nope") is None


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 workdays", (5, "workdays")),
        ("1 workday", (1, "workdays")),
        ("3 wd", (3, "workdays")),
        ("10 days", (10, "days")),
        ("1 d", (1, "days")),
        ("2 weeks", (14, "days")),
        ("1 w", (7, "days")),
        (" 4  Weeks ", (28, "days")),
    ],
)
def test_parse_duration(text: str, expected: tuple[int, str]) -> None:
    assert parse_duration(text) == expected


def test_durations_at_the_bounds_are_accepted() -> None:
    text = edit('every = "5 workdays", remind = "1 workday"', 'every = "750 workdays"')
    text = edit('min_gap = "2 weeks", max_gap = "6 weeks"',
                'min_gap = "156 weeks", max_gap = "1095 days"', text)
    lead = parse_workflow(text).states["lead"]
    assert lead.contact is not None and lead.contact.every == 750
    assert lead.visit is not None and (lead.visit.min_gap, lead.visit.max_gap) == (1092, 1095)


@pytest.mark.parametrize("text", ["", "5", "workdays", "5 hours", "-1 days", "1.5 weeks"])
def test_parse_duration_refuses_garbage(text: str) -> None:
    with pytest.raises(InvalidInput, match="bad duration"):
        parse_duration(text)


# --------------------------------------------------------------------------- files


def test_load_file_reads_a_file_and_records_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, "demo.toml", BASE)

    spec = load_file(path)

    assert spec.path == str(path) and spec.source == BASE and spec.name == "demo"


def test_load_file_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))

    assert load_file(path).digest == parse_workflow(BASE).digest


def test_load_file_of_a_missing_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as caught:
        load_file(tmp_path / "nope.toml")

    assert caught.value.problems == [f"{tmp_path / 'nope.toml'}: file not found"]


def test_load_directory_keys_by_name_and_ignores_other_files(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", BASE)
    write(
        tmp_path,
        "b.toml",
        edit('key_prefix = "DM"', 'key_prefix = "OT"', edit('name = "demo"', 'name = "other"')),
    )
    write(tmp_path, "notes.txt", "not a workflow")

    specs = load_directory(tmp_path)

    assert sorted(specs) == ["demo", "other"]
    assert specs["other"].path == str(tmp_path / "b.toml")


def test_load_directory_reports_the_problems_of_all_files_together(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", edit("version = 2", "version = 0"))
    write(tmp_path, "b.toml", edit('name = "demo"', 'name = "other"', "x = [\n" + BASE))

    with pytest.raises(WorkflowError) as caught:
        load_directory(tmp_path)

    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(f"{tmp_path / 'a.toml'}: version: ")
    assert problems[1].startswith(f"{tmp_path / 'b.toml'}: line ")


def test_load_directory_refuses_a_name_declared_twice(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", BASE)
    write(tmp_path, "b.toml", edit('key_prefix = "DM"', 'key_prefix = "OT"'))

    with pytest.raises(WorkflowError) as caught:
        load_directory(tmp_path)

    assert caught.value.problems == [
        f"{tmp_path / 'b.toml'}: name: workflow 'demo' is already defined in "
        f"{tmp_path / 'a.toml'}; give each workflow its own name"
    ]


def test_load_directory_refuses_a_key_prefix_used_twice(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", BASE)
    write(tmp_path, "b.toml", edit('name = "demo"', 'name = "other"'))

    with pytest.raises(WorkflowError) as caught:
        load_directory(tmp_path)

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{tmp_path / 'b.toml'}: key_prefix: 'DM'")


def test_load_directory_of_a_missing_directory_is_one_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as caught:
        load_directory(tmp_path / "missing")

    assert caught.value.problems == [f"{tmp_path / 'missing'}: workflow directory not found"]


# --------------------------------------------------------------------------- shipped workflows

SHIPPED = {
    "project_introduction",
    "enterprise_cultivation",
    "enterprise_request",
    "talent_docking",
    "international_cooperation",
    "platform_building",
    "strategic_research",
    "industrialization_zone",
    "double_high",
}


@pytest.fixture(scope="module")
def shipped() -> dict[str, WorkflowSpec]:
    return load_directory(WORKFLOWS)


def test_the_eight_shipped_workflows_load(shipped: dict[str, WorkflowSpec]) -> None:
    assert set(shipped) == SHIPPED
    assert len({s.key_prefix for s in shipped.values()}) == len(SHIPPED)


def _can_finish(spec: WorkflowSpec) -> set[str]:
    """States from which some path reaches a terminal state, worked out here
    independently of the validator; '@previous' returns to any state entering it."""
    edges = set()
    for t in spec.transitions:
        for source in t.sources:
            if t.dest != PREVIOUS:
                edges.add((source, t.dest))
                continue
            edges |= {(source, s) for u in spec.transitions if u.dest == source for s in u.sources}
    good = {n for n, s in spec.states.items() if s.terminal}
    while True:
        more = {a for a, b in edges if b in good} - good
        if not more:
            return good
        good |= more


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_state_can_reach_a_terminal_state(
    shipped: dict[str, WorkflowSpec], name: str
) -> None:
    spec = shipped[name]

    assert set(spec.states) - _can_finish(spec) == set()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_workflows_follow_the_conventions(
    shipped: dict[str, WorkflowSpec], name: str
) -> None:
    spec = shipped[name]
    terminals = [s for s in spec.states.values() if s.terminal]

    assert all(s.rules == () for s in terminals), "terminal states have no follow-ups"
    assert "withdrawn" in spec.states and spec.states["withdrawn"].terminal
    assert spec.transition("on_hold", "resume").dest == PREVIOUS
    duties = [d for s in spec.states.values() for d in s.duties]
    named = [spec, *spec.states.values(), *spec.fields.values(), *spec.transitions,
             *spec.milestones, *(Named(d.name, d.title, d.title_en) for d in duties),
             *(spec.fields[f].option(v) for f in spec.fields for v in spec.fields[f].choices)]
    # Both languages as data: a Chinese title, an English one (a choice's value is
    # its English), never "English · 中文" cut at run time.
    for thing in named:
        label = thing.label
        assert _chinese(label.zh) and not _chinese(label.en), (thing, label)
        assert "·" not in label.zh + label.en, label
    roles = {r for t in spec.transitions for r in t.roles}
    roles |= {s.deadline.escalate_to for s in spec.states.values() if s.deadline}
    roles |= {d.escalate_to for d in duties}
    assert roles <= ROLES
    assert any(f.required for f in spec.fields.values())
    assert any(f.type == "choice" for f in spec.fields.values())


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_project_introduction_main_line_and_guards(shipped: dict[str, WorkflowSpec]) -> None:
    spec = shipped["project_introduction"]
    line = [
        "lead",
        "first_contact",
        "negotiation",
        "site_inspection",
        "signed",
        "registered",
        "construction",
        "production",
        "closed",
    ]

    for here, there in itertools.pairwise(line):
        assert any(t.dest == there for t in spec.transitions_from(here)), (here, there)
    sign = spec.transition("site_inspection", "sign")
    assert {"planned_investment", "contact_person"} <= set(sign.requires)
    assert sign.roles == ("director",)
    assert spec.fields["planned_investment"].unit == "万元"
    assert spec.fields["industry"].type == "choice"
    assert spec.states["negotiation"].contact.every <= 2
    assert spec.states["production"].contact.every == 20
    assert spec.states["signed"].deadline == DeadlineRule("signed", 60, "director", 10)
    assert {"lost", "withdrawn", "on_hold"} <= set(spec.states)


def test_the_example_in_the_format_reference_is_valid() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "workflows.md").read_text("utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]

    spec = parse_workflow(example, "docs/workflows.md")

    assert spec.transition("on_hold", "resume").dest == PREVIOUS
