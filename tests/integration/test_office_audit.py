"""The office's own data in the audit (issue 14): SQL edits behind torchflow's back
to people, roles, logins, absences, notice settings, feed and access tokens and
stored workflow sources, each reported by `audit verify` (and against a
checkpoint made before), on a real SQLite file and a real PostgreSQL database;
the office chain itself (its events and head) tampered with; an office upgraded
from 0013 verifying as it is.

Written against the tables only: each tampering is what someone holding the
database's credentials could do with `sqlite3` or `psql`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import Connection, delete, func, insert, select, update

from tests.conftest import PI_FIELDS, WORKFLOWS, Clock
from tests.integration.test_migrations import reflected, stamp
from torchflow.config import Settings
from torchflow.domain.history import GENESIS, event_hash
from torchflow.domain.loader import load_file
from torchflow.domain.office import CHAIN
from torchflow.errors import ConfigError
from torchflow.service.app import App, build_app
from torchflow.service.audit import office as office_audit
from torchflow.service.audit.verify import audit, checkpoint
from torchflow.service.cases.change import open_case
from torchflow.service.followups.feeds import rotate_token
from torchflow.service.people import tokens
from torchflow.service.people.absences import end_absence, record_absence
from torchflow.service.people.history import person_history
from torchflow.service.people.lookup import Actor, resolve_actor
from torchflow.service.people.notify import set_notify
from torchflow.service.people.staff import add_person, edit_person, set_active
from torchflow.store.db import Database
from torchflow.store.migrate import upgrade
from torchflow.store.models import (
    ABSENCES,
    ACCESS_TOKENS,
    OFFICE_EVENTS,
    OFFICE_HEAD,
    PEOPLE,
    PERSON_LOGINS,
    WORKFLOW_VERSIONS,
)

KEY = "office-audit-key-" + "k" * 16
OFFICE = [("office.admin", "Office Admin", ["admin"]), ("wang.li", "Wang Li", ["coordinator"]),
          ("zhao.min", "Zhao Min", ["coordinator"]), ("chen.jie", "Chen Jie", ["director"]),
          ("sun.hao", "Sun Hao", ["expert"])]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHFLOW_AUDIT_KEY", KEY)


def walk_office(app: App, clock: Clock) -> dict[str, Actor]:
    """An office's own data, each kind changed through torchflow at least once."""
    clock.set("2026-03-02T09:00:00+08:00")
    for handle, name, roles in OFFICE:
        add_person(app, handle, name=name, roles=roles, logins=[handle])
    people = {handle: resolve_actor(app, handle) for handle, _, _ in OFFICE}
    admin = people["office.admin"]
    clock.advance(hours=1)
    edit_person(app, "wang.li", add_roles=["director"], add_logins=["wl"], actor=admin)
    record_absence(app, admin, "zhao.min", starts=date(2026, 3, 9), ends=date(2026, 3, 13),
                   substitute="wang.li", reason="出差")
    record_absence(app, admin, "sun.hao", starts=date(2026, 3, 3), ends=date(2026, 3, 6),
                   substitute="chen.jie")
    end_absence(app, admin, "sun.hao")
    set_notify(app, admin, "wang.li", notify="digest")
    rotate_token(app, admin, "wang.li")
    tokens.create(app, admin, "wang.li", label="laptop")
    gone = tokens.create(app, admin, "zhao.min", label="old")
    tokens.revoke(app, admin, gone["id"])
    open_case(app, people["wang.li"], "project_introduction", title="新材料基地",
              fields=PI_FIELDS)
    return people


@pytest.fixture
def office(app: App, clock: Clock, keyed: None) -> dict[str, Actor]:
    """An office keyed from its first day, as a server's is."""
    people = walk_office(app, clock)
    report = audit(app)
    assert report.ok, report.as_dict()
    return people


def pid(s: Connection, handle: str) -> int:
    return s.execute(select(PEOPLE.c.id).where(PEOPLE.c.handle == handle)).scalar_one()


def newest(s: Connection, table: Any) -> Any:
    return s.execute(select(func.max(table.c.id))).scalar_one()


AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

Tampering = Callable[[Connection], Any]
TAMPERINGS: dict[str, Tampering] = {
    # people and their roles
    "people: admin role given": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "wang.li").values(roles=["admin", "coordinator", "director"])),
    "people: director role deleted": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "chen.jie").values(roles=[])),
    "people: deactivated": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "zhao.min").values(active=False)),
    "people: name": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "zhao.min").values(name="Zhao M.")),
    "people: channel address": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "wang.li").values(channel="webhook",
                                             address="http://169.254.169.254/x")),
    "people: platform id": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "wang.li").values(platform_ids={"wecom": "boss"})),
    "people: inserted": lambda s: s.execute(insert(PEOPLE).values(
        handle="mallory", name="M", email="", roles=["admin"], channel=None, address="",
        active=True, created_at=AT)),
    "people: deleted": lambda s: (
        s.execute(delete(PERSON_LOGINS).where(PERSON_LOGINS.c.person_id == pid(s, "sun.hao"))),
        s.execute(delete(ABSENCES).where(ABSENCES.c.person_id == pid(s, "sun.hao"))),
        s.execute(delete(PEOPLE).where(PEOPLE.c.handle == "sun.hao"))),
    # logins
    "logins: moved to the admin": lambda s: s.execute(update(PERSON_LOGINS).where(
        PERSON_LOGINS.c.login == "wang.li").values(person_id=pid(s, "office.admin"))),
    "logins: added": lambda s: s.execute(insert(PERSON_LOGINS).values(
        person_id=pid(s, "office.admin"), login="mallory")),
    "logins: deleted": lambda s: s.execute(delete(PERSON_LOGINS).where(
        PERSON_LOGINS.c.login == "wl")),
    # absences
    "absences: substitute": lambda s: s.execute(update(ABSENCES).where(
        ABSENCES.c.person_id == pid(s, "zhao.min")).values(substitute_id=pid(s, "chen.jie"))),
    "absences: dates": lambda s: s.execute(update(ABSENCES).where(
        ABSENCES.c.person_id == pid(s, "zhao.min")).values(ends=date(2026, 12, 31))),
    "absences: ended undone": lambda s: s.execute(update(ABSENCES).where(
        ABSENCES.c.person_id == pid(s, "sun.hao")).values(ended_at=None)),
    "absences: deleted": lambda s: s.execute(delete(ABSENCES).where(
        ABSENCES.c.person_id == pid(s, "zhao.min"))),
    "absences: inserted": lambda s: s.execute(insert(ABSENCES).values(
        person_id=pid(s, "chen.jie"), starts=date(2026, 3, 16), ends=date(2026, 3, 20),
        substitute_id=pid(s, "wang.li"), reason="", created_by="office.admin", created_at=AT)),
    # notice settings
    "notify: each instead of digest": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "wang.li").values(notify="each")),
    "notify: quiet hours": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "wang.li").values(quiet_start="00:00", quiet_end="23:59")),
    "notify: fallback": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "zhao.min").values(fallback_channel="webhook",
                                              fallback_address="http://10.0.0.1/",
                                              fallback_after=1)),
    # feed and access tokens
    "feed token: replaced": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "wang.li").values(feed_token="0" * 32)),
    "feed token: given": lambda s: s.execute(update(PEOPLE).where(
        PEOPLE.c.handle == "chen.jie").values(feed_token="1" * 32)),
    "access token: expiry extended": lambda s: s.execute(update(ACCESS_TOKENS).values(
        expires_at=datetime(2099, 1, 1, tzinfo=UTC))),
    "access token: revocation undone": lambda s: s.execute(update(ACCESS_TOKENS).where(
        ACCESS_TOKENS.c.revoked_at.is_not(None)).values(revoked_at=None, revoked_by=None)),
    "access token: moved to the admin": lambda s: s.execute(update(ACCESS_TOKENS).values(
        person_id=pid(s, "office.admin"))),
    "access token: secret replaced": lambda s: s.execute(update(ACCESS_TOKENS).where(
        ACCESS_TOKENS.c.id == newest(s, ACCESS_TOKENS)).values(secret_hash="a" * 64)),
    "access token: inserted": lambda s: s.execute(insert(ACCESS_TOKENS).values(
        person_id=pid(s, "office.admin"), label="", secret_hash="b" * 64,
        created_by="office.admin", created_at=AT, expires_at=datetime(2099, 1, 1, tzinfo=UTC))),
    "access token: deleted": lambda s: s.execute(delete(ACCESS_TOKENS).where(
        ACCESS_TOKENS.c.revoked_at.is_(None))),
    # stored workflow versions
    "workflow: roles line dropped from the source": lambda s: s.execute(
        update(WORKFLOW_VERSIONS).values(
            source=func.replace(WORKFLOW_VERSIONS.c.source, 'roles = ["director"]', ""))),
    "workflow: source and digest rewritten": lambda s: s.execute(
        update(WORKFLOW_VERSIONS).values(
            source=func.replace(WORKFLOW_VERSIONS.c.source, 'roles = ["director"]', ""),
            digest="c" * 64)),
    "workflow: version inserted": lambda s: s.execute(insert(WORKFLOW_VERSIONS).values(
        name="project_introduction", version=99, digest="d" * 64, source="", registered_at=AT)),
    # the office chain itself
    "office chain: newest event deleted": lambda s: s.execute(delete(OFFICE_EVENTS).where(
        OFFICE_EVENTS.c.seq == select(func.max(OFFICE_EVENTS.c.seq)).scalar_subquery())),
    "office chain: newest event deleted, head rewound": lambda s: _rewind(s),
    "office chain: an event's snapshot edited": lambda s: s.execute(update(OFFICE_EVENTS).where(
        OFFICE_EVENTS.c.seq == 2).values(data={"handle": "wang.li"})),
    "office chain: an event's actor edited": lambda s: s.execute(update(OFFICE_EVENTS).where(
        OFFICE_EVENTS.c.seq == 6).values(actor="chen.jie")),
    "office chain: head deleted": lambda s: s.execute(delete(OFFICE_HEAD)),
    "office chain: an event re-chained without the key": lambda s: _forge(s),
}


def _rewind(s: Connection) -> None:
    last = s.execute(select(func.max(OFFICE_EVENTS.c.seq))).scalar_one()
    prev = s.execute(select(OFFICE_EVENTS.c.prev_hash).where(OFFICE_EVENTS.c.seq == last)
                     ).scalar_one()
    s.execute(delete(OFFICE_EVENTS).where(OFFICE_EVENTS.c.seq == last))
    s.execute(update(OFFICE_HEAD).values(seq=last - 1, hash=prev))


def _forge(s: Connection) -> None:
    """A row edit made to agree with a new newest event, hashed without the key."""
    s.execute(update(PEOPLE).where(PEOPLE.c.handle == "wang.li").values(roles=["admin"]))
    head = s.execute(select(OFFICE_HEAD)).one()
    last = s.execute(select(OFFICE_EVENTS).where(OFFICE_EVENTS.c.subject == "person",
                                                 OFFICE_EVENTS.c.subject_id == pid(s, "wang.li"))
                     .order_by(OFFICE_EVENTS.c.seq.desc())).first()
    assert last is not None
    data = {**last.data, "roles": ["admin"]}
    seq = head.seq + 1
    digest = event_hash(head.hash, case_key=CHAIN, seq=seq, kind="roles_changed",
                        actor="office.admin", at=AT, from_state="person",
                        to_state=str(last.subject_id), data=data, gseq=seq)
    s.execute(insert(OFFICE_EVENTS).values(
        seq=seq, kind="roles_changed", subject="person", subject_id=last.subject_id,
        person_id=last.subject_id, actor="office.admin", at=AT, data=data,
        prev_hash=head.hash, hash=digest, scheme="sha256-g"))
    s.execute(update(OFFICE_HEAD).values(seq=seq, hash=digest))


def _rewrite_plain(s: Connection) -> None:
    """wang.li made admin, and his history rewritten to say so since his last
    change: every later hash recomputed, as anyone can without a key."""
    s.execute(update(PEOPLE).where(PEOPLE.c.handle == "wang.li").values(roles=["admin"]))
    rows = s.execute(select(OFFICE_EVENTS).order_by(OFFICE_EVENTS.c.seq)).all()
    mine = max(r.seq for r in rows if r.subject == "person" and r.subject_id == pid(s, "wang.li"))
    prev = rows[mine - 2].hash if mine > 1 else GENESIS
    for r in rows[mine - 1:]:
        data = {**r.data, "roles": ["admin"]} if r.seq == mine else r.data
        digest = event_hash(prev, case_key=CHAIN, seq=r.seq, kind=r.kind, actor=r.actor,
                            at=r.at, from_state=r.subject, to_state=str(r.subject_id),
                            data=data, gseq=r.seq, entered_by=r.entered_by, db_role=r.db_role,
                            auth=r.auth)
        s.execute(update(OFFICE_EVENTS).where(OFFICE_EVENTS.c.seq == r.seq).values(
            data=data, prev_hash=prev, hash=digest))
        prev = digest
    s.execute(update(OFFICE_HEAD).values(hash=prev))


def tamper(app: App, change: Tampering) -> None:
    with app.db.transaction() as s:
        change(s)


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_every_tampering_of_the_office_s_data_is_caught(
        app: App, office: dict[str, Actor], name: str) -> None:
    before = checkpoint(app)
    tamper(app, TAMPERINGS[name])
    report = audit(app)
    assert not report.ok, name
    assert all(c["ok"] for c in report.cases)  # the cases were not touched
    assert not audit(app, against=before).ok


def test_there_are_enough_tamperings() -> None:
    kinds = {name.split(":")[0] for name in TAMPERINGS}
    assert kinds == {"people", "logins", "absences", "notify", "feed token", "access token",
                     "workflow", "office chain"}
    assert len(TAMPERINGS) >= 30


def problems(app: App) -> list[str]:
    return [str(p) for p in audit(app).problems]


def test_a_login_moved_to_the_admin_is_named(app: App, office: dict[str, Actor]) -> None:
    tamper(app, TAMPERINGS["logins: moved to the admin"])
    assert problems(app) == [
        "person office.admin: logins is ['office.admin', 'wang.li'], its history says "
        "['office.admin']: changed behind torchflow's back",
        "person wang.li: logins is ['wl'], its history says ['wang.li', 'wl']: changed behind "
        "torchflow's back",
    ]


def test_a_stored_source_edit_is_named(app: App, office: dict[str, Actor]) -> None:
    tamper(app, TAMPERINGS["workflow: roles line dropped from the source"])
    [problem] = problems(app)
    assert problem.startswith("stored workflow version project_introduction v")
    assert ": source is " in problem and problem.endswith("changed behind torchflow's back")


def test_a_deleted_and_an_added_row_are_named(app: App, office: dict[str, Actor]) -> None:
    tamper(app, TAMPERINGS["absences: deleted"])
    tamper(app, TAMPERINGS["people: inserted"])
    found = problems(app)
    assert len(found) == 2
    assert found[0].startswith("absence #") and found[0].endswith(
        ": deleted behind torchflow's back (its history says it exists)")
    assert found[1] == ("person mallory: not in the office's history: added behind "
                        "torchflow's back")


def test_a_rewound_office_head_needs_the_key(app: App, office: dict[str, Actor]) -> None:
    tamper(app, TAMPERINGS["office chain: newest event deleted, head rewound"])
    found = problems(app)
    assert any("not signed with the key" in p for p in found), found


def test_untampered_and_later_work_verify(app: App, office: dict[str, Actor]) -> None:
    before = checkpoint(app)
    assert before["office"]["events"] > 10
    admin = office["office.admin"]
    edit_person(app, "sun.hao", add_roles=["coordinator"], actor=admin)
    set_active(app, "sun.hao", False, actor=admin)
    report = audit(app, against=before)
    assert report.ok, report.as_dict()
    assert report.office_events == before["office"]["events"] + 2


def test_an_edit_that_changes_nothing_is_no_event(app: App, office: dict[str, Actor]) -> None:
    admin = office["office.admin"]
    count = checkpoint(app)["office"]["events"]
    edit_person(app, "sun.hao", name="Sun Hao", actor=admin)  # his name already
    edit_person(app, "sun.hao", add_roles=[], remove_logins=[], actor=admin)
    assert checkpoint(app)["office"]["events"] == count
    edit_person(app, "sun.hao", name="Sun Hao (Park office)", actor=admin)
    assert checkpoint(app)["office"]["events"] == count + 1


def test_an_unkeyed_chain_rewritten_whole_shows_only_against_a_checkpoint(
        app: App, clock: Clock) -> None:
    walk_office(app, clock)
    before = checkpoint(app)
    assert before["signature"] is None
    tamper(app, _rewrite_plain)
    assert audit(app).ok  # anyone can recompute a plain chain: the checkpoint is the defence
    assert [str(p) for p in audit(app, against=before).problems] == [
        f"the office's history up to event #{before['office']['events']} was rewritten since "
        "the checkpoint"]


def test_a_keyed_office_refuses_a_writer_without_the_key(
        app: App, office: dict[str, Actor], monkeypatch: pytest.MonkeyPatch) -> None:
    count = checkpoint(app)["office"]["events"]
    monkeypatch.delenv("TORCHFLOW_AUDIT_KEY")
    with pytest.raises(ConfigError, match="TORCHFLOW_AUDIT_KEY"):
        edit_person(app, "sun.hao", add_roles=["admin"], actor=office["office.admin"])
    monkeypatch.setenv("TORCHFLOW_AUDIT_KEY", "another key, long enough")
    with pytest.raises(ConfigError, match="not the key"):
        edit_person(app, "sun.hao", add_roles=["admin"], actor=office["office.admin"])
    monkeypatch.setenv("TORCHFLOW_AUDIT_KEY", KEY)
    with app.db.read() as s:  # nothing half-written
        assert s.execute(select(PEOPLE.c.roles).where(PEOPLE.c.handle == "sun.hao")
                         ).scalar_one() == ["expert"]
    assert checkpoint(app)["office"]["events"] == count
    assert audit(app).ok


def test_each_event_records_who_and_how(app: App, office: dict[str, Actor]) -> None:
    admin = office["office.admin"]
    acting_as = replace(office["chen.jie"], entered_by=admin.handle)
    edit_person(app, "wang.li", remove_roles=["director"], actor=acting_as)
    events = person_history(app, "wang.li")["events"]
    kinds = [e["kind"] for e in events]
    assert kinds == ["person_added", "roles_changed", "notify_changed", "feed_token_rotated",
                     "token_issued", "roles_changed"]
    last = events[-1]
    assert (last["actor"], last["entered_by"]) == ("chen.jie", "office.admin")
    assert last["changes"] == [{"field": "roles", "was": ["coordinator", "director"],
                                "now": ["coordinator"]}]
    with app.db.read() as s:
        rows = s.execute(select(OFFICE_EVENTS.c.scheme).distinct()).scalars().all()
    assert rows == ["hmac-sha256-g"]


# -- an office upgraded from 0013 ------------------------------------------------------------


def seed_0013(conn: Connection) -> None:
    """People, a login, an absence, an access token and a stored version, as 0013 left them."""
    t = reflected(conn)
    at = stamp(conn, AT)
    spec = load_file(WORKFLOWS / "project_introduction.toml")
    conn.execute(t["workflow_versions"].insert().values(
        name=spec.name, version=spec.version, digest=spec.digest, source=spec.source,
        registered_at=at))
    for handle, roles in (("office.admin", ["admin"]), ("wang.li", ["coordinator"]),
                          ("zhao.min", ["coordinator"])):
        conn.execute(t["people"].insert().values(
            handle=handle, name=handle, email="", roles=roles, channel="file", address="",
            active=True, created_at=at, notify="digest" if handle == "wang.li" else None,
            feed_token="f" * 32 if handle == "wang.li" else None))
    ids = dict(conn.execute(select(t["people"].c.handle, t["people"].c.id)).all())
    conn.execute(t["person_logins"].insert().values(person_id=ids["office.admin"], login="root"))
    conn.execute(t["absences"].insert().values(
        person_id=ids["wang.li"], starts=date(2026, 3, 9), ends=date(2026, 3, 10),
        substitute_id=ids["zhao.min"], reason="", created_by="office.admin", created_at=at))
    conn.execute(t["access_tokens"].insert().values(
        person_id=ids["wang.li"], label="laptop", secret_hash="e" * 64,
        created_by="office.admin", created_at=at, expires_at=stamp(conn, AT + timedelta(90))))


@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
def test_an_office_upgraded_from_0013_verifies_and_then_catches_tampering(
        empty_database_url: str, settings: Settings, clock: Clock,
        monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    if key:
        monkeypatch.setenv("TORCHFLOW_AUDIT_KEY", key)
    db = Database(empty_database_url, create=True)
    try:
        upgrade(db, "0013")
        with db.engine.begin() as conn:
            seed_0013(conn)
        upgrade(db)
    finally:
        db.dispose()
    app = build_app(replace(settings, database_url=empty_database_url), clock=clock)
    try:
        report = audit(app)
        assert report.ok, report.as_dict()
        with app.db.read() as s:
            rows = s.execute(select(OFFICE_EVENTS.c.kind, OFFICE_EVENTS.c.subject,
                                    OFFICE_EVENTS.c.scheme)).all()
        assert sorted({(k, sub) for k, sub, _ in rows}) == [
            ("snapshot", "absence"), ("snapshot", "person"), ("snapshot", "token"),
            ("snapshot", "workflow")]
        assert len(rows) == 6
        assert {scheme for _, _, scheme in rows} == {"hmac-sha256-g" if key else "sha256-g"}
        history = person_history(app, "wang.li")["events"]
        assert [(e["kind"], e["subject"]) for e in history] == [
            ("snapshot", "person"), ("snapshot", "absence"), ("snapshot", "token")]
        # Work goes on, and an SQL edit now shows.
        edit_person(app, "wang.li", add_roles=["director"],
                    actor=resolve_actor(app, "office.admin"))
        assert audit(app).ok
        tamper(app, lambda s: s.execute(update(PERSON_LOGINS).values(
            person_id=s.execute(select(PEOPLE.c.id).where(PEOPLE.c.handle == "wang.li")
                                ).scalar_one())))
        assert not audit(app).ok
    finally:
        app.close()


def test_the_office_head_row_is_checked(app: App, office: dict[str, Actor]) -> None:
    with app.db.read() as s:
        head = s.execute(select(OFFICE_HEAD)).one()
        count = s.execute(select(func.count()).select_from(OFFICE_EVENTS)).scalar_one()
        last = s.execute(select(OFFICE_EVENTS.c.hash).where(OFFICE_EVENTS.c.seq == count)
                         ).scalar_one()
        first = s.execute(select(OFFICE_EVENTS.c.prev_hash).where(OFFICE_EVENTS.c.seq == 1)
                          ).scalar_one()
    assert (head.id, head.seq, head.hash) == (office_audit.HEAD_ID, count, last)
    assert head.keyed_since == 1 and head.mac
    assert first == GENESIS
