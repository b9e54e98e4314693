"""Deadlines are the escalation role's: `task done` and `task snooze` of a deadline
by someone without that role are refused in one line naming the role; contacts
and visits stay anyone's who may act."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def test_a_coordinator_may_not_meet_or_move_the_directors_deadline(cli: Cli) -> None:
    key = cli.open_pi("Lead case")
    deadline = cli.open_tasks(key)["lead.deadline"]["id"]
    assert cli.refused("task", "done", deadline, as_="wang.li") == (
        f"Error: task #{deadline} is the deadline lead.deadline: only the director role "
        "may mark it done; wang.li does not hold it")
    assert cli.refused("task", "snooze", deadline, "--to", "2026-03-20", "--reason", "abroad",
                       as_="wang.li") == (
        f"Error: task #{deadline} is the deadline lead.deadline: only the director role "
        "may snooze it; wang.li does not hold it")
    assert cli.open_tasks(key)["lead.deadline"]["due_on"] == "2026-03-18"  # unchanged
    assert [e["kind"] for e in cli.json("case", "history", key)["events"]] == ["opened"]

    cli.ok("task", "snooze", deadline, "--to", "2026-03-20", "--reason", "abroad",
           as_="chen.jie")
    cli.ok("task", "done", deadline, as_="chen.jie")
    assert "lead.deadline" not in cli.open_tasks(key)


def test_contacts_and_visits_stay_anyones(cli: Cli) -> None:
    key = cli.open_pi("Talks case", owner="zhao.min")
    cli.to_negotiation(key, as_="zhao.min")
    tasks = cli.open_tasks(key)
    cli.ok("task", "snooze", tasks["negotiation.visit"]["id"], "--to", "2026-03-20",
           "--reason", "site closed", as_="liu.yang")
    cli.ok("task", "done", tasks["negotiation.contact"]["id"], as_="sun.hao")
