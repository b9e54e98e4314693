"""Duties on dates in the shipped enterprise cultivation (version 3): the annual
report by 31 May each year, re-certification three years after the certificate's
date, a change of name reported within three months; planned across years,
re-planned when their date field changes, missed and escalated after two years in
a row, and kept right when open cases move from version 2.

Dates by hand from the official 2026 calendar (the State Council notice of 4
November 2025: 1-5 May, 1-7 October off; 28 February, 9 May, 20 September and
10 October worked). 2027 has no official schedule in the installed data yet: its
dates are the statutory fallback's (docs/calendar.md); those used here are
ordinary weekdays either way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import WORKFLOWS, Clock, app_with_workflow
from torchflow.config import Settings
from torchflow.domain.loader import load_file, parse_workflow
from torchflow.service.app import App
from torchflow.service.audit.verify import verify
from torchflow.service.cases.change import advance, open_case, set_fields
from torchflow.service.cases.read import history, show_case
from torchflow.service.delivery.sweep import sweep
from torchflow.service.followups.work import complete
from torchflow.service.people.lookup import Actor
from torchflow.service.sheets.imports import import_cases
from torchflow.service.workflows import version_moves as vm
from torchflow.store.models import CASES, NOTICES, PEOPLE, TASKS

EC = "enterprise_cultivation.toml"
EC_FIELDS = {"enterprise": "睿芯半导体", "credit_code": "91320214MA1XXXXXX1",
             "tech_field": "电子信息"}


def tasks(app: App, key: str, status: str | None = "open") -> dict[str, Any]:
    """The case's tasks by rule (the latest occurrence of each)."""
    with app.db.transaction() as s:
        query = (select(TASKS).join(CASES, CASES.c.id == TASKS.c.case_id)
                 .where(CASES.c.key == key).order_by(TASKS.c.occurrence))
        if status:
            query = query.where(TASKS.c.status == status)
        return {r.rule: r for r in s.execute(query)}


def rows_of(app: App, key: str, rule: str) -> list[Any]:
    with app.db.transaction() as s:
        return list(s.execute(
            select(TASKS).join(CASES, CASES.c.id == TASKS.c.case_id)
            .where(CASES.c.key == key, TASKS.c.rule == rule).order_by(TASKS.c.occurrence)))


def notices_to(app: App, task_id: int) -> list[tuple[str, str]]:
    with app.db.transaction() as s:
        return [(r.kind, r.handle) for r in s.execute(
            select(NOTICES.c.kind, PEOPLE.c.handle)
            .join(PEOPLE, PEOPLE.c.handle == NOTICES.c.recipient)
            .where(NOTICES.c.task_id == task_id).order_by(NOTICES.c.id))]


def events(app: App, key: str, kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in history(app, key)["events"] if e["kind"] == kind]


def certify(app: App, staff: dict[str, Actor], certified_on: str, **extra: str) -> str:
    wang, liu = staff["wang.li"], staff["liu.yang"]
    key = open_case(app, wang, "enterprise_cultivation", title="睿芯半导体培育",
                    fields=EC_FIELDS)["key"]
    advance(app, wang, key, "diagnose")
    advance(app, wang, key, "coach", fields={"mentor": "sun.hao"})
    advance(app, wang, key, "apply", fields={"revenue": "8000", "rd_ratio": "6.2",
                                             "ip_count": "12"})
    advance(app, wang, key, "send_to_review", fields={"application_no": "GR2026-001"})
    advance(app, liu, key, "certify", fields={"certificate_no": "GR202332000123",
                                              "certified_on": certified_on, **extra})
    return key


def test_certified_plans_the_annual_report_and_the_re_certification(
    app: App, staff: dict[str, Actor]
) -> None:
    # Certified on Sat 3 October 2023: three years on is Sat 3 October 2026, inside
    # National Day (1-7 October off): due the last working day before, Wed 30 Sep.
    key = certify(app, staff, "2023-10-03")
    open_ = tasks(app, key)
    assert open_["certified.deadline"].due_on == date(2026, 9, 30)
    # 31 May 2026 is a Sunday: due Friday 29 May (the office's last working day).
    assert open_["certified.annual_report"].due_on == date(2026, 5, 29)
    assert open_["certified.annual_report"].kind == "duty"
    assert open_["certified.annual_report"].escalate_to == "director"
    # No change of name: no such duty until the date is known.
    assert "certified.name_change" not in open_
    assert show_case(app, key)["state"] == "certified"


def test_a_change_of_name_is_planned_re_planned_and_dropped_with_its_date(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = certify(app, staff, "2025-12-01")
    wang = staff["wang.li"]
    set_fields(app, wang, key, {"name_changed_on": "2026-03-02"})
    first = tasks(app, key)["certified.name_change"]
    assert first.due_on == date(2026, 6, 2)  # three months on, a Tuesday
    assert events(app, key, "fields_set")[-1]["planned"] == {
        "certified.name_change": {"field": "name_changed_on", "due_on": "2026-06-02"}}
    # Corrected to Sat 28 Feb (a worked Saturday): 28 May, a Thursday.
    set_fields(app, wang, key, {"name_changed_on": "2026-02-28"})
    again = tasks(app, key)["certified.name_change"]
    assert (again.id, again.due_on) == (first.id, date(2026, 5, 28))
    assert events(app, key, "fields_set")[-1]["replanned"] == {
        "certified.name_change": {"field": "name_changed_on", "from": "2026-06-02",
                                  "to": "2026-05-28"}}
    # Reported: done. A second change of name later is a new duty of its own.
    complete(app, wang, again.id, note="已向认定机构报告")
    assert "certified.name_change" not in tasks(app, key)
    clock.set("2026-07-01T10:00:00+08:00")
    set_fields(app, wang, key, {"name_changed_on": "2026-06-30"})
    second = tasks(app, key)["certified.name_change"]
    assert (second.occurrence, second.due_on) == (2, date(2026, 9, 30))
    # Emptied (entered by mistake): the duty is cancelled.
    set_fields(app, wang, key, {"name_changed_on": ""})
    assert "certified.name_change" not in tasks(app, key)
    assert rows_of(app, key, "certified.name_change")[-1].status == "cancelled"


def test_the_re_certification_is_re_planned_when_the_certificate_date_is_corrected(
    app: App, staff: dict[str, Actor]
) -> None:
    key = certify(app, staff, "2023-10-03")
    # Wed 29 Feb 2024 (a leap day) + 3 years: 28 February 2027, a Sunday: Fri 26 Feb.
    set_fields(app, staff["wang.li"], key, {"certified_on": "2024-02-29"})
    assert tasks(app, key)["certified.deadline"].due_on == date(2027, 2, 26)


def test_an_annual_report_done_early_plans_next_years(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = certify(app, staff, "2025-12-01")
    clock.set("2026-04-10T10:00:00+08:00")
    report = tasks(app, key)["certified.annual_report"]
    done = complete(app, staff["wang.li"], report.id, note="已填报2025年度报表")
    # Next year's, not this year's again: 31 May 2027, a Monday.
    assert done["next"] == {"occurrence": 2, "due_on": "2027-05-31"}
    assert rows_of(app, key, "certified.annual_report")[0].outcome_kind == "on_time"


def test_two_missed_annual_reports_escalate_to_the_director_and_move_nothing(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = certify(app, staff, "2025-12-01")
    first = tasks(app, key)["certified.annual_report"]
    # Fri 29 May, end of the working day: overdue, to the coordinator.
    clock.set("2026-05-29T18:30:00+08:00")
    sweep(app)
    assert notices_to(app, first.id)[-1] == ("overdue", "wang.li")
    # Not missed over the weekend; missed at the start of Monday 1 June.
    clock.set("2026-05-31T12:00:00+08:00")
    sweep(app)
    assert tasks(app, key)["certified.annual_report"].id == first.id
    clock.set("2026-06-01T09:30:00+08:00")
    sweep(app)
    rows = rows_of(app, key, "certified.annual_report")
    assert [(r.occurrence, r.status, r.due_on) for r in rows] == [
        (1, "missed", date(2026, 5, 29)), (2, "open", date(2027, 5, 31))]
    missed = events(app, key, "duty_missed")
    assert missed == [{"task": first.id, "rule": "certified.annual_report",
                       "missed": [{"occurrence": 1, "due_on": "2026-05-29"}],
                       "next": {"occurrence": 2, "due_on": "2027-05-31"},
                       "missed_in_row": 1}]
    assert ("escalation", "chen.jie") not in notices_to(app, first.id)
    # A second year missed: the director is told, once; the case stays certified.
    clock.set("2027-06-01T09:30:00+08:00")
    sweep(app)
    sweep(app)
    second = rows_of(app, key, "certified.annual_report")[1]
    assert second.status == "missed"
    assert notices_to(app, second.id).count(("escalation", "chen.jie")) == 1
    assert events(app, key, "duty_missed")[-1]["missed_in_row"] == 2
    assert events(app, key, "duty_missed")[-1]["escalated_to"] == "director"
    assert show_case(app, key)["state"] == "certified"
    assert rows_of(app, key, "certified.annual_report")[-1].due_on == date(2028, 5, 31)
    assert all(r["ok"] for r in verify(app))


def test_years_missed_during_downtime_are_each_recorded(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    key = certify(app, staff, "2025-12-01")
    clock.set("2028-06-05T10:00:00+08:00")  # the service was off for two years
    sweep(app)
    rows = rows_of(app, key, "certified.annual_report")
    assert [(r.status, r.due_on) for r in rows] == [
        ("missed", date(2026, 5, 29)), ("missed", date(2027, 5, 31)),
        ("missed", date(2028, 5, 31)), ("open", date(2029, 5, 31))]
    # One roll, one escalation (two in a row reached once, then three).
    assert events(app, key, "duty_missed")[-1]["missed_in_row"] == 3
    assert notices_to(app, rows[0].id).count(("escalation", "chen.jie")) == 1


# --------------------------------------------------------------------------- version 2 -> 3


def as_version_2(text: str) -> str:
    """The shipped file as version 2 had it: no duties, no change-of-name date, the
    re-certification as a budget of 680 working days from the entry."""
    text = re.sub(r"(?ms)^\[states\.\w+\.duties\.\w+\]\n.*?\n\n", "", text + "\n")
    text = re.sub(r'(?ms)^\[fields\.name_changed_on\]\n.*?\n\n', "", text)
    text = re.sub(r'(?m)^(title_en = "Certified on"\n)help = .*\nhelp_en = .*\n', r"\1", text)
    text = text.replace(
        'deadline = { from = "certified_on", after = "3 years", escalate_to = "director", '
        'remind = "60 workdays" }',
        'deadline = { within = "680 workdays", escalate_to = "director", remind = "40 workdays" }')
    return re.sub(r"(?m)^version = 3$", "version = 2", text)


@pytest.fixture
def v2_app(settings: Settings, clock: Clock, tmp_path: Path) -> Iterator[App]:
    with app_with_workflow(settings, clock, tmp_path / "workflows-v2", EC, as_version_2) as app:
        yield app


def test_version_2_is_version_3_without_the_duties() -> None:
    old = parse_workflow(as_version_2((WORKFLOWS / EC).read_text(encoding="utf-8")))
    new = load_file(WORKFLOWS / EC)
    assert (old.version, new.version) == (2, 3)
    # Exactly the content shipped as version 2 (its digest), which databases store.
    assert old.digest == "d6a25147f4603959c6ed0d8ed0f5d189f366a5f6d9879d23a97003acb332c675"
    assert set(new.fields) - set(old.fields) == {"name_changed_on"}
    assert all(not s.duties for s in old.states.values())
    assert old.states["certified"].deadline.within == 680
    assert [s for s in new.states if new.states[s].duties] == ["certified", "re_examination"]


def test_certified_cases_on_version_2_move_to_3_and_get_their_duties(
    v2_app: App, app: App, staff: dict[str, Actor], admin: Actor
) -> None:
    key = certify(v2_app, staff, "2023-10-03")
    assert show_case(app, key)["version"] == 2
    assert set(tasks(app, key)) == {"certified.contact", "certified.visit",
                                    "certified.deadline"}
    plan = vm.plan(app, admin, "enterprise_cultivation", 3)
    by_rule = {t["rule"]: t for t in vm.plan_view(plan)["cases"][0]["tasks"]}
    assert by_rule["certified.deadline"]["action"] == "re-planned"
    assert by_rule["certified.deadline"]["new_due"] == "2026-09-30"
    assert by_rule["certified.annual_report"]["action"] == "new"
    assert by_rule["certified.annual_report"]["new_due"] == "2026-05-29"
    assert "certified.name_change" not in by_rule  # no date, no duty
    assert all(o.ok for o in vm.apply(app, admin, plan))
    after = tasks(app, key)
    assert show_case(app, key)["version"] == 3
    assert after["certified.deadline"].due_on == date(2026, 9, 30)
    assert after["certified.annual_report"].due_on == date(2026, 5, 29)
    assert after["certified.contact"].id == tasks(v2_app, key)["certified.contact"].id
    assert all(r["ok"] for r in verify(app))


def test_a_duty_waiting_for_its_date_is_not_said_to_count_from_the_entry(
    app: App, staff: dict[str, Actor]
) -> None:
    key = certify(app, staff, "2025-12-01")
    counted = [e for e in events(app, key, "advanced") if "counted_from" in e][-1]
    assert counted["counted_from"] == {
        "certified.deadline": {"field": "certified_on", "on": "2025-12-01"}}


def test_imported_certified_enterprises_get_their_duties(
    app: App, staff: dict[str, Actor], tmp_path: Path
) -> None:
    sheet = tmp_path / "高企台账.csv"
    sheet.write_text(
        "外部编号,标题,负责人,状态,进入状态日期,企业名称,统一社会信用代码,技术领域,认定日期,更名日期\n"
        "GQ-1,睿芯半导体,wang.li,认定,2025-12-01,睿芯半导体,91320214MA1XXXXXX1,电子信息,"
        "2025-12-01,\n"
        "GQ-2,星河新材料,wang.li,认定,2024-11-20,星河新材料,91320214MA1YYYYYY2,新材料,"
        "2024-11-20,2026-02-28\n", encoding="utf-8")
    # Certified matters are the director's to record (issue 14: an import row needs the
    # roles of the transitions into its state).
    import_cases(app, staff["chen.jie"], "enterprise_cultivation", sheet)
    with app.db.transaction() as s:
        keys = dict(s.execute(select(CASES.c.external_ref, CASES.c.key)).all())
    first, second = tasks(app, keys["GQ-1"]), tasks(app, keys["GQ-2"])
    assert first["certified.annual_report"].due_on == date(2026, 5, 29)
    assert "certified.name_change" not in first  # no change of name, no duty
    assert second["certified.name_change"].due_on == date(2026, 5, 28)
    assert second["certified.deadline"].due_on == date(2027, 11, 19)  # 20 Nov 2027 a Saturday
