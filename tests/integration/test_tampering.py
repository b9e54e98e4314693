"""Held-out-style tamperings: SQL edits made behind torchflow's back on a real
database (every column of cases and case_events, deletions, insertions,
reorders, a chain recomputed without the key), each of which `audit verify`
must report. The office runs with TORCHFLOW_AUDIT_KEY set, as a deployment that
cares about its audit trail does; what stays invisible without the key is
covered by checkpoints below.

Written against the public schema only, so the same list can be run on an older
release (tampering with a column that release lacks does not apply there).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, delete, func, select, update

from tests.conftest import Clock
from torchflow.domain.history import GENESIS, event_hash
from torchflow.service.app import App
from torchflow.service.audit import verify as audit_service
from torchflow.service.cases.change import add_note, advance, assign, open_case, set_fields
from torchflow.service.people.lookup import Actor
from torchflow.store.models import CASES, EVENTS, KEY_SEQUENCES, NOTICES, TASKS

KEY = "k" * 32
PI_OPEN = {"enterprise": "星河新材料", "industry": "new materials", "lead_source": "referral",
           "planned_investment": "12.5"}
EC_OPEN = {"enterprise": "睿芯微电子", "credit_code": "91320500MA1AB1234C",
           "tech_field": "electronic information"}


def detected(app: App) -> bool:
    """Does `audit verify` (the whole database) report a problem?"""
    if hasattr(audit_service, "audit"):
        return not audit_service.audit(app).ok
    return not all(r["ok"] for r in audit_service.verify(app))


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHFLOW_AUDIT_KEY", KEY)


@pytest.fixture
def office(app: App, staff: dict[str, Actor], clock: Clock, keyed: None) -> dict[str, str]:
    """A: a walked case in the middle; B: another workflow; Z: the newest case."""
    clock.set("2026-03-04T09:15:30+08:00")
    a = open_case(app, staff["wang.li"], "project_introduction", title="新材料基地",
                  fields=PI_OPEN)["key"]
    b = open_case(app, staff["wang.li"], "enterprise_cultivation", title="培育",
                  fields=EC_OPEN)["key"]
    clock.advance(hours=1)
    advance(app, staff["wang.li"], a, "make_contact", note="首次电话")
    add_note(app, staff["wang.li"], a, "备注")
    set_fields(app, staff["wang.li"], a, {"contact_person": "李总"})
    advance(app, staff["wang.li"], a, "negotiate")
    assign(app, staff["wang.li"], a, "zhao.min")
    advance(app, staff["wang.li"], b, "diagnose")
    z = open_case(app, staff["wang.li"], "project_introduction", title="最新项目",
                  fields=PI_OPEN)["key"]
    clock.advance(hours=1)
    advance(app, staff["wang.li"], z, "make_contact")
    assert not detected(app)
    return {"a": a, "b": b, "z": z}


def cid(s: Connection, key: str) -> int:
    return s.execute(select(CASES.c.id).where(CASES.c.key == key)).scalar_one()


def ev(s: Connection, key: str, seq: int) -> Any:
    return (EVENTS.c.case_id == cid(s, key)) & (EVENTS.c.seq == seq)


def last_seq(s: Connection, key: str) -> int:
    return s.execute(select(CASES.c.last_seq).where(CASES.c.key == key)).scalar_one()


def rechain(s: Connection, key: str, edit: Callable[[dict[str, Any]], None] | None = None,
            seq: int | None = None) -> None:
    """The careful forger: edit one event, then recompute every hash from there with
    the plain (unkeyed) scheme the code shows, and fix the case's head."""
    rows = [dict(r._mapping) for r in s.execute(
        select(EVENTS).where(EVENTS.c.case_id == cid(s, key)).order_by(EVENTS.c.seq))]
    prev = GENESIS
    for row in rows:
        if row["seq"] == seq and edit:
            edit(row)
        row["prev_hash"] = prev
        row["hash"] = event_hash(
            prev, case_key=key, seq=row["seq"], kind=row["kind"], actor=row["actor"],
            at=row["at"], from_state=row["from_state"], to_state=row["to_state"],
            data=row["data"], gseq=row["gseq"], entered_by=row["entered_by"],
            db_role=row["db_role"])
        row["scheme"] = "sha256-g"
        values = {k: v for k, v in row.items() if k != "id"}
        s.execute(update(EVENTS).where(EVENTS.c.id == row["id"]).values(values))
        prev = row["hash"]
    s.execute(update(CASES).where(CASES.c.key == key).values(head_hash=prev,
                                                           last_seq=len(rows)))


def set_case(which: str, **values: Any) -> Callable[[Connection, dict[str, str]], None]:
    def run(s: Connection, o: dict[str, str]) -> None:
        s.execute(update(CASES).where(CASES.c.key == o[which]).values(**values))
    return run


def set_event(key: str, seq: int, **values: Any) -> Callable[[Connection, dict[str, str]], None]:
    def run(s: Connection, o: dict[str, str]) -> None:
        s.execute(update(EVENTS).where(ev(s, o[key], seq)).values(**values))
    return run


def drop_last_event(s: Connection, key: str) -> None:
    """Delete a case's last event and rewind the case to the one before."""
    n = last_seq(s, key)
    prev = s.execute(select(EVENTS.c.hash).where(ev(s, key, n - 1))).scalar_one()
    s.execute(delete(EVENTS).where(ev(s, key, n)))
    s.execute(update(CASES).where(CASES.c.key == key)
              .values(last_seq=n - 1, head_hash=prev, version=n))


def delete_case(s: Connection, key: str) -> None:
    case_id = cid(s, key)
    tasks = select(TASKS.c.id).where(TASKS.c.case_id == case_id)
    s.execute(delete(NOTICES).where(NOTICES.c.task_id.in_(tasks)))
    s.execute(delete(TASKS).where(TASKS.c.case_id == case_id))
    s.execute(delete(EVENTS).where(EVENTS.c.case_id == case_id))
    s.execute(delete(CASES).where(CASES.c.id == case_id))


def rewind_head(s: Connection, by: int) -> None:
    """Move the database-wide count back."""
    from torchflow.store.models import AUDIT_HEAD

    s.execute(update(AUDIT_HEAD).values(gseq=AUDIT_HEAD.c.gseq - by))


# -- the tamperings ------------------------------------------------------------------------


def _state(s: Connection, o: dict[str, str]) -> None:
    set_case("a", state="site_inspection")(s, o)


def _fields(s: Connection, o: dict[str, str]) -> None:
    fields = s.execute(select(CASES.c.fields).where(CASES.c.key == o["a"])).scalar_one()
    set_case("a", fields={**fields, "planned_investment": 99999})(s, o)


def _owner(s: Connection, o: dict[str, str]) -> None:
    owner = s.execute(select(CASES.c.owner_id).where(CASES.c.key == o["b"])).scalar_one()
    set_case("a", owner_id=owner)(s, o)


def _times(column: str) -> Callable[[Connection, dict[str, str]], None]:
    def run(s: Connection, o: dict[str, str]) -> None:
        at = s.execute(select(CASES.c[column]).where(CASES.c.key == o["a"])).scalar_one()
        set_case("a", **{column: at - timedelta(days=3)})(s, o)
    return run


def _closed(s: Connection, o: dict[str, str]) -> None:
    at = s.execute(select(CASES.c.state_entered_at).where(CASES.c.key == o["a"])).scalar_one()
    set_case("a", closed_at=at)(s, o)


def _version_id(s: Connection, o: dict[str, str]) -> None:
    other = s.execute(select(CASES.c.workflow_version_id)
                      .where(CASES.c.key == o["b"])).scalar_one()
    set_case("a", workflow_version_id=other)(s, o)


def _rekey(s: Connection, o: dict[str, str]) -> None:
    set_case("a", key="PI-2026-0099")(s, o)


def _event_time(s: Connection, o: dict[str, str]) -> None:
    at = s.execute(select(EVENTS.c.at).where(ev(s, o["a"], 3))).scalar_one()
    set_event("a", 3, at=at - timedelta(hours=1))(s, o)


def _reorder(s: Connection, o: dict[str, str]) -> None:
    case_id = cid(s, o["a"])
    s.execute(update(EVENTS).where(ev(s, o["a"], 3)).values(seq=99))
    s.execute(update(EVENTS).where(ev(s, o["a"], 4)).values(seq=3))
    s.execute(update(EVENTS).where((EVENTS.c.case_id == case_id) & (EVENTS.c.seq == 99))
              .values(seq=4))


def _move_event(s: Connection, o: dict[str, str]) -> None:
    # A's note moved onto B as B's next event, both heads fixed up.
    n = last_seq(s, o["b"])
    head = s.execute(select(EVENTS.c.hash).where(ev(s, o["b"], n))).scalar_one()
    s.execute(update(EVENTS).where(ev(s, o["a"], 3))
              .values(case_id=cid(s, o["b"]), seq=n + 1, prev_hash=head))
    rechain(s, o["a"])
    rechain(s, o["b"])


def _rechained_edit(s: Connection, o: dict[str, str]) -> None:
    def edit(row: dict[str, Any]) -> None:
        row["data"] = {"note": "伪造的备注"}
    rechain(s, o["a"], edit, seq=3)


def _rechained_fields_and_row(s: Connection, o: dict[str, str]) -> None:
    # The full story rewritten: the fields_set event and the row agree on a lie.
    def edit(row: dict[str, Any]) -> None:
        row["data"] = {"fields": {"contact_person": "王总"}, "was": {"contact_person": None}}
    rechain(s, o["a"], edit, seq=4)
    fields = s.execute(select(CASES.c.fields).where(CASES.c.key == o["a"])).scalar_one()
    set_case("a", fields={**fields, "contact_person": "王总"})(s, o)


def _drop_last_of_a(s: Connection, o: dict[str, str]) -> None:
    drop_last_event(s, o["a"])  # the 'assigned' event: the owner stays changed


def _drop_newest_everywhere(s: Connection, o: dict[str, str]) -> None:
    # The newest event of the whole database, with every count put back.
    drop_last_event(s, o["z"])
    set_case("z", state="lead", previous_state=None)(s, o)
    rewind_head(s, 1)


def _forged_append(s: Connection, o: dict[str, str]) -> None:
    n = last_seq(s, o["a"])
    row = dict(s.execute(select(EVENTS).where(ev(s, o["a"], n))).one()._mapping)
    row.pop("id")
    row.update(seq=n + 1, kind="note", data={"note": "补录"}, from_state=None, to_state=None,
               at=row["at"] + timedelta(minutes=5))
    row["gseq"] = s.execute(select(func.max(EVENTS.c.gseq))).scalar_one() + 1
    s.execute(EVENTS.insert().values(row))
    rechain(s, o["a"])


def _delete_case(s: Connection, o: dict[str, str]) -> None:
    delete_case(s, o["a"])


def _delete_newest_case_and_rewind(s: Connection, o: dict[str, str]) -> None:
    n = last_seq(s, o["z"])
    delete_case(s, o["z"])
    s.execute(update(KEY_SEQUENCES).where(KEY_SEQUENCES.c.prefix == "PI")
              .values(last=KEY_SEQUENCES.c.last - 1))
    rewind_head(s, n)


def _swap_gseq(s: Connection, o: dict[str, str]) -> None:
    one = s.execute(select(EVENTS.c.gseq).where(ev(s, o["a"], 2))).scalar_one()
    two = s.execute(select(EVENTS.c.gseq).where(ev(s, o["a"], 3))).scalar_one()
    s.execute(update(EVENTS).where(ev(s, o["a"], 2)).values(gseq=-1))
    s.execute(update(EVENTS).where(ev(s, o["a"], 3)).values(gseq=one))
    s.execute(update(EVENTS).where(ev(s, o["a"], 2)).values(gseq=two))


TAMPERINGS: dict[str, Callable[[Connection, dict[str, str]], None]] = {
    "cases.state": _state,
    "cases.previous_state": set_case("a", previous_state="lead"),
    "cases.fields": _fields,
    "cases.owner_id": _owner,
    "cases.title": set_case("a", title="另一个项目"),
    "cases.closed_at": _closed,
    "cases.state_entered_at": _times("state_entered_at"),
    "cases.opened_at": _times("opened_at"),
    "cases.workflow_version_id": _version_id,
    "cases.key": _rekey,
    "events.data": set_event("a", 3, data={"note": "改过的备注"}),
    "events.actor": set_event("a", 2, actor="chen.jie"),
    # Who really entered it and the database login (migration 0009), set or changed.
    "events.entered_by": set_event("a", 2, entered_by="chen.jie"),
    "events.db_role": set_event("a", 2, db_role="intruder"),
    "events.at": _event_time,
    "events.kind": set_event("a", 3, kind="contact"),
    "events.to_state": set_event("a", 5, to_state="site_inspection"),
    "events.hash": set_event("a", 6, hash="f" * 64),
    "events.seq (two swapped)": _reorder,
    "events.case_id (moved to another case)": _move_event,
    "event edited, chain recomputed without the key": _rechained_edit,
    "event and case row rewritten together, chain recomputed": _rechained_fields_and_row,
    "last event of a case deleted, last_seq and head fixed": _drop_last_of_a,
    "newest event of the database deleted, every count rewound": _drop_newest_everywhere,
    "forged event appended, chain and head fixed": _forged_append,
    "a whole case deleted": _delete_case,
    "the newest case deleted, key numbers and counts rewound": _delete_newest_case_and_rewind,
    "events.gseq (two swapped)": _swap_gseq,
    "cases.workflow": set_case("a", workflow="talent_docking"),
    "cases.version": set_case("a", version=99),
    "cases.head_hash": set_case("a", head_hash="e" * 64),
    "cases.last_event_at": _times("last_event_at"),
    "events.from_state": set_event("a", 5, from_state="lead"),
    "events.prev_hash": set_event("a", 4, prev_hash="d" * 64),
    "events.scheme (keyed marked plain)": set_event("a", 3, scheme="sha256-g"),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_every_tampering_is_detected(app: App, office: dict[str, str], name: str) -> None:
    with app.db.transaction() as s:
        TAMPERINGS[name](s, office)
    assert detected(app), name


def test_there_are_enough_tamperings() -> None:
    assert len(TAMPERINGS) >= 24


# -- what names the problem ----------------------------------------------------------------


def test_a_row_edit_is_named(app: App, office: dict[str, str]) -> None:
    with app.db.transaction() as s:
        _state(s, office)
    report = audit_service.audit(app)
    [broken] = [c for c in report.cases if not c["ok"]]
    assert broken["key"] == office["a"]
    assert broken["reason"] == (
        "the case's state is 'site_inspection' but its events say 'negotiation' "
        "(the case row was changed behind torchflow's back)"
    )


def test_a_deleted_case_is_named(app: App, office: dict[str, str]) -> None:
    with app.db.transaction() as s:
        _delete_case(s, office)
    problems = audit_service.audit(app).problems
    assert problems[0].startswith("6 event(s) of the database are missing (#1, #3, #4, #5, #6")
    assert problems[-1] == (
        f"case(s) {office['a']} are missing: numbers up to 2 were handed out for PI-2026"
    )


def test_a_rewound_head_needs_the_key(app: App, office: dict[str, str]) -> None:
    with app.db.transaction() as s:
        _drop_newest_everywhere(s, office)
    assert audit_service.audit(app).problems == [
        "the database-wide head (event #9) is not signed with the key: "
        "rewound or rewritten behind torchflow's back"
    ]


def test_a_wrong_key_is_named(app: App, office: dict[str, str]) -> None:
    report = audit_service.audit(app, audit_key=b"another key, 16+ chars")
    assert not report.ok
    assert report.problems == [
        "TORCHFLOW_AUDIT_KEY is not the key this database's history was written with"
    ]
    assert report.cases[0]["reason"].startswith("its content was changed after it was written "
                                                "(or TORCHFLOW_AUDIT_KEY is not the key")


# -- without a key, and checkpoints ---------------------------------------------------------


@pytest.fixture
def unkeyed_office(app: App, staff: dict[str, Actor], clock: Clock) -> dict[str, str]:
    clock.set("2026-03-04T09:15:30+08:00")
    keys = {}
    for name in ("a", "z"):
        keys[name] = open_case(app, staff["wang.li"], "project_introduction", title=name,
                               fields=PI_OPEN)["key"]
        advance(app, staff["wang.li"], keys[name], "make_contact")
        if name == "a":
            add_note(app, staff["wang.li"], keys["a"], "备注")
    return keys


def test_unkeyed_verify_says_what_it_cannot_see(app: App, unkeyed_office: dict[str, str]) -> None:
    report = audit_service.audit(app)
    assert report.ok and not report.keyed
    assert report.notes == [audit_service.UNKEYED]


def test_a_recomputed_chain_is_invisible_without_a_key_but_not_to_a_checkpoint(
    app: App, unkeyed_office: dict[str, str]
) -> None:
    saved = json.loads(json.dumps(audit_service.checkpoint(app)))
    assert saved["signature"] is None
    with app.db.transaction() as s:
        _rechained_edit(s, unkeyed_office)
    assert audit_service.audit(app).ok  # what UNKEYED warns about
    report = audit_service.audit(app, against=saved)
    assert report.problems == [
        f"{unkeyed_office['a']}: its history up to event #3 was rewritten since the checkpoint"
    ]
    assert not report.ok
    assert "the checkpoint is unsigned" in report.notes[-1]


def test_a_deleted_newest_case_shows_against_a_checkpoint(
    app: App, unkeyed_office: dict[str, str]
) -> None:
    saved = audit_service.checkpoint(app)
    with app.db.transaction() as s:
        _delete_newest_case_and_rewind(s, unkeyed_office)
    assert audit_service.audit(app).ok
    assert audit_service.audit(app, against=saved).problems == [
        f"{unkeyed_office['z']}: removed since the checkpoint (it had 2 event(s))",
        "the database has 3 event(s), 5 at the checkpoint: events removed and the count rewound",
    ]


def test_later_work_is_not_a_change_against_a_checkpoint(
    app: App, staff: dict[str, Actor], office: dict[str, str]
) -> None:
    saved = audit_service.checkpoint(app)
    assert saved["signature"]["scheme"] == "hmac-sha256"
    add_note(app, staff["zhao.min"], office["a"], "之后")  # A's owner since the assign
    open_case(app, staff["wang.li"], "project_introduction", title="新", fields=PI_OPEN)
    report = audit_service.audit(app, against=saved)
    assert report.ok, report.problems


def test_an_edited_checkpoint_is_refused(app: App, office: dict[str, str]) -> None:
    saved = audit_service.checkpoint(app)
    saved["events"] -= 1
    assert audit_service.audit(app, against=saved).problems == [
        "the checkpoint's signature does not match: the file was edited, or it was made with "
        "another key"
    ]


def test_keyed_events_rewritten_without_the_key_show_against_a_checkpoint(
    app: App, office: dict[str, str]
) -> None:
    saved = audit_service.checkpoint(app)
    with app.db.transaction() as s:
        _rechained_edit(s, office)
    problems = audit_service.audit(app, against=saved).problems
    assert f"{office['a']}: its history up to event #6 was rewritten since the checkpoint" \
        in problems
    assert any("keyed event(s) at the checkpoint" in p for p in problems)
