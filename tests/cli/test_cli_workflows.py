"""`torchflow workflow list / show / validate / diagram`, in text and JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.conftest import WORKFLOWS

pytestmark = pytest.mark.client

SHIPPED = ["double_high", "enterprise_cultivation", "enterprise_request", "industrialization_zone",
           "international_cooperation", "platform_building", "project_introduction",
           "strategic_research", "talent_docking"]

BROKEN = """\
name = "Project Intro"
title = "Broken on purpose"
version = 0
key_prefix = "pi"

[fields.industry]
type = "choice"

[states.lead]
contact = { every = "5 days" }
colour = "red"

[[transitions]]
trigger = "sign"
source = "lead"
dest = "sigend"

[states.signed]
terminal = true
"""


def test_workflow_list_text(cli: Cli) -> None:
    lines = cli.ok("workflow", "list").out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STORED", "OPEN", "TITLE"]
    assert [line.split()[0] for line in lines[1:]] == SHIPPED
    assert lines[7].endswith("Project introduction")  # the English title; Chinese in zh-CN


def test_workflow_list_json_counts_open_cases_and_stored_versions(cli: Cli) -> None:
    before = {w["name"]: w for w in cli.json("workflow", "list")}
    assert sorted(before) == SHIPPED
    assert before["project_introduction"]["stored_versions"] == []
    assert before["project_introduction"]["open_cases"] == 0
    assert before["project_introduction"]["file"] == str(WORKFLOWS / "project_introduction.toml")

    cli.open_pi("one")
    closed = cli.open_pi("two")
    cli.ok("case", "advance", closed, "withdraw", as_="wang.li")
    after = {w["name"]: w for w in cli.json("workflow", "list")}
    assert after["project_introduction"]["stored_versions"] == [3]
    assert after["project_introduction"]["open_cases"] == 1
    assert after["talent_docking"]["open_cases"] == 0


def test_workflow_show_text_has_fields_states_rules_and_transitions(cli: Cli) -> None:
    out = cli.ok("workflow", "show", "project_introduction").out
    assert "Workflow:   project_introduction" in out
    assert "Key prefix: PI" in out
    assert "Starts in:  lead" in out
    assert "planned_investment   number  from negotiation" in out
    assert "  closed (terminal): Closed" in out
    assert "contact every 2 workdays, reminder 1 workday(s) ahead" in out
    assert "visit at a random working day 14-28 days after the last" in out
    assert "deadline within 10 workdays, escalate to director, reminder 2 workday(s) ahead" in out
    sign = next(line for line in out.splitlines() if line.startswith("sign "))
    assert sign.split()[:3] == ["sign", "site_inspection", "signed"]
    assert sign.rstrip().endswith("director")


def test_workflow_show_json(cli: Cli) -> None:
    view = cli.json("workflow", "show", "project_introduction")
    assert view["name"] == "project_introduction"
    assert view["version"] == 3 and view["key_prefix"] == "PI" and view["initial"] == "lead"
    assert len(view["digest"]) == 64
    fields = {f["name"]: f for f in view["fields"]}
    assert fields["industry"]["type"] == "choice" and "biomedicine" in fields["industry"]["choices"]
    assert fields["planned_investment"]["unit"] == "万元"
    states = {s["name"]: s for s in view["states"]}
    assert states["closed"]["terminal"] is True
    assert states["negotiation"]["follow_ups"][1] == {
        "kind": "visit", "rule": "negotiation.visit", "gap_days": [14, 28], "remind_workdays": 2}
    resume = next(t for t in view["transitions"] if t["trigger"] == "resume")
    assert resume["from"] == ["on_hold"] and resume["to"] == "@previous"
    sign = next(t for t in view["transitions"] if t["trigger"] == "sign")
    assert sign["roles"] == ["director"] and "signed_date" in sign["requires"]


def test_workflow_show_version(cli: Cli) -> None:
    line = cli.refused("workflow", "show", "project_introduction", "--version", "2")
    assert line == ("Error: version 2 of 'project_introduction' has not been used yet, "
                    "so it is not stored")
    assert cli.json("workflow", "show", "project_introduction", "--version", "3")["version"] == 3
    assert "Version:    3" in cli.ok("workflow", "show", "talent_docking", "--version", "3").out


def test_workflow_show_unknown_names_the_known_ones(cli: Cli) -> None:
    line = cli.refused("workflow", "show", "project_intro")
    assert line == "Error: no workflow named 'project_intro'; workflows: " + ", ".join(SHIPPED)


def test_workflow_validate_the_shipped_directory(cli: Cli) -> None:
    run = cli.ok("workflow", "validate")
    assert (run.out, run.err) == ("9 workflows, 0 errors, 0 warnings\n", "")
    assert cli.json("workflow", "validate") == {
        "files": 9, "problems": [], "warnings": [], "ok": True}
    one = str(WORKFLOWS / "talent_docking.toml")
    assert cli.ok("workflow", "validate", one).out == "1 workflow, 0 errors, 0 warnings\n"


def test_workflow_validate_reports_every_problem_with_file_and_key(
    cli: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(BROKEN, encoding="utf-8")
    run = cli.run("workflow", "validate", broken)
    assert run.code == 1
    assert run.out == "1 workflow, 7 errors, 0 warnings\n"
    lines = run.err.splitlines()
    assert all(line.startswith(f"error: {broken}: ") for line in lines), lines
    problems = {line.split(": ")[2]: line.split(": ", 3)[3] for line in lines}
    assert problems == {
        "name": "bad workflow name 'Project Intro'; use lowercase letters, digits and '_', "
                "starting with a letter",
        "version": "wants a positive integer like 1, got 0",
        "key_prefix": "bad key prefix 'pi'; use 2 to 4 uppercase letters, e.g. 'PI' for keys "
                      "like PI-2026-0001",
        "fields.industry.choices": 'missing; a choice field needs choices = ["...", "..."]',
        "states.lead.colour": "unknown key 'colour'; expected one of: title, title_en, aliases, "
                              "terminal, contact, visit, deadline, milestone, duties, each",
        "states.lead.contact.every": "bad duration '5 days': this counts working days; "
                                     'e.g. "5 workdays"',
        "transitions[0].dest": "unknown state 'sigend' (did you mean 'signed'?); states are: "
                               "lead, signed, @previous",
    }


def test_workflow_validate_json_lists_the_problems_of_every_file(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "drafts"
    folder.mkdir()
    (folder / "a_broken.toml").write_text(BROKEN, encoding="utf-8")
    (folder / "b_good.toml").write_text(
        (WORKFLOWS / "talent_docking.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "c_broken.toml").write_text(BROKEN.replace("sigend", "signed"), encoding="utf-8")
    run = cli.run("workflow", "validate", folder, json=True)
    assert run.code == 1
    assert run.err == ""
    data = run.data
    assert data["files"] == 3 and data["ok"] is False
    by_file: dict[str, list[str]] = {}
    for problem in data["problems"]:
        name, key, _ = problem.split(": ", 2)
        by_file.setdefault(name, []).append(key)
    assert sorted(by_file) == [str(folder / "a_broken.toml"), str(folder / "c_broken.toml")]
    assert len(by_file[str(folder / "a_broken.toml")]) == 7
    # The fixed transition is no longer a problem; the rest still are.
    assert "transitions[0].dest" not in by_file[str(folder / "c_broken.toml")]
    assert len(by_file[str(folder / "c_broken.toml")]) == 6


def test_workflow_validate_missing_file(cli: Cli, tmp_path: Path) -> None:
    line = cli.refused("workflow", "validate", tmp_path / "nope.toml")
    assert line == f"Error: {tmp_path / 'nope.toml'} does not exist; name a workflow file or folder"


def test_workflow_diagram_mermaid(cli: Cli) -> None:
    out = cli.ok("workflow", "diagram", "project_introduction").out
    assert "stateDiagram" in out
    lines = {line.strip() for line in out.splitlines()}
    assert "negotiation --> site_inspection: inspect" in lines
    assert "on_hold --> negotiation: resume" in lines
    data = cli.json("workflow", "diagram", "project_introduction", "--format", "mermaid")
    assert data["name"] == "project_introduction" and data["format"] == "mermaid"
    assert "stateDiagram" in data["diagram"]


def test_workflow_diagram_dot(cli: Cli) -> None:
    out = cli.ok("workflow", "diagram", "talent_docking", "--format", "dot").out
    assert out.startswith("digraph")
    assert "matching -> docking_meeting [label=schedule_meeting]" in out
    # @previous is drawn as every state the case can have come from.
    assert "on_hold -> matching [label=resume]" in out
    data = cli.json("workflow", "diagram", "talent_docking", "--format", "dot")
    assert data["format"] == "dot" and data["diagram"].startswith("digraph")


def test_workflow_diagram_refusals(cli: Cli) -> None:
    assert "no workflow named 'nope'" in cli.refused("workflow", "diagram", "nope")
    err = cli.usage("workflow", "diagram", "talent_docking", "--format", "svg")
    assert "'svg' is not one of 'mermaid', 'dot'" in err
