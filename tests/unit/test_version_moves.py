"""The plan of a move to another workflow version: which state, which fields are
missing, and what becomes of every follow-up (kept, re-planned, cancelled, new)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.loader import parse_workflow
from torchflow.domain.planning import plan_next, visit_seed
from torchflow.domain.rules import VisitRule
from torchflow.domain.version_moves import (
    CaseMove,
    OpenCase,
    OpenTask,
    TaskMove,
    plan_migration,
    resolve_mapping,
    totals,
)
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import InvalidInput, Refused

V1 = """\
name = "mini"
title = "Mini"
version = 1
key_prefix = "MI"

[fields.company]
type = "text"
required = true

[fields.budget]
type = "number"

[states.a]
contact = { every = "5 workdays", remind = "1 workday" }
visit = { min_gap = "2 weeks", max_gap = "4 weeks" }

[states.b]
deadline = { within = "10 workdays", escalate_to = "director" }

[states.hold]

[states.done]
terminal = true

[[transitions]]
trigger = "go"
source = "a"
dest = "b"

[[transitions]]
trigger = "finish"
source = "b"
dest = "done"

[[transitions]]
trigger = "pause"
source = ["a", "b"]
dest = "hold"

[[transitions]]
trigger = "resume"
source = "hold"
dest = "@previous"
"""

# Version 2: a's contact every 3 workdays and its visit gone, a deadline added to
# a, b renamed to c (same deadline), budget required to open and before finish.
V2 = (V1.replace("version = 1", "version = 2")
      .replace('every = "5 workdays"', 'every = "3 workdays"')
      .replace('visit = { min_gap = "2 weeks", max_gap = "4 weeks" }',
               'deadline = { within = "20 workdays", escalate_to = "director" }')
      .replace("[states.b]", "[states.c]").replace('"b"', '"c"')
      .replace('[fields.budget]\ntype = "number"', '[fields.budget]\ntype = "number"\n'
               'required = true')
      .replace('trigger = "finish"\nsource = "c"', 'trigger = "finish"\nsource = "c"\n'
               'requires = ["budget", "company"]'))

ENTERED = date(2026, 3, 4)  # a Wednesday
TODAY = date(2026, 3, 18)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.fixture(scope="module")
def v1() -> WorkflowSpec:
    return parse_workflow(V1, "v1")


@pytest.fixture(scope="module")
def v2() -> WorkflowSpec:
    return parse_workflow(V2, "v2")


def case(state: str, *, cid: int = 1, previous: str | None = None,
         fields: dict[str, Any] | None = None) -> OpenCase:
    return OpenCase(cid, f"MI-2026-{cid:04d}", state, previous,
                    {"company": "X"} if fields is None else fields, ENTERED)


def task(tid: int, kind: str, rule: str, due: date, *, cid: int = 1, occurrence: int = 1,
         window_start: date | None = None, window_end: date | None = None,
         seed: str | None = None, planned_from: date | None = None,
         from_entry: bool = True) -> OpenTask:
    return OpenTask(tid, cid, kind, rule, occurrence, due, window_start, window_end, seed,
                    planned_from, from_entry)


def one(moves: list[CaseMove]) -> CaseMove:
    assert len(moves) == 1
    return moves[0]


def by_action(move: CaseMove) -> dict[str, list[TaskMove]]:
    out: dict[str, list[TaskMove]] = {}
    for t in move.tasks:
        out.setdefault(t.action, []).append(t)
    return out


def test_a_changed_rule_is_replanned_from_the_entry_date_not_from_today(
        cal: WorkCalendar, v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    tasks = [task(10, "contact", "a.contact", cal.add_workdays(ENTERED, 5)),
             task(11, "visit", "a.visit", ENTERED + timedelta(days=20),
                  window_start=ENTERED + timedelta(days=14))]
    move = one(plan_migration(v1, v2, [case("a")], tasks, {}, cal, today=TODAY))
    assert (move.from_state, move.to_state, move.terminal) == ("a", "a", False)
    got = by_action(move)
    [contact] = got["re-planned"]
    assert (contact.task_id, contact.rule, contact.old_due) == (10, "a.contact", date(2026, 3, 11))
    # Three working days after the entry (a Wednesday): the Monday, not three after today.
    assert contact.new_due == date(2026, 3, 9) == cal.add_workdays(ENTERED, 3)
    [visit] = got["cancelled"]
    assert (visit.task_id, visit.rule, visit.new_due) == (11, "a.visit", None)
    # The deadline is new to a: it counts from the state's entry too (a stage budget).
    [deadline] = got["new"]
    assert (deadline.rule, deadline.task_id, deadline.occurrence) == ("a.deadline", None, 1)
    assert deadline.new_due == cal.add_workdays(ENTERED, 20)
    assert totals([move]) == {"cases": 1, "closing": 0, "kept": 0, "re-planned": 1,
                              "cancelled": 1, "new": 1}


def test_a_contact_that_rolled_on_counts_from_the_previous_occurrence(
        cal: WorkCalendar, v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    # Logged on Monday 16 March: the next contact was due 5 working days later.
    logged = date(2026, 3, 16)
    rolled = task(12, "contact", "a.contact", cal.add_workdays(logged, 5), occurrence=3,
                  from_entry=False)
    [contact, _] = one(plan_migration(v1, v2, [case("a")], [rolled], {}, cal,
                                      today=TODAY)).tasks
    assert (contact.action, contact.occurrence) == ("re-planned", 3)
    assert contact.new_due == cal.add_workdays(logged, 3) == date(2026, 3, 19)


def test_the_day_a_task_records_it_was_counted_from_wins(
        cal: WorkCalendar, v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    # Counted from Friday 13 March (say a contact logged then): 3 working days on.
    rolled = task(12, "contact", "a.contact", date(2026, 3, 20), occurrence=2,
                  planned_from=date(2026, 3, 13), from_entry=False)
    [contact, _] = one(plan_migration(v1, v2, [case("a")], [rolled], {}, cal,
                                      today=TODAY)).tasks
    assert (contact.new_due, contact.since) == (date(2026, 3, 18), date(2026, 3, 13))


def test_a_renamed_state_keeps_its_dates_and_a_same_rule_is_kept(
        cal: WorkCalendar, v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    due = cal.add_workdays(ENTERED, 10)
    deadline = task(20, "deadline", "b.deadline", due)
    move = one(plan_migration(v1, v2, [case("b")], [deadline], {"b": "c"}, cal, today=TODAY))
    [t] = move.tasks
    # Renamed rule, same timing: re-planned (it follows c.deadline now) to the same day.
    assert (t.action, t.was_rule, t.rule, t.old_due, t.new_due) == (
        "re-planned", "b.deadline", "c.deadline", due, due)
    # An earlier stay in c (under some older version) used occurrence 1: continue after it.
    [t] = one(plan_migration(v1, v2, [case("b")], [deadline], {"b": "c"}, cal, today=TODAY,
                             occurrences={(1, "c.deadline"): 1})).tasks
    assert t.occurrence == 2
    # Mapped onto itself with an unchanged rule, a follow-up is kept as it is.
    [kept] = one(plan_migration(v1, v1, [case("b")], [deadline], {}, cal, today=TODAY)).tasks
    assert (kept.action, kept.old_due, kept.new_due) == ("kept", due, due)


def test_a_state_left_unmapped_is_refused_naming_it_and_the_fix(
        cal: WorkCalendar, v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    with pytest.raises(Refused) as exc:
        plan_migration(v1, v2, [case("a"), case("b", cid=2)], [], {}, cal, today=TODAY)
    assert str(exc.value) == (
        "version 2 of mini has no state b (open cases are in it); pass --map b=<state> "
        "(states of version 2: a, c, hold, done)")


def test_mapping_to_a_terminal_state_needs_allow_terminal(
        cal: WorkCalendar, v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    deadline = task(20, "deadline", "b.deadline", cal.add_workdays(ENTERED, 10))
    with pytest.raises(Refused) as exc:
        plan_migration(v1, v2, [case("b")], [deadline], {"b": "done"}, cal, today=TODAY)
    assert str(exc.value) == (
        "the move would close open cases (b -> done: terminal in version 2); pass "
        "--allow-terminal to close them, or --map b=<open state>")
    move = one(plan_migration(v1, v2, [case("b")], [deadline], {"b": "done"}, cal,
                              today=TODAY, allow_terminal=True))
    assert move.terminal
    assert [(t.action, t.task_id) for t in move.tasks] == [("cancelled", 20)]


def test_a_map_naming_an_unknown_state_is_refused(
        v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    with pytest.raises(InvalidInput, match=r"--map b=cc: version 2 of mini has no state 'cc'"):
        resolve_mapping([v1], v2, {"b": 1}, {"b": "cc"})
    with pytest.raises(InvalidInput, match=r"--map x=c: 'x' is not a state"):
        resolve_mapping([v1], v2, {"b": 1}, {"x": "c"})


def test_fields_required_to_open_and_before_the_way_forward(
        cal: WorkCalendar, v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    move = one(plan_migration(v1, v2, [case("b", fields={"company": ""})], [], {"b": "c"},
                              cal, today=TODAY))
    assert move.missing_to_open == ("company", "budget")
    assert move.needed_before == (("finish", ("budget", "company")),)
    full = one(plan_migration(v1, v2, [case("b", fields={"company": "X", "budget": 5})], [],
                              {"b": "c"}, cal, today=TODAY))
    assert (full.missing_to_open, full.needed_before) == ((), ())


def test_values_a_redefined_field_would_refuse_are_reported(
        cal: WorkCalendar, v1: WorkflowSpec) -> None:
    v4 = parse_workflow(V1.replace("version = 1", "version = 4").replace(
        '[fields.budget]\ntype = "number"', '[fields.budget]\ntype = "choice"\n'
        'choices = ["small", "large"]'), "v4")
    move = one(plan_migration(v1, v4, [case("b", fields={"company": "X", "budget": 5})], [],
                              {}, cal, today=TODAY))
    assert move.invalid_fields == (
        ("budget", "field 'budget' must be one of: small, large; got '5'"),)
    # Fields defined as before are not checked again.
    assert one(plan_migration(v1, v1, [case("b", fields={"company": "X", "budget": 5})], [],
                              {}, cal, today=TODAY)).invalid_fields == ()


def test_a_case_on_hold_resumes_to_its_mapped_previous_state(
        cal: WorkCalendar, v1: WorkflowSpec, v2: WorkflowSpec) -> None:
    move = one(plan_migration(v1, v2, [case("hold", previous="b")], [], {"b": "c"}, cal,
                              today=TODAY))
    assert (move.to_state, move.previous_state) == ("hold", "c")
    with pytest.raises(Refused, match=r"MI-2026-0001 would resume to 'b'.*--map b=<state>"):
        plan_migration(v1, v2, [case("hold", previous="b")], [], {}, cal, today=TODAY)


def test_a_replanned_visit_is_drawn_in_the_new_window_from_the_last_visit(
        cal: WorkCalendar, v1: WorkflowSpec) -> None:
    v3 = parse_workflow(V1.replace("version = 1", "version = 3").replace(
        'min_gap = "2 weeks", max_gap = "4 weeks"', 'min_gap = "1 week", max_gap = "2 weeks"'),
        "v3")
    last = date(2026, 3, 10)
    old = plan_next(cal, VisitRule("a", 14, 28), case_key="MI-2026-0001", since=last,
                    occurrence=2)
    visit = task(11, "visit", "a.visit", old.due_on, occurrence=2,
                 window_start=old.window_start, from_entry=False)
    [t] = [m for m in one(plan_migration(v1, v3, [case("a")], [visit], {}, cal,
                                         today=TODAY)).tasks if m.kind == "visit"]
    assert t.action == "re-planned"
    assert (t.window_start, t.window_end) == (last + timedelta(days=7), last + timedelta(days=14))
    assert t.seed == visit_seed("MI-2026-0001", "a.visit", 2)
    assert t.window_start <= t.new_due <= t.window_end  # type: ignore[operator]
