"""Moving open cases to another version of their workflow: the plan, pure.

For each open case: the state it maps to (the same name unless ``mapping`` says
otherwise), the fields the new version wants that the case lacks, and what
happens to each follow-up:

- **kept**: the mapped state has a rule of the same kind, with the same name and
  the same timing; the task does not change at all;
- **re-planned**: a rule of the same kind whose timing (or name, escalation role,
  reminder) changed; the new date is computed from where the case stands in
  time, not from the day of the move: a deadline from the state's entry, a
  contact or visit from the state's entry (if it was the stay's first) or from
  the previous occurrence (the date the old rule counted from);
- **cancelled**: the mapped state has no rule of that kind;
- **new**: a rule of a kind the old state did not have: a deadline counts from
  the state's entry (the budget is for the stay), a contact or visit from the
  day of the move (there is no earlier touch to count from).

Camunda's instance migration keeps timer dates as they were; here a case keeps
its place in time under the new rules. Nothing here reads a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, NamedTuple

from msgspec import Struct
from msgspec.structs import replace

from torchflow.domain.calendar import WorkCalendar
from torchflow.domain.field_values import coerce_value
from torchflow.domain.planning import plan_next
from torchflow.domain.rules import DeadlineRule, DutyRule, Rule, VisitRule
from torchflow.domain.workflow import PREVIOUS, WorkflowSpec
from torchflow.errors import InvalidInput, Refused
from torchflow.i18n import Listing, _

KEPT, REPLANNED, CANCELLED, NEW = "kept", "re-planned", "cancelled", "new"


# Named tuples, not structs: a plan makes a few of them per case, and a
# tuple is the cheapest immutable record to build by the hundred thousand.


class OpenCase(NamedTuple):
    """What the plan needs of one open case."""

    id: int
    key: str
    state: str
    previous_state: str | None
    fields: Mapping[str, Any]
    entered_on: date  # local date the case entered its current state


class OpenTask(NamedTuple):
    """What the plan needs of one open follow-up task."""

    id: int
    case_id: int
    kind: str
    rule: str
    occurrence: int
    due_on: date
    window_start: date | None
    window_end: date | None
    seed: str | None
    planned_from: date | None  # the day it was counted from (None: planned before 0004)
    # True when the task was planned as the case entered its state (occurrence
    # one of the stay), False when it rolled on from an earlier occurrence.
    from_entry: bool


class TaskMove(NamedTuple):
    """What happens to one follow-up; dates are None where there is no task."""

    action: str  # KEPT | REPLANNED | CANCELLED | NEW
    kind: str
    rule: str  # the rule it follows afterwards (for a cancelled task: the old one)
    was_rule: str | None  # the rule it followed before (None for a new task)
    task_id: int | None
    occurrence: int
    old_due: date | None
    new_due: date | None
    window_start: date | None = None  # visits: the window and seed of the new draw
    window_end: date | None = None
    seed: str | None = None
    since: date | None = None  # the day the new rule counts from (re-planned, new)


class CaseMove(NamedTuple):
    """The plan for one case."""

    case_id: int
    key: str
    from_state: str
    to_state: str
    previous_state: str | None  # mapped too, for a later "@previous"
    terminal: bool  # the case is closed by the move
    missing_to_open: tuple[str, ...]  # required fields (to open) the case lacks
    needed_before: tuple[tuple[str, tuple[str, ...]], ...]  # (trigger, fields lacking)
    tasks: tuple[TaskMove, ...]
    # Values the new version's definition of their field would refuse: (field, why).
    invalid_fields: tuple[tuple[str, str], ...] = ()

    def count(self, action: str) -> int:
        return sum(1 for t in self.tasks if t.action == action)


class _KindMove(Struct, frozen=True):
    action: str  # what an open task of this kind gets: KEPT, REPLANNED or CANCELLED
    was: Rule | None
    now: Rule | None
    renamed_only: bool  # the same rule under the state's new name


class _StateMove(Struct, frozen=True):
    """Decided once per (old state, new state) pair and reused for every case."""

    to_state: str
    terminal: bool
    by_kind: dict[str, _KindMove]
    added: tuple[Rule, ...]  # rules of kinds the old state did not have
    transitions: tuple[tuple[str, tuple[str, ...]], ...]  # (trigger, requires)
    resumes: bool  # a transition out goes to "@previous"
    each: frozenset[str] = frozenset()  # the target state's parts for each person, by name


def resolve_mapping(
    old_specs: Iterable[WorkflowSpec],
    new_spec: WorkflowSpec,
    in_use: Mapping[str, int],
    mapping: Mapping[str, str],
    *,
    allow_terminal: bool = False,
) -> dict[str, str]:
    """Every state in ``in_use`` (state -> open cases in it) mapped to a state of
    ``new_spec``, or a one-line refusal naming the states and what to pass."""
    old_specs = list(old_specs)
    known_old = {s for spec in old_specs for s in spec.states}
    to = _("version {version} of {name}", version=new_spec.version, name=new_spec.name)
    new_states = ", ".join(new_spec.states)
    for old, new in mapping.items():
        if old not in known_old:
            raise InvalidInput(_("--map {old}={new}: '{old}' is not a state of the versions "
                                 "moved; states: {choices}",
                                 old=old, new=new, choices=Listing(sorted(known_old))))
        if new not in new_spec.states:
            raise InvalidInput(_("--map {old}={new}: {to} has no state '{new}'; states: "
                                 "{new_states}", old=old, new=new, to=to, new_states=new_states))
    resolved = {s: mapping.get(s, s) for s in in_use}
    unmapped = sorted(s for s, t in resolved.items() if t not in new_spec.states)
    if unmapped:
        passes = " ".join(f"--map {s}=<state>" for s in unmapped)
        raise Refused(_("{to} has no state {choices} (open cases are in it); pass {passes} "
                        "(states of version {version}: {new_states})",
                        to=to, choices=Listing(unmapped), passes=passes, version=new_spec.version,
                        new_states=new_states))
    closing = sorted(s for s, t in resolved.items() if new_spec.states[t].terminal)
    if closing and not allow_terminal:
        what = ", ".join(f"{s} -> {resolved[s]}" for s in closing)
        raise Refused(_("the move would close open cases ({what}: terminal in version "
                        "{version}); pass --allow-terminal to close them, or --map {state}=<open "
                        "state>", what=what, version=new_spec.version, state=closing[0]))
    return resolved


def plan_migration(
    old_spec: WorkflowSpec,
    new_spec: WorkflowSpec,
    cases: Iterable[OpenCase],
    tasks: Iterable[OpenTask],
    mapping: Mapping[str, str],
    calendar: WorkCalendar,
    *,
    today: date,
    allow_terminal: bool = False,
    occurrences: Mapping[tuple[int, str], int] | None = None,
) -> list[CaseMove]:
    """The plan for ``cases`` (all on ``old_spec``) moving to ``new_spec``.

    ``mapping`` names old state -> new state where the name is not kept; it is
    checked with ``resolve_mapping`` (refused when an open state is left unmapped
    or lands on a terminal state without ``allow_terminal``). ``occurrences``
    holds the highest occurrence a case already used of a rule name (for rules
    the move renames or adds), so numbering stays unique. ``today`` is the day of
    the move, from which new contacts and visits count.
    """
    cases = list(cases)
    in_use: dict[str, int] = {}
    for case in cases:
        in_use[case.state] = in_use.get(case.state, 0) + 1
    resolved = resolve_mapping([old_spec], new_spec, in_use, mapping,
                               allow_terminal=allow_terminal)
    by_case: dict[int, list[OpenTask]] = {}
    for task in tasks:
        by_case.setdefault(task.case_id, []).append(task)
    moves = {s: _state_move(old_spec, new_spec, s, t) for s, t in resolved.items()}
    planner = _Planner(old_spec, new_spec, calendar, today, mapping, occurrences or {})
    return [planner.case_move(case, moves[case.state], by_case.get(case.id, ()))
            for case in cases]


def _state_move(old: WorkflowSpec, new: WorkflowSpec, state: str, dest: str) -> _StateMove:
    # A rule is matched by its slot: its kind, or a duty by its name in the state.
    before = {r.slot: r for r in old.states[state].rules}
    target = new.states[dest]
    after = {r.slot: r for r in target.rules}
    by_kind: dict[str, _KindMove] = {}
    for kind in dict.fromkeys(("contact", "visit", "deadline", *before)):
        was, now = before.get(kind), after.get(kind)
        if now is None:
            by_kind[kind] = _KindMove(CANCELLED, was, None, False)
        else:
            same = was is not None and replace(was, state=now.state) == now
            by_kind[kind] = _KindMove(KEPT if was == now else REPLANNED, was, now, same)
    added = tuple(r for r in target.rules if r.slot not in before)
    outs = new.transitions_from(dest)
    transitions = tuple((t.trigger, t.requires) for t in outs if t.requires)
    return _StateMove(dest, target.terminal, by_kind, added, transitions,
                      any(t.dest == PREVIOUS for t in outs),
                      frozenset(e.part for e in target.each))


class _Planner:
    """Plans case after case; dates that depend only on (rule, day) are computed
    once, since many cases entered their state on the same day."""

    def __init__(self, old: WorkflowSpec, new: WorkflowSpec, cal: WorkCalendar, today: date,
                 mapping: Mapping[str, str], used: Mapping[tuple[int, str], int]) -> None:
        self.new, self.cal, self.today, self.used = new, cal, today, used
        # Only values of fields whose definition changed can have become invalid.
        self.redefined = tuple(f for name, f in new.fields.items() if old.fields.get(name) != f)
        # Previous states are mapped with the same mapping; one with nowhere to go
        # is kept as it is (only "@previous" reads it: see _previous).
        self.back = dict(mapping)
        self.required = tuple(f.name for f in new.fields.values() if f.required)
        self._dues: dict[tuple[Rule, date, int], date] = {}
        self._anchors: dict[tuple[int, date], date] = {}

    def case_move(self, case: OpenCase, move: _StateMove,
                  tasks: Iterable[OpenTask]) -> CaseMove:
        planned = [self.task_move(case, t, move) for t in tasks]
        have = {_slot(t.kind, t.rule) for t in planned}
        for rule in move.added:
            if rule.slot not in have and (new := self.new_task(case, rule)) is not None:
                planned.append(new)
        fields = case.fields
        missing = tuple(n for n in self.required if fields.get(n) in (None, ""))
        needed = tuple((trigger, lacking) for trigger, requires in move.transitions
                       if (lacking := tuple(n for n in requires
                                            if fields.get(n) in (None, ""))))
        return CaseMove(case.id, case.key, case.state, move.to_state,
                        self._previous(case, move), move.terminal, missing, needed,
                        tuple(planned), self._invalid(fields))

    def _invalid(self, fields: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        out = []
        for field in self.redefined:
            value = fields.get(field.name)
            if value in (None, ""):
                continue
            try:
                coerce_value(field, str(value))
            except InvalidInput as exc:
                out.append((field.name, str(exc)))
        return tuple(out)

    def _previous(self, case: OpenCase, move: _StateMove) -> str | None:
        """The previous state, mapped; a case that may resume must have one to go to."""
        previous = case.previous_state
        if previous is None:
            return None
        mapped = self.back.get(previous, previous)
        if mapped in self.new.states:
            return mapped
        if move.resumes:
            raise Refused(_("{key} would resume to '{previous}', which version {version} of "
                            "{name} does not have; pass --map {previous}=<state>",
                            key=case.key, previous=previous, version=self.new.version,
                            name=self.new.name))
        return previous

    def new_task(self, case: OpenCase, rule: Rule) -> TaskMove | None:
        since = case.entered_on if isinstance(rule, DeadlineRule) else self.today
        if isinstance(rule, DutyRule):
            # A duty counts from its date field, and exists only while it holds one.
            value = case.fields.get(rule.count_from) if rule.count_from else None
            if rule.count_from and not (isinstance(value, str) and value):
                return None
            since = date.fromisoformat(value) if isinstance(value, str) else case.entered_on
        occurrence = self.used.get((case.id, rule.name), 0) + 1
        p = plan_next(self.cal, rule, case_key=case.key, since=since, occurrence=occurrence,
                      fields=case.fields)
        return TaskMove(NEW, rule.kind, rule.name, None, None, occurrence, None, p.due_on,
                        p.window_start, p.window_end, p.seed, since)

    def task_move(self, case: OpenCase, task: OpenTask, move: _StateMove) -> TaskMove:
        if task.kind == "each":
            return _each_move(task, move)
        kind = move.by_kind.get(_slot(task.kind, task.rule))
        now = kind.now if kind else None
        if kind is None or now is None:
            return TaskMove(CANCELLED, task.kind, task.rule, task.rule, task.id,
                            task.occurrence, task.due_on, None)
        if kind.action == KEPT and task.rule == now.name:
            return TaskMove(KEPT, task.kind, task.rule, task.rule, task.id, task.occurrence,
                            task.due_on, task.due_on)
        occurrence = task.occurrence
        if now.name != task.rule:
            # Renamed: continue after any earlier use of the new name by this case.
            occurrence = max(occurrence, self.used.get((case.id, now.name), 0) + 1)
        if kind.renamed_only:
            # Only the state's name changed: same days, and a visit keeps its draw (the
            # stored seed and window still re-derive it).
            return TaskMove(REPLANNED, task.kind, now.name, task.rule, task.id, occurrence,
                            task.due_on, task.due_on, task.window_start, task.window_end,
                            task.seed, task.planned_from)
        since = self._since(case, task, kind.was, now)
        if isinstance(now, VisitRule):
            p = plan_next(self.cal, now, case_key=case.key, since=since, occurrence=occurrence)
            return TaskMove(REPLANNED, task.kind, now.name, task.rule, task.id, occurrence,
                            task.due_on, p.due_on, p.window_start, p.window_end, p.seed, since)
        budget = now.within_for(case.fields) if isinstance(now, DeadlineRule) else 0
        due = self._dues.get((now, since, budget))
        if due is None:
            due = plan_next(self.cal, now, case_key=case.key, since=since,
                            occurrence=occurrence, fields=case.fields).due_on
            self._dues[(now, since, budget)] = due
        return TaskMove(REPLANNED, task.kind, now.name, task.rule, task.id, occurrence,
                        task.due_on, due, since=since)

    def _since(self, case: OpenCase, task: OpenTask, was: Rule | None,
               now: Rule | None = None) -> date:
        """The date the old rule counted this task from, as the task recorded it;
        for a task planned before that was recorded: the state's entry, or the
        previous occurrence (a visit's window starts ``min_gap`` after it; a
        contact falls ``every`` working days after it)."""
        value = case.fields.get(now.count_from) if now and now.count_from else None
        once = isinstance(now, DutyRule) and not now.yearly  # each counts from the field
        if isinstance(value, str) and value and (task.from_entry or once):
            return date.fromisoformat(value)  # the new rule counts from a date field
        if task.planned_from is not None:
            return task.planned_from
        if isinstance(was, DutyRule):
            return task.due_on if task.planned_from is None else task.planned_from
        if task.from_entry or was is None or isinstance(was, DeadlineRule):
            return case.entered_on
        if isinstance(was, VisitRule):
            if task.window_start is None:
                return case.entered_on
            return task.window_start - timedelta(days=was.min_gap)
        key = (was.every, task.due_on)
        anchor = self._anchors.get(key)
        if anchor is None:
            anchor = self._anchors[key] = self.cal.add_workdays(task.due_on, -was.every)
        return anchor


def _each_move(task: OpenTask, move: _StateMove) -> TaskMove:
    """One person's part (``<state>.<name>:<handle>``) keeps its day while the state
    it maps to has a part of that name: the people and the day they were given are
    the case's, not the version's; without one it is cancelled."""
    part, _sep, who = task.rule.partition(":")
    name = part.split(".", 1)[1]
    if name not in move.each:
        return TaskMove(CANCELLED, task.kind, task.rule, task.rule, task.id, task.occurrence,
                        task.due_on, None)
    rule = f"{move.to_state}.{name}:{who}"
    return TaskMove(KEPT if rule == task.rule else REPLANNED, task.kind, rule, task.rule,
                    task.id, task.occurrence, task.due_on, task.due_on,
                    since=task.planned_from)


def _slot(kind: str, rule: str) -> str:
    """The slot of a task (``Rule.slot``): its kind, a duty's name in its state."""
    return f"duty:{rule.split('.', 1)[1]}" if kind == "duty" else kind


def totals(moves: Iterable[CaseMove]) -> dict[str, int]:
    """Cases and follow-ups by what happens to them."""
    out = {"cases": 0, "closing": 0, KEPT: 0, REPLANNED: 0, CANCELLED: 0, NEW: 0}
    for move in moves:
        out["cases"] += 1
        out["closing"] += move.terminal
        for t in move.tasks:
            out[t.action] += 1
    return out
