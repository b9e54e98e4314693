"""On hold pauses the stage budget: a deadline keeps the working days it had left
when its state was put on hold, and resuming the state (@previous) plans those
from the day of resuming instead of a whole new budget (docs/workflows.md).

project_introduction: a lead opened Wed 4 March 2026 has 10 working days, due
Wed 18 March. Dates by hand from the official calendar (Qingming 4-6 April)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from tests.conftest import PI_FIELDS, Clock
from torchflow.service.app import App
from torchflow.service.cases.change import advance, open_case
from torchflow.service.cases.read import history
from torchflow.service.delivery.sweep import sweep
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, NOTICES, TASKS


def deadlines(app: App, key: str) -> list[Any]:
    with app.db.transaction() as s:
        return list(s.execute(
            select(TASKS).join(CASES, CASES.c.id == TASKS.c.case_id)
            .where(CASES.c.key == key, TASKS.c.rule == "lead.deadline")
            .order_by(TASKS.c.occurrence)))


def last_event(app: App, key: str) -> dict[str, Any]:
    return history(app, key)["events"][-1]


def test_resuming_plans_the_budget_left_before_the_hold(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    key = str(open_case(app, wang, "project_introduction", title="t", fields=PI_FIELDS)["key"])
    clock.set("2026-03-09T10:00:00+08:00")  # Mon: 5, 6 and 9 March used, 7 left
    advance(app, wang, key, "hold")
    [first] = deadlines(app, key)
    assert (first.status, first.budget_left) == ("cancelled", 7)
    assert last_event(app, key)["data"]["budget_left"] == {"lead.deadline": 7}

    clock.set("2026-03-23T10:00:00+08:00")  # two weeks on hold count for nothing
    advance(app, wang, key, "resume")
    _, resumed = deadlines(app, key)
    assert (resumed.status, resumed.due_on) == ("open", date(2026, 4, 1))  # 7 from 23 March
    assert last_event(app, key)["data"]["resumed_budget"] == {"lead.deadline": 7}

    clock.set("2026-03-27T10:00:00+08:00")  # Fri: 24-27 March used, 3 left
    advance(app, wang, key, "hold")
    clock.set("2026-04-08T10:00:00+08:00")  # Wed, after Qingming
    advance(app, wang, key, "resume")
    *_, again = deadlines(app, key)
    assert (again.occurrence, again.due_on) == (3, date(2026, 4, 13))  # 9, 10, 13 April


def test_an_overdue_budget_is_due_the_day_of_resuming_and_escalates_again(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    wang = staff["wang.li"]
    key = str(open_case(app, wang, "project_introduction", title="t", fields=PI_FIELDS)["key"])
    clock.set("2026-03-19T10:00:00+08:00")  # the deadline of the 18th has passed
    advance(app, wang, key, "hold")
    assert deadlines(app, key)[0].budget_left == 0
    clock.set("2026-03-23T10:00:00+08:00")
    advance(app, wang, key, "resume")
    resumed = deadlines(app, key)[-1]
    assert resumed.due_on == date(2026, 3, 23)
    clock.set("2026-03-23T18:00:00+08:00")
    sweep(app)
    with app.db.transaction() as s:
        kinds = sorted(s.scalars(select(NOTICES.c.kind).where(NOTICES.c.task_id == resumed.id)))
    assert kinds == ["escalation", "overdue"]


def test_the_day_of_resuming_does_not_count_against_the_budget(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    """The day of the hold counts as used, the day of resuming does not (as an
    entry day does not): a one-day hold costs the case one working day."""
    wang = staff["wang.li"]
    key = str(open_case(app, wang, "project_introduction", title="t", fields=PI_FIELDS)["key"])
    advance(app, wang, key, "make_contact")  # first_contact: 30 workdays, due 16 April
    clock.set("2026-03-09T10:00:00+08:00")
    advance(app, wang, key, "hold")  # 5, 6, 9 March used: 27 left
    clock.set("2026-03-10T10:00:00+08:00")
    advance(app, wang, key, "resume")  # 27 working days after 10 March: 17 April
    with app.db.transaction() as s:
        due = s.scalars(select(TASKS.c.due_on).where(TASKS.c.rule == "first_contact.deadline")
                        .order_by(TASKS.c.occurrence)).all()
    assert due == [date(2026, 4, 16), date(2026, 4, 17)]
