"""`torchflow case ...`: open, list, show, advance, note, set, assign, history,
contact, visit, in text and JSON, and their refusals."""

from __future__ import annotations

from datetime import date

import pytest

from tests.cli.conftest import PI_FIELDS, Cli

pytestmark = pytest.mark.client

FRIDAY = "2026-03-06T10:00:00+08:00"


def to_site_inspection(cli: Cli, key: str) -> None:
    cli.to_negotiation(key)
    cli.ok("case", "advance", key, "inspect", as_="wang.li")


# --- open -------------------------------------------------------------------------


def test_open_prints_the_new_key(cli: Cli) -> None:
    args = ["case", "open", "project_introduction", "--title", "Hydrogen plant"]
    for pair in PI_FIELDS:
        args += ["--field", pair]
    assert cli.ok(*args, as_="wang.li").out == "PI-2026-0001\n"
    assert cli.ok(*args, as_="wang.li").out == "PI-2026-0002\n"


def test_open_json_and_what_it_stored(cli: Cli) -> None:
    data = cli.json("case", "open", "project_introduction", "--title", "  Hydrogen plant ",
                    "--owner", "zhao.min", "--field", "enterprise= Qingneng ",
                    "--field", "industry=New Energy", "--field", "lead_source=referral",
                    "--field", "planned_investment=5000.0", "--field", "expected_jobs=12.5",
                    as_="wang.li")
    assert data == {"key": "PI-2026-0001", "workflow": "project_introduction", "version": 3,
                    "state": "lead"}
    view = cli.json("case", "show", "PI-2026-0001")
    assert view["title"] == "Hydrogen plant"
    assert view["owner"] == "zhao.min"
    assert view["state"] == "lead" and view["state_title"] == "线索"
    # Shown in the office's zone (Asia/Shanghai by default), the moment of TORCHFLOW_NOW.
    assert view["opened_at"] == "2026-03-04T09:30:00+08:00"
    # Coerced: trimmed text, the choice as written in the file, whole numbers as integers.
    assert view["fields"] == {"enterprise": "Qingneng", "industry": "new energy",
                              "lead_source": "referral", "planned_investment": 5000,
                              "expected_jobs": 12.5}
    [deadline] = view["tasks"]
    assert deadline["rule"] == "lead.deadline" and deadline["due_on"] == "2026-03-18"
    assert cli.json("task", "list", "--assignee", "zhao.min")["items"][0]["id"] == deadline["id"]
    [opened] = view["history"]
    assert opened["kind"] == "opened" and opened["actor"] == "wang.li"


def test_open_refusals_name_what_is_right_and_write_nothing(cli: Cli) -> None:
    base = ["case", "open", "project_introduction", "--title", "Plant"]
    line = cli.refused(*base, "--field", "enterprise=Q", "--field", "industry=other",
                       as_="wang.li")
    assert line == ("Error: 'project_introduction' needs lead_source to open "
                    "(lead_source=...)")
    fields = [a for pair in PI_FIELDS for a in ("--field", pair)]
    line = cli.refused(*base, *fields, "--field", "planned_investment=1,200", as_="wang.li")
    assert "'planned_investment' wants a number, got '1,200'" in line
    assert "e.g. planned_investment=5000" in line
    line = cli.refused(*base, *fields, "--field", "industry=steel", as_="wang.li")
    assert "'steel'" in line and "new materials" in line
    line = cli.refused(*base, *fields, "--field", "colour=red", as_="wang.li")
    assert line.startswith("Error: 'project_introduction' has no field 'colour'; fields: ")
    line = cli.usage(*base, *fields, "--field", "industry")
    assert "'industry' is not name=value; e.g. industry=biomedicine" in line
    line = cli.refused(*base, *fields, "--owner", "nobody", as_="wang.li")
    assert line == "Error: no person with handle 'nobody'; see `torchflow person list`"
    line = cli.refused("case", "open", "project_introduction", "--title", " ", *fields,
                       as_="wang.li")
    assert line == "Error: the title is empty; give a value"
    assert cli.json("case", "list")["items"] == []
    # No key was used up by the refusals.
    assert cli.open_pi() == "PI-2026-0001"


# --- list -------------------------------------------------------------------------


def test_list_text_and_filters(cli: Cli) -> None:
    a = cli.open_pi("Plant A")
    b = cli.open_pi("Plant B", owner="zhao.min")
    c = cli.json("case", "open", "talent_docking", "--title", "Engineers",
                 "--field", "enterprise=Qingneng", "--field", "position=Power electronics",
                 "--field", "expertise=IGBT modules", as_="zhao.min")["key"]
    assert c == "TD-2026-0001"
    cli.ok("case", "advance", a, "make_contact", as_="wang.li")
    cli.ok("case", "advance", b, "withdraw", as_="zhao.min")

    lines = cli.ok("case", "list").out.splitlines()
    assert lines[0].split() == ["KEY", "WORKFLOW", "STATE", "OWNER", "TITLE"]
    assert [line.split()[:4] for line in lines[1:]] == [
        [a, "project_introduction", "first_contact", "wang.li"],
        [b, "project_introduction", "withdrawn", "zhao.min"],
        [c, "talent_docking", "demand_collected", "zhao.min"],
    ]

    def keys(*args: str) -> list[str]:
        return [r["key"] for r in cli.json("case", "list", *args)["items"]]

    assert keys("--workflow", "project_introduction") == [a, b]
    assert keys("--state", "first_contact") == [a]
    assert keys("--owner", "zhao.min") == [b, c]
    assert keys("--open") == [a, c]
    assert keys("--closed") == [b]
    assert keys("--owner", "zhao.min", "--open") == [c]
    assert keys("--limit", "1") == [a]
    assert cli.ok("case", "list", "--workflow", "platform_building").out.strip() == "(none)"
    row = cli.json("case", "list", "--closed")["items"][0]
    assert row == {"key": b, "workflow": "project_introduction", "state": "withdrawn",
                   "title": "Plant B", "owner": "zhao.min", "since": "2026-03-04T09:30:00+08:00",
                   "closed": True, "ref": None}
    assert "no person with handle 'nobody'" in cli.refused("case", "list", "--owner", "nobody")


# --- show -------------------------------------------------------------------------


def test_show_text_has_state_next_steps_follow_ups_and_history(cli: Cli) -> None:
    key = cli.open_pi()
    out = cli.ok("case", "show", key, as_="liu.yang").out
    assert "Case:           PI-2026-0001" in out
    assert "State:          Lead" in out
    assert "Workflow:       project_introduction, workflow version 3" in out
    assert "Owner:          wang.li" in out
    assert "  planned_investment: 120000" in out
    next_lines = out.split("Next:\n")[1].split("\n\n")[0].splitlines()
    assert next_lines == [
        "  make_contact -> first_contact",
        "  lose -> lost  (blocked: 'lose' needs lost_to first (--field lost_to=...))",
        "  withdraw -> withdrawn  (blocked: 'withdraw' may be done only by a person with role "
        "coordinator or director)",
        "  hold -> on_hold",
    ]
    follow_ups = out.split("Follow-ups:\n")[1].split("\n\n")[0].splitlines()
    assert follow_ups[0].split() == ["ID", "KIND", "DUE", "RULE"]
    assert follow_ups[1].split()[1:] == ["deadline", "2026-03-18", "lead.deadline"]
    assert all(line.startswith("  ") for line in follow_ups)
    # History times are local (Beijing) wall-clock times.
    assert "#1   2026-03-04 09:30  wang.li      opened in lead" in out


def test_show_json_gives_allowed_triggers_and_why_they_are_blocked(cli: Cli) -> None:
    key = cli.open_pi()
    to_site_inspection(cli, key)
    allowed = {a["trigger"]: a for a in cli.json("case", "show", key, as_="wang.li")["allowed"]}
    assert set(allowed) == {"renegotiate", "sign", "lose", "withdraw", "hold"}
    assert allowed["renegotiate"]["blocked"] == []
    assert allowed["sign"]["to"] == "signed"
    assert allowed["sign"]["blocked"] == [
        "'sign' needs target_park, expected_jobs, signed_date first "
        "(--field target_park=... --field expected_jobs=... --field signed_date=...)",
        "'sign' may be done only by a person with role director",
    ]
    # For the director only the missing fields stand in the way.
    director = {a["trigger"]: a for a in cli.json("case", "show", key, as_="chen.jie")["allowed"]}
    assert len(director["sign"]["blocked"]) == 1
    # Read from a login that is nobody's, roles are not judged.
    anyone = {a["trigger"]: a for a in cli.json("case", "show", key, as_="stranger")["allowed"]}
    assert len(anyone["sign"]["blocked"]) == 1
    assert "needs target_park" in anyone["sign"]["blocked"][0]


def test_show_of_a_terminal_case(cli: Cli) -> None:
    key = cli.open_pi()
    cli.ok("case", "advance", key, "withdraw", as_="wang.li")
    out = cli.ok("case", "show", key).out
    assert "Next: none (terminal state)" in out
    assert "Follow-ups" not in out
    view = cli.json("case", "show", key)
    assert view["terminal"] is True and view["allowed"] == [] and view["tasks"] == []
    assert view["closed_at"] == "2026-03-04T09:30:00+08:00"


def test_show_unknown_key(cli: Cli) -> None:
    line = cli.refused("case", "show", "PI-2026-0099")
    assert line == "Error: no case with key 'PI-2026-0099'; see `torchflow case list`"


def test_show_accepts_a_lower_case_key(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.json("case", "show", key.lower())["key"] == key


# --- advance ----------------------------------------------------------------------


def test_advance_text(cli: Cli) -> None:
    key = cli.open_pi()
    run = cli.ok("case", "advance", key, "make_contact", "--note", "Met at the fair", as_="wang.li")
    assert run.out == f"{key}: lead -> first_contact\n"
    assert cli.json("case", "show", key)["state"] == "first_contact"


def test_advance_json_reports_tasks_cancelled_and_planned(cli: Cli) -> None:
    key = cli.open_pi()
    lead_deadline = cli.open_tasks(key)["lead.deadline"]["id"]
    data = cli.json("case", "advance", key, "make_contact", as_="wang.li")
    assert data == {
        "key": key, "trigger": "make_contact", "from_state": "lead", "to_state": "first_contact",
        "closed": False, "version": 3, "cancelled_tasks": [lead_deadline],
        "planned": [
            {"rule": "first_contact.contact", "occurrence": 1, "due_on": "2026-03-11"},
            {"rule": "first_contact.deadline", "occurrence": 1, "due_on": "2026-04-16"},
        ],
    }
    assert set(cli.open_tasks(key)) == {"first_contact.contact", "first_contact.deadline"}
    data = cli.json("case", "advance", key, "negotiate", "--field", "contact_person=Ms. Li",
                    "--note", "CFO on board", as_="wang.li")
    assert data["to_state"] == "negotiation"
    visit = next(p for p in data["planned"] if p["rule"] == "negotiation.visit")
    assert visit["window"] == ["2026-03-18", "2026-04-01"]
    assert visit["window"][0] <= visit["due_on"] <= visit["window"][1]
    assert cli.json("case", "show", key)["fields"]["contact_person"] == "Ms. Li"
    last = cli.json("case", "history", key)["events"][-1]
    assert last["data"]["note"] == "CFO on board"
    assert last["data"]["fields"] == {"contact_person": "Ms. Li"}


def test_advance_to_a_terminal_state_closes_the_case(cli: Cli) -> None:
    key = cli.open_pi()
    run = cli.ok("case", "advance", key, "lose", "--field", "lost_to=Suzhou, lower land price",
                 as_="wang.li")
    assert run.out == f"{key}: lead -> lost (closed)\n"
    assert cli.json("case", "list", "--closed")["items"][0]["key"] == key
    assert cli.json("task", "list")["items"] == []


def test_hold_and_resume_go_back_to_the_previous_state(cli: Cli) -> None:
    key = cli.open_pi()
    cli.to_negotiation(key)
    assert cli.ok("case", "advance", key, "hold", as_="wang.li").out == \
        f"{key}: negotiation -> on_hold\n"
    on_hold = cli.ok("case", "show", key).out
    assert "  resume -> @previous" in on_hold
    # The director oversees the workflow's cases (a colleague not on it may not: issue 14).
    data = cli.json("case", "advance", key, "resume", as_="chen.jie")
    assert data["from_state"] == "on_hold" and data["to_state"] == "negotiation"
    assert set(cli.open_tasks(key)) == {"negotiation.contact", "negotiation.visit",
                                        "negotiation.deadline"}


def test_advance_refusals(cli: Cli) -> None:
    key = cli.open_pi()
    line = cli.refused("case", "advance", key, "sign", as_="chen.jie")
    assert line == (f"Error: {key}: 'sign' is not allowed from 'lead'; "
                    "allowed: make_contact, lose, withdraw, hold")
    line = cli.refused("case", "advance", key, "lose", as_="wang.li")
    assert line == f"Error: {key}: 'lose' needs lost_to first (--field lost_to=...)"
    line = cli.refused("case", "advance", key, "withdraw", as_="liu.yang")
    assert line == (f"Error: {key}: 'withdraw' may be done only by a person with role "
                    "coordinator or director")
    line = cli.refused("case", "advance", key, "make_contact", "--field", "signed_date=2026-02-30",
                       as_="wang.li")
    assert "'signed_date' wants a date as YYYY-MM-DD, got '2026-02-30'" in line
    line = cli.refused("case", "advance", key, "make_contact", as_="stranger")
    assert "the login 'stranger' is no person's" in line
    # None of it moved the case or touched its version.
    view = cli.json("case", "show", key)
    assert view["state"] == "lead" and view["case_version"] == 2

    cli.ok("case", "advance", key, "withdraw", as_="wang.li")
    line = cli.refused("case", "advance", key, "resume", as_="wang.li")
    assert line == (f"Error: {key}: 'resume' is not allowed: 'withdrawn' is a terminal state "
                    "with no way out")


def test_role_and_fields_together_let_the_director_sign(cli: Cli) -> None:
    key = cli.open_pi()
    to_site_inspection(cli, key)
    line = cli.refused("case", "advance", key, "sign", "--field", "target_park=East Park",
                       "--field", "expected_jobs=450", "--field", "signed_date=2026-03-03",
                       as_="wang.li")
    assert line == f"Error: {key}: 'sign' may be done only by a person with role director"
    assert "target_park" not in cli.json("case", "show", key)["fields"]
    data = cli.json("case", "advance", key, "sign", "--field", "target_park=East Park",
                    "--field", "expected_jobs=450", "--field", "signed_date=2026-03-03",
                    as_="chen.jie")
    assert data["to_state"] == "signed"
    fields = cli.json("case", "show", key)["fields"]
    assert fields["expected_jobs"] == 450 and fields["signed_date"] == "2026-03-03"


def test_if_version_refuses_a_stale_read(cli: Cli) -> None:
    key = cli.open_pi()
    seen = cli.json("case", "show", key)["case_version"]
    assert f"Revision:       {seen}" in cli.ok("case", "show", key).out
    cli.ok("--as", "zhao.min", "case", "note", key, "Someone else was quicker")
    line = cli.refused("case", "advance", key, "make_contact", "--if-version", seen,
                       as_="wang.li")
    assert line == (f"Error: case {key} changed since you read it (version {seen + 1} now, "
                    f"you read {seen}); look again with `torchflow case show {key}` and retry")
    assert cli.json("case", "show", key)["state"] == "lead"
    data = cli.json("case", "advance", key, "make_contact", "--if-version", seen + 1,
                    as_="wang.li")
    assert data["version"] == seen + 2


# --- note, set, assign, history ---------------------------------------------------


def test_note_text_and_json(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.ok("case", "note", key, "CFO confirms the land budget", as_="wang.li").out == \
        f"{key}: note #2 added\n"
    assert cli.json("--as", "zhao.min", "case", "note", key, "土地预算已确认") == \
        {"key": key, "event": 3}
    events = cli.json("case", "history", key)["events"]
    assert [(e["kind"], e["actor"], e["data"]) for e in events[1:]] == [
        ("note", "wang.li", {"note": "CFO confirms the land budget"}),
        ("note", "zhao.min", {"note": "土地预算已确认"}),
    ]
    assert cli.refused("case", "note", key, "  ", as_="wang.li") == \
        "Error: the note is empty; write what happened"


def test_set_text_json_and_clearing(cli: Cli) -> None:
    key = cli.open_pi()
    run = cli.ok("case", "set", key, "expected_jobs=300", "target_park=East Park", as_="wang.li")
    assert run.out.startswith(f"{key}: ")
    assert "expected_jobs=300" in run.out and "target_park=East Park" in run.out
    data = cli.json("case", "set", key, "target_park=", "industry=BIOMEDICINE", as_="wang.li")
    assert data["key"] == key
    assert data["fields"]["target_park"] is None
    assert data["fields"]["industry"] == "biomedicine"
    assert data["fields"]["expected_jobs"] == 300
    last = cli.json("case", "history", key)["events"][-1]
    assert last["kind"] == "fields_set"
    assert last["data"]["was"] == {"target_park": "East Park", "industry": "new energy"}


def test_set_refusals(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.refused("case", "set", key, "enterprise=", as_="wang.li") == \
        "Error: 'enterprise' is required and cannot be cleared"
    assert "wants a number, got '300 people'" in cli.refused(
        "case", "set", key, "expected_jobs=300 people", as_="wang.li")
    assert "has no field 'jobs'" in cli.refused("case", "set", key, "jobs=3", as_="wang.li")
    assert "Missing argument" in cli.usage("case", "set", key, as_="wang.li")
    assert "expected_jobs" not in cli.json("case", "show", key)["fields"]


def test_assign_text_json_and_tasks_follow(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.ok("case", "assign", key, "zhao.min", as_="chen.jie").out == \
        f"{key}: owner wang.li -> zhao.min\n"
    assert [t["assignee"] for t in cli.json("task", "list")["items"]] == ["zhao.min"]
    assert cli.json("case", "assign", key, "wang.li", as_="chen.jie") == \
        {"key": key, "owner": "wang.li", "was": "zhao.min"}
    assert cli.json("case", "show", key)["owner"] == "wang.li"
    assert "no person with handle 'nobody'" in cli.refused(
        "case", "assign", key, "nobody", as_="chen.jie")
    cli.ok("person", "handover", "sun.hao", "liu.yang", "--deactivate")
    assert cli.refused("case", "assign", key, "sun.hao", as_="chen.jie") == \
        "Error: 'sun.hao' is not active; assign to an active person"


def test_history_text_and_json(cli: Cli) -> None:
    key = cli.open_pi()
    cli.ok("case", "advance", key, "make_contact", "--note", "first call", as_="wang.li")
    cli.ok("case", "set", key, "expected_jobs=300", as_="wang.li")
    cli.ok("case", "assign", key, "zhao.min", as_="chen.jie")
    cli.ok("case", "contact", key, "--note", "phoned", as_="zhao.min")
    lines = cli.ok("case", "history", key).out.splitlines()
    assert lines[0] == key
    assert [line.split(None, 4)[4] for line in lines[1:]] == [
        "opened in lead",
        "make_contact: lead -> first_contact (first call)",
        "set expected_jobs=300",
        "assigned to zhao.min",
        "contact at 2026-03-04 09:30: phoned",
    ]
    assert lines[4].split()[3] == "chen.jie"
    events = cli.json("case", "history", key)["events"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["kind"] for e in events] == ["opened", "advanced", "fields_set", "assigned",
                                           "contact"]
    assert events[1]["from"] == "lead" and events[1]["to"] == "first_contact"
    assert events[0]["at"] == "2026-03-04T09:30:00+08:00"
    # When the contact happened is local time too, like every other time.
    assert events[4]["data"]["at"] == "2026-03-04T09:30:00+08:00"


# --- contact and visit ------------------------------------------------------------


def test_contact_rolls_the_task_and_shows_the_next_due_day(cli: Cli) -> None:
    key = cli.open_pi()
    cli.to_negotiation(key)
    first = cli.open_tasks(key)["negotiation.contact"]
    assert first["due_on"] == "2026-03-06" and first["occurrence"] == 1
    run = cli.ok("case", "contact", key, "--note", "Called the CFO", as_="wang.li", now=FRIDAY)
    # Friday + 2 working days: the next Tuesday.
    assert run.out == f"{key}: contact logged; next contact due 2026-03-10\n"
    second = cli.open_tasks(key)["negotiation.contact"]
    assert second["id"] != first["id"]
    assert second["occurrence"] == 2 and second["due_on"] == "2026-03-10"
    assert first["id"] not in [t["id"] for t in cli.json("task", "list")["items"]]

    # The case's people log its contacts (a colleague not on it may not: issue 14).
    cli.ok("case", "assign", key, "zhao.min", as_="wang.li", now="2026-03-09T15:00:00+08:00")
    data = cli.json("case", "contact", key, "--at", "2026-03-09T16:00", as_="zhao.min",
                    now="2026-03-10T09:00:00+08:00")
    # --at without an offset is local time, and is shown back as such.
    assert data == {"key": key, "kind": "contact", "at": "2026-03-09T16:00:00+08:00",
                    "task": second["id"],
                    "next": {"rule": "negotiation.contact", "occurrence": 3,
                             "due_on": "2026-03-11"}}
    last = cli.json("case", "history", key)["events"][-1]
    assert last["kind"] == "contact" and last["actor"] == "zhao.min"
    assert last["data"]["next"]["due_on"] == "2026-03-11"


def test_visit_rolls_inside_a_new_window(cli: Cli) -> None:
    key = cli.open_pi()
    cli.to_negotiation(key)
    first = cli.open_tasks(key)["negotiation.visit"]
    data = cli.json("case", "visit", key, "--note", "Workshop floor ready", "--at", "2026-03-05",
                    as_="wang.li", now=FRIDAY)
    # A date alone stays a day: no noon (nor any hour) is invented for it.
    assert data["task"] == first["id"] and data["at"] == "2026-03-05"
    event = cli.json("case", "history", key)["events"][-1]
    assert event["data"]["on"] == "2026-03-05" and "at" not in event["data"]
    assert cli.ok("case", "history", key).out.splitlines()[-1].endswith(
        "visit on 2026-03-05: Workshop floor ready")
    nxt = cli.open_tasks(key)["negotiation.visit"]
    assert nxt["occurrence"] == 2 and nxt["due_on"] == data["next"]["due_on"]
    # 2 to 4 weeks after the visit on 5 March.
    assert nxt["window"] == ["2026-03-19", "2026-04-02"]
    assert "2026-03-19" <= nxt["due_on"] <= "2026-04-02"
    assert date.fromisoformat(nxt["due_on"]).weekday() < 5
    run = cli.ok("case", "visit", key, as_="wang.li", now=FRIDAY)
    due = cli.open_tasks(key)["negotiation.visit"]["due_on"]
    assert run.out == f"{key}: visit logged; next visit due {due}\n"


def test_contact_in_a_state_without_a_contact_rule_is_only_recorded(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.ok("case", "contact", key, "--note", "intro call", as_="wang.li").out == \
        f"{key}: contact logged\n"
    data = cli.json("case", "visit", key, as_="wang.li")
    assert data == {"key": key, "kind": "visit", "at": "2026-03-04T09:30:00+08:00",
                    "task": None, "next": None}
    assert [e["kind"] for e in cli.json("case", "history", key)["events"]] == \
        ["opened", "contact", "visit"]


def test_contact_refusals(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.refused("case", "contact", key, "--at", "2026-03-05", as_="wang.li") == \
        "Error: 2026-03-05 is in the future; log what has happened"
    assert "'last week' is not a date or time; use e.g. 2026-03-04, 2026-03-04T15:30" in \
        cli.usage("case", "visit", key, "--at", "last week")
    assert "no case with key 'PI-2025-0001'" in cli.refused(
        "case", "contact", "PI-2025-0001", as_="wang.li")
    assert len(cli.json("case", "history", key)["events"]) == 1

