"""Shared fixtures: a real database per test (SQLite file or PostgreSQL database,
each a copy of a migrated template), settings, a controllable clock, people.

TORCHFLOW_TEST_DATABASE picks the backend: unset or "sqlite" for SQLite files,
or a PostgreSQL URL such as postgresql+psycopg://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from msgspec.structs import replace
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from torchflow.config import Settings, load_settings
from torchflow.service.app import App, build_app
from torchflow.service.people.lookup import Actor, resolve_actor
from torchflow.service.people.staff import add_person
from torchflow.store.db import Database
from torchflow.store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
BACKEND = os.environ.get("TORCHFLOW_TEST_DATABASE", "sqlite")


def is_postgres() -> bool:
    return BACKEND.startswith("postgresql")


class Clock:
    """A settable "now" for App: tests move time instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, iso: str) -> datetime:
        self.now = datetime.fromisoformat(iso).astimezone(UTC)
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook secret in the environment, as the service of an office has it:
    a person's webhook channel is refused without it (tests of that delete it)."""
    monkeypatch.setenv("TORCHFLOW_WEBHOOK_SECRET", "test-webhook-secret")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database to copy: a file for SQLite, a TEMPLATE database for PostgreSQL."""
    if not is_postgres():
        path = tmp_path_factory.mktemp("template") / "template.db"
        db = Database(f"sqlite:///{path}", create=True)
        upgrade(db)
        db.dispose()
        yield str(path)
        return
    with _postgres_database("tf_template") as name:
        db = Database(_url_of(name))
        upgrade(db)
        db.dispose()
        yield name


@contextmanager
def _postgres_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A throwaway PostgreSQL database (optionally a copy of ``template``)."""
    admin = create_engine(make_url(BACKEND), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _url_of(name: str) -> str:
    return make_url(BACKEND).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def database_url(template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    if not is_postgres():
        path = tmp_path / "torchflow.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    with _postgres_database("tf", template) as name:
        yield _url_of(name)


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, for migration tests."""
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with _postgres_database("tf_empty") as name:
        yield _url_of(name)


@pytest.fixture
def config_file(tmp_path: Path, database_url: str) -> Path:
    """A config.toml for CLI and subprocess tests, on this test's database."""
    path = tmp_path / "config.toml"
    path.write_text(
        # English, so the suite's assertions read as the code's messages do; the
        # office's Chinese is asserted where it is the point (tests/cli/test_cli_chinese.py).
        '[office]\nlocale = "en"\n\n'
        f'[database]\nurl = "{database_url}"\n\n'
        f'[workflows]\ndirectory = "{WORKFLOWS}"\n\n'
        '[scheduler]\ninterval_seconds = 1\nlease_seconds = 5\nbackoff_base_seconds = 1\n'
        'backoff_max_seconds = 4\nmax_attempts = 3\n\n'
        # A send ends well inside the 5 s lease (config.LEASE_SHARE).
        # The receivers and fakes of these tests listen on 127.0.0.1, which a
        # channel may post to only when the office lists it (channels/guard.py).
        # Each notice on its own and no backlog summaries, as the suite was written
        # for; the office's defaults (digest, summaries) are tested where they are
        # the point (tests/integration/test_notices_live.py).
        '[notify]\nallow_hosts = ["127.0.0.1"]\nmode = "each"\nbacklog_after = 10000\n\n'
        '[notify.smtp]\ntimeout_seconds = 2\n\n[notify.webhook]\ntimeout_seconds = 2\n\n'
        f'[notify.file]\npath = "{tmp_path / "outbox.jsonl"}"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def settings(config_file: Path) -> Settings:
    return load_settings(config_file, env={})


@pytest.fixture
def clock() -> Clock:
    # A Wednesday morning in Beijing, inside the officially covered calendar.
    return Clock(datetime(2026, 3, 4, 1, 0, tzinfo=UTC))


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The wall clock that leases and retry backoff read, settable like ``clock``."""
    from torchflow.service.delivery import dispatch, gate
    from torchflow.service.delivery import ledger as notices

    real = Clock(datetime.now(UTC))
    monkeypatch.setattr(dispatch, "wall_clock", real)
    monkeypatch.setattr(notices, "wall_clock", real)
    monkeypatch.setattr(gate, "wall_clock", real)
    return real


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = build_app(settings, clock=clock)
    yield application
    application.close()


# The fields project_introduction needs to open a case.
PI_FIELDS = {
    "enterprise": "Qingneng Hydrogen Co.",
    "industry": "new energy",
    "lead_source": "referral",
    "planned_investment": "50000",
}


STAFF = [
    ("wang.li", "Wang Li", ["coordinator"]),
    ("zhao.min", "Zhao Min", ["coordinator"]),
    ("chen.jie", "Chen Jie", ["director"]),
    ("liu.yang", "Liu Yang", ["torch_liaison"]),
    ("sun.hao", "Sun Hao", ["expert"]),
]


@pytest.fixture
def staff(app: App) -> dict[str, Actor]:
    """The demo's office: two coordinators, a director, a Torch liaison, an expert."""
    for handle, name, roles in STAFF:
        add_person(app, handle, name=name, roles=roles, email=f"{handle}@zone.example.cn")
    return {handle: resolve_actor(app, handle) for handle, _, _ in STAFF}


@pytest.fixture
def admin(app: App, staff: dict[str, Actor]) -> Actor:
    """An admin, who may change any case's fields and notes (domain/permissions.py)."""
    add_person(app, "office.admin", name="Office Admin", roles=["admin"])
    return resolve_actor(app, "office.admin")


# An admin as a use case sees one, for services that record no actor (a retry).
OFFICE_ADMIN = Actor(0, "office.admin", ("admin",))


@contextmanager
def app_with_workflow(settings: Settings, clock: Clock, folder: Path, name: str,
                      rewrite: Callable[[str], str]) -> Iterator[App]:
    """An application over a copy of the shipped workflows in ``folder`` in which
    the file ``name`` is rewritten (an older or a newer version of it)."""
    shutil.copytree(WORKFLOWS, folder)
    path = folder / name
    path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
    application = build_app(replace(settings, workflows_dir=folder), clock=clock)
    try:
        yield application
    finally:
        application.close()


def with_settings(app: App, **changes: object) -> App:
    """The same app with some settings replaced (e.g. scheduler values)."""
    return replace(app, settings=replace(app.settings, **changes))
