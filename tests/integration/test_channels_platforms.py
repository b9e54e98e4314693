"""The WeCom, DingTalk and Feishu channels against loopback fakes of their APIs
(tests/platforms.py): signatures, 200-with-error answers read as failures and
classified, lengths, @-mentions, the access token, the duplicate check, trusted
IPs and a clock an hour off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.platforms import DingtalkFake, FeishuFake, WecomFake
from torchflow.channels import Message, build_channel, unusable
from torchflow.channels.dingtalk_robot import DingtalkRobot
from torchflow.channels.feishu_robot import FeishuRobot
from torchflow.channels.wecom_app import WecomApp
from torchflow.channels.wecom_robot import WecomRobot
from torchflow.config import Settings, load_settings
from torchflow.errors import DeliveryError

WECOM_KEY, DING_TOKEN, DING_SECRET = "693a91f6-key", "ding-token", "SECd1ng-secret"
FEISHU_TOKEN, FEISHU_SECRET = "5e3d587e-hook", "feishu-secret"
WANG = {"wecom": "WangLi", "mobile": "13800001111", "feishu": "ou_7d8a6e6df7621556ce0d21922b676706"}


def message(subject: str = "[PI-2026-0001] 例行联络今日到期：青能氢能源",
            body: str = "案件 PI-2026-0001：青能氢能源\n例行联络今日到期（2026-03-18）。",
            *, address: str = "", mentions: tuple[dict[str, str], ...] = (WANG,),
            key: str = "task:1:1:due:wang.li:x:2026-03-18") -> Message:
    return Message(idempotency_key=key, kind="due", recipient="wang.li", address=address,
                   subject=subject, body=body, payload={"case": "PI-2026-0001"},
                   mentions=mentions)


@pytest.fixture
def wecom() -> Iterator[WecomFake]:
    with WecomFake({WECOM_KEY: "office"}, members={"WangLi"}) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def ding() -> Iterator[DingtalkFake]:
    with DingtalkFake({DING_TOKEN: DING_SECRET}) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def feishu() -> Iterator[FeishuFake]:
    with FeishuFake({FEISHU_TOKEN: FEISHU_SECRET}) as fake:
        yield fake  # type: ignore[misc]


def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "", **urls: str
               ) -> Settings:
    """The office's config.toml for the fakes, its secrets in the environment."""
    for name, value in {"TORCHFLOW_WECOM_ROBOT_OFFICE_TOKEN": WECOM_KEY,
                        "TORCHFLOW_DINGTALK_ROBOT_OFFICE_TOKEN": DING_TOKEN,
                        "TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET": DING_SECRET,
                        "TORCHFLOW_FEISHU_ROBOT_OFFICE_TOKEN": FEISHU_TOKEN,
                        "TORCHFLOW_FEISHU_ROBOT_OFFICE_SECRET": FEISHU_SECRET,
                        "TORCHFLOW_WECOM_APP_SECRET": "app-secret"}.items():
        monkeypatch.setenv(name, value)
    text = '[notify]\nallow_hosts = ["127.0.0.1"]\n'
    for name, url in urls.items():
        text += f'[notify.{name}]\nbase_url = "{url}"\n'
        if name == "wecom_app":
            text += 'corp_id = "ww-office"\nagent_id = 1000002\n'
        else:
            text += f'default_robot = "office"\n[notify.{name}.robots.office]\n'
    path = tmp_path / "config.toml"
    path.write_text(text + extra, encoding="utf-8")
    return load_settings(path, env={})


def bodies(fake: Any) -> list[dict[str, Any]]:
    return [r.body for r in fake.received]


# --------------------------------------------------------------------------- WeCom robot


def test_wecom_robot_posts_markdown_and_mentions_with_a_text_message(
    wecom: WecomFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, wecom_robot=wecom.url),
                            "wecom_robot")
    channel.send(message(mentions=()))
    channel.send(message())  # to @ Wang Li: mentioned_list is a text message's
    plain, mentioning = wecom.received
    assert plain.key == WECOM_KEY
    assert plain.body == {"msgtype": "markdown", "markdown": {"content": (
        "**［PI-2026-0001］ 例行联络今日到期：青能氢能源**\n案件 PI-2026-0001：青能氢能源\n"
        "例行联络今日到期（2026-03-18）。")}}
    assert mentioning.body["msgtype"] == "text"
    assert mentioning.body["text"]["mentioned_list"] == ["WangLi"]
    assert mentioning.body["text"]["mentioned_mobile_list"] == []
    assert mentioning.body["text"]["content"].startswith("［PI-2026-0001］")  # plain text


def test_wecom_robot_mentions_someone_known_only_by_mobile_by_mobile(
    wecom: WecomFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, wecom_robot=wecom.url),
                            "wecom_robot")
    channel.send(message(mentions=({"mobile": "13800001111"},)))
    [body] = bodies(wecom)
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_mobile_list"] == ["13800001111"]


def test_typed_text_cannot_mention_the_whole_group(
    wecom: WecomFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, wecom_robot=wecom.url),
                            "wecom_robot")
    channel.send(message(subject="<@all> 全体注意 @all", mentions=()))
    [body] = bodies(wecom)
    assert "<@" not in body["markdown"]["content"]
    assert "mentioned_list" not in json.dumps(body)


def test_a_long_notice_goes_in_parts_each_within_the_limit(
    wecom: WecomFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, wecom_robot=wecom.url),
                            "wecom_robot")
    body = "\n".join(f"PI-2026-{i:04d} 例行联络（到期 2026-03-18）青能氢能源有限公司"
                     for i in range(200))
    channel.send(message(body=body, mentions=()))
    contents = [b["markdown"]["content"] for b in bodies(wecom)]
    assert len(contents) > 1 and not wecom.refused  # the fake checks the length
    assert all(len(c.encode()) <= 4096 for c in contents)
    # The marks in the office's language: this config has no [office], so Chinese.
    assert contents[0].startswith(f"（1/{len(contents)}）")
    channel.send(message(body=body))  # with a mention: text messages, 2,048 bytes each
    texts = [b["text"] for b in bodies(wecom)[len(contents):]]
    assert all(len(t["content"].encode()) <= 2048 for t in texts)
    assert texts[-1]["content"].endswith(" 行未列出")  # five parts at most, then counted
    assert texts[0]["mentioned_list"] == ["WangLi"] and "mentioned_list" not in texts[1]
    english = build_channel(configured(tmp_path, monkeypatch, '[office]\nlocale = "en"\n',
                                       wecom_robot=wecom.url), "wecom_robot")
    english.send(message(body=body))
    assert bodies(wecom)[-1]["text"]["content"].endswith(" more lines")
    assert bodies(wecom)[-5]["text"]["content"].startswith("(1/5)")


@pytest.mark.parametrize(("answer", "kind", "words"), [
    ({"errcode": 93000, "errmsg": "invalid webhook url"}, "fatal",
     "the robot's key is not valid, or the robot was removed from its group: put its webhook "
     "key in $TORCHFLOW_WECOM_ROBOT_OFFICE_TOKEN"),
    ({"errcode": 45009, "errmsg": "api freq out of limit"}, "throttled",
     "the platform is throttling this robot"),
    ({"errcode": -1, "errmsg": "system busy"}, "transient", "the platform is busy"),
    ({"errcode": 12345, "errmsg": "something new"}, "transient", "12345 something new"),
])
def test_a_200_with_an_error_code_is_a_failure_classified_with_words(
    wecom: WecomFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    answer: dict[str, Any], kind: str, words: str
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, wecom_robot=wecom.url),
                            "wecom_robot")
    wecom.force(answer)
    with pytest.raises(DeliveryError) as failed:
        channel.send(message())
    error = failed.value
    assert words in str(error) and "\n" not in str(error)
    assert (error.fatal, error.retry_after is not None) == (kind == "fatal", kind == "throttled")
    if kind == "throttled":
        assert error.retry_after == 60.0
    assert WECOM_KEY not in str(error)  # the key is the secret: never in an error


# --------------------------------------------------------------------------- WeCom app


def test_wecom_app_keeps_its_access_token_and_asks_for_duplicate_checking(
    wecom: WecomFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, wecom_app=wecom.url), "wecom_app")
    for i in range(3):
        channel.send(message(address="WangLi", key=f"k{i}", body=f"第 {i} 条"))
    assert wecom.token_calls == 1  # valid 7,200 s: asked once
    body = bodies(wecom)[0]
    assert (body["touser"], body["agentid"], body["msgtype"]) == ("WangLi", 1000002, "markdown")
    assert (body["enable_duplicate_check"], body["duplicate_check_interval"]) == (1, 1800)
    wecom.expire_tokens()  # WeCom says the token ran out: fetched again, sent once
    channel.send(message(address="WangLi", key="k9", body="第 9 条"))
    assert wecom.token_calls == 2 and len(wecom.received) == 4


def test_a_resend_after_a_crash_is_dropped_by_the_duplicate_check(
    wecom: WecomFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = configured(tmp_path, monkeypatch, wecom_app=wecom.url)
    build_channel(settings, "wecom_app").send(message(address="WangLi"))
    build_channel(settings, "wecom_app").send(message(address="WangLi"))  # another process
    assert len(wecom.received) == 1 and wecom.duplicates == 1


def test_wecom_app_names_the_ip_to_trust_and_the_member_it_does_not_know(
    wecom: WecomFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, wecom_app=wecom.url), "wecom_app")
    wecom.trusted_ips = {"10.1.1.1"}
    with pytest.raises(DeliveryError) as refused:
        channel.send(message(address="WangLi"))
    assert refused.value.fatal
    assert "add this server's address to the app's trusted IPs" in str(refused.value)
    assert "from ip: 127.0.0.1" in str(refused.value)
    wecom.trusted_ips = None
    with pytest.raises(DeliveryError) as unknown:
        channel.send(message(address="ZhaoMin"))
    assert unknown.value.permanent and not unknown.value.fatal  # the person's address
    assert "WeCom does not know user id ZhaoMin" in str(unknown.value)


def test_wecom_app_splits_at_2048_bytes(wecom: WecomFake, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, wecom_app=wecom.url), "wecom_app")
    long = "\n".join(f"第 {i} 项跟进事项" for i in range(300))
    channel.send(message(address="WangLi", body=long))
    assert len(wecom.received) > 1 and not wecom.refused


# --------------------------------------------------------------------------- DingTalk


def test_dingtalk_signs_and_mentions_by_mobile(ding: DingtalkFake, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, dingtalk_robot=ding.url),
                            "dingtalk_robot")
    channel.send(message())
    [body] = bodies(ding)
    assert body["at"] == {"atMobiles": ["13800001111"], "isAtAll": False}
    assert body["markdown"]["text"].endswith("  \n@13800001111")
    assert body["markdown"]["title"] == "[PI-2026-0001] 例行联络今日到期：青能氢能源"


def test_dingtalk_refuses_a_wrong_secret_and_says_what_to_check(
    ding: DingtalkFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = configured(tmp_path, monkeypatch, dingtalk_robot=ding.url)
    monkeypatch.setenv("TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET", "SECwrong")
    with pytest.raises(DeliveryError) as refused:
        build_channel(settings, "dingtalk_robot").send(message())
    text = str(refused.value)
    assert refused.value.fatal and "310000 sign not match" in text
    assert "check $TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET" in text
    assert "this server's clock is right" in text
    assert not ding.received


def test_a_clock_an_hour_off_is_refused_and_named(ding: DingtalkFake, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, dingtalk_robot=ding.url),
                            "dingtalk_robot")
    assert isinstance(channel, DingtalkRobot)
    channel.clock = lambda: datetime.now(UTC) + timedelta(minutes=75)  # this server's clock
    with pytest.raises(DeliveryError) as refused:
        channel.send(message())
    assert "this server's clock is 75 minutes fast; signed timestamps are refused an hour " \
           "off: set the time (NTP)" in str(refused.value)


def test_a_robot_secured_by_keyword_gets_it_in_every_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHFLOW_DINGTALK_ROBOT_OFFICE_TOKEN", DING_TOKEN)
    with DingtalkFake({DING_TOKEN: ""}, keyword="督办") as fake:
        text = (f'[notify]\nallow_hosts = ["127.0.0.1"]\n[notify.dingtalk_robot]\n'
                f'base_url = "{fake.url}"\nallow_unsigned = true\ndefault_robot = "office"\n'
                "[notify.dingtalk_robot.robots.office]\n")
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DeliveryError, match="keywords not in content"):
            build_channel(load_settings(path, env={}), "dingtalk_robot").send(message())
        path.write_text(text + 'keyword = "督办"\n', encoding="utf-8")
        build_channel(load_settings(path, env={}), "dingtalk_robot").send(message())
        assert "督办" in fake.received[0].text


def test_dingtalk_throttles_past_20_a_minute_for_ten_minutes(
    ding: DingtalkFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, dingtalk_robot=ding.url),
                            "dingtalk_robot")
    for i in range(20):
        channel.send(message(key=f"k{i}"))
    with pytest.raises(DeliveryError) as throttled:
        channel.send(message(key="k20"))
    assert throttled.value.retry_after == 600.0
    assert len(ding.received) == 20


# --------------------------------------------------------------------------- Feishu


def test_feishu_signs_in_the_body_and_mentions_by_open_id(
    feishu: FeishuFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, feishu_robot=feishu.url),
                            "feishu_robot")
    channel.send(message())
    [body] = bodies(feishu)
    assert body["msg_type"] == "interactive"
    title = body["card"]["header"]["title"]["content"]
    assert title == "[PI-2026-0001] 例行联络今日到期：青能氢能源"
    assert body["card"]["elements"][0]["content"].endswith(
        "\n<at id=ou_7d8a6e6df7621556ce0d21922b676706></at>")


@pytest.mark.parametrize(("setup", "code", "fatal", "words"), [
    ("secret", 19021, True, "the signature was refused: check "
                            "$TORCHFLOW_FEISHU_ROBOT_OFFICE_SECRET"),
    ("ip", 19022, True, "add it to the bot's trusted IPs"),
    ("keyword", 19024, True, "the message lacks the bot's keyword"),
    ("throttle", 11232, False, "the platform is throttling this robot"),
])
def test_feishu_refusals_are_read_and_classified(
    feishu: FeishuFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str, code: int,
    fatal: bool, words: str
) -> None:
    settings = configured(tmp_path, monkeypatch, feishu_robot=feishu.url)
    if setup == "secret":
        monkeypatch.setenv("TORCHFLOW_FEISHU_ROBOT_OFFICE_SECRET", "wrong")
    elif setup == "ip":
        feishu.trusted_ips = {"10.0.0.9"}
    elif setup == "keyword":
        feishu.keyword = "督办"
    channel = build_channel(settings, "feishu_robot")
    if setup == "throttle":
        for i in range(5):
            channel.send(message(key=f"k{i}"))  # five a second is the bot's limit
    with pytest.raises(DeliveryError) as refused:
        channel.send(message())
    assert f"{code} " in str(refused.value) and words in str(refused.value)
    assert refused.value.fatal is fatal
    assert (refused.value.retry_after == 60.0) is (setup == "throttle")


def test_feishu_keeps_each_request_under_20_kb(feishu: FeishuFake, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    channel = build_channel(configured(tmp_path, monkeypatch, feishu_robot=feishu.url),
                            "feishu_robot")
    assert isinstance(channel, FeishuRobot)
    long = "\n".join(f"第 {i} 项：青能氢能源有限公司例行联络" for i in range(900))
    channel.send(message(body=long))
    assert len(feishu.received) > 1 and not feishu.refused


# --------------------------------------------------------------------------- set-up


def test_a_robot_without_its_token_or_secret_says_which_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = configured(tmp_path, monkeypatch, dingtalk_robot="https://oapi.dingtalk.com",
                          wecom_robot="https://qyapi.weixin.qq.com")
    monkeypatch.delenv("TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET")
    monkeypatch.delenv("TORCHFLOW_WECOM_ROBOT_OFFICE_TOKEN")
    ding = build_channel(settings, "dingtalk_robot")
    assert str(ding.problem("")) == (
        "dingtalk_robot robot office has no signing secret: set "
        "$TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET, or set [notify.dingtalk_robot] "
        "allow_unsigned = true if the robot is secured by keyword or trusted IP")
    assert str(build_channel(settings, "wecom_robot").problem("office")) == (
        "wecom_robot robot office has no token: set $TORCHFLOW_WECOM_ROBOT_OFFICE_TOKEN")
    assert "has no robot named 'pi'" in str(ding.problem("pi"))
    assert isinstance(build_channel(settings, "wecom_robot"), WecomRobot)


def test_a_base_url_inside_is_refused_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHFLOW_WECOM_APP_SECRET", "app-secret")
    path = tmp_path / "config.toml"
    app = '[notify.wecom_app]\nbase_url = "http://10.0.0.5"\ncorp_id = "ww1"\nagent_id = 1\n'
    path.write_text(app, encoding="utf-8")
    assert str(unusable(load_settings(path, env={}), "wecom_app", "WangLi")) == (
        "[notify.wecom_app] base_url http://10.0.0.5 points to 10.0.0.5, a private address; "
        "torchflow posts only to public hosts unless [notify] allow_hosts lists it")
    path.write_text('[notify]\nallow_hosts = ["10.0.0.5"]\n' + app, encoding="utf-8")
    assert unusable(load_settings(path, env={}), "wecom_app", "WangLi") is None
    assert isinstance(build_channel(load_settings(path, env={}), "wecom_app"), WecomApp)
