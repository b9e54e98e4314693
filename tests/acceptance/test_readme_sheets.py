"""README's "Moving an office's spreadsheet in", run from the README text: its
three commands as real processes in a fresh folder (a copy of config.toml and the
workflows, `torchflow init` done), on an office's own sheet (its columns in
Chinese and English, a date typed as a date) and staff list written here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import xlsxwriter

from tests.acceptance.test_readme import office_shell
from tests.conftest import ROOT, is_postgres

SECTION = "## Moving an office's spreadsheet in"


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line for line in block.splitlines() if line.strip()]


def office_files(folder: Path) -> None:
    from datetime import date

    (folder / "staff.csv").write_text(
        "账号,姓名,电子邮箱,角色\nwang.li,王立,wang.li@zone.example.cn,coordinator\n"
        "chen.jie,陈杰,,director\n", encoding="gb18030")
    book = xlsxwriter.Workbook(str(folder / "matters.xlsx"))
    sheet = book.add_worksheet("在谈项目")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["外部编号", "标题", "负责人", "状态", "进入状态日期", "企业名称",
                           "industry", "lead source", "计划投资额"])
    for r, (ref, title, state, entered) in enumerate(
            [("ZB-1", "氢燃料电池电堆项目", "negotiation", date(2026, 1, 12)),
             ("ZB-2", "Biomedicine pilot base", "lead", date(2026, 3, 2))], start=1):
        sheet.write_row(r, 0, [ref, title, "wang.li", state])
        sheet.write_datetime(r, 4, entered, day)
        sheet.write_row(r, 5, ["清能动力", "new energy", "torch center"])
        sheet.write_number(r, 8, 120000)
    book.close()


def test_the_section_shows_three_commands() -> None:
    assert len(commands()) == 3
    assert all(c.startswith("torchflow ") for c in commands())


@pytest.mark.skipif(is_postgres(), reason="the README uses the SQLite default of config.toml")
def test_the_three_commands_move_a_sheet_in_as_written(tmp_path: Path) -> None:
    run = office_shell(tmp_path)

    run("torchflow init")
    office_files(tmp_path)
    people, dry, imported = (run(c) for c in commands())
    # The README's config.toml: the office speaks Chinese.
    assert "新增 2 人，更新 0 人，0 人无变化" in people
    assert "将新建 2 件，将更新 0 件，0 件无变化（试运行" in dry
    assert "新建 2 件，更新 0 件，0 件无变化" in imported
    listed = run("torchflow --json case list")
    assert '"state": "negotiation"' in listed and '"state": "lead"' in listed
    assert "新建 0 件，更新 0 件，2 件无变化" in run(commands()[2])
