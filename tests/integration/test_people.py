"""People: adding and listing them, what is refused, and who may act."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from tests.conftest import STAFF
from torchflow.errors import InvalidInput, NotFound, Refused
from torchflow.service.app import App
from torchflow.service.people import (
    Actor,
    add_person,
    list_people,
    resolve_actor,
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
        "address": "li.na@bureau.example.cn", "active": True,
    }
    minimal = add_person(app, "a_b-1", name="甲乙")
    assert minimal == {"handle": "a_b-1", "name": "甲乙", "email": "", "roles": [],
                       "channel": None, "address": "", "active": True}
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


@pytest.mark.parametrize("role", ["Director", "torch-liaison", "1st", "dir ector"])
def test_bad_role(app: App, role: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        add_person(app, "li.na", name="Li Na", roles=["coordinator", role])
    assert str(exc.value) == f"role {role!r} is not valid; use e.g. coordinator or director"
    assert count(app) == 0


@pytest.mark.parametrize("channel", ["sms", "email", "", "FILE"])
def test_bad_channel(app: App, channel: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        add_person(app, "li.na", name="Li Na", channel=channel)
    assert str(exc.value) == f"channel {channel!r} is unknown; use one of file, smtp, webhook"
    assert count(app) == 0


def test_resolve_actor(app: App, staff: dict[str, Actor]) -> None:
    actor = resolve_actor(app, "chen.jie")
    assert actor == staff["chen.jie"]
    assert (actor.handle, actor.roles) == ("chen.jie", ("director",))


@pytest.mark.parametrize("handle", [None, ""])
def test_resolve_actor_without_a_handle(app: App, handle: str | None) -> None:
    with pytest.raises(InvalidInput) as exc:
        resolve_actor(app, handle)
    assert str(exc.value) == (
        "who is acting? pass --as HANDLE or set TORCHFLOW_USER (see `torchflow person list`)"
    )


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
