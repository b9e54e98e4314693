"""Team notices: a workflow or a role names a group robot in [notify.groups];
its task notices go to the group with the person @-mentioned by the id the
platform knows, and nowhere else (each person is told once); an escalation to
a role's holders is one message mentioning them all. People's ids on the
platforms are set with `person edit`, checked, and used at send time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PI_FIELDS, Clock, with_settings
from tests.platforms import WecomFake
from torchflow.channels.file import FileSettings
from torchflow.config import load_settings
from torchflow.errors import InvalidInput
from torchflow.service.app import App, build_app
from torchflow.service.cases.change import open_case
from torchflow.service.delivery.dispatch import Channels, dispatch
from torchflow.service.delivery.ledger import list_notices
from torchflow.service.delivery.sweep import sweep
from torchflow.service.people.lookup import resolve_actor
from torchflow.service.people.staff import add_person, edit_person, show_person

KEY = "pi-team-key"
DIRECTORS = "directors-key"


@pytest.fixture
def wecom() -> Iterator[WecomFake]:
    with WecomFake({KEY: "pi_team", DIRECTORS: "directors"}) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def office(config_file: Path, clock: Clock, wecom: WecomFake,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("TORCHFLOW_WECOM_ROBOT_PI_TEAM_TOKEN", KEY)
    monkeypatch.setenv("TORCHFLOW_WECOM_ROBOT_DIRECTORS_TOKEN", DIRECTORS)
    text = config_file.read_text(encoding="utf-8") + (
        '[notify.groups]\n'
        'project_introduction = "wecom_robot:pi_team"\ndirector = "wecom_robot:directors"\n')
    text += (f'[notify.wecom_robot]\nbase_url = "{wecom.url}"\n'
             "[notify.wecom_robot.robots.pi_team]\n[notify.wecom_robot.robots.directors]\n")
    config_file.write_text(text, encoding="utf-8")
    app = build_app(load_settings(config_file, env={}), clock=clock)
    add_person(app, "wang.li", name="Wang Li", roles=["coordinator"], ids={"wecom": "WangLi"})
    add_person(app, "chen.jie", name="Chen Jie", roles=["director"], ids={"wecom": "ChenJie"})
    add_person(app, "zhou.yu", name="Zhou Yu", roles=["director"],
               ids={"mobile": "13900002222"})
    yield app
    app.close()


def outbox(app: App) -> list[dict[str, object]]:
    path = app.settings.notify.of("file", FileSettings).path
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()] \
        if path.exists() else []


def test_a_workflows_notices_go_to_its_group_mentioning_the_assignee_and_nowhere_else(
    office: App, wecom: WecomFake, clock: Clock
) -> None:
    key = open_case(office, resolve_actor(office, "wang.li"), "project_introduction",
                    title="青能氢能源", fields=PI_FIELDS)["key"]
    clock.set("2026-03-16T09:30:00+08:00")  # the lead deadline's reminder is due
    sweep(office)
    [notice] = [n for n in list_notices(office) if n["kind"] != "digest"]
    assert (notice["to"], notice["channel"]) == ("wang.li", "wecom_robot")
    assert dispatch(office, Channels(office.settings), "svc").sent >= 1
    [got] = [r for r in wecom.received if r.key == KEY]
    assert got.body["text"]["mentioned_list"] == ["WangLi"] and key in got.text
    # Told once: not in the group and again by their own channel.
    assert [m for m in outbox(office) if m["kind"] != "digest"] == []


def test_an_escalation_to_a_roles_group_is_one_message_mentioning_every_holder(
    office: App, wecom: WecomFake, clock: Clock
) -> None:
    open_case(office, resolve_actor(office, "wang.li"), "project_introduction",
              title="青能氢能源", fields=PI_FIELDS)
    clock.set("2026-03-20T10:00:00+08:00")  # the lead deadline missed: escalated
    sweep(office)
    [escalation] = [n for n in list_notices(office) if n["kind"] == "escalation"]
    assert escalation["channel"] == "wecom_robot"
    dispatch(office, Channels(office.settings), "svc")
    [got] = [r for r in wecom.received if r.key == DIRECTORS]
    # Zhou Yu is known only by mobile: the robot @s both through a text message.
    assert got.body["msgtype"] == "text"
    assert got.body["text"]["mentioned_list"] == ["ChenJie"]
    assert got.body["text"]["mentioned_mobile_list"] == ["13900002222"]


def test_platform_ids_are_checked_and_shown(office: App) -> None:
    with pytest.raises(InvalidInput) as bad:
        edit_person(office, "wang.li", ids={"mobile": "12345"})
    assert str(bad.value) == "--dingtalk-mobile '12345' is not valid; e.g. 13800001111"
    edit_person(office, "wang.li", ids={"mobile": "+8613800001111", "wecom": ""})
    assert show_person(office, "wang.li")["ids"] == {"mobile": "+8613800001111"}


def test_a_wecom_app_person_needs_a_user_id_when_set(office: App,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput, match=r"set \[notify.wecom_app\] corp_id and agent_id"):
        edit_person(office, "wang.li", channel="wecom_app")
    configured = with_settings(office, notify=office.settings.notify.with_channel(
        "wecom_app", corp_id="ww1", agent_id=1000002))
    monkeypatch.setenv("TORCHFLOW_WECOM_APP_SECRET", "s")
    edit_person(configured, "zhou.yu", ids={"wecom": ""})
    with pytest.raises(InvalidInput, match="wecom_app needs the person's WeCom user id"):
        edit_person(configured, "zhou.yu", channel="wecom_app")
    changed = edit_person(configured, "wang.li", channel="wecom_app")  # has one
    assert changed["channel"] == "wecom_app"
