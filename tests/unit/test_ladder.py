"""A deadline's escalation ladder and its budget by a choice, as pure rules: the
steps' stage times on the 2026 calendar, catch-up after downtime, the file's
checks, and the ledger key of a step."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from msgspec.structs import replace

from tests.conftest import WORKFLOWS
from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.field_values import coerce_value, people_of
from torchflow.domain.loader import parse_workflow, step_roles, validate_text
from torchflow.domain.timeline import notices_due, stage_times, step_index, timeline
from torchflow.errors import InvalidInput
from torchflow.service.delivery.keys import idempotency_key

SHANGHAI = ZoneInfo("Asia/Shanghai")
RQ = (WORKFLOWS / "enterprise_request.toml").read_text(encoding="utf-8")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_steps_fall_at_the_start_of_working_days_after_the_due_day(cal: WorkCalendar) -> None:
    # Due Friday 27 February 2026: D+1 is Saturday 28 February (an adjusted working
    # day), D+5 Thursday 5 March, D+10 Thursday 12 March.
    tl = timeline(cal, kind="deadline", due_on=date(2026, 2, 27), remind=0, steps=(1, 5, 10))
    assert [(stage, kind, at.astimezone(SHANGHAI)) for stage, kind, at in stage_times(tl)] == [
        (2, "due", sh(2026, 2, 27, 9)), (3, "overdue", sh(2026, 2, 27, 18)),
        (4, "escalation", sh(2026, 2, 27, 18)), (5, "step:0", sh(2026, 2, 28, 9)),
        (6, "step:1", sh(2026, 3, 5, 9)), (7, "step:2", sh(2026, 3, 12, 9))]
    assert [step_index(k) for _, k, _ in stage_times(tl)] == [None, None, None, 0, 1, 2]


def test_only_a_deadline_has_steps(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="contact", due_on=date(2026, 2, 27), remind=0, steps=(1,))
    assert tl.steps_at == ()


def test_each_step_once_and_every_one_passed_after_downtime(cal: WorkCalendar) -> None:
    tl = timeline(cal, kind="deadline", due_on=date(2026, 2, 27), remind=0, steps=(1, 5, 10))
    kinds, stage, ahead = notices_due(tl, stage_done=4, now=sh(2026, 2, 28, 10), cal=cal)
    assert (kinds, stage, ahead) == (["step:0"], 5, sh(2026, 3, 5, 9))
    assert notices_due(tl, stage_done=5, now=sh(2026, 3, 4, 10), cal=cal) == (
        [], 5, sh(2026, 3, 5, 9))
    # Off since before the deadline: the latest routine notice, the escalation and
    # every step, in order; nothing ahead after the top step.
    kinds, stage, ahead = notices_due(tl, stage_done=0, now=sh(2026, 3, 16, 10), cal=cal)
    assert (kinds, stage, ahead) == (["overdue", "escalation", "step:0", "step:1", "step:2"],
                                     7, None)
    with pytest.raises(InvalidInput, match=r"0\.\.7"):
        notices_due(tl, stage_done=8, now=sh(2026, 3, 16, 10), cal=cal)


def test_a_step_has_a_ledger_key_of_its_own() -> None:
    common = {"kind": "escalation", "recipient": "chen.jie", "channel": "file", "task_id": 7,
              "occurrence": 1, "due_on": date(2026, 2, 27)}
    assert idempotency_key(**common, step="report") == (
        "task:7:1:escalation:chen.jie:file:2026-02-27:step:report")
    assert idempotency_key(**common) == "task:7:1:escalation:chen.jie:file:2026-02-27"
    with pytest.raises(InvalidInput, match="escalation"):
        idempotency_key(**{**common, "kind": "overdue"}, step="report")


def test_the_shipped_request_budget_follows_its_category() -> None:
    rule = parse_workflow(RQ).states["handling"].deadline
    assert rule is not None and rule.by == "category"
    assert [rule.within_for(f) for f in ({"category": "land"}, {"category": "power"}, {}, None)
            ] == [25, 7, 7, 7]
    assert [(s.step, s.after, s.to) for s in rule.ladder] == [
        ("chase", 1, "coordinator"), ("report", 5, "director"), ("supervise", 10, "director")]


def problems(old: str, new: str) -> list[str]:
    assert old in RQ, old
    return [p.split(": ", 1)[1] for p in validate_text(RQ.replace(old, new, 1), "rq.toml")]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('step = "report"', 'step = "chase"',
     "states.handling.deadline.ladder[1].step: step 'chase' is named twice in the ladder; "
     "give each step its own name"),
    ('after = "5 workdays"', 'after = "5 days"',
     "states.handling.deadline.ladder[1].after: bad duration '5 days': this counts working "
     'days; e.g. "1 workday"'),
    ('title_en = "Chase" }', 'title_en = "Chase", who = "x" }',
     "states.handling.deadline.ladder[0].who: unknown key"),
    ('ladder = [', 'ladder = "chase"\nxladder = [',
     "states.handling.deadline.ladder: wants a list of 1 to 5 steps"),
    ('within_by = { land = "25 workdays" }', 'within_by = { land = "2 workdays" }',
     "states.handling.deadline.within_by.land: must be more than remind (2 workdays)"),
    ('by = "category"\n', 'by = "handler"\n',
     "states.handling.deadline.by: wants the name of a choice field, got 'handler'; choice "
     "fields are: category, satisfaction"),
    ('by = "category"\n', '',
     "states.handling.deadline: by and within_by go together"),
])
def test_a_ladder_or_budget_mistake_is_one_line_naming_its_key(
        old: str, new: str, expected: str) -> None:
    found = problems(old, new)
    assert any(p.startswith(expected) for p in found), found


def test_an_undeclared_role_is_named_with_the_roles_there_are() -> None:
    spec = parse_workflow(RQ.replace('to = "coordinator"', 'to = "coordinatr"'), "rq.toml")
    assert step_roles(spec, frozenset({"coordinator", "director"})) == [
        "rq.toml: states.handling.deadline.ladder[0].to: unknown role 'coordinatr' (did you "
        "mean 'coordinator'?); roles are: coordinator, director"]
    assert step_roles(spec, None) == []  # no roles.toml: nothing to check against


# -- a task for each person of a people field ---------------------------------------


def test_the_shipped_request_gives_each_co_handler_a_part() -> None:
    spec = parse_workflow(RQ)
    assert spec.fields["co_handlers"].type == "people"
    [part] = spec.states["handling"].each
    assert (part.name, part.people, part.within, part.report_to, part.escalate_to) == (
        "handling.co_report", "co_handlers", 3, "handler", "director")
    assert replace(part, who="li.ming").name == "handling.co_report:li.ming"


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('people = "co_handlers"', 'people = "handler"',
     "states.handling.each.co_report.people: wants the name of a people field, got 'handler'; "
     "people fields are: co_handlers"),
    ('report_to = "handler"', 'report_to = "co_handlers"',
     "states.handling.each.co_report.report_to: wants the name of a person field"),
    ('within = "3 workdays"\nremind = "1 workday"', 'within = "1 workday"\nremind = "1 workday"',
     "states.handling.each.co_report.remind: must be less than within (1 workdays)"),
    ('report_to = "handler"\nescalate_to = "director"\n', '',
     "states.handling.each.co_report: wants report_to"),
])
def test_a_part_mistake_is_one_line_naming_its_key(old: str, new: str, expected: str) -> None:
    found = problems(old, new)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(("typed", "stored"), [
    ("李明、周宇", "李明、周宇"), ("li.ming, zhou.yu", "li.ming、zhou.yu"),
    ("li.ming，li.ming；zhou.yu", "li.ming、zhou.yu"), (" li.ming ", "li.ming"),
])
def test_people_are_typed_with_the_office_s_separators(typed: str, stored: str) -> None:
    field = parse_workflow(RQ).fields["co_handlers"]
    assert coerce_value(field, typed) == stored
    assert people_of(stored) == stored.split("、")


def test_more_than_twenty_people_are_refused() -> None:
    field = parse_workflow(RQ).fields["co_handlers"]
    with pytest.raises(InvalidInput, match="names 21 people; at most 20"):
        coerce_value(field, ",".join(f"p{i}" for i in range(21)))
