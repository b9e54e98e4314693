"""Follow-up rules of a workflow state: what the engine keeps scheduled while a
case sits in that state. Pure values; planning turns them into dates.

Every rule may count from a ``date`` field of the case instead of the state's
entry (``count_from``) and go to a ``person`` field instead of the owner
(``assignee``); the loader checks both name fields of the right type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class ContactRule:
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


@dataclass(frozen=True)
class VisitRule:
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


@dataclass(frozen=True)
class DeadlineRule:
    """The state's time budget: leave it within ``within`` working days of entry,
    or the people holding ``escalate_to`` are told."""

    state: str
    within: int
    escalate_to: str
    remind: int = 0
    count_from: str | None = None
    assignee: str | None = None
    kind: ClassVar[str] = "deadline"

    @property
    def name(self) -> str:
        return f"{self.state}.deadline"


Rule = ContactRule | VisitRule | DeadlineRule
