"""`TORCHFLOW_NOW` set back before a case's last change: one line, exit 1."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def test_the_cli_refuses_in_one_line(cli: Cli) -> None:
    key = cli.open_pi("Order")
    cli.ok("case", "advance", key, "make_contact", as_="wang.li", now="2026-03-11T10:00:00+08:00")
    line = cli.refused("case", "note", key, "回溯", as_="wang.li", now="2026-03-10T10:00:00+08:00")
    assert line == (
        f"Error: case {key} last changed at 2026-03-11T02:00:00+00:00; now is earlier "
        "(2026-03-10T02:00:00+00:00): set TORCHFLOW_NOW to that time or later, or unset it"
    )
