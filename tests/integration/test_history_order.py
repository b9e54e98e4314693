"""History stays in time order: a write dated before a case's newest event
(TORCHFLOW_NOW set back) is refused with one line, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, Clock
from torchflow.errors import Refused
from torchflow.service.app import App
from torchflow.service.cases.change import add_note, advance, assign, open_case, set_fields
from torchflow.service.cases.read import history
from torchflow.service.followups import work as tasks
from torchflow.service.people.handover import handover
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, EVENTS, NOTICES, TASKS

LATER = "2026-03-04T11:00:00+08:00"
EARLIER = "2026-03-04T10:59:59.999999+08:00"


def open_task(app: App, key: str) -> int:
    with app.db.transaction() as s:
        return s.scalar(select(func.min(TASKS.c.id)).select_from(TASKS.join(CASES))
                        .where(CASES.c.key == key, TASKS.c.status == "open"))


WRITES: dict[str, Callable[[App, dict[str, Actor], str], Any]] = {
    "advance": lambda app, staff, key: advance(app, staff["wang.li"], key, "negotiate",
                                               fields={"contact_person": "李总"}),
    "note": lambda app, staff, key: add_note(app, staff["wang.li"], key, "备注"),
    "set": lambda app, staff, key: set_fields(app, staff["wang.li"], key,
                                              {"contact_person": "李总"}),
    "assign": lambda app, staff, key: assign(app, staff["wang.li"], key, "zhao.min"),
    "contact": lambda app, staff, key: tasks.log_followup(app, staff["wang.li"], key,
                                                          "contact"),
    "task done": lambda app, staff, key: tasks.complete(app, staff["wang.li"],
                                                        open_task(app, key)),
    "task reassign": lambda app, staff, key: tasks.reassign(app, staff["wang.li"],
                                                            open_task(app, key), "zhao.min"),
    "handover": lambda app, staff, key: handover(app, OFFICE_ADMIN, "wang.li", "zhao.min"),
}


def rows(app: App) -> tuple[Any, ...]:
    with app.db.transaction() as s:
        return tuple(
            tuple(s.execute(select(t).order_by(*t.primary_key.columns)).all())
            for t in (CASES, EVENTS, TASKS, NOTICES)
        )


@pytest.fixture
def changed_at_eleven(app: App, staff: dict[str, Actor], clock: Clock) -> str:
    clock.set("2026-03-04T09:00:00+08:00")
    key = open_case(app, staff["wang.li"], "project_introduction", title="时间",
                    fields=PI_FIELDS)["key"]
    clock.set(LATER)
    advance(app, staff["wang.li"], key, "make_contact")
    return key


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_dated_before_the_last_change_is_refused(
    app: App, staff: dict[str, Actor], clock: Clock, changed_at_eleven: str, write: str
) -> None:
    key = changed_at_eleven
    before = rows(app)
    clock.set(EARLIER)
    with pytest.raises(Refused) as exc:
        WRITES[write](app, staff, key)
    assert str(exc.value) == (
        f"case {key} last changed at 2026-03-04T03:00:00+00:00; now is earlier "
        "(2026-03-04T02:59:59.999999+00:00): set TORCHFLOW_NOW to that time or later, "
        "or unset it"
    )
    assert rows(app) == before  # refused before anything was written
    clock.set(LATER)  # the same instant is in order
    WRITES[write](app, staff, key)
    stamps = [e["at"] for e in history(app, key)["events"]]
    assert stamps == sorted(stamps)
