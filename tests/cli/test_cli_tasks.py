"""`torchflow task ...`, `agenda`, `notice ...`, `scheduler tick` and `audit verify`,
in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.cli.conftest import Cli
from tests.conftest import Clock
from torchflow.service.audit.verify import UNKEYED

pytestmark = pytest.mark.client

FRIDAY = "2026-03-06T10:00:00+08:00"
MONDAY_16 = "2026-03-16T09:30:00+08:00"  # two working days before the lead deadline
THURSDAY_19 = "2026-03-19T09:30:00+08:00"  # the morning after it was missed


@pytest.fixture
def two_cases(cli: Cli) -> dict[str, str]:
    """wang.li's case in lead (deadline 18 March) and zhao.min's in negotiation
    (contact due 6 March, a visit, a deadline)."""
    lead = cli.open_pi("Lead case")
    talks = cli.open_pi("Talks case", owner="zhao.min")
    cli.to_negotiation(talks, as_="zhao.min")
    return {"lead": lead, "talks": talks}


def outbox(config_file: Path) -> list[dict[str, Any]]:
    path = config_file.parent / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- task list --------------------------------------------------------------------


def test_task_list_text(cli: Cli, two_cases: dict[str, str]) -> None:
    lines = cli.ok("task", "list").out.splitlines()
    assert lines[0].split() == ["ID", "CASE", "KIND", "DUE", "ASSIGNEE", "TITLE"]
    rows = [line.split()[1:5] for line in lines[1:]]
    assert rows[:2] == [
        [two_cases["talks"], "contact", "2026-03-06", "zhao.min"],
        [two_cases["lead"], "deadline", "2026-03-18", "wang.li"],
    ]
    assert sorted(r[1] for r in rows) == ["contact", "deadline", "deadline", "visit"]
    assert [r[2] for r in rows] == sorted(r[2] for r in rows)  # soonest first


def test_task_list_filters(cli: Cli, two_cases: dict[str, str]) -> None:
    def kinds(*args: str, **kwargs: Any) -> list[tuple[str, str]]:
        return [(t["case"], t["kind"]) for t in cli.json("task", "list", *args, **kwargs)["items"]]

    lead, talks = two_cases["lead"], two_cases["talks"]
    assert kinds("--mine", as_="wang.li") == [(lead, "deadline")]
    assert sorted(kinds("--assignee", "zhao.min")) == [
        (talks, "contact"), (talks, "deadline"), (talks, "visit")]
    assert kinds("--kind", "contact") == [(talks, "contact")]
    assert kinds("--due-within", "3d") == [(talks, "contact")]
    assert (lead, "deadline") in kinds("--due-within", "2w")
    assert kinds("--overdue") == []
    # The contact due Friday is overdue on Monday.
    overdue = cli.json("task", "list", "--overdue", now="2026-03-09T09:00:00+08:00")["items"]
    assert [(t["case"], t["kind"], t["overdue"]) for t in overdue] == [(talks, "contact", True)]
    assert kinds("--limit", "1") == [(talks, "contact")]


def test_task_list_refusals(cli: Cli, two_cases: dict[str, str]) -> None:
    assert "'3 days' is not a span; use e.g. 3d or 2w" in \
        cli.usage("task", "list", "--due-within", "3 days")
    assert "--mine and --assignee exclude each other; use one" in \
        cli.usage("task", "list", "--mine", "--assignee", "zhao.min", as_="wang.li")
    assert "the login 'stranger' is no person's" in cli.refused("task", "list", "--mine",
                                                               as_="stranger")
    assert "no person with handle 'nobody'" in cli.refused("task", "list", "--assignee", "nobody")
    assert "'call' is not one of 'contact', 'visit', 'deadline'" in cli.usage(
        "task", "list", "--kind", "call")


# --- task done --------------------------------------------------------------------


def test_task_done_rolls_a_contact(cli: Cli, two_cases: dict[str, str]) -> None:
    contact = cli.open_tasks(two_cases["talks"])["negotiation.contact"]
    run = cli.ok("task", "done", contact["id"], "--note", "Called", as_="zhao.min", now=FRIDAY)
    assert run.out == f"task #{contact['id']} done; next due 2026-03-10\n"
    nxt = cli.open_tasks(two_cases["talks"])["negotiation.contact"]
    assert nxt["occurrence"] == 2 and nxt["due_on"] == "2026-03-10"
    data = cli.json("task", "done", nxt["id"], as_="zhao.min", now="2026-03-10T11:00:00+08:00")
    assert data == {"task": nxt["id"], "key": two_cases["talks"],
                    "next": {"occurrence": 3, "due_on": "2026-03-12"}}
    last = cli.json("case", "history", two_cases["talks"])["events"][-1]
    assert last["kind"] == "task_done" and last["data"]["task"] == nxt["id"]


def test_task_done_meets_a_deadline(cli: Cli, two_cases: dict[str, str]) -> None:
    deadline = cli.open_tasks(two_cases["lead"])["lead.deadline"]
    assert cli.ok("task", "done", deadline["id"], as_="chen.jie").out == \
        f"task #{deadline['id']} done\n"
    assert "lead.deadline" not in cli.open_tasks(two_cases["lead"])
    line = cli.refused("task", "done", deadline["id"], as_="chen.jie")
    assert line == f"Error: task #{deadline['id']} is done already; only open tasks change"
    assert cli.refused("task", "done", "999", as_="chen.jie") == \
        "Error: no task #999; see `torchflow task list`"
    assert "'abc' is not a valid integer" in cli.usage("task", "done", "abc", as_="chen.jie")


def test_task_done_json_for_a_deadline(cli: Cli, two_cases: dict[str, str]) -> None:
    deadline = cli.open_tasks(two_cases["lead"])["lead.deadline"]
    assert cli.json("task", "done", deadline["id"], as_="chen.jie") == \
        {"task": deadline["id"], "key": two_cases["lead"], "next": None}


# --- task snooze ------------------------------------------------------------------


def test_snooze_to_a_working_day(cli: Cli, two_cases: dict[str, str]) -> None:
    task = cli.open_tasks(two_cases["lead"])["lead.deadline"]
    run = cli.ok("task", "snooze", task["id"], "--to", "2026-03-20", "--reason", "CEO abroad",
                 as_="chen.jie")
    assert run.out == f"task #{task['id']} now due 2026-03-20\n"
    assert cli.open_tasks(two_cases["lead"])["lead.deadline"]["due_on"] == "2026-03-20"
    last = cli.json("case", "history", two_cases["lead"])["events"][-1]
    assert last["kind"] == "task_snoozed"
    assert last["data"] == {"task": task["id"], "rule": "lead.deadline", "from": "2026-03-18",
                            "to": "2026-03-20", "reason": "CEO abroad"}


def test_snooze_to_a_weekend_moves_to_monday(cli: Cli, two_cases: dict[str, str]) -> None:
    task = cli.open_tasks(two_cases["talks"])["negotiation.contact"]
    run = cli.ok("task", "snooze", task["id"], "--to", "2026-03-07", "--reason", "site closed",
                 as_="zhao.min")
    # Saturday 7 March is not a working day: the task lands on Monday 9 March.
    assert run.out == f"task #{task['id']} now due 2026-03-09 (2026-03-07 is not a working day)\n"
    assert cli.open_tasks(two_cases["talks"])["negotiation.contact"]["due_on"] == "2026-03-09"


def test_snooze_to_a_holiday_moves_past_it(cli: Cli, two_cases: dict[str, str]) -> None:
    task = cli.open_tasks(two_cases["lead"])["lead.deadline"]
    # Labour Day 2026: 1-5 May off.
    data = cli.json("task", "snooze", task["id"], "--to", "2026-05-01", "--reason", "holiday",
                    as_="chen.jie")
    assert data["task"] == task["id"] and data["key"] == two_cases["lead"]
    assert data["due_on"] == "2026-05-06"
    # Qingming 2026: 4-6 April off.
    data = cli.json("task", "snooze", task["id"], "--to", "2026-04-06", "--reason", "Qingming",
                    as_="chen.jie")
    assert data["due_on"] == "2026-04-07"
    assert cli.open_tasks(two_cases["lead"])["lead.deadline"]["due_on"] == "2026-04-07"


def test_snooze_refusals(cli: Cli, two_cases: dict[str, str]) -> None:
    task = cli.open_tasks(two_cases["lead"])["lead.deadline"]["id"]
    assert cli.refused("task", "snooze", task, "--to", "2026-03-03", "--reason", "x",
                       as_="wang.li") == \
        "Error: 2026-03-03 is in the past; snooze to today or later"
    assert "'next week' is not a date; use YYYY-MM-DD, e.g. 2026-12-07" in \
        cli.usage("task", "snooze", task, "--to", "next week", "--reason", "x")
    assert cli.refused("task", "snooze", task, "--to", "2026-03-20", "--reason", " ",
                       as_="wang.li") == "Error: the reason is empty; say why the task moves"
    assert "Missing option '--reason'" in cli.usage("task", "snooze", task, "--to", "2026-03-20",
                                                    as_="wang.li")
    assert cli.open_tasks(two_cases["lead"])["lead.deadline"]["due_on"] == "2026-03-18"


# --- task reassign ----------------------------------------------------------------


def test_reassign_text_and_json(cli: Cli, two_cases: dict[str, str]) -> None:
    task = cli.open_tasks(two_cases["lead"])["lead.deadline"]["id"]
    assert cli.ok("task", "reassign", task, "zhao.min", as_="chen.jie").out == \
        f"task #{task} assigned to zhao.min\n"
    assert task in [t["id"] for t in cli.json("task", "list", "--assignee", "zhao.min")["items"]]
    assert cli.json("task", "list", "--assignee", "wang.li")["items"] == []
    # The case keeps its owner; only the task moved.
    assert cli.json("case", "show", two_cases["lead"])["owner"] == "wang.li"
    assert cli.json("task", "reassign", task, "liu.yang", as_="chen.jie") == \
        {"task": task, "key": two_cases["lead"], "assignee": "liu.yang"}
    last = cli.json("case", "history", two_cases["lead"])["events"][-1]
    assert last["kind"] == "task_reassigned"
    assert last["data"] == {"task": task, "to": "liu.yang", "was": "zhao.min"}


def test_reassign_refusals(cli: Cli, two_cases: dict[str, str]) -> None:
    task = cli.open_tasks(two_cases["lead"])["lead.deadline"]["id"]
    assert "no person with handle 'nobody'" in cli.refused(
        "task", "reassign", task, "nobody", as_="chen.jie")
    cli.ok("person", "handover", "sun.hao", "liu.yang", "--deactivate")
    assert cli.refused("task", "reassign", task, "sun.hao", as_="chen.jie") == \
        "Error: 'sun.hao' is not active; reassign to an active person"
    assert cli.refused("task", "reassign", 999, "zhao.min", as_="chen.jie") == \
        "Error: no task #999; see `torchflow task list`"


# --- agenda -----------------------------------------------------------------------


def test_agenda_text(cli: Cli, two_cases: dict[str, str]) -> None:
    out = cli.ok("agenda", "--days", "14", "--all").out
    assert out.startswith("Work of the whole office · Due by 2026-03-04 + 14 days:\n")
    tasks, notices, pending = out.split("\n\n")
    assert two_cases["lead"] in tasks and "2026-03-18" in tasks
    assert notices.startswith("Notices that will go out:\nWHEN ")
    assert "UTC" not in notices.splitlines()[1]
    # The lead deadline: reminded on the 16th, due, overdue and escalated on the 18th,
    # at Beijing wall-clock times (09:00 start and 18:00 end of the working day).
    lead_rows = [line.split() for line in notices.splitlines() if two_cases["lead"] in line]
    assert [(r[0], r[1], r[2], r[3]) for r in lead_rows] == [
        ("2026-03-16", "09:00", "upcoming", "wang.li"),
        ("2026-03-18", "09:00", "due", "wang.li"),
        ("2026-03-18", "18:00", "overdue", "wang.li"),
        ("2026-03-18", "18:00", "escalation", "chen.jie"),
    ]
    assert pending == "Waiting to be sent:\n(none)\n"


def test_agenda_json_days_and_assignee(cli: Cli, two_cases: dict[str, str]) -> None:
    data = cli.json("agenda", "--days", "7", "--assignee", "wang.li")
    assert data == {"today": "2026-03-04", "days": 7, "whose": "wang.li", "tasks": [],
                    "notices": [], "pending": [], "away": []}
    data = cli.json("agenda", "--assignee", "zhao.min")
    assert data["days"] == 14
    assert {t["case"] for t in data["tasks"]} == {two_cases["talks"]}
    contact = next(t for t in data["tasks"] if t["kind"] == "contact")
    kinds = [n["kind"] for n in data["notices"] if n["task"] == contact["id"]]
    assert kinds == ["upcoming", "due", "overdue"]
    # Due Friday 6 March, reminded one working day ahead at 09:00 Beijing time,
    # overdue at 18:00; shown in Beijing time.
    assert [n["at"] for n in data["notices"] if n["task"] == contact["id"]] == [
        "2026-03-05T09:00:00+08:00", "2026-03-06T09:00:00+08:00", "2026-03-06T18:00:00+08:00"]
    assert "no person with handle 'nobody'" in cli.refused("agenda", "--assignee", "nobody")
    assert "91 is not in the range 1<=x<=90" in cli.usage("agenda", "--days", "91")


# --- scheduler tick ---------------------------------------------------------------


def test_scheduler_tick_text_produces_and_sends(cli: Cli, config_file: Path) -> None:
    key = cli.open_pi()
    assert cli.ok("scheduler", "tick").out == \
        "swept 0 task(s): 0 notice(s), 0 digest(s); sent 0, failed 0, dead 0\n"
    assert cli.ok("scheduler", "tick", now=MONDAY_16).out == \
        "swept 1 task(s): 1 notice(s), 0 digest(s); sent 1, failed 0, dead 0\n"
    # The same moment again: nothing new.
    assert cli.ok("scheduler", "tick", now=MONDAY_16).out == \
        "swept 0 task(s): 0 notice(s), 0 digest(s); sent 0, failed 0, dead 0\n"
    # Missed: an escalation to the director, and a morning digest that takes in the
    # owner's overdue notice of the same sweep (one message, not two).
    assert cli.ok("scheduler", "tick", now=THURSDAY_19).out == \
        "swept 1 task(s): 2 notice(s), 1 digest(s); sent 2, failed 0, dead 0\n"
    lines = outbox(config_file)
    assert [(m["kind"], m["recipient"]) for m in lines] == [
        ("upcoming", "wang.li"), ("escalation", "chen.jie"), ("digest", "wang.li")]
    assert lines[0]["subject"] == \
        f"[{key}] Hydrogen fuel-cell stack plant: Deadline coming up on 2026-03-18"
    assert lines[2]["payload"] == {"day": "2026-03-19", "due_today": [], "overdue": [key],
                                   "tasks": [1]}


def test_scheduler_tick_json(cli: Cli) -> None:
    cli.open_pi()
    data = cli.json("scheduler", "tick", now=THURSDAY_19)
    # After a week of downtime: one overdue (not upcoming and due too), one escalation.
    # The digest takes in the owner's overdue notice: two messages go.
    assert data == {"sweep": {"tasks": 1, "notices": 2, "digests": 1, "missed": 0,
                              "summaries": 0},
                    "dispatch": {"sent": 2, "failed": 0, "dead": 0, "released": 0}}


# --- notice list / retry ----------------------------------------------------------


DEAD_URL = "http://127.0.0.1:9/hook"  # the discard port: nothing listens, connections refused


def dead_after_three_tries(cli: Cli, wall: Clock, handle: str, owner_of: str) -> None:
    """A person whose webhook refuses connections; their notice fails until dead
    (3 attempts), under one fixed TORCHFLOW_NOW: the backoff runs on the wall clock."""
    cli.ok("person", "add", handle, "--name", handle, "--role", "coordinator",
           "--channel", "webhook", "--address", DEAD_URL)
    cli.open_pi(owner=owner_of)
    results = []
    for _ in range(3):
        results.append(cli.json("scheduler", "tick", now="2026-03-16T09:30:00+08:00")["dispatch"])
        wall.advance(seconds=5)  # past the backoff (base 1 s, cap 4 s)
    assert [(r["failed"], r["dead"]) for r in results] == [(1, 0), (1, 0), (0, 1)]


@pytest.fixture
def dead_notice(cli: Cli, wall: Clock) -> dict[str, Any]:
    """A notice to a person whose webhook refuses connections, failed until dead."""
    dead_after_three_tries(cli, wall, "hook.li", "hook.li")
    [dead] = cli.json("notice", "list", "--status", "dead")["items"]
    return dict(dead)


def test_notice_list_text(cli: Cli, dead_notice: dict[str, Any]) -> None:
    cli.open_pi("Another", owner="wang.li")
    cli.ok("scheduler", "tick", now="2026-03-16T09:40:00+08:00")
    lines = cli.ok("notice", "list").out.splitlines()
    assert lines[0].split() == ["ID", "KIND", "STATUS", "TO", "CHANNEL", "TRIES", "SUBJECT",
                                 "REASON"]
    rows = [line.split()[:6] for line in lines[1:]]
    # Newest first.
    assert rows == [
        [str(dead_notice["id"] + 1), "upcoming", "sent", "wang.li", "file", "1"],
        [str(dead_notice["id"]), "upcoming", "dead", "hook.li", "webhook", "3"],
    ]
    dead_lines = cli.ok("notice", "list", "--status", "dead").out.splitlines()
    assert len(dead_lines) == 2 and "hook.li" in dead_lines[1]
    assert [n["to"] for n in cli.json("notice", "list", "--to", "wang.li")["items"]] == ["wang.li"]
    assert cli.ok("notice", "list", "--status", "cancelled").out == "(none)\n"


def test_notice_list_json_dead(cli: Cli, dead_notice: dict[str, Any]) -> None:
    assert dead_notice["kind"] == "upcoming"
    assert dead_notice["status"] == "dead" and dead_notice["attempts"] == 3
    assert dead_notice["to"] == "hook.li" and dead_notice["channel"] == "webhook"
    assert dead_notice["last_error"].startswith("webhook http://127.0.0.1:9 failed: ")
    assert dead_notice["sent_at"] is None
    [task] = cli.json("task", "list", "--assignee", "hook.li")["items"]
    assert dead_notice["key"] == f"task:{task['id']}:1:upcoming:hook.li:webhook:2026-03-18"


def test_snooze_cancels_the_pending_notices_of_the_task(
    cli: Cli, dead_notice: dict[str, Any]
) -> None:
    cli.ok("notice", "retry", dead_notice["id"])
    [task] = cli.json("task", "list", "--assignee", "hook.li")["items"]
    cli.ok("task", "snooze", task["id"], "--to", "2026-03-25", "--reason", "abroad",
           as_="chen.jie")  # a deadline: the director's to move
    [cancelled] = cli.json("notice", "list", "--status", "cancelled")["items"]
    assert cancelled["id"] == dead_notice["id"]
    assert cli.json("notice", "list", "--status", "pending")["items"] == []
    line = cli.refused("notice", "retry", dead_notice["id"])
    assert line == (f"Error: notice #{dead_notice['id']} is cancelled; "
                    "only dead or pending ones retry")


def test_notice_retry_text_and_json(cli: Cli, dead_notice: dict[str, Any]) -> None:
    nid = dead_notice["id"]
    assert cli.ok("notice", "retry", nid, now="2026-03-16T10:00:00+08:00").out == \
        f"1 notice(s) queued again: #{nid}\n"
    [pending] = cli.json("notice", "list", "--status", "pending")["items"]
    assert pending["id"] == nid and pending["attempts"] == 0
    assert pending["retry_at"] is None
    # A pending one may be retried too; a sent one may not.
    assert cli.json("notice", "retry", nid) == {"ids": [nid], "count": 1}
    cli.ok("person", "handover", "hook.li", "wang.li")
    assert cli.json("scheduler", "tick", now="2026-03-16T10:05:00+08:00")["dispatch"]["sent"] == 1
    assert cli.refused("notice", "retry", nid) == \
        f"Error: notice #{nid} is sent; only dead or pending ones retry"
    assert cli.refused("notice", "retry", 999) == \
        "Error: no notice #999; see `torchflow notice list`"


# --- audit verify -----------------------------------------------------------------


UNKEYED_NOTE = f"note: {UNKEYED}\n"


def test_audit_verify_intact(cli: Cli, two_cases: dict[str, str]) -> None:
    assert cli.ok("audit", "verify").out == \
        "2 case(s), 4 event(s): history intact\n" + UNKEYED_NOTE
    assert cli.ok("audit", "verify", two_cases["lead"]).out == \
        "1 case(s), 1 event(s): history intact\n" + UNKEYED_NOTE
    assert cli.json("audit", "verify") == {"ok": True, "keyed": False, "cases": [
        {"key": two_cases["lead"], "events": 1, "ok": True, "broken_at": None, "reason": None},
        {"key": two_cases["talks"], "events": 3, "ok": True, "broken_at": None, "reason": None},
    ], "problems": [], "notes": [UNKEYED]}
    assert "no case with key 'PI-2026-0099'" in cli.refused("audit", "verify", "PI-2026-0099")


def _tamper(database_url: str, sql: str, **params: Any) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text(sql), params).rowcount == 1
    finally:
        engine.dispose()


def test_audit_verify_finds_a_changed_event(
    cli: Cli, two_cases: dict[str, str], database_url: str
) -> None:
    talks = two_cases["talks"]
    _tamper(database_url, "UPDATE case_events SET actor = 'mallory' WHERE seq = 2 AND case_id = "
            "(SELECT id FROM cases WHERE key = :key)", key=talks)
    run = cli.run("audit", "verify")
    assert run.code == 1
    assert run.out == ""
    assert run.err == (
        f"{talks}: broken at event #2: its content was changed after it was written\n"
        + UNKEYED_NOTE
    )
    # The untouched case still verifies on its own.
    assert cli.run("audit", "verify", two_cases["lead"]).code == 0
    run = cli.run("audit", "verify", talks, json=True)
    assert run.code == 1
    assert run.data == {"ok": False, "keyed": False, "cases": [
        {"key": talks, "events": 3, "ok": False, "broken_at": 2,
         "reason": "its content was changed after it was written"}],
        "problems": [], "notes": [UNKEYED]}


def test_audit_verify_finds_a_removed_last_event(
    cli: Cli, two_cases: dict[str, str], database_url: str
) -> None:
    talks = two_cases["talks"]
    _tamper(database_url, "DELETE FROM case_events WHERE seq = 3 AND case_id = "
            "(SELECT id FROM cases WHERE key = :key)", key=talks)
    run = cli.run("audit", "verify", talks)
    assert run.code == 1
    assert run.err == (
        f"{talks}: broken at event #3: the case records later events that are missing\n"
        + UNKEYED_NOTE
    )


def test_notice_list_for_an_unknown_person_is_refused(cli: Cli) -> None:
    line = cli.refused("notice", "list", "--to", "nobody")
    assert "no person with handle 'nobody'" in line


def test_a_task_due_today_is_overdue_from_the_end_of_the_working_day(
    cli: Cli, two_cases: dict[str, str]
) -> None:
    # The negotiation contact falls due on Friday 6 March.
    def contact_row(now: str) -> dict[str, Any]:
        rows = cli.json("task", "list", "--kind", "contact", now=now)["items"]
        return next(r for r in rows if r["case"] == two_cases["talks"])

    assert contact_row("2026-03-06T17:59:00+08:00")["overdue"] is False
    assert contact_row("2026-03-06T18:00:00+08:00")["overdue"] is True
    overdue_at_six = cli.json("task", "list", "--overdue", now="2026-03-06T18:00:00+08:00")["items"]
    assert two_cases["talks"] in {r["case"] for r in overdue_at_six}
    before_six = cli.json("task", "list", "--overdue", now="2026-03-06T17:59:00+08:00")["items"]
    assert two_cases["talks"] not in {r["case"] for r in before_six}


def test_notice_retry_all_dead_with_filters(cli: Cli, wall: Clock) -> None:
    dead_after_three_tries(cli, wall, "hook.li", "hook.li")
    dead_after_three_tries(cli, wall, "hook.ma", "hook.ma")
    dead = {n["to"]: n["id"] for n in cli.json("notice", "list", "--status", "dead")["items"]}
    assert set(dead) == {"hook.li", "hook.ma"}

    assert cli.json("notice", "retry", "--all-dead", "--to", "hook.li") == {
        "ids": [dead["hook.li"]], "count": 1}
    assert cli.json("notice", "retry", "--all-dead", "--kind", "due") == {"ids": [], "count": 0}
    assert cli.ok("notice", "retry", "--all-dead", "--channel", "webhook",
                  "--kind", "upcoming").out == f"1 notice(s) queued again: #{dead['hook.ma']}\n"
    assert cli.json("notice", "list", "--status", "dead")["items"] == []
    pending = cli.json("notice", "list", "--status", "pending")["items"]
    assert {n["attempts"] for n in pending} == {0}


@pytest.mark.parametrize("args, message", [
    ((), "give a NOTICE_ID or --all-dead"),
    (("7", "--all-dead"), "give a NOTICE_ID or --all-dead"),
    (("7", "--to", "wang.li"), "go with --all-dead"),
    (("--all-dead", "--kind", "reminder"), "'reminder' is not one of"),
    (("--all-dead", "--channel", "pigeon"), "'pigeon' is not one of"),
])
def test_notice_retry_usage_errors(cli: Cli, args: tuple[str, ...], message: str) -> None:
    run = cli.run("notice", "retry", *args)
    assert run.code == 2 and message in run.err


def test_notice_retry_all_dead_to_an_unknown_person_is_refused(cli: Cli) -> None:
    assert cli.refused("notice", "retry", "--all-dead", "--to", "nobody") == (
        "Error: no person with handle 'nobody'; see `torchflow person list`")
