"""The calendar against a real database: catch-up after an outage ending on a
day off, and `calendar check` reading the years of open tasks."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.conftest import PI_FIELDS, Clock
from torchflow.config import load_settings
from torchflow.service.app import App, build_app
from torchflow.service.calendar import schedules as service
from torchflow.service.cases.change import open_case
from torchflow.service.delivery.sweep import sweep
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, NOTICES, TASKS

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A made-up 2027 schedule: the statutory days, days in lieu, two worked Saturdays.
FIXTURE_2027 = """\
year = 2027
source = "TEST FIXTURE, not the State Council notice"
days_off = [2027-01-01, 2027-02-05, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09,
            2027-02-10, 2027-04-05, 2027-05-01, 2027-05-02, 2027-05-03, 2027-05-04,
            2027-06-09, 2027-09-15, 2027-10-01, 2027-10-02, 2027-10-03, 2027-10-04,
            2027-10-05]
worked_weekends = [2027-02-20, 2027-10-09]
"""


def lead_deadline(app: App, key: str) -> tuple[int, date]:
    with app.db.transaction() as s:
        row = s.execute(select(TASKS.c.id, TASKS.c.due_on).join(CASES)
                        .where(CASES.c.key == key, TASKS.c.rule == "lead.deadline")).one()
    return row.id, row.due_on


def notices_of(app: App, task_id: int) -> list[tuple[str, datetime]]:
    with app.db.transaction() as s:
        return [(r.kind, r.created_at) for r in s.execute(
            select(NOTICES.c.kind, NOTICES.c.created_at).where(NOTICES.c.task_id == task_id)
            .order_by(NOTICES.c.id))]


def test_an_outage_ending_on_a_day_off_notifies_on_the_next_working_day(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    clock.set("2026-01-29T10:00:00+08:00")
    key = str(open_case(app, staff["wang.li"], "project_introduction", title="Hydrogen",
                        fields=PI_FIELDS)["key"])
    task_id, due = lead_deadline(app, key)
    assert due == date(2026, 2, 12)
    clock.set("2026-02-11T10:00:00+08:00")
    sweep(app)
    assert [k for k, _ in notices_of(app, task_id)] == ["upcoming"]
    # Off-line 12 to 23 February; the 23rd is a day off of the Spring Festival break.
    clock.set("2026-02-23T10:00:00+08:00")
    sweep(app)
    assert [k for k, _ in notices_of(app, task_id)] == ["upcoming"]
    with app.db.transaction() as s:
        ahead = s.scalar(select(TASKS.c.next_notice_at).where(TASKS.c.id == task_id))
    assert ahead == datetime(2026, 2, 24, 9, tzinfo=SHANGHAI)
    clock.set("2026-02-24T09:00:00+08:00")
    sweep(app)
    kinds = [k for k, _ in notices_of(app, task_id)]
    assert kinds[0] == "upcoming" and sorted(set(kinds[1:])) == ["escalation", "overdue"]


def test_check_names_the_years_of_open_tasks_without_official_data(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    clock.set("2026-12-28T10:00:00+08:00")
    for title in ("a", "b"):
        open_case(app, staff["wang.li"], "project_introduction", title=title, fields=PI_FIELDS)
    assert service.open_task_years(app) == {2027: 2}
    report = service.check(app, date(2026, 12, 28))
    assert not report["ok"]
    assert [(r["year"], r["open_tasks"]) for r in report["missing"]] == [(2027, 2)]
    assert report["missing"][0]["todo"].startswith("2027: no official working-day schedule "
                                                   "(2 open task(s) due then)")


def test_check_passes_with_an_office_schedule(
    app: App, staff: dict[str, Actor], clock: Clock, config_file: Path
) -> None:
    (config_file.parent / "cn-2027.toml").write_text(FIXTURE_2027, encoding="utf-8")
    with config_file.open("a", encoding="utf-8") as f:
        f.write('\n[calendar]\nofficial = ["cn-2027.toml"]\n')
    clock.set("2026-12-28T10:00:00+08:00")
    office = build_app(load_settings(config_file, env={}), clock=clock)
    try:
        open_case(office, staff["wang.li"], "project_introduction", title="a", fields=PI_FIELDS)
        report = service.check(office, date(2026, 12, 28))
        assert report["ok"], report
        assert [(r["year"], r["source"]) for r in report["years"]] == [
            (2026, "official"), (2027, "office"), (2028, "statutory"),
        ]
        # 2028 is within 13 months, but its notice is not due before December 2027.
        assert [r["year"] for r in report["pending"]] == [2028]
        assert service.check(office, date(2027, 11, 30))["ok"]
        december = service.check(office, date(2027, 12, 1))
        assert not december["ok"] and [r["year"] for r in december["missing"]] == [2028]
    finally:
        office.close()


def test_talent_docking_cases_of_late_december_stay_off_2027_holidays(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    # The database-backed variant of tests/unit/test_calendar_heldout.py, small:
    # cases opened and matched on the last days of 2026, as the service plans them.
    from tests.unit.test_calendar_heldout import HOLIDAYS_2027
    from torchflow.service.cases.change import advance

    fields = {"enterprise": "Qingneng", "position": "engineer", "expertise": "fuel cells"}
    for day in range(21, 32):
        clock.set(f"2026-12-{day}T10:00:00+08:00")
        key = str(open_case(app, staff["wang.li"], "talent_docking", title=f"d{day}",
                            fields=fields)["key"])
        advance(app, staff["wang.li"], key, "match")
    with app.db.transaction() as s:
        due = s.execute(select(TASKS.c.rule, TASKS.c.due_on, TASKS.c.next_notice_at)
                        .where(TASKS.c.status == "open")).all()
    assert len(due) == 22
    assert [r for r in due if r.due_on in HOLIDAYS_2027] == []
    assert date(2027, 2, 9) not in {r.due_on for r in due}  # a day in lieu, estimated
    assert [r for r in due if r.next_notice_at is not None
            and r.next_notice_at.astimezone(SHANGHAI).date() in HOLIDAYS_2027] == []
