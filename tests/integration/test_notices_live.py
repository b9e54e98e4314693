"""Notices a person can live with: a simulated month of a five-person office in
the office's default mode (digest), in Chinese, against a real SMTP server.

The office moves in with a backlog (its matters entered with their real dates;
the service starts two weeks after), a coordinator is away for a week while a
colleague stands in and logs work for them. Each person's mails are counted per
working day: at most one own digest (plus one for each absent colleague they
stand in for), and otherwise only escalations, one message a day; every mail is
in Chinese, says what to do, and no notice is lost or sent twice.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import pytest
from msgspec.structs import replace
from sqlalchemy import select

from tests.conftest import PI_FIELDS, STAFF, Clock
from tests.receivers import SmtpReceiver
from torchflow.config import OfficeSettings
from torchflow.scheduler import tick
from torchflow.service.app import App
from torchflow.service.cases.change import advance, open_case
from torchflow.service.delivery.dispatch import Channels
from torchflow.service.followups.work import log_followup
from torchflow.service.people.absences import record_absence
from torchflow.service.people.lookup import Actor, resolve_actor
from torchflow.service.people.staff import add_person
from torchflow.store.models import NOTICES

OFFICE = "无锡高新区招商局"
FIELDS = {**PI_FIELDS, "enterprise": "青能氢能科技有限公司",
          "contact_person": "李娜 副总经理 13912345678"}
# Times of the day the service ticks (local): before and after the digest, the
# working day's start, noon, after its end, the evening.
TICKS = (time(8, 0), time(8, 35), time(9, 5), time(12, 0), time(18, 5), time(21, 0))
CJK = re.compile(r"[\u4e00-\u9fff]")
# What an English notice says; none of it may be left in a Chinese office's mail.
ENGLISH = ("Follow-ups", "due today", "overdue", "working day", "Case ", "Enterprise",
           "Contact person", "Please", "not done", "escalated", "Coming up", "Deadline",
           "Visit", "Routine contact", "rule ", "seed", "while you were away", "notices")


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def office(app: App, smtp: SmtpReceiver) -> App:
    """The office as shipped (digest mode, summaries of backlogs), in Chinese, its
    mail through the receiver, a display name and a link to each case."""
    notify = replace(
        app.settings.notify.with_channel("smtp", host=smtp.host, port=smtp.port,
                                         sender="torchflow@zone.example.cn",
                                         timeout_seconds=5),
        mode="digest", backlog_after=3, case_url="https://torchflow.zone.example.cn/cases/{key}",
        default_channel="smtp")
    office = replace(app, settings=replace(app.settings, notify=notify,
                                           office=OfficeSettings("zh-CN", OFFICE)))
    for handle, name, roles in STAFF:
        add_person(office, handle, name=name, roles=roles, email=f"{handle}@zone.example.cn",
                   channel="smtp")
    return office


def open_lead(app: App, actor: Actor, title: str, contacted: bool = False) -> str:
    key = str(open_case(app, actor, "project_introduction", title=title,
                        fields=FIELDS)["key"])
    if contacted:
        advance(app, actor, key, "make_contact")
    return key


def kinds_by_key(app: App) -> dict[str, str]:
    with app.db.read() as s:
        return dict(s.execute(select(NOTICES.c.idempotency_key, NOTICES.c.kind)).all())


def test_a_month_in_digest_mode_is_one_digest_a_day_and_escalations(
    office: App, smtp: SmtpReceiver, clock: Clock
) -> None:
    cal = office.calendar
    wang, zhao = resolve_actor(office, "wang.li"), resolve_actor(office, "zhao.min")
    # Moving in on Wed 4 March: 10 matters with their real dates.
    wangs = [open_lead(office, wang, f"王立的项目{i}", contacted=i % 2 == 0) for i in range(6)]
    zhaos = [open_lead(office, zhao, f"赵敏的项目{i}", contacted=i % 2 == 0) for i in range(4)]
    channels = Channels(office.settings)
    sent = 0
    per_day: dict[tuple[str, date], list[str]] = defaultdict(list)  # (to, day) -> keys
    stands_in: dict[date, Counter[str]] = defaultdict(Counter)
    seen = 0
    day = date(2026, 3, 19)  # the service starts a fortnight late: a backlog waits
    last = day + timedelta(days=31)
    while day <= last:
        if day == date(2026, 3, 27):
            record_absence(office, wang, "wang.li", starts=date(2026, 3, 30),
                           ends=date(2026, 4, 3), substitute="zhao.min", reason="年假")
        if date(2026, 3, 30) <= day <= date(2026, 4, 3) and cal.is_workday(day):
            stands_in[day]["zhao.min"] += 1
        for at in TICKS:
            clock.set(datetime.combine(day, at, tzinfo=cal.tz).isoformat())
            if day == date(2026, 3, 31) and at == time(12, 0):
                # The substitute calls the enterprise of one of wang.li's matters.
                log_followup(office, zhao, wangs[0], "contact", note="电话联系，推进顺利")
            sent += tick(office, channels, "svc").dispatch.sent
        assert smtp.wait_for_messages(sent, timeout=10)
        mails = smtp.messages
        for mail in mails[seen:]:
            per_day[(str(mail["To"]), day)].append(str(mail["X-Torchflow-Idempotency-Key"]))
        seen = len(mails)
        day += timedelta(days=1)

    kinds = kinds_by_key(office)
    mails = smtp.messages
    assert len(mails) == sent > 0
    # Exactly once: each ledger key mailed once.
    keys = [str(m["X-Torchflow-Idempotency-Key"]) for m in mails]
    assert len(keys) == len(set(keys))
    for (to, on), got in sorted(per_day.items()):
        assert cal.is_workday(on), (to, on, got)  # nothing on a weekend or holiday
        handle = to.split("@")[0]
        counted = Counter(kinds[k] for k in got)
        assert counted["digest"] <= 1 + stands_in[on][handle], (to, on, got)
        # Besides the digests, only escalations: one message a day at most.
        assert set(counted) <= {"digest", "escalation"}, (to, on, got)
        assert counted["escalation"] <= 1, (to, on, got)
    # The director was told of the backlog's missed deadlines in one message.
    first = [kinds[k] for k in per_day[("chen.jie@zone.example.cn", date(2026, 3, 19))]]
    assert first.count("escalation") == 1

    for mail in mails:
        subject = str(mail["Subject"])
        body = mail.get_body(preferencelist=("plain",)).get_content()
        assert CJK.search(subject) and CJK.search(body), subject
        for phrase in ENGLISH:
            assert phrase not in subject and phrase not in body, (phrase, subject, body)
        assert "first_contact.contact" not in body and "lead.deadline" not in body
        assert str(mail["From"]).startswith(OFFICE)  # the display name, decoded

    # Nothing lost: every task notice went, alone or in a digest or summary that went.
    with office.db.read() as s:
        rows = s.execute(select(NOTICES)).all()
    status = {r.idempotency_key: r.status for r in rows}
    for r in rows:
        if r.task_id is None:
            continue
        if r.status == "folded":
            assert r.folded_into and status.get(r.folded_into) == "sent", r
        else:
            assert r.status in ("sent", "cancelled"), r

    # What the digests say: the enterprise and contact, working days overdue,
    # what to do; a link to the case; the command only as a hint.
    digest = next(m for m in mails if str(m["X-Torchflow-Idempotency-Key"]).startswith(
        "digest:2026-03-19:wang.li:"))
    body = digest.get_body(preferencelist=("plain",)).get_content()
    assert "青能氢能科技有限公司" in body and "13912345678" in body
    assert "已逾期" in body and "个工作日" in body
    assert f"https://torchflow.zone.example.cn/cases/{wangs[0]}" in body
    assert "（命令行查看：torchflow agenda）" in body
    assert str(digest["Subject"]).startswith(f"{OFFICE} 每日待办 2026-03-19")
    # Back on Mon 6 April: what the substitute logged, apart from what is still open.
    back = next(m for m in mails if str(m["X-Torchflow-Idempotency-Key"]).startswith(
        "digest:2026-04-07:wang.li:"))
    body = back.get_body(preferencelist=("plain",)).get_content()
    logged, _sep, still_open = body.partition("您外出期间尚未办结的事项：")
    assert "您外出期间他人代为登记：" in logged
    assert f"zhao.min登记了联络：{wangs[0]}" in logged.split("您外出期间他人代为登记：")[1]
    assert still_open and zhaos[0] not in body
