"""An enterprise's request (企业诉求) walked through every path of the published
loop by the installed `torchflow`, as the office would, with business time set
by TORCHFLOW_NOW and every date checked on the 2026 calendar by hand:

- Spring Festival: 15-23 February off, Saturdays 14 and 28 February worked;
- National Day and Mid-Autumn: 25 September and 1-7 October off, Sunday
  20 September and Saturday 10 October worked.

Paths: straight; returned (退回) and re-assigned; extended (延期, asked a working
day before the deadline, approved by the director); chased up the ladder
(催办 D+1, 通报 D+5, 督办 D+10) to supervision; 不满意 and handled again (重办),
the counts kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.test_subprocess import Torchflow, add_staff

CODE = "91440300708461136T"
ENTERPRISE = "无锡清能动力有限公司"


def at(day: str, hour: str = "10:00") -> dict[str, str]:
    """TORCHFLOW_NOW on ``day`` at ``hour`` in Beijing."""
    return {"TORCHFLOW_NOW": f"{day}T{hour}:00+08:00"}


class Office:
    """The office's people acting on one request through the CLI."""

    def __init__(self, tf: Torchflow) -> None:
        self.tf = tf
        self.key = ""

    def open(self, day: str, category: str, text: str = "申请专变增容") -> str:
        self.key = str(self.tf.json("request", "open", CODE, text, "--category", category,
                                    as_="wang.li", env=at(day))["key"])
        return self.key

    def act(self, who: str, day: str, what: str, *fields: str, hour: str = "10:00") -> Any:
        args = [a for pair in fields for a in ("--field", pair)]
        return self.tf.json("case", "advance", self.key, what, *args, as_=who,
                            env=at(day, hour))

    def refused(self, who: str, day: str, what: str, *fields: str) -> str:
        args = [a for pair in fields for a in ("--field", pair)]
        return self.tf.refused("case", "advance", self.key, what, *args, as_=who, env=at(day))

    def due(self, day: str) -> tuple[str, str, str]:
        """(state, the open deadline's due day, whose it is)."""
        state = self.tf.json("case", "show", self.key, env=at(day, "18:30"))["state"]
        tasks = self.tf.json("task", "list", "--kind", "deadline", env=at(day, "18:30"))
        [task] = [t for t in tasks["items"] if t["case"] == self.key]
        return state, task["due_on"], task["assignee"]

    def fields(self, day: str) -> dict[str, Any]:
        return dict(self.tf.json("case", "show", self.key, env=at(day, "18:30"))["fields"])

    def tick(self, day: str, hour: str = "09:30") -> None:
        self.tf.ok("scheduler", "tick", env=at(day, hour))

    def steps(self, day: str) -> list[tuple[str, str, str]]:
        """(step, role, day) of each ladder step in the case's history."""
        events = self.tf.json("case", "history", self.key, env=at(day, "18:30"))["events"]
        return [(e["data"]["step"], e["data"]["to"], e["at"][:10]) for e in events
                if e["kind"] == "deadline_step"]


@pytest.fixture
def office(tf: Torchflow) -> Office:
    add_staff(tf)
    tf.ok("enterprise", "add", ENTERPRISE, "--code", CODE, "--coordinator", "wang.li",
          as_="wang.li")
    return Office(tf)


def test_straight_over_the_spring_festival(office: Office) -> None:
    office.open("2026-02-12", "policy", "高企认定政策咨询")
    # Accepted Thursday 12 Feb: assigned within a working day, Friday 13 Feb.
    assert office.due("2026-02-12") == ("accepted", "2026-02-13", "wang.li")
    office.act("wang.li", "2026-02-13", "交办", "lead_unit=市科技局", "handler=sun.hao")
    # Signed for within a working day: Saturday 14 Feb is an adjusted working day.
    assert office.due("2026-02-13") == ("assigned", "2026-02-14", "sun.hao")
    office.act("sun.hao", "2026-02-14", "签收")
    # 7 working days from Saturday 14 Feb: 24, 25, 26, 27 Feb, Saturday 28 Feb
    # (worked), 2 and 3 March; the break of 15-23 Feb does not count.
    assert office.due("2026-02-14") == ("handling", "2026-03-03", "sun.hao")
    office.act("sun.hao", "2026-03-02", "答复", "answer=已解读政策并指导申报")
    assert office.due("2026-03-02") == ("answered", "2026-03-03", "wang.li")
    office.act("wang.li", "2026-03-03", "回访", "satisfaction=满意")
    assert office.due("2026-03-03") == ("called_back", "2026-03-05", "wang.li")
    assert office.act("wang.li", "2026-03-03", "销号")["to_state"] == "closed"
    assert office.fields("2026-03-03").get("returns") is None  # nothing returned
    office.tick("2026-03-20")
    assert office.steps("2026-03-20") == []  # on time: no ladder


def test_returned_and_reassigned_over_national_day(office: Office) -> None:
    office.open("2026-09-28", "permit", "环评审批提速")
    office.act("wang.li", "2026-09-28", "交办", "lead_unit=市生态环境局", "handler=sun.hao")
    assert office.due("2026-09-28") == ("assigned", "2026-09-29", "sun.hao")
    line = office.refused("sun.hao", "2026-09-29", "退回")
    assert "return_reason" in line
    office.act("sun.hao", "2026-09-29", "退回", "return_reason=属市行政审批局职责")
    # Re-decided within a working day: Wednesday 30 September.
    assert office.due("2026-09-29") == ("returned", "2026-09-30", "wang.li")
    office.act("wang.li", "2026-09-30", "重新交办", "lead_unit=市行政审批局",
               "co_handlers=liu.yang，Zhao Min")
    # Signed for within a working day: 1-7 October are off, Thursday 8 October.
    assert office.due("2026-09-30") == ("assigned", "2026-10-08", "sun.hao")
    office.act("sun.hao", "2026-10-08", "签收")
    # 7 working days from Thursday 8 October: 9, Saturday 10 (worked), 12-16 October.
    assert office.due("2026-10-08") == ("handling", "2026-10-16", "sun.hao")
    assert office.fields("2026-10-08")["returns"] == 1
    # Each co-handler reports to the lead within 3 working days of signing: 9 Oct,
    # Saturday 10 Oct (worked), Monday 12 October; a task each, done by each.
    parts = office.tf.json("task", "list", "--kind", "each", env=at("2026-10-08", "18:30"))
    assert sorted((t["assignee"], t["due_on"]) for t in parts["items"]) == [
        ("liu.yang", "2026-10-12"), ("zhao.min", "2026-10-12")]
    mine = next(t for t in parts["items"] if t["assignee"] == "liu.yang")
    office.tf.json("task", "done", mine["id"], "--note", "协办意见已报送", as_="liu.yang",
                   env=at("2026-10-09"))
    office.tick("2026-10-12", "18:30")  # Zhao Min's is overdue: the lead handler is told
    notices = office.tf.json("notice", "list", env=at("2026-10-12", "18:45"))["items"]
    late = next(t["id"] for t in parts["items"] if t["assignee"] == "zhao.min")
    assert sorted((n["kind"], n["to"]) for n in notices
                  if n["key"].startswith(f"task:{late}:")) == [
        ("escalation", "sun.hao"), ("overdue", "zhao.min")]
    office.act("sun.hao", "2026-10-15", "答复", "answer=已开通绿色通道")
    office.act("wang.li", "2026-10-16", "回访", "satisfaction=基本满意")
    assert office.act("wang.li", "2026-10-16", "办结")["to_state"] == "closed"


def test_a_land_request_extended_by_the_director(office: Office) -> None:
    office.open("2026-09-11", "用地", "扩产需新增用地30亩")
    office.act("wang.li", "2026-09-11", "交办", "lead_unit=市自然资源和规划局",
               "handler=sun.hao")
    office.act("sun.hao", "2026-09-14", "签收")
    # A land request has 25 working days (its category's budget) from Monday 14
    # September: 15-18 Sep, Sunday 20 Sep (worked), 21-24 Sep, 28-30 Sep (25 Sep is
    # Mid-Autumn), 8-9 Oct, Saturday 10 Oct (worked), 12-16 and 19-23 October.
    assert office.due("2026-09-14") == ("handling", "2026-10-23", "sun.hao")
    # Asked a working day before the deadline (Thursday 22 Oct) for Sunday 8 Nov.
    office.act("sun.hao", "2026-10-22", "申请延期", "extended_to=2026-11-08")
    # The director decides within a working day (the owner is told of it).
    assert office.due("2026-10-22") == ("extension_requested", "2026-10-23", "wang.li")
    line = office.refused("wang.li", "2026-10-22", "批准延期")
    assert "role director" in line
    office.act("chen.jie", "2026-10-22", "批准延期", hour="15:00")
    # The date granted is a Sunday: the deadline falls on the next working day.
    assert office.due("2026-10-22") == ("handling", "2026-11-09", "sun.hao")
    assert office.fields("2026-10-22")["extensions"] == 1
    # No ladder on the old date: the deadline moved.
    office.tick("2026-10-26")
    assert office.steps("2026-10-26") == []
    office.act("sun.hao", "2026-11-06", "答复", "answer=已纳入第二批供地计划")
    office.act("wang.li", "2026-11-09", "回访", "satisfaction=满意")
    assert office.act("wang.li", "2026-11-09", "办结")["to_state"] == "closed"


def test_chased_up_the_ladder_to_supervision_then_handled_again(office: Office) -> None:
    office.open("2026-02-10", "other", "企业反映道路积水影响物流")
    office.act("wang.li", "2026-02-10", "交办", "lead_unit=市住建局", "handler=sun.hao")
    office.act("sun.hao", "2026-02-11", "签收")
    # 7 working days from Wednesday 11 Feb: 12, 13, Saturday 14 (worked), 24-27 Feb.
    assert office.due("2026-02-11") == ("handling", "2026-02-27", "sun.hao")
    # An extension asked on the deadline's own day is too late: one line, nothing written.
    line = office.refused("sun.hao", "2026-02-27", "申请延期", "extended_to=2026-03-13")
    assert "at least 1 working day before the deadline" in line
    office.tick("2026-02-27", "18:30")  # overdue and escalated to the director
    assert office.steps("2026-02-27") == []
    # D+1: Saturday 28 February is a working day: 催办, to the coordinators.
    office.tick("2026-02-28")
    office.tick("2026-02-28", "11:00")  # a second tick takes nothing twice
    assert office.steps("2026-02-28") == [("chase", "coordinator", "2026-02-28")]
    # D+5: 2, 3, 4, 5 March: 通报 on Thursday 5 March, to the director.
    office.tick("2026-03-04")
    assert len(office.steps("2026-03-04")) == 1
    office.tick("2026-03-05")
    # D+10: 6, 9, 10, 11, 12 March: 督办 on Thursday 12 March, to the director.
    office.tick("2026-03-12")
    office.tick("2026-03-12", "16:00")
    assert office.steps("2026-03-12") == [("chase", "coordinator", "2026-02-28"),
                                          ("report", "director", "2026-03-05"),
                                          ("supervise", "director", "2026-03-12")]
    notices = office.tf.json("notice", "list", env=at("2026-03-12", "18:30"))["items"]
    steps = sorted((n["to"], n["key"].rsplit(":", 1)[1], n["subject"].split(": ", 1)[1])
                   for n in notices if n["kind"] == "escalation" and ":step:" in n["key"])
    assert steps == [
        ("chen.jie", "report", "Report 5 working days overdue (due 2026-02-27)"),
        ("chen.jie", "supervise", "Supervision 10 working days overdue (due 2026-02-27)"),
        ("wang.li", "chase", "Chase 1 working day overdue (due 2026-02-27)"),
        ("zhao.min", "chase", "Chase 1 working day overdue (due 2026-02-27)"),
    ]
    # The director records the supervision: 3 working days, to Tuesday 17 March.
    office.act("chen.jie", "2026-03-12", "督办", hour="17:00")
    assert office.due("2026-03-12") == ("supervised", "2026-03-17", "sun.hao")
    office.tick("2026-03-20")
    assert len(office.steps("2026-03-20")) == 3  # the ladder ended with the state

    office.act("sun.hao", "2026-03-13", "答复", "answer=已完成排水改造")
    office.act("wang.li", "2026-03-16", "回访", "satisfaction=不满意")
    line = office.refused("wang.li", "2026-03-16", "办结")
    assert "only when" in line
    office.act("wang.li", "2026-03-16", "重办", hour="11:00")
    # Handled again: 7 working days from Monday 16 March, to Wednesday 25 March.
    assert office.due("2026-03-16") == ("handling", "2026-03-25", "sun.hao")
    office.act("sun.hao", "2026-03-20", "答复", "answer=已加装截水沟")
    office.act("wang.li", "2026-03-23", "回访", "satisfaction=不满意")
    office.act("wang.li", "2026-03-23", "重办", hour="11:00")
    office.act("sun.hao", "2026-03-24", "答复", "answer=已整体翻修路面")
    office.act("wang.li", "2026-03-24", "回访", "satisfaction=满意", hour="15:00")
    assert office.act("wang.li", "2026-03-24", "办结", hour="16:00")["to_state"] == "closed"
    assert office.fields("2026-03-24")["rehandles"] == 2  # the count kept across re-handlings
    assert office.tf.json("audit", "verify", env=at("2026-03-24", "18:30"))["ok"] is True


@pytest.fixture
def tf(config_file: Path, tmp_path: Path) -> Torchflow:
    return Torchflow(config_file, tmp_path)
