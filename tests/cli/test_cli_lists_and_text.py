"""Lists that say when they are cut, `--json` after the subcommand, filters that
name the valid values, stored text escaped wherever it is printed, when a
logged contact happened, and a demo that never touches the configured database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from tests.cli.conftest import PI_FIELDS, Cli
from torchflow.store.models import CASES, PEOPLE

pytestmark = pytest.mark.client

FIELDS = tuple(arg for pair in PI_FIELDS for arg in ("--field", pair))


def test_a_cut_list_says_so_and_takes_an_offset(cli: Cli) -> None:
    keys = [cli.open_pi(f"case {n}") for n in range(3)]
    out = cli.ok("case", "list", "--limit", "2").out.splitlines()
    assert [line.split()[0] for line in out[1:3]] == keys[:2]
    assert out[-1] == "2 of 3 shown; use --limit / --offset"
    out = cli.ok("case", "list", "--limit", "2", "--offset", "2").out.splitlines()
    assert [line.split()[0] for line in out[1:-1]] == keys[2:]
    assert out[-1] == "1 of 3 shown; use --limit / --offset"
    # An uncut list has no footnote.
    assert "shown" not in cli.ok("case", "list").out
    page = cli.json("case", "list", "--limit", "1", "--offset", "1")
    assert {k: page[k] for k in ("total", "limit", "offset")} == {"total": 3, "limit": 1,
                                                                  "offset": 1}
    assert [c["key"] for c in page["items"]] == keys[1:2]


@pytest.mark.parametrize("command", [("case", "list"), ("task", "list"), ("notice", "list"),
                                     ("person", "list")])
def test_every_list_pages_the_same_way(cli: Cli, command: tuple[str, ...]) -> None:
    cli.open_pi()
    page = cli.json(*command, "--limit", "1", "--offset", "0")
    assert set(page) == {"items", "total", "limit", "offset"}
    assert len(page["items"]) == min(1, page["total"])


def test_json_after_the_subcommand_means_the_global_json(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.ok("case", "list", "--json").data == cli.json("case", "list")
    assert cli.ok("case", "show", key, "--json").data["key"] == key
    assert cli.ok("workflow", "list", "--json").data == cli.json("workflow", "list")
    assert cli.ok("case", "note", key, "hello", "--json", as_="wang.li").data["key"] == key


def test_an_unknown_filter_names_the_valid_values(cli: Cli) -> None:
    cli.open_pi()
    line = cli.refused("case", "list", "--workflow", "project_intro")
    assert line.startswith("Error: there is no workflow 'project_intro'; workflows: "
                           "double_high, enterprise_cultivation, enterprise_request, "
                           "industrialization_zone")
    line = cli.refused("case", "list", "--workflow", "project_introduction", "--state", "nowhere")
    assert line.startswith("Error: there is no state 'nowhere'; states: ")
    assert "negotiation" in line and "lead" in line
    # A state of another workflow is not a state of this one.
    line = cli.refused("case", "list", "--workflow", "talent_docking", "--state", "negotiation")
    assert "there is no state 'negotiation'" in line
    assert cli.json("case", "list", "--state", "lead")["total"] == 1


def _engine(config_file: Path):  # type: ignore[no-untyped-def]
    text = config_file.read_text(encoding="utf-8")
    return create_engine(text.split('url = "', 1)[1].split('"', 1)[0])


def test_stored_control_characters_are_escaped_wherever_printed(cli: Cli,
                                                                 config_file: Path) -> None:
    key = cli.open_pi()
    # As an older release, or a direct SQL edit, could have stored them.
    engine = _engine(config_file)
    with engine.begin() as conn:
        conn.execute(update(CASES).values(title="\x1b[2Jred\u202etxt\nnext"))
        conn.execute(update(PEOPLE).where(PEOPLE.c.handle == "sun.hao")
                     .values(name="Sun\x1b]0;owned\x07Hao"))
    engine.dispose()
    for args in (("case", "list"), ("case", "show", key), ("task", "list"),
                 ("person", "list"), ("agenda",)):
        out = cli.ok(*args).out
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out, args
    listed = cli.ok("case", "list").out
    assert "\\x1b[2Jred\\u202etxt\\nnext" in listed
    assert "Title:" in cli.ok("case", "show", key).out
    assert "Sun\\x1b]0;owned\\x07Hao" in cli.ok("person", "list").out
    # JSON keeps the stored text, escaped as JSON escapes: nothing raw on the terminal.
    raw = cli.ok("case", "show", key, json=True).out
    assert "\x1b" not in raw and "\u202e" not in raw
    assert cli.json("case", "show", key)["title"] == "\x1b[2Jred\u202etxt\nnext"


def test_a_non_utf8_acting_person_from_the_environment(cli: Cli) -> None:
    key = cli.open_pi()
    before = cli.json("case", "history", key)
    line = cli.refused("case", "note", key, "x", env={"TORCHFLOW_USER": "caf\udce9"})
    assert line == "Error: a value given is not valid UTF-8; type it again in a UTF-8 terminal"
    assert cli.json("case", "history", key) == before


def test_history_says_when_a_logged_contact_happened(cli: Cli) -> None:
    key = cli.open_pi(now="2026-03-02T09:00:00+08:00")
    cli.to_negotiation(key)
    cli.ok("case", "contact", key, "--at", "2026-03-03T15:30", "--note", "called", as_="wang.li")
    line = cli.ok("case", "history", key).out.splitlines()[-1]
    assert line.endswith("contact at 2026-03-03 15:30: called")
    event = cli.json("case", "history", key)["events"][-1]
    assert event["data"]["at"] == "2026-03-03T15:30:00+08:00"
    assert event["at"] == "2026-03-04T09:30:00+08:00"


def test_a_log_dated_before_the_case_opened_is_refused(cli: Cli) -> None:
    key = cli.open_pi()
    before = cli.json("case", "history", key)
    assert cli.refused("case", "visit", key, "--at", "2026-03-04T09:00", as_="wang.li") == (
        f"Error: 2026-03-04T09:00:00+08:00 is before {key} was opened "
        "(2026-03-04T09:30:00+08:00); give a later time")
    assert cli.json("case", "history", key) == before


# --- the demo ---------------------------------------------------------------------------


def test_the_demo_ignores_the_configured_database(cli: Cli, tmp_path: Path) -> None:
    mine = tmp_path / "mine.db"
    folder = tmp_path / "demo"
    now_before = os.environ.get("TORCHFLOW_NOW")
    data = cli.json("demo", "--dir", folder, "--days", "2", config=False,
                    env={"TORCHFLOW_DATABASE_URL": f"sqlite:///{mine}"})
    assert data["database"] == str(folder / "demo.db")
    assert (folder / "demo.db").exists()
    assert not mine.exists()
    # Time moved on a manual clock, not through the process environment.
    assert os.environ.get("TORCHFLOW_NOW") == now_before


@pytest.mark.parametrize("given", [False, True], ids=["new-folder", "empty-folder"])
def test_a_failed_demo_leaves_nothing_behind(cli: Cli, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             given: bool) -> None:
    from torchflow import demo
    from torchflow.errors import Refused

    def broken(*_args: object) -> None:
        raise Refused("the simulated day failed")

    monkeypatch.setattr(demo, "_work_day", broken)
    folder = tmp_path / "demo"
    if given:
        folder.mkdir()
    line = cli.refused("demo", "--dir", folder, "--days", "3", config=False, json=True)
    # No config named: the default language, Chinese.
    assert line == "错误：the simulated day failed"
    assert (list(folder.iterdir()) == []) if given else not folder.exists()
