"""Deadlines are the escalation role's: `task done` and `task snooze` of a deadline
by someone without that role are refused in one line naming the role; contacts
and visits are the case's people's (domain/permissions.py, `task.done`)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def test_a_coordinator_may_not_meet_or_move_the_directors_deadline(cli: Cli) -> None:
    key = cli.open_pi("Lead case")
    deadline = cli.open_tasks(key)["lead.deadline"]["id"]
    assert cli.refused("task", "done", deadline, as_="wang.li") == (
        f"Error: wang.li may not mark a task done (`task done`) on case {key}: the deadline "
        "is the 'director' role's")
    assert cli.refused("task", "snooze", deadline, "--to", "2026-03-20", "--reason", "abroad",
                       as_="wang.li") == (
        f"Error: wang.li may not move a task to another day (`task snooze`) on case {key}: "
        "the deadline is the 'director' role's")
    assert cli.open_tasks(key)["lead.deadline"]["due_on"] == "2026-03-18"  # unchanged
    assert [e["kind"] for e in cli.json("case", "history", key)["events"]] == ["opened"]

    cli.ok("task", "snooze", deadline, "--to", "2026-03-20", "--reason", "abroad",
           as_="chen.jie")
    cli.ok("task", "done", deadline, as_="chen.jie")
    assert "lead.deadline" not in cli.open_tasks(key)


def test_contacts_and_visits_are_the_case_s_peoples(cli: Cli) -> None:
    # Stricter than before (issue 14): a contact or visit was anyone's who could act.
    key = cli.open_pi("Talks case", owner="zhao.min")
    cli.to_negotiation(key, as_="zhao.min")
    tasks = cli.open_tasks(key)
    visit, contact = tasks["negotiation.visit"]["id"], tasks["negotiation.contact"]["id"]
    assert cli.refused("task", "snooze", visit, "--to", "2026-03-20", "--reason", "site closed",
                       as_="liu.yang") == (
        f"Error: liu.yang may not move a task to another day (`task snooze`) on case {key}: "
        "only zhao.min or admin may (see `torchflow person roles`)")
    assert "sun.hao may not mark a task done" in cli.refused("task", "done", contact,
                                                              as_="sun.hao")
    cli.ok("task", "snooze", visit, "--to", "2026-03-20", "--reason", "site closed",
           as_="zhao.min")
    cli.ok("task", "reassign", contact, "sun.hao", as_="zhao.min")  # now one of its people
    cli.ok("task", "done", contact, as_="sun.hao")
