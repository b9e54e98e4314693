"""`torchflow import template|cases|people` on real files: XLSX written by
xlsxwriter, CSV in UTF-8, UTF-8 with BOM and GB18030, a held-back file with every
kind of bad row; on the test database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client

HEADER = ["External reference · 外部编号", "标题", "owner", "State · 状态",
          "进入状态日期", "Enterprise · 企业名称", "industry", "线索来源",
          "Planned investment · 计划投资额", "Expected jobs"]
ROWS = [
    ["ZB-001", "氢燃料电池电堆项目", "wang.li", "negotiation", "2026-02-02",
     "清能动力", "new energy", "torch center", "120000", "300"],
    ["ZB-002", "Biomedicine pilot base", "zhao.min", "线索", "2026/3/2",
     "Kangtai Bio", "biomedicine", "referral", "8000.5", ""],
    ["ZB-003", "Satellite parts", "", "", "",
     "星河航天", "aerospace", "walk-in", "50000", ""],
]


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8",
              header: list[str] = HEADER) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[Any]], header: list[str] = HEADER,
               sheet: str = "matters") -> Path:
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("cover")
    ws.write_string(0, 0, "the office's notes")
    ws = book.add_worksheet(sheet)
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, header)
    from datetime import date

    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if c == 4 and value and "-" in value:
                ws.write_datetime(r, c, date.fromisoformat(value), day)
            elif c in (8, 9) and value:
                ws.write_number(r, c, float(value))
            elif value:
                ws.write_string(r, c, value)
    book.close()
    return path


def cases_of(cli: Cli) -> dict[str, dict[str, Any]]:
    items = cli.json("case", "list", "--workflow", "project_introduction")["items"]
    return {c["title"]: c for c in items}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_each_encoding_imports_each_row_in_its_state(
        cli: Cli, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "matters.csv", ROWS, encoding)
    out = cli.ok("import", "cases", "project_introduction", path, as_="wang.li").out
    assert "3 created, 0 updated, 0 unchanged" in out
    cases = cases_of(cli)
    assert cases["氢燃料电池电堆项目"]["state"] == "negotiation"
    assert cases["氢燃料电池电堆项目"]["since"].startswith("2026-02-02T")
    assert cases["Biomedicine pilot base"]["state"] == "lead"
    assert cases["Biomedicine pilot base"]["owner"] == "zhao.min"
    assert cases["Satellite parts"]["owner"] == "wang.li"
    key = cases["氢燃料电池电堆项目"]["key"]
    shown = cli.json("case", "show", key)
    assert shown["fields"]["enterprise"] == "清能动力"
    assert shown["fields"]["planned_investment"] == 120000
    # The visit planned from the day it entered negotiation (its window of 2-4 weeks
    # after 02-02 is past: overdue); the contact at the slot in progress today.
    rules = {t["rule"]: t for t in shown["tasks"]}
    assert set(rules) == {"negotiation.contact", "negotiation.visit", "negotiation.deadline"}
    assert rules["negotiation.visit"]["window"] == ["2026-02-16", "2026-03-02"]
    assert rules["negotiation.contact"]["due_on"] == "2026-03-04"
    [event] = shown["history"]
    assert event["kind"] == "imported"
    assert event["data"]["source"] == "imported from matters.csv row 2"
    assert cli.json("audit", "verify")["ok"] is True


def test_the_same_file_again_changes_nothing_and_a_changed_row_updates(
        cli: Cli, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "matters.xlsx", ROWS)
    first = cli.json("import", "cases", "project_introduction", path, "--sheet", "matters",
                     as_="wang.li")
    assert (first["created"], first["updated"], first["unchanged"]) == (3, 0, 0)
    again = cli.json("import", "cases", "project_introduction", path, "--sheet", "matters",
                     as_="wang.li")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    changed = [list(r) for r in ROWS]
    changed[1][8] = "9000"
    changed[1][1] = "Biomedicine pilot base II"
    path2 = write_xlsx(tmp_path / "matters2.xlsx", changed)
    # The changed row is zhao.min's case: hers to change by a sheet as by hand
    # (issue 14: a row naming a colleague's case is refused to wang.li).
    assert "row 3" in cli.refused("import", "cases", "project_introduction", path2, "--sheet",
                                  "matters", "--dry-run", as_="wang.li")
    dry = cli.json("import", "cases", "project_introduction", path2, "--sheet", "matters",
                   "--dry-run", as_="zhao.min")
    assert (dry["created"], dry["updated"], dry["unchanged"]) == (0, 1, 2)
    assert "Biomedicine pilot base II" not in cases_of(cli)
    third = cli.json("import", "cases", "project_introduction", path2, "--sheet", "matters",
                     as_="zhao.min")
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 2)
    cases = cases_of(cli)
    assert len(cases) == 3
    key = cases["Biomedicine pilot base II"]["key"]
    history = cli.json("case", "history", key)["events"]
    assert [e["kind"] for e in history] == ["imported", "imported"]
    assert history[1]["data"]["fields"] == {"planned_investment": 9000}
    assert history[1]["data"]["was"] == {"planned_investment": 8000.5}
    assert history[1]["data"]["source"] == "imported from matters2.xlsx row 3"
    assert cli.json("audit", "verify")["ok"] is True


def test_dry_run_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "matters.csv", ROWS)
    out = cli.ok("import", "cases", "project_introduction", path, "--dry-run", as_="wang.li").out
    assert "3 would be created" in out and "dry run" in out
    assert cases_of(cli) == {}


BAD = [
    ["", "no reference", "", "", "", "E", "new energy", "referral", "1", ""],
    ["B-2", "", "", "", "", "E", "new energy", "referral", "1", ""],
    ["B-3", "bad owner", "nobody", "", "", "E", "new energy", "referral", "1", ""],
    ["B-4", "bad state", "", "signed_maybe", "", "E", "new energy", "referral", "1", ""],
    ["B-5", "future entry", "", "", "2031-01-01", "E", "new energy", "referral", "1", ""],
    ["B-6", "bad choice", "", "", "", "E", "steel", "referral", "1", ""],
    ["B-7", "bad number", "", "", "", "E", "new energy", "referral", "约1000", ""],
    ["B-8", "missing required", "", "", "", "", "new energy", "referral", "1", ""],
    ["B-9", "control char", "", "", "", "E\x1b[31m", "new energy", "referral", "1", ""],
    ["B-9", "duplicate", "", "", "", "E", "new energy", "referral", "1", ""],
    ["G-1", "the good one", "", "", "", "E", "new energy", "referral", "1", ""],
]


def test_every_bad_row_is_reported_at_once_and_nothing_imported(
        cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", BAD)
    run = cli.run("import", "cases", "project_introduction", path, as_="wang.li")
    assert run.code == 1 and run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 10, run.err
    assert all(line.startswith("error: row ") for line in lines)
    assert "row 2, column 'External reference · 外部编号'" in lines[0]
    assert "row 3, column '标题'" in lines[1]
    assert "no active person 'nobody'" in lines[2]
    assert "'signed_maybe' is not a state" in lines[3]
    assert "row 6, column '进入状态日期'" in lines[4]
    assert "must be one of" in lines[5]
    assert "'约1000' is an estimate; write one figure (万元)" in lines[6]
    assert "'enterprise' is required" in lines[7]
    assert "control character" in lines[8]
    assert "is on row 10 already" in lines[9]
    assert cases_of(cli) == {}


def test_skip_bad_imports_the_rest_and_writes_the_bad_rows(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", BAD)
    bad = tmp_path / "to-fix.xlsx"
    result = cli.json("import", "cases", "project_introduction", path, "--skip-bad", bad,
                      as_="wang.li")
    assert (result["created"], result["bad"]) == (1, 10)
    assert set(cases_of(cli)) == {"the good one"}
    rows = CalamineWorkbook.from_path(str(bad)).get_sheet_by_index(0).to_python()
    assert rows[0][-1] == "error · 错误"
    assert len(rows) == 11
    assert "no active person" in rows[3][-1]
    # The file to fix imports again as it is: the same rows refused, its error
    # column read past; fixed, they go in.
    again = cli.run("import", "cases", "project_introduction", bad, as_="wang.li")
    assert again.code == 1 and len(again.err.splitlines()) == 10, again.err
    assert "names no column" not in again.err
    fixed_rows = [[str(c) for c in r] for r in rows[1:]]
    for n, (column, value) in enumerate([(0, "B-1"), (1, "a title"), (2, ""), (3, ""), (4, ""),
                                         (6, "biomedicine"), (8, "1000"), (5, "E"), (5, "E"),
                                         (0, "B-10")]):
        fixed_rows[n][column] = value  # each row's mistake put right, in the file's order
    fixed = write_csv(tmp_path / "fixed.csv", fixed_rows, header=[str(c) for c in rows[0]])
    done = cli.json("import", "cases", "project_introduction", fixed, as_="wang.li")
    assert (done["created"], done["bad"]) == (10, 0)
    assert len(cases_of(cli)) == 11


def test_template_round_trips_its_hint_row(cli: Cli, tmp_path: Path) -> None:
    for name in ("t.xlsx", "t.csv"):
        out = tmp_path / name
        cli.ok("import", "template", "project_introduction", out)
        result = cli.json("import", "cases", "project_introduction", out, "--dry-run",
                          as_="wang.li")
        assert result["created"] == 0 and result["bad"] == 0
    rows = CalamineWorkbook.from_path(str(tmp_path / "t.xlsx")).get_sheet_by_index(0)\
        .to_python()
    assert rows[0][:2] == ["External reference · 外部编号", "Title · 标题"]
    assert "所属产业" in rows[0]
    hint = rows[1][rows[0].index("所属产业")]
    assert hint.startswith("[choice, required") and "new energy" in hint


def test_unknown_column_and_missing_file_are_one_line(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "odd.csv", ROWS, header=[*HEADER[:-1], "Expected jobz"])
    line = cli.refused("import", "cases", "project_introduction", path, as_="wang.li")
    assert ("'Expected jobz' (did you mean 'Expected jobs'?) name nothing in "
            "'project_introduction'; skip them with --ignore-column NAME") in line
    line = cli.refused("import", "cases", "project_introduction", tmp_path / "none.csv",
                       as_="wang.li")
    assert "there is no file" in line
    line = cli.refused("import", "cases", "project_introduction",
                       write_xlsx(tmp_path / "m.xlsx", ROWS), "--sheet", "nope", as_="wang.li")
    assert "has no sheet 'nope'; sheets: cover, matters" in line


def test_import_people_is_idempotent_by_handle(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_text("账号,姓名,e-mail,roles\nli.na,李娜,li.na@zone.example.cn,"
                    "\"coordinator,director\"\nwang.li,Wang Li,wang.li@zone.example.cn,"
                    "coordinator\n", encoding="gb18030")
    assert cli.json("import", "people", path) == {
        "file": str(path), "dry_run": False, "added": 1, "updated": 0, "unchanged": 1,
        "unused_columns": [], "skipped_columns": [], "logins": 0}
    assert cli.json("import", "people", path)["unchanged"] == 2
    people = {p["handle"]: p for p in cli.json("person", "list")["items"]}
    assert people["li.na"]["roles"] == ["coordinator", "director"]
    path.write_text("handle,name\nBad Handle,x\n", encoding="utf-8")
    assert "row 2: handle 'Bad Handle' is not valid" in cli.refused("import", "people", path)
    path.write_text("handle,name\nsystem,The Service\n", encoding="utf-8")
    assert "reserved for the scheduler service" in cli.refused("import", "people", path)


def test_import_people_reads_the_office_s_role_names(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_text("账号,姓名,roles\nli.na,李娜,招商专员、局长\nhe.yu,何宇,专家\n",
                    encoding="gb18030")
    assert cli.json("import", "people", path)["added"] == 2
    people = {p["handle"]: p for p in cli.json("person", "list")["items"]}
    assert people["li.na"]["roles"] == ["coordinator", "director"]
    assert people["he.yu"]["roles"] == ["expert"]


def test_import_people_refuses_a_channel_left_without_its_address(cli: Cli,
                                                                   tmp_path: Path) -> None:
    cli.ok("person", "add", "he.yu", "--name", "He Yu", "--email", "he.yu@zone.example.cn",
           "--channel", "smtp")
    path = tmp_path / "staff.csv"
    path.write_text("handle,name,e-mail\nli.na,Li Na,li.na@zone.example.cn\nhe.yu,He Yu,\n",
                    encoding="utf-8")
    line = cli.refused("import", "people", path)
    assert line.startswith("error: row 3: he.yu: the smtp channel needs an e-mail address")
    handles = {p["handle"] for p in cli.json("person", "list")["items"]}
    assert "li.na" not in handles  # nothing written while a row is bad


def test_a_keyed_history_stays_verifiable_after_a_bulk_import(cli: Cli, tmp_path: Path) -> None:
    keyed = {"TORCHFLOW_AUDIT_KEY": "k" * 32}
    cli.open_pi(as_="wang.li")  # one event before, written one at a time, unkeyed
    cli.ok("case", "note", cli.open_pi(), "the first keyed event", as_="wang.li", env=keyed)
    rows = [[f"K-{i}", f"matter {i}", "", "negotiation", "2026-02-02", "E", "new energy",
             "referral", str(i + 1), ""] for i in range(2500)]  # three chunks
    result = cli.json("import", "cases", "project_introduction",
                      write_csv(tmp_path / "many.csv", rows), as_="wang.li", env=keyed)
    assert result["created"] == 2500
    verified = cli.json("audit", "verify", env=keyed)
    assert verified["ok"] is True, verified
    assert "not the key" in cli.refused("case", "note", "PI-2026-0001", "x", as_="wang.li",
                                        env={"TORCHFLOW_AUDIT_KEY": "z" * 32})


def test_an_old_matter_counts_no_contacts_missed_before_it_was_imported(
        cli: Cli, tmp_path: Path) -> None:
    """Entered negotiation on Monday 2025-11-03, four months before the import
    (Wednesday 2026-03-04 09:30): its contacts before torchflow are not missed ones."""
    row = ["OLD-1", "An old matter", "wang.li", "negotiation", "2025-11-03", "E",
           "new energy", "referral", "1", ""]
    cli.ok("import", "cases", "project_introduction",
           write_csv(tmp_path / "old.csv", [row]), as_="wang.li")
    key = cases_of(cli)["An old matter"]["key"]
    cli.ok("scheduler", "tick")
    out = tmp_path / "tasks.csv"
    cli.ok("export", "tasks", out)
    with out.open(encoding="utf-8-sig", newline="") as handle:
        tasks = list(csv.DictReader(handle))
    assert [t for t in tasks if t["Status · 状态"] == "missed"] == []
    history = cli.json("case", "history", key)["events"]
    assert [e["kind"] for e in history] == ["imported"]
    opened = {t["rule"]: t for t in cli.json("case", "show", key)["tasks"]}
    # Every 2 working days from 2025-11-03: 2025-11-05 is the first slot, and 80
    # working days later (New Year and the Spring Festival off, their make-up
    # Sunday 01-04 and Saturdays 02-14 and 02-28 worked) 2026-03-04 is slot 41.
    assert opened["negotiation.contact"]["due_on"] == "2026-03-04"
    # The deadline keeps its date: 60 working days after 2025-11-03 is 2026-01-27
    # (42 in Nov-Dec, Jan 1-2 off, Sunday Jan 4 worked: 43, ... Tuesday Jan 27: 60).
    assert opened["negotiation.deadline"]["due_on"] == "2026-01-27"
    overdue = cli.json("task", "list", "--overdue")["items"]
    assert {t["rule"] for t in overdue} == {"negotiation.deadline", "negotiation.visit"}
    # No storm: the catch-up sends each task's latest stage once (and the
    # deadline's escalation), not every reminder since November.
    notices = cli.json("notice", "list")["items"]
    assert sorted(n["kind"] for n in notices) == ["digest", "due", "escalation", "overdue",
                                                   "overdue"]
    cli.ok("scheduler", "tick")
    assert len(cli.json("notice", "list")["items"]) == len(notices)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from torchflow.cli import sheets as sheet_commands

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with sheet_commands._progress("importing") as start:
        assert start is not None
        tick = start(2500)
        tick(1000)
        tick(1500)
    assert "importing" in terminal.getvalue() and "100%" in terminal.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with sheet_commands._progress("importing") as start:
        assert start is None
