"""`torchflow report html` opened in a real headless Chromium: a screenshot is
taken, the DOM holds the charts, tables and exceptions, the console stays quiet,
and the file loads nothing from elsewhere. CI installs chromium (.ci/run)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_reports import history  # noqa: F401  (the fixture)
from torchflow.domain.periods import parse_period
from torchflow.reports.html import write
from torchflow.service.app import App
from torchflow.service.reports.registry import REPORTS, run_all
from torchflow.service.reports.snapshot import Filters

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
    assert "工作成效 · Outcomes" in html and "签约" in html
    # C's contact due 27 March is open on 1 April: an overdue contact, first.
    contacts = html.split('id="exc-contacts"')[1].split("</table>")[0]
    assert "PI-2026-0003" in contacts
    assert html.index('id="exceptions"') < html.index('id="report-outcomes"')


@needs_chromium
def test_a_console_error_would_be_seen(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("boom")</script></body></html>')
    assert any("boom" in line for line in console(chromium(page, tmp_path, "--dump-dom").stderr))
