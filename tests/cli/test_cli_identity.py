"""Who may do what, through the CLI: administration needs `admin` (one table,
`person roles`), a case's fields and notes belong to its people, and person
maintenance (edit, deactivate, reactivate, show).

``as_=HANDLE`` runs a command from HANDLE's OS login (tests/cli/conftest.py);
without it the command runs from this process's login, the admin office.admin."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client

NEEDS_ADMIN = [
    ("person.add", ("person", "add", "li.na", "--name", "Li Na")),
    ("person.edit", ("person", "edit", "zhao.min", "--email", "z@zone.example.cn")),
    ("person.roles", ("person", "edit", "wang.li", "--add-role", "admin")),
    ("person.deactivate", ("person", "deactivate", "sun.hao")),
    ("person.reactivate", ("person", "reactivate", "sun.hao")),
    ("person.handover", ("person", "handover", "chen.jie", "wang.li", "--deactivate")),
    ("notice.retry", ("notice", "retry", "--all-dead")),
    ("workflow.migrate", ("workflow", "migrate", "project_introduction", "--to", "1")),
    ("replan", ("replan",)),
    ("person.add", ("import", "people", "staff.csv")),
]


def state(cli: Cli) -> dict[str, Any]:
    """Everything an administrative command could change."""
    people = cli.json("person", "list")["items"]
    return {"people": people, "shown": [cli.json("person", "show", p["handle"]) for p in people],
            "cases": cli.json("case", "list")["items"],
            "notices": cli.json("notice", "list")["items"]}


@pytest.mark.parametrize(("action", "args"), NEEDS_ADMIN, ids=lambda v: " ".join(v[:3])
                         if isinstance(v, tuple) else v)
def test_administration_without_admin_is_refused_and_changes_nothing(
    cli: Cli, action: str, args: tuple[str, ...], tmp_path: Any
) -> None:
    cli.open_pi()
    (tmp_path / "staff.csv").write_text("handle,name\nli.na,Li Na\n", encoding="utf-8")
    args = tuple(str(tmp_path / a) if a == "staff.csv" else a for a in args)
    before = state(cli)
    for who in ("wang.li", "chen.jie"):  # a coordinator, the director
        line = cli.refused(*args, as_=who)
        assert line.startswith(f"Error: {who} may not ")
        assert line.endswith("it needs the 'admin' role (see `torchflow person roles`)")
    assert state(cli) == before


def test_person_roles_prints_the_one_table(cli: Cli) -> None:
    from torchflow.domain.permissions import PERMISSIONS, RULE_WORDS

    rows = cli.json("person", "roles", as_="wang.li")  # anyone may read it
    # The whole table, every action with the words of its rule.
    assert [r["action"] for r in rows] == list(PERMISSIONS)
    table = {r["action"]: r["role"] for r in rows}
    assert table == {a: RULE_WORDS[rule] for a, (rule, _) in PERMISSIONS.items()}
    assert table["case.assign"] == ("the case's owner, its workflow's escalation roles, "
                                    "or an admin")
    text = cli.ok("person", "roles").out
    assert text.splitlines()[0].split() == ["ACTION", "ROLE", "WHAT"]
    assert re.search(r"^workflow\.migrate +admin +move open cases", text, re.MULTILINE)


def test_a_case_is_changed_by_its_owner_its_assignees_and_admins(cli: Cli) -> None:
    key = cli.open_pi()  # wang.li owns it
    before = cli.json("case", "history", key)
    line = cli.refused("case", "set", key, "expected_jobs=3", as_="zhao.min")
    assert line == (f"Error: zhao.min may not set a case's fields (`case set`) on case {key}: "
                    "only wang.li or admin may (see `torchflow person roles`)")
    assert cli.refused("case", "note", key, "hello", as_="sun.hao") == (
        f"Error: sun.hao may not add a note to a case (`case note`) on case {key}: only "
        "wang.li or admin may (see `torchflow person roles`)")
    assert cli.json("case", "history", key) == before
    cli.ok("case", "set", key, "expected_jobs=3", as_="wang.li")
    cli.ok("case", "note", key, "by the admin")
    # The director may sign but not fill the fields of someone else's case ...
    assert "chen.jie may not set a case's fields" in cli.refused(
        "case", "set", key, "target_park=East Park", as_="chen.jie")
    # ... while the owner fills the fields a director-only transition needs.
    cli.ok("case", "set", key, "target_park=East Park", as_="wang.li")
    assert cli.json("case", "show", key)["fields"]["target_park"] == "East Park"


def test_the_people_of_a_case_are_its_person_fields_and_task_assignees(cli: Cli) -> None:
    ec = cli.json("case", "open", "enterprise_cultivation", "--title", "培育",
                  "--field", "enterprise=睿芯微电子", "--field", "credit_code=91320500MA1AB1234C",
                  "--field", "tech_field=electronic information", as_="wang.li")["key"]
    assert "sun.hao may not add a note" in cli.refused("case", "note", ec, "x", as_="sun.hao")
    cli.ok("case", "set", ec, "mentor=sun.hao", as_="wang.li")
    cli.ok("case", "note", ec, "the mentor's note", as_="sun.hao")  # named in a person field
    pi = cli.open_pi()
    [task] = [t for t in cli.json("task", "list", "--assignee", "wang.li")["items"]
              if t["case"] == pi]
    cli.ok("task", "reassign", task["id"], "liu.yang", as_="wang.li")
    cli.ok("case", "note", pi, "the task's assignee's note", as_="liu.yang")
    line = cli.refused("case", "note", pi, "x", as_="zhao.min")
    assert line == (f"Error: zhao.min may not add a note to a case (`case note`) on case {pi}: "
                    "only wang.li or liu.yang or admin may (see `torchflow person roles`)")


def test_mine_is_the_acting_person(cli: Cli) -> None:
    mine = cli.open_pi("Mine", as_="wang.li")
    theirs = cli.open_pi("Theirs", as_="zhao.min")
    assert [c["key"] for c in cli.json("case", "list", "--mine", as_="wang.li")["items"]] == [mine]
    assert [c["key"] for c in cli.json("case", "list", "--mine", as_="zhao.min")["items"]] == [
        theirs]
    assert [t["case"] for t in cli.json("task", "list", "--mine", as_="zhao.min")["items"]] == [
        theirs]
    # The admin acting for wang.li sees wang.li's.
    assert [c["key"] for c in cli.json("--as", "wang.li", "case", "list",
                                       "--mine")["items"]] == [mine]
    assert "exclude each other" in cli.usage("case", "list", "--mine", "--owner", "wang.li")


def test_person_edit_changes_what_add_set_with_the_same_checks(cli: Cli) -> None:
    changed = cli.json("person", "edit", "wang.li", "--name", "Wang Li · 王丽", "--channel",
                       "webhook", "--address", "https://hooks.zone.cn/wang", "--add-role",
                       "director", "--remove-role", "coordinator", "--login", "wangli")
    assert changed == {"handle": "wang.li", "name": "Wang Li · 王丽",
                       "email": "wang.li@zone.example.cn", "roles": ["director"],
                       "channel": "webhook", "address": "https://hooks.zone.cn/wang",
                       "ids": {}, "active": True}
    shown = cli.json("person", "show", "wang.li")
    assert shown["logins"] == ["wang.li", "wangli"]
    cli.ok("person", "edit", "wang.li", "--remove-login", "wangli")
    assert cli.json("person", "show", "wang.li")["logins"] == ["wang.li"]
    before = cli.json("person", "show", "wang.li")
    assert "the webhook channel needs a URL" in cli.refused(
        "person", "edit", "wang.li", "--address", "")
    assert "the smtp channel needs an e-mail address" in cli.refused(
        "person", "edit", "wang.li", "--channel", "smtp", "--email", "")
    assert "e-mail 'nope' is not valid" in cli.refused("person", "edit", "wang.li",
                                                       "--email", "nope")
    assert "role 'Big Boss' is not valid" in cli.refused("person", "edit", "wang.li",
                                                         "--add-role", "Big Boss")
    assert "login 'zhao.min' is zhao.min's already" in cli.refused(
        "person", "edit", "wang.li", "--login", "zhao.min")
    assert "no person with handle 'nobody'" in cli.refused("person", "edit", "nobody",
                                                           "--name", "N")
    assert "nothing to change" in cli.usage("person", "edit", "wang.li")
    assert cli.json("person", "show", "wang.li") == before


def test_person_add_refuses_a_channel_without_its_address(cli: Cli) -> None:
    assert cli.refused("person", "add", "he.yu", "--name", "He Yu", "--channel", "webhook") == (
        "Error: the webhook channel needs a URL; add --address https://... (or set "
        "[notify.webhook] url) or pick another --channel")
    assert "the smtp channel needs an e-mail address" in cli.refused(
        "person", "add", "he.yu", "--name", "He Yu", "--channel", "smtp")
    assert "he.yu" not in [p["handle"] for p in cli.json("person", "list")["items"]]


def test_deactivate_refuses_open_work_unless_handed_over_then_reactivate(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.refused("person", "deactivate", "wang.li") == (
        "Error: wang.li still owns 1 open case(s) and 1 open task(s); add --handover-to OTHER "
        "to move them")
    assert cli.json("person", "show", "wang.li")["active"] is True
    out = cli.ok("person", "deactivate", "wang.li", "--handover-to", "zhao.min").out
    assert out == "deactivated wang.li (work moved to zhao.min)\n"
    assert cli.json("case", "show", key)["owner"] == "zhao.min"
    assert "'wang.li' is no longer active" in cli.refused("case", "list", "--mine",
                                                          as_="wang.li")
    cli.ok("person", "deactivate", "sun.hao")  # no open work: no handover needed
    assert cli.ok("person", "reactivate", "wang.li").out == "reactivated wang.li\n"
    cli.ok("case", "list", "--mine", as_="wang.li")


def test_the_last_admin_cannot_be_removed(cli: Cli) -> None:
    assert "that would leave no active admin" in cli.refused(
        "person", "edit", "office.admin", "--remove-role", "admin")
    assert "that would leave no active admin" in cli.refused(
        "person", "deactivate", "office.admin")


def test_person_show_lists_roles_logins_and_open_work(cli: Cli) -> None:
    key = cli.open_pi()
    shown = cli.json("person", "show", "wang.li")
    assert shown["roles"] == ["coordinator"] and shown["logins"] == ["wang.li"]
    assert [c["key"] for c in shown["open_cases"]] == [key]
    assert len(shown["open_tasks"]) == 1 and shown["overdue"] == 0
    assert shown["absences"] == []
    late = cli.json("person", "show", "wang.li", now="2026-04-30T18:00:00+08:00")
    assert late["overdue"] == 1
    text = cli.ok("person", "show", "wang.li").out
    assert "Logins:" in text and "Open cases:" in text and key in text


def test_db_grants_is_retired_the_server_is_the_boundary(cli: Cli) -> None:
    # Per-person database logins could not hold (docs/security.md): `torchflow serve`
    # is the one process with the database's credentials.
    assert "No such command 'db'" in cli.usage("db", "grants")


def test_the_last_admin_keeps_a_login_and_a_sheet_cannot_take_the_role(
        cli: Cli, tmp_path: Any) -> None:
    login = cli.json("person", "show", "office.admin")["logins"][0]
    line = cli.refused("person", "edit", "office.admin", "--remove-login", login)
    assert line == ("Error: that would leave no active admin with a login; give another "
                    "person the 'admin' role first")
    sheet = tmp_path / "staff.csv"
    sheet.write_text("handle,name,roles\noffice.admin,Office,coordinator\n", encoding="utf-8")
    line = cli.refused("import", "people", sheet)
    assert "takes the 'admin' role from office.admin, the last admin(s) with a login" in line
    assert cli.json("person", "show", "office.admin")["roles"] == ["admin"]


def test_the_engine_handles_are_reserved(cli: Cli) -> None:
    for handle in ("system", "torchflow"):
        line = cli.refused("person", "add", handle, "--name", "The service")
        assert f"handle '{handle}' is reserved for the scheduler service" in line


@pytest.mark.embedded  # the server's config, environment or process
def test_a_database_from_before_logins_gets_its_admin_from_init(cli: Cli,
                                                                 config_file: Any) -> None:
    """Upgraded from a release without logins: people, no login. Every command says
    how to get out; `init --admin HANDLE` gives HANDLE this login and the role."""
    from torchflow.config import load_settings
    from torchflow.service.app import build_app
    from torchflow.store.models import PERSON_LOGINS

    app = build_app(load_settings(config_file))
    with app.db.transaction() as s:
        s.execute(PERSON_LOGINS.delete())
    app.close()
    line = cli.refused("person", "add", "li.na", "--name", "Li Na")
    assert line.endswith("no admin has a login yet (a database from before logins): "
                         "`torchflow init --admin HANDLE` makes HANDLE, with this login, its admin")
    assert "no admin has a login yet" in cli.ok("init").out
    assert cli.json("init", "--admin", "chen.jie")["admin"] == "chen.jie"
    shown = cli.json("person", "show", "chen.jie")
    assert "admin" in shown["roles"] and len(shown["logins"]) == 1
    assert "--admin wang.li changed nobody: the database has an admin already (chen.jie)" \
        in cli.ok("init", "--admin", "wang.li").out
    cli.ok("person", "add", "li.na", "--name", "Li Na")  # chen.jie, from this login, administers
