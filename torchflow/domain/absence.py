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
from datetime import date, timedelta

from msgspec import Struct

from torchflow.errors import InvalidInput, Refused
from torchflow.i18n import _

MAX_DAYS = 366  # an absence of more than a year is a typo or a handover


class Absence(Struct, frozen=True):
    """``person`` is away from ``starts`` to ``ends`` (both inclusive)."""

    person: str
    starts: date
    ends: date
    substitute: str

    def covers(self, day: date) -> bool:
        return self.starts <= day <= self.ends


class Receiver(Struct, frozen=True):
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
        raise InvalidInput(_("{person} cannot substitute for themself; name someone else",
                             person=new.person))
    if new.ends < new.starts:
        raise InvalidInput(_("--to {end} is before --from {start}; the absence ends on or "
                             "after the day it starts", end=new.ends, start=new.starts))
    if (new.ends - new.starts).days >= MAX_DAYS:
        raise InvalidInput(_("an absence of more than {days} days is refused; for a longer "
                             "one hand the work over (person handover)", days=MAX_DAYS))
    overlapping = [a for a in existing if a.starts <= new.ends and new.starts <= a.ends]
    for own in (a for a in overlapping if a.person == new.person):
        raise Refused(_("{person} is already away {start} to {end}; `torchflow person back "
                        "{person}` first, then record it again", person=new.person,
                        start=own.starts, end=own.ends))
    others = [a for a in overlapping if a.person != new.person]
    day = new.starts
    while day <= new.ends:
        away = away_on(others, day)
        chain = [new.person, new.substitute]
        while chain[-1] in away:
            nxt = away[chain[-1]].substitute
            if nxt in chain:
                raise Refused(_("substitutes would go round in a circle on {day}: {chain}; "
                                "pick a substitute who is not away then", day=day,
                                chain=" -> ".join([*chain, nxt])))
            chain.append(nxt)
        day += timedelta(days=1)
