"""The ``[states.<name>]`` tables of a definition: the terminal flag and the
contact / visit / deadline follow-ups, with their durations parsed and bounded.

Every duration has an upper bound of about three years, so that a slip of the
keyboard (``every = "100000000 workdays"``) is refused when the file is checked
rather than when a case enters the state and the calendar is asked for a date
centuries away.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from torchflow.domain.problems import EXAMPLES, IDENT, Report, type_name
from torchflow.domain.rules import (
    ROLLS,
    ContactRule,
    DeadlineRule,
    DutyRule,
    EachRule,
    LadderStep,
    Span,
    VisitRule,
)
from torchflow.domain.workflow import FieldSpec, StateSpec
from torchflow.errors import InvalidInput
from torchflow.i18n import _

MAX_WORKDAYS = 750  # about three years of working days (some 250 a year)
MAX_DAYS = 1095  # three years of calendar days (156 weeks)
MAX_SPAN_YEARS = 10  # a duty `after` a date: re-certification is three years
# More missed contacts in a row than this before anyone is told is no escalation.
MAX_ESCALATE_AFTER = 20
BOUNDS = {
    "workdays": f"{MAX_WORKDAYS} workdays (about three years)",
    "days": f"{MAX_DAYS} days or {MAX_DAYS // 7} weeks (three years)",
}

_DURATION = re.compile(r"\s*(\d+)\s*([A-Za-z]+)\s*\Z")
_UNITS = {
    "workday": "workdays", "workdays": "workdays", "wd": "workdays",
    "day": "days", "days": "days", "d": "days",
    "week": "weeks", "weeks": "weeks", "w": "weeks",
}  # fmt: skip
# Past nine digits a count is far beyond every bound, and int() refuses a string of
# more than 4300 digits outright, so longer counts are read as this ceiling.
_CEILING = 10**9

_STATE_KEYS = ("title", "title_en", "aliases", "terminal", "contact", "visit", "deadline",
               "milestone", "duties", "each")
_EACH_KEYS = ("title", "title_en", "people", "within", "remind", "report_to", "escalate_to")
_COMMON = ("remind", "from", "assignee")  # every rule may take these
_RULE_KEYS = {
    "contact": (("every",), (*_COMMON, "escalate_after", "escalate_to")),
    "visit": (("min_gap", "max_gap"), _COMMON),
    "deadline": (("escalate_to",), (*_COMMON, "within", "after", "roll", "ladder", "by",
                                    "within_by")),
}  # rule -> (required keys, optional keys)
_DUTY_KEYS = ("title", "title_en", "every", "on", "from", "after", "roll", "remind",
              "escalate_to", "escalate_after", "assignee")
_SPAN = re.compile(r"\s*(\d{1,4})\s*([A-Za-z]+)\s*\Z")
_SPAN_UNITS = {"year": "years", "years": "years", "y": "years",
               "month": "months", "months": "months", "mo": "months",
               "day": "days", "days": "days", "d": "days"}
_ON = re.compile(r"(\d\d)-(\d\d)\Z")
_STEP_KEYS = ("step", "after", "to", "title", "title_en")
_STEP_EXAMPLE = '{ step = "chase", after = "1 workday", to = "coordinator", title = "催办" }'
MAX_STEPS = 5  # a ladder longer than this is no ladder anyone follows
# A rule's `from` names a date field, its `assignee` a person field.
_FIELD_KEYS = {"from": "date", "assignee": "person"}
_RULE_EXAMPLES = {
    "contact": '{ every = "5 workdays", remind = "1 workday" }',
    "visit": '{ min_gap = "2 weeks", max_gap = "6 weeks" }',
    "deadline": '{ within = "20 workdays", escalate_to = "director" }',
}


def parse_duration(text: str) -> tuple[int, str]:
    """Parse "<n> <unit>" into (n, "workdays") or (days, "days"); a week is 7 days.

    A count of more than nine digits comes back as 10**9: it is out of every bound.
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise InvalidInput(
            _("bad duration {text!r}; write '<n> <unit>' with unit workdays, days or weeks, e.g. "
              "'5 workdays'", text=text)
        )
    digits = match.group(1).lstrip("0") or "0"
    n = int(digits) if len(digits) <= 9 else _CEILING
    return (n * 7, "days") if unit == "weeks" else (n, unit)


def parse_states(
    report: Report, doc: dict[str, Any], fields: dict[str, FieldSpec] | None = None
) -> dict[str, StateSpec]:
    """Every state of the document that could be read, recording the problems.
    ``fields`` are the workflow's fields, which a rule's ``from`` and ``assignee``
    must name."""
    table = report.tables(doc, "states")
    if doc.get("states") == {}:
        report.add("states", "no states; define at least one [states.<name>] table")
    states = {}
    for name, raw in table.items():
        state = _state(report, name, raw, fields or {})
        if state is not None:
            states[name] = state
    if states and not any(s.terminal for s in states.values()):
        report.add("states", "no terminal state; mark at least one with terminal = true")
    return states


def _state(
    report: Report, name: str, raw: object, fields: dict[str, FieldSpec]
) -> StateSpec | None:
    key = f"states.{name}"
    if not IDENT.match(name):
        report.add(key, f"bad state name {name!r}; use lowercase letters, digits, '_'")
    if not isinstance(raw, dict):
        report.add(key, f"wants a [{key}] table, got {type_name(raw)}")
        return None
    report.check_keys(key, raw, _STATE_KEYS)
    terminal = report.boolean(raw, "terminal", f"{key}.terminal")
    rules = _RuleParser(report, name, key, fields)
    state = StateSpec(
        name=name,
        title=report.title(raw, f"{key}.title", name),
        title_en=report.string(raw, "title_en", f"{key}.title_en"),
        aliases=report.aliases(raw, f"{key}.aliases"),
        terminal=terminal,
        contact=rules.contact(raw["contact"]) if "contact" in raw else None,
        visit=rules.visit(raw["visit"]) if "visit" in raw else None,
        deadline=rules.deadline(raw["deadline"]) if "deadline" in raw else None,
        milestone=report.boolean(raw, "milestone", f"{key}.milestone"),
        duties=rules.duties(raw["duties"]) if "duties" in raw else (),
        each=rules.each(raw["each"]) if "each" in raw else (),
    )
    present = [kind for kind in (*_RULE_KEYS, "duties", "each") if kind in raw]
    if terminal and present:
        # A case in a terminal state is closed: nobody follows it up.
        report.add(
            key,
            f"a terminal state has no follow-ups; remove {', '.join(present)} "
            "or set terminal = false",
        )
    return state


class _RuleParser:
    """Parses the contact / visit / deadline inline tables of one state."""

    def __init__(
        self, report: Report, state: str, key: str, fields: dict[str, FieldSpec]
    ) -> None:
        self.report = report
        self.state = state
        self.key = key
        self.fields = fields

    def _field(self, kind: str, table: dict[str, Any], name: str) -> str | None:
        """The field a rule's ``from`` or ``assignee`` names, checked for its type."""
        if name not in table:
            return None
        key, value, wanted = f"{self.key}.{kind}.{name}", table[name], _FIELD_KEYS[name]
        of_type = sorted(n for n, f in self.fields.items() if f.type == wanted)
        known = ", ".join(of_type) or "none"
        if not isinstance(value, str) or value not in self.fields:
            self.report.add(key, f"wants the name of a {wanted} field, got {value!r}; "
                                 f"{wanted} fields are: {known}")
            return None
        if self.fields[value].type != wanted:
            self.report.add(key, f"field '{value}' is a {self.fields[value].type} field, "
                                 f"not a {wanted} field; {wanted} fields are: {known}")
            return None
        return value

    def _targets(self, kind: str, table: dict[str, Any]) -> dict[str, str | None]:
        return {"count_from": self._field(kind, table, "from"),
                "assignee": self._field(kind, table, "assignee")}

    def _table(self, kind: str, raw: object) -> dict[str, Any] | None:
        key = f"{self.key}.{kind}"
        if not isinstance(raw, dict):
            self.report.add(key, f"wants a table like {_RULE_EXAMPLES[kind]}, got {raw!r}")
            return None
        required, optional = _RULE_KEYS[kind]
        self.report.check_keys(key, raw, required + optional, required)
        return raw

    def _duration(
        self, kind: str, table: dict[str, Any], name: str, minimum: int, unit: str,
        *, at: str | None = None, example: str | None = None,
    ) -> int | None:
        """A duration in `unit` ("workdays" or "days"); None when absent or bad.
        ``at``: the key to name instead of ``<state>.<kind>.<name>``."""
        if name not in table:
            return None
        key, raw = at or f"{self.key}.{kind}.{name}", table[name]
        example = example or EXAMPLES[name].split(" = ")[1]
        try:
            n, got = parse_duration(raw)
        except InvalidInput:
            self.report.add(key, f"bad duration {raw!r}; write '<n> <unit>', e.g. {example}")
            return None
        if got != unit:
            counts = "working days" if unit == "workdays" else "calendar days or weeks"
            self.report.add(key, f"bad duration {raw!r}: this counts {counts}; e.g. {example}")
            return None
        if n < minimum:
            least = f"{minimum} {unit[:-1] if minimum == 1 else unit}"
            self.report.add(key, f"bad duration {raw!r}: must be at least {least}")
            return None
        if n > (MAX_WORKDAYS if unit == "workdays" else MAX_DAYS):
            self.report.add(key, f"bad duration {raw!r}: must be at most {BOUNDS[unit]}")
            return None
        return n

    def contact(self, raw: object) -> ContactRule | None:
        table = self._table("contact", raw)
        if table is None:
            return None
        every = self._duration("contact", table, "every", 1, "workdays")
        remind = self._duration("contact", table, "remind", 0, "workdays") or 0
        if every is not None and remind >= every:
            self.report.add(
                f"{self.key}.contact.remind",
                f"must be less than every ({every} workdays), or 0 for no reminder",
            )
        after, escalate_to = self._escalate_after(table), self._escalate_to("contact", table)
        # One without the other would either tell nobody or never tell.
        if "escalate_after" in table and "escalate_to" not in table:
            self.report.add(f"{self.key}.contact.escalate_to",
                            'missing; escalate_after needs a role, e.g. escalate_to = "director"')
        if "escalate_to" in table and "escalate_after" not in table:
            self.report.add(f"{self.key}.contact.escalate_after",
                            "missing; escalate_to needs e.g. escalate_after = 3 (missed in a row)")
        if every is None:
            return None
        return ContactRule(self.state, every, remind, after or 0, escalate_to,
                           **self._targets("contact", table))

    def _escalate_after(self, table: dict[str, Any]) -> int | None:
        if "escalate_after" not in table:
            return None
        value = table["escalate_after"]
        if (isinstance(value, bool) or not isinstance(value, int)
                or not 1 <= value <= MAX_ESCALATE_AFTER):
            self.report.add(
                f"{self.key}.contact.escalate_after",
                f"wants a whole number of missed contacts in a row, 1 to "
                f"{MAX_ESCALATE_AFTER}, e.g. escalate_after = 3; got {value!r}",
            )
            return None
        return value

    def visit(self, raw: object) -> VisitRule | None:
        table = self._table("visit", raw)
        if table is None:
            return None
        low = self._duration("visit", table, "min_gap", 1, "days")
        high = self._duration("visit", table, "max_gap", 1, "days")
        remind = self._duration("visit", table, "remind", 0, "workdays") or 0
        if low is None or high is None:
            return None
        if low > high:
            self.report.add(
                f"{self.key}.visit.max_gap",
                f"max_gap ({high} days) must not be less than min_gap ({low} days)",
            )
        return VisitRule(self.state, low, high, remind, **self._targets("visit", table))

    def deadline(self, raw: object) -> DeadlineRule | None:
        table = self._table("deadline", raw)
        if table is None:
            return None
        key = f"{self.key}.deadline"
        if ("within" in table) == ("after" in table):
            self.report.add(key, 'wants within = "20 workdays" (from the entry) or '
                                 'after = "3 years" with from = "<date field>", one of them')
        within = self._duration("deadline", table, "within", 1, "workdays")
        after = self._span(f"{key}.after", table) if "after" in table else None
        self._needs_from(key, table)
        remind = self._duration("deadline", table, "remind", 0, "workdays") or 0
        escalate_to = self._escalate_to("deadline", table)
        if within is not None and remind >= within:
            self.report.add(
                f"{self.key}.deadline.remind",
                f"must be less than within ({within} workdays), or 0 for no reminder",
            )
        by, within_by = self._within_by(key, table, remind)
        ladder = self._ladder(key, table["ladder"]) if "ladder" in table else ()
        if (within is None and after is None) or escalate_to is None:
            return None
        return DeadlineRule(self.state, within or 0, escalate_to, remind,
                            **self._targets("deadline", table), after=after,
                            roll=self._roll(key, table), ladder=ladder, by=by,
                            within_by=within_by)

    # -- a deadline's budget by a choice, and its escalation ladder ---------------------

    def _within_by(self, key: str, table: dict[str, Any], remind: int
                   ) -> tuple[str | None, tuple[tuple[str, int], ...]]:
        """``by = "category"`` with ``within_by = { land = "25 workdays" }``: the
        budget of a case whose choice field holds a listed value."""
        if ("by" in table) != ("within_by" in table):
            self.report.add(key, 'by and within_by go together: by = "category" names a choice '
                                 'field, within_by = { land = "25 workdays" } its values\' budgets')
            return None, ()
        if "by" not in table:
            return None, ()
        if "within" not in table:
            self.report.add(f"{key}.within", 'missing; by needs the budget of the other values, '
                                             'e.g. within = "7 workdays"')
        name, raw = table["by"], table["within_by"]
        choices = [n for n, f in self.fields.items() if f.type == "choice"]
        field = self.fields.get(name) if isinstance(name, str) else None
        if field is None or field.type != "choice":
            self.report.add(f"{key}.by", f"wants the name of a choice field, got {name!r}; "
                                         f"choice fields are: {', '.join(choices) or 'none'}")
            return None, ()
        if not isinstance(raw, dict) or not raw:
            self.report.add(f"{key}.within_by", 'wants a table of choice = budget, e.g. '
                                                f'{{ land = "25 workdays" }}, got {raw!r}')
            return None, ()
        values = list(field.choices)
        out = []
        for value in raw:
            if value not in values:
                self.report.add(f"{key}.within_by.{value}",
                                f"'{value}' is not a choice of field '{name}'; its choices "
                                f"are: {', '.join(values)}")
                continue
            n = self._duration("deadline", raw, value, 1, "workdays",
                               at=f"{key}.within_by.{value}", example='"25 workdays"')
            if n is not None and remind >= n:
                self.report.add(f"{key}.within_by.{value}",
                                f"must be more than remind ({remind} workdays)")
            if n is not None:
                out.append((value, n))
        return name, tuple(out)

    def _ladder(self, key: str, raw: object) -> tuple[LadderStep, ...]:
        """``ladder = [{ step, after, to, title }, ...]``: the steps after a missed
        deadline, their ``after`` strictly increasing."""
        key = f"{key}.ladder"
        if not isinstance(raw, list) or not raw or len(raw) > MAX_STEPS:
            self.report.add(key, f"wants a list of 1 to {MAX_STEPS} steps like [{_STEP_EXAMPLE}]"
                                 f", got {type_name(raw)}")
            return ()
        steps: list[LadderStep] = []
        for i, table in enumerate(raw):
            step = self._step(f"{key}[{i}]", table, steps)
            if step is not None:
                steps.append(step)
        return tuple(steps) if len(steps) == len(raw) else ()

    def _step(self, key: str, table: object, before: list[LadderStep]) -> LadderStep | None:
        if not isinstance(table, dict):
            self.report.add(key, f"wants a table like {_STEP_EXAMPLE}, got {type_name(table)}")
            return None
        self.report.check_keys(key, table, _STEP_KEYS, ("step", "after", "to"))
        name, to = table.get("step"), table.get("to")
        ok = True
        if not isinstance(name, str) or not IDENT.match(name):
            self.report.add(f"{key}.step", f"wants a step name like 'chase', got {name!r}")
            ok = False
        elif any(s.step == name for s in before):
            self.report.add(f"{key}.step", f"step '{name}' is named twice in the ladder; "
                                           "give each step its own name")
            ok = False
        if not isinstance(to, str) or not IDENT.match(to):
            self.report.add(f"{key}.to", f"wants a role name like 'director', got {to!r}")
            ok = False
        after = self._duration("ladder", table, "after", 1, "workdays", at=f"{key}.after",
                               example='"1 workday"')
        if after is not None and before and after <= before[-1].after:
            self.report.add(f"{key}.after",
                            f"must be more than the step before ('{before[-1].step}', "
                            f"{before[-1].after} workdays after the due day): each step "
                            "comes later than the one before")
            ok = False
        if not ok or after is None or not isinstance(name, str) or not isinstance(to, str):
            return None
        return LadderStep(name, after, to, self.report.title(table, f"{key}.title", name),
                          self.report.string(table, "title_en", f"{key}.title_en"))

    # -- a deadline for each person of a people field ------------------------------------

    def each(self, raw: object) -> tuple[EachRule, ...]:
        """The ``[states.X.each.NAME]`` tables: a task for each person a ``people``
        field names (each co-handler's report to the lead)."""
        key = f"{self.key}.each"
        if not isinstance(raw, dict):
            self.report.add(key, f"wants [{key}.<name>] tables, got {type_name(raw)}")
            return ()
        out = []
        for name, table in raw.items():
            rule = self._each(f"{key}.{name}", name, table)
            if rule is not None:
                out.append(rule)
        return tuple(out)

    def _each(self, key: str, name: str, table: object) -> EachRule | None:
        if not IDENT.match(name):
            self.report.add(key, f"bad name {name!r}; use lowercase letters, digits and '_'")
            return None
        if not isinstance(table, dict):
            self.report.add(key, 'wants a table like { people = "co_handlers", within = '
                                 f'"3 workdays", report_to = "handler" }}, got {type_name(table)}')
            return None
        self.report.check_keys(key, table, _EACH_KEYS, ("people", "within"))
        kind = f"each.{name}"
        within = self._duration(kind, table, "within", 1, "workdays")
        remind = self._duration(kind, table, "remind", 0, "workdays") or 0
        if within is not None and remind >= within:
            self.report.add(f"{key}.remind",
                            f"must be less than within ({within} workdays), or 0 for no reminder")
        people = self._typed(f"{key}.people", table.get("people"), "people")
        report_to = (self._typed(f"{key}.report_to", table["report_to"], "person")
                     if "report_to" in table else None)
        escalate_to = self._escalate_to(kind, table)
        if "report_to" not in table and "escalate_to" not in table:
            self.report.add(key, 'wants report_to = "<person field>" (the lead told when one is '
                                 'overdue) or escalate_to = "<role>", or both')
        if people is None or within is None:
            return None
        return EachRule(self.state, name, people, within, report_to, escalate_to, remind,
                        self.report.title(table, f"{key}.title", name),
                        self.report.string(table, "title_en", f"{key}.title_en"))

    def _typed(self, key: str, value: object, wanted: str) -> str | None:
        """The name of a field of type ``wanted``, or None with the problem recorded."""
        of_type = sorted(n for n, f in self.fields.items() if f.type == wanted)
        if not isinstance(value, str) or value not in self.fields or \
                self.fields[value].type != wanted:
            self.report.add(key, f"wants the name of a {wanted} field, got {value!r}; "
                                 f"{wanted} fields are: {', '.join(of_type) or 'none'}")
            return None
        return value

    # -- dated duties ------------------------------------------------------------------

    def duties(self, raw: object) -> tuple[DutyRule, ...]:
        """The ``[states.X.duties.NAME]`` tables: duties on dates."""
        key = f"{self.key}.duties"
        if not isinstance(raw, dict):
            self.report.add(key, f"wants [{key}.<name>] tables, got {type_name(raw)}")
            return ()
        out = []
        for name, table in raw.items():
            duty = self._duty(f"{key}.{name}", name, table)
            if duty is not None:
                out.append(duty)
        return tuple(out)

    def _duty(self, key: str, name: str, table: object) -> DutyRule | None:
        if not IDENT.match(name) or name in _RULE_KEYS:
            self.report.add(key, f"bad duty name {name!r}; use lowercase letters, digits "
                                 "and '_', not contact, visit or deadline")
            return None
        if not isinstance(table, dict):
            self.report.add(key, 'wants a table like { every = "year", on = "05-31", '
                                 f'escalate_to = "director" }}, got {type_name(table)}')
            return None
        self.report.check_keys(key, table, _DUTY_KEYS, ("escalate_to",))
        yearly, once = "on" in table or "every" in table, "after" in table
        if yearly == once:
            self.report.add(key, 'wants every = "year" with on = "05-31" (each year), or '
                                 'after = "3 months" with from = "<date field>" (once), '
                                 "one of them")
        on = self._on(key, table) if yearly else None
        after = self._span(f"{key}.after", table) if once else None
        if once:
            self._needs_from(key, table)
        remind = self._duration(f"duties.{name}", table, "remind", 0, "workdays") or 0
        escalate_to = self._escalate_to(f"duties.{name}", table)
        escalate_after = self._count(f"{key}.escalate_after", table.get("escalate_after", 1))
        title = self.report.title(table, f"{key}.title", name)
        title_en = self.report.string(table, "title_en", f"{key}.title_en")
        roll = self._roll(key, table)
        targets = {"count_from": self._field(f"duties.{name}", table, "from"),
                   "assignee": self._field(f"duties.{name}", table, "assignee")}
        if escalate_to is None or (on is None and after is None):
            return None
        return DutyRule(self.state, name, escalate_to, on=on, after=after,
                        roll=roll, remind=remind, escalate_after=escalate_after or 1,
                        title=title, title_en=title_en, **targets)

    def _on(self, key: str, table: dict[str, Any]) -> tuple[int, int] | None:
        every, on = table.get("every"), table.get("on")
        if "every" not in table:
            self.report.add(f"{key}.every", 'missing; a duty each year needs every = "year" '
                                            'beside on = "MM-DD"')
        elif every != "year":
            self.report.add(f"{key}.every", f'wants every = "year" (a duty each year), '
                                            f"got {every!r}")
        if "on" not in table:
            self.report.add(f"{key}.on", 'missing; a duty each year needs the day it is due, '
                                         'e.g. on = "05-31"')
            return None
        match = _ON.match(on) if isinstance(on, str) else None
        if match is None:
            self.report.add(f"{key}.on", f'wants a month and day like on = "05-31", got {on!r}')
            return None
        month, day = int(match.group(1)), int(match.group(2))
        try:
            date(2028, month, day)  # a leap year: 02-29 is a date (28 Feb in other years)
        except ValueError:
            self.report.add(f"{key}.on", f"no such day {on!r}; write MM-DD, e.g. \"05-31\"")
            return None
        return month, day

    def _span(self, key: str, table: dict[str, Any]) -> Span | None:
        raw = table["after"]
        match = _SPAN.match(raw) if isinstance(raw, str) else None
        unit = _SPAN_UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            self.report.add(key, f"bad span {raw!r}; write '<n> <unit>' with unit years, "
                                 'months or days, e.g. after = "3 years"')
            return None
        n = int(match.group(1))
        span = Span(**{unit: n})
        days = span.total_months * 31 + span.days
        if n < 1 or days > MAX_SPAN_YEARS * 366:
            self.report.add(key, f"bad span {raw!r}: must be at least 1 day and at most "
                                 f"{MAX_SPAN_YEARS} years")
            return None
        return span

    def _roll(self, key: str, table: dict[str, Any]) -> str:
        roll = table.get("roll", ROLLS[0])
        if roll not in ROLLS:
            self.report.add(f"{key}.roll", f"wants {' or '.join(repr(r) for r in ROLLS)} "
                                           f"(a due day off moves to the working day before "
                                           f"or after it), got {roll!r}")
            return ROLLS[0]
        return str(roll)

    def _needs_from(self, key: str, table: dict[str, Any]) -> None:
        if "after" in table and "from" not in table:
            self.report.add(f"{key}.from", 'missing; after counts from a date field, '
                                           'e.g. from = "certified_on"')

    def _count(self, key: str, value: object) -> int | None:
        if (isinstance(value, bool) or not isinstance(value, int)
                or not 1 <= value <= MAX_ESCALATE_AFTER):
            self.report.add(key, f"wants a whole number of missed occurrences in a row, 1 to "
                                 f"{MAX_ESCALATE_AFTER}, e.g. escalate_after = 2; got {value!r}")
            return None
        return value

    def _escalate_to(self, kind: str, table: dict[str, Any]) -> str | None:
        if "escalate_to" not in table:
            return None
        value = table["escalate_to"]
        if not isinstance(value, str) or not IDENT.match(value):
            self.report.add(
                f"{self.key}.{kind}.escalate_to",
                f"wants a role name like 'director', got {value!r}",
            )
            return None
        return value
