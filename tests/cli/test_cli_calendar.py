"""`torchflow calendar show` and `calendar check` through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.integration.test_calendar_data import FIXTURE_2027

pytestmark = pytest.mark.client


def test_show_marks_the_statutory_days_of_a_year_without_a_notice(cli: Cli) -> None:
    out = cli.ok("calendar", "show", "2027", "--month", "2").out
    lines = out.splitlines()
    assert lines[0].startswith("2027: ASSUMED: statutory holidays")
    assert "February 2027" in out
    week = next(line for line in lines if line.lstrip().startswith("1."))
    assert week.split() == ["1.", "2.", "3.", "4.", "5H", "6H", "7H"]
    assert "January" not in out


@pytest.mark.embedded  # the server's config, environment or process
def test_show_marks_worked_weekend_days_and_blackout(cli: Cli, config_file: Path) -> None:
    with config_file.open("a", encoding="utf-8") as f:
        f.write('\n[calendar]\nblackout = ["2026-12-31"]\nextra_workdays = ["2026-12-26"]\n')
    oct_ = cli.ok("calendar", "show", "2026", "--month", "10").out
    assert "2026: official (library): holidays" in oct_
    assert " 10W" in oct_ and "  7H" in oct_
    dec = cli.ok("calendar", "show", "2026", "--month", "12").out
    assert " 31B" in dec and " 26E" in dec


def test_show_json(cli: Cli) -> None:
    data = cli.json("calendar", "show", "2027")
    assert data["source"] == "statutory" and len(data["months"]) == 12
    feb = data["months"][1]["days"]
    assert feb["2027-02-08"] == "off" and feb["2027-02-11"] == "work"
    assert feb["2027-02-13"] == "weekend"


@pytest.mark.embedded  # the server's config, environment or process
def test_show_with_an_office_file_names_its_source(cli: Cli, config_file: Path) -> None:
    (config_file.parent / "calendars").mkdir()
    (config_file.parent / "calendars" / "cn-2027.toml").write_text(FIXTURE_2027)
    with config_file.open("a", encoding="utf-8") as f:
        f.write('\n[calendar]\nofficial = ["calendars/cn-2027.toml"]\n')
    out = cli.ok("calendar", "show", "2027", "--month", "2").out
    assert out.splitlines()[0].startswith("2027: official (office file): ")
    assert "cn-2027.toml: TEST FIXTURE" in out.splitlines()[0]
    assert " 20W" in out


def test_a_bad_month_is_one_line(cli: Cli) -> None:
    assert "--month 13 is not a month" in cli.refused("calendar", "show", "2027", "--month", "13")


@pytest.mark.embedded  # the server's config, environment or process
def test_a_missing_office_file_is_one_line(cli: Cli, config_file: Path) -> None:
    with config_file.open("a", encoding="utf-8") as f:
        f.write('\n[calendar]\nofficial = ["calendars/cn-2027.toml"]\n')
    line = cli.refused("calendar", "show", "2027")
    assert "cn-2027.toml: no such file; fix [calendar] official in the config" in line


@pytest.mark.embedded  # the server's config, environment or process
def test_office_file_problems_are_one_line_each(cli: Cli, config_file: Path) -> None:
    bad = FIXTURE_2027.replace("2027-02-20, 2027-10-09", "2027-02-17, 2027-02-08")
    (config_file.parent / "cn-2027.toml").write_text(bad)
    with config_file.open("a", encoding="utf-8") as f:
        f.write('\n[calendar]\nofficial = ["cn-2027.toml"]\n')
    run = cli.run("calendar", "check")
    assert run.code == 1 and "Traceback" not in run.err
    lines = run.err.splitlines()
    # One line per kind of problem: both weekdays listed on the first one.
    assert len(lines) == 2
    assert "worked_weekends: 2027-02-08, 2027-02-17 not a Saturday or Sunday" in lines[0]
    assert "2027-02-08 both off and worked" in lines[1]


def test_check_fails_for_a_year_with_open_tasks_and_no_notice(cli: Cli) -> None:
    now = "2026-12-28T10:00:00+08:00"
    cli.open_pi(now=now)
    run = cli.run("calendar", "check", now=now)
    assert run.code == 1
    assert run.err.splitlines()[0].startswith(
        "2027: no official working-day schedule (1 open task(s) due then); once the State "
        "Council notice is out (November), upgrade holidays"
    )
    assert "`torchflow calendar template 2027 --out calendars/cn-2027.toml`" in run.err


def test_check_passes_when_every_year_is_covered(cli: Cli) -> None:
    run = cli.run("calendar", "check")  # 4 March 2026: only 2026 and 2027 ahead
    assert run.code == 0, run.err
    assert "2027: planned with its statutory holidays until its notice is out" in run.out
    assert "calendar ok: 2026 (official), 2027 (statutory)" in run.out


@pytest.mark.embedded  # the server's config, environment or process
def test_check_with_an_office_file(cli: Cli, config_file: Path) -> None:
    (config_file.parent / "cn-2027.toml").write_text(FIXTURE_2027)
    with config_file.open("a", encoding="utf-8") as f:
        f.write('\n[calendar]\nofficial = ["cn-2027.toml"]\n')
    now = "2026-12-28T10:00:00+08:00"
    cli.open_pi(now=now)
    data = cli.run("calendar", "check", json=True, now=now)
    assert data.code == 0, data.err
    assert [(y["year"], y["source"]) for y in data.data["years"]][:2] == [
        (2026, "official"), (2027, "office"),
    ]


@pytest.mark.embedded  # the server's config, environment or process
def test_replan_after_a_blackout_day_is_added(cli: Cli, config_file: Path) -> None:
    key = cli.open_pi()  # lead deadline on Wednesday 18 March 2026
    assert "no open task moves" in cli.ok("replan", "--dry-run").out
    with config_file.open("a", encoding="utf-8") as f:
        f.write('\n[calendar]\nblackout = ["2026-03-18"]\n')
    dry = cli.ok("replan", "--dry-run").out.splitlines()
    assert dry[0] == key
    assert ("lead.deadline: due 2026-03-18 -> 2026-03-19, "
            "reminder 2026-03-16 -> 2026-03-16") in dry[1]
    assert cli.open_tasks(key)["lead.deadline"]["due_on"] == "2026-03-18"
    assert "needs the 'admin' role" in cli.refused("replan", as_="wang.li")
    done = cli.ok("replan").out
    assert "re-planned 1 task(s) in 1 case(s); 0 kept their dates" in done
    assert cli.open_tasks(key)["lead.deadline"]["due_on"] == "2026-03-19"
    assert cli.json("replan", "--dry-run") == {"cases": [], "dry_run": True}
    cli.ok("audit", "verify")


def test_the_template_of_a_year_is_written_by_an_installed_torchflow(
        cli: Cli, tmp_path: Path) -> None:
    # What `calendar check` says to run, from any folder: nothing is read from a clone.
    out = tmp_path / "cn-2027.toml"
    done = cli.ok("calendar", "template", "2027", "--out", out)
    assert done.out.startswith(f"{out} written: type in the notice's days off")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# TEMPLATE, not yet the official working-day schedule of 2027.")
    assert "2027-02-05,  # Chinese New Year's Eve" in text
    assert cli.ok("calendar", "template", "2027").out == text  # printed when no --out
    # An office's typed file is never overwritten.
    out.write_text("year = 2027  # typed in\n", encoding="utf-8")
    assert cli.refused("calendar", "template", "2027", "--out", out) == (
        f"Error: {out} exists; give another file or remove it first")
    assert out.read_text(encoding="utf-8") == "year = 2027  # typed in\n"
    assert cli.usage("calendar", "template", "2027.5")


@pytest.mark.embedded  # the server's config
def test_the_template_in_chinese_is_refused_until_filled_in(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "cn-2027.toml"
    config = cli.config.read_text(encoding="utf-8")
    cli.config.write_text(config.replace('locale = "en"', 'locale = "zh-CN"'), encoding="utf-8")
    cli.ok("calendar", "template", "2027", "--out", out)
    text = out.read_text(encoding="utf-8")
    assert "2027-01-01,  # 元旦" in text and "国务院" in text
    # Listed in the config as it is, it is refused: its source is empty.
    cli.config.write_text(config.replace("[database]", f'[calendar]\nofficial = ["{out}"]\n\n'
                                         "[database]"), encoding="utf-8")
    assert "source is empty" in cli.run("calendar", "check").err
