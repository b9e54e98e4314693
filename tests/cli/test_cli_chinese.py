"""An office working in Chinese ([office] locale = "zh-CN"): it types its own
words (state titles and aliases, choice labels, role names, people's names) and
reads every line in Chinese, with no English left but identifiers (case keys,
handles, codes, commands)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.conftest import ADMIN, Cli

OFFICE = [
    # handle, name, roles as the office writes them (roles.toml)
    ("wang.li", "王立", "招商专员"),
    ("zhao.min", "赵敏", "项目专员"),  # an alias of coordinator
    ("chen.jie", "陈杰", "局长"),
    ("zhang.wei", "张伟", "招商专员"),
    ("zhang.wei2", "张伟", "招商专员"),  # two people named 张伟
]
FIELDS = ("--field", "企业名称=清能动力", "--field", "所属产业=新能源",
          "--field", "线索来源=以商引商", "--field", "计划投资额=120000")

# What may stay in Latin letters: case keys, handles, options, commands in
# backquotes, field codes after --field, SQL-ish identifiers such as file names.
_IDENTIFIERS = [
    r"[A-Z]{2,4}-\d{4}-\d{4}",  # case keys
    r"`[^`]*`",  # commands to run
    r"--[a-z][a-z-]*(=\S*)?",  # options
    r"\b[a-z]+(\.[a-z0-9]+)+\b",  # handles (wang.li), file names
    r"\b(admin|office\.admin)\b",
]


def english_left(text: str, *allowed: str) -> list[str]:
    """The Latin words of ``text`` that are not identifiers."""
    for pattern in [*_IDENTIFIERS, *map(re.escape, allowed)]:
        text = re.sub(pattern, " ", text)
    return re.findall(r"[A-Za-z]{2,}", text)


@pytest.fixture
def zh(tmp_path: Path, config_file: Path) -> Cli:
    """The suite's database and workflows, with the office speaking Chinese."""
    config = tmp_path / "zh.toml"
    config.write_text(config_file.read_text(encoding="utf-8").replace(
        '[office]\nlocale = "en"', '[office]\nlocale = "zh-CN"\nname = "无锡高新区招商局"'),
        encoding="utf-8")
    tool = Cli(config)
    tool.ok("init", "--admin", ADMIN)
    for handle, name, role in OFFICE:
        added = tool.ok("person", "add", handle, "--name", name, "--login", handle,
                        "--role", role).out
        assert added.strip() == f"已添加 {handle}（{role if role != '项目专员' else '招商专员'}）"
    return tool


def test_a_matter_walked_in_the_office_s_words(zh: Cli) -> None:
    # The workflow by its title too.
    key = zh.ok("case", "open", "项目引进", "--title", "氢燃料电池电堆项目",
                "--owner", "王立", *FIELDS, as_="wang.li").out.strip()
    assert key == "PI-2026-0001"
    stored = zh.json("case", "show", key)
    # The codes are stored, whatever was typed.
    assert stored["owner"] == "wang.li"
    assert stored["fields"]["industry"] == "new energy"
    assert stored["fields"]["lead_source"] == "business association"

    # Advance by the state's title, then by an alias of the next one (在谈 for 洽谈).
    moved = zh.ok("case", "advance", key, "初步接洽", as_="wang.li").out
    assert moved == f"{key}：线索 -> 初步接洽\n"
    refused = zh.refused("case", "advance", key, "在谈", as_="wang.li")
    assert refused == (f"错误：{key}：办理“进入实质洽谈”须先填写企业联系人"
                       "（--field 企业联系人=...）")
    assert zh.ok("case", "advance", key, "在谈", "--field", "企业联系人=李总 13800000000",
                 as_="wang.li").out == f"{key}：初步接洽 -> 洽谈\n"

    # A choice set by its Chinese label; the line names field and value in Chinese.
    fields = zh.ok("case", "set", key, "所属产业=新材料", as_="wang.li").out
    head, _sep, pairs = fields.strip().partition("：")
    assert head == key  # the fields in the order the database keeps them (JSONB sorts)
    assert {"所属产业=新材料", "企业名称=清能动力", "线索来源=商协会"} <= set(pairs.split("、"))

    # The list filtered by a state's alias, shown with its title.
    listed = zh.ok("case", "list", "--state", "在谈").out.splitlines()
    assert listed[0].split() == ["事项编号", "流程", "环节", "负责人", "标题"]
    assert listed[1].split() == [key, "项目引进", "洽谈", "wang.li", "氢燃料电池电堆项目"]
    assert zh.ok("case", "list", "--owner", "王立").out.splitlines()[1].startswith(key)
    assert zh.ok("case", "list", "--workflow", "项目引进", "--state", "洽谈中"
                 ).out.splitlines()[1].startswith(key)
    assert zh.refused("case", "list", "--workflow", "人才").startswith(
        "错误：没有“人才”这个流程；流程有：双高联动、企业培育、企业诉求、新型工业化示范区、国际合作、平台建设、"
        "项目引进、战略研究、人才对接")

    shown = zh.ok("case", "show", key).out
    assert "环节：" in shown and "洽谈" in shown
    assert "项目引进，流程第 3 版" in shown
    assert "所属产业：新材料" in shown
    for out in (moved, fields, shown, "\n".join(listed)):
        assert english_left(out) == [], out


def test_refusals_name_what_is_accepted_in_chinese(zh: Cli) -> None:
    key = zh.ok("case", "open", "project_introduction", "--title", "项目", *FIELDS,
                as_="wang.li").out.strip()
    lines = [
        # A choice not among the labels lists them.
        zh.refused("case", "set", key, "所属产业=生物", as_="wang.li"),
        # A step the state does not allow lists the ones it does.
        zh.refused("case", "advance", key, "投产", as_="wang.li"),
        # A state nobody has.
        zh.run("case", "list", "--state", "谈判中").err.strip(),
        # A name two people have.
        zh.refused("case", "open", "project_introduction", "--title", "项目", "--owner", "张伟",
                   *FIELDS, as_="wang.li"),
        # A field the workflow lacks.
        zh.refused("case", "set", key, "预算=5", as_="wang.li"),
    ]
    assert lines[0] == (
        "错误：字段“所属产业”只能填：信息技术、智能制造、新材料、生物医药、新能源、绿色低碳、"
        "航空航天、未来产业、其他；收到 '生物'")
    assert lines[1] == (f"错误：{key}：“线索”环节不能办理“投产”；"
                        "可以办理：完成初次接洽、项目流失、终止跟踪、暂缓")
    assert lines[2].startswith("错误：没有“谈判中”这个环节；环节有：")
    assert "、线索、初步接洽、洽谈、" in lines[2]
    assert zh.refused("case", "list", "--workflow", "project_introduction", "--state",
                      "谈判中").startswith("错误：没有“谈判中”这个环节；环节有：线索、初步接洽、洽谈、")
    assert lines[3] == "错误：叫 张伟 的有 2 人（zhang.wei、zhang.wei2）；请用代号指明"
    assert lines[4].startswith("错误：“项目引进”没有“预算”这个字段；字段有：企业名称、所属产业")
    for line in lines:
        assert english_left(line, "torchflow") == [], line


def test_a_role_refusal_names_the_role_as_the_office_does(zh: Cli) -> None:
    key = zh.ok("case", "open", "project_introduction", "--title", "项目", *FIELDS,
                as_="wang.li").out.strip()
    zh.ok("case", "advance", key, "初步接洽", as_="wang.li")
    zh.ok("case", "advance", key, "洽谈", "--field", "企业联系人=李总", as_="wang.li")
    zh.ok("case", "advance", key, "考察", as_="wang.li")
    line = zh.refused("case", "advance", key, "签约", "--field", "意向落地园区=东区",
                      "--field", "预计新增就业=300", "--field", "签约日期=2026-03-04",
                      as_="wang.li")
    assert line == f"错误：{key}：“签约”只能由局长办理"
    assert zh.ok("case", "advance", key, "已签约", "--field", "意向落地园区=东区",
                 "--field", "预计新增就业=300", "--field", "签约日期=2026-03-04",
                 as_="chen.jie").out == f"{key}：考察 -> 签约\n"


def test_usage_errors_and_people_in_chinese(zh: Cli) -> None:
    missing = zh.run("case", "open", "project_introduction", as_="wang.li")
    assert missing.code == 2
    assert missing.err == ("错误：缺少选项 '--title'。（参见 `torchflow case open --help`）\n")
    bad = zh.run("task", "list", "--kind", "电话")
    assert bad.code == 2
    assert bad.err.startswith("错误：'--kind' 的值无效：'电话' 不在可选范围内：联络（contact）、"
                              "走访（visit）、时限（deadline）")
    # A code's Chinese is typed as well as the code.
    assert zh.run("task", "list", "--kind", "走访").code == 0
    people = zh.ok("person", "list").out.splitlines()
    assert people[0].split() == ["代号", "姓名", "角色", "邮箱", "渠道", "在职"]
    assert "局长" in next(line for line in people if line.startswith("chen.jie"))
    shown = zh.ok("person", "show", "wang.li").out
    assert "角色：" in shown and "招商专员" in shown
    assert english_left(shown + "\n".join(people)) == []


def test_exports_and_the_agenda_take_the_office_s_words_as_case_list_does(
    zh: Cli, tmp_path: Path
) -> None:
    key = zh.ok("case", "open", "项目引进", "--title", "氢燃料电池电堆项目", "--owner", "王立",
                *FIELDS, as_="wang.li").out.strip()
    zh.ok("case", "advance", key, "初步接洽", as_="wang.li")
    out = tmp_path / "matters.xlsx"
    cases = zh.json("export", "cases", out, "--workflow", "项目引进", "--state", "接洽",
                    "--owner", "王立")
    assert (cases["rows"], cases["sheets"]) == (1, ["project_introduction"])
    assert zh.json("export", "cases", out, "--state", "洽谈")["rows"] == 0
    assert zh.refused("export", "cases", out, "--state", "谈判中").startswith(
        "错误：没有“谈判中”这个环节；环节有：")
    tasks = zh.json("export", "tasks", tmp_path / "work.xlsx", "--workflow", "项目引进",
                    "--assignee", "王立")
    assert tasks["rows"] >= 1
    assert zh.refused("export", "tasks", tmp_path / "work.xlsx", "--workflow", "人才").startswith(
        "错误：没有“人才”这个流程；流程有：")
    assert zh.json("export", "history", tmp_path / "history.xlsx",
                   "--workflow", "项目引进")["rows"] >= 2
    agenda = zh.json("agenda", "--assignee", "王立")
    assert {t["case"] for t in agenda["tasks"]} == {key}


def test_the_request_report_reads_in_chinese(zh: Cli) -> None:
    out = zh.ok("report", "requests", "--period", "2026Q1", as_="wang.li").out
    for heading in ("企业诉求办理情况", "主要指标", "按时签收率", "按期办结率", "化解率", "满意率",
                    "按主办单位统计", "在办诉求账龄", "退回、延期与督办", "统计口径"):
        assert heading in out, heading
    # An empty table says so bilingually, as every report's does.
    assert english_left(out, "none") == []
