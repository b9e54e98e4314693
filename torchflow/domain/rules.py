"""Follow-up rules of a workflow state: what the engine keeps scheduled while a
case sits in that state. Pure values; planning turns them into dates.

Every rule may count from a ``date`` field of the case instead of the state's
entry (``count_from``) and go to a ``person`` field instead of the owner
(``assignee``); the loader checks both name fields of the right type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from msgspec import Struct

BACKWARD = "backward"  # a due day off -> the last working day before it (the default)
FORWARD = "forward"  # a due day off -> the first working day after it (the statutory reading)
ROLLS = (BACKWARD, FORWARD)


class Span(Struct, frozen=True):
    """A calendar span, ``after = "3 years"``: years, months and days added to a
    date as the Civil Code counts a period (art. 202: by years or months, to the
    corresponding day, the month's last day when there is none)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months


class ContactRule(Struct, frozen=True):
    """Routine contact every ``every`` working days (1 = the daily contact).

    A contact still open when its next slot falls due is missed and rolls on;
    ``escalate_after`` missed contacts in a row tell the holders of ``escalate_to``
    (0 = never)."""

    state: str
    every: int
    remind: int = 0  # working days before due for an "upcoming" notice; 0 = none
    escalate_after: int = 0
    escalate_to: str | None = None
    count_from: str | None = None
    assignee: str | None = None
    kind: ClassVar[str] = "contact"

    @property
    def name(self) -> str:
        return f"{self.state}.contact"

    @property
    def slot(self) -> str:
        return self.kind


class VisitRule(Struct, frozen=True):
    """Irregular visit on a random working day ``min_gap``..``max_gap`` calendar
    days after the last visit (or the state's entry)."""

    state: str
    min_gap: int
    max_gap: int
    remind: int = 0
    count_from: str | None = None
    assignee: str | None = None
    kind: ClassVar[str] = "visit"

    @property
    def name(self) -> str:
        return f"{self.state}.visit"

    @property
    def slot(self) -> str:
        return self.kind


class LadderStep(Struct, frozen=True):
    """One rung of a deadline's escalation ladder: ``after`` working days past the
    due day (at the start of that working day) the holders of ``to`` are told,
    once, and the case's history records it (催办 at D+1, 通报 at D+5, 督办)."""

    step: str  # its name in the ladder: chase
    after: int  # working days after the due day, >= 1, increasing along the ladder
    to: str  # a role
    title: str = ""
    title_en: str = ""


class DeadlineRule(Struct, frozen=True):
    """The state's time budget: leave it within ``within`` working days of entry,
    or the people holding ``escalate_to`` are told. With ``after`` (and ``within``
    0) it is due a calendar span after the day counted from (``from``, a date
    field), on a working day found by ``roll``."""

    state: str
    within: int
    escalate_to: str
    remind: int = 0
    count_from: str | None = None
    assignee: str | None = None
    after: Span | None = None
    roll: str = BACKWARD
    # Steps after the due day, each once, while the deadline is open (docs/workflows.md).
    ladder: tuple[LadderStep, ...] = ()
    # ``by``: a choice field whose value picks the budget among ``within_by``
    # ((value, working days) pairs); a value not listed, or none, takes ``within``.
    by: str | None = None
    within_by: tuple[tuple[str, int], ...] = ()
    kind: ClassVar[str] = "deadline"

    @property
    def name(self) -> str:
        return f"{self.state}.deadline"

    def within_for(self, fields: Mapping[str, object] | None) -> int:
        """The budget for a case with ``fields``: its ``by`` field's value's, if
        listed, else ``within``."""
        value = (fields or {}).get(self.by) if self.by else None
        return next((n for v, n in self.within_by if v == value), self.within)

    @property
    def slot(self) -> str:
        return self.kind


class DutyRule(Struct, frozen=True):
    """A duty that runs on dates, one of a state's ``[states.X.duties.NAME]``: due
    each year on ``on`` (month, day), or once, ``after`` a span from the date field
    ``count_from``; a due day off moves by ``roll``.

    An occurrence not done by its due day is missed at the start of the next
    working day: the next year's is planned (a yearly duty), and ``escalate_after``
    missed in a row (1 = every one) tell the holders of ``escalate_to``. A duty
    counting from a date field exists only while the field holds a date."""

    state: str
    duty: str  # its name in the state: annual_report
    escalate_to: str
    on: tuple[int, int] | None = None  # yearly: (month, day)
    after: Span | None = None  # once: the span after count_from
    roll: str = BACKWARD
    remind: int = 0
    escalate_after: int = 1
    count_from: str | None = None
    assignee: str | None = None
    title: str = ""
    title_en: str = ""
    kind: ClassVar[str] = "duty"

    @property
    def name(self) -> str:
        return f"{self.state}.{self.duty}"

    @property
    def slot(self) -> str:
        """What a version move matches it by: its own name in the state."""
        return f"duty:{self.duty}"

    @property
    def yearly(self) -> bool:
        return self.on is not None


class EachRule(Struct, frozen=True):
    """A deadline for each person a ``people`` field names, one of a state's
    ``[states.X.each.NAME]``: each of them (the co-handlers) has a task of their
    own, due ``within`` working days after the state's entry (signing), done by
    them; overdue, the person of the ``report_to`` field (the lead handler) is
    told, else the role ``escalate_to``. ``who`` makes the rule one person's:
    its name, and so its tasks' rule, ends in ``:<handle>``."""

    state: str
    part: str  # its name in the state: co_report
    people: str  # a people field
    within: int
    report_to: str | None = None  # a person field
    escalate_to: str | None = None  # a role, when report_to is empty or not given
    remind: int = 0
    title: str = ""
    title_en: str = ""
    who: str = ""
    kind: ClassVar[str] = "each"

    @property
    def name(self) -> str:
        return f"{self.state}.{self.part}" + (f":{self.who}" if self.who else "")

    @property
    def slot(self) -> str:
        return f"each:{self.part}"

    @property
    def count_from(self) -> None:  # counts from the state's entry
        return None

    @property
    def assignee(self) -> None:  # its person is ``who``
        return None


Rule = ContactRule | VisitRule | DeadlineRule | DutyRule
