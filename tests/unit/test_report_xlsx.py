"""XLSX of a report: typed cells read back by a spreadsheet reader (dates as
dates, numbers as numbers), the header frozen, widths fitting Chinese text."""

from __future__ import annotations

import re
import zipfile
from datetime import date
from pathlib import Path

import pytest

from torchflow.reports.export import display_width, write_xlsx

DOC = {
    "title": "Stage times · 环节用时", "period": {"from": "2026-01-01", "to": "2026-03-31"},
    "tables": [{
        "title": "Slowest · 最慢", "columns": [
            {"key": "name", "title": "State · 环节", "type": "text"},
            {"key": "n", "title": "Cases", "type": "int"},
            {"key": "sum", "title": "Investment", "type": "float"},
            {"key": "due", "title": "Due", "type": "date"}],
        "rows": [{"name": "洽谈洽谈洽谈洽谈洽谈", "n": 3, "sum": 1250.5, "due": "2026-03-31"}],
    }],
}


def test_cells_are_typed_the_header_frozen_and_widths_count_cjk_twice(tmp_path: Path) -> None:
    calamine = pytest.importorskip("python_calamine")
    path = tmp_path / "r.xlsx"
    write_xlsx(DOC, str(path))
    rows = calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert rows[2][:3] == ["洽谈洽谈洽谈洽谈洽谈", 3, 1250.5]
    assert rows[2][3] in (date(2026, 3, 31), "2026-03-31") and not isinstance(rows[2][3], str)
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert 'state="frozen"' in sheet and 'ySplit="2"' in sheet
    # Ten CJK characters are 20 columns wide (+2 of margin), not 10.
    assert display_width("洽谈洽谈洽谈洽谈洽谈") == 20
    first = re.search(r'<col min="1" max="1" width="([\d.]+)"', sheet)
    assert first is not None and float(first.group(1)) >= 22
