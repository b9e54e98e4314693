"""`torchflow workflow migrate`: the refusals, the dry run (text and --json), the
move and its revert."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import PI_FIELDS, Cli
from tests.conftest import STAFF, WORKFLOWS
from tests.integration.test_version_moves import version_2

pytestmark = pytest.mark.client

MIGRATE = ("workflow", "migrate", "project_introduction", "--to", "4")


@pytest.fixture
def v2(cli: Cli, config_file: Path, tmp_path: Path) -> Cli:
    """The same database, read through a workflows folder holding version 4."""
    folder = tmp_path / "workflows-v2"
    shutil.copytree(WORKFLOWS, folder)
    version_2(folder)
    config = tmp_path / "config-v2.toml"
    config.write_text(config_file.read_text(encoding="utf-8").replace(
        f'directory = "{WORKFLOWS}"', f'directory = "{folder}"'), encoding="utf-8")
    assert STAFF  # the people were added through `cli`
    return Cli(config)


def two_cases(cli: Cli) -> tuple[str, str]:
    first = cli.open_pi("first contact")
    cli.ok("case", "advance", first, "make_contact", as_="wang.li")
    talks = cli.open_pi("negotiation")
    cli.to_negotiation(talks)
    return first, talks


def test_a_state_left_unmapped_is_refused_in_one_line(cli: Cli, v2: Cli) -> None:
    two_cases(cli)
    line = v2.refused(*MIGRATE, "--dry-run")
    assert line == (
        "Error: version 4 of project_introduction has no state negotiation (open cases are "
        "in it); pass --map negotiation=<state> (states of version 4: lead, first_contact, "
        "talks, site_inspection, signed, registered, construction, production, on_hold, "
        "closed, lost, withdrawn)")


def test_a_terminal_target_needs_allow_terminal(cli: Cli, v2: Cli) -> None:
    _, talks = two_cases(cli)
    line = v2.refused(*MIGRATE, "--map", "negotiation=lost", "--dry-run")
    assert line == ("Error: the move would close open cases (negotiation -> lost: terminal in "
                    "version 4); pass --allow-terminal to close them, or "
                    "--map negotiation=<open state>")
    plan = v2.json(*MIGRATE, "--map", "negotiation=lost", "--allow-terminal", "--dry-run")
    [closing] = [c for c in plan["cases"] if c["key"] == talks]
    assert closing["closes"] is True
    assert {t["action"] for t in closing["tasks"]} == {"cancelled"}


def test_usage_errors_exit_2(cli: Cli, v2: Cli) -> None:
    assert "is not old_state=new_state" in v2.usage(*MIGRATE, "--map", "negotiation")
    assert "give NAME and --to VERSION" in v2.usage("workflow", "migrate", "project_introduction")
    assert "--revert KEY takes no NAME" in v2.usage(*MIGRATE, "--revert", "PI-2026-0001")
    assert "map each old state once" in v2.usage(*MIGRATE, "--map", "negotiation=talks",
                                                 "--map", "negotiation=lead", "--dry-run")


def test_unknown_version_and_state_in_map_are_refused(cli: Cli, v2: Cli) -> None:
    two_cases(cli)
    assert v2.refused("workflow", "migrate", "project_introduction", "--to", "7",
                      "--dry-run") == (
        "Error: version 7 of project_introduction is neither stored nor the file's version "
        "(the file has version 4; stored: 3)")
    assert v2.refused(*MIGRATE, "--map", "negotiation=talk", "--dry-run").startswith(
        "Error: --map negotiation=talk: version 4 of project_introduction has no state 'talk'")


def test_dry_run_text_shows_states_fields_and_follow_ups_and_changes_nothing(
        cli: Cli, v2: Cli) -> None:
    first, talks = two_cases(cli)
    history = cli.json("case", "history", first)["events"]
    out = v2.ok(*MIGRATE, "--map", "negotiation=talks", "--dry-run").out.splitlines()
    assert out[0] == f"{first}  v3 first_contact -> v4 first_contact"
    assert out[1] == "  required to open, missing: expected_jobs"
    # Fields the ways out of the mapped state require, one line per trigger.
    assert out[2:4] == ["  needed before negotiate: contact_person",
                        "  needed before lose: lost_to"]
    tasks = cli.open_tasks(first)
    assert out[4:6] == [
        f"  re-planned  #{tasks['first_contact.contact']['id']:<5}  first_contact.contact  "
        "2026-03-11 -> 2026-03-09",
        f"  kept        #{tasks['first_contact.deadline']['id']:<5}  first_contact.deadline  "
        f"{tasks['first_contact.deadline']['due_on']}",
    ]
    assert out[6] == f"{talks}  v3 negotiation -> v4 talks"
    # A renamed state: its follow-ups follow the renamed rules on the same days.
    visit = cli.open_tasks(talks)["negotiation.visit"]
    assert (f"  re-planned  #{visit['id']:<5}  negotiation.visit -> talks.visit  "
            f"{visit['due_on']} -> {visit['due_on']}") in out
    assert out[-1] == ("2 open case(s) to version 4; follow-ups: 1 kept, 4 re-planned, "
                       "0 cancelled, 0 new (dry run: nothing changed)")
    assert cli.json("case", "show", first)["version"] == 3
    assert cli.json("case", "history", first)["events"] == history
    # Not even version 4 is stored by a dry run.
    listed = {w["name"]: w for w in v2.json("workflow", "list")}
    assert listed["project_introduction"]["stored_versions"] == [3]


def test_dry_run_json_and_one_case(cli: Cli, v2: Cli) -> None:
    first, _ = two_cases(cli)
    plan = v2.json(*MIGRATE, "--map", "negotiation=talks", "--case", first, "--dry-run")
    assert plan["workflow"] == "project_introduction"
    assert plan["to_version"] == 4
    assert plan["totals"] == {"cases": 1, "closing": 0, "kept": 1, "re-planned": 1,
                              "cancelled": 0, "new": 0}
    [case] = plan["cases"]
    assert (case["key"], case["from"], case["to"], case["from_version"]) == (
        first, "first_contact", "first_contact", 3)
    assert case["missing_fields"] == ["expected_jobs"]
    assert case["needed_before"] == {"negotiate": ["contact_person"], "lose": ["lost_to"]}
    replanned = next(t for t in case["tasks"] if t["action"] == "re-planned")
    assert (replanned["old_due"], replanned["new_due"]) == ("2026-03-11", "2026-03-09")


def test_migrate_then_revert(cli: Cli, v2: Cli) -> None:
    first, talks = two_cases(cli)
    moved = v2.ok(*MIGRATE, "--map", "negotiation=talks").out.splitlines()
    assert moved[0].startswith(f"{first}  moved v3 first_contact -> v4 first_contact (event ")
    assert moved[1].startswith(f"{talks}  moved v3 negotiation -> v4 talks (event ")
    assert v2.json("case", "show", talks)["state"] == "talks"
    assert v2.ok(*MIGRATE, "--dry-run").out.startswith("0 open case(s)")
    back = v2.json("workflow", "migrate", "--revert", talks)
    assert (back["migrated"], back["to_version"], back["to"]) == (True, 3, "negotiation")
    assert v2.refused("workflow", "migrate", "--revert", talks) == (
        f"Error: {talks} has not been moved to another version; nothing to revert "
        f"(see `torchflow case history {talks}`)")
    assert v2.json("audit", "verify")["ok"] is True


def test_applying_needs_an_admin(cli: Cli, v2: Cli) -> None:
    two_cases(cli)
    assert v2.refused(*MIGRATE, "--map", "negotiation=talks", as_="chen.jie") == (
        "Error: chen.jie may not move open cases to another version (`workflow migrate`): "
        "it needs the 'admin' role (see `torchflow person roles`)")
    assert v2.refused(*MIGRATE, "--map", "negotiation=talks", as_="stranger").startswith(
        "Error: the login 'stranger' is no person's")
    assert PI_FIELDS  # the cases were opened with the shipped fields


def test_a_case_changed_while_moving_is_reported_and_exits_1(
        cli: Cli, v2: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchflow.service.workflows import version_moves as vm

    first, talks = two_cases(cli)
    real = vm._apply_one

    def meanwhile(app: Any, actor: Any, source: Any, target: Any, move: Any,
                  read_version: int, **kwargs: Any) -> int:
        if move.key == first:  # someone advances it between the plan and its move
            cli.ok("case", "advance", first, "negotiate", "--field", "contact_person=Mr Wu",
                   as_="wang.li")
        return real(app, actor, source, target, move, read_version, **kwargs)

    monkeypatch.setattr(vm, "_apply_one", meanwhile)
    run = v2.run(*MIGRATE, "--map", "negotiation=talks")
    assert run.code == 1
    lines = run.out.splitlines()
    assert lines[0].startswith(f"{first}  left on v3: case {first} changed since you read it")
    assert lines[1].startswith(f"{talks}  moved v3 negotiation -> v4 talks")
    assert run.err == "Error: 1 of 2 cases left on their version (see above); fix and run again\n"
    assert v2.json("case", "show", first)["version"] == 3
    assert v2.json("case", "show", talks)["version"] == 4
