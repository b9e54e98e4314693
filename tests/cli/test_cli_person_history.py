"""`torchflow person history HANDLE` and the role history in `person show`: who
gave whom which role, logins, absences and notice settings, and when (text and
--json), embedded and through the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import ADMIN, Cli

pytestmark = pytest.mark.client


def history(cli: Cli, handle: str) -> list[dict[str, Any]]:
    """HANDLE's history but the tokens the client-mode office issues each person."""
    return [e for e in cli.json("person", "history", handle)["events"]
            if e["subject"] != "token"]


def test_person_history_says_who_gave_which_role_and_when(cli: Cli) -> None:
    cli.ok("person", "edit", "wang.li", "--add-role", "director",
           now="2026-03-05T10:00:00+08:00")
    cli.ok("--as", "chen.jie", "person", "edit", "wang.li", "--remove-role", "director",
           now="2026-03-06T11:00:00+08:00")
    events = history(cli, "wang.li")
    assert [e["kind"] for e in events] == ["person_added", "roles_changed", "roles_changed"]
    added, given, taken = events
    assert (added["actor"], added["entered_by"]) == (ADMIN, None)
    assert {"field": "roles", "was": None, "now": ["coordinator"]} in added["changes"]
    assert {"field": "logins", "was": None, "now": ["wang.li"]} in added["changes"]
    assert (given["at"], given["actor"], given["changes"]) == (
        "2026-03-05T10:00:00+08:00", ADMIN,
        [{"field": "roles", "was": ["coordinator"], "now": ["coordinator", "director"]}])
    # An admin acting as someone: both are named, as in case history.
    assert (taken["actor"], taken["entered_by"]) == ("chen.jie", ADMIN)
    assert taken["changes"] == [
        {"field": "roles", "was": ["coordinator", "director"], "now": ["coordinator"]}]
    assert taken["auth"]  # how the caller was authenticated (os:, peer: or token:)

    lines = [line for line in cli.ok("person", "history", "wang.li").out.splitlines()
             if "access token issued" not in line]
    assert lines[0].split() == ["WHEN", "BY", "WHAT", "CHANGES"]
    assert "roles: coordinator → coordinator, director" in lines[2]
    assert lines[2].startswith("2026-03-05 10:00  office.admin")
    assert f"chen.jie, entered by {ADMIN}" in lines[3]
    assert "roles: coordinator, director → coordinator" in lines[3]


def test_person_history_shows_absences_notice_settings_and_logins(cli: Cli) -> None:
    cli.ok("person", "away", "wang.li", "--from", "2026-03-09", "--to", "2026-03-10",
           "--substitute", "zhao.min", "--reason", "出差")
    cli.ok("person", "notify", "wang.li", "--digest", "--quiet", "20:00-08:00")
    cli.ok("person", "edit", "wang.li", "--login", "wl2")
    cli.ok("person", "back", "wang.li", now="2026-03-09T09:00:00+08:00")
    events = history(cli, "wang.li")
    assert [e["kind"] for e in events] == [
        "person_added", "absence_recorded", "notify_changed", "person_edited", "absence_ended"]
    away, told, login, back = events[1:]
    assert {"field": "substitute_id", "was": None, "now": "zhao.min"} in away["changes"]
    assert {"field": "reason", "was": None, "now": "出差"} in away["changes"]
    assert told["changes"] == [{"field": "notify", "was": None, "now": "digest"},
                               {"field": "quiet_start", "was": None, "now": "20:00"},
                               {"field": "quiet_end", "was": None, "now": "08:00"}]
    assert login["changes"] == [{"field": "logins", "was": ["wang.li"], "now": ["wang.li", "wl2"]}]
    assert back["changes"] == [{"field": "ended_at", "was": None,
                                "now": "2026-03-09T09:00:00+08:00"}]
    # Someone else's history holds none of it.
    assert [e["kind"] for e in history(cli, "zhao.min")] == [
        "person_added"]


def test_person_show_has_the_role_history(cli: Cli) -> None:
    cli.ok("person", "edit", "sun.hao", "--add-role", "coordinator",
           now="2026-03-05T10:00:00+08:00")
    shown = cli.json("person", "show", "sun.hao")
    assert [(r["actor"], r["was"], r["now"]) for r in shown["role_history"]] == [
        (ADMIN, [], ["expert"]), (ADMIN, ["expert"], ["coordinator", "expert"])]
    text = cli.ok("person", "show", "sun.hao").out
    history = text.split("Role history:\n", 1)[1].splitlines()
    assert history[0].split() == ["WHEN", "BY", "ROLES", "BEFORE", "ROLES", "AFTER"]
    assert history[2].split()[2:] == [ADMIN, "expert", "coordinator,", "expert"]


@pytest.mark.embedded  # the office's language is the server's setting
def test_person_history_in_chinese(cli: Cli, config_file: Path, tmp_path: Path) -> None:
    cli.ok("person", "edit", "wang.li", "--add-role", "director")
    config = tmp_path / "zh.toml"
    config.write_text(config_file.read_text(encoding="utf-8").replace(
        '[office]\nlocale = "en"', '[office]\nlocale = "zh-CN"'), encoding="utf-8")
    lines = Cli(config).ok("person", "history", "wang.li").out.splitlines()
    # Who made the change (操作人), not who handles a matter (经办人).
    assert lines[0].split() == ["时间", "操作人", "说明", "变更内容"]
    assert "角色变更" in lines[2] and "角色：招商专员 → 招商专员、局长" in lines[2]
    assert "新增人员" in lines[1] and "登录名：- → wang.li" in lines[1]


def test_person_history_of_nobody_is_one_line(cli: Cli) -> None:
    assert cli.refused("person", "history", "no.one").startswith("Error: ")
