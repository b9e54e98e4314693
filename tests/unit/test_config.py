"""config.toml: every value type- and range-checked, unknown keys named with a
suggestion, a channel timeout well inside the lease, defaults written once."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchflow.channels import CHANNEL_TYPES
from torchflow.channels.file import FileSettings
from torchflow.channels.smtp import SmtpSettings
from torchflow.channels.webhook import WebhookSettings
from torchflow.config import (
    CalendarSettings,
    NotifySettings,
    OfficeSettings,
    SchedulerSettings,
    Settings,
    load_settings,
)
from torchflow.errors import ConfigError


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={})


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text)
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_an_empty_config_is_the_dataclass_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, "")
    assert settings.scheduler == SchedulerSettings()
    assert settings.calendar == CalendarSettings()
    notify = settings.notify
    assert (notify.of("smtp", SmtpSettings), notify.of("webhook", WebhookSettings)) == (
        SmtpSettings(), WebhookSettings())
    assert notify.default_channel == NotifySettings().default_channel
    assert notify.of("file", FileSettings).path == tmp_path / "outbox.jsonl"
    assert settings.busy_timeout_seconds == 15.0
    assert settings.database_url == f"sqlite:///{tmp_path / 'torchflow.db'}"


@pytest.mark.parametrize(("text", "expected"), [
    ("[scheduler]\nbatch_size = 0.5\n", "batch_size = 0.5 is not valid; it wants a whole number"),
    ("[scheduler]\nbatch_size = 0\n", "batch_size = 0 is not valid; it wants a whole number "
                                      "from 1 to 10000"),
    ("[scheduler]\nmax_attempts = 2.5\n", "max_attempts = 2.5 is not valid"),
    ("[scheduler]\nmax_attempts = true\n", "max_attempts = True is not valid"),
    ("[scheduler]\ninterval_seconds = inf\n", "interval_seconds = inf is not valid"),
    ("[scheduler]\nlease_seconds = nan\n", "lease_seconds = nan is not valid"),
    ("[scheduler]\ninterval_seconds = 1e12\n", "a number of seconds from 0.1 to 86400"),
    ("[notify.smtp]\nport = 70000\n", "port = 70000 is not valid; it wants a whole number from "
                                      "1 to 65535"),
    ("[notify.webhook]\nallow_unsigned = \"yes\"\n", "allow_unsigned = 'yes' is not valid; it "
                                                     "wants true or false"),
    ("[database]\nbusy_timeout_seconds = 0\n", "busy_timeout_seconds = 0 is not valid"),
    ("[scheduler]\nbackoff_base_seconds = 100\nbackoff_max_seconds = 10\n",
     "backoff_base_seconds must not exceed backoff_max_seconds"),
])
def test_values_are_type_and_range_checked(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in refused(tmp_path, text)


@pytest.mark.parametrize(("text", "expected"), [
    ("[scheduler]\nbatchsize = 5\n", "unknown key 'scheduler.batchsize'; did you mean "
                                     "'scheduler.batch_size'?"),
    ("[schedular]\n", "unknown key 'schedular'; did you mean 'scheduler'?"),
    ("[notify.webhook]\nallow_unsinged = true\n", "did you mean 'notify.webhook.allow_unsigned'?"),
    ("[notify]\nzzz = 1\n", "unknown key 'notify.zzz'; expected one of"),
])
def test_unknown_keys_are_named_with_a_suggestion(tmp_path: Path, text: str,
                                                  expected: str) -> None:
    assert expected in refused(tmp_path, text)


def test_a_channel_timeout_must_end_well_inside_the_lease(tmp_path: Path) -> None:
    message = refused(tmp_path, "[scheduler]\nlease_seconds = 15\n"
                                "[notify.smtp]\ntimeout_seconds = 10\n")
    assert message.endswith(
        "notify.smtp.timeout_seconds = 10 is too long for scheduler.lease_seconds = 15; a send "
        "must end well before its lease does (at most half of it, 7.5), or another service may "
        "send the same notice again")
    message = refused(tmp_path, "[scheduler]\nlease_seconds = 20\n[notify.webhook]\n"
                                "timeout_seconds = 10.5\n")
    assert "notify.webhook.timeout_seconds = 10.5 is too long" in message
    settings = load(tmp_path, "[scheduler]\nlease_seconds = 20\n")
    assert settings.scheduler.lease_seconds == 20.0


def test_a_timeout_not_written_follows_a_short_lease(tmp_path: Path) -> None:
    settings = load(tmp_path, "[scheduler]\nlease_seconds = 15\n[notify.smtp]\nport = 2525\n")
    notify = settings.notify
    assert notify.of("smtp", SmtpSettings).timeout_seconds == 7.5
    assert notify.of("smtp", SmtpSettings).port == 2525
    assert {getattr(notify.of(name, object), "timeout_seconds", 7.5)
            for name in CHANNEL_TYPES} == {7.5}  # the defaults follow it too
    assert load(tmp_path, "").notify.of("webhook", WebhookSettings).timeout_seconds == 10


def test_allow_unsigned_is_read_as_a_boolean(tmp_path: Path) -> None:
    assert WebhookSettings().allow_unsigned is False
    settings = load(tmp_path, "[notify.webhook]\nallow_unsigned = true\n")
    assert settings.notify.of("webhook", WebhookSettings).allow_unsigned is True


def test_a_folder_given_as_the_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is a folder; pass a config\.toml"):
        load_settings(tmp_path, env={})


def test_the_office_speaks_chinese_unless_told_otherwise(tmp_path: Path) -> None:
    assert load(tmp_path, "").office == OfficeSettings(locale="zh-CN", name="")
    office = load(tmp_path, '[office]\nlocale = "en"\nname = "无锡高新区招商局"\n').office
    assert (office.locale, office.name) == ("en", "无锡高新区招商局")
    assert load(tmp_path, '[office]\nlocale = "zh_CN"\n').office.locale == "zh_CN"


@pytest.mark.parametrize(("text", "english", "chinese"), [
    ('[office]\nlocale = "fr"\n', "office.locale = 'fr' is not a language torchflow speaks; "
     'use "zh-CN" (Chinese) or "en" (English)', "office.locale = 'fr' 不是 torchflow 支持的语言"),
    ('[office]\nname = "a\\nb"\n', "office.name = 'a\\nb' is not valid", None),
    ('[office]\nlanguage = "en"\n', "unknown key 'office.language'; expected one of locale, "
     "name", None),
])
def test_the_office_s_language_and_name_are_checked(tmp_path: Path, text: str, english: str,
                                                     chinese: str | None) -> None:
    from torchflow.i18n import translator

    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text)
    assert english in str(exc.value)
    if chinese:
        assert chinese in translator("zh-CN")(exc.value.text)


def test_a_group_names_a_robot_its_channel_has(tmp_path: Path) -> None:
    robots = "[notify.wecom_robot.robots.pi_team]\n"
    assert load(tmp_path, '[notify.groups]\nproject_introduction = "wecom_robot:pi_team"\n'
                + robots).notify.groups == {"project_introduction": "wecom_robot:pi_team"}
    message = refused(tmp_path, '[notify.groups]\ndirector = "wecom_robot:leaders"\n' + robots)
    assert message.endswith("notify.groups.director = 'wecom_robot:leaders': wecom_robot has "
                            "no robot named 'leaders'; give one of: pi_team (the "
                            "[notify.wecom_robot.robots] tables)")
    assert "a group robot such as" in refused(tmp_path, '[notify.groups]\nx = "pigeon:coop"\n')


def test_the_office_tells_people_by_digest_unless_it_says_each(tmp_path: Path) -> None:
    assert load(tmp_path, "").notify.mode == "digest"  # the shipped default
    notify = load(tmp_path, '[notify]\nmode = "each"\nbacklog_after = 20\n'
                            'case_url = "https://tf.example.cn/cases/{key}"\n'
                            '[notify.smtp]\nsender_name = "无锡高新区招商局"\n').notify
    assert (notify.mode, notify.backlog_after, notify.case_url) == (
        "each", 20, "https://tf.example.cn/cases/{key}")
    assert notify.of("smtp", SmtpSettings).sender_name == "无锡高新区招商局"
    assert "it wants one of each, digest" in refused(tmp_path, '[notify]\nmode = "weekly"\n')
    assert 'a URL with "{key}" in it' in refused(
        tmp_path, '[notify]\ncase_url = "https://tf.example.cn/cases"\n')
    assert "backlog_after = 0 is not valid" in refused(tmp_path, "[notify]\nbacklog_after = 0\n")
