"""`torchflow report html` opened in a real headless Chromium: a screenshot is
taken, the DOM holds the charts, tables and exceptions, the console stays quiet,
and the file loads nothing from elsewhere. CI installs chromium (.ci/run)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.conftest import Clock, with_settings
from tests.integration.test_reports import history  # noqa: F401  (the fixture)
from torchflow.config import OfficeSettings
from torchflow.domain.periods import parse_period
from torchflow.reports.html import amount, headline, number, write
from torchflow.service.app import App
from torchflow.service.cases.change import advance, open_case
from torchflow.service.people.lookup import resolve_actor
from torchflow.service.reports.registry import REPORTS, run_all
from torchflow.service.reports.snapshot import Filters
from torchflow.store.models import PEOPLE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,3000",
         *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True)


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@needs_chromium
def test_the_html_report_renders_in_chromium(history: App, tmp_path: Path) -> None:  # noqa: F811
    page = tmp_path / "report.html"
    write(*run_all(history, Filters(period=parse_period("2026Q1"))), str(page))
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//|<link|<script|@import""", text)

    shot = tmp_path / "report.png"
    done = chromium(page, tmp_path, f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert console(done.stderr) == []

    dom = chromium(page, tmp_path, "--dump-dom")
    assert console(dom.stderr) == []
    html = dom.stdout
    for name in REPORTS:
        section = html.split(f'id="report-{name}"')[1].split("</section>")[0]
        assert "<svg" in section and "<table" in section, name
    assert "<h2>Outcomes</h2>" in html and "签约" in html
    # C's contact due 27 March is open on 1 April: an overdue contact, first.
    contacts = html.split('id="exc-contacts"')[1].split("</table>")[0]
    assert "PI-2026-0003" in contacts
    assert html.index('id="exceptions"') < html.index('id="report-outcomes"')


@needs_chromium
def test_a_console_error_would_be_seen(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("boom")</script></body></html>')
    assert any("boom" in line for line in console(chromium(page, tmp_path, "--dump-dom").stderr))


def _page(app: App, tmp_path: Path, name: str = "report.html") -> tuple[Path, str]:
    page = tmp_path / name
    write(*run_all(app, Filters(period=parse_period("2026Q1"))), str(page))
    return page, chromium(page, tmp_path, "--dump-dom").stdout


def _section(html: str, marker: str) -> str:
    return html.split(marker, 1)[1].split("</section>", 1)[0]


@needs_chromium
def test_a_chinese_office_reads_its_name_its_people_and_its_amounts(
        history: App, tmp_path: Path) -> None:  # noqa: F811
    office = with_settings(history, office=OfficeSettings(locale="zh-CN", name="无锡高新区招商局"))
    with office.db.transaction() as s:  # the office's staff by their Chinese names
        for handle, name in (("wang.li", "王立"), ("zhao.min", "赵敏"), ("chen.jie", "陈杰")):
            s.execute(update(PEOPLE).where(PEOPLE.c.handle == handle).values(name=name))
    _, html = _page(office, tmp_path)
    title = html.split('id="title"', 1)[1].split("</h1>", 1)[0]
    assert "无锡高新区招商局" in title and "合作事项工作报告" in title
    assert '<html lang="zh-CN"' in html
    # The overdue contact of C is 赵敏's, named as the office names her, not by handle.
    contacts = html.split('id="exc-contacts"', 1)[1].split("</table>", 1)[0]
    assert "赵敏" in contacts and "zhao.min" not in contacts
    # The workload lists only people with work, by name; the people the test office
    # has with nothing open (刘洋's liaison, the expert) are left out.
    workload = _section(html, 'id="report-workload"')
    assert "王立" in workload and "赵敏" in workload
    assert "Liu Yang" not in workload and "liu.yang" not in workload
    assert "Sun Hao" not in workload and "sun.hao" not in workload
    # The method notes are in the page itself, in Chinese; no pointer to the docs.
    method = _section(html, 'id="method"')
    assert "统计口径说明" in method and "法定工作日" in method and "亿元" in method
    assert "docs/reports.md" not in html
    # The amount signed on 31 March (A: 50,000 万元) in 亿元 on its card.
    cards = _section(html, 'id="headline"')
    assert "5 亿元" in cards and "50000" not in cards
    # No English in what the office reads there (tags aside).
    words = re.sub(r"<[^>]*>", " ", _section(html, 'id="exceptions"'))
    assert not re.search(r"[a-zA-Z]{3,}", words), words


@needs_chromium
def test_exceptions_are_summarised_and_the_rest_is_in_the_appendix(
        history: App, tmp_path: Path, clock: Clock) -> None:  # noqa: F811
    # Eight more cases whose first contact is left undone: nine overdue contacts.
    wang = resolve_actor(history, "wang.li")
    clock.set("2026-03-02T09:00:00+08:00")
    keys = [open_case(history, wang, "project_introduction", title=f"D{i}",
                      fields={"enterprise": "E", "industry": "new energy",
                              "lead_source": "torch center", "planned_investment": "10"}
                      )["key"] for i in range(8)]
    for key in keys:
        advance(history, wang, key, "make_contact")
    clock.set("2026-04-01T10:00:00+08:00")
    _, html = _page(history, tmp_path)
    exceptions = _section(html, 'id="exceptions"')
    count = exceptions.split('id="count-contacts"', 1)[1].split("</div>", 2)
    total = int(re.sub(r"\D", "", count[0].split('class="n">', 1)[1]))
    top = exceptions.split('id="exc-contacts"', 1)[1].split("</table>", 1)[0]
    shown = re.findall(r"PI-2026-\d{4}", top)
    assert total >= 9 and len(shown) == 5
    assert f"{total - 5} more: see the appendix" in exceptions
    assert "Project introduction" not in top  # no workflow title repeated on the first screen
    appendix = _section(html, 'id="appendix"')
    listed = re.findall(r"PI-2026-\d{4}",
                        appendix.split('id="appendix-contacts"', 1)[1].split("</table>", 1)[0])
    assert len(listed) == total and set(shown) <= set(listed) and set(keys) <= set(listed)
    assert html.index('id="exceptions"') < html.index('id="appendix"')


def test_amounts_in_wan_and_yi_with_grouping() -> None:
    assert amount(745100.0, "万元") == "74.51 亿元"
    assert amount(120000, "万元") == "12 亿元"
    assert amount(3500.0, "万元") == "3,500 万元"
    assert amount(9999.5, "万元") == "9,999.5 万元"
    assert amount(1200, "人") == "1,200 人"
    assert amount(None, "万元") == ""
    assert number(1234567) == "1,234,567" and number(2.25) == "2.25" and number("x") == "x"


def test_the_headline_adds_each_milestones_amounts() -> None:
    outcomes = {"tables": [{
        "title": "项目引进", "milestones": ["签约"],
        "columns": [{"key": "planned_investment", "title": "计划投资额 (万元)", "type": "float",
                     "unit": "万元", "sum_of": "计划投资额"}],
        "rows": [{"milestone": "签约", "cases": 2, "planned_investment": 700000.0},
                 {"milestone": "签约", "cases": 1, "planned_investment": 45100.0}]}]}
    [card] = headline(outcomes)
    assert card["cases"] == 3
    assert card["sums"] == [{"title": "计划投资额", "unit": "万元", "value": 745100.0}]
    assert amount(card["sums"][0]["value"], "万元") == "74.51 亿元"
