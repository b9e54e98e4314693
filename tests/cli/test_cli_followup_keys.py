"""`workflow show` names a contact's escalation and a rule's from / assignee fields."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def test_workflow_show_names_escalate_after_from_and_assignee(cli: Cli) -> None:
    assert ("contact every 10 workdays, 3 missed in a row escalate to director"
            in cli.ok("workflow", "show", "talent_docking").out)
    view = cli.json("workflow", "show", "talent_docking")
    [on_board] = [s for s in view["states"] if s["name"] == "on_board"]
    rules = {r["kind"]: r for r in on_board["follow_ups"]}
    assert (rules["contact"]["escalate_after"], rules["contact"]["escalate_to"],
            rules["contact"]["assignee"]) == (3, "director", "talent_officer")
    assert rules["deadline"]["from"] == "start_date"
    assert "from" not in rules["visit"] and rules["visit"]["assignee"] == "talent_officer"
