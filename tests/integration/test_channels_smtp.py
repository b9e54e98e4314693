"""SmtpChannel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from msgspec.structs import replace

from tests.receivers import SmtpReceiver
from torchflow.channels import Message, SmtpChannel
from torchflow.channels.smtp import message_id
from torchflow.errors import ConfigError, DeliveryError

TIMEOUT = 5.0  # every client operation is bounded; a hang fails instead of blocking CI


def make_message(key: str = "notice-1", address: str = "zhang.wei@example.org") -> Message:
    return Message(
        idempotency_key=key,
        kind="overdue",
        recipient="zhang.wei",
        address=address,
        subject="逾期提醒：人才对接 TD-2026-0003",
        body="张伟您好：\n拜访记录已逾期 2 个工作日，请尽快补录。\n",
        payload={"case": "TD-2026-0003"},
    )


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver(refused={"nobody@example.org"}) as receiver:
        yield receiver


@pytest.fixture
def channel(smtp: SmtpReceiver) -> Iterator[SmtpChannel]:
    ch = SmtpChannel(smtp.host, smtp.port, sender="torchflow@city.example", timeout=TIMEOUT)
    yield ch
    ch.close()


def test_sends_headers_and_utf8_body(smtp: SmtpReceiver, channel: SmtpChannel) -> None:
    channel.send(make_message())
    assert smtp.envelopes == [("torchflow@city.example", ["zhang.wei@example.org"])]
    [mail] = smtp.messages
    assert mail["To"] == "zhang.wei@example.org"
    assert mail["From"] == "torchflow@city.example"
    assert mail["Subject"] == "逾期提醒：人才对接 TD-2026-0003"
    assert mail["X-Torchflow-Idempotency-Key"] == "notice-1"
    assert mail.get_content_charset() == "utf-8"
    # text travels in canonical form (CRLF line ends, RFC 2045), so compare lines
    assert mail.get_content().splitlines() == [
        "张伟您好：",
        "拜访记录已逾期 2 个工作日，请尽快补录。",
    ]


def test_a_resend_carries_the_same_message_id(smtp: SmtpReceiver, channel: SmtpChannel) -> None:
    channel.send(make_message("notice-1"))
    channel.send(make_message("notice-1"))
    channel.send(make_message("notice-2"))
    ids = [mail["Message-ID"] for mail in smtp.messages]
    assert ids[0] == ids[1] == message_id("notice-1")
    assert ids[2] != ids[0]
    assert ids[0].startswith("<") and ids[0].endswith("@torchflow>")


def test_refused_recipient_is_a_delivery_error(smtp: SmtpReceiver, channel: SmtpChannel) -> None:
    with pytest.raises(DeliveryError, match=r"nobody@example\.org refused: 550"):
        channel.send(make_message(address="nobody@example.org"))
    channel.send(make_message())  # the session survives a refused recipient
    assert len(smtp.messages) == 1


def test_reconnects_once_after_the_server_dropped_an_idle_connection() -> None:
    with SmtpReceiver(idle_timeout=0.2) as smtp:
        channel = SmtpChannel(smtp.host, smtp.port, timeout=TIMEOUT)
        channel.send(make_message("notice-1"))
        time.sleep(0.5)  # the server closes the idle session (421) meanwhile
        channel.send(make_message("notice-2"))
        channel.close()
        assert [m["X-Torchflow-Idempotency-Key"] for m in smtp.messages] == [
            "notice-1",
            "notice-2",
        ]


def test_a_421_on_a_reused_connection_reconnects_once(
    smtp: SmtpReceiver, channel: SmtpChannel
) -> None:
    channel.send(make_message("notice-1"))
    smtp.fail_next_mail("421 4.3.2 service shutting down")
    channel.send(make_message("notice-2"))
    assert len(smtp.messages) == 2


def test_a_421_twice_is_a_delivery_error(smtp: SmtpReceiver, channel: SmtpChannel) -> None:
    channel.send(make_message("notice-1"))
    smtp.fail_next_mail("421 4.3.2 service shutting down", times=2)
    with pytest.raises(DeliveryError, match=r"421 4\.3\.2 service shutting down"):
        channel.send(make_message("notice-2"))
    channel.send(make_message("notice-3"))  # and the channel recovers afterwards
    assert len(smtp.messages) == 2


def test_a_421_on_a_fresh_connection_is_not_retried(
    smtp: SmtpReceiver, channel: SmtpChannel
) -> None:
    smtp.fail_next_mail("421 4.3.2 service shutting down")
    with pytest.raises(DeliveryError, match="421"):
        channel.send(make_message())
    assert smtp.messages == []


def test_stopped_server_is_a_delivery_error() -> None:
    with SmtpReceiver() as smtp:
        channel = SmtpChannel(smtp.host, smtp.port, timeout=TIMEOUT)
        channel.send(make_message())  # leaves a connection open to a server about to go
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="refused"):
        channel.send(make_message())
    with pytest.raises(DeliveryError):  # a fresh channel fails the same way
        SmtpChannel(smtp.host, smtp.port, timeout=TIMEOUT).send(make_message())
    assert time.monotonic() - started < TIMEOUT


def test_login_against_a_server_without_auth_is_a_delivery_error(smtp: SmtpReceiver) -> None:
    channel = SmtpChannel(smtp.host, smtp.port, username="u", password="p", timeout=TIMEOUT)
    with pytest.raises(DeliveryError, match=r"smtp 127\.0\.0\.1"):
        channel.send(make_message())
    assert smtp.messages == []


def test_missing_address_is_a_delivery_error(channel: SmtpChannel) -> None:
    with pytest.raises(DeliveryError, match=r"no e-mail address for 'zhang\.wei'"):
        channel.send(make_message(address=""))


def test_bad_security_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="starttls"):
        SmtpChannel("127.0.0.1", 25, security="tls")


def test_a_visit_or_deadline_notice_carries_its_event(smtp: SmtpReceiver,
                                                      channel: SmtpChannel) -> None:
    from datetime import date

    from icalendar import Calendar

    payload = {"case": "PI-2026-0001", "task": 42, "task_kind": "visit",
               "rule": "negotiation.visit", "occurrence": 1, "due_on": "2026-03-18",
               "case_title": "氢燃料电池"}
    message = make_message()
    channel.send(replace(message, kind="upcoming", payload=payload))
    channel.send(replace(message, idempotency_key="notice-2",
                         payload={**payload, "task_kind": "contact"}))
    visit, contact = smtp.messages
    assert visit.is_multipart() and not contact.is_multipart()
    [part] = [p for p in visit.iter_attachments()]
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "PUBLISH"
    assert part.get_filename() == "PI-2026-0001.ics"
    [event] = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
    assert str(event["uid"]) == "task-42@torchflow"
    assert event.decoded("dtstart") == date(2026, 3, 18)
    assert part.get_param("charset") == "utf-8"  # or a parser applying US-ASCII garbles it
    assert str(event["summary"]) == " ".join(message.subject.split())  # the mail's own words
    body = visit.get_body(preferencelist=("plain",))
    assert body is not None and "张伟您好" in body.get_content()
