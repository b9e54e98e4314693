"""Refusals an office working in Chinese ([office] locale = "zh-CN") reads in
Chinese: the services' (workflow versions, people, tasks, notices, version
moves), the configuration's and the database's, which were English until they
went through the catalogs. Each line keeps only identifiers in Latin letters."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import ADMIN, Cli
from tests.cli.test_cli_chinese import FIELDS, english_left
from tests.conftest import WORKFLOWS

PI = "project_introduction.toml"


@pytest.fixture
def zh(tmp_path: Path, config_file: Path) -> Cli:
    """The suite's database, a copy of the shipped workflows, and the office
    speaking Chinese."""
    folder = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    config = tmp_path / "zh.toml"
    config.write_text(config_file.read_text(encoding="utf-8")
                      .replace('[office]\nlocale = "en"', '[office]\nlocale = "zh-CN"')
                      .replace(str(WORKFLOWS), str(folder)), encoding="utf-8")
    tool = Cli(config)
    tool.ok("init", "--admin", ADMIN)
    for handle, name in (("wang.li", "王立"), ("zhao.min", "赵敏")):
        tool.ok("person", "add", handle, "--name", name, "--login", handle, "--role", "招商专员")
    return tool


def open_case(zh: Cli, *extra: str) -> str:
    return zh.ok("case", "open", "项目引进", "--title", "氢燃料电池电堆项目", *FIELDS, *extra,
                 as_="wang.li").out.strip()


def test_an_older_workflow_version_is_refused_in_chinese(zh: Cli, tmp_path: Path) -> None:
    path = tmp_path / "workflows" / PI
    shipped = path.read_text(encoding="utf-8")
    found = re.search(r"^version = (\d+)", shipped, re.M)
    assert found is not None
    n = int(found.group(1))
    path.write_text(shipped.replace('title_en = "Project introduction', 'title_en = "Project '
                                    'intro', 1).replace(f"version = {n}", f"version = {n + 1}", 1),
                    encoding="utf-8")
    open_case(zh)  # stores version n + 1
    path.write_text(shipped, encoding="utf-8")  # the file goes back to version n
    run = zh.run("case", "open", "项目引进", "--title", "第二个项目", *FIELDS, as_="wang.li")
    assert (run.code, run.out) == (1, "")
    assert run.err == (f"错误：{path}：version：第 {n} 版早于已在使用的第 {n + 1} 版；"
                       f"请将版本号改为 {n + 2}\n")
    assert english_left(run.err, str(path), "version") == []


def test_a_bad_config_key_or_value_is_refused_in_chinese(zh: Cli) -> None:
    good = zh.config.read_text(encoding="utf-8")
    zh.config.write_text(good.replace("[scheduler]\n", "[scheduler]\nbatchsize = 5\n", 1),
                         encoding="utf-8")
    line = zh.refused("case", "list")
    assert line.startswith(f"错误：{zh.config}：未知的配置项“scheduler.batchsize”；"
                           "是否应为“scheduler.batch_size”？可用的配置项为 ")
    zh.config.write_text(good.replace("[scheduler]\n", "[scheduler]\nbatch_size = 0\n", 1),
                         encoding="utf-8")
    line = zh.refused("case", "list")
    assert re.fullmatch(rf"错误：{re.escape(str(zh.config))}：scheduler\.batch_size = 0 无效；"
                        r"应为：1 至 \d+ 之间的整数", line), line


def test_a_missing_database_file_is_said_in_chinese(zh: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    text = re.sub(r'(?m)^url = ".*"$', f'url = "sqlite:///{missing}"',
                  zh.config.read_text(encoding="utf-8"), count=1)
    zh.config.write_text(text, encoding="utf-8")
    assert zh.refused("case", "list") == (
        f"错误：数据库文件 {missing} 不存在；请先运行 `torchflow init`")


def test_people_refusals_in_chinese(zh: Cli) -> None:
    assert zh.refused("person", "add", "wang.li", "--name", "王丽") == (
        "错误：代号为“wang.li”的人员已存在；请另选代号")
    line = zh.refused("person", "add", "li.na", "--name", "李娜", "--email", "li.na")
    assert line == "错误：电子邮箱 'li.na' 无效；应如 wang.li@example.gov.cn"
    zh.ok("person", "handover", "zhao.min", "wang.li", "--deactivate")
    line = zh.refused("case", "open", "项目引进", "--title", "氢燃料电池电堆项目", *FIELDS,
                      "--owner", "赵敏", as_="wang.li")
    assert line == "错误：“赵敏”已停用；请把事项交给在职人员"


def test_task_and_notice_refusals_in_chinese(zh: Cli) -> None:
    key = open_case(zh)
    task = zh.json("case", "show", key)["tasks"][0]
    line = zh.refused("task", "snooze", task["id"], "--to", "2026-03-02", "--reason", "企业出差",
                      as_="wang.li")
    assert line == "错误：2026-03-02 已经过去；请改到今天或以后"
    assert zh.refused("task", "snooze", "999", "--to", "2026-03-20", "--reason", "企业出差",
                      as_="wang.li") == "错误：没有任务 #999；见 `torchflow task list`"
    assert zh.refused("notice", "retry", "999") == (
        "错误：没有第 999 号提醒；见 `torchflow notice list`")


def test_a_version_move_refusal_in_chinese(zh: Cli) -> None:
    key = open_case(zh)
    line = zh.refused("workflow", "migrate", "--revert", key)
    assert line == (f"错误：{key} 没有迁移过版本；没有可撤销的迁移"
                    f"（见 `torchflow case history {key}`）")
