"""An office's own ledger and staff list, as a Chinese office keeps them, imported
without editing the sheet: a merged title row and a 填报单位 line above a two-row
header, units in brackets, amounts with separators and in 亿, stages, choices and
owners in Chinese, 登记日期 and 备注, a 合计 row; a GBK CSV of the same; a staff list
with 邮箱, 登录名, 科室 and Chinese role names. On the test database, embedded and
through a server."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
import xlsxwriter

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client

UPPER = ["序号", "项目名称", "企业信息", "", "线索来源", "计划投资(万元)", "当前阶段", "负责人",
         "登记日期", "进入状态日期", "备注", "牵头领导"]
LOWER = ["", "", "企业名称", "所属产业", "", "", "", "", "", "", "", ""]
ROWS = [
    ["1", "氢燃料电池电堆项目", "清能动力", "新能源", "以商引商", "120,000", "在谈", "Wang Li",
     "2025/11/3", "2026年1月12日", "已洽谈两次，待考察", "陈局"],
    ["2", "生物医药中试基地", "康泰生物", "生物医药", "火炬中心", "3.5亿", "线索", "Zhao Min",
     "2026.2.10", "", "", "陈局"],
    ["3", "卫星零部件项目", "星河航天", "航空航天", "主动来访", "8000", "已签约", "wang.li",
     "2025-06-01", "2025-12-30", "", ""],
]
FLAT = [*UPPER[:2], "企业名称", "所属产业", *UPPER[4:]]  # a one-row header
TOTALS = ["合计", "", "", "", "", "163,000", "", "", "", "", "", ""]


def office_xlsx(path: Path, rows: list[list[str]] = ROWS) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("项目台账")
    title = book.add_format({"bold": True, "align": "center"})
    sheet.merge_range(0, 0, 0, len(UPPER) - 1, "2026年高新区招商引资项目台账", title)
    sheet.write_row(1, 0, ["填报单位：高新区招商局", "", "", "", "", "", "", "", "",
                           "填报日期：2026年3月4日"])
    sheet.merge_range(2, 2, 2, 3, "企业信息")
    for col, text in enumerate(UPPER):
        if col not in (2, 3):
            sheet.write_string(2, col, text)
    sheet.write_row(3, 0, LOWER)
    day = book.add_format({"num_format": "yyyy/m/d"})
    for r, row in enumerate(rows, start=4):
        for c, value in enumerate(row):
            if r == 6 and c == 5:
                sheet.write_number(r, c, float(value))  # a number typed as a number
            elif r == 6 and c == 9:
                sheet.write_datetime(r, c, date.fromisoformat(value), day)
            elif value:
                sheet.write_string(r, c, value)
    sheet.write_row(4 + len(rows), 0, TOTALS)
    book.close()
    return path


def office_csv(path: Path) -> Path:
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["2026年高新区招商引资项目台账"])
        out.writerow(FLAT)
        out.writerows(ROWS)
        out.writerow(TOTALS)
    return path


def by_ref(cli: Cli) -> dict[str, dict[str, object]]:
    items = cli.json("case", "list", "--workflow", "project_introduction")["items"]
    return {str(c["title"]): c for c in items}


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_the_office_ledger_goes_in_after_one_dry_run_unedited(
        cli: Cli, tmp_path: Path, kind: str) -> None:
    path = (office_xlsx if kind == "xlsx" else office_csv)(tmp_path / f"台账.{kind}")
    refused = cli.refused("import", "cases", "project_introduction", path, as_="chen.jie")
    assert "'牵头领导' name nothing in 'project_introduction'" in refused
    assert "--ignore-column NAME" in refused
    args = ("import", "cases", "项目引进", path, "--ignore-column", "牵头领导")
    dry = cli.ok(*args, "--dry-run", as_="chen.jie").out
    assert "3 would be created" in dry and "dry run" in dry
    assert "columns skipped: 牵头领导" in dry
    assert f"totals row(s) {8 if kind == 'xlsx' else 6} read past (合计)" in dry
    assert by_ref(cli) == {}
    out = cli.ok(*args, as_="chen.jie").out
    assert "3 created, 0 updated, 0 unchanged" in out
    cases = by_ref(cli)
    hydrogen, bio, sat = (cases[t] for t in ("氢燃料电池电堆项目", "生物医药中试基地",
                                             "卫星零部件项目"))
    assert (hydrogen["state"], bio["state"], sat["state"]) == ("negotiation", "lead", "signed")
    assert (hydrogen["owner"], bio["owner"], sat["owner"]) == ("wang.li", "zhao.min", "wang.li")
    assert str(hydrogen["since"]).startswith("2026-01-12T")
    assert str(sat["since"]).startswith("2025-12-30T")
    shown = cli.json("case", "show", str(hydrogen["key"]))
    assert shown["fields"]["planned_investment"] == 120000
    assert shown["fields"]["lead_source"] == "business association"
    assert shown["external_ref"] == "1"
    assert str(shown["opened_at"]).startswith("2025-11-03T")
    assert cli.json("case", "show", str(bio["key"]))["fields"]["planned_investment"] == 35000
    history = cli.json("case", "history", str(hydrogen["key"]))["events"]
    assert history[0]["data"]["note"] == "已洽谈两次，待考察"
    assert cli.json("audit", "verify")["ok"] is True
    again = cli.ok(*args, as_="chen.jie").out
    assert "0 created, 0 updated, 3 unchanged" in again


def test_a_matter_is_found_by_the_offices_number_a_text_and_a_field(
        cli: Cli, tmp_path: Path) -> None:
    path = office_xlsx(tmp_path / "台账.xlsx")
    cli.ok("import", "cases", "project_introduction", path, "--ignore-unknown", as_="chen.jie")
    cli.open_pi("Hydrogen 1 plant", fields=(  # opened here: no reference
        "enterprise=Bright Co.", "industry=new energy", "lead_source=torch center",
        "planned_investment=120000"))

    def found(*args: str) -> list[str]:
        return [str(c["title"]) for c in cli.json("case", "list", *args)["items"]]

    assert found("--search", "清能") == ["氢燃料电池电堆项目"]  # a text field
    assert found("--search", "中试") == ["生物医药中试基地"]  # the title
    assert found("--search", "3") == ["卫星零部件项目"]  # the reference (and no key has a 3)
    assert found("--field", "所属产业=新能源") == ["氢燃料电池电堆项目", "Hydrogen 1 plant"]
    assert found("--field", "planned_investment=35000") == ["生物医药中试基地"]
    assert found("--search", "项目", "--field", "lead_source=火炬中心") == []
    assert found("--search", "%") == []  # a wildcard is a character
    items = cli.json("case", "list", "--search", "氢")["items"]
    assert [c["ref"] for c in items] == ["1"]
    text = cli.ok("case", "list", "--search", "卫星").out
    assert "REF" in text and " 3 " in text
    key = str(items[0]["key"])
    assert "Reference:" in cli.ok("case", "show", key).out
    assert "'project_introduction' has no field 'budget'" in cli.refused(
        "case", "list", "--workflow", "project_introduction", "--field", "budget=1")


def test_the_header_row_may_be_given(cli: Cli, tmp_path: Path) -> None:
    path = office_xlsx(tmp_path / "台账.xlsx")
    out = cli.ok("import", "cases", "project_introduction", path, "--header-row", "4",
                 "--ignore-unknown", "--dry-run", as_="chen.jie").out
    assert "3 would be created" in out
    assert "the column titles are on row 4" in out


def test_bad_values_are_summarised_per_column_and_value(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    rows = [[str(n), f"项目{n}", "E", "新能源", "以商引商会", "约3000" if n == 3 else "100", "在谈",
             "", "", "", "", ""] for n in range(1, 15)]
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(FLAT)
        out.writerows(rows)
    run = cli.run("import", "cases", "project_introduction", path, "--ignore-unknown",
                  as_="chen.jie")
    assert run.code == 1
    lines = run.err.splitlines()
    assert len(lines) == 2, run.err
    assert lines[0].startswith("error: column '线索来源', 14 rows (2, 3, 4, 5, 6, ... (9 more)):")
    assert lines[0].endswith("got '以商引商会'; did you mean '商协会'?")
    assert lines[1].startswith("error: row 4, column '计划投资(万元)': '约3000' is an estimate")
    assert by_ref(cli) == {}


STAFF = [
    ["2026年招商局工作人员名单"],
    ["序号", "姓名", "登录名", "邮箱", "科室", "岗位"],
    ["1", "李娜", "li.na", "li.na@zone.example.cn", "招商一科", "招商专员"],
    ["2", "周强", "zhou.qiang", "zhou.qiang@zone.example.cn", "招商二科", "局长、招商专员"],
]


def staff_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="gbk", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_the_staff_list_as_offices_keep_it(cli: Cli, tmp_path: Path) -> None:
    path = staff_csv(tmp_path / "名单.csv", STAFF)
    out = cli.ok("import", "people", path).out
    assert "2 added, 0 updated, 0 unchanged" in out
    assert "columns not kept (people have no such field): 序号, 科室" in out
    li = cli.json("person", "show", "li.na")
    assert (li["name"], li["email"], li["roles"]) == ("李娜", "li.na@zone.example.cn",
                                                      ["coordinator"])
    assert li["logins"] == ["li.na"]
    assert cli.json("person", "show", "zhou.qiang")["roles"] == ["coordinator", "director"]
    assert "0 added, 0 updated, 2 unchanged" in cli.ok("import", "people", path).out


def test_a_staff_column_nothing_uses_is_refused_unless_skipped(cli: Cli, tmp_path: Path) -> None:
    rows = [[*r, "爱好" if i == 1 else "羽毛球"] if i else r for i, r in enumerate(STAFF)]
    path = staff_csv(tmp_path / "名单.csv", rows)
    line = cli.refused("import", "people", path)
    assert "'爱好' name nothing a staff list holds" in line
    assert "2 added" in cli.ok("import", "people", path, "--ignore-column", "爱好").out
    taken = [["账号", "姓名", "登录名", "角色"], ["wang.wu", "王五", "li.na", "专员"]]
    line = cli.refused("import", "people", staff_csv(tmp_path / "b.csv", taken))
    assert "login 'li.na' is li.na's already" in line


def monthly_csv(path: Path, stage: str, extra: list[str]) -> Path:
    """The next month's ledger: the hydrogen project's stage changed."""
    header = [*FLAT, "企业联系人", "意向落地园区", "预计新增就业", "签约日期"]
    rows = [[*ROWS[0][:6], stage, *ROWS[0][7:], *extra],
            [*ROWS[1], "", "", "", ""], [*ROWS[2], "", "", "", ""]]
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def test_a_changed_stage_moves_the_case_along_the_workflow_or_refuses_the_row(
        cli: Cli, tmp_path: Path) -> None:
    cli.ok("import", "cases", "project_introduction", office_xlsx(tmp_path / "台账.xlsx"),
           "--ignore-unknown", as_="chen.jie")
    key = str(by_ref(cli)["氢燃料电池电堆项目"]["key"])
    bare = monthly_csv(tmp_path / "三月.csv", "已签约", ["", "", "", ""])
    line = cli.refused("import", "cases", "project_introduction", bare, "--ignore-unknown",
                       as_="chen.jie")
    assert line.startswith("error: row 2, column '当前阶段': cannot move from negotiation to "
                           "signed: 'sign' needs contact_person, target_park, expected_jobs, "
                           "signed_date first"), line
    full = monthly_csv(tmp_path / "四月.csv", "已签约",
                       ["李总 13800000000", "高新区氢能产业园", "300", "2026年3月2日"])
    line = cli.refused("import", "cases", "project_introduction", full, "--ignore-unknown",
                       as_="wang.li")
    assert "'sign' may be done only by a person with role director" in line
    dry = cli.ok("import", "cases", "project_introduction", full, "--ignore-unknown",
                 "--dry-run", as_="chen.jie").out
    assert "0 would be created, 1 would be updated, 2 unchanged" in dry
    assert f"1 ({key}): negotiation -> signed by inspect, sign" in dry
    assert cli.json("case", "show", key)["state"] == "negotiation"
    cli.ok("import", "cases", "project_introduction", full, "--ignore-unknown", as_="chen.jie")
    shown = cli.json("case", "show", key)
    assert shown["state"] == "signed" and shown["fields"]["signed_date"] == "2026-03-02"
    events = cli.json("case", "history", key)["events"]
    moves = [e for e in events if e["kind"] == "advanced"]
    assert [(e["from"], e["to"]) for e in moves] == [("negotiation", "site_inspection"),
                                                   ("site_inspection", "signed")]
    assert all(e["data"]["note"] == "imported from 四月.csv row 2" for e in moves)
    assert cli.json("audit", "verify")["ok"] is True
    again = cli.ok("import", "cases", "project_introduction", full, "--ignore-unknown",
                   as_="chen.jie").out
    assert "0 created, 0 updated, 3 unchanged" in again
    back = monthly_csv(tmp_path / "五月.csv", "线索", ["", "", "", ""])
    assert "no transition of 'project_introduction' leads from signed to lead" in cli.refused(
        "import", "cases", "project_introduction", back, "--ignore-unknown", as_="chen.jie")


def test_imported_matters_count_in_reports_at_their_real_dates(cli: Cli, tmp_path: Path) -> None:
    rows = [*ROWS, ["4", "储能电站", "蓝海储能", "新能源", "主动来访", "5000", "已签约", "wang.li",
                    "", "", "", ""]]  # signed, no date anywhere: imported, date unknown
    path = tmp_path / "台账.csv"
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(FLAT)
        out.writerows(rows)
    # The director moves the ledger in: its signed matters are the director's to record.
    cli.ok("import", "cases", "project_introduction", path, "--ignore-unknown", as_="chen.jie")

    def signed(period: str) -> list[tuple[str, int, float]]:
        [table] = [t for t in cli.json("report", "outcomes", "--period", period)["tables"]
                   if t["workflow"] == "project_introduction"]
        return [(r["period"], r["cases"], r["planned_investment"]) for r in table["rows"]
                if r["state"] == "signed"]

    undated = ("imported, date unknown · 导入，日期不详", 1, 5000.0)
    # entered 2025-12-30, as the sheet says; the undated one apart, in no period
    assert signed("2025") == [("2025Q4", 1, 8000.0), undated]
    assert signed("2026Q1") == [undated]  # none signed in the quarter of the import
    # Stage times from the real entries (the lead from its 登记日期, 2026-02-10), not
    # from the import; the undated signed matter has no stay to measure.
    [table] = cli.json("report", "stages", "--period", "2026Q1")["tables"]
    days = {r["code"]: (r["cases"], r["max"]) for r in table["rows"]
            if r["workflow_code"] == "project_introduction"}
    assert days == {"lead": (1, 12), "negotiation": (1, 33), "signed": (1, 41)}


def test_a_matter_imported_past_milestones_counts_at_each_ones_date(
        cli: Cli, tmp_path: Path) -> None:
    """A matter imported in production has been signed and started: it counts
    at its 签约日期 and 开工日期 (and in production at its 投产日期), and a
    milestone passed with no date as "imported, date unknown", never in the
    quarter of the import."""
    path = tmp_path / "台账.csv"
    path.write_text(
        "序号,项目名称,企业名称,所属产业,线索来源,计划投资(万元),当前阶段,签约日期,开工日期,"
        "投产日期\n"
        "1,氢能装备,青能氢能,新能源,商会,8000,已投产,2025-03-10,2025-06-20,2025-11-05\n"
        "2,储能电站,蓝海储能,新能源,商会,5000,已投产,,,\n"
        "3,光伏组件,晶科光伏,光伏,商会,3000,已开工,2025-08-01,,\n", encoding="utf-8")
    cli.ok("import", "cases", "project_introduction", path, as_="chen.jie")
    [table] = [t for t in cli.json("report", "outcomes", "--period", "2025")["tables"]
               if t["workflow"] == "project_introduction"]
    undated = "imported, date unknown · 导入，日期不详"
    assert [(r["period"], r["state"], r["cases"], r["planned_investment"])
            for r in table["rows"]] == [
        ("2025Q1", "signed", 1, 8000.0),
        ("2025Q2", "construction", 1, 8000.0),
        ("2025Q3", "signed", 1, 3000.0),
        ("2025Q4", "production", 1, 8000.0),
        (undated, "signed", 1, 5000.0),
        (undated, "construction", 2, 8000.0),
        (undated, "production", 1, 5000.0)]
    [now] = [t for t in cli.json("report", "outcomes", "--period", "2026Q1")["tables"]
             if t["workflow"] == "project_introduction"]
    assert [r["period"] for r in now["rows"]] == [undated] * 3  # none in the import's quarter
    history = cli.json("case", "history", "PI-2026-0001")["events"]
    assert history[0]["data"]["passed"] == {
        "signed": {"state_entered_at": "2025-03-10T01:00:00+00:00"},  # 09:00 Beijing
        "construction": {"state_entered_at": "2025-06-20T01:00:00+00:00"}}
