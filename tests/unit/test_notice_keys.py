"""Every idempotency-key variant, byte for byte as the ledger holds it: a change
of form would make an existing ledger produce (and send) a notice again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from torchflow.errors import InvalidInput
from torchflow.service.delivery.keys import idempotency_key, is_rerouted, on_channel


def test_a_substitutes_digest_has_its_own_key_beside_their_own() -> None:
    own = idempotency_key(kind="digest", recipient="zhao.min", channel="file",
                          day=date(2026, 3, 4))
    for_other = idempotency_key(kind="digest", recipient="zhao.min", channel="file",
                                day=date(2026, 3, 4), for_person="wang.li")
    assert own == "digest:2026-03-04:zhao.min:file"
    assert for_other == "digest:2026-03-04:zhao.min:file:for:wang.li"


def test_the_monthly_report_key_names_the_month() -> None:
    key = idempotency_key(kind="report", recipient="chen.jie", channel="smtp", month="2026-02")
    assert key == "report:monthly:2026-02:chen.jie:smtp"
    with pytest.raises(InvalidInput, match="month"):
        idempotency_key(kind="report", recipient="chen.jie", channel="smtp")


@pytest.mark.parametrize("key", [
    "task:42:3:overdue:li.wei:smtp:2025-03-12",
    "task:42:3:overdue:li.wei:smtp",  # a key from before the due day was in it
    "digest:2026-03-04:zhao.min:smtp:for:wang.li",
    "report:monthly:2026-02:chen.jie:smtp",
])
def test_a_rerouted_notice_keeps_its_key_and_names_the_fallback(key: str) -> None:
    rerouted = idempotency_key(rerouted=key, channel="webhook")
    assert rerouted == f"{key}:via:webhook"
    assert is_rerouted(rerouted) and not is_rerouted(key)


def test_a_held_notice_following_its_person_names_the_new_channel() -> None:
    for old in ("task:42:3:overdue:li.wei:wecom_app:2025-03-12",
                "digest:2026-03-04:li.wei:wecom_app:for:wang.li",
                "report:monthly:2026-02:li.wei:wecom_app"):
        new = on_channel(old, "li.wei", "wecom_app", "smtp")
        assert new == old.replace(":li.wei:wecom_app", ":li.wei:smtp")


def test_a_folded_backlog_and_a_test_message_have_keys_of_their_own() -> None:
    assert idempotency_key(channel="dingtalk_robot", address="office",
                           folded=[7, 9, 12]) == "fold:dingtalk_robot:office:7:12:3"
    at = datetime(2026, 3, 4, 1, 2, 3, tzinfo=UTC)
    assert idempotency_key(channel="wecom_robot", address="pi_team", test_at=at) == \
        "test:wecom_robot:pi_team:2026-03-04T01:02:03+00:00"
