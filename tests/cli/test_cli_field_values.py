"""Field values out of bounds are one-line refusals through the CLI, on both
backends alike, and nothing is written: no case opened, no field changed."""

from __future__ import annotations

import pytest

from tests.cli.conftest import PI_FIELDS, Cli

pytestmark = pytest.mark.client


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        ("planned_investment=" + "9" * 400, "at most 15 digits before the decimal point"),
        ("planned_investment=1" + "0" * 20 + ".5", "at most 15 digits before the decimal point"),
        ("planned_investment=inf", "wants a number"),
        ("enterprise=Acme\x1b[2J", "contains the control character U+001B; use plain text"),
        ("enterprise=" + "e" * 2001, "is 2001 characters long; at most 2000 are allowed"),
    ],
)
def test_set_refuses_a_value_out_of_bounds_and_changes_nothing(
    cli: Cli, pair: str, says: str
) -> None:
    key = cli.open_pi()
    before = cli.json("case", "show", key)
    line = cli.refused("case", "set", key, pair, as_="wang.li")
    assert says in line and line.startswith("Error: field '")
    after = cli.json("case", "show", key)
    assert after["fields"] == before["fields"]
    assert after["version"] == before["version"]


def test_open_refuses_a_date_out_of_range_and_opens_nothing(cli: Cli) -> None:
    fields = (*PI_FIELDS, "signed_date=9999-12-31")
    args: list[str] = ["case", "open", "project_introduction", "--title", "Far future"]
    for pair in fields:
        args += ["--field", pair]
    line = cli.refused(*args, as_="wang.li")
    assert "wants a date between 1900-01-01 and 2199-12-31, got '9999-12-31'" in line
    assert cli.json("case", "list")["items"] == []
