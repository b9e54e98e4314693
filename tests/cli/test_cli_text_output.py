"""The text output as people read it (issue 16, "Also"): overdue rows marked in
the lists, times in people's form (2026-03-09 09:30), `case show` naming the
workflow's version apart from the row's revision, and a contact or visit
logged on a day kept as that day, with no invented hour."""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client

ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def test_overdue_tasks_are_marked_in_the_lists(cli: Cli) -> None:
    key = cli.open_pi(now="2026-03-02T09:00:00+08:00")
    cli.to_negotiation(key)
    tasks = cli.open_tasks(key)
    contact = tasks["negotiation.contact"]
    # A week later the contact is overdue; the visit and the deadline are not.
    later = "2026-03-20T10:00:00+08:00"
    listed = cli.ok("task", "list", now=later).out.splitlines()
    row = next(line for line in listed if line.split()[0] == str(contact["id"]))
    assert f"{contact['due_on']} (overdue)" in row
    others = [line for line in listed[1:] if line.split()[0] != str(contact["id"])]
    assert others and not any("overdue" in line for line in others)
    shown = cli.ok("case", "show", key, now=later).out
    assert f"{contact['due_on']} (overdue)" in shown
    assert shown.count("(overdue)") == 1
    # The JSON says it as data.
    assert cli.json("task", "list", now=later)["items"][0]["overdue"] is True


def test_times_are_in_peoples_form_and_the_version_is_the_workflows(cli: Cli) -> None:
    key = cli.open_pi()
    cli.to_negotiation(key)
    shown = cli.ok("case", "show", key).out
    assert "Opened:         2026-03-04 09:30" in shown
    assert "In state since: 2026-03-04 09:30" in shown
    assert not ISO_INSTANT.search(shown), shown
    # "workflow version 3" is the workflow's (the file's version 3); the row's
    # version is the revision --if-version compares.
    assert "Workflow:       project_introduction, workflow version 3" in shown
    revision = cli.json("case", "show", key)["case_version"]
    assert f"Revision:       {revision}" in shown and revision != 2
    for args in (("case", "history", key), ("case", "list"), ("task", "list"),
                 ("person", "list")):
        assert not ISO_INSTANT.search(cli.ok(*args).out), args


def test_a_title_that_starts_with_a_time_is_shown_as_typed(cli: Cli) -> None:
    key = cli.open_pi(title="2026-03-09T09:30")
    assert "2026-03-09T09:30" in cli.ok("case", "list").out
    assert cli.json("case", "show", key)["title"] == "2026-03-09T09:30"


def test_a_visit_logged_on_a_day_keeps_the_day(cli: Cli) -> None:
    key = cli.open_pi(now="2026-03-02T09:00:00+08:00")
    cli.to_negotiation(key)
    done = cli.json("case", "visit", key, "--at", "2026-03-04", as_="wang.li")
    assert done["at"] == "2026-03-04"
    event = cli.json("case", "history", key)["events"][-1]
    assert event["data"]["on"] == "2026-03-04" and "at" not in event["data"]
    assert cli.ok("case", "history", key).out.splitlines()[-1].endswith("visit on 2026-03-04")
    # Today is a day that may be logged; tomorrow and a day before the case are not.
    cli.ok("case", "contact", key, "--at", "2026-03-04", as_="wang.li")
    assert cli.refused("case", "contact", key, "--at", "2026-03-05", as_="wang.li") == (
        "Error: 2026-03-05 is in the future; log what has happened")
    line = cli.refused("case", "contact", key, "--at", "2026-03-01", as_="wang.li")
    assert line.startswith(f"Error: 2026-03-01 is before {key} was opened")
    # A time given is kept as given.
    cli.ok("case", "contact", key, "--at", "2026-03-04T08:15", as_="wang.li")
    assert cli.json("case", "history", key)["events"][-1]["data"]["at"] == (
        "2026-03-04T08:15:00+08:00")


@pytest.mark.embedded  # the office's language is the server's config
def test_in_chinese_a_day_and_an_overdue_row(cli: Cli) -> None:
    key = cli.open_pi(now="2026-03-02T09:00:00+08:00")
    cli.to_negotiation(key)
    cli.ok("case", "visit", key, "--at", "2026-03-03", as_="wang.li")
    text = cli.config.read_text(encoding="utf-8")
    cli.config.write_text(text.replace('locale = "en"', 'locale = "zh-CN"'), encoding="utf-8")
    history = cli.ok("case", "history", key).out
    assert history.splitlines()[-1].endswith("2026-03-03 走访")
    listed = cli.ok("task", "list", now="2026-03-20T10:00:00+08:00").out
    assert "（已逾期）" in listed
