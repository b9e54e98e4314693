"""Hygiene at every door (issue 14): CSV cells a spreadsheet would run are
defused and read back as they were; the files torchflow creates are private
(or the office group's) from the start; a calendar year without a working day
is refused; error lines are bounded. Real files, real modes (os.stat), the
configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

import csv
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, seed_office
from tests.conftest import is_postgres
from torchflow.files import group_id

FORMULA = '=HYPERLINK("http://evil.example","x")'
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [c for row in csv.reader(fh) for c in row]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def armed(path: Path) -> list[str]:
    """Cells a spreadsheet would run: starting with a trigger, and no plain number."""
    out = []
    for c in cells(path):
        if c[:1] in TRIGGERS:
            try:
                float(c)
            except ValueError:
                out.append(c)
    return out


def open_formula_case(cli: Cli) -> str:
    return cli.open_pi(FORMULA, fields=("enterprise=@SUM(1+1)", "industry=new energy",
                                        "lead_source=torch center", "planned_investment=-5",
                                        "contact_person=+86 510 8888"))


def test_every_export_defuses_formulas_and_imports_back_unchanged(cli: Cli,
                                                                  tmp_path: Path) -> None:
    key = open_formula_case(cli)
    cli.ok("case", "note", key, "--", "-1+1 @cmd", as_="wang.li")
    for kind in ("cases", "tasks", "history", "notices"):
        out = tmp_path / f"{kind}.csv"
        cli.ok("export", kind, out)
        assert armed(out) == [], kind
    written = cells(tmp_path / "cases.csv")
    assert "'" + FORMULA in written and "'@SUM(1+1)" in written and "'+86 510 8888" in written
    assert "-5" in written  # a number stays a number: Excel needs no quote there
    assert "'" + FORMULA in cells(tmp_path / "tasks.csv")
    # Read back through import, every value is the original: nothing to change.
    result = cli.json("import", "cases", "project_introduction", tmp_path / "cases.csv",
                      as_="wang.li")
    assert (result["created"], result["updated"]) == (0, 0), result
    assert cli.json("case", "show", key)["title"] == FORMULA


def test_report_csv_defuses_formulas(cli: Cli, tmp_path: Path) -> None:
    cli.ok("person", "add", "evil", "--name", "=1+2", "--role", "coordinator")
    out = tmp_path / "workload.csv"
    cli.ok("report", "workload", "--csv", out)
    assert armed(out) == []


def test_skip_bad_file_defuses_and_reads_back(cli: Cli, tmp_path: Path) -> None:
    sheet = tmp_path / "in.csv"
    sheet.write_text("External reference,Title,Owner\nX-1,=1+2,nobody.here\n",
                     encoding="utf-8")
    fix = tmp_path / "fix.csv"
    cli.json("import", "cases", "project_introduction", sheet, "--skip-bad", fix, as_="wang.li")
    assert "'=1+2" in cells(fix) and armed(fix) == []
    assert mode(fix) == 0o600
    # Imported again, the title reads as typed: still refused for its owner only.
    run = cli.run("import", "cases", "project_introduction", fix, "--dry-run", as_="wang.li")
    assert "'=1+2" not in run.out + run.err


# --------------------------------------------------------------------------- file modes


def test_created_files_are_private(cli: Cli, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    with cli.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[feeds]\nics_dir = "{feeds}"\n')
    key = open_formula_case(cli)
    cli.ok("case", "advance", key, "make_contact", as_="wang.li")
    cli.ok("scheduler", "tick", now="2026-04-20T09:30:00+08:00")
    files = {name: tmp_path / name for name in ("cases.xlsx", "tasks.csv", "cp.json",
                                                "report.csv", "report.xlsx", "report.html")}
    cli.ok("export", "cases", files["cases.xlsx"])
    cli.ok("export", "tasks", files["tasks.csv"])
    cli.ok("audit", "checkpoint", files["cp.json"])
    cli.ok("report", "workload", "--csv", files["report.csv"], "--xlsx", files["report.xlsx"])
    cli.ok("report", "html", files["report.html"])
    for name, path in files.items():
        assert mode(path) == 0o600, name
    assert mode(tmp_path / "outbox.jsonl") == 0o600
    assert mode(feeds) == 0o700
    assert [mode(f) for f in feeds.iterdir()] == [0o600] * len(list(feeds.iterdir()))


@pytest.mark.skipif(is_postgres(), reason="the SQLite file and its journals")
def test_init_makes_the_database_and_its_journals_private(tmp_path: Path) -> None:
    db = tmp_path / "office" / "torchflow.db"
    db.parent.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'[office]\nlocale = "en"\n[database]\nurl = "sqlite:///{db}"\n',
                      encoding="utf-8")
    seed_office(Cli(config))
    assert mode(db) == 0o600
    reader = sqlite3.connect(db)  # WAL and SHM exist while a connection is open
    try:
        reader.execute("select count(*) from cases").fetchone()
        for journal in ("-wal", "-shm"):
            assert mode(Path(f"{db}{journal}")) == 0o600, journal
    finally:
        reader.close()


OFFICE_GROUP = "daemon"  # a group of every Linux system, not the test's own


@pytest.mark.skipif(os.geteuid() != 0 or group_id(OFFICE_GROUP) is None,
                    reason="giving files to another group needs root or membership")
def test_an_office_group_shares_what_it_should(tmp_path: Path) -> None:
    gid = group_id(OFFICE_GROUP)
    office = tmp_path / "office"
    office.mkdir()
    url = f"sqlite:///{office / 'torchflow.db'}"
    if is_postgres():
        url = os.environ["TORCHFLOW_TEST_DATABASE"]
    config = tmp_path / "config.toml"
    config.write_text(f'[office]\nlocale = "en"\n[database]\nurl = "{url}"\n'
                      f'[files]\ngroup = "{OFFICE_GROUP}"\n'
                      f'[notify.file]\npath = "{office / "out" / "outbox.jsonl"}"\n'
                      f'[feeds]\nics_dir = "{office / "feeds"}"\n', encoding="utf-8")
    cli = Cli(config)
    if not is_postgres():
        # Without the folder's setgid bit SQLite's WAL would get the creator's group.
        line = cli.refused("init", "--admin", "office.admin")
        assert "setgid" in line and f"chgrp {OFFICE_GROUP}" in line
        os.chown(office, -1, gid)
        office.chmod(0o2770)
    old = os.umask(0o077)  # the server's UMask=0077: the group is still given its bits
    try:
        seed_office(cli) if not is_postgres() else None
        if is_postgres():
            return  # the database is PostgreSQL's; the files below need a seeded office
        key = cli.open_pi()
        cli.ok("case", "advance", key, "make_contact", as_="wang.li")
        cli.ok("scheduler", "tick", now="2026-04-20T09:30:00+08:00")
        export = tmp_path / "tasks.csv"
        cli.ok("export", "tasks", export)
    finally:
        os.umask(old)
    db = office / "torchflow.db"
    assert (mode(db), db.stat().st_gid) == (0o660, gid)
    outbox = office / "out" / "outbox.jsonl"
    assert (mode(outbox), outbox.stat().st_gid) == (0o660, gid)
    assert (mode(outbox.parent), outbox.parent.stat().st_gid) == (0o710, gid)
    assert (mode(export), export.stat().st_gid) == (0o640, gid)
    feeds = office / "feeds"
    assert (mode(feeds), feeds.stat().st_gid) == (0o710, gid)  # the group opens, never lists
    assert {(mode(f), f.stat().st_gid) for f in feeds.iterdir()} == {(0o640, gid)}


def test_a_feed_folder_others_can_list_is_refused(cli: Cli, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir(mode=0o755)
    feeds.chmod(0o755)
    with cli.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[feeds]\nics_dir = "{feeds}"\n')
    run = cli.run("scheduler", "tick")
    assert run.code == 0  # the tick goes on for everything else
    assert list(feeds.iterdir()) == []  # no token's name is shown to everyone


def test_an_unknown_office_group_is_one_line(cli: Cli) -> None:
    with cli.config.open("a", encoding="utf-8") as fh:
        fh.write('\n[files]\ngroup = "no-such-group-here"\n')
    line = cli.refused("case", "list")
    # The config cannot be read, so neither can its locale: the office's Chinese.
    assert "files.group = 'no-such-group-here' 在本系统中不存在" in line


# --------------------------------------------------------------------------- calendar


def test_a_blackout_emptying_a_year_is_refused(cli: Cli) -> None:
    days = ", ".join(f'"2027-{m:02d}-{d:02d}"' for m in range(1, 13) for d in range(1, 32)
                     if not (m == 2 and d > 28) and not (m in (4, 6, 9, 11) and d > 30))
    with cli.config.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[calendar]\nblackout = [{days}]\n")
    line = cli.refused("calendar", "check")
    assert "blackout leaves 2027 without a single working day" in line


def test_a_blackout_of_most_of_a_year_is_accepted(cli: Cli) -> None:
    days = ", ".join(f'"2027-{m:02d}-{d:02d}"' for m in range(1, 12) for d in range(1, 29))
    with cli.config.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[calendar]\nblackout = [{days}]\n")
    cli.ok("calendar", "show", "2027", "--month", "12")


def schedule(tmp_path: Path, days_off: str, worked: str = "") -> Path:
    path = tmp_path / "cn-2027.toml"
    path.write_text(f'year = 2027\nsource = "State Council notice"\ndays_off = [{days_off}]\n'
                    f"worked_weekends = [{worked}]\n", encoding="utf-8")
    return path


def use(cli: Cli, path: Path) -> None:
    with cli.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[calendar]\nofficial = ["{path}"]\n')


def test_a_schedule_file_without_a_working_day_is_refused(cli: Cli, tmp_path: Path) -> None:
    from datetime import date, timedelta

    every = [date(2027, 1, 1) + timedelta(days=i) for i in range(365)]
    use(cli, schedule(tmp_path, ", ".join(d.isoformat() for d in every if d.weekday() < 5)))
    line = cli.refused("calendar", "check")
    assert "2027 has no working day left" in line


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_schedule_path_that_is_no_regular_file_is_refused(cli: Cli, tmp_path: Path,
                                                             kind: str) -> None:
    path = tmp_path / "cn-2027.toml"
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)  # reading it would wait for ever
    use(cli, path)
    assert "not a regular file" in cli.refused("calendar", "check")


def test_ten_thousand_bad_dates_are_a_few_short_lines(cli: Cli, tmp_path: Path) -> None:
    bad = ", ".join(f'"bad-{i}"' for i in range(10_000))
    outside = ", ".join(f"2026-01-{d:02d}" for d in range(1, 29))
    use(cli, schedule(tmp_path, f"2027-01-01, {outside}", bad))
    run = cli.run("calendar", "check")
    assert run.code == 1
    lines = run.err.splitlines()
    assert 1 <= len(lines) <= 5, lines
    assert max(map(len, lines)) < 500
    assert "'bad-4' and 9995 more not a date" in run.err


def test_many_days_outside_the_year_are_one_line(cli: Cli, tmp_path: Path) -> None:
    outside = ", ".join(f"2026-01-{d:02d}" for d in range(1, 29))
    use(cli, schedule(tmp_path, f"2027-01-01, {outside}"))
    line = cli.refused("calendar", "check")
    assert "2026-01-05 and 23 more not in 2027" in line


def test_a_header_of_a_thousand_unknown_columns_is_one_bounded_line(cli: Cli,
                                                                    tmp_path: Path) -> None:
    sheet = tmp_path / "wide.csv"
    head = ["External reference", "Title"] + [f"unknown column number {i}" for i in range(1000)]
    sheet.write_text(",".join(head) + "\nX-1,t\n", encoding="utf-8")
    line = cli.refused("import", "cases", "project_introduction", sheet, as_="wang.li")
    assert len(line) < 1000 and "and 990 more" in line


def test_a_workflow_with_thousands_of_problems_is_bounded(cli: Cli, tmp_path: Path) -> None:
    wf = tmp_path / "wide.toml"
    wf.write_text("\n".join(f'unknown_{i} = 1' for i in range(3000)), encoding="utf-8")
    run = cli.run("workflow", "validate", wf)
    assert run.code == 1
    lines = (run.out + run.err).splitlines()
    assert len(lines) < 40 and max(map(len, lines)) < 500
    assert "more problems" in run.out + run.err
