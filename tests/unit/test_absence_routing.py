"""The pure rules of absences and of how each person is told."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from torchflow.domain.absence import Absence, Receiver, check_new, receiver
from torchflow.domain.routing import (
    Decision,
    Quiet,
    decide,
    hold_until,
    inside,
    parse_quiet,
    quiet_of,
    reason,
)
from torchflow.errors import InvalidInput, Refused

D = date(2026, 12, 9)
TZ = ZoneInfo("Asia/Shanghai")


def a(person: str, sub: str, starts: str = "2026-12-07", ends: str = "2026-12-18") -> Absence:
    return Absence(person, date.fromisoformat(starts), date.fromisoformat(ends), sub)


def test_a_present_person_receives_their_own() -> None:
    assert receiver("wang.li", D, [a("zhao.min", "sun.hao")]) == Receiver("wang.li", "wang.li")


def test_the_substitute_receives_while_away_inclusive_of_both_ends() -> None:
    absences = [a("wang.li", "zhao.min")]
    for day in (date(2026, 12, 7), date(2026, 12, 18)):
        assert receiver("wang.li", day, absences) == \
            Receiver("zhao.min", "wang.li", date(2026, 12, 18))
    assert not receiver("wang.li", date(2026, 12, 19), absences).for_other


def test_a_chain_of_substitutes() -> None:
    absences = [a("wang.li", "zhao.min"), a("zhao.min", "sun.hao", ends="2026-12-10")]
    assert receiver("wang.li", D, absences).handle == "sun.hao"
    assert receiver("wang.li", date(2026, 12, 11), absences).handle == "zhao.min"


def test_a_chain_with_nobody_present_goes_to_the_escalation_role() -> None:
    # Only possible when recorded cycles slipped in (e.g. rows written by hand).
    absences = [a("wang.li", "zhao.min"), a("zhao.min", "wang.li")]
    assert receiver("wang.li", D, absences, ["chen.jie"]) == \
        Receiver("chen.jie", "wang.li", date(2026, 12, 18))
    assert receiver("wang.li", D, absences, ["zhao.min"]).handle == "wang.li"  # all away


def test_an_inactive_substitute_counts_as_away_with_nobody_named() -> None:
    absences = [a("wang.li", "zhao.min")]
    assert receiver("wang.li", D, absences, ["zhao.min", "chen.jie"], {"zhao.min"}) == \
        Receiver("chen.jie", "wang.li", date(2026, 12, 18))
    chain = [*absences, a("zhao.min", "sun.hao")]  # away and inactive: still handed on
    assert receiver("wang.li", D, chain, [], {"zhao.min"}).handle == "sun.hao"


def test_check_new_refuses_cycles_self_and_bad_ranges() -> None:
    existing = [a("zhao.min", "sun.hao", "2026-12-10", "2026-12-11"),
                a("sun.hao", "wang.li", "2026-12-11", "2026-12-12")]
    with pytest.raises(Refused,
                       match=re.escape("on 2026-12-11: wang.li -> zhao.min -> sun.hao -> wang.li")):
        check_new(a("wang.li", "zhao.min"), existing)
    check_new(a("wang.li", "zhao.min", "2026-12-12", "2026-12-18"), existing)
    with pytest.raises(InvalidInput, match="themself"):
        check_new(a("wang.li", "wang.li"), [])
    with pytest.raises(InvalidInput, match="before --from"):
        check_new(a("wang.li", "zhao.min", "2026-12-18", "2026-12-07"), [])
    with pytest.raises(InvalidInput, match="more than 366 days"):
        check_new(a("wang.li", "zhao.min", "2026-01-01", "2027-01-02"), [])


def test_quiet_hours_parse_and_span_midnight() -> None:
    quiet = parse_quiet("20:00-08:00")
    assert quiet == Quiet(time(20), time(8)) and str(quiet) == "20:00-08:00"
    assert quiet_of("20:00", "08:00") == quiet and quiet_of(None, None) is None
    for bad in ("8pm-8am", "20:00", "24:00-08:00", "08:00-08:00", "20:60-08:00"):
        with pytest.raises(InvalidInput):
            parse_quiet(bad)
    at = lambda hh, mm=0: datetime(2026, 12, 9, hh, mm, tzinfo=TZ)  # noqa: E731
    assert inside(quiet, at(20), TZ) and inside(quiet, at(7, 59), TZ)
    assert not inside(quiet, at(8), TZ) and not inside(quiet, at(19, 59), TZ)
    day = parse_quiet("12:00-13:30")
    assert inside(day, at(12), TZ) and not inside(day, at(13, 30), TZ)
    assert not inside(None, at(3), TZ)


def test_held_until_the_end_of_the_quiet_hours_in_local_time() -> None:
    quiet = parse_quiet("20:00-08:00")
    evening = datetime(2026, 12, 9, 12, 30, tzinfo=UTC)  # 20:30 in Beijing
    assert hold_until(quiet, evening, TZ) == datetime(2026, 12, 10, 8, 0, tzinfo=TZ)
    early = datetime(2026, 12, 9, 22, 0, tzinfo=UTC)  # 06:00 on the 10th
    assert hold_until(quiet, early, TZ) == datetime(2026, 12, 10, 8, 0, tzinfo=TZ)
    assert hold_until(quiet, datetime(2026, 12, 9, 3, 0, tzinfo=UTC), TZ) is None


def test_the_one_rule_for_how_a_receiver_is_told() -> None:
    quiet = parse_quiet("20:00-08:00")
    night = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)  # 22:00
    noon = datetime(2026, 12, 9, 4, 0, tzinfo=UTC)
    assert decide("escalation", notify="digest", quiet=quiet, now=night, tz=TZ) == Decision()
    assert decide("upcoming", notify="digest", quiet=quiet, now=night, tz=TZ).fold
    assert decide("due", notify="digest", quiet=None, now=noon, tz=TZ).fold
    # Overdue folds too: the next digest lists it with its working days late.
    assert decide("overdue", notify="digest", quiet=None, now=noon, tz=TZ).fold
    held = decide("overdue", notify="each", quiet=quiet, now=night, tz=TZ)
    assert held.hold == datetime(2026, 12, 10, 8, tzinfo=TZ) and not held.fold
    assert decide("due", notify="each", quiet=quiet, now=noon, tz=TZ) == Decision()
    assert decide("digest", notify="digest", quiet=quiet, now=night, tz=TZ).hold is not None


def test_the_reason_says_why() -> None:
    assert reason() == ""
    assert reason(for_person="wang.li", away_until=date(2026, 12, 18), fold=True) == \
        "for wang.li, away until 2026-12-18; folded into the daily digest"
    assert reason(hold=datetime(2026, 12, 10, 8, tzinfo=TZ)) == \
        "held until 2026-12-10T08:00+08:00 (quiet hours)"
    assert reason(fold=True, listed=True) == "already in today's digest"


def test_only_a_permanent_refusal_of_the_address_is_a_bounce() -> None:
    import smtplib

    from torchflow.channels.smtp import bounced

    assert bounced(smtplib.SMTPRecipientsRefused({"a@b.cn": (550, b"no such user")}))
    assert not bounced(smtplib.SMTPRecipientsRefused({"a@b.cn": (450, b"greylisted")}))
    assert bounced(smtplib.SMTPDataError(554, b"rejected"))
    assert not bounced(smtplib.SMTPDataError(451, b"later"))
    assert not bounced(smtplib.SMTPSenderRefused(550, b"sender", "tf@city.cn"))
    assert not bounced(smtplib.SMTPAuthenticationError(535, b"bad login"))
    assert not bounced(TimeoutError())


def test_a_second_absence_of_the_same_person_overlapping_is_refused() -> None:
    existing = [a("wang.li", "zhao.min")]
    with pytest.raises(Refused, match=re.escape("wang.li is already away 2026-12-07 to "
                                                "2026-12-18; `torchflow person back")):
        check_new(a("wang.li", "sun.hao", "2026-12-18", "2026-12-20"), existing)
    check_new(a("wang.li", "sun.hao", "2026-12-19", "2026-12-20"), existing)
