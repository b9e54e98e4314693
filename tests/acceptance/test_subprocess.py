"""The installed `torchflow` as a real process: what a coordinator and an
operator see, exit codes, one-line errors, help, shell completion, the demo and
the scheduler service."""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest

from tests.conftest import STAFF, WORKFLOWS
from torchflow.cli.main import cli as torchflow_group
from torchflow.store.migrate import head_revision

NOW = "2026-03-04T09:30:00+08:00"
TIMEOUT = 60


def command() -> list[str]:
    """`python -m torchflow`, or the console script installed beside this interpreter."""
    if importlib.util.find_spec("torchflow.__main__") is not None:
        return [sys.executable, "-m", "torchflow"]
    script = shutil.which("torchflow", path=str(Path(sys.executable).parent))
    assert script, "torchflow is not installed beside " + sys.executable
    return [script]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORCHFLOW_", "_TORCHFLOW"))}
    env.update({"TORCHFLOW_NOW": NOW, "PYTHONUNBUFFERED": "1"}, **extra)
    return env


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str

    @property
    def data(self) -> Any:
        return json.loads(self.out)


class Torchflow:
    def __init__(self, config: Path | None, cwd: Path) -> None:
        self.config, self.cwd = config, cwd

    def run(self, *args: object, as_: str | None = None, json_: bool = False,
            env: dict[str, str] | None = None, config: bool = True) -> Done:
        argv = [*command()]
        if config and self.config is not None:
            argv += ["--config", str(self.config)]
        if as_:
            argv += ["--as", as_]
        if json_:
            argv.append("--json")
        argv += [str(a) for a in args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                              cwd=self.cwd, env=environment(**(env or {})))
        assert "Traceback" not in proc.stderr, proc.stderr
        return Done(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: object, **kwargs: Any) -> Done:
        done = self.run(*args, **kwargs)
        assert done.code == 0, f"exit {done.code}: {done.err}"
        return done

    def json(self, *args: object, **kwargs: Any) -> Any:
        return self.ok(*args, json_=True, **kwargs).data

    def refused(self, *args: object, **kwargs: Any) -> str:
        done = self.run(*args, **kwargs)
        assert done.code == 1, f"exit {done.code}: {done.out}{done.err}"
        assert done.out == ""
        lines = done.err.splitlines()
        assert len(lines) == 1, done.err
        return lines[0]


@pytest.fixture
def tf(config_file: Path, tmp_path: Path) -> Torchflow:
    return Torchflow(config_file, tmp_path)


def add_staff(tf: Torchflow) -> None:
    """The first admin is this process's own OS login (`init`), acting for the
    office with --as, which only an admin may."""
    tf.ok("init", "--admin", "office.admin")
    for handle, name, roles in STAFF:
        tf.ok("person", "add", handle, "--name", name, "--email", f"{handle}@zone.example.cn",
              "--role", ",".join(roles))


def open_case(tf: Torchflow) -> str:
    fields = ["enterprise=Qingneng Power Co.", "industry=new energy", "lead_source=torch center",
              "planned_investment=120000"]
    args = [a for pair in fields for a in ("--field", pair)]
    return str(tf.json("case", "open", "project_introduction", "--title", "Hydrogen plant",
                       *args, as_="wang.li")["key"])


# --- init and demo ----------------------------------------------------------------


def test_init_twice(tmp_path: Path, empty_database_url: str) -> None:
    config = tmp_path / "fresh.toml"
    config.write_text(f'[database]\nurl = "{empty_database_url}"\n\n'
                      f'[workflows]\ndirectory = "{WORKFLOWS}"\n', encoding="utf-8")
    tf = Torchflow(config, tmp_path)
    head = head_revision()  # whatever migration is last
    # No [office] in the config: the office speaks Chinese.
    first = tf.ok("init").out.splitlines()
    assert first[0] == f"已建立 torchflow 数据表（结构版本 {head}）"
    assert first[1].startswith("首位系统管理员：")
    assert tf.ok("init").out == f"数据库已是结构版本 {head}\n"
    assert tf.json("init")["before"] == head


def test_demo(tmp_path: Path) -> None:
    tf = Torchflow(None, tmp_path)
    done = tf.ok("demo", "--dir", "tmp")
    assert "Where the cases ended:" in done.out
    folder = tmp_path / "tmp"
    # It says where its HTML report is, and the report is there, whole.
    assert "HTML report: tmp/report.html" in done.out
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="report-outcomes"' in page and 'id="exceptions"' in page
    lines = (folder / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    kinds = {r["kind"] for r in records}
    # The office's default mode: one digest a day, upcoming and due folded into it.
    assert "digest" in kinds and not {"due", "upcoming"} & kinds
    assert all(r["idempotency_key"] and r["recipient"] and r["subject"] for r in records)
    assert len({r["idempotency_key"] for r in records}) == len(records)
    with sqlite3.connect(folder / "demo.db") as db:
        assert db.execute("SELECT count(*) FROM cases").fetchone() == (9,)
        folded = {row[0] for row in db.execute(
            "SELECT kind FROM notices WHERE status = 'folded' AND folded_into IS NOT NULL")}
        assert {"due", "upcoming"} <= folded
        prefixes = sorted(row[0][:2] for row in db.execute("SELECT key FROM cases"))
    assert prefixes == ["DH", "EC", "IC", "NZ", "PB", "PI", "RQ", "SR", "TD"]
    # The folder's config works with the CLI.
    cases = tf.json("--config", folder / "config.toml", "case", "list", config=False)["items"]
    assert len(cases) == 9
    # The login that ran it is its admin, so writes work too, and acting for another.
    assert "you act as its admin" in done.out
    later = {"TORCHFLOW_NOW": "2030-01-07T10:00:00+08:00"}
    key = cases[0]["key"]
    tf.ok("--config", folder / "config.toml", "--as", "wang.li", "case", "note", key,
          "explored", config=False, env=later)
    history = tf.ok("--config", folder / "config.toml", "case", "history", key, config=False,
                    env=later).out
    assert "wang.li（" in history and " 代录）" in history  # the demo's office speaks Chinese


# --- a coordinator's walk through project_introduction ----------------------------


def test_coordinator_walks_a_project_from_lead_to_closed(tf: Torchflow) -> None:
    add_staff(tf)
    key = open_case(tf)
    assert key == "PI-2026-0001"

    view = tf.json("case", "show", key, as_="wang.li")
    assert view["state"] == "lead"
    assert [a["trigger"] for a in view["allowed"]] == ["make_contact", "lose", "withdraw", "hold"]
    moved = tf.json("case", "advance", key, "make_contact", "--if-version",
                    view["case_version"], "--note", "Met at the investment fair", as_="wang.li")
    assert (moved["from_state"], moved["to_state"]) == ("lead", "first_contact")

    line = tf.refused("case", "advance", key, "negotiate", as_="wang.li")
    assert "needs contact_person first (--field contact_person=...)" in line
    tf.json("case", "advance", key, "negotiate", "--field", "contact_person=Ms. Li, CFO",
            as_="wang.li")
    # Logged now (Wednesday 4 March): business time only moves forward for a case.
    logged = tf.json("case", "contact", key, "--note", "Called about land", as_="wang.li")
    assert logged["next"]["due_on"] == "2026-03-06"
    tf.json("case", "advance", key, "inspect", as_="wang.li")

    sign_fields = ["--field", "target_park=East Park", "--field", "expected_jobs=450",
                   "--field", "signed_date=2026-03-04"]
    line = tf.refused("case", "advance", key, "sign", *sign_fields, as_="wang.li")
    assert line == f"Error: {key}: 'sign' may be done only by a person with role director"
    signed = tf.json("case", "advance", key, "sign", *sign_fields, as_="chen.jie")
    assert signed["to_state"] == "signed"

    tf.json("case", "advance", key, "register", "--field", "credit_code=91310000MA1FL1XY2K",
            as_="wang.li")
    tf.json("case", "advance", key, "start_construction", as_="wang.li")
    tf.json("case", "advance", key, "start_production", as_="wang.li")
    closed = tf.json("case", "advance", key, "close", "--note", "Producing", as_="wang.li")
    assert closed["closed"] is True and closed["to_state"] == "closed"
    assert closed["cancelled_tasks"] and closed["planned"] == []

    final = tf.json("case", "show", key)
    assert final["terminal"] is True and final["tasks"] == [] and final["allowed"] == []
    assert final["fields"]["expected_jobs"] == 450
    assert [c["key"] for c in tf.json("case", "list", "--closed")["items"]] == [key]
    events = tf.json("case", "history", key)["events"]
    assert [e["to"] for e in events if e["kind"] in ("opened", "advanced")] == [
        "lead", "first_contact", "negotiation", "site_inspection", "signed", "registered",
        "construction", "production", "closed"]
    assert tf.json("audit", "verify")["ok"] is True
    assert tf.ok("case", "show", key).out.count("Next: none (terminal state)") == 1


# --- refusals and usage errors ----------------------------------------------------


def test_bad_inputs_are_one_line_and_exit_1(tf: Torchflow, tmp_path: Path) -> None:
    add_staff(tf)
    key = open_case(tf)
    line = tf.refused("case", "advance", key, "sign", as_="chen.jie")
    assert line == (f"Error: {key}: 'sign' is not allowed from 'lead'; "
                    "allowed: make_contact, lose, withdraw, hold")
    line = tf.refused("case", "advance", key, "make_contact", as_="system")
    assert line == "Error: 'system' is the scheduler service; no one acts as it"
    line = tf.refused("case", "open", "project_intro", "--title", "x", as_="wang.li")
    assert line.startswith("Error: no workflow named 'project_intro'; workflows: ")
    assert "project_introduction" in line
    line = tf.refused("case", "set", key, "planned_investment=1,200", as_="wang.li")
    assert line.startswith("Error: field 'planned_investment' wants a number, got '1,200'")
    line = tf.refused("case", "list", env={"TORCHFLOW_NOW": "yesterday"})
    assert line == ("Error: TORCHFLOW_NOW='yesterday' is not an ISO-8601 instant; "
                    "use e.g. 2026-03-02T09:00:00+08:00")
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\n", encoding="utf-8")
    line = tf.refused("--config", bad, "case", "list", config=False)
    # A config that cannot be read: said in the default language, Chinese.
    assert line.startswith(f"错误：{bad}：不是有效的 TOML：")
    bad.write_text('[scheduler]\nmax_attempts = "many"\n', encoding="utf-8")
    line = tf.refused("--config", bad, "case", "list", config=False)
    assert line == (f"错误：{bad}：scheduler.max_attempts = 'many' 无效；"
                    "应为：1 至 1000 之间的整数")
    line = tf.refused("--config", tmp_path / "missing.toml", "case", "list", config=False)
    assert line == (f"错误：配置文件 {tmp_path / 'missing.toml'} 不存在；"
                    "请用 --config 指定已有的文件")
    # Nothing the refusals touched changed.
    assert tf.json("case", "show", key)["state"] == "lead"
    assert len(tf.json("case", "history", key)["events"]) == 1


@pytest.mark.parametrize(("args", "expected"), [
    (("case", "show"), "Missing argument 'KEY'"),
    (("case", "list", "--colour"), "No such option '--colour'"),
    (("--colour", "case", "list"), "No such option '--colour'"),
])
def test_usage_errors_exit_2(tf: Torchflow, args: tuple[str, ...], expected: str) -> None:
    done = tf.run(*args)
    assert done.code == 2
    assert done.out == ""
    assert done.err.startswith("Error: ") and len(done.err.splitlines()) == 1
    assert expected in done.err


# --- help and completion ----------------------------------------------------------


def every_command() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [()]

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):  # the top level loads them lazily
            sub = group.get_command(ctx, name)
            found.append((*path, name))
            if isinstance(sub, click.Group):
                walk(sub, (*path, name))

    walk(torchflow_group, ())
    return found


def test_help_of_every_command_exits_0_with_an_example(tmp_path: Path) -> None:
    tf = Torchflow(None, tmp_path)
    commands = every_command()
    # calendar show/check, replan, audit checkpoint, workflow migrate; import template/cases/people;
    # export cases/tasks/history/notices; person feed-token; person away/back/notify;
    # person edit/deactivate/reactivate/show/roles/history; serve; token create/list/revoke;
    # report outcomes/pipeline/stages/compliance/workload/requests/html; channel test;
    # enterprise add/edit/show/list/link/import/export; request open; calendar template
    assert len(commands) == 88
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda path: (path, tf.run(*path, "--help")), commands))
    for path, done in results:
        assert done.code == 0, (path, done.err)
        assert "Example" in done.out, path
        assert done.out.startswith("Usage: torchflow " + " ".join(path)), path


@pytest.mark.parametrize(("words", "cword", "expected"), [
    ("torchflow cas", "1", "case"),  # "ca" is also calendar
    ("torchflow case adv", "2", "advance"),
    ("torchflow workflow diagram x --format m", "5", "mermaid"),
])
def test_bash_completion(tmp_path: Path, words: str, cword: str, expected: str) -> None:
    done = Torchflow(None, tmp_path).run(config=False, env={
        "_TORCHFLOW_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": cword})
    assert done.code == 0
    assert done.out.splitlines() == [f"plain,{expected}"]


# --- the scheduler service --------------------------------------------------------


def read_until(proc: subprocess.Popen[bytes], needle: str, timeout: float) -> str:
    """stderr of ``proc`` up to the first line containing ``needle``, within ``timeout``."""
    assert proc.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stderr, selectors.EVENT_READ)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while needle.encode() not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {needle!r} within {timeout}s: {seen.decode()}"
            if not selector.select(left):
                continue
            chunk = os.read(proc.stderr.fileno(), 65536)
            assert chunk, f"the service ended before {needle!r}: {seen.decode()}"
            seen += chunk
    finally:
        selector.close()
    return seen.decode()


def test_scheduler_run_sends_and_stops_cleanly_on_sigterm(
    tf: Torchflow, config_file: Path
) -> None:
    add_staff(tf)
    key = open_case(tf)
    argv = [*command(), "--config", str(config_file), "scheduler", "run"]
    proc = subprocess.Popen(argv, cwd=tf.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=environment(TORCHFLOW_NOW="2026-03-16T09:30:00+08:00"))
    try:
        early = read_until(proc, "sent notice #1 upcoming to wang.li via file", TIMEOUT)
        assert "started" in early
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0
    assert "stopped" in rest.decode()
    assert "Traceback" not in early + rest.decode()
    lines = (config_file.parent / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    [message] = [json.loads(line) for line in lines]
    assert message["kind"] == "upcoming" and message["payload"]["case"] == key
    assert [n["status"] for n in tf.json("notice", "list")["items"]] == ["sent"]
