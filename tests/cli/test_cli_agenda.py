"""`agenda`: the acting person's work by default, `--all` for the office, `--mine`
accepted; notices a digest takes are shown folded, not as going out."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def test_the_agenda_is_the_acting_persons_unless_all(cli: Cli) -> None:
    mine = cli.open_pi("wang's plant", as_="wang.li")
    theirs = cli.open_pi("zhao's plant", as_="zhao.min")
    own = cli.json("agenda", "--days", "30", as_="wang.li")
    assert own["whose"] == "wang.li"
    assert {t["case"] for t in own["tasks"]} == {mine}
    assert own == cli.json("agenda", "--days", "30", "--mine", as_="wang.li")
    office = cli.json("agenda", "--days", "30", "--all", as_="wang.li")
    assert office["whose"] is None
    assert {t["case"] for t in office["tasks"]} == {mine, theirs}
    assert {t["case"] for t in cli.json("agenda", "--days", "30", "--assignee", "zhao.min",
                                        as_="wang.li")["tasks"]} == {theirs}
    text = cli.ok("agenda", "--days", "30", as_="wang.li").out
    assert text.startswith("Work of wang.li") and theirs not in text
    err = cli.usage("agenda", "--all", "--mine", as_="wang.li")
    assert err.startswith("Error: --mine, --all and --assignee exclude each other; use one")


def test_digest_mode_notices_are_shown_folded_not_going_out(cli: Cli) -> None:
    key = cli.open_pi(as_="wang.li")
    cli.ok("person", "notify", "wang.li", "--digest", as_="wang.li")
    data = cli.json("agenda", "--days", "30", as_="wang.li")
    kinds = {(n["kind"], n["folded"]) for n in data["notices"] if n["case"] == key}
    # Upcoming, due and overdue wait in the digest; the escalation goes to its role at once.
    assert ("due", True) in kinds and ("overdue", True) in kinds
    assert ("escalation", False) in kinds and ("due", False) not in kinds
    text = cli.ok("agenda", "--days", "30", as_="wang.li").out
    going, folded = text.split("Folded into the daily digest (no message of their own):")
    assert " due " not in going.split("Notices that will go out:")[1]
    assert " due " in folded.split("Waiting to be sent:")[0]
