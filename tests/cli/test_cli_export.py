"""`torchflow export ...`: typed cells, local times, bilingual headers, one sheet
per workflow, and the round trip: an export imports again cleanly."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from tests.cli.conftest import Cli
from tests.cli.test_cli_import import ROWS, write_csv
from tests.conftest import is_postgres

pytestmark = pytest.mark.client


def sheet(path: Path, name: str) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()


def test_export_cases_typed_one_sheet_per_workflow(cli: Cli, tmp_path: Path) -> None:
    key = cli.open_pi()
    cli.ok("import", "cases", "project_introduction", write_csv(tmp_path / "m.csv", ROWS),
           as_="wang.li")
    out = tmp_path / "cases.xlsx"
    result = cli.json("export", "cases", out)
    assert result["rows"] == 4 and result["sheets"] == ["project_introduction"]
    rows = sheet(out, "project_introduction")
    header = rows[0]
    assert header[:2] == ["External reference · 外部编号", "Title · 标题"]
    assert "Case key · 案件编号" in header and "Opened at · 立案时间" in header
    first = dict(zip(header, rows[1], strict=True))
    assert first["External reference · 外部编号"] == key  # opened here: its key
    assert first["计划投资额"] == 120000  # the field's title, in the office's language
    assert first["Entered state on · 进入状态日期"] == date(2026, 3, 4)
    opened = first["Opened at · 立案时间"]
    assert isinstance(opened, datetime) and opened.hour == 9  # local, not UTC
    imported = dict(zip(header, rows[2], strict=True))
    assert imported["External reference · 外部编号"] == "ZB-001"
    assert imported["Entered state on · 进入状态日期"] == date(2026, 2, 2)


def test_an_export_reimports_cleanly(cli: Cli, tmp_path: Path) -> None:
    cli.open_pi()
    cli.ok("import", "cases", "project_introduction", write_csv(tmp_path / "m.csv", ROWS),
           as_="wang.li")
    for name in ("cases.xlsx", "cases.csv"):
        out = tmp_path / name
        cli.ok("export", "cases", out, "--workflow", "project_introduction")
        again = cli.json("import", "cases", "project_introduction", out, as_="wang.li")
        assert (again["created"], again["updated"], again["unchanged"], again["bad"]) == (
            0, 0, 4, 0), name
    assert cli.json("audit", "verify")["ok"] is True
    if is_postgres():
        return
    # Into another office's database: every case created, in its state, with its fields.
    fresh = {"TORCHFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    cli.ok("init", env=fresh)
    cli.ok("import", "people", staff_file(tmp_path), env=fresh)
    # The imported people have no logins: the admin (this login, from init) enters for them.
    created = cli.json("--as", "wang.li", "import", "cases", "project_introduction",
                       tmp_path / "cases.xlsx", env=fresh)
    assert (created["created"], created["bad"]) == (4, 0)
    theirs = {c["title"]: c for c in cli.json("case", "list", env=fresh)["items"]}
    ours = {c["title"]: c for c in cli.json("case", "list")["items"]}
    assert {t: (c["state"], c["owner"]) for t, c in theirs.items()} == {
        t: (c["state"], c["owner"]) for t, c in ours.items()}
    for title, case in ours.items():
        mine = cli.json("case", "show", case["key"])["fields"]
        assert cli.json("case", "show", theirs[title]["key"], env=fresh)["fields"] == mine
    assert cli.json("audit", "verify", env=fresh)["ok"] is True


def staff_file(tmp_path: Path) -> Path:
    path = tmp_path / "staff.csv"
    path.write_text("handle,name\nwang.li,Wang Li\nzhao.min,Zhao Min\n", encoding="utf-8")
    return path


def test_export_tasks_history_notices(cli: Cli, tmp_path: Path) -> None:
    key = cli.open_pi()
    cli.to_negotiation(key)
    tasks = tmp_path / "tasks.xlsx"
    assert cli.json("export", "tasks", tasks, "--status", "open")["rows"] == 3
    rows = sheet(tasks, "tasks")
    assert rows[0][6] == "Due on · 到期日" and isinstance(rows[1][6], date)
    history = tmp_path / "history.csv"
    assert cli.json("export", "history", history, "--case", key)["rows"] == 3
    lines = list(csv.reader(history.open(encoding="utf-8-sig")))
    assert [line[2] for line in lines[1:]] == ["opened", "advanced", "advanced"]
    notices = tmp_path / "notices.xlsx"
    assert cli.json("export", "notices", notices)["rows"] == 0
    assert sheet(notices, "notices")[0][0] == "Id · 编号"


def test_export_refusals_are_one_line(cli: Cli, tmp_path: Path) -> None:
    assert "neither .xlsx nor .csv" in cli.refused("export", "cases", tmp_path / "x.txt")
    assert "there is no folder" in cli.refused("export", "cases", tmp_path / "no" / "x.csv")
    assert "there is no workflow 'nope'" in cli.refused(
        "export", "cases", tmp_path / "x.csv", "--workflow", "nope")
    assert not (tmp_path / "x.csv").exists()
