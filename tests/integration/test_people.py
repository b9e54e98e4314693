"""People: adding and listing them, what is refused, and who may act."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, STAFF
from torchflow.api.invoke import Caller, invoke
from torchflow.errors import InvalidInput, NotFound, Refused
from torchflow.service.app import App
from torchflow.service.cases.change import open_case
from torchflow.service.cases.read import show_case
from torchflow.service.people.lookup import Actor, acting, resolve_actor
from torchflow.service.people.staff import (
    add_person,
    edit_person,
    list_people,
    set_active,
    show_person,
)
from torchflow.store.models import PEOPLE


def count(app: App) -> int:
    with app.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(PEOPLE))


def deactivate(app: App, handle: str) -> None:
    with app.db.transaction() as s:
        s.execute(
            text("UPDATE people SET active = :f WHERE handle = :h"), {"f": False, "h": handle}
        )


def test_add_and_list(app: App) -> None:
    added = add_person(app, "li.na", name="  Li Na  ", email="li.na@zone.example.cn",
                       roles=["director,coordinator", " coordinator "], channel="smtp",
                       address="li.na@bureau.example.cn")
    assert added == {
        "handle": "li.na", "name": "Li Na", "email": "li.na@zone.example.cn",
        "roles": ["coordinator", "director"], "channel": "smtp",
        "address": "li.na@bureau.example.cn", "ids": {}, "active": True,
    }
    minimal = add_person(app, "a_b-1", name="甲乙")
    assert minimal == {"handle": "a_b-1", "name": "甲乙", "email": "", "roles": [],
                       "channel": None, "address": "", "ids": {}, "active": True}
    assert [p["handle"] for p in list_people(app)] == ["a_b-1", "li.na"]
    assert list_people(app)[1] == added


def test_the_staff_fixture(app: App, staff: dict[str, Actor]) -> None:
    assert [p["handle"] for p in list_people(app)] == sorted(h for h, _, _ in STAFF)
    assert staff["chen.jie"].roles == ("director",)
    assert staff["liu.yang"].roles == ("torch_liaison",)
    assert len({a.id for a in staff.values()}) == 5


def test_list_without_inactive(app: App, staff: dict[str, Actor]) -> None:
    deactivate(app, "zhao.min")
    assert "zhao.min" not in [p["handle"] for p in list_people(app, include_inactive=False)]
    everyone = {p["handle"]: p for p in list_people(app)}
    assert everyone["zhao.min"]["active"] is False
    assert len(everyone) == 5


def test_duplicate_handle_is_refused(app: App, staff: dict[str, Actor]) -> None:
    with pytest.raises(Refused) as exc:
        add_person(app, "wang.li", name="Another Wang Li", roles=["director"])
    assert str(exc.value) == (
        "a person with handle 'wang.li' exists already; pick another handle"
    )
    assert count(app) == 5
    assert resolve_actor(app, "wang.li").roles == ("coordinator",)


@pytest.mark.parametrize("handle", ["Wang.Li", "wang li", "1wang", "", "_x", "wang@li",
                                    "a" * 65, "王力"])
def test_bad_handle(app: App, handle: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        add_person(app, handle, name="X")
    assert str(exc.value) == (
        f"handle {handle!r} is not valid; use lower-case letters, digits, '.', '_' or '-', "
        "starting with a letter (e.g. wang.li)"
    )
    assert count(app) == 0


def test_longest_handle_is_fine(app: App) -> None:
    assert add_person(app, "a" * 64, name="X")["handle"] == "a" * 64


def test_empty_name(app: App) -> None:
    with pytest.raises(InvalidInput, match="the name is empty"):
        add_person(app, "li.na", name="   ")
    assert count(app) == 0


@pytest.mark.parametrize("email", ["li.na", "li na@example.cn", "@example.cn", "li@", "a@b@c"])
def test_bad_email(app: App, email: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        add_person(app, "li.na", name="Li Na", email=email)
    assert str(exc.value) == f"e-mail {email!r} is not valid; e.g. wang.li@example.gov.cn"
    assert count(app) == 0


@pytest.mark.parametrize("role", ["Directeur", "torch-liaison", "1st", "dir ector"])
def test_bad_role(app: App, role: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        add_person(app, "li.na", name="Li Na", roles=["coordinator", role])
    assert str(exc.value) == f"role {role!r} is not valid; use e.g. coordinator or director"
    assert count(app) == 0


@pytest.mark.parametrize(("typed", "code"), [
    ("局长", "director"), ("Director", "director"), ("分管领导", "director"),
    ("招商专员，火炬中心联络人", "coordinator,torch_liaison")])
def test_a_role_by_the_office_s_name_or_alias(app: App, typed: str, code: str) -> None:
    # roles.toml beside the shipped workflows names them.
    added = add_person(app, "li.na", name="Li Na", roles=[typed])
    assert added["roles"] == sorted(code.split(","))


@pytest.mark.parametrize("channel", ["sms", "email", "", "FILE"])
def test_bad_channel(app: App, channel: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        add_person(app, "li.na", name="Li Na", channel=channel)
    assert str(exc.value) == (f"channel {channel!r} is unknown; use one of file, smtp, webhook, "
                              "wecom_robot, wecom_app, dingtalk_robot, feishu_robot")
    assert count(app) == 0


def test_resolve_actor(app: App, staff: dict[str, Actor]) -> None:
    actor = resolve_actor(app, "chen.jie")
    assert actor == staff["chen.jie"]
    assert (actor.handle, actor.roles) == ("chen.jie", ("director",))


def test_the_login_names_the_actor(app: App, staff: dict[str, Actor]) -> None:
    edit_person(app, "wang.li", add_logins=["wangli", "wl2"])
    assert acting(app, "wangli", None) == Actor(staff["wang.li"].id, "wang.li", ("coordinator",))
    assert acting(app, "wl2", "wang.li").entered_by is None  # naming oneself
    with pytest.raises(InvalidInput, match=r"no admin has a login yet .* `torchflow init --admin"):
        acting(app, "stranger", None)  # these staff have no admin with a login
    edit_person(app, "chen.jie", add_roles=["admin"], add_logins=["chenjie"])
    with pytest.raises(InvalidInput) as exc:
        acting(app, "stranger", None)
    assert str(exc.value).startswith("the login 'stranger' is no person's; an admin can add it")
    assert acting(app, "stranger", None, required=False) is None


def test_only_an_admin_acts_as_another(app: App, staff: dict[str, Actor]) -> None:
    edit_person(app, "wang.li", add_logins=["wangli"])
    with pytest.raises(Refused, match=r"wang\.li may not act as another person"):
        acting(app, "wangli", "chen.jie")
    edit_person(app, "zhao.min", add_roles=["admin"], add_logins=["zhaomin"])
    director = acting(app, "zhaomin", "chen.jie")
    assert (director.handle, director.roles, director.entered_by) == (
        "chen.jie", ("director",), "zhao.min")
    with pytest.raises(Refused, match="'system' is the scheduler service"):
        acting(app, "zhaomin", "system")


def test_a_login_belongs_to_one_person(app: App, staff: dict[str, Actor]) -> None:
    edit_person(app, "wang.li", add_logins=["wangli"])
    with pytest.raises(Refused) as exc:
        edit_person(app, "zhao.min", add_logins=["wangli"])
    assert str(exc.value) == ("login 'wangli' is wang.li's already; remove it there first with "
                              "`torchflow person edit wang.li --remove-login wangli`")
    edit_person(app, "wang.li", remove_logins=["wangli"])
    edit_person(app, "zhao.min", add_logins=["wangli"])
    assert acting(app, "wangli", None).handle == "zhao.min"
    with pytest.raises(NotFound, match=r"'wang\.li' has no login 'wangli'"):
        edit_person(app, "wang.li", remove_logins=["wangli"])
    with pytest.raises(InvalidInput, match="is not an operating-system user name"):
        edit_person(app, "wang.li", add_logins=["bad login"])


def test_the_last_admin_is_kept(app: App, staff: dict[str, Actor]) -> None:
    edit_person(app, "chen.jie", add_roles=["admin"], add_logins=["chenjie"])
    with pytest.raises(Refused, match="that would leave no active admin"):
        edit_person(app, "chen.jie", remove_roles=["admin"])
    with pytest.raises(Refused, match="that would leave no active admin"):
        set_active(app, "chen.jie", False)
    edit_person(app, "wang.li", add_roles=["admin"])  # no login: cannot act, does not count
    with pytest.raises(Refused, match="that would leave no active admin with a login"):
        edit_person(app, "chen.jie", remove_roles=["admin"])
    edit_person(app, "wang.li", add_logins=["wangli"])
    edit_person(app, "chen.jie", remove_roles=["admin"])
    assert resolve_actor(app, "chen.jie").roles == ("director",)


def test_a_channel_needs_its_address(app: App, staff: dict[str, Actor]) -> None:
    with pytest.raises(InvalidInput, match="the smtp channel needs an e-mail address"):
        add_person(app, "li.na", name="Li Na", channel="smtp")
    with pytest.raises(InvalidInput, match="the webhook channel needs a URL"):
        add_person(app, "li.na", name="Li Na", channel="webhook")
    with pytest.raises(InvalidInput, match="webhook address 'hooks' must start with http"):
        add_person(app, "li.na", name="Li Na", channel="webhook", address="hooks")
    with pytest.raises(InvalidInput, match="webhook address 'https://:80/x' has no host"):
        add_person(app, "li.na", name="Li Na", channel="webhook", address="https://:80/x")
    with pytest.raises(InvalidInput, match="the webhook channel needs a URL"):
        edit_person(app, "wang.li", channel="webhook")
    with pytest.raises(InvalidInput, match="the smtp channel needs an e-mail address"):
        edit_person(app, "wang.li", channel="smtp", email="")
    changed = edit_person(app, "wang.li", channel="webhook", address="https://h.example.cn/w")
    assert (changed["channel"], changed["address"]) == ("webhook", "https://h.example.cn/w")
    with pytest.raises(InvalidInput, match="handle 'system' is reserved"):
        add_person(app, "system", name="The scheduler")


def test_deactivate_refuses_open_work_unless_handed_over(app: App, staff: dict[str, Actor]
                                                         ) -> None:
    open_case(app, staff["wang.li"], "project_introduction", title="x", fields=PI_FIELDS)
    with pytest.raises(Refused) as exc:
        set_active(app, "wang.li", False)
    assert str(exc.value) == ("wang.li still owns 1 open case(s) and 1 open task(s); "
                              "add --handover-to OTHER to move them")
    assert resolve_actor(app, "wang.li")
    gone = set_active(app, "wang.li", False, handover_to="zhao.min", actor=OFFICE_ADMIN)
    assert gone["active"] is False
    shown = show_person(app, "zhao.min")
    assert [c["title"] for c in shown["open_cases"]] == ["x"]
    assert len(shown["open_tasks"]) == 1 and shown["overdue"] == 0
    assert shown["absences"] == []
    assert set_active(app, "wang.li", True)["active"] is True


def test_resolve_unknown_actor(app: App, staff: dict[str, Actor]) -> None:
    with pytest.raises(NotFound) as exc:
        resolve_actor(app, "li.si")
    assert str(exc.value) == "no person with handle 'li.si'; see `torchflow person list`"


def test_resolve_inactive_actor(app: App, staff: dict[str, Actor]) -> None:
    deactivate(app, "zhao.min")
    with pytest.raises(Refused) as exc:
        resolve_actor(app, "zhao.min")
    assert str(exc.value) == "'zhao.min' is no longer active; act as another person"
    assert resolve_actor(app, "wang.li").handle == "wang.li"


def test_who_acts_is_read_in_the_use_cases_own_transaction(
        app: App, staff: dict[str, Actor]) -> None:
    """A call through the operation table (the server's and the CLI's) spends no
    transaction of its own on who acts, and sees at once a person made inactive."""
    edit_person(app, "wang.li", add_logins=["wangli"])
    key = open_case(app, staff["wang.li"], "project_introduction", title="t",
                    fields=PI_FIELDS)["key"]
    caller = Caller(auth="peer:wangli", login="wangli")
    begun: list[object] = []

    def begins(conn: object) -> None:
        begun.append(conn)

    event.listen(app.db.engine, "begin", begins)
    try:
        invoke(app, caller, "case.note", {"key": key, "note": "一"})
        assert len(begun) == 1
        deactivate(app, "wang.li")
        begun.clear()
        with pytest.raises(Refused, match=r"'wang\.li' is no longer active"):
            invoke(app, caller, "case.note", {"key": key, "note": "二"})
        assert len(begun) == 1
    finally:
        event.remove(app.db.engine, "begin", begins)
    history = show_case(app, key)["history"]
    assert [e["data"]["note"] for e in history if e["kind"] == "note"] == ["一"]
