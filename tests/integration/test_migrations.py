"""Schema migrations: from an empty database to head, idempotent, matching the models,
and rows written by an older release surviving the upgrade.

Adding a migration: every revision is upgraded to one step at a time below. To keep
the "no row lost" promise tested, add a SEEDS entry for the new revision (rows as that
release wrote them, through the tables reflected at that revision) when it changes
what a row looks like; older seeds are replayed through the new revision as they are.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from msgspec.structs import replace
from sqlalchemy import Column, Connection, MetaData, String, Table, func, inspect, select
from sqlalchemy.engine import make_url

from tests.conftest import WORKFLOWS, Clock, is_postgres
from torchflow.config import Settings
from torchflow.domain.history import GENESIS, event_hash
from torchflow.domain.loader import load_file
from torchflow.errors import ConfigError
from torchflow.service.app import build_app
from torchflow.service.audit import office as office_audit
from torchflow.service.audit.verify import verify
from torchflow.service.cases.change import advance, open_case
from torchflow.service.cases.read import history, list_cases, show_case
from torchflow.service.people.lookup import resolve_actor
from torchflow.service.people.staff import list_people
from torchflow.store.db import Database
from torchflow.store.migrate import alembic_config, current_revision, head_revision, upgrade
from torchflow.store.models import METADATA

SCRIPT = ScriptDirectory.from_config(alembic_config())
REVISIONS = [rev.revision for rev in reversed(list(SCRIPT.walk_revisions()))]  # oldest first
TABLES = {
    "workflow_versions", "people", "key_sequences", "cases", "case_events", "tasks",
    "notices", "scheduler_marks", "audit_head", "person_logins", "absences", "channel_budgets",
    "access_tokens", "enterprises", "enterprise_contacts", "case_enterprises",
    "office_events", "office_head",
}


@pytest.fixture
def empty_db(empty_database_url: str) -> Iterator[Database]:
    db = Database(empty_database_url, create=True)
    yield db
    db.dispose()


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def differences(db: Database, metadata: MetaData = METADATA) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def test_the_migration_history_is_one_line() -> None:
    assert REVISIONS[0] == "0001"
    assert REVISIONS[-1] == head_revision()
    assert len(SCRIPT.get_heads()) == 1
    for older, newer in itertools.pairwise(REVISIONS):
        assert SCRIPT.get_revision(newer).down_revision == older


def test_upgrade_an_empty_database(empty_db: Database) -> None:
    assert tables(empty_db) == set()
    assert current_revision(empty_db) is None
    assert upgrade(empty_db) == (None, head_revision())
    assert tables(empty_db) == TABLES | {"alembic_version"}
    assert set(METADATA.tables) == TABLES
    assert current_revision(empty_db) == head_revision()


def test_upgrade_twice_is_a_no_op(empty_db: Database) -> None:
    upgrade(empty_db)
    with empty_db.engine.begin() as conn:
        conn.execute(METADATA.tables["key_sequences"].insert(),
                     {"prefix": "PI", "year": 2026, "last": 7})
    assert upgrade(empty_db) == (head_revision(), head_revision())
    assert tables(empty_db) == TABLES | {"alembic_version"}
    with empty_db.engine.connect() as conn:
        assert conn.execute(select(METADATA.tables["key_sequences"])).all() == [
            ("PI", 2026, 7)
        ]
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    assert versions == [(head_revision(),)]


def test_upgrade_one_revision_at_a_time(empty_db: Database) -> None:
    for revision in REVISIONS:
        before = current_revision(empty_db)
        assert upgrade(empty_db, revision) == (before, revision)
    assert tables(empty_db) == TABLES | {"alembic_version"}
    assert differences(empty_db) == []


def test_the_migrations_match_the_models(empty_db: Database) -> None:
    upgrade(empty_db)
    assert differences(empty_db) == []


def test_the_comparison_would_see_a_difference(empty_db: Database) -> None:
    # The check above can fail: a model column the migrations lack is reported.
    upgrade(empty_db)
    changed = MetaData(naming_convention=METADATA.naming_convention)
    for table in METADATA.tables.values():
        table.to_metadata(changed)
    changed.tables["people"].append_column(Column("nickname", String(40), nullable=True))
    found = differences(empty_db, changed)
    assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "people", "nickname")]


def test_an_unmigrated_database_says_so(
    empty_database_url: str, settings: Settings, clock: Clock
) -> None:
    if empty_database_url.startswith("sqlite:///"):
        Path(empty_database_url.removeprefix("sqlite:///")).touch()  # a file without tables
    app = build_app(replace(settings, database_url=empty_database_url), clock=clock)
    try:
        with pytest.raises(ConfigError) as exc:
            list_cases(app)
        assert str(exc.value) == (
            "the database has no torchflow tables yet; run `torchflow init` first"
        )
    finally:
        app.close()


def test_an_unreachable_server_says_so() -> None:
    db = Database("postgresql+psycopg://torchflow@127.0.0.1:1/torchflow",
                  connect_args={"connect_timeout": 5})
    try:
        with pytest.raises(ConfigError) as exc, db.transaction() as s:
            s.execute(select(1))
        assert str(exc.value).startswith("cannot connect to the database "
                                         "postgresql+psycopg://torchflow@127.0.0.1:1/torchflow: "
                                         "connection failed:")
    finally:
        db.dispose()


@pytest.mark.skipif(not is_postgres(), reason="a PostgreSQL server names missing databases")
def test_a_missing_postgres_database_is_not_mistaken_for_missing_tables(
    empty_database_url: str,
) -> None:
    url = make_url(empty_database_url).set(database="tf_no_such_database_at_all")
    db = Database(url.render_as_string(hide_password=False))
    try:
        with pytest.raises(ConfigError) as exc, db.transaction() as s:
            s.execute(select(1))
        message = str(exc.value)
        assert message.startswith("cannot connect to the database postgresql+psycopg://")
        assert 'database "tf_no_such_database_at_all" does not exist' in message
    finally:
        db.dispose()


# -- rows written by an older release ---------------------------------------------------------

AT = datetime(2026, 3, 2, 2, 0, 0, 250000, tzinfo=UTC)  # Monday 10:00 in Beijing
PI_FILE = WORKFLOWS / "project_introduction.toml"


def reflected(conn: Connection) -> dict[str, Table]:
    """The tables exactly as the database has them at its current revision."""
    metadata = MetaData()
    metadata.reflect(conn)
    return dict(metadata.tables)


def stamp(conn: Connection, at: datetime) -> datetime:
    # What the UTC column type writes: aware on PostgreSQL, naive UTC on SQLite.
    return at if conn.dialect.name == "postgresql" else at.replace(tzinfo=None)


def insert(conn: Connection, table: Table, row: dict[str, Any]) -> int:
    """Insert as the application does (ids from the database); the new id."""
    return conn.execute(table.insert().values(row)).inserted_primary_key[0]


def seed_0001(conn: Connection) -> dict[str, Any]:
    """A small office as release 0001 left it: a workflow version, people, a case with
    its opening event and deadline task, a notice, a key sequence, a scheduler mark."""
    t = reflected(conn)
    spec = load_file(PI_FILE)
    at = stamp(conn, AT)
    version_id = insert(conn, t["workflow_versions"], {
        "name": spec.name, "version": spec.version, "digest": spec.digest,
        "source": PI_FILE.read_text(encoding="utf-8"), "registered_at": at,
    })
    owner_id = insert(conn, t["people"], {
        "handle": "wang.li", "name": "Wang Li", "email": "wang.li@zone.example.cn",
        "roles": ["coordinator"], "channel": "file", "address": "", "active": True,
        "created_at": at,
    })
    insert(conn, t["people"], {
        "handle": "chen.jie", "name": "Chen Jie", "email": "", "roles": ["director"],
        "channel": None, "address": "", "active": False, "created_at": at,
    })
    key = "PI-2026-0007"
    fields = {"enterprise": "星河新材料", "industry": "new materials",
              "lead_source": "referral", "planned_investment": 12.5}
    data = {"workflow": spec.name, "version": spec.version, "title": "老项目", "owner": "wang.li",
            "fields": fields, "planned": []}
    digest = event_hash(GENESIS, case_key=key, seq=1, kind="opened", actor="wang.li", at=AT,
                        from_state=None, to_state="lead", data=data)
    case_id = insert(conn, t["cases"], {
        "key": key, "workflow": spec.name, "workflow_version_id": version_id, "state": "lead",
        "previous_state": None, "title": "老项目", "owner_id": owner_id, "fields": fields,
        "opened_at": at, "state_entered_at": at, "closed_at": None,
        "version": 2, "last_seq": 1, "head_hash": digest,
    })
    insert(conn, t["case_events"], {
        "case_id": case_id, "seq": 1, "kind": "opened", "actor": "wang.li", "at": at,
        "from_state": None, "to_state": "lead", "data": data, "prev_hash": GENESIS,
        "hash": digest,
    })
    task_id = insert(conn, t["tasks"], {
        "case_id": case_id, "kind": "deadline", "rule": "lead.deadline", "occurrence": 1,
        "state": "lead", "due_on": date(2026, 3, 16), "window_start": None, "window_end": None,
        "seed": None, "remind": 2, "escalate_to": "director", "assignee_id": owner_id,
        "status": "open", "stage_done": 0, "next_notice_at": at, "created_at": at,
        "closed_at": None, "outcome": "",
    })
    insert(conn, t["notices"], {
        "idempotency_key": f"task:{task_id}:1:upcoming:wang.li:file", "task_id": task_id,
        "kind": "upcoming", "channel": "file", "recipient": "wang.li", "address": "",
        "subject": "提醒", "body": "PI-2026-0007 即将到期", "payload": {"case": key},
        "status": "sent", "attempts": 1, "not_before": at, "lease_owner": None,
        "lease_until": None, "created_at": at, "sent_at": at, "last_error": "",
    })
    conn.execute(t["key_sequences"].insert(), {"prefix": "PI", "year": 2026, "last": 7})
    conn.execute(t["scheduler_marks"].insert(), {"name": "last_sweep", "at": at})
    return {"key": key, "fields": fields, "task_id": task_id}


# revision -> rows as written by the release that shipped that revision
SEEDS: dict[str, Callable[[Connection], dict[str, Any]]] = {"0001": seed_0001}


def count_rows(db: Database) -> dict[str, int]:
    """Rows per table, for the tables the database has at its revision."""
    present = tables(db)
    with db.engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in METADATA.tables.items() if name in present
        }


def test_every_seed_is_for_a_known_revision() -> None:
    assert set(SEEDS) <= set(REVISIONS)
    assert REVISIONS[0] in SEEDS


@pytest.mark.parametrize("revision", sorted(SEEDS))
def test_rows_of_an_older_release_survive_the_upgrade(
    empty_database_url: str, settings: Settings, clock: Clock, revision: str
) -> None:
    db = Database(empty_database_url, create=True)
    try:
        assert upgrade(db, revision) == (None, revision)
        with db.engine.begin() as conn:
            seeded = SEEDS[revision](conn)
        counts = count_rows(db)
        assert counts == {
            "workflow_versions": 1, "people": 2, "key_sequences": 1, "cases": 1,
            "case_events": 1, "tasks": 1, "notices": 1, "scheduler_marks": 1,
        }
        assert upgrade(db) == (revision, head_revision())
        # 0002 adds the database-wide head: one row counting the events already there.
        # 0014 seeds the office chain: one snapshot per person and stored version.
        assert count_rows(db) == {**counts, "audit_head": 1, "person_logins": 0, "absences": 0,
                                   "channel_budgets": 0, "access_tokens": 0,
                                   "enterprises": 0, "enterprise_contacts": 0,
                                   "case_enterprises": 0, "office_events": 3, "office_head": 1}
        with db.engine.connect() as conn:
            assert conn.execute(select(METADATA.tables["audit_head"])).all() == [
                (1, counts["case_events"], None, "", "")
            ]
            events = conn.execute(select(METADATA.tables["case_events"].c["gseq", "scheme"]))
            assert events.all() == [(1, "sha256")]
            cases = conn.execute(select(METADATA.tables["cases"].c.last_event_at)).scalars()
            assert list(cases) == [AT]
    finally:
        db.dispose()

    # The current release reads and continues what the older one wrote.
    app = build_app(replace(settings, database_url=empty_database_url), clock=clock)
    try:
        key = seeded["key"]
        assert verify(app) == [
            {"key": key, "events": 1, "ok": True, "broken_at": None, "reason": None}
        ]
        with app.db.read() as s:  # the office chain's genesis replays into the rows
            assert office_audit.problems(s, None) == []
        view = show_case(app, key)
        assert (view["state"], view["owner"], view["version"]) == ("lead", "wang.li",
                                                                   load_file(PI_FILE).version)
        assert view["fields"] == seeded["fields"]
        assert view["opened_at"] == AT.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()
        assert [(t["rule"], t["occurrence"]) for t in view["tasks"]] == [("lead.deadline", 1)]
        people = {p["handle"]: p for p in list_people(app)}
        assert people["wang.li"]["roles"] == ["coordinator"]
        assert people["chen.jie"]["active"] is False
        actor = resolve_actor(app, "wang.li")
        clock.set("2026-03-04T10:00:00+08:00")
        moved = advance(app, actor, key, "make_contact")
        assert (moved.from_state, moved.to_state, moved.cancelled_tasks) == (
            "lead", "first_contact", [seeded["task_id"]]
        )
        assert [e["seq"] for e in history(app, key)["events"]] == [1, 2]
        assert verify(app)[0]["ok"] is True
        # Numbering continues where the older release stopped.
        opened = open_case(app, actor, "project_introduction", title="新项目", fields={
            "enterprise": "e", "industry": "other", "lead_source": "walk-in",
            "planned_investment": "1",
        })
        assert opened["key"] == "PI-2026-0008"
        # The stored version, same digest as the file.
        assert opened["version"] == load_file(PI_FILE).version
    finally:
        app.close()
