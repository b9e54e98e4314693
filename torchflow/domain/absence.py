"""Absences and substitutes: who receives a person's notices and new work on a day.

Pure: absences in, a handle out. A person away on a day hands their notices to
their substitute; a substitute away that day too hands them on (a chain); a
chain that comes back to someone already in it (possible only when absences
overlap) ends with nobody present, and then the present holders of the
escalation role receive them. Recording an absence that would close a cycle on
any of its days is refused, so in practice the chain always ends.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from torchflow.errors import InvalidInput, Refused

MAX_DAYS = 366  # an absence of more than a year is a typo or a handover


@dataclass(frozen=True)
class Absence:
    """``person`` is away from ``starts`` to ``ends`` (both inclusive)."""

    person: str
    starts: date
    ends: date
    substitute: str

    def covers(self, day: date) -> bool:
        return self.starts <= day <= self.ends


@dataclass(frozen=True)
class Receiver:
    """Who receives ``person``'s notices on a day; ``away_until`` is set when that
    is someone else (the last day of the absence, for the wording)."""

    handle: str
    person: str
    away_until: date | None = None

    @property
    def for_other(self) -> bool:
        return self.handle != self.person


def away_on(absences: Iterable[Absence], day: date) -> dict[str, Absence]:
    """The absence in force on ``day`` per person (the one recorded last wins)."""
    return {a.person: a for a in absences if a.covers(day)}


def receiver(person: str, day: date, absences: Iterable[Absence],
             fallback: Sequence[str] = (), inactive: Collection[str] = ()) -> Receiver:
    """Who gets ``person``'s notices on ``day``: themself when present, else the
    first present substitute down the chain, else the first present of
    ``fallback`` (the escalation role's holders), else ``person`` (nobody is
    present: the notice waits in their own box rather than being lost). An
    ``inactive`` substitute (deactivated since) counts as away with nobody named."""
    away = away_on(absences, day)
    if person not in away:
        return Receiver(person, person)
    until = away[person].ends
    seen = {person}
    current = away[person].substitute
    while current in away:
        if current in seen:
            break
        seen.add(current)
        current = away[current].substitute
    else:
        if current not in inactive:
            return Receiver(current, person, until)
    present = [h for h in fallback if h not in away and h not in inactive]
    return Receiver(present[0] if present else person, person, until)


def check_new(new: Absence, existing: Iterable[Absence]) -> None:
    """Refuse an absence that is malformed or would make a substitute cycle on
    any of its days (A covers B while B covers A)."""
    if new.substitute == new.person:
        raise InvalidInput(f"{new.person} cannot substitute for themself; name someone else")
    if new.ends < new.starts:
        raise InvalidInput(f"--to {new.ends} is before --from {new.starts}; "
                           "the absence ends on or after the day it starts")
    if (new.ends - new.starts).days >= MAX_DAYS:
        raise InvalidInput(f"an absence of more than {MAX_DAYS} days is refused; "
                           "for a longer one hand the work over (person handover)")
    overlapping = [a for a in existing if a.starts <= new.ends and new.starts <= a.ends]
    for own in (a for a in overlapping if a.person == new.person):
        raise Refused(f"{new.person} is already away {own.starts} to {own.ends}; "
                      f"`torchflow person back {new.person}` first, then record it again")
    others = [a for a in overlapping if a.person != new.person]
    day = new.starts
    while day <= new.ends:
        away = away_on(others, day)
        chain = [new.person, new.substitute]
        while chain[-1] in away:
            nxt = away[chain[-1]].substitute
            if nxt in chain:
                raise Refused(
                    f"substitutes would go round in a circle on {day}: "
                    + " -> ".join([*chain, nxt])
                    + "; pick a substitute who is not away then")
            chain.append(nxt)
        day += timedelta(days=1)
