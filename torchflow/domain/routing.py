"""How each person is told: quiet hours, digest-only folding, the reason a
ledger row records.

Pure. Quiet hours are local wall times, every day of the week (a person's
evening is quiet on a Saturday too); a span whose start is after its end runs
past midnight (20:00-08:00). Nothing but escalations is sent inside them: a
notice produced then is held, not dropped, until the quiet hours end.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from msgspec import Struct

from torchflow.domain.status import NoticeKind
from torchflow.errors import InvalidInput
from torchflow.i18n import _

EACH, DIGEST = "each", "digest"
NOTIFY_MODES = (EACH, DIGEST)
# Digest mode folds these into the daily digest (an overdue task is listed there,
# with how many working days overdue, every day until done); escalations go at once.
FOLDED_KINDS = frozenset({NoticeKind.UPCOMING, NoticeKind.DUE, NoticeKind.OVERDUE})
_SPAN = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*$")


class Quiet(Struct, frozen=True):
    """Quiet hours from ``start`` to ``end`` (local times; end exclusive)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet(text: str) -> Quiet:
    """``20:00-08:00`` -> Quiet; anything else is refused with an example."""
    match = _SPAN.fullmatch(text)
    if not match:
        raise InvalidInput(_("quiet hours {text!r} are not HH:MM-HH:MM; e.g. 20:00-08:00",
                             text=text))
    start = time(int(match[1]), int(match[2]))
    end = time(int(match[3]), int(match[4]))
    if start == end:
        raise InvalidInput(_("quiet hours {text!r} start and end at the same time; give a span "
                             "such as 20:00-08:00, or --no-quiet", text=text))
    return Quiet(start, end)


def quiet_of(start: str | None, end: str | None) -> Quiet | None:
    """The stored pair of 'HH:MM' columns as Quiet, or None when unset."""
    if not start or not end:
        return None
    return parse_quiet(f"{start}-{end}")


def inside(quiet: Quiet | None, instant: datetime, tz: tzinfo) -> bool:
    if quiet is None:
        return False
    now = instant.astimezone(tz).time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        return quiet.start <= now < quiet.end
    return now >= quiet.start or now < quiet.end


def hold_until(quiet: Quiet | None, instant: datetime, tz: tzinfo) -> datetime | None:
    """When a notice produced at ``instant`` may go: the end of the quiet hours
    it falls in (aware, in ``tz``), or None when it is not in quiet hours."""
    if quiet is None or not inside(quiet, instant, tz):
        return None
    local = instant.astimezone(tz)
    end = datetime.combine(local.date(), quiet.end, tzinfo=tz)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=tz)
    return end


class Decision(Struct, frozen=True):
    """What happens to one notice for one receiver: folded into the digest,
    held until an instant, or sent now (neither)."""

    fold: bool = False
    hold: datetime | None = None


def decide(kind: str, *, notify: str, quiet: Quiet | None, now: datetime,
           tz: tzinfo) -> Decision:
    """The one rule for how a receiver is told of a notice of ``kind``."""
    if kind == NoticeKind.ESCALATION:
        return Decision()
    if notify == DIGEST and kind in FOLDED_KINDS:
        return Decision(fold=True)
    return Decision(hold=hold_until(quiet, now, tz))


def reason(*, for_person: str | None = None, away_until: date | None = None,
           fold: bool = False, hold: datetime | None = None, listed: bool = False) -> str:
    """The ledger's reason column: why a notice went where and when it did
    (``listed``: today's digest already listed its task)."""
    parts = []
    if for_person is not None:
        parts.append(f"for {for_person}, away until {away_until}")
    if listed:
        parts.append("already in today's digest")
    elif fold:
        parts.append("folded into the daily digest")
    if hold is not None:
        parts.append(f"held until {hold.isoformat(timespec='minutes')} (quiet hours)")
    return "; ".join(parts)
