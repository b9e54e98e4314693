"""Issue 14's spreadsheet bounds: an .xlsx too big unpacked is refused from its zip
directory before any part is read, a cell and the row count past their bounds
as they are met, each in one line naming the bound ([sheets] in config.toml)."""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from torchflow.config import SheetSettings, load_settings
from torchflow.errors import ConfigError, InvalidInput
from torchflow.service.sheets.files import read_rows

CHUNK = b"a" * (1 << 20)


def bomb(path: Path, mib: int) -> Path:
    """An .xlsx of one sheet whose one shared string is ``mib`` MiB of 'a': a
    small file (deflate packs it about a thousand to one)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<sst><si><t>')
            for _ in range(mib):
                part.write(CHUNK)
            part.write(b"</t></si></sst>")
    return path


def test_a_small_xlsx_holding_one_gib_cell_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = bomb(tmp_path / "bomb.xlsx", 1024)
    assert path.stat().st_size < 2 << 20  # about 1 MB on disk
    probe = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from torchflow.service.sheets.files import read_rows\n"
        "from torchflow.errors import InvalidInput\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    list(read_rows(Path(sys.argv[1])))\n"
        "    print('READ')\n"
        "except InvalidInput as exc:\n"
        "    print(exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True,
                          text=True, check=True, timeout=120)
    message, grown_kib = done.stdout.strip().splitlines()
    assert "unpacks to 1,024.0 MB" in message and "[sheets] max_xlsx_mb" in message
    assert "\n" not in message
    # The peak over what the imports alone took: far from the GiB the cell would take.
    assert int(grown_kib) < 64 * 1024


def test_the_unpacked_bound_is_configurable(tmp_path: Path) -> None:
    path = bomb(tmp_path / "small.xlsx", 2)
    with pytest.raises(InvalidInput, match=r"unpacks to 2\.0 MB, more than 1 MB"):
        list(read_rows(path, limits=SheetSettings(max_xlsx_mb=1)))


def test_a_cell_past_its_bound_is_refused_naming_row_column_and_bound(tmp_path: Path) -> None:
    path = tmp_path / "long.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("s")
    sheet.write_row(0, 0, ["序号", "标题"])
    sheet.write_row(1, 0, ["1", "x" * 500])
    book.close()
    limits = SheetSettings(max_cell_chars=100)
    with pytest.raises(InvalidInput) as err:
        list(read_rows(path, limits=limits))
    assert str(err.value) == ("'long.xlsx' row 2, column 2: a cell of 500 characters, more "
                              "than 100, the bound of [sheets] max_cell_chars")
    assert len(list(read_rows(path, limits=SheetSettings(max_cell_chars=500)))) == 2


def test_a_csv_cell_and_an_endless_csv_line_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["序号", "标题"], ["1", "y" * 300]])
    with pytest.raises(InvalidInput, match="a cell of 300 characters, more than 200"):
        list(read_rows(path, limits=SheetSettings(max_cell_chars=200)))
    endless = tmp_path / "endless.csv"
    endless.write_text("z" * 100_000, encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"row 1, column 1: .*max_cell_chars"):
        list(read_rows(endless, limits=SheetSettings(max_cell_chars=100)))


def test_rows_past_the_row_bound_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("序号,标题\n" + "".join(f"{i},t\n" for i in range(10)), encoding="utf-8")
    assert len(list(read_rows(path, limits=SheetSettings(max_rows=11)))) == 11
    with pytest.raises(InvalidInput, match=r"more than 10 rows, the bound of \[sheets\] max_rows"):
        list(read_rows(path, limits=SheetSettings(max_rows=10)))


def test_the_bounds_come_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[sheets]\nmax_xlsx_mb = 64\nmax_cell_chars = 1000\nmax_rows = 5000\n",
                      encoding="utf-8")
    assert load_settings(config, env={}).sheets == SheetSettings(64, 1000, 5000)
    config.write_text("[sheets]\nmax_row = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"did you mean 'sheets\.max_rows'"):
        load_settings(config, env={})
