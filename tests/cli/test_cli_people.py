"""`torchflow person add / list / handover`, in text and JSON."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def test_person_add_prints_the_handle_and_roles(cli: Cli) -> None:
    run = cli.ok("person", "add", "li.na", "--name", "Li Na · 李娜", "--role", "coordinator",
                 "--role", "expert")
    assert run.out.strip() == "added li.na (coordinator, expert)"


def test_person_add_json_gives_the_stored_person(cli: Cli) -> None:
    data = cli.json("person", "add", "li.na", "--name", "  Li Na  ", "--email", "li.na@zone.cn",
                    "--role", "director,expert", "--channel", "webhook",
                    "--address", "https://hooks.zone.cn/li.na")
    assert data == {
        "handle": "li.na", "name": "Li Na", "email": "li.na@zone.cn",
        "roles": ["director", "expert"], "channel": "webhook",
        "address": "https://hooks.zone.cn/li.na", "ids": {}, "active": True,
    }


def test_person_add_without_roles_says_so(cli: Cli) -> None:
    assert cli.ok("person", "add", "guest", "--name", "Guest").out.strip() == \
        "added guest (no roles)"


def test_person_list_text_is_a_table_of_everyone(cli: Cli) -> None:
    lines = cli.ok("person", "list").out.splitlines()
    assert lines[0].split() == ["HANDLE", "NAME", "ROLES", "EMAIL", "CHANNEL", "ACTIVE"]
    handles = [line.split()[0] for line in lines[1:]]
    assert handles == ["chen.jie", "liu.yang", "office.admin", "sun.hao", "wang.li", "zhao.min"]
    wang = next(line for line in lines if line.startswith("wang.li"))
    assert "Wang Li" in wang and "coordinator" in wang and "wang.li@zone.example.cn" in wang
    assert wang.rstrip().endswith("yes")


def test_person_list_json(cli: Cli) -> None:
    people = {p["handle"]: p for p in cli.json("person", "list")["items"]}
    assert set(people) == {"chen.jie", "liu.yang", "office.admin", "sun.hao", "wang.li",
                           "zhao.min"}
    assert people["office.admin"]["roles"] == ["admin"]
    assert people["chen.jie"]["roles"] == ["director"]
    assert people["liu.yang"]["roles"] == ["torch_liaison"]
    assert all(p["active"] for p in people.values())


def test_person_add_refusals_are_one_line_naming_what_is_right(cli: Cli) -> None:
    line = cli.refused("person", "add", "wang.li", "--name", "Another Wang")
    assert "'wang.li' exists already" in line and "pick another handle" in line
    line = cli.refused("person", "add", "Wang Li", "--name", "x")
    assert "handle 'Wang Li' is not valid" in line and "e.g. wang.li" in line
    line = cli.refused("person", "add", "x.y", "--name", "X", "--email", "not-an-address")
    assert "e-mail 'not-an-address' is not valid" in line
    line = cli.refused("person", "add", "x.y", "--name", "X", "--role", "Big Boss")
    assert "role 'Big Boss' is not valid" in line
    line = cli.refused("person", "add", "x.y", "--name", "   ")
    assert "the name is empty" in line
    # Nothing of the refused attempts was written.
    assert "x.y" not in [p["handle"] for p in cli.json("person", "list")["items"]]


def test_person_add_unknown_channel_is_a_usage_error(cli: Cli) -> None:
    err = cli.usage("person", "add", "x.y", "--name", "X", "--channel", "pigeon")
    assert "'pigeon' is not one of 'file', 'smtp', 'webhook'" in err


def test_handover_moves_open_cases_and_tasks(cli: Cli) -> None:
    first = cli.open_pi("Plant one")
    second = cli.open_pi("Plant two")
    closed = cli.open_pi("Plant three")
    cli.ok("case", "advance", closed, "withdraw", as_="wang.li")
    kept = cli.open_pi("Plant four", as_="zhao.min")

    run = cli.ok("person", "handover", "wang.li", "zhao.min")
    assert run.out.strip() == \
        "wang.li -> zhao.min: 2 case(s), 2 task(s), 0 pending notice(s) moved"

    owners = {c["key"]: c["owner"] for c in cli.json("case", "list")["items"]}
    assert owners == {first: "zhao.min", second: "zhao.min", closed: "wang.li",
                      kept: "zhao.min"}
    assert cli.json("task", "list", "--assignee", "wang.li")["items"] == []
    assert {t["case"] for t in cli.json("task", "list", "--assignee", "zhao.min")["items"]} == \
        {first, second, kept}
    history = cli.json("case", "history", first)["events"]
    assert history[-1]["kind"] == "assigned"
    assert history[-1]["actor"] == "office.admin"
    assert history[-1]["data"] == {"owner": "zhao.min", "was": "wang.li", "handover": True}


def test_handover_json_and_deactivate(cli: Cli) -> None:
    cli.open_pi()
    data = cli.json("person", "handover", "wang.li", "zhao.min", "--deactivate")
    assert data == {"from": "wang.li", "to": "zhao.min", "cases": 1, "tasks": 1, "notices": 0,
                    "in_flight": 0}
    people = {p["handle"]: p for p in cli.json("person", "list")["items"]}
    assert people["wang.li"]["active"] is False
    assert people["zhao.min"]["active"] is True
    line = cli.refused("case", "note", "PI-2026-0001", "still here?", as_="wang.li")
    assert line == ("Error: 'wang.li' is no longer active; an admin can "
                    "`torchflow person reactivate wang.li`")
    line = cli.refused("person", "handover", "zhao.min", "wang.li")
    assert "'wang.li' is not active; hand over to an active person" in line


def test_handover_refusals(cli: Cli) -> None:
    assert "OLD and NEW are the same person" in cli.refused(
        "person", "handover", "wang.li", "wang.li")
    assert "no person with handle 'nobody'" in cli.refused(
        "person", "handover", "wang.li", "nobody")
    # The issue's own example: a coordinator deactivating the director.
    assert cli.refused("person", "handover", "chen.jie", "zhao.min", "--deactivate",
                       as_="wang.li") == (
        "Error: wang.li may not hand a person's work to another (`person handover`): "
        "it needs the 'admin' role (see `torchflow person roles`)")
    assert cli.json("person", "show", "chen.jie")["active"] is True


def test_handover_readdresses_pending_notices(cli: Cli) -> None:
    # A coordinator whose webhook refuses connections: the notice fails, stays pending.
    cli.ok("person", "add", "hook.li", "--name", "Hook Li", "--role", "coordinator",
           "--channel", "webhook", "--address", "http://127.0.0.1:9/hook")
    key = cli.open_pi(owner="hook.li")
    tick = cli.json("scheduler", "tick", now="2026-03-16T09:30:00+08:00")
    assert tick["dispatch"] == {"sent": 0, "failed": 1, "dead": 0, "released": 0}
    [pending] = cli.json("notice", "list", "--status", "pending")["items"]
    assert pending["to"] == "hook.li" and pending["channel"] == "webhook"
    assert pending["last_error"].startswith("webhook http://127.0.0.1:9 failed: ")

    moved = cli.json("person", "handover", "hook.li", "wang.li")
    assert moved == {"from": "hook.li", "to": "wang.li", "cases": 1, "tasks": 1, "notices": 1,
                     "in_flight": 0}
    [readdressed] = cli.json("notice", "list", "--status", "pending")["items"]
    assert readdressed["id"] == pending["id"]
    assert readdressed["to"] == "wang.li" and readdressed["channel"] == "file"
    assert cli.json("case", "show", key)["owner"] == "wang.li"

    tick = cli.json("scheduler", "tick", now="2026-03-16T10:30:00+08:00")
    assert tick["dispatch"]["sent"] == 1
    [sent] = cli.json("notice", "list", "--status", "sent")["items"]
    assert sent["id"] == pending["id"] and sent["to"] == "wang.li"


def test_a_webhook_without_a_secret_is_refused_when_set_and_held_when_lost(cli: Cli) -> None:
    no_secret = ("Error: webhook channel: no secret in $TORCHFLOW_WEBHOOK_SECRET; set it, or "
                 "set [notify.webhook] allow_unsigned = true to send unsigned requests")
    url = "https://example.org/hook/abcdefghijklmnopqrstuvwxyz?token=t0k3n"
    line = cli.refused("person", "add", "hook.li", "--name", "Hook Li", "--channel", "webhook",
                       "--address", url, env={"TORCHFLOW_WEBHOOK_SECRET": None})
    assert line == no_secret
    cli.ok("person", "add", "hook.li", "--name", "Hook Li", "--role", "coordinator",
           "--channel", "webhook", "--address", url)
    [person] = [p for p in cli.json("person", "list")["items"] if p["handle"] == "hook.li"]
    assert person["address"] == "https://example.org/hook/abc***?***"
    cli.open_pi(owner="hook.li")
    # The secret is gone from the service's environment: the tick runs (exit 0),
    # his notice is held and says why; `notice list` and `person show` say so.
    tick = cli.json("scheduler", "tick", now="2026-03-16T09:30:00+08:00",
                    env={"TORCHFLOW_WEBHOOK_SECRET": None})
    assert tick["dispatch"] == {"sent": 0, "failed": 0, "dead": 0, "released": 0}
    [held] = cli.json("notice", "list", "--status", "held")["items"]
    assert (held["to"], held["status"]) == ("hook.li", "held")
    assert held["reason"] == no_secret.removeprefix("Error: ")
    problems = cli.json("person", "show", "hook.li")["delivery_problems"]
    assert [(p["status"], p["error"]) for p in problems] == [("held", held["reason"])]
