"""`torchflow channel test NAME [--to HANDLE]`: one test message, and the
platform's answer in words (a trusted IP to add, a clock an hour off, a
secret to check), against loopback fakes of the platforms."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.platforms import DingtalkFake, WecomFake

KEY, TOKEN, SECRET = "wecom-key", "ding-token", "SECding"
ENV = {"TORCHFLOW_WECOM_ROBOT_OFFICE_TOKEN": KEY, "TORCHFLOW_DINGTALK_ROBOT_OFFICE_TOKEN": TOKEN,
       "TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET": SECRET, "TORCHFLOW_WECOM_APP_SECRET": "app-secret"}


@pytest.fixture
def fakes() -> Iterator[tuple[WecomFake, DingtalkFake]]:
    with WecomFake({KEY: "office"}, members={"WangLi"}) as wecom, \
            DingtalkFake({TOKEN: SECRET}) as ding:
        yield wecom, ding  # type: ignore[misc]


@pytest.fixture
def office(cli: Cli, config_file: Path, fakes: tuple[WecomFake, DingtalkFake]) -> Cli:
    wecom, ding = fakes
    with config_file.open("a", encoding="utf-8") as f:
        f.write(f'[notify.wecom_robot]\nbase_url = "{wecom.url}"\ndefault_robot = "office"\n'
                "[notify.wecom_robot.robots.office]\n"
                f'[notify.dingtalk_robot]\nbase_url = "{ding.url}"\n'
                "[notify.dingtalk_robot.robots.office]\n"
                f'[notify.wecom_app]\nbase_url = "{wecom.url}"\ncorp_id = "ww-office"\n'
                "agent_id = 1000002\n")
    cli.ok("person", "edit", "wang.li", "--wecom-id", "WangLi", "--dingtalk-mobile",
           "13800001111", env=ENV)
    return cli


def test_a_robot_test_message_mentions_the_person_and_reports_the_answer(
    office: Cli, fakes: tuple[WecomFake, DingtalkFake]
) -> None:
    wecom, _ding = fakes
    run = office.ok("channel", "test", "wecom_robot", "--to", "wang.li", env=ENV)
    assert run.out.strip() == ("wecom_robot: test message delivered to wang.li; the platform "
                               "took it (code 0)")
    [got] = wecom.received
    assert "torchflow" in got.text and got.body["text"]["mentioned_list"] == ["WangLi"]
    data = office.json("channel", "test", "dingtalk_robot:office", env=ENV)
    assert data == {"channel": "dingtalk_robot", "address": "office", "to": None,
                    "delivered": True, "answer": "the platform took it (code 0)"}


def test_the_trusted_ip_case_says_which_ip_to_add(office: Cli,
                                                  fakes: tuple[WecomFake, DingtalkFake]) -> None:
    wecom, _ = fakes
    wecom.trusted_ips = {"10.0.0.1"}
    line = office.refused("channel", "test", "wecom_app", "--to", "wang.li", env=ENV)
    assert line.startswith("Error: wecom_app test message not delivered: WeCom app: 60020: "
                           "WeCom takes this app's calls only from its trusted IPs: add this "
                           "server's address to the app's trusted IPs (not allow to access "
                           "from your ip")
    assert "from ip: 127.0.0.1" in line


def test_a_clock_an_hour_off_is_named(office: Cli, fakes: tuple[WecomFake, DingtalkFake]) -> None:
    _, ding = fakes
    ding.clock = lambda: time.time() + 2 * 3600  # DingTalk's clock: ours is two hours slow
    line = office.refused("channel", "test", "dingtalk_robot:office", env=ENV)
    assert "310000 sign not match" in line
    assert "this server's clock is 120 minutes slow; signed timestamps are refused an hour " \
           "off: set the time (NTP)" in line


def test_what_cannot_be_sent_is_refused_before_anything_goes(office: Cli) -> None:
    line = office.refused("channel", "test", "dingtalk_robot:office",
                          env={**ENV, "TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET": None})
    assert line == ("Error: dingtalk_robot cannot send to 'office': dingtalk_robot robot office "
                    "has no signing secret: set $TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET, or set "
                    "[notify.dingtalk_robot] allow_unsigned = true if the robot is secured by "
                    "keyword or trusted IP")
    line = office.refused("channel", "test", "pigeon", env=ENV)
    assert line.startswith("Error: channel 'pigeon' is unknown; use one of file, smtp")
    line = office.refused("channel", "test", "wecom_robot", as_="wang.li", env=ENV)
    assert line == ("Error: wang.li may not send a test message by a channel (`channel test`): "
                    "it needs the 'admin' role (see `torchflow person roles`)")
