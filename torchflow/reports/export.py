"""A report document (service/reports/) as text, CSV or XLSX."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path
from typing import Any

from torchflow.domain.formulas import defuse
from torchflow.domain.sheets import sheet_name
from torchflow.errors import InvalidInput
from torchflow.files import PRIVATE, FileModes, replacing
from torchflow.i18n import _


def text(doc: dict[str, Any]) -> str:
    from torchflow.cli.context import table

    parts = [f"{doc['title']}  {doc['period']['from']} .. {doc['period']['to']}"]
    for t in doc["tables"]:
        parts.append("")
        parts.append(t["title"])
        if t["rows"]:
            parts.append(table(t["rows"], [(c["title"], c["key"]) for c in t["columns"]]))
        else:
            parts.append("(none · 无)")
    return "\n".join(parts)


def write_csv(doc: dict[str, Any], path: str, modes: FileModes = PRIVATE) -> None:
    """One section per table: its title, a header row, the rows; a blank line between.
    Made with ``modes`` ([files] group) from the start, whole or not at all."""
    try:
        with replacing(Path(path), modes) as tmp, \
                open(tmp, "w", newline="", encoding="utf-8-sig") as fh:  # BOM: Excel reads UTF-8
            out = csv.writer(fh)
            for i, t in enumerate(doc["tables"]):
                if i:
                    out.writerow([])
                # Every cell defused: a case title or a name may start with '='.
                out.writerow([defuse(t["title"])])
                out.writerow([defuse(c["title"]) for c in t["columns"]])
                for row in t["rows"]:
                    out.writerow(["" if row.get(c["key"]) is None else defuse(row.get(c["key"]))
                                  for c in t["columns"]])
    except OSError as exc:
        raise InvalidInput(_("cannot write {path}: {reason}",
                             path=path, reason=exc.strerror)) from None


def display_width(value: Any) -> int:
    """Columns a value takes in a spreadsheet: a CJK character counts two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def write_xlsx(doc: dict[str, Any], path: str, modes: FileModes = PRIVATE) -> None:
    """One worksheet per table: typed cells, the header row frozen, widths fitting
    Chinese text (a CJK character counts two)."""
    if not Path(path).parent.exists():
        raise InvalidInput(_("cannot write {path}: no such directory", path=path))
    with replacing(Path(path), modes) as tmp:  # made with its mode, whole or not at all
        _xlsx(doc, str(tmp))


def _xlsx(doc: dict[str, Any], path: str) -> None:
    import xlsxwriter  # type: ignore[import-untyped]
    import xlsxwriter.exceptions  # type: ignore[import-untyped]

    book = xlsxwriter.Workbook(path)
    bold = book.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    num_fmt = book.add_format({"num_format": "#,##0.##"})
    int_fmt = book.add_format({"num_format": "0"})
    used: set[str] = set()
    for t in doc["tables"]:
        name = sheet_name(t["title"], used)
        sheet = book.add_worksheet(name)
        period = f"{doc['period']['from']}..{doc['period']['to']}"
        sheet.write(0, 0, f"{doc['title']} · {t['title']}  {period}")
        for j, c in enumerate(t["columns"]):
            sheet.write(1, j, c["title"], bold)
            width = max([display_width(c["title"])]
                        + [display_width(r.get(c["key"], "")) for r in t["rows"]])
            sheet.set_column(j, j, min(width + 2, 60))
        for i, row in enumerate(t["rows"], start=2):
            for j, c in enumerate(t["columns"]):
                value = row.get(c["key"])
                if value is None:
                    continue
                if c["type"] == "int":
                    sheet.write_number(i, j, int(value), int_fmt)
                elif c["type"] == "float":
                    sheet.write_number(i, j, float(value), num_fmt)
                elif c["type"] == "date":
                    from datetime import date

                    sheet.write_datetime(i, j, date.fromisoformat(str(value)), date_fmt)
                else:
                    sheet.write_string(i, j, str(value))
        sheet.freeze_panes(2, 0)
    try:
        book.close()
    except (OSError, xlsxwriter.exceptions.FileCreateError) as exc:
        raise InvalidInput(_("cannot write {path}: {exc}", path=path, exc=exc)) from None
