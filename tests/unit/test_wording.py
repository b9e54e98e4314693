"""Notice wording in one pure module, and the channel registry."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from torchflow.channels import CHANNEL_TYPES, channel_type
from torchflow.config import load_settings
from torchflow.domain import wording
from torchflow.errors import ConfigError


def task(kind: str = "visit", **extra: object) -> SimpleNamespace:
    values: dict[str, object] = {"kind": kind, "rule": "visit_monthly", "occurrence": 2,
                                 "due_on": date(2026, 3, 18), "window_start": None,
                                 "window_end": None, "seed": None}
    return SimpleNamespace(**(values | extra))


@pytest.mark.parametrize("kind, when", [
    ("upcoming", "coming up on 2026-03-18"),
    ("due", "due today (2026-03-18)"),
    ("overdue", "overdue since 2026-03-18"),
    ("escalation", "missed on 2026-03-18: escalated to you"),
])
def test_task_notice_wording(kind: str, when: str) -> None:
    words = wording.task_notice(task(), "PI-2026-0001", "Fuel cells", kind)
    assert words.subject == f"[PI-2026-0001] Visit {when}: Fuel cells"
    assert words.body.splitlines() == [
        "Case PI-2026-0001: Fuel cells",
        f"Visit (rule visit_monthly, #2) is {when}.",
        "Log it with: torchflow case visit PI-2026-0001",
    ]


def test_a_deadline_is_reviewed_and_a_visit_shows_its_window() -> None:
    deadline = wording.task_notice(task("deadline"), "PI-2026-0001", "T", "due")
    assert deadline.body.endswith("Review it with: torchflow case show PI-2026-0001")
    visit = wording.task_notice(task(window_start=date(2026, 3, 16),
                                     window_end=date(2026, 3, 20), seed=7), "K", "T", "due")
    assert "Visit window 2026-03-16 to 2026-03-20, seed 7." in visit.body


def test_digest_wording() -> None:
    day = date(2026, 3, 18)
    items = [SimpleNamespace(key="PI-1", kind="visit", due_on=day, title="A"),
             SimpleNamespace(key="PI-2", kind="contact", due_on=date(2026, 3, 16), title="B")]
    words = wording.digest("Wang Li", day, items)
    assert words.subject == "[torchflow] 2026-03-18: 1 due today, 1 overdue"
    assert words.body == ("Follow-ups for Wang Li on 2026-03-18:\n\nDue today:\n"
                          "  PI-1 visit (due 2026-03-18) A\n\nOverdue:\n"
                          "  PI-2 contact (due 2026-03-16) B")


def test_every_registered_channel_reads_its_settings_builds_itself_and_knows_addresses(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[notify.wecom_app]\ncorp_id = "ww0001"\nagent_id = 1000002\n'
                      '[notify.webhook]\nallow_unsigned = true\n', encoding="utf-8")
    settings = load_settings(config, env={})
    assert set(settings.notify.channels) == {"wecom_app", "webhook"}  # the tables written
    person = SimpleNamespace(email="wang.li@example.org", address="https://example.org/h",
                             platform_ids={"wecom": "WangLi"})
    addresses = {}
    for name in CHANNEL_TYPES:
        cls = channel_type(name)
        assert cls.name == name
        addresses[name] = cls.address_of(person)
        if name == "wecom_app":  # its secret comes from the environment
            with pytest.raises(ConfigError, match=r"no secret in \$TORCHFLOW_WECOM_APP_SECRET"):
                cls.from_settings(settings)
        else:
            assert cls.from_settings(settings).name == name
    assert addresses == {"file": "", "smtp": "wang.li@example.org",
                         "webhook": "https://example.org/h", "wecom_app": "https://example.org/h",
                         "wecom_robot": "https://example.org/h",
                         "dingtalk_robot": "https://example.org/h",
                         "feishu_robot": "https://example.org/h"}
    with pytest.raises(ConfigError, match="unknown channel 'pigeon'"):
        channel_type("pigeon")
