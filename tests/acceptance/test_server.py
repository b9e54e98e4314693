"""`torchflow serve` as a real process, and the CLI as its client in real
processes: on a Unix socket (who calls is the kernel's word) and on TCP (who
calls is a personal access token), what a client cannot choose (the database,
the workflows, the channels, the clock), trusted proxies, and the API's errors.
Every server listens on a socket in the test's folder or on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update

from tests.acceptance.conftest import RUNUSER
from tests.conftest import STAFF, WORKFLOWS
from tests.servers import Server, free_port, running_server
from torchflow.api.client import UnixConnection
from torchflow.api.operations import OPERATIONS
from torchflow.store.models import ACCESS_TOKENS

NOW = "2026-03-04T09:30:00+08:00"
FIELDS = ("enterprise=Qingneng Power Co.", "industry=new energy",
          "lead_source=torch center", "planned_investment=120000")
TIMEOUT = 60


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str

    @property
    def data(self) -> Any:
        return json.loads(self.out)

    @property
    def line(self) -> str:
        """A refusal: exit 1, nothing on stdout, one line on stderr."""
        assert (self.code, self.out) == (1, ""), (self.code, self.out, self.err)
        [line] = self.err.splitlines()
        return line


def torchflow(*args: object, server: str | None = None, token: str | None = None,
              config: Path | None = None, now: str | None = NOW,
              env: dict[str, str] | None = None, cwd: Path | None = None) -> Done:
    """`python -m torchflow ARGS` as its own process, in client mode with ``server``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
    environ.update({"TORCHFLOW_WEBHOOK_SECRET": "cli-test-secret", **(env or {})})
    if now:
        environ["TORCHFLOW_NOW"] = now
    if server:
        environ["TORCHFLOW_SERVER"] = server
    if token:
        environ["TORCHFLOW_TOKEN"] = token
    argv = [sys.executable, "-m", "torchflow", *(["--config", str(config)] if config else []),
            *map(str, args)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=TIMEOUT,
                          cwd=cwd)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Done(proc.returncode, proc.stdout, proc.stderr)


def ok(*args: object, **kwargs: Any) -> Done:
    done = torchflow(*args, **kwargs)
    assert done.code == 0, done.err
    return done


def open_pi(**kwargs: Any) -> str:
    args: list[str] = ["--json", "case", "open", "project_introduction", "--title", "Plant"]
    for field in FIELDS:
        args += ["--field", field]
    return str(ok(*args, **kwargs).data["key"])


@pytest.fixture
def office(config_file: Path) -> Path:
    """The office on this test's database, set up where the database is (embedded):
    this process's login is the admin office.admin, each of the staff has a login."""
    ok("init", "--admin", "office.admin", config=config_file)
    for handle, name, roles in STAFF:
        ok("person", "add", handle, "--name", name, "--login", handle,
           *(f"--role={r}" for r in roles), config=config_file)
    return config_file


@pytest.fixture
def served(office: Path, tmp_path: Path) -> Iterator[Server]:
    """The office's server on a Unix socket and a TCP port, simulating time."""
    with running_server(office, tmp_path, port=free_port()) as server:
        yield server


def events(database_url: str) -> list[tuple[Any, ...]]:
    """Who acted, who entered it, and how the caller was authenticated, in order."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT actor, entered_by, auth FROM case_events "
                                     "ORDER BY gseq"))
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


# --- the socket: the kernel says who calls --------------------------------------------------

def test_on_the_socket_the_caller_is_the_kernels_and_every_event_says_how(
        served: Server, database_url: str) -> None:
    key = open_pi(server=served.unix)  # this process's login: office.admin
    ok("--as", "wang.li", "case", "note", key, "for the coordinator", server=served.unix)
    assert ok("--json", "audit", "verify", server=served.unix).data["ok"] is True
    login = pwd.getpwuid(os.getuid()).pw_name
    assert events(database_url) == [("office.admin", None, f"peer:{login}"),
                                    ("wang.li", "office.admin", f"peer:{login}")]
    assert served.socket is not None and served.socket.stat().st_mode & 0o777 == 0o660


@pytest.mark.parametrize("command", [("case", "show"), ("case", "history"), ("case", "list"),
                                     ("task", "list"), ("agenda",)])
def test_a_client_command_imports_neither_sqlalchemy_nor_transitions(
        served: Server, command: tuple[str, ...]) -> None:
    key = open_pi(server=served.unix)
    args = [*command, key] if command[0] == "case" and command[1] != "list" else [*command]
    probe = ("import sys\nfrom torchflow.cli.main import cli\n"
             f"try:\n    cli({args!r}, prog_name='torchflow')\n"
             "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
             "('sqlalchemy', 'transitions', 'starlette', 'uvicorn', 'alembic'))\n"
             "print('HEAVY', heavy)\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=TIMEOUT, env={**environ, "TORCHFLOW_SERVER": served.unix})
    assert proc.returncode == 0, proc.stderr
    assert key in proc.stdout
    assert proc.stdout.splitlines()[-1] == "HEAVY []"


# --- tokens ------------------------------------------------------------------------------------

def test_tokens_on_tcp_wrong_expired_and_revoked_are_refused(
        served: Server, database_url: str) -> None:
    made = ok("--json", "token", "create", "wang.li", "--name", "laptop", "--expires", "30d",
              server=served.unix).data
    assert made["token"].startswith("tfp_") and made["handle"] == "wang.li"
    # Over TCP the token is who calls.
    key = open_pi(server=served.url, token=made["token"])
    assert ok("--json", "case", "show", key, server=served.url,
              token=made["token"]).data["owner"] == "wang.li"
    assert events(database_url)[-1] == ("wang.li", None, f"token:{made['id']}")
    listed = ok("--json", "token", "list", server=served.unix).data
    assert [(t["id"], t["handle"], t["label"], t["state"]) for t in listed] == [
        (made["id"], "wang.li", "laptop", "active")]
    assert listed[0]["last_used_at"] is not None
    # The database keeps a digest, never the token.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        kept = conn.execute(select(ACCESS_TOKENS)).one()
    assert made["token"] not in [str(v) for v in kept]

    assert torchflow("case", "list", server=served.url).line == (
        "Error: who is calling? send a personal access token (TORCHFLOW_TOKEN, or the "
        "credentials file); an admin issues one with `torchflow token create HANDLE`")
    wrong = "tfp_" + "x" * 43
    assert "the token is not known to this server" in torchflow(
        "case", "list", server=served.url, token=wrong).line
    assert "not a torchflow token" in torchflow("case", "list", server=served.url,
                                                token="secret").line

    with engine.begin() as conn:  # as if a year had passed
        conn.execute(update(ACCESS_TOKENS).values(expires_at=datetime(2026, 1, 1, tzinfo=UTC)))
    engine.dispose()
    assert torchflow("case", "list", server=served.url, token=made["token"]).line.startswith(
        f"Error: token #{made['id']} expired at 2026-01-01T08:00:00+08:00; ask an admin")

    second = ok("--json", "token", "create", "wang.li", server=served.unix).data
    assert ok("case", "list", server=served.url, token=second["token"]).code == 0
    # A coordinator may not issue tokens, nor revoke another's.
    assert "may not issue a personal access token" in torchflow(
        "token", "create", "zhao.min", server=served.url, token=second["token"]).line
    assert ok("token", "revoke", str(second["id"]), server=served.url,
              token=second["token"]).out.startswith(f"token #{second['id']} of wang.li revoked")
    assert torchflow("case", "list", server=served.url, token=second["token"]).line.startswith(
        f"Error: token #{second['id']} was revoked at ")
    # Refusals are in the server's log; a request that went well is not (no access log).
    log = served.output()
    assert "GET /api/v1/cases refused (unauthorized, 127.0.0.1): the token is not known" in log
    assert 'HTTP/1.1" 200' not in log


def test_a_token_file_must_be_its_owners_alone(served: Server, tmp_path: Path) -> None:
    made = ok("--json", "token", "create", "wang.li", server=served.unix).data
    creds = tmp_path / "credentials"
    creds.write_text(f'token = "{made["token"]}"\n', encoding="utf-8")
    client = tmp_path / "client.toml"
    client.write_text(f'server = "{served.url}"\ncredentials = "{creds}"\n', encoding="utf-8")
    creds.chmod(0o644)
    # Said before the server is asked: in the client's own language (its config has
    # no [office], so the default, Chinese).
    assert torchflow("case", "list", config=client).line == (
        f"错误：凭据文件 {creds} 可被他人读取（权限 644）；请执行 `chmod 600 {creds}`")
    creds.chmod(0o600)
    assert ok("--json", "case", "list", config=client).data["total"] == 0


# --- what a client cannot choose ---------------------------------------------------------------

def test_a_crafted_config_and_own_workflows_change_nothing_on_the_server(
        served: Server, office: Path, tmp_path: Path) -> None:
    """Her own config names another database, her own workflows (version 4, no
    roles on sign) and her own outbox: through the server none of it counts."""
    mine = tmp_path / "mine"
    (mine / "workflows").mkdir(parents=True)
    for path in WORKFLOWS.glob("*.toml"):  # each one version ahead of the server's
        body = re.sub(r"(?m)^version = (\d+)$", lambda m: f"version = {int(m[1]) + 1}",
                      path.read_text(encoding="utf-8"), count=1)
        (mine / "workflows" / path.name).write_text(body.replace('roles = ["director"]', ""),
                                                    encoding="utf-8")
    crafted = mine / "config.toml"
    crafted.write_text(f'server = "{served.unix}"\n\n[database]\nurl = "sqlite:///{mine}/x.db"\n'
                       f'\n[workflows]\ndirectory = "{mine / "workflows"}"\n\n'
                       f'[notify.file]\npath = "{mine / "outbox.jsonl"}"\n', encoding="utf-8")
    key = open_pi(config=crafted)
    assert ok("--json", "case", "show", key, config=crafted).data["version"] == 3
    shown = ok("--json", "workflow", "show", "project_introduction", config=crafted).data
    assert shown["version"] == 3
    ok("scheduler", "tick", config=crafted, now="2026-03-20T09:30:00+08:00")
    assert not (mine / "x.db").exists() and not (mine / "outbox.jsonl").exists()
    assert (office.parent / "outbox.jsonl").is_file()  # the server's channel


def test_torchflow_now_is_refused_unless_the_server_simulates_time(
        office: Path, tmp_path: Path) -> None:
    with running_server(office, tmp_path, args=("--no-scheduler",)) as server:
        assert torchflow("case", "list", server=server.unix).line == (
            "Error: TORCHFLOW_NOW is refused: the server keeps the office's clock (only a "
            "server started with --manual-clock takes it); unset it")
        key = open_pi(server=server.unix, now=None)
        opened = ok("--json", "case", "show", key, server=server.unix, now=None).data
        assert not opened["opened_at"].startswith("2026-03-04")  # the server's own clock
        # Refused before the server is asked: in the client's own (default) language.
        assert "init` 须在数据库所在主机上运行" in torchflow(
            "init", server=server.unix, now=None).line


def test_a_chinese_office_answers_in_chinese_and_names_its_language(
        office: Path, tmp_path: Path) -> None:
    """The server renders every message in its office's language and names it in
    Content-Language; the client prints what it gets and says its own words
    (headings, the office's names of roles) in that language, whatever its own
    config says."""
    config = office.with_name("chinese.toml")
    config.write_text(office.read_text(encoding="utf-8").replace(
        '[office]\nlocale = "en"', '[office]\nlocale = "zh-CN"'), encoding="utf-8")
    assert 'locale = "zh-CN"' in config.read_text(encoding="utf-8")
    with running_server(config, tmp_path, args=("--no-scheduler",)) as server:
        client = tmp_path / "client.toml"
        client.write_text(f'server = "{server.unix}"\n\n[office]\nlocale = "en"\n',
                          encoding="utf-8")
        assert torchflow("case", "list", config=client).line == (
            "错误：不接受 TORCHFLOW_NOW：时钟由服务端统一掌握（仅以 --manual-clock 启动的服务端"
            "接受该变量）；请取消该变量")
        people = ok("person", "list", config=client, now=None).out.splitlines()
        assert people[0].split() == ["代号", "姓名", "角色", "邮箱", "渠道", "在职"]
        assert "局长" in next(line for line in people if line.startswith("chen.jie"))
        conn = UnixConnection(str(server.socket), TIMEOUT)
        try:
            conn.request("GET", "/api/v1/cases", headers={"Torchflow-Now": NOW})
            response = conn.getresponse()
            body = json.loads(response.read())
        finally:
            conn.close()
        assert (response.status, response.getheader("Content-Language")) == (400, "zh-CN")
        assert body["error"]["message"].startswith("不接受 TORCHFLOW_NOW")


# --- a second OS user through the socket -------------------------------------------------------

def test_a_second_os_user_on_the_socket_is_who_the_kernel_says(
        office: Path, nobody_python: Path, database_url: str) -> None:
    folder = Path("/tmp") / f"tf-socket-{os.getpid()}-{id(office)}"
    folder.mkdir(mode=0o755)
    try:
        ok("person", "edit", "wang.li", "--login", "nobody", config=office)
        config = office.with_name("served.toml")
        config.write_text(office.read_text(encoding="utf-8")
                          + '\n[serve]\nsocket_group = "nogroup"\n', encoding="utf-8")
        with running_server(config, folder) as server:

            def as_nobody(*args: str, env: dict[str, str] | None = None) -> Done:
                pairs = [f"{k}={v}" for k, v in {"TORCHFLOW_SERVER": server.unix,
                                                 "TORCHFLOW_NOW": NOW, **(env or {})}.items()]
                proc = subprocess.run([RUNUSER, "-u", "nobody", "--", "/usr/bin/env",
                                       "PATH=/usr/bin:/bin", *pairs, str(nobody_python), "-m",
                                       "torchflow", *args], capture_output=True, text=True,
                                      timeout=TIMEOUT, cwd="/")
                assert "Traceback" not in proc.stderr, proc.stderr
                return Done(proc.returncode, proc.stdout, proc.stderr)

            opened = as_nobody("--json", "case", "open", "project_introduction", "--title", "P",
                               *[a for f in FIELDS for a in ("--field", f)],
                               env={"USER": "root", "LOGNAME": "root"})
            assert opened.code == 0, opened.err
            key = opened.data["key"]
            assert ok("--json", "case", "show", key, server=server.unix).data["owner"] == \
                "wang.li"
            assert as_nobody("--as", "chen.jie", "case", "note", key, "x").line.startswith(
                "Error: wang.li may not act as another person")
            assert as_nobody("case", "note", key, "x", env={"TORCHFLOW_USER": "office.admin"}
                             ).line.startswith("Error: wang.li may not act as another person")
            assert events(database_url) == [("wang.li", None, "peer:nobody")]
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


# --- proxies -----------------------------------------------------------------------------------

def request(server: Server, method: str, path: str, *, body: bytes | None = None,
            headers: dict[str, str] | None = None, unix: bool = False) -> tuple[int, Any]:
    if unix:
        conn: http.client.HTTPConnection = UnixConnection(str(server.socket), TIMEOUT)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request(method, "/api/v1" + path, body=body, headers=headers or {})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def test_remote_user_counts_only_from_a_listed_proxy(office: Path, tmp_path: Path) -> None:
    with running_server(office, tmp_path, port=free_port()) as server:
        status, body = request(server, "GET", "/cases", headers={"Remote-User": "office.admin"})
        assert (status, body["error"]["code"]) == (401, "unauthorized")
    config = office.with_name("proxied.toml")
    config.write_text(office.read_text(encoding="utf-8")
                      + '\n[serve]\ntrusted_proxies = ["127.0.0.1"]\n', encoding="utf-8")
    folder = tmp_path / "proxied"
    folder.mkdir()
    with running_server(config, folder, port=free_port()) as server:
        payload = {"workflow": "project_introduction", "title": "Via SSO",
                   "fields": dict(f.split("=", 1) for f in FIELDS)}
        status, body = request(server, "POST", "/cases", body=json.dumps(payload).encode(),
                               headers={"Remote-User": "wang.li", "Torchflow-Now": NOW,
                                        "Content-Type": "application/json"})
        assert status == 200, body
        status, shown = request(server, "GET", f"/cases/{body['key']}",
                                headers={"Remote-User": "wang.li"})
        assert shown["owner"] == "wang.li"
        status, body = request(server, "GET", "/cases")
        assert status == 401  # the proxy itself, with no user, is nobody


# --- the API -----------------------------------------------------------------------------------

def test_errors_are_json_with_a_code_and_the_right_status(served: Server) -> None:
    key = open_pi(server=served.unix)
    now = {"Torchflow-Now": NOW}
    assert request(served, "GET", "/cases/NOPE-1", unix=True)[0] == 404
    status, body = request(served, "GET", "/cases/NOPE-1", unix=True)
    assert body == {"error": {"code": "not_found", "message":
                              "no case with key 'NOPE-1'; see `torchflow case list`"}}
    status, body = request(served, "POST", f"/cases/{key}/advance", unix=True,
                           body=b'{"trigger": "make_contact", "expected_version": 9}',
                           headers={**now, "Content-Type": "application/json"})
    assert (status, body["error"]["code"]) == (409, "conflict")
    status, body = request(served, "POST", f"/cases/{key}/advance", unix=True,
                           body=b'{"trigger": "sign"}', headers=now)
    assert status == 403 or status == 422, body
    status, body = request(served, "POST", "/cases", unix=True, body=b"{not json", headers=now)
    assert (status, body["error"]["code"]) == (400, "bad_request")
    status, body = request(served, "POST", "/cases", unix=True, headers=now,
                           body=json.dumps({"workflow": "project_introduction",
                                            "title": "x", "colour": "red"}).encode())
    assert (status, body["error"]["message"]) == (400, "case.open takes no parameter 'colour'; "
                                                  "it takes workflow, title, owner, fields")
    status, body = request(served, "POST", "/cases", unix=True, headers=now,
                           body=json.dumps({"workflow": "project_introduction", "title": "x",
                                            "fields": {"planned_investment": "1,2"}}).encode())
    assert (status, body["error"]["code"]) == (422, "invalid_input")
    status, body = request(served, "POST", "/cases", unix=True, headers=now,
                           body=b"[" + b"1," * (1 << 20) + b"1]")
    assert (status, body["error"]["code"]) == (413, "too_large")
    status, body = request(served, "GET", "/nowhere", unix=True)
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = request(served, "DELETE", "/cases", unix=True)
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")


def test_the_openapi_document_lists_every_operation(served: Server) -> None:
    status, doc = request(served, "GET", "/openapi.json", unix=True)
    assert status == 200 and doc["openapi"].startswith("3.")
    ids = {o["operationId"] for path in doc["paths"].values() for o in path.values()}
    assert ids == {name for name, op in OPERATIONS.items() if not op.local}
    assert doc["paths"]["/api/v1/cases/{key}/advance"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["required"] == ["trigger"]


# --- the server's life -------------------------------------------------------------------------

def test_serve_check_says_what_is_wrong_and_exits(office: Path, tmp_path: Path) -> None:
    assert ok("serve", "--socket", tmp_path / "s.sock", "--check", config=office).out == (
        "configuration ok: database, workflows, calendar, channels, socket\n")
    bad = office.with_name("bad.toml")
    bad.write_text(office.read_text(encoding="utf-8")
                   + '\n[serve]\nsocket_group = "no-such-group"\n', encoding="utf-8")
    done = torchflow("serve", "--socket", tmp_path / "none" / "s.sock", "--check", config=bad)
    assert done.code == 1 and done.out == ""
    assert done.err.splitlines() == [
        f"error: the socket's folder {tmp_path / 'none'} does not exist; make it (systemd: "
        "RuntimeDirectory=torchflow)",
        "error: [serve] socket_group 'no-such-group' is not a group on this machine"]
    assert torchflow("serve", config=office).line.startswith(
        "Error: give the server somewhere to listen: --socket PATH or --port N")


def test_the_server_runs_the_scheduler_and_stops_on_sigterm(office: Path, tmp_path: Path) -> None:
    """A case opened long ago has overdue work: the server's scheduler ticks at
    once on start and delivers through the server's own channel; SIGTERM stops
    it cleanly and takes the socket away."""
    open_pi(config=office)
    outbox = office.parent / "outbox.jsonl"
    with running_server(office, tmp_path, args=()) as server:
        sent = _wait_for(lambda: outbox.is_file() and outbox.read_text(encoding="utf-8"))
        assert sent and json.loads(sent.splitlines()[0])["kind"]
        socket_path = server.socket
    assert server.process.returncode == 0, server.output()
    assert socket_path is not None and not socket_path.exists()


def _wait_for(check: Callable[[], Any], seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)  # polling another process's work, not waiting for business time
    return None

