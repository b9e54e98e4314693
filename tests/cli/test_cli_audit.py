"""`torchflow audit verify`, `audit checkpoint` and `verify --against`, with and
without TORCHFLOW_AUDIT_KEY, in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.cli.conftest import Cli
from torchflow.service.audit.verify import UNKEYED

pytestmark = pytest.mark.client

KEY = "s3cret-audit-key-for-tests"
KEYED = {"TORCHFLOW_AUDIT_KEY": KEY}


def tamper(database_url: str, sql: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_unkeyed_verify_says_so(cli: Cli) -> None:
    cli.open_pi()
    run = cli.ok("audit", "verify")
    assert run.out == f"1 case(s), 1 event(s): history intact\nnote: {UNKEYED}\n"


def test_keyed_verify_is_quiet_and_a_keyed_history_needs_the_key(cli: Cli) -> None:
    opened = cli.json("case", "open", "project_introduction", "--title", "Keyed",
                      "--field", "enterprise=E", "--field", "industry=other",
                      "--field", "lead_source=walk-in", "--field", "planned_investment=1",
                      as_="wang.li", env=KEYED)
    assert cli.ok("audit", "verify", env=KEYED).out == "1 case(s), 1 event(s): history intact\n"
    assert cli.json("audit", "verify", env=KEYED)["keyed"] is True
    assert cli.ok("audit", "verify").out == (
        "1 case(s), 1 event(s): history intact\nnote: TORCHFLOW_AUDIT_KEY is not set, so the "
        "content of 1 keyed event(s) was not checked (only their links and order); set it to "
        "check them\n"
    )
    # Writing without the key would leave an unkeyed link in a keyed chain.
    assert cli.refused("case", "note", opened["key"], "x", as_="wang.li") == (
        "Error: this database's history is keyed (since event #1); "
        "set TORCHFLOW_AUDIT_KEY to write to it"
    )
    assert cli.refused("case", "note", opened["key"], "x", as_="wang.li",
                       env={"TORCHFLOW_AUDIT_KEY": "another key, long enough"}) == (
        "Error: TORCHFLOW_AUDIT_KEY is not the key this database's history is written with"
    )
    assert cli.refused("case", "note", opened["key"], "x", as_="wang.li",
                       env={"TORCHFLOW_AUDIT_KEY": "short"}) == (
        "Error: TORCHFLOW_AUDIT_KEY is too short (5 characters); use at least 16 random ones, "
        "e.g. from `openssl rand -hex 32`"
    )
    cli.ok("case", "note", opened["key"], "x", as_="wang.li", env=KEYED)


def test_a_row_edit_and_a_deleted_case_are_reported(cli: Cli, database_url: str) -> None:
    first, second = cli.open_pi("One"), cli.open_pi("Two")
    tamper(database_url, f"UPDATE cases SET state = 'signed' WHERE key = '{first}'")
    tamper(database_url, "DELETE FROM tasks WHERE case_id = "
           f"(SELECT id FROM cases WHERE key = '{second}')")
    tamper(database_url, "DELETE FROM case_events WHERE case_id = "
           f"(SELECT id FROM cases WHERE key = '{second}')")
    tamper(database_url, f"DELETE FROM cases WHERE key = '{second}'")
    run = cli.run("audit", "verify")
    assert run.code == 1 and run.out == ""
    assert run.err.splitlines()[:3] == [
        f"{first}: the case's state is 'signed' but its events say 'lead' "
        "(the case row was changed behind torchflow's back)",
        "database: 1 event(s) of the database are missing (#2 of 1-2): deleted, alone or with "
        "their case",
        f"database: case(s) {second} are missing: numbers up to 2 were handed out for PI-2026",
    ]


def test_checkpoint_then_verify_against_it(cli: Cli, database_url: str, tmp_path: Path) -> None:
    first = cli.open_pi("One")
    cli.open_pi("Two")
    saved = tmp_path / "checkpoint.json"
    run = cli.ok("audit", "checkpoint", saved)
    assert run.out == (
        f"{saved}: 2 case(s), 2 event(s); UNSIGNED (TORCHFLOW_AUDIT_KEY is not set): it proves "
        "nothing unless the file itself is kept where the database's writers cannot edit it\n"
    )
    doc = json.loads(saved.read_text(encoding="utf-8"))
    assert (doc["format"], doc["events"], doc["signature"]) == (
        "torchflow-audit-checkpoint", 2, None)
    cli.ok("case", "note", first, "later work is fine", as_="wang.li")
    assert cli.ok("audit", "verify", "--against", saved).code == 0
    # Everything about the second case removed, numbers and count rewound: only the
    # checkpoint still knows.
    tamper(database_url, "DELETE FROM tasks WHERE case_id = 2")
    tamper(database_url, "DELETE FROM case_events WHERE case_id = 2")
    tamper(database_url, "DELETE FROM cases WHERE id = 2")
    tamper(database_url, "UPDATE key_sequences SET last = 1")
    tamper(database_url, "UPDATE case_events SET gseq = 2 WHERE gseq = 3")
    tamper(database_url, "UPDATE audit_head SET gseq = 2")
    tamper(database_url, "UPDATE cases SET head_hash = (SELECT hash FROM case_events WHERE "
           "case_id = 1 AND seq = 2) WHERE id = 1")
    run = cli.run("audit", "verify", "--against", saved)
    assert run.code == 1
    assert "database: PI-2026-0002: removed since the checkpoint (it had 1 event(s))" \
        in run.err.splitlines()


def test_a_signed_checkpoint(cli: Cli, tmp_path: Path) -> None:
    cli.json("case", "open", "project_introduction", "--title", "Keyed",
             "--field", "enterprise=E", "--field", "industry=other",
             "--field", "lead_source=walk-in", "--field", "planned_investment=1",
             as_="wang.li", env=KEYED)
    saved = tmp_path / "signed.json"
    data = cli.json("audit", "checkpoint", saved, env=KEYED)
    assert data == {"file": str(saved), "cases": 1, "events": 1, "signed": True}
    assert cli.ok("audit", "verify", "--against", saved, env=KEYED).code == 0
    doc = json.loads(saved.read_text(encoding="utf-8"))
    doc["cases"] = {}
    saved.write_text(json.dumps(doc), encoding="utf-8")
    run = cli.run("audit", "verify", "--against", saved, env=KEYED)
    assert run.code == 1
    assert run.err == (
        "database: the checkpoint's signature does not match: the file was edited, or it was "
        "made with another key\n"
    )


def test_a_bad_checkpoint_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert cli.refused("audit", "verify", "--against", missing).startswith(
        f"Error: cannot read the checkpoint {missing}: ")
    junk = tmp_path / "junk.json"
    junk.write_text("{not json", encoding="utf-8")
    assert cli.refused("audit", "verify", "--against", junk) == (
        f"Error: {junk} is not a torchflow audit checkpoint (not JSON)")
    other = tmp_path / "other.json"
    other.write_text("[]", encoding="utf-8")
    assert cli.refused("audit", "verify", "--against", other) == (
        "Error: the file is not a torchflow audit checkpoint")
    assert cli.refused("audit", "checkpoint", tmp_path / "no" / "such" / "dir.json").startswith(
        "Error: cannot write the checkpoint ")


def test_a_deleted_head_stops_writes_in_one_line(cli: Cli, database_url: str) -> None:
    key = cli.open_pi()
    tamper(database_url, "DELETE FROM audit_head")
    assert cli.refused("case", "note", key, "x", as_="wang.li") == (
        "Error: the database has no audit head row (it was deleted); "
        "see `torchflow audit verify` before writing"
    )
    run = cli.run("audit", "verify")
    assert run.code == 1
    assert run.err.splitlines()[0] == (
        "database: the audit head row is missing: it was deleted behind torchflow's back")


def test_a_driver_error_on_the_head_is_one_line(cli: Cli, database_url: str) -> None:
    # The head statement skips SQLAlchemy on SQLite; its errors still come out worded.
    key = cli.open_pi()
    tamper(database_url, "DROP TABLE audit_head")
    line = cli.refused("case", "note", key, "x", as_="wang.li")
    assert line == "Error: the database has no torchflow tables yet; run `torchflow init` first"
