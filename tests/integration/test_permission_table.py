"""The permission table walked through the service: for every action in
domain/permissions.py one caller the table lets through and one it refuses
(none for an action that is anyone's), and the refused one writes nothing: every
row of every table is the same after the refusal as before it.

The case is wang.li's (a coordinator) in `lead`, whose deadline escalates to the
director (chen.jie); zhao.min is a coordinator who is not on it, sun.hao an
expert, office.admin the admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from torchflow.domain.periods import parse_period
from torchflow.domain.permissions import PERMISSIONS, Rule, rule_of
from torchflow.errors import Refused, TorchflowError
from torchflow.scheduler import tick_once
from torchflow.service.app import App
from torchflow.service.audit import verify as audit
from torchflow.service.cases import change
from torchflow.service.cases.read import list_cases
from torchflow.service.delivery import ledger
from torchflow.service.delivery.channel_check import test_channel as channel_test
from torchflow.service.enterprises import linking, records
from torchflow.service.followups import feeds, replan, work
from torchflow.service.people import absences, handover, staff, tokens
from torchflow.service.people.lookup import Actor, acting
from torchflow.service.reports import registry as reports
from torchflow.service.reports.snapshot import Filters
from torchflow.service.sheets import imports
from torchflow.service.workflows import version_moves
from torchflow.store.models import METADATA, PERSON_LOGINS, TASKS

PI = ("enterprise=Qingneng", "industry=new energy", "lead_source=torch center",
      "planned_investment=120000")


class World:
    """The office, one case of wang.li's and its deadline, a sheet of each kind."""

    def __init__(self, app: App, staff_: dict[str, Actor], admin: Actor, tmp: Path) -> None:
        self.app, self.tmp = app, tmp
        self.people = {**staff_, "office.admin": admin}
        fields = dict(p.split("=", 1) for p in PI)
        self.key = change.open_case(app, staff_["wang.li"], "project_introduction",
                                    title="Hydrogen stack plant", fields=fields)["key"]
        with app.db.read() as s:
            self.deadline = s.scalar(select(TASKS.c.id).where(TASKS.c.rule == "lead.deadline"))
        self.cases_csv = tmp / "cases.csv"
        self.cases_csv.write_text(
            "External reference,Title,Enterprise,Industry,Lead source,Planned investment\n"
            "ZB-9,Solar glass,Sunglass,new energy,walk-in,500\n", encoding="utf-8")
        self.people_csv = tmp / "staff.csv"
        self.people_csv.write_text("handle,name\nli.na,Li Na\n", encoding="utf-8")

    def __getitem__(self, handle: str) -> Actor:
        return self.people[handle]


Call = Callable[[World, Actor], Any]


def _login(w: World, handle: str) -> None:
    """A login for ``handle`` (acting needs one), written as `person edit` does,
    once (an edit is in the office's history even when it changes nothing)."""
    with w.app.db.read() as s:
        known = s.scalar(select(PERSON_LOGINS.c.login).where(
            PERSON_LOGINS.c.login == f"os-{handle}"))
    if known is None:
        staff.edit_person(w.app, handle, add_logins=[f"os-{handle}"])


def _act_as(w: World, a: Actor) -> Any:
    _login(w, a.handle)
    return acting(w.app, f"os-{a.handle}", "sun.hao")


# action -> (the call, a caller allowed, a caller refused or None when it is anyone's)
WALK: dict[str, tuple[Call, str, str | None]] = {
    "case.open": (lambda w, a: change.open_case(
        w.app, a, "project_introduction", title="Another",
        fields=dict(p.split("=", 1) for p in PI)), "sun.hao", None),
    "case.advance": (lambda w, a: change.advance(w.app, a, w.key, "make_contact"),
                     "wang.li", "zhao.min"),
    "case.note": (lambda w, a: change.add_note(w.app, a, w.key, "a note"), "wang.li", "zhao.min"),
    "case.set": (lambda w, a: change.set_fields(w.app, a, w.key, {"expected_jobs": "3"}),
                 "wang.li", "zhao.min"),
    "case.assign": (lambda w, a: change.assign(w.app, a, w.key, a.handle), "chen.jie",
                    "zhao.min"),
    "case.log": (lambda w, a: work.log_followup(w.app, a, w.key, "contact", note="called"),
                 "wang.li", "zhao.min"),
    "case.revert": (lambda w, a: version_moves.revert(w.app, a, w.key), "office.admin",
                    "wang.li"),
    "task.done": (lambda w, a: work.complete(w.app, a, w.deadline), "chen.jie", "wang.li"),
    "task.snooze": (lambda w, a: work.snooze(w.app, a, w.deadline, date(2026, 3, 20), "abroad"),
                    "chen.jie", "wang.li"),
    "task.reassign": (lambda w, a: work.reassign(w.app, a, w.deadline, a.handle), "wang.li",
                      "sun.hao"),
    "import.cases": (lambda w, a: imports.import_cases(w.app, a, "project_introduction",
                                                       w.cases_csv), "zhao.min", None),
    "import.people": (lambda w, a: imports.import_people(w.app, a, w.people_csv),
                      "office.admin", "wang.li"),
    "read": (lambda w, a: list_cases(w.app), "sun.hao", None),
    "report.requests": (lambda w, a: reports.run(w.app, "requests", Filters(
        period=parse_period("2026")), a), "sun.hao", None),
    "person.add": (lambda w, a: staff.add(w.app, a, "li.na", name="Li Na"), "office.admin",
                   "wang.li"),
    "person.edit": (lambda w, a: staff.edit(w.app, a, "zhao.min", name="Zhao M."),
                    "office.admin", "wang.li"),
    "person.roles": (lambda w, a: staff.edit(w.app, a, "wang.li", add_roles=["director"]),
                     "office.admin", "wang.li"),
    "person.deactivate": (lambda w, a: staff.deactivate(w.app, a, "sun.hao"), "office.admin",
                          "wang.li"),
    "person.reactivate": (lambda w, a: staff.reactivate(w.app, a, "sun.hao"), "office.admin",
                          "wang.li"),
    "person.handover": (lambda w, a: handover.handover(w.app, a, "wang.li", "zhao.min"),
                        "office.admin", "zhao.min"),
    "person.feed_token": (lambda w, a: feeds.rotate_token(w.app, a, "wang.li"), "wang.li",
                          "zhao.min"),
    "person.absence": (lambda w, a: absences.record_absence(
        w.app, a, "wang.li", starts=date(2026, 3, 9), ends=date(2026, 3, 13),
        substitute="zhao.min"), "wang.li", "zhao.min"),
    "token.issue": (lambda w, a: tokens.create(w.app, a, "wang.li"), "office.admin", "wang.li"),
    "token.manage": (lambda w, a: tokens.list_tokens(w.app, a, "wang.li"), "wang.li",
                     "zhao.min"),
    "act.as": (_act_as, "office.admin", "wang.li"),
    "notice.retry": (lambda w, a: ledger.retry_dead(w.app, a), "office.admin", "wang.li"),
    "channel.test": (lambda w, a: channel_test(w.app, a, "file", "wang.li"), "office.admin",
                     "wang.li"),
    "scheduler.tick": (lambda w, a: tick_once(w.app, a, signals=False), "office.admin",
                       "wang.li"),
    "workflow.migrate": (lambda w, a: version_moves.plan(w.app, a, "project_introduction", 1),
                         "office.admin", "wang.li"),
    "replan": (lambda w, a: replan.apply(w.app, a), "office.admin", "wang.li"),
    "audit.verify": (lambda w, a: audit.verify(w.app), "sun.hao", None),
    "audit.checkpoint": (lambda w, a: audit.checkpoint(w.app), "sun.hao", None),
    "enterprise.edit": (lambda w, a: records.add_enterprise(w.app, a, "清能动力"), "zhao.min",
                        "sun.hao"),
    "enterprise.link": (lambda w, a: linking.link_cases(w.app, a), "office.admin", "zhao.min"),
}


def everything(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what a refused call must leave as it was."""
    with app.db.read() as s:
        return {t.name: sorted(tuple(map(repr, r)) for r in s.execute(select(t)))
                for t in METADATA.sorted_tables}


@pytest.fixture
def world(app: App, staff: dict[str, Actor], admin: Actor, tmp_path: Path) -> World:
    return World(app, staff, admin, tmp_path)


def test_the_walk_covers_the_whole_table() -> None:
    assert set(WALK) == set(PERMISSIONS)
    for action, (_, _, refused) in WALK.items():
        # Only an action that is anyone's has no one to refuse.
        assert (refused is None) == (rule_of(action) is Rule.ANYONE), action


@pytest.mark.parametrize("action", sorted(WALK))
def test_the_refused_caller_is_refused_and_writes_nothing(world: World, action: str) -> None:
    call, _, refused = WALK[action]
    if refused is None:
        pytest.skip(f"{action} is anyone's")
    if action == "act.as":
        _login(world, refused)
    before = everything(world.app)
    with pytest.raises(Refused, match=rf"^{refused} may not "):
        call(world, world[refused])
    assert everything(world.app) == before


@pytest.mark.parametrize("action", sorted(WALK))
def test_the_allowed_caller_passes_the_table(world: World, action: str) -> None:
    call, allowed, _ = WALK[action]
    try:
        call(world, world[allowed])
    except TorchflowError as exc:
        # Past the table a use case may still say no for its own reasons (a case
        # never moved cannot be moved back): never that this person may not.
        assert " may not " not in str(exc.text), exc.text
        assert action in ("case.revert", "workflow.migrate"), exc.text


def test_an_allowed_write_leaves_its_mark(world: World) -> None:
    """The walk's allowed calls really run: the owner's note is in the history,
    the director took the case, the admin's person is there."""
    before = everything(world.app)
    for action in ("case.note", "case.assign", "person.add"):
        call, allowed, _ = WALK[action]
        call(world, world[allowed])
    after = everything(world.app)
    assert len(after["case_events"]) == len(before["case_events"]) + 2
    assert len(after["people"]) == len(before["people"]) + 1
    assert after[PERSON_LOGINS.name] == before[PERSON_LOGINS.name]
