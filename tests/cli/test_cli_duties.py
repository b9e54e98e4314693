"""Duties on dates through the CLI: a definition's duty problems all at once with
file and key, `workflow show` in words, and a certified enterprise's duties planned,
re-planned by `case set`, listed by `task list --kind duty` and done."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client

BROKEN = """\
name = "grant"
title = "Grant"
version = 1
key_prefix = "GR"

[fields.signed_on]
type = "date"

[fields.officer]
type = "text"

[states.running]
deadline = { within = "20 workdays", after = "1 year", escalate_to = "director" }

[states.running.duties.report]
every = "month"
on = "02-30"
roll = "sideways"
escalate_to = "director"
escalate_after = 0

[states.running.duties.renewal]
after = "3 decades"
escalate_to = "director"
colour = "red"

[states.running.duties.visit]
from = "officer"
after = "3 months"
escalate_to = "director"

[states.running.duties.both]
on = "05-31"
after = "1 year"
from = "signed_on"

[states.done]
terminal = true

[[transitions]]
trigger = "finish"
source = "running"
dest = "done"
"""


def test_every_duty_problem_is_reported_at_once_with_file_and_key(
    cli: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "grant.toml"
    broken.write_text(BROKEN, encoding="utf-8")
    run = cli.run("workflow", "validate", broken)
    assert run.code == 1
    lines = run.err.splitlines()
    assert all(line.startswith(f"error: {broken}: ") for line in lines), lines
    problems = sorted(line.split(": ", 3)[2] for line in lines)
    assert problems == sorted([
        "states.running.deadline",                           # within and after
        "states.running.deadline.from",                      # after without from
        "states.running.duties.report.every",                # not "year"
        "states.running.duties.report.on",                   # 30 February
        "states.running.duties.report.roll",
        "states.running.duties.report.escalate_after",
        "states.running.duties.renewal.after",               # decades
        "states.running.duties.renewal.colour",
        "states.running.duties.renewal.from",                # after without from
        "states.running.duties.visit",                       # a reserved name
        "states.running.duties.both",                        # yearly and once
        "states.running.duties.both.every",                  # on without every
        "states.running.duties.both.escalate_to",            # missing
    ])
    said = {line.split(": ", 3)[2]: line.split(": ", 3)[3] for line in lines}
    assert said["states.running.duties.report.on"] == (
        "no such day '02-30'; write MM-DD, e.g. \"05-31\"")
    assert said["states.running.duties.report.roll"].startswith(
        "wants 'backward' or 'forward'")
    assert said["states.running.duties.both.every"] == (
        'missing; a duty each year needs every = "year" beside on = "MM-DD"')
    assert run.out == "1 workflow, 13 errors, 0 warnings\n"


def test_workflow_show_says_the_duties_in_words(cli: Cli) -> None:
    out = cli.ok("workflow", "show", "enterprise_cultivation").out
    assert ("Annual development report: each year by 5/31; 2 missed in a row: escalate to "
            "director, reminder 15 workday(s) ahead") in out
    assert ("Change of name reported: 3 month(s) after Renamed on, missed: escalate to "
            "coordinator") in out
    assert "deadline 3 year(s) after Certified on, escalate to director" in out
    views = {r["rule"]: r for s in cli.json("workflow", "show", "enterprise_cultivation")
             ["states"] for r in s["follow_ups"]}
    assert views["certified.annual_report"]["every_year_on"] == "05-31"
    assert views["certified.name_change"]["after"] == {"years": 0, "months": 3, "days": 0}
    assert views["certified.deadline"]["roll"] == "backward"


def certified(cli: Cli) -> str:
    key = str(cli.json("case", "open", "enterprise_cultivation", "--title", "睿芯半导体培育",
                       "--field", "enterprise=睿芯半导体", "--field",
                       "credit_code=91320214MA1XXXXXX1", "--field", "tech_field=电子信息",
                       as_="wang.li")["key"])
    for step in (["diagnose"], ["coach", "--field", "mentor=sun.hao"],
                 ["apply", "--field", "revenue=8000", "--field", "rd_ratio=6.2",
                  "--field", "ip_count=12"],
                 ["send_to_review", "--field", "application_no=GR2026-001"]):
        cli.ok("case", "advance", key, *step, as_="wang.li")
    cli.ok("case", "advance", key, "通过认定", "--field", "certificate_no=GR202332000123",
           "--field", "认定日期=2023-10-03", as_="liu.yang")
    return key


def test_a_certified_enterprise_s_duties_through_the_cli(cli: Cli) -> None:
    key = certified(cli)
    tasks = cli.open_tasks(key)
    assert tasks["certified.annual_report"]["due_on"] == "2026-05-29"  # 31 May: a Sunday
    assert tasks["certified.deadline"]["due_on"] == "2026-09-30"  # 3 Oct: National Day
    assert "certified.name_change" not in tasks
    cli.ok("case", "set", key, "更名日期=2026-03-02", as_="wang.li")
    duties = {t["rule"]: t for t in cli.json("task", "list", "--kind", "duty")["items"]}
    assert sorted(duties) == ["certified.annual_report", "certified.name_change"]
    assert duties["certified.name_change"]["due_on"] == "2026-06-02"
    # The annual report filed in April: next year's is planned.
    done = cli.json("task", "done", duties["certified.annual_report"]["id"], "--note",
                    "已填报", as_="wang.li", now="2026-04-10T10:00:00+08:00")
    assert done["next"] == {"occurrence": 2, "due_on": "2027-05-31"}
