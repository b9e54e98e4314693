"""docs/reports.md shows a picture of each report's chart, and each is there."""

from __future__ import annotations

import re
from pathlib import Path

from torchflow.service.reports.registry import REPORTS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_each_report_has_its_chart_in_the_docs() -> None:
    text = (DOCS / "reports.md").read_text(encoding="utf-8")
    pictures = dict(re.findall(r"!\[(\w+)\]\((img/[\w.-]+\.png)\)", text))
    assert sorted(pictures) == sorted(REPORTS)
    for name, path in pictures.items():
        data = (DOCS / path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
