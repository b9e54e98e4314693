"""The database as a user meets it: a lock held by another process, a file that
is read-only, a folder, not a database or not there at all, a PostgreSQL server
that cannot be reached. Each is one line on stderr, never a traceback, and no
command but `init` creates a database file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.conftest import WORKFLOWS, is_postgres

sqlite_only = pytest.mark.skipif(is_postgres(), reason="SQLite files and locks")
BUSY = "Error: the database is busy (another torchflow is writing to it); try again in a moment"


def config_for(tmp_path: Path, url: str, name: str = "other.toml", extra: str = "") -> Path:
    path = tmp_path / name
    path.write_text(f'[office]\nlocale = "en"\n[database]\nurl = "{url}"\n{extra}\n[workflows]\n'
                    f'directory = "{WORKFLOWS}"\n', encoding="utf-8")
    return path


def db_path(config_file: Path) -> Path:
    text = config_file.read_text(encoding="utf-8")
    url = text.split('url = "', 1)[1].split('"', 1)[0]
    return Path(url.removeprefix("sqlite:///"))


def quick(config_file: Path) -> Path:
    """The test's config with a 0.3 s busy timeout, so a held lock is met at once."""
    text = config_file.read_text(encoding="utf-8")
    path = config_file.with_name("quick.toml")
    path.write_text(text.replace("[database]\n", "[database]\nbusy_timeout_seconds = 0.3\n", 1),
                    encoding="utf-8")
    return path


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another process holds SQLite's write lock (as a long transaction would)."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE')\n"
         "print('locked', flush=True)\n"
         "time.sleep(60)\n", str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait(timeout=10)


def counts(path: Path) -> tuple[int, ...]:
    conn = sqlite3.connect(path)
    try:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("cases", "case_events", "tasks", "notices", "people"))
    finally:
        conn.close()


# --- locks ------------------------------------------------------------------------------


@sqlite_only
def test_a_held_lock_refuses_writes_in_one_line_and_reads_still_work(
    cli: Cli, config_file: Path
) -> None:
    key = cli.open_pi()
    quick_cli = Cli(quick(config_file))
    path = db_path(config_file)
    before = counts(path)
    with write_lock(path):
        started = time.monotonic()
        assert quick_cli.refused("case", "note", key, "hello", as_="wang.li") == BUSY
        assert time.monotonic() - started < 10  # the configured timeout, not 15 s
        assert quick_cli.refused("case", "open", "project_introduction", "--title", "x",
                                 *(f"--field={f}" for f in ("enterprise=E", "industry=biomedicine",
                                                           "lead_source=referral",
                                                           "planned_investment=1")),
                                 as_="wang.li") == BUSY
        assert quick_cli.refused("scheduler", "tick") == BUSY
        # Reads take no write lock: they work while another process writes.
        assert quick_cli.json("case", "show", key, as_="wang.li")["key"] == key
        assert quick_cli.json("case", "list")["total"] == 1
        assert quick_cli.json("case", "history", key)["key"] == key
        assert quick_cli.json("task", "list")["total"] == 1
        assert quick_cli.json("notice", "list")["total"] == 0
        assert quick_cli.json("person", "list")["total"] == 6  # the office and its admin
        assert quick_cli.ok("agenda").code == 0
        assert quick_cli.ok("workflow", "list").code == 0
        assert quick_cli.ok("audit", "verify").code == 0
    assert counts(path) == before


@sqlite_only
def test_the_service_logs_one_line_for_a_busy_tick_and_carries_on(
    cli: Cli, config_file: Path
) -> None:
    from torchflow.config import load_settings
    from torchflow.scheduler import Service
    from torchflow.service.app import build_app

    app = build_app(load_settings(quick(config_file), env={}))
    service = Service(app)
    try:
        with write_lock(db_path(config_file)), pytest.MonkeyPatch.context() as mp:
            lines: list[str] = []
            mp.setattr("torchflow.scheduler.log.warning",
                       lambda msg, *args: lines.append(msg % args))
            mp.setattr("torchflow.scheduler.log.exception",
                       lambda *_: pytest.fail("a busy database is not a crash"))
            service._tick()
        busy = BUSY.removeprefix("Error: ")
        assert lines == [f"tick failed: {busy}; trying again next tick"]
    finally:
        service.channels.close()
        app.close()


# --- bad databases ------------------------------------------------------------------------


@sqlite_only
def test_no_command_creates_a_database_file_before_init(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    config = config_for(tmp_path, f"sqlite:///{missing}")
    for args in (("case", "list"), ("case", "show", "PI-2026-0001"), ("person", "list"),
                 ("agenda",), ("scheduler", "tick"), ("audit", "verify")):
        line = cli.refused("--config", config, *args, config=False)
        assert line == f"Error: the database file {missing} does not exist; run `torchflow init` " \
                       "first", args
    assert not missing.exists()
    assert cli.ok("--config", config, "init", config=False).out.startswith("created")
    assert missing.exists()


@sqlite_only
@pytest.mark.parametrize(("make", "expected"), [
    (lambda p: p.mkdir(), "is a folder; give the path of a file in it"),
    (lambda p: p.write_bytes(b"hello, not a database" * 100),
     "is not a torchflow database (not SQLite, or damaged)"),
    (lambda p: p.write_bytes(b""), "has no torchflow tables yet"),
], ids=["folder", "not-a-database", "empty-file"])
def test_a_path_that_is_not_a_database(cli: Cli, tmp_path: Path, make, expected: str) -> None:
    target = tmp_path / "x.db"
    make(target)
    config = config_for(tmp_path, f"sqlite:///{target}")
    for args in (("case", "list"), ("case", "note", "K-1", "x")):
        assert expected in cli.refused("--config", config, *args, as_="wang.li", config=False)


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be written, even by root (who ignores permission bits, so
    gets the immutable attribute instead)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        path.chmod(mode)


@sqlite_only
def test_a_read_only_file_or_folder(cli: Cli, config_file: Path) -> None:
    key = cli.open_pi()
    path = db_path(config_file)
    # Settle the WAL into the file, so the database is whole without its -wal file.
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = counts(path)
    with read_only(path):
        line = cli.refused("case", "note", key, "hello", as_="wang.li")
    assert line == (f"Error: the database file {path} is read-only; torchflow needs to "
                    "write it (check its permissions)")
    for extra in path.parent.glob(path.name + "-*"):
        extra.unlink()
    with read_only(path.parent):
        line = cli.refused("case", "note", key, "hello", as_="wang.li")
    assert line == (f"Error: the folder of the database file {path} is read-only; SQLite "
                    "needs to write its journal beside the file")
    assert counts(path) == before


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+psycopg://u@no-such-host.invalid/db", "cannot connect to the database"),
    ("postgresql+psycopg://u@127.0.0.1:1/db", "cannot connect to the database"),
    ("postgresql+psycopg://u@127.0.0.1:99999/db", "port 99999 is not valid; use 1 to 65535"),
    ("postgresql+psycopg://u@127.0.0.1:port/db", "is not valid; use e.g. sqlite:///"),
    ("mysql://u@h/db", "driver is not installed"),
    ("nonsense", "is not valid; use e.g. sqlite:///"),
], ids=["unresolvable", "refused", "port-range", "port-text", "driver", "garbage"])
def test_an_unreachable_or_malformed_server(cli: Cli, tmp_path: Path, url: str,
                                             expected: str) -> None:
    config = config_for(tmp_path, url, extra="busy_timeout_seconds = 1")
    line = cli.refused("--config", config, "case", "list", config=False)
    assert expected in line
