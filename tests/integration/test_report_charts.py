"""`--chart`: every report draws a PNG and an SVG with Agg; without a CJK font
the English part of each bilingual title is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_reports import PI, history  # noqa: F401  (the fixture)
from torchflow.domain.periods import parse_period
from torchflow.domain.vocabulary import english_names
from torchflow.errors import InvalidInput
from torchflow.reports import charts
from torchflow.service.app import App
from torchflow.service.people.lookup import Actor
from torchflow.service.reports.registry import REPORTS, run, run_all
from torchflow.service.reports.snapshot import Filters


@pytest.mark.parametrize("name", REPORTS)
def test_each_report_draws_png_and_svg(history: App, tmp_path: Path, name: str,  # noqa: F811
                                       staff: dict[str, Actor]) -> None:
    doc = run(history, name, Filters(period=parse_period("2026Q1"), workflow=PI),
              staff["sun.hao"])
    png, svg = tmp_path / f"{name}.png", tmp_path / f"{name}.svg"
    charts.draw(doc, str(png))
    charts.draw(doc, str(svg))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert svg.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))


def test_without_a_cjk_font_the_english_part_is_drawn(history: App) -> None:  # noqa: F811
    assert charts.label("Agreement signed · 签约", cjk=False) == "Agreement signed"
    assert charts.label("Agreement signed · 签约", cjk=True) == "Agreement signed · 签约"
    doc = run(history, "stages", Filters(period=parse_period("2026Q1"), workflow=PI))
    english = english_names(history.registry.files().values())
    fig = charts.figure(doc, cjk=False, english=english)
    texts = [fig.axes[0].get_title(), *(t.get_text() for t in fig.axes[0].get_xticklabels())]
    assert "First contact" in texts
    assert not any(ord(ch) >= 0x2E80 for t in texts for ch in t)


def test_a_chart_needs_png_or_svg(history: App, tmp_path: Path) -> None:  # noqa: F811
    doc = run(history, "workload", Filters(period=parse_period("2026Q1")))
    with pytest.raises(InvalidInput, match=r"png or \.svg"):
        charts.draw(doc, str(tmp_path / "x.gif"))


def test_the_milestone_titles_of_the_workflow_are_shown(history: App) -> None:  # noqa: F811
    from torchflow.reports.html import render

    f = Filters(period=parse_period("2026Q1"), workflow=PI)
    fig = charts.figure(run(history, "outcomes", f),
                        english=english_names(history.registry.files().values()))
    # The [milestones] title, not the state's own ("签约", "Agreement signed"); its
    # English where no CJK font is installed.
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] in (
        [["签约"], ["Signed"]])
    page = render(*run_all(history, f))
    headline = page.split('id="headline"')[1].split("</section>")[0]
    assert "签约" in headline and "开工" in headline
