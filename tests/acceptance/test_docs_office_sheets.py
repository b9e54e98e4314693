"""docs/spreadsheets.md "An office's own ledger", run from the docs' text: its
commands as real processes in a fresh folder (a copy of config.toml, which speaks
Chinese, and the workflows; `torchflow init` done), on the sheets a Chinese office
keeps: a GBK staff list with 序号, 登录名, 邮箱, 科室 and role names in Chinese, and
an XLSX ledger with a merged title row, a 填报单位 line, a two-row header, units
in brackets, amounts in 亿 and with separators, stages, choices and owners in
Chinese, 登记日期, 备注, a column of its own and a 合计 row. One dry run, no edit."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tests.acceptance.test_readme import office_shell
from tests.cli.test_cli_office_sheets import ROWS, office_xlsx
from tests.conftest import ROOT, is_postgres

SECTION = "## An office's own ledger"
NAMES = {"Wang Li": "王立", "Zhao Min": "赵敏", "wang.li": "王立"}


def commands() -> list[str]:
    text = (ROOT / "docs" / "spreadsheets.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line for line in block.splitlines() if line.strip()]


def office_files(folder: Path) -> None:
    with (folder / "名单.csv").open("w", encoding="gbk", newline="") as handle:
        csv.writer(handle).writerows([
            ["招商局工作人员名单"],
            ["序号", "姓名", "登录名", "邮箱", "科室", "岗位"],
            ["1", "王立", "wang.li", "wang.li@zone.example.cn", "招商一科", "招商专员"],
            ["2", "赵敏", "zhao.min", "zhao.min@zone.example.cn", "招商二科", "项目专员"],
            ["3", "陈杰", "chen.jie", "chen.jie@zone.example.cn", "局办公室", "局长"],
        ])
    rows = [[NAMES.get(cell, cell) if i == 7 else cell for i, cell in enumerate(row)]
            for row in ROWS]
    office_xlsx(folder / "台账.xlsx", rows)


def test_the_section_shows_four_commands() -> None:
    assert len(commands()) == 4
    assert all(c.startswith("torchflow ") for c in commands())


@pytest.mark.skipif(is_postgres(), reason="the docs use the SQLite default of config.toml")
def test_the_office_sheets_go_in_as_the_docs_say(tmp_path: Path) -> None:
    run = office_shell(tmp_path)

    run("torchflow init")
    office_files(tmp_path)
    people, dry, imported, found = (run(c) for c in commands())
    assert "新增 3 人，更新 0 人，0 人无变化" in people
    assert "以下各列未导入（人员信息中没有对应项）：序号、科室" in people
    assert "将新建 3 件，将更新 0 件，0 件无变化（试运行" in dry
    assert "表头在第 4 行，其上各行已跳过" in dry
    assert "已跳过的列：牵头领导" in dry
    assert "第 8 行为合计行，已跳过" in dry
    assert "新建 3 件，更新 0 件，0 件无变化" in imported
    assert "氢燃料电池电堆项目" in found and "生物医药中试基地" not in found
    listed = run("torchflow --json case list")
    assert listed.count('"ref": "') == 3
    shown = run("torchflow --json person show chen.jie")
    assert '"director"' in shown and '"chen.jie"' in shown
    assert "新建 0 件，更新 0 件，3 件无变化" in run(commands()[2])
