"""What every command shares: refusals as one stderr line and exit 1, usage
errors as exit 2, configuration and clock problems, init, demo, help."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from tests.cli.conftest import Cli
from tests.conftest import WORKFLOWS
from torchflow.cli.main import cli as torchflow
from torchflow.store.migrate import head_revision

pytestmark = pytest.mark.client

HEAD = head_revision()  # whatever migration is last

NEEDS_ACTOR = [
    ("case", "open", "project_introduction", "--title", "x"),
    ("case", "advance", "PI-2026-0001", "make_contact"),
    ("case", "note", "PI-2026-0001", "hello"),
    ("case", "set", "PI-2026-0001", "expected_jobs=3"),
    ("case", "assign", "PI-2026-0001", "zhao.min"),
    ("case", "contact", "PI-2026-0001"),
    ("case", "visit", "PI-2026-0001"),
    ("task", "done", "1"),
    ("task", "snooze", "1", "--to", "2026-03-09", "--reason", "x"),
    ("task", "reassign", "1", "zhao.min"),
    ("task", "list", "--mine"),
    ("person", "handover", "wang.li", "zhao.min"),
]


def all_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [()]

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):  # the top level loads them lazily
            command = group.get_command(ctx, name)
            found.append((*path, name))
            if isinstance(command, click.Group):
                walk(command, (*path, name))

    walk(torchflow, ())
    return found


@pytest.mark.parametrize("args", NEEDS_ACTOR, ids=lambda a: " ".join(a[:2]))
def test_a_login_that_is_nobodys_is_refused_and_changes_nothing(
    cli: Cli, args: tuple[str, ...]
) -> None:
    key = cli.open_pi()
    assert key == "PI-2026-0001"
    before = cli.json("case", "history", key)
    line = cli.refused(*args, as_="stranger")  # logged in as an OS user no person has
    assert line == ("Error: the login 'stranger' is no person's; an admin can add it with "
                    "`torchflow person add HANDLE --name NAME --login stranger` "
                    "(or `person edit HANDLE --login stranger`)")
    assert cli.json("case", "history", key) == before
    assert len(cli.json("case", "list")["items"]) == 1


def test_an_admin_names_the_actor_and_the_history_says_who_entered_it(cli: Cli) -> None:
    key = cli.open_pi()
    cli.ok("case", "note", key, "via the environment", env={"TORCHFLOW_USER": "zhao.min"})
    cli.ok("--as", "chen.jie", "case", "note", key, "via --as")
    events = cli.json("case", "history", key)["events"]
    assert [(e["actor"], e["entered_by"]) for e in events] == [
        ("wang.li", None), ("zhao.min", "office.admin"), ("chen.jie", "office.admin")]
    text = cli.ok("case", "history", key).out
    assert "chen.jie, entered by office.admin" in text
    assert "wang.li, entered by" not in text
    assert "chen.jie, entered by office.admin" in cli.ok("case", "show", key).out


@pytest.mark.parametrize("how", ["--as", "TORCHFLOW_USER"])
def test_acting_as_another_without_admin_is_refused_and_changes_nothing(
    cli: Cli, how: str
) -> None:
    key = cli.open_pi()
    before = cli.json("case", "history", key)
    if how == "--as":
        line = cli.refused("--as", "chen.jie", "case", "note", key, "as the director",
                           as_="wang.li")
    else:
        line = cli.refused("case", "note", key, "as the director", as_="wang.li",
                           env={"TORCHFLOW_USER": "chen.jie"})
    assert line == ("Error: wang.li may not act as another person (`--as`, TORCHFLOW_USER): "
                    "it needs the 'admin' role (see `torchflow person roles`)")
    assert cli.json("case", "history", key) == before
    # Naming oneself is no impersonation.
    cli.ok("--as", "wang.li", "case", "note", key, "as myself", as_="wang.li")
    assert cli.json("case", "history", key)["events"][-1]["entered_by"] is None


def test_unknown_actor(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.refused("--as", "nobody", "case", "note", key, "x") == \
        "Error: no person with handle 'nobody'; see `torchflow person list`"


def test_no_one_acts_as_the_scheduler(cli: Cli) -> None:
    key = cli.open_pi()
    assert cli.refused("--as", "system", "case", "note", key, "x") == \
        "Error: 'system' is the scheduler service; no one acts as it"
    line = cli.refused("person", "add", "system", "--name", "S")
    assert line.startswith("Error: handle 'system' is reserved")


def test_refusals_in_json_mode_are_still_one_stderr_line(cli: Cli) -> None:
    key = cli.open_pi()
    line = cli.refused("case", "advance", key, "fly", as_="wang.li", json=True)
    assert line == (f"Error: {key}: 'fly' is not allowed from 'lead'; "
                    "allowed: make_contact, lose, withdraw, hold")
    assert cli.refused("case", "show", "XX-1", json=True) == \
        "Error: no case with key 'XX-1'; see `torchflow case list`"


@pytest.mark.parametrize("bad", ["garbage", "2026-03-04T09:30:00", "2026-13-01T00:00:00Z"])
@pytest.mark.parametrize("args", [("case", "list"), ("workflow", "list"), ("agenda",),
                                  ("case", "open", "project_introduction", "--title", "x")])
def test_a_bad_torchflow_now_is_refused_by_every_command(
    cli: Cli, bad: str, args: tuple[str, ...]
) -> None:
    line = cli.refused(*args, as_="wang.li", now=bad)
    assert line.startswith(f"Error: TORCHFLOW_NOW={bad!r} ")
    assert "e.g. 2026-03-02T09:00:00+08:00" in line or "add one, e.g." in line


def test_a_naive_torchflow_now_asks_for_an_offset(cli: Cli) -> None:
    line = cli.refused("case", "list", now="2026-03-04T09:30:00")
    assert line == ("Error: TORCHFLOW_NOW='2026-03-04T09:30:00' has no UTC offset; "
                    "add one, e.g. 2026-03-04T09:30:00+08:00")


def test_torchflow_now_in_utc_is_accepted(cli: Cli) -> None:
    key = cli.open_pi(now="2026-03-04T01:30:00Z")
    # The same instant, shown in the office's zone.
    assert cli.json("case", "show", key)["opened_at"] == "2026-03-04T09:30:00+08:00"


# --- configuration ----------------------------------------------------------------


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.embedded  # the server's config, environment or process
def test_a_config_file_that_does_not_exist(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    # No config to say the office's language: the default one, Chinese, says what is wrong.
    line = cli.refused("--config", missing, "case", "list", config=False)
    assert line == f"错误：配置文件 {missing} 不存在；请用 --config 指定已有的文件"
    line = cli.refused("case", "list", config=False, env={"TORCHFLOW_CONFIG": str(missing)})
    assert line == f"错误：配置文件 {missing} 不存在；请用 --config 指定已有的文件"


@pytest.mark.embedded  # the server's config, environment or process
@pytest.mark.parametrize(("content", "expected"), [
    # No [office] locale: the default language, Chinese.
    ("[database\nurl = 1\n", "不是有效的 TOML"),
    ('[databse]\nurl = "sqlite:///x.db"\n',
     "未知的配置项“databse”；是否应为“database”？可用的配置项为 office、database、calendar、"
     "workflows、scheduler、notify"),
    ("[scheduler]\ninterval_seconds = -1\n",
     "scheduler.interval_seconds = -1 无效；应为：0.1 至 86400 之间的秒数"),
    ('[notify]\ndefault_channel = "pigeon"\n',
     "notify.default_channel = 'pigeon' 无效；应为：file、smtp、webhook"),
    ('database = "sqlite:///x.db"\n', "[database] 必须是一个表"),
    ('[database]\nurl = "sqlite:////no/such/folder/x.db"\n',
     "数据库文件 /no/such/folder/x.db 所在的文件夹不存在"),
    ('[database]\nurl = "nonsense"\n', "数据库地址 'nonsense' 无效"),
])
def test_a_bad_config_file_is_one_line_naming_the_key(
    cli: Cli, tmp_path: Path, content: str, expected: str
) -> None:
    bad = write(tmp_path / "bad.toml", content)
    line = cli.refused("--config", bad, "case", "list", config=False)
    assert line.startswith("错误：")  # a config that cannot be read: the default language
    assert expected in line
    if "文件夹" not in expected and "数据库地址" not in expected:
        assert str(bad) in line or "bad.toml" in line


def empty_config(tmp_path: Path, url: str) -> Path:
    return write(tmp_path / "empty.toml", f'[office]\nlocale = "en"\n\n[database]\nurl = "{url}"'
                 f'\n\n[workflows]\ndirectory = "{WORKFLOWS}"\n')


@pytest.mark.embedded  # the server's config, environment or process
def test_a_database_without_tables_asks_for_init(cli: Cli, tmp_path: Path,
                                                 empty_database_url: str) -> None:
    config = empty_config(tmp_path, empty_database_url)
    if empty_database_url.startswith("sqlite:///"):
        Path(empty_database_url.removeprefix("sqlite:///")).touch()  # a file without tables
    line = cli.refused("--config", config, "case", "list", config=False)
    assert line == "Error: the database has no torchflow tables yet; run `torchflow init` first"


@pytest.mark.embedded  # the server's config, environment or process
def test_init_creates_the_tables_then_is_a_no_op(cli: Cli, tmp_path: Path,
                                                 empty_database_url: str) -> None:
    config = empty_config(tmp_path, empty_database_url)
    run = cli.ok("--config", config, "init", config=False, as_="li.hua")
    assert run.out == (f"created the torchflow tables (schema {HEAD})\n"
                       "first admin: li.hua (login li.hua); add people with "
                       "`torchflow person add HANDLE --name NAME --login OSUSER`\n")
    # A database with people in it gets no other admin.
    run = cli.ok("--config", config, "init", "--admin", "other", config=False, as_="x")
    assert run.out == (f"database already at schema {HEAD}\n--admin other changed nobody: "
                       "the database has an admin already (li.hua); an admin gives the role "
                       "with `torchflow person edit HANDLE --add-role admin`\n")
    assert cli.ok("--config", config, "case", "list", config=False).out == "(none)\n"
    people = cli.json("--config", config, "person", "list", config=False)["items"]
    assert [(p["handle"], p["roles"]) for p in people] == [("li.hua", ["admin"])]
    shown = cli.json("--config", config, "person", "show", "li.hua", config=False)
    assert shown["logins"] == ["li.hua"]


@pytest.mark.embedded  # the server's config, environment or process
def test_init_names_the_first_admin_and_cleans_an_odd_login(
    cli: Cli, tmp_path: Path, empty_database_url: str
) -> None:
    config = empty_config(tmp_path, empty_database_url)
    # A bad --admin is refused before any table is made.
    assert "handle 'Boss' is not valid" in cli.refused("--config", config, "init", "--admin",
                                                       "Boss", config=False)
    assert "run `torchflow init` first" in cli.refused("--config", config, "case", "list",
                                                       config=False)
    # A login that is no handle gives one made from it.
    other = write(tmp_path / "other.toml", f'[database]\nurl = "sqlite:///{tmp_path / "o.db"}"'
                  f'\n\n[workflows]\ndirectory = "{WORKFLOWS}"\n')
    assert cli.json("--config", other, "init", config=False, as_="Li_Hua$")["admin"] == "li_hua"
    data = cli.json("--config", config, "init", "--admin", "wang.li", config=False,
                    as_="WangLi$")
    assert data["admin"] == "wang.li"
    assert cli.json("--config", config, "person", "show", "wang.li",
                    config=False)["logins"] == ["WangLi$"]
    # With the admin acting from that login, administration works.
    cli.ok("--config", config, "person", "add", "zhao.min", "--name", "Zhao Min",
           config=False, as_="WangLi$")


@pytest.mark.embedded  # the server's config, environment or process
def test_init_json(cli: Cli) -> None:
    data = cli.json("init")
    assert data["before"] == HEAD and data["after"] == HEAD
    assert data["database"].startswith(("sqlite:///", "postgresql+psycopg://"))
    assert cli.ok("init").out == f"database already at schema {HEAD}\n"


# --- usage errors -----------------------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    (("case", "show"), "Missing argument 'KEY'"),
    (("case", "advance", "PI-2026-0001"), "Missing argument 'TRIGGER'"),
    (("case", "open", "project_introduction"), "Missing option '--title'"),
    (("case", "list", "--bogus"), "No such option '--bogus'"),
    (("--bogus", "case", "list"), "No such option '--bogus'"),
    (("cases", "list"), "No such command 'cases'"),
    (("task", "done", "seven"), "'seven' is not a valid integer"),
    (("case", "list", "--limit", "0"), "0 is not in the range 1<=x<=10000"),
    (("workflow", "show", "x", "--version", "0"), "0 is not in the range x>=1"),
])
def test_usage_errors_exit_2(cli: Cli, args: tuple[str, ...], expected: str) -> None:
    err = cli.usage(*args, as_="wang.li")
    [line] = err.splitlines()
    assert line.startswith("Error: ") and line.endswith(" --help`)")
    assert expected in line


def test_help_of_every_command_has_an_example(cli: Cli) -> None:
    commands = all_commands()
    # The top level, 20 commands and groups (serve, token, channel, enterprise, request;
    # db grants retired), 67 subcommands (calendar template, person history, report requests).
    assert len(commands) == 88
    for path in commands:
        run = cli.ok(*path, "--help", config=False)
        assert "Example" in run.out, path
        assert run.out.startswith("Usage: torchflow")


def test_version(cli: Cli) -> None:
    assert cli.ok("--version", config=False).out == "torchflow, version 0.1.0\n"


# --- demo -------------------------------------------------------------------------


@pytest.mark.embedded  # the server's config, environment or process
def test_demo_json_summary(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    data = cli.json("demo", "--dir", folder, "--days", "10", config=False)
    assert data["folder"] == str(folder)
    assert data["database"] == str(folder / "demo.db")
    assert data["report"] == str(folder / "report.html")
    assert "<svg" in (folder / "report.html").read_text(encoding="utf-8")
    assert [c["key"] for c in data["cases"]] == [
        "DH-2026-0001", "EC-2026-0001", "RQ-2026-0001", "NZ-2026-0001", "IC-2026-0001",
        "PB-2026-0001", "PI-2026-0001", "SR-2026-0001", "TD-2026-0001"]  # by workflow name
    lines = (folder / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert data["sent"] == len(lines) > 0
    assert data["notices"] == {k: kinds.count(k) for k in set(kinds)}
    # The demo's own database answers the CLI.
    cases = cli.json("--config", folder / "config.toml", "case", "list", config=False)["items"]
    assert len(cases) == 9


@pytest.mark.embedded  # the server's config, environment or process
def test_demo_text_and_a_folder_that_is_not_empty(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    out = cli.ok("demo", "--dir", folder, "--days", "3", config=False).out
    assert "opened PI-2026-0001  Hydrogen fuel-cell stack plant" in out
    assert "Where the cases ended:" in out
    assert f"Explore it: torchflow --config {folder / 'config.toml'} case list" in out
    line = cli.refused("demo", "--dir", folder, config=False)
    # No config named: the default language, Chinese.
    assert line == f"错误：{folder} 不是空文件夹；请用 --dir 指定新的或空的文件夹"
    assert "121 超出范围，应在 1 到 120 之间" in cli.usage("demo", "--days", "121",
                                                           config=False)


@pytest.mark.embedded  # the server's config, environment or process
def test_demo_with_a_bad_torchflow_now_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    line = cli.refused("demo", "--dir", folder, config=False, now="soon")
    assert line.startswith("错误：TORCHFLOW_NOW='soon' 不是 ISO-8601 格式的时间")
    assert not folder.exists() or not any(folder.iterdir())
    assert cli.json("demo", "--dir", folder, "--days", "1", config=False)["cases"]
