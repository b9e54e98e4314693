"""`torchflow report ...` from the command line: text, JSON, CSV and XLSX, and
user errors as one line. The figures themselves: tests/integration/test_reports.py."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def test_every_report_prints_text_and_json(cli: Cli) -> None:
    cli.open_pi()
    for name in ("outcomes", "pipeline", "stages", "compliance", "workload"):
        out = cli.ok("report", name, "--period", "2026Q1").out
        assert "2026-01-01 .. 2026-03-31" in out
        doc = cli.json("report", name, "--period", "2026Q1")
        assert doc["report"] == name and doc["tables"]
    states = cli.json("report", "pipeline", "--from", "2026-03-01", "--to", "2026-03-31")
    [lead] = [r for r in states["tables"][0]["rows"] if r["code"] == "lead"]
    assert (lead["open"], lead["entered"], lead["left"]) == (1, 1, 0)


def test_csv_and_xlsx_are_written(cli: Cli, tmp_path: Path) -> None:
    cli.open_pi()
    path, book = tmp_path / "p.csv", tmp_path / "p.xlsx"
    cli.ok("report", "pipeline", "--period", "2026-03", "--csv", path, "--xlsx", book)
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["States · 各环节"]
    assert rows[1][:3] == ["Workflow · 业务", "State · 环节", "Open now · 在办"]
    assert rows[2][1:5] == ["线索", "1", "1", "0"]
    with zipfile.ZipFile(book) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert 'state="frozen"' in sheet and 'ySplit="2"' in sheet
    # Counts are numbers (no t="s"), widths set per column.
    assert re.search(r'<c r="C3"[^>]*><v>1</v></c>', sheet), sheet
    assert "<cols>" in sheet


def test_user_errors_are_one_line(cli: Cli) -> None:
    assert "bad period" in cli.refused("report", "outcomes", "--period", "2026Q5")
    assert "not both" in cli.refused("report", "stages", "--period", "2026",
                                     "--from", "2026-01-01")
    assert "before --from" in cli.refused("report", "pipeline", "--from", "2026-03-02",
                                          "--to", "2026-03-01")
    assert "no workflow named" in cli.refused("report", "workload", "--workflow", "nope")
    assert "no person" in cli.refused("report", "compliance", "--owner", "nobody")
    cli.usage("report", "stages", "--cases", "x")


def test_html_report_is_written(cli: Cli, tmp_path: Path) -> None:
    cli.open_pi()
    out = tmp_path / "r.html"
    assert cli.json("report", "html", out, "--period", "2026Q1") == {"written": str(out)}
    text = out.read_text(encoding="utf-8")
    # Five reports and the enterprise requests' (their workflow is among those read).
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") == 6
    assert "cannot write" in cli.refused("report", "html", tmp_path / "no" / "r.html")


@pytest.mark.embedded  # the server's config, environment or process
def test_without_the_extra_one_line_says_what_to_install(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xlsxwriter", None)
    line = cli.refused("report", "workload", "--xlsx", tmp_path / "w.xlsx")
    assert line == "Error: xlsxwriter is not installed; pip install 'torchflow[reports]'"


def test_the_request_report(cli: Cli, tmp_path: Path) -> None:
    """One request walked through the CLI in March 2026: assigned Mon 2, signed
    Wed 4 (due Tue 3: late, 2 working days), answered Fri 6 (2 days, due Fri 13),
    called back 满意 and closed Mon 9."""
    cli.ok("enterprise", "add", "无锡清能动力有限公司", "--code", "914403001922038216",
           as_="wang.li")
    key = cli.json("request", "open", "914403001922038216", "扩产需新增用地30亩", "--category",
                   "land", as_="wang.li", now="2026-03-02T10:00:00+08:00")["key"]
    for who, when, step in (
            ("wang.li", "03-02", ("assign", "--field", "lead_unit=市自然资源和规划局",
                                  "--field", "handler=sun.hao")),
            ("sun.hao", "03-04", ("sign",)),
            ("sun.hao", "03-06", ("answer", "--field", "answer=已纳入供地计划")),
            ("wang.li", "03-09", ("call_back", "--field", "satisfaction=满意")),
            ("wang.li", "03-09", ("close",))):
        cli.ok("case", "advance", key, *step, as_=who, now=f"2026-{when}T10:00:00+08:00")
    april = "2026-04-01T10:00:00+08:00"
    doc = cli.json("report", "requests", "--period", "2026-03", as_="liu.yang", now=april)
    assert doc["report"] == "requests"
    head = {r["code"]: (r["numerator"], r["denominator"]) for r in doc["tables"][0]["rows"]}
    assert head == {"sign_on_time": (0, 1), "closed_on_time": (1, 1), "resolution": (1, 1),
                    "satisfaction": (1, 1), "fully_satisfied": (1, 1), "sign_median": (2, 1),
                    "handle_median": (2, 1)}
    [unit] = doc["tables"][1]["rows"]
    assert (unit["group"], unit["sign_on_time"], unit["closed_on_time"]) == (
        "市自然资源和规划局", "0/1 (0.0%)", "1/1 (100.0%)")

    path, book = tmp_path / "rq.csv", tmp_path / "rq.xlsx"
    out = cli.ok("report", "requests", "--period", "2026-03", "--csv", path, "--xlsx", book,
                 as_="liu.yang", now=april).out
    assert "Main figures" in out and "On-time sign-for rate" in out
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["Main figures"]
    assert rows[1] == ["Indicator", "Numerator (median)", "Denominator (requests)", "Rate"]
    assert rows[2] == ["On-time sign-for rate", "0", "1", "0.0%"]
    assert zipfile.is_zipfile(book)
    assert "bad period" in cli.refused("report", "requests", "--period", "2026Q5",
                                       as_="liu.yang")
