"""Open cases moved to a new workflow version on a real database: applied case by
case and recorded on the hash chain, a case that changed meanwhile left alone,
pending notices withdrawn (a leased one deferred), and a move reverted."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import select

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, WORKFLOWS, Clock
from torchflow.config import Settings
from torchflow.errors import NotFound, Refused
from torchflow.service.app import App, build_app
from torchflow.service.audit.verify import verify
from torchflow.service.cases.change import advance, open_case
from torchflow.service.cases.read import history, show_case
from torchflow.service.delivery.ledger import claim
from torchflow.service.delivery.sweep import sweep
from torchflow.service.followups.replan import stale_count
from torchflow.service.people.lookup import Actor
from torchflow.service.workflows import version_moves as vm
from torchflow.store.models import CASES, NOTICES, TASKS

PI = "project_introduction.toml"


def version_2(folder: Path) -> None:
    """The version after the shipped one (4): negotiation renamed talks;
    first_contact's contact every 3 workdays (was 5); a contact added to lead;
    expected_jobs required to open."""
    path = folder / PI
    text = path.read_text(encoding="utf-8")
    changes = [
        ("version = 3", "version = 4"),
        ("[states.negotiation]", "[states.talks]"),
        ('"negotiation"', '"talks"'),
        ('contact = { every = "5 workdays", remind = "1 workday" }\n'
         'deadline = { within = "30 workdays"',
         'contact = { every = "3 workdays", remind = "1 workday" }\n'
         'deadline = { within = "30 workdays"'),
        ('[states.lead]\ntitle = "线索"\n',
         '[states.lead]\ntitle = "线索"\ncontact = { every = "5 workdays" }\n'),
        ('title_en = "Expected jobs"\n', 'title_en = "Expected jobs"\nrequired = true\n'),
    ]
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def v2_app(settings: Settings, clock: Clock, tmp_path: Path) -> Iterator[App]:
    """Another process, in effect, reading version 4 of project_introduction."""
    folder = tmp_path / "workflows-v2"
    shutil.copytree(WORKFLOWS, folder)
    version_2(folder)
    app = build_app(replace(settings, workflows_dir=folder), clock=clock)
    yield app
    app.close()


def plan2(app: App, **kwargs: Any) -> vm.Plan:
    return vm.plan(app, OFFICE_ADMIN, "project_introduction", 4,
                   mapping={"negotiation": "talks"}, **kwargs)


def three_cases(app: App, staff: dict[str, Actor]) -> tuple[str, str, str]:
    """One case in lead, one in first_contact, one in negotiation (all on version 3, as shipped)."""
    wang = staff["wang.li"]
    keys = [open_case(app, wang, "project_introduction", title=t, fields=PI_FIELDS)["key"]
            for t in ("lead", "first contact", "negotiation")]
    advance(app, wang, keys[1], "make_contact")
    advance(app, wang, keys[2], "make_contact")
    advance(app, wang, keys[2], "negotiate", fields={"contact_person": "Ms Li"})
    return keys[0], keys[1], keys[2]


def tasks_of(app: App, key: str, status: str = "open") -> dict[str, Any]:
    with app.db.transaction() as s:
        rows = s.execute(select(TASKS).join(CASES, CASES.c.id == TASKS.c.case_id)
                         .where(CASES.c.key == key, TASKS.c.status == status)
                         .order_by(TASKS.c.id))
        return {r.rule: r for r in rows}


def notices_of(app: App, task_id: int) -> list[Any]:
    with app.db.transaction() as s:
        return list(s.execute(select(NOTICES).where(NOTICES.c.task_id == task_id)
                              .order_by(NOTICES.c.id)))


def test_apply_moves_each_case_recorded_on_its_chain(
    app: App, v2_app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    lead, first, talks = three_cases(app, staff)
    before = tasks_of(app, first)
    assert before["first_contact.contact"].due_on.isoformat() == "2026-03-11"
    plan = plan2(v2_app)
    view = vm.plan_view(plan)
    assert view["mapping"] == {"lead": "lead", "first_contact": "first_contact",
                               "negotiation": "talks"}
    assert view["totals"] == {"cases": 3, "closing": 0, "kept": 2, "re-planned": 4,
                              "cancelled": 0, "new": 1}
    assert [c["missing_fields"] for c in view["cases"]] == [["expected_jobs"]] * 3

    outcomes = vm.apply(v2_app, OFFICE_ADMIN, plan)
    assert [(o.key, o.ok, o.to_state) for o in outcomes] == [
        (lead, True, "lead"), (first, True, "first_contact"), (talks, True, "talks")]
    shown = show_case(v2_app, talks)
    assert (shown["version"], shown["state"]) == (4, "talks")
    # The renamed state's follow-ups follow the renamed rules on the same days.
    moved = tasks_of(v2_app, talks)
    assert sorted(moved) == ["talks.contact", "talks.deadline", "talks.visit"]
    # The changed cadence counts from the state's entry (Wednesday 4 March), not from today.
    after = tasks_of(v2_app, first)
    assert after["first_contact.contact"].due_on.isoformat() == "2026-03-09"
    assert after["first_contact.contact"].id == before["first_contact.contact"].id
    assert after["first_contact.deadline"] == before["first_contact.deadline"]
    assert "lead.contact" in tasks_of(v2_app, lead)
    event = history(v2_app, first)["events"][-1]
    assert (event["kind"], event["from"], event["to"]) == ("migrated", "first_contact",
                                                          "first_contact")
    data = event["data"]
    assert (data["from_version"], data["to_version"], data["to_state"]) == (3, 4,
                                                                           "first_contact")
    assert data["workflow_version_id"] == plan.target.version_id
    assert data["replanned"] == [{"task": before["first_contact.contact"].id,
                                  "rule": "first_contact.contact",
                                  "was_rule": "first_contact.contact",
                                  "from": "2026-03-11", "to": "2026-03-09"}]
    assert data["kept"] == [before["first_contact.deadline"].id]
    assert all(r["ok"] for r in verify(v2_app))
    # Each re-planned or new task records what it was planned from, as replan expects.
    assert after["first_contact.contact"].planned_from.isoformat() == "2026-03-04"
    assert stale_count(v2_app) == 0
    # Nothing is left to move.
    assert plan2(v2_app).groups == []


def test_a_case_changed_since_the_plan_stays_on_its_version_the_rest_move(
    app: App, v2_app: App, staff: dict[str, Actor]
) -> None:
    lead, first, talks = three_cases(app, staff)
    plan = plan2(v2_app)
    advance(app, staff["wang.li"], first, "negotiate", fields={"contact_person": "Mr Wu"})
    outcomes = {o.key: o for o in vm.apply(v2_app, OFFICE_ADMIN, plan)}
    assert outcomes[lead].ok and outcomes[talks].ok
    assert not outcomes[first].ok
    assert outcomes[first].reason.startswith(f"case {first} changed since you read it")
    shown = show_case(v2_app, first)
    assert (shown["version"], shown["state"]) == (3, "negotiation")
    assert sorted(tasks_of(v2_app, first)) == ["negotiation.contact", "negotiation.deadline",
                                               "negotiation.visit"]
    assert all(r["ok"] for r in verify(v2_app))


def test_pending_notices_of_replanned_tasks_are_withdrawn_a_leased_one_deferred(
    app: App, v2_app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    _, first, _ = three_cases(app, staff)
    clock.set("2026-03-10T10:00:00+08:00")  # the day of the contact's reminder
    sweep(app)
    contact = tasks_of(app, first)["first_contact.contact"]
    [upcoming] = notices_of(app, contact.id)
    assert (upcoming.kind, upcoming.status) == ("upcoming", "pending")
    vm.apply(v2_app, OFFICE_ADMIN, plan2(v2_app))
    [withdrawn] = notices_of(app, contact.id)
    assert withdrawn.status == "cancelled"
    # The new day (Monday 9 March) has passed: the next sweep says it is overdue.
    sweep(v2_app)
    kinds = [(n.kind, n.status, n.payload["due_on"]) for n in notices_of(app, contact.id)]
    assert kinds[1:] == [("overdue", "pending", "2026-03-09")]
    assert withdrawn.id == upcoming.id


def test_a_leased_notice_is_withdrawn_only_if_its_send_ends_unsent(
    app: App, v2_app: App, staff: dict[str, Actor], clock: Clock, wall: Clock
) -> None:
    _, first, _ = three_cases(app, staff)
    clock.set("2026-03-10T10:00:00+08:00")
    sweep(app)
    contact = tasks_of(app, first)["first_contact.contact"]
    held = [c.id for c in claim(app, "sender-1", 100)]
    [notice] = notices_of(app, contact.id)
    assert notice.id in held
    vm.apply(v2_app, OFFICE_ADMIN, plan2(v2_app))
    [leased] = notices_of(app, contact.id)
    assert (leased.status, leased.lease_owner, leased.deferred) == ("pending", "sender-1",
                                                                    "withdraw")


def test_revert_puts_a_case_back_with_its_old_rules_and_dates(
    app: App, v2_app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    _, first, talks = three_cases(app, staff)
    old = {k: (t.id, t.due_on) for k, t in tasks_of(app, talks).items()}
    old_contact = tasks_of(app, first)["first_contact.contact"]
    vm.apply(v2_app, OFFICE_ADMIN, plan2(v2_app))
    clock.advance(days=1)

    back = vm.revert(v2_app, OFFICE_ADMIN, talks)
    assert (back.ok, back.from_version, back.to_version, back.to_state) == (
        True, 4, 3, "negotiation")
    assert {k: (t.id, t.due_on) for k, t in tasks_of(v2_app, talks).items()} == old
    vm.revert(v2_app, OFFICE_ADMIN, first)
    assert tasks_of(v2_app, first)["first_contact.contact"].due_on == old_contact.due_on
    event = history(v2_app, talks)["events"][-1]
    assert event["kind"] == "migration_reverted"
    assert event["data"]["to_state"] == "negotiation"
    assert event["data"]["to_version"] == 3
    assert show_case(v2_app, talks)["version"] == 3
    assert all(r["ok"] for r in verify(v2_app))
    with pytest.raises(Refused, match=f"{talks} has not been moved to another version"):
        vm.revert(v2_app, OFFICE_ADMIN, talks)
    # Moved again, it can be reverted again.
    vm.apply(v2_app, OFFICE_ADMIN, plan2(v2_app, case_key=talks))
    assert vm.revert(v2_app, OFFICE_ADMIN, talks).ok


def test_revert_after_moving_on_maps_back_through_the_move_and_refuses_others(
    app: App, v2_app: App, staff: dict[str, Actor]
) -> None:
    lead, first, _ = three_cases(app, staff)
    vm.apply(v2_app, OFFICE_ADMIN, plan2(v2_app))
    # Moved on under version 4 into the renamed state: back to what was renamed.
    advance(v2_app, staff["wang.li"], first, "negotiate", fields={"contact_person": "Mr Wu"})
    back = vm.revert(v2_app, OFFICE_ADMIN, first)
    assert (back.from_state, back.to_state) == ("talks", "negotiation")
    assert sorted(tasks_of(v2_app, first)) == ["negotiation.contact", "negotiation.deadline",
                                               "negotiation.visit"]
    fresh = open_case(v2_app, staff["wang.li"], "project_introduction", title="new",
                      fields={**PI_FIELDS, "expected_jobs": "10"})["key"]
    with pytest.raises(Refused, match=f"{fresh} has not been moved to another version"):
        vm.revert(v2_app, OFFICE_ADMIN, fresh)
    assert vm.revert(v2_app, OFFICE_ADMIN, lead).to_state == "lead"
    assert "lead.contact" not in tasks_of(v2_app, lead)
    assert all(r["ok"] for r in verify(v2_app))


def test_a_case_on_hold_resumes_to_the_renamed_state_and_back_after_a_revert(
    app: App, v2_app: App, staff: dict[str, Actor]
) -> None:
    _, _, talks = three_cases(app, staff)
    advance(app, staff["wang.li"], talks, "hold")
    vm.apply(v2_app, OFFICE_ADMIN, plan2(v2_app))
    with v2_app.db.transaction() as s:
        assert s.execute(select(CASES.c.state, CASES.c.previous_state)
                         .where(CASES.c.key == talks)).one() == ("on_hold", "talks")
    vm.revert(v2_app, OFFICE_ADMIN, talks)
    assert advance(v2_app, staff["wang.li"], talks, "resume").to_state == "negotiation"


def test_the_target_must_be_stored_or_the_files_version(
    app: App, v2_app: App, staff: dict[str, Actor]
) -> None:
    three_cases(app, staff)
    with pytest.raises(NotFound) as exc:
        vm.plan(v2_app, OFFICE_ADMIN, "project_introduction", 5)
    assert str(exc.value) == ("version 5 of project_introduction is neither stored nor the "
                              "file's version (the file has version 4; stored: 3)")
    # The file's version is stored by the plan, as `case open` would.
    assert plan2(v2_app).target.spec.version == 4
