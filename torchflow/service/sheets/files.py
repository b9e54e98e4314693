"""Spreadsheet files on disk: rows read from CSV (UTF-8, UTF-8 with BOM, GB18030)
or XLSX (python-calamine), and rows written to CSV or XLSX (xlsxwriter in
constant-memory mode), each file whole or not at all (a temporary file, then
``os.replace``). The libraries are imported when a file of theirs is opened.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from torchflow.config import SheetSettings
from torchflow.domain.formulas import defuse, restore
from torchflow.domain.sheets import sheet_name
from torchflow.errors import InvalidInput
from torchflow.files import PRIVATE, FileModes, replacing
from torchflow.i18n import _

CSV_ENCODINGS = ("utf-8-sig", "gb18030")
MB = 1 << 20
# A CSV line is read at most this many cell bounds long (a row's cells together).
LINE_CELLS = 64
DEFAULT_LIMITS = SheetSettings()


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        return suffix[1:]
    raise InvalidInput(_("'{file}' is neither .xlsx nor .csv; name the file .xlsx or .csv",
                         file=path.name))


def read_rows(path: Path, sheet: str | None = None,
              limits: SheetSettings = DEFAULT_LIMITS) -> Iterator[list[Any]]:
    """The rows of the file (of ``sheet``, or the first sheet, of an XLSX), within
    ``limits``: an XLSX too big unpacked is refused before it is read, a cell or a
    row count past its bound as soon as it is met."""
    kind = kind_of(path)
    if not path.is_file():
        raise InvalidInput(_("there is no file '{file}'", file=str(path)))
    if kind == "csv":
        if sheet:
            raise InvalidInput(_("--sheet is for .xlsx files; a .csv has one sheet"))
        return _bounded(path, _csv_rows(path, limits), limits)
    _check_unpacked(path, limits)
    return _bounded(path, _xlsx_rows(path, sheet), limits)


def _bounded(path: Path, rows: Iterator[list[Any]], limits: SheetSettings
             ) -> Iterator[list[Any]]:
    """The rows, refused at the first cell longer than the cell bound or the first
    row past the row bound."""
    bound = limits.max_cell_chars
    for number, cells in enumerate(rows, start=1):
        if number > limits.max_rows:
            raise InvalidInput(_(
                "'{file}' has more than {bound} rows, the bound of [sheets] max_rows; split it "
                "into smaller files", file=path.name, bound=limits.max_rows))
        if max(map(_length, cells), default=0) > bound:  # then find the cell, to name it
            column, cell = next((i, c) for i, c in enumerate(cells, start=1)
                                if _length(c) > bound)
            raise _too_long(path, number, column, len(cell), bound)
        yield cells


def _length(cell: Any) -> int:
    """A text cell's length; 0 for a number or date (they have no bound)."""
    return len(cell) if type(cell) is str else 0


def _too_long(path: Path, row: int, column: int, length: int, bound: int) -> InvalidInput:
    return InvalidInput(_(
        "'{file}' row {row}, column {column}: a cell of {length} characters, more than "
        "{bound}, the bound of [sheets] max_cell_chars", file=path.name, row=row,
        column=column, length=length, bound=bound))


def _check_unpacked(path: Path, limits: SheetSettings) -> None:
    """An .xlsx is a zip: its central directory says how big each part unpacks, so
    a small file that would unpack to gigabytes is refused before any is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput(_("'{file}' is not a readable .xlsx file ({reason})",
                             file=path.name, reason=str(exc))) from None
    bound = int(limits.max_xlsx_mb * MB)
    if size > bound:
        shown, most = format(size / MB, ",.1f"), format(limits.max_xlsx_mb, "g")
        raise InvalidInput(_(
            "'{file}' unpacks to {size} MB, more than {bound} MB, the bound of [sheets] "
            "max_xlsx_mb; save the sheet as .csv or split it", file=path.name,
            size=shown, bound=most))


def csv_encoding(path: Path) -> str:
    """UTF-8 (with or without a BOM) when the whole file decodes as such, else GB18030,
    which Chinese spreadsheet programs save by default."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    with path.open("rb") as raw:
        try:
            while chunk := raw.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
    return "gb18030"


def _lines(path: Path, handle: IO[str], limits: SheetSettings) -> Iterator[str]:
    """The file's lines, each read at most so long: a file of one endless line is
    refused without holding it (a row may hold many cells, each within the bound)."""
    bound = limits.max_cell_chars
    longest = bound * LINE_CELLS + 1
    number = 0
    while line := handle.readline(longest):
        number += 1
        if len(line) == longest and not line.endswith("\n"):
            raise _too_long(path, number, 1, len(line), bound)
        yield line


def _csv_rows(path: Path, limits: SheetSettings) -> Iterator[list[Any]]:
    encoding = csv_encoding(path)
    # The csv module's own field bound is process-wide; it is only ever raised to
    # the configured cell bound (plus one, so _bounded is the one that refuses).
    if csv.field_size_limit() <= limits.max_cell_chars:
        csv.field_size_limit(limits.max_cell_chars + 1)
    try:
        with path.open(encoding=encoding, newline="") as handle:
            # A cell torchflow defused when it wrote the file reads as its value.
            for row in csv.reader(_lines(path, handle, limits)):
                yield [restore(cell) for cell in row]
    except UnicodeDecodeError:
        raise InvalidInput(_("'{file}' is neither UTF-8 nor GB18030 text; save it as CSV UTF-8 "
                             "from your spreadsheet program", file=path.name)) from None
    except csv.Error as exc:
        raise InvalidInput(_("'{file}' is not a readable CSV file: {reason}", file=path.name,
                             reason=str(exc))) from None


def _xlsx_rows(path: Path, sheet: str | None) -> Iterator[list[Any]]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise InvalidInput(_("'{file}' is not a readable .xlsx file ({reason})",
                             file=path.name, reason=str(exc))) from None
    try:
        names = list(book.sheet_names)
        name = sheet if sheet is not None else (names[0] if names else None)
        if name not in names:
            raise InvalidInput(_("'{file}' has no sheet '{sheet}'; sheets: {sheets}",
                                 file=path.name, sheet=sheet, sheets=", ".join(names)))
        yield from book.get_sheet_by_name(name).iter_rows()
    finally:
        book.close()


Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]]]


def write_sheets(path: Path, sheets: Iterable[Sheet], modes: FileModes = PRIVATE) -> int:
    """Write each (name, header, rows) as a worksheet (XLSX) or the one sheet (CSV),
    typed cells as themselves: numbers as numbers, dates as dates. Returns the rows
    written. An aware datetime should be made local (and naive) by the caller. The
    file is made with ``modes`` ([files] group) from the start."""
    kind = kind_of(path)
    if not path.parent.is_dir():
        raise InvalidInput(_("there is no folder '{parent}' to write '{name}' in",
                             parent=path.parent, name=path.name))
    with replacing(path, modes) as tmp:
        return _write_csv(tmp, sheets) if kind == "csv" else _write_xlsx(tmp, sheets)


def _write_csv(path: Path, sheets: Iterable[Sheet]) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        out = csv.writer(handle)
        for number, (_name, header, rows) in enumerate(sheets):
            if number:
                raise InvalidInput(_("a .csv file holds one sheet; write .xlsx, or choose one "
                                     "workflow with --workflow"))
            out.writerow([defuse(title) for title in header])
            for row in rows:
                out.writerow(["" if v is None else _csv_cell(v) for v in row])
                count += 1
    return count


def _csv_cell(value: Any) -> Any:
    """A typed value as CSV text; one that a spreadsheet would run, defused."""
    if isinstance(value, datetime):
        return value.isoformat(" ", "seconds") if value.tzinfo is None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return defuse(", ".join(str(v) for v in value))
    return defuse(value)


def _write_xlsx(path: Path, sheets: Iterable[Sheet]) -> int:
    import xlsxwriter

    count = 0
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                           "strings_to_formulas": False,
                                           "strings_to_urls": False})
    try:
        bold = book.add_format({"bold": True})
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        used: set[str] = set()
        wrote_any = False
        for name, header, rows in sheets:
            sheet = book.add_worksheet(sheet_name(name, used))
            wrote_any = True
            for col, title in enumerate(header):
                sheet.write_string(0, col, title, bold)
                sheet.set_column(col, col, max(12, min(40, len(title) + 2)))
            for r, row in enumerate(rows, start=1):
                for col, value in enumerate(row):
                    if value is None or value == "":
                        continue
                    if isinstance(value, bool):
                        sheet.write_boolean(r, col, value)
                    elif isinstance(value, datetime):
                        sheet.write_datetime(r, col, value.replace(tzinfo=None), stamp)
                    elif isinstance(value, date):
                        sheet.write_datetime(r, col, value, day)
                    elif isinstance(value, (int, float)):
                        sheet.write_number(r, col, value)
                    elif isinstance(value, (list, tuple)):
                        sheet.write_string(r, col, ", ".join(str(v) for v in value))
                    else:
                        sheet.write_string(r, col, str(value))
                count += 1
        if not wrote_any:
            book.add_worksheet("empty")
    finally:
        book.close()
    return count
