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


@pytest.mark.parametrize("kind, late, when", [
    ("upcoming", 0, "coming up on 2026-03-18"),
    ("due", 0, "due today (2026-03-18)"),
    ("overdue", 0, "not done by the end of 2026-03-18"),
    ("overdue", 3, "3 working days overdue (due 2026-03-18)"),
    ("escalation", 1, "1 working day overdue (due 2026-03-18)"),
])
def test_task_notice_wording(kind: str, late: int, when: str) -> None:
    about = wording.about({"enterprise": "Qingneng Hydrogen", "contact_person": "Zhang Wei",
                           "contact_phone": "0510-8888 0000"}, "PI-2026-0001",
                          "https://tf.example.cn/cases/{key}")
    words = wording.task_notice(task(), "PI-2026-0001", "Fuel cells", kind, about=about,
                                late=late)
    assert words.subject == f"[PI-2026-0001] Fuel cells: Visit {when}"
    todo = ("It was not done in time: please see that it is followed up."
            if kind == "escalation" else "Please visit the enterprise and log the visit.")
    assert words.body.splitlines() == [
        "Case PI-2026-0001: Fuel cells",
        "Enterprise: Qingneng Hydrogen",
        "Contact person: Zhang Wei",
        "Phone: 0510-8888 0000",
        "",
        f"Visit: {when}.",
        todo,
        "Open the case: https://tf.example.cn/cases/PI-2026-0001",
        "",
        "(On the command line: torchflow case visit PI-2026-0001)",
    ]


def test_no_rule_name_nor_seed_and_a_deadline_is_checked() -> None:
    deadline = wording.task_notice(task("deadline"), "PI-2026-0001", "T", "due")
    assert "Please check how the matter stands" in deadline.body
    assert deadline.body.endswith("(On the command line: torchflow case show PI-2026-0001)")
    visit = wording.task_notice(task(window_start=date(2026, 3, 16),
                                     window_end=date(2026, 3, 20), seed="9" * 64), "K", "T", "due")
    assert "Visit on a working day of your choice from 2026-03-16 to 2026-03-20." in visit.body
    for words in (deadline, visit):
        text = words.subject + words.body
        assert "visit_monthly" not in text and "#2" not in text and "9" * 8 not in text
        assert "Open the case" not in text  # no server URL configured


def test_digest_wording() -> None:
    day = date(2026, 3, 18)
    items = [SimpleNamespace(key="PI-1", kind="visit", due_on=day, title="A"),
             SimpleNamespace(key="PI-2", kind="contact", due_on=date(2026, 3, 16), title="B",
                             about=wording.About(enterprise="Co B", phone="123"))]
    words = wording.digest("Wang Li", day, items, late=lambda due: (day - due).days)
    assert words.subject == "Follow-ups 2026-03-18: 1 due today, 1 overdue"
    assert words.body == ("Follow-ups for Wang Li on 2026-03-18:\n\nDue today:\n"
                          "  · PI-1 A: Visit, due 2026-03-18\n\nOverdue:\n"
                          "  · PI-2 B: Routine contact, 2 working days overdue (Co B; 123)\n\n"
                          "(On the command line: torchflow agenda)")


def test_while_away_says_what_was_logged_apart_from_what_is_open() -> None:
    day = date(2026, 3, 18)
    away = wording.Away(
        logged=[SimpleNamespace(day="2026-03-16", who="zhao.min", kind="contact", key="PI-1",
                                title="A")],
        still_open=[SimpleNamespace(key="PI-2", kind="deadline", due_on=day, title="B")])
    body = wording.digest("Wang Li", day, [], away=away).body
    logged, still = body.split("Still open from while you were away:")
    assert "Logged for you while you were away:\n  · 2026-03-16 zhao.min logged a contact: " \
           "PI-1 A" in logged
    assert "PI-2 B: Deadline, due 2026-03-18" in still and "PI-2" not in logged


def test_a_summary_lists_the_notices_it_stands_for() -> None:
    words = wording.summary("Chen Jie", "escalation", ["[PI-1] A: late", "[PI-2] B: late"])
    assert words.subject == "2 matters not done in time: escalated to you"
    assert words.body.splitlines()[-2:] == ["· [PI-1] A: late", "· [PI-2] B: late"]
    backlog = wording.summary("Wang Li", "digest", ["x"] * 40)
    assert backlog.subject == "40 follow-ups need your attention"
    assert backlog.body.count("· x") == 40


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
