"""The permission table walked through the CLI (and, as a `client` module,
through a real server): every action in domain/permissions.py refused to one
caller in one line that says who may not, with every row of every table as it
was, then let through for one who may. Import rows held to the same rules, and
issue 19's doors: --as resolved for every command, and a closed case takes no
more work.

The case is wang.li's (a coordinator) in `lead`; its deadline escalates to the
director (chen.jie). zhao.min is a coordinator who is not on it, sun.hao an
expert, liu.yang the Torch liaison; no ``as_`` is the admin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from tests.cli.conftest import Cli
from torchflow.domain.permissions import PERMISSIONS, Rule, rule_of
from torchflow.store.models import ACCESS_TOKENS, METADATA

pytestmark = pytest.mark.client

HEADER = "External reference,Title,owner,State,Enterprise,Industry,Lead source,Planned investment\n"


@pytest.fixture
def rows(database_url: str) -> Iterator[Any]:
    """Every row of every table, read beside the CLI (and the server)."""
    engine = create_engine(database_url)

    def everything() -> dict[str, list[tuple[str, ...]]]:
        # A token's last use is the server's note that its caller came (refreshed
        # at most once a minute), not a write of the refused action.
        with engine.connect() as conn:
            return {t.name: sorted(tuple(map(repr, r)) for r in conn.execute(
                        select(*(c for c in t.c if c is not ACCESS_TOKENS.c.last_used_at))))
                    for t in METADATA.sorted_tables}

    yield everything
    engine.dispose()


def refusals(key: str, deadline: int, tmp: Path) -> list[tuple[str, str, tuple[object, ...]]]:
    """(action, who is refused, the command)."""
    staff_csv = tmp / "staff.csv"
    staff_csv.write_text("handle,name\nli.na,Li Na\n", encoding="utf-8")
    return [
        ("case.advance", "zhao.min", ("case", "advance", key, "make_contact")),
        ("case.advance", "sun.hao", ("case", "advance", key, "hold")),
        ("case.note", "zhao.min", ("case", "note", key, "a note")),
        ("case.set", "zhao.min", ("case", "set", key, "expected_jobs=3")),
        ("case.assign", "zhao.min", ("case", "assign", key, "zhao.min")),
        ("case.log", "zhao.min", ("case", "contact", key, "--note", "called")),
        ("case.log", "sun.hao", ("case", "visit", key, "--note", "dropped by")),
        ("case.revert", "wang.li", ("workflow", "migrate", "--revert", key)),
        ("task.done", "wang.li", ("task", "done", deadline)),
        ("task.snooze", "wang.li", ("task", "snooze", deadline, "--to", "2026-03-20",
                                    "--reason", "abroad")),
        ("task.reassign", "sun.hao", ("task", "reassign", deadline, "sun.hao")),
        ("task.reassign", "zhao.min", ("task", "reassign", deadline, "zhao.min")),
        ("import.people", "wang.li", ("import", "people", staff_csv)),
        ("person.add", "wang.li", ("person", "add", "li.na", "--name", "Li Na")),
        ("person.edit", "wang.li", ("person", "edit", "zhao.min", "--name", "Zhao M.")),
        ("person.roles", "wang.li", ("person", "edit", "wang.li", "--add-role", "admin")),
        ("person.deactivate", "wang.li", ("person", "deactivate", "sun.hao")),
        ("person.reactivate", "wang.li", ("person", "reactivate", "sun.hao")),
        ("person.handover", "wang.li", ("person", "handover", "liu.yang", "wang.li")),
        ("person.feed_token", "zhao.min", ("person", "feed-token", "wang.li")),
        ("person.absence", "zhao.min", ("person", "away", "wang.li", "--from", "2026-03-09",
                                        "--to", "2026-03-13", "--substitute", "zhao.min")),
        ("token.issue", "wang.li", ("token", "create", "wang.li")),
        ("token.manage", "zhao.min", ("token", "list", "wang.li")),
        ("act.as", "wang.li", ("--as", "sun.hao", "case", "list")),
        ("notice.retry", "wang.li", ("notice", "retry", "--all-dead")),
        ("channel.test", "wang.li", ("channel", "test", "file", "--to", "wang.li")),
        ("scheduler.tick", "wang.li", ("scheduler", "tick")),
        ("workflow.migrate", "wang.li", ("workflow", "migrate", "project_introduction",
                                         "--to", "1")),
        ("replan", "wang.li", ("replan",)),
        ("enterprise.edit", "sun.hao", ("enterprise", "add", "清能动力")),
        ("enterprise.link", "zhao.min", ("enterprise", "link")),
    ]


def allowances(cli: Cli, key: str, deadline: int, tmp: Path
               ) -> list[tuple[str, str | None, tuple[object, ...]]]:
    """(action, who is let through (None: the admin), the command), in an order
    that keeps each one meaningful."""
    cases_csv = tmp / "cases.csv"
    cases_csv.write_text(HEADER + "ZB-1,Solar glass,zhao.min,lead,Sunglass,new energy,walk-in,"
                         "500\n", encoding="utf-8")
    staff_csv = tmp / "staff2.csv"
    staff_csv.write_text("handle,name\nli.na,Li Na\n", encoding="utf-8")
    return [
        ("read", "sun.hao", ("case", "list")),
        ("report.requests", "sun.hao", ("report", "requests", "--period", "2026")),
        ("audit.verify", "sun.hao", ("audit", "verify")),
        ("audit.checkpoint", "sun.hao", ("audit", "checkpoint", tmp / "cp.json")),
        ("case.open", "sun.hao", ("case", "open", "project_introduction", "--title", "Mine",
                                  "--field", "enterprise=E", "--field", "industry=other",
                                  "--field", "lead_source=other",
                                  "--field", "planned_investment=1")),
        ("case.note", "wang.li", ("case", "note", key, "a note")),
        ("case.set", "wang.li", ("case", "set", key, "expected_jobs=3")),
        ("case.log", "wang.li", ("case", "contact", key, "--note", "called")),
        ("task.snooze", "chen.jie", ("task", "snooze", deadline, "--to", "2026-03-20",
                                     "--reason", "abroad")),
        ("task.reassign", "wang.li", ("task", "reassign", deadline, "wang.li")),
        ("task.done", "chen.jie", ("task", "done", deadline)),
        ("case.advance", "wang.li", ("case", "advance", key, "make_contact")),
        ("case.assign", "chen.jie", ("case", "assign", key, "zhao.min")),
        ("import.cases", "zhao.min", ("import", "cases", "project_introduction", cases_csv)),
        ("import.people", None, ("import", "people", staff_csv)),
        ("person.add", None, ("person", "add", "qian.feng", "--name", "Qian Feng")),
        ("person.edit", None, ("person", "edit", "zhao.min", "--name", "Zhao M.")),
        ("person.roles", None, ("person", "edit", "liu.yang", "--add-role", "director")),
        ("person.feed_token", "wang.li", ("person", "feed-token", "wang.li")),
        ("person.absence", "wang.li", ("person", "away", "wang.li", "--from", "2026-03-09",
                                       "--to", "2026-03-13", "--substitute", "zhao.min")),
        ("token.issue", None, ("token", "create", "wang.li")),
        ("token.manage", "wang.li", ("token", "list", "wang.li")),
        ("act.as", None, ("--as", "sun.hao", "case", "list")),
        ("notice.retry", None, ("notice", "retry", "--all-dead")),
        ("channel.test", None, ("channel", "test", "file", "--to", "wang.li")),
        ("scheduler.tick", None, ("scheduler", "tick")),
        ("replan", None, ("replan",)),
        ("enterprise.edit", "zhao.min", ("enterprise", "add", "清能动力")),
        ("enterprise.link", None, ("enterprise", "link", "--dry-run")),
        ("person.handover", None, ("person", "handover", "liu.yang", "zhao.min")),
        ("person.deactivate", None, ("person", "deactivate", "liu.yang")),
        ("person.reactivate", None, ("person", "reactivate", "liu.yang")),
        # Past the table these may still say no for their own reasons (the case
        # was never moved; version 1 is not stored): never that the admin may not.
        ("workflow.migrate", None, ("workflow", "migrate", "project_introduction", "--to", "1")),
        ("case.revert", None, ("workflow", "migrate", "--revert", key)),
    ]


def test_every_action_refused_to_one_and_let_through_for_another(
        cli: Cli, rows: Any, tmp_path: Path) -> None:
    key = cli.open_pi()  # wang.li's
    deadline = cli.open_tasks(key)["lead.deadline"]["id"]
    refused = refusals(key, deadline, tmp_path)
    # Every action that is not anyone's is refused to someone here.
    assert {a for a, _, _ in refused} == {a for a in PERMISSIONS
                                          if rule_of(a) is not Rule.ANYONE}
    for action, who, args in refused:
        if action == "scheduler.tick" and not cli.client:
            # Embedded, the process holding the database ticks as `system` (cron).
            continue
        before = rows()
        line = cli.refused(*args, as_=who)
        assert line.startswith(f"Error: {who} may not "), (action, line)
        assert rows() == before, action

    allowed = allowances(cli, key, deadline, tmp_path)
    assert {a for a, _, _ in allowed} == set(PERMISSIONS)
    for action, who, args in allowed:
        run = cli.run(*args, as_=who)
        if action in ("workflow.migrate", "case.revert"):
            assert " may not " not in run.err, (action, run.err)
        else:
            assert run.code == 0, (action, run.err)
    case = cli.json("case", "show", key)
    assert (case["state"], case["owner"]) == ("first_contact", "zhao.min")
    kinds = [e["kind"] for e in cli.json("case", "history", key)["events"]]
    assert kinds[:2] == ["opened", "note"]


def test_a_colleague_may_not_take_a_case_but_its_owner_and_the_director_may_give_it(
        cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.refused("case", "assign", key, "zhao.min", as_="zhao.min") == (
        f"Error: zhao.min may not give a case another owner (`case assign`) on case {key}: "
        "only wang.li or director or admin may (see `torchflow person roles`)")
    cli.ok("case", "assign", key, "zhao.min", as_="wang.li")
    cli.ok("case", "assign", key, "wang.li", as_="chen.jie")
    assert cli.json("case", "show", key)["owner"] == "wang.li"


def test_an_import_row_is_held_to_the_rules_of_the_same_work_by_hand(
        cli: Cli, tmp_path: Path, rows: Any) -> None:
    # The workflow's version stored by a first case, so the rows compared are the
    # cases' alone (a refused import stores nothing, the version included).
    cli.open_pi()
    signed = tmp_path / "signed.csv"
    signed.write_text(HEADER + "ZB-8,Signed plant,zhao.min,signed,Acme,other,other,10\n",
                      encoding="utf-8")
    before = rows()
    line = cli.refused("import", "cases", "project_introduction", signed, as_="zhao.min")
    assert "row 2" in line and "zhao.min may not put a case in 'signed'" in line, line
    assert "only director may bring a case there" in line, line
    assert rows() == before
    cli.ok("import", "cases", "project_introduction", signed, as_="chen.jie")  # the director
    # The imported case is the director's now: the same row from zhao.min changing
    # its owner is refused (case.set, case.assign), with the row's number.
    moved = tmp_path / "moved.csv"
    moved.write_text(HEADER + "ZB-8,Signed plant,zhao.min,signed,Acme,other,other,99\n",
                     encoding="utf-8")
    before = rows()
    line = cli.refused("import", "cases", "project_introduction", moved, as_="sun.hao")
    assert "row 2" in line and "sun.hao may not set a case's fields" in line, line
    assert rows() == before


def test_as_is_resolved_for_every_command_reads_included(cli: Cli) -> None:
    for args in (("case", "list"), ("task", "list")):
        line = cli.refused("--as", "no.such.person", *args)
        assert "no.such.person" in line, line
        line = cli.refused("--as", "wang.li", *args, as_="zhao.min")
        assert line.startswith("Error: zhao.min may not act as another person"), line
    cli.ok("--as", "wang.li", "case", "list")  # the admin may


def test_a_closed_case_takes_no_more_work_naming_its_state(cli: Cli, rows: Any) -> None:
    key = cli.open_pi()
    deadline = cli.open_tasks(key)["lead.deadline"]["id"]
    cli.ok("case", "advance", key, "withdraw", as_="wang.li")
    before = rows()
    for args in (("case", "contact", key, "--note", "x"), ("case", "visit", key)):
        assert cli.refused(*args, as_="wang.li") == (
            f"Error: case {key} is closed (withdrawn); nothing more is logged on it")
    assert rows() == before
    # Its deadline was cancelled with the withdrawal: nothing left to finish or move.
    assert "lead.deadline" not in cli.open_tasks(key)
    assert cli.run("task", "done", deadline, as_="chen.jie").code == 1
