"""The operation table and its wire format, without a server: every reference
resolves (a service that moved and a string left behind fail here first), every
route's parameters are declared, values survive the trip, and the client's
configuration is refused in one line where it cannot work."""

from __future__ import annotations

import asyncio
import inspect
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from starlette.requests import Request

from torchflow.api import adapters
from torchflow.api.invoke import prepare, resolve
from torchflow.api.operations import OPERATIONS, REFS
from torchflow.api.target import Target, read_token
from torchflow.api.values import Param, decode, encode
from torchflow.errors import (
    BadRequest,
    ConfigError,
    NotFound,
    Problems,
    TooLarge,
    TorchflowError,
    UsageError,
    error_class,
)
from torchflow.server.app import base_name, limited


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_resolves_and_declares_its_route(name: str) -> None:
    op = OPERATIONS[name]
    functions = [resolve(ref) for ref in op.calls]
    assert all(f is not None for f in functions)
    declared = {p.name for p in op.params}
    assert set(op.path_params) <= declared, op.path
    if op.adapter:
        adapter = getattr(adapters, name.replace(".", "_"))
        positional = [p for p in inspect.signature(adapter).parameters.values()
                      if p.kind is inspect.Parameter.POSITIONAL_ONLY]
        assert len(positional) == 1 + len(op.calls), name  # the call, then each function
    else:
        assert not op.local


def test_the_references_the_edges_use_resolve() -> None:
    for ref in REFS.values():
        assert resolve(ref) is not None


def test_routes_are_unique_per_method() -> None:
    routes = [(op.method, op.path) for op in OPERATIONS.values() if not op.local]
    assert len(routes) == len(set(routes))


@pytest.mark.parametrize(("kind", "value"), [
    ("date", date(2026, 3, 4)), ("when", datetime(2026, 3, 4, 15, 30)),
    ("when", datetime.fromisoformat("2026-03-04T15:30+08:00")), ("when", date(2026, 3, 4)),
    ("span", timedelta(days=14)), ("int", 7), ("bool", False), ("strs", ["a", "b"]),
    ("map", {"industry": "new energy"}), ("str", "清能动力"),
])
def test_a_value_survives_the_wire(kind: str, value: object) -> None:
    assert decode(Param("x", kind), encode(value)) == value


@pytest.mark.parametrize(("param", "raw", "message"), [
    (Param("to", "date"), "2026-13-01", "parameter 'to' is '2026-13-01'; it wants a date "
                                        "YYYY-MM-DD"),
    (Param("to", "date"), "9999-01-01", "it wants a date from 1970 to 2199"),
    (Param("limit", "int", low=1, high=10), "11", "it wants a whole number from 1 to 10"),
    (Param("limit", "int"), True, "it wants a whole number"),
    (Param("due", "span"), "99999d", "it wants a span of at most 3660d"),
    (Param("kind", "str", choices=("a", "b")), "c", "it wants one of a, b"),
    (Param("fields", "map"), {"a": 1}, "it wants an object of texts"),
])
def test_a_bad_value_is_one_line_naming_the_parameter(param: Param, raw: object,
                                                      message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode(param, raw)
    assert message in str(caught.value)


def test_prepare_refuses_unknown_and_missing_parameters() -> None:
    op = OPERATIONS["case.open"]
    with pytest.raises(BadRequest, match=r"case\.open needs the parameter 'title'"):
        prepare(op, {"workflow": "x"})
    with pytest.raises(BadRequest, match=r"case\.open takes no parameter 'colour'"):
        prepare(op, {"workflow": "x", "title": "t", "colour": "red"})
    assert prepare(OPERATIONS["export.cases"], {"out": "a.csv"}) == {"out": Path("a.csv")}


def test_an_error_is_raised_again_from_its_code() -> None:
    for cls in (NotFound, ConfigError, BadRequest, Problems, UsageError):
        assert error_class(cls.code) is cls
    assert error_class("no such code") is TorchflowError


@pytest.mark.parametrize(("text", "message"), [
    ("unix:run/torchflow.sock", "the socket path must be absolute"),
    ("http://torchflow.zone.gov.cn", "plain http only to this machine"),
    ("ftp://x", "is not a URL"),
    ("https://", "is not a URL"),
])
def test_a_server_address_that_cannot_work_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Target.parse(text)
    assert Target.parse("https://tf.example.cn:8443/x/").base == "/x"
    assert Target.parse("http://127.0.0.1:8080").port == 8080


def test_a_credentials_file_others_can_read_is_refused(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text('token = "tfp_abc"\n', encoding="utf-8")
    creds.chmod(0o640)
    with pytest.raises(ConfigError, match="may be read by others"):
        read_token({}, creds)
    creds.chmod(0o600)
    assert read_token({}, creds) == "tfp_abc"
    assert read_token({"TORCHFLOW_TOKEN": "tfp_env"}, creds) == "tfp_env"
    assert read_token({}, tmp_path / "none") is None


@pytest.mark.parametrize(("name", "expected"), [
    ("report.xlsx", "report.xlsx"), ("/home/wl/out/a.csv", "a.csv"), ("../../etc/x", "x"),
    ("..", "out"), ("", "out"), ("C:\\Users\\wl\\b.xlsx", "b.xlsx"),
])
def test_a_clients_file_name_stays_in_the_requests_folder(name: str, expected: str) -> None:
    assert base_name(name, "out") == expected


def test_a_body_that_does_not_arrive_in_time_or_is_too_large_is_refused() -> None:
    """The server's bound on a request's body (``limited``): a client that stops
    sending is answered at the timeout, one that sends too much at the limit."""
    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}

    async def never() -> dict[str, object]:
        await asyncio.Event().wait()  # a client that sends nothing more
        raise AssertionError

    async def chunks() -> dict[str, object]:
        return {"type": "http.request", "body": b"x" * 600, "more_body": True}

    async def body(receive: object, limit: int) -> bytes:
        request = limited(Request(scope, receive), limit, 0.001)  # type: ignore[arg-type]
        async with asyncio.timeout(10):  # only if the bound failed: the test fails, not hangs
            return await request.body()

    with pytest.raises(BadRequest, match="did not arrive within"):
        asyncio.run(body(never, 1 << 20))
    with pytest.raises(TooLarge):
        asyncio.run(body(chunks, 1000))
