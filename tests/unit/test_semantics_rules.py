"""Follow-up semantics in the pure core: the workflow keys escalate_after /
escalate_to on a contact, `from` (a date field) and `assignee` (a person field)
on any rule, the roll of a missed contact and on-time / late outcomes.

Dates are written out by hand from the official 2026 calendar (Qingming 4-6
April off; Labour Day 1-5 May off), not recomputed with the code under test."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.unit.test_workflow_spec import BASE, edit, write
from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.loader import load_file, parse_workflow
from torchflow.domain.planning import (
    budget_left,
    counted_from,
    outcome_of,
    plan_roll,
    plan_state_entry,
    resume_deadline,
)
from torchflow.domain.rules import ContactRule, DeadlineRule
from torchflow.domain.status import Outcome
from torchflow.errors import WorkflowError

CONTACT = 'contact = { every = "5 workdays", remind = "1 workday" }'
FIELDS = '[fields.midterm_date]\ntype = "date"\n\n[fields.investigator]\ntype = "person"\n\n'


def with_fields(text: str) -> str:
    return edit("[states.lead]", FIELDS + "[states.lead]", text)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar(timezone="Asia/Shanghai")


def beijing(iso: str) -> datetime:
    return datetime.fromisoformat(iso + "+08:00").astimezone(UTC)


# --------------------------------------------------------------------------- keys


def test_a_contact_escalates_after_n_missed_to_a_role_and_the_role_is_named() -> None:
    spec = parse_workflow(edit(CONTACT, 'contact = { every = "5 workdays", '
                                        'escalate_after = 3, escalate_to = "torch_liaison" }'))
    rule = spec.states["lead"].contact
    assert rule is not None and (rule.escalate_after, rule.escalate_to) == (3, "torch_liaison")
    assert "torch_liaison" in spec.roles
    assert parse_workflow(BASE).states["lead"].contact == ContactRule("lead", 5, 1)


def test_rules_count_from_a_date_field_and_go_to_a_person_field() -> None:
    text = with_fields(BASE)
    text = edit('escalate_to = "director", remind = "3 workdays" }',
                'escalate_to = "director", remind = "3 workdays", from = "midterm_date" }', text)
    text = edit('remind = "2 wd" }', 'remind = "2 wd", assignee = "investigator" }', text)
    lead = parse_workflow(text).states["lead"]
    assert lead.deadline is not None and lead.deadline.count_from == "midterm_date"
    assert lead.visit is not None and lead.visit.assignee == "investigator"
    assert lead.contact is not None and (lead.contact.count_from, lead.contact.assignee) == (
        None, None)


BAD = [
    ("escalate_after zero", 'escalate_after = 0, escalate_to = "director"',
     "escalate_after", "1 to 20"),
    ("escalate_after beyond the bound", 'escalate_after = 21, escalate_to = "director"',
     "escalate_after", "1 to 20"),
    ("escalate_after a string", 'escalate_after = "3", escalate_to = "director"',
     "escalate_after", "whole number"),
    ("escalate_after a boolean", 'escalate_after = true, escalate_to = "director"',
     "escalate_after", "whole number"),
    ("escalate_after without a role", "escalate_after = 3", "escalate_to", "needs a role"),
    ("a role without escalate_after", 'escalate_to = "director"', "escalate_after", "missing"),
    ("a bad role", 'escalate_after = 3, escalate_to = "Dir ector"', "escalate_to", "role name"),
    ("from an unknown field", 'from = "midterm"', "from", "date fields are: midterm_date"),
    ("from a person field", 'from = "investigator"', "from", "is a person field"),
    ("assignee a date field", 'assignee = "midterm_date"', "assignee", "not a person field"),
    ("assignee unknown", 'assignee = "boss"', "assignee", "person fields are: investigator"),
]


@pytest.mark.parametrize(("extra", "key", "fragment"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_follow_up_keys_are_refused_with_file_and_key(
    tmp_path: Path, extra: str, key: str, fragment: str
) -> None:
    text = with_fields(edit(CONTACT, 'contact = { every = "5 workdays", ' + extra + " }"))
    path = write(tmp_path, "demo.toml", text)
    with pytest.raises(WorkflowError) as caught:
        load_file(path)
    matching = [p for p in caught.value.problems
                if p.startswith(f"{path}: states.lead.contact.{key}: ")]
    assert any(fragment in p for p in matching), caught.value.problems


def test_escalate_after_is_a_contact_key_only(tmp_path: Path) -> None:
    text = edit('escalate_to = "director", remind = "3 workdays" }',
                'escalate_to = "director", remind = "3 workdays", escalate_after = 2 }')
    with pytest.raises(WorkflowError) as caught:
        load_file(write(tmp_path, "demo.toml", text))
    assert any("states.lead.deadline.escalate_after: unknown key" in p
               for p in caught.value.problems)


# --------------------------------------------------------------------------- the roll


RULE = ContactRule("first_contact", every=5, remind=1)


def test_no_roll_before_the_next_slot_falls_due(cal: WorkCalendar) -> None:
    # Due Wed 11 March; the next slot is Wed 18 March, due from 09:00.
    assert plan_roll(cal, RULE, due_on=date(2026, 3, 11), occurrence=1,
                     now=beijing("2026-03-18T08:59:00")) is None
    assert plan_roll(cal, RULE, due_on=date(2026, 3, 11), occurrence=1,
                     now=beijing("2026-03-12T18:30:00")) is None


def test_the_roll_opens_the_slot_that_fell_due(cal: WorkCalendar) -> None:
    roll = plan_roll(cal, RULE, due_on=date(2026, 3, 11), occurrence=1,
                     now=beijing("2026-03-18T09:00:00"))
    assert roll is not None
    assert roll.missed == () and roll.count == 1
    assert (roll.following.occurrence, roll.following.due_on) == (2, date(2026, 3, 18))


def test_after_downtime_one_roll_to_the_current_slot_lists_every_skipped_one(
    cal: WorkCalendar,
) -> None:
    roll = plan_roll(cal, RULE, due_on=date(2026, 3, 11), occurrence=1,
                     now=beijing("2026-04-20T10:00:00"))
    assert roll is not None
    # 18, 25 March, 1 April, then Qingming (4-6 April) pushes the next to Thu 9 April.
    assert [(p.occurrence, p.due_on) for p in roll.missed] == [
        (2, date(2026, 3, 18)), (3, date(2026, 3, 25)), (4, date(2026, 4, 1)),
        (5, date(2026, 4, 9))]
    assert (roll.following.occurrence, roll.following.due_on) == (6, date(2026, 4, 16))
    assert roll.count == 5


def test_outcomes_on_time_and_late_by_working_days(cal: WorkCalendar) -> None:
    due = date(2026, 3, 11)  # a Wednesday
    assert outcome_of(cal, due, date(2026, 3, 9)) == (Outcome.ON_TIME, 0)
    assert outcome_of(cal, due, due) == (Outcome.ON_TIME, 0)
    assert outcome_of(cal, due, date(2026, 3, 13)) == (Outcome.LATE, 2)
    assert outcome_of(cal, due, date(2026, 3, 16)) == (Outcome.LATE, 3)  # the weekend skipped
    # Done on the Saturday after a Friday: late, if by less than a working day.
    assert outcome_of(cal, date(2026, 3, 13), date(2026, 3, 14)) == (Outcome.LATE, 1)


# --------------------------------------------------------------------------- pause on hold


def test_the_budget_left_counts_the_working_days_after_the_day_left(cal: WorkCalendar) -> None:
    due = date(2026, 3, 18)  # entered Wed 4 March with 10 working days
    assert budget_left(cal, due, date(2026, 3, 4)) == 10
    assert budget_left(cal, due, date(2026, 3, 9)) == 7  # 5, 6, 9 March used
    assert budget_left(cal, due, date(2026, 3, 7)) == 8  # a Saturday uses nothing
    assert budget_left(cal, due, due) == 0
    assert budget_left(cal, due, date(2026, 3, 25)) == 0  # overdue: nothing, never negative


def test_a_resumed_deadline_plans_what_was_left(cal: WorkCalendar) -> None:
    rule = DeadlineRule("lead", within=10, escalate_to="director")
    resumed = resume_deadline(cal, rule, date(2026, 4, 3), 3, occurrence=2)
    assert (resumed.occurrence, resumed.due_on) == (2, date(2026, 4, 9))  # past Qingming
    # Nothing left: due the day of resuming, or the next working day.
    assert resume_deadline(cal, rule, date(2026, 3, 23), 0, occurrence=2).due_on == \
        date(2026, 3, 23)
    assert resume_deadline(cal, rule, date(2026, 4, 4), 0, occurrence=2).due_on == \
        date(2026, 4, 7)


def test_plan_state_entry_takes_a_budget_and_a_day_to_count_from(cal: WorkCalendar) -> None:
    rules = [ContactRule("s", every=5), DeadlineRule("s", within=10, escalate_to="director")]
    contact, deadline = plan_state_entry(
        cal, rules, case_key="PI-2026-0001", entered_on=date(2026, 3, 23), occurrences={},
        since={"s.contact": date(2026, 3, 2)}, budgets={"s.deadline": 2})
    assert contact.due_on == date(2026, 3, 9)  # 5 working days from 2 March
    assert deadline.due_on == date(2026, 3, 25)  # 2 left from 23 March


def test_counted_from_names_the_rules_whose_date_field_is_empty() -> None:
    rules = [ContactRule("s", every=5, count_from="kickoff"),
             DeadlineRule("s", within=10, escalate_to="director", count_from="midterm_date")]
    since, empty = counted_from(rules, {"kickoff": "2026-03-02", "midterm_date": None})
    assert since == {"s.contact": date(2026, 3, 2)}
    assert empty == {"s.deadline": "midterm_date"}
