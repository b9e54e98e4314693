"""Workflow versions: stored on first use, a changed file needs a new version, cases
stay pinned to the version they were opened under."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace
from sqlalchemy import select

from tests.conftest import WORKFLOWS, Clock
from torchflow.config import Settings
from torchflow.domain.loader import load_file
from torchflow.errors import NotFound, Refused, WorkflowError
from torchflow.service.app import App, build_app
from torchflow.service.cases.change import advance, open_case
from torchflow.service.cases.read import list_cases, show_case
from torchflow.service.people.lookup import Actor
from torchflow.service.workflows.definitions import get_spec, list_workflows
from torchflow.store.models import CASES, WORKFLOW_VERSIONS

PI = "project_introduction.toml"
PI_OPEN = {
    "enterprise": "星河新材料有限公司",
    "industry": "new materials",
    "lead_source": "referral",
    "planned_investment": "50000",
}
TITLE = 'title = "项目引进"'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped workflows to edit, project_introduction at version 1
    (the numbers below read from there)."""
    target = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, target)
    edit(target, version=1)
    return target


@pytest.fixture
def app_on(settings: Settings, clock: Clock) -> Iterator[Callable[[Path], App]]:
    """A fresh App (another process, in effect) reading workflows from a folder."""
    made: list[App] = []

    def make(directory: Path) -> App:
        made.append(build_app(replace(settings, workflows_dir=directory), clock=clock))
        return made[-1]

    yield make
    for app in made:
        app.close()


def edit(folder: Path, *changes: tuple[str, str], version: int | None = None) -> None:
    path = folder / PI
    text = path.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    if version is not None:
        text, n = re.subn(r"(?m)^version = \d+$", f"version = {version}", text, count=1)
        assert n == 1
    path.write_text(text, encoding="utf-8")


def stored(app: App) -> list[tuple[str, int, str]]:
    with app.db.transaction() as s:
        rows = s.execute(
            select(WORKFLOW_VERSIONS.c.name, WORKFLOW_VERSIONS.c.version,
                   WORKFLOW_VERSIONS.c.digest)
            .order_by(WORKFLOW_VERSIONS.c.name, WORKFLOW_VERSIONS.c.version)
        )
        return [tuple(r) for r in rows]


def pinned_version(app: App, key: str) -> int:
    with app.db.transaction() as s:
        return s.execute(
            select(WORKFLOW_VERSIONS.c.version)
            .join(CASES, CASES.c.workflow_version_id == WORKFLOW_VERSIONS.c.id)
            .where(CASES.c.key == key)
        ).scalar_one()


def open_pi(app: App, actor: Actor) -> str:
    return open_case(app, actor, "project_introduction", title="t", fields=PI_OPEN)["key"]


def test_first_use_stores_version_1(app: App, staff: dict[str, Actor]) -> None:
    assert stored(app) == []
    spec = load_file(WORKFLOWS / PI)
    key = open_pi(app, staff["wang.li"])
    assert stored(app) == [("project_introduction", spec.version, spec.digest)]
    with app.db.transaction() as s:
        row = s.execute(select(WORKFLOW_VERSIONS)).one()
        assert row.source == (WORKFLOWS / PI).read_text(encoding="utf-8")
        assert row.registered_at == app.now()
    # Used again: the same row; other workflows are stored only when used.
    open_pi(app, staff["zhao.min"])
    assert len(stored(app)) == 1
    assert pinned_version(app, key) == spec.version
    listed = {w["name"]: w for w in list_workflows(app)}
    assert listed["project_introduction"]["stored_versions"] == [spec.version]
    assert listed["project_introduction"]["open_cases"] == 2
    assert listed["talent_docking"]["stored_versions"] == []


def test_changed_content_without_a_new_version_is_refused(
    app: App, staff: dict[str, Actor], folder: Path, app_on: Callable[[Path], App]
) -> None:
    first = app_on(folder)
    key = open_pi(first, staff["wang.li"])
    edit(folder, (TITLE, 'title = "招商项目"'))
    second = app_on(folder)
    with pytest.raises(WorkflowError) as exc:
        open_pi(second, staff["wang.li"])
    assert exc.value.problems == [
        f"{folder / PI}: version: the content changed but the version is still 1; "
        "raise version to 2 (open cases keep version 1)"
    ]
    assert str(exc.value) == exc.value.problems[0]
    # Nothing was written by the refusal, and the open case still works: it is
    # pinned to the stored version, not to the file.
    assert [c["key"] for c in list_cases(second)] == [key]
    assert len(stored(second)) == 1
    assert advance(second, staff["wang.li"], key, "make_contact").to_state == "first_contact"


def test_comment_and_layout_edits_need_no_new_version(
    app: App, staff: dict[str, Actor], folder: Path, app_on: Callable[[Path], App]
) -> None:
    first = app_on(folder)
    open_pi(first, staff["wang.li"])
    edit(
        folder,
        (TITLE, f"# Renamed in the bureau's 2026 reorganisation? Not yet.\n{TITLE}   # same"),
        ('initial = "lead"', 'initial   =   "lead"\n\n\n'),
    )
    second = app_on(folder)
    key = open_pi(second, staff["wang.li"])
    assert key == "PI-2026-0002"
    assert len(stored(second)) == 1
    assert pinned_version(second, key) == 1


def test_a_new_version_for_new_cases_old_cases_keep_theirs(
    app: App, staff: dict[str, Actor], folder: Path, app_on: Callable[[Path], App]
) -> None:
    v1_app = app_on(folder)
    old = open_pi(v1_app, staff["wang.li"])
    # Version 2 renames a trigger and the workflow's title.
    edit(
        folder,
        (TITLE, 'title = "招商项目"'),
        ('trigger = "make_contact"', 'trigger = "reach_out"'),
        version=2,
    )
    v2_app = app_on(folder)
    new = open_case(v2_app, staff["wang.li"], "project_introduction", title="t",
                    fields=PI_OPEN)
    assert new == {"key": "PI-2026-0002", "workflow": "project_introduction", "version": 2,
                   "state": "lead"}
    assert [(n, v) for n, v, _ in stored(v2_app)] == [
        ("project_introduction", 1), ("project_introduction", 2)
    ]
    assert (pinned_version(v2_app, old), pinned_version(v2_app, new["key"])) == (1, 2)
    assert show_case(v2_app, old)["version"] == 1
    assert show_case(v2_app, new["key"])["version"] == 2

    # The old case follows version 1's rules, the new one version 2's.
    assert [a["trigger"] for a in show_case(v2_app, old)["allowed"]] == [
        "make_contact", "lose", "withdraw", "hold"
    ]
    assert [a["trigger"] for a in show_case(v2_app, new["key"])["allowed"]] == [
        "reach_out", "lose", "withdraw", "hold"
    ]
    with pytest.raises(Refused) as exc:
        advance(v2_app, staff["wang.li"], old, "reach_out")
    assert str(exc.value) == (
        "PI-2026-0001: 'reach_out' is not allowed from 'lead'; "
        "allowed: make_contact, lose, withdraw, hold"
    )
    with pytest.raises(Refused) as exc:
        advance(v2_app, staff["wang.li"], new["key"], "make_contact")
    assert str(exc.value) == (
        "PI-2026-0002: 'make_contact' is not allowed from 'lead'; "
        "allowed: reach_out, lose, withdraw, hold"
    )
    assert advance(v2_app, staff["wang.li"], old, "make_contact").to_state == "first_contact"
    assert advance(v2_app, staff["wang.li"], new["key"], "reach_out").to_state == "first_contact"

    # The stored versions stay readable for people too.
    assert get_spec(v2_app, "project_introduction", 1).title == "项目引进"
    assert get_spec(v2_app, "project_introduction", 2).title == "招商项目"
    listed = {w["name"]: w for w in list_workflows(v2_app)}
    assert listed["project_introduction"]["stored_versions"] == [1, 2]


def test_an_older_file_version_is_refused(
    app: App, staff: dict[str, Actor], folder: Path, app_on: Callable[[Path], App]
) -> None:
    original = (folder / PI).read_text(encoding="utf-8")
    open_pi(app_on(folder), staff["wang.li"])
    edit(folder, (TITLE, 'title = "招商项目"'), version=2)
    open_pi(app_on(folder), staff["wang.li"])

    # Going back to version 1, exactly as it was stored, is still going back.
    (folder / PI).write_text(original, encoding="utf-8")
    with pytest.raises(WorkflowError) as exc:
        open_pi(app_on(folder), staff["wang.li"])
    assert exc.value.problems == [
        f"{folder / PI}: version: 1 is older than version 2 already in use; raise it to 3"
    ]
    # A changed file with the old number: the advice is the next free number, not 2.
    edit(folder, (TITLE, 'title = "第三版"'))
    with pytest.raises(WorkflowError, match="1 is older than version 2 already in use; raise it"):
        open_pi(app_on(folder), staff["wang.li"])
    edit(folder, version=3)
    third = app_on(folder)
    assert open_case(third, staff["wang.li"], "project_introduction", title="t",
                     fields=PI_OPEN)["version"] == 3
    assert [v for _, v, _ in stored(third)] == [1, 2, 3]


def test_a_changed_version_with_the_same_number_after_a_bump_is_refused(
    app: App, staff: dict[str, Actor], folder: Path, app_on: Callable[[Path], App]
) -> None:
    open_pi(app_on(folder), staff["wang.li"])
    edit(folder, (TITLE, 'title = "v2"'), version=2)
    open_pi(app_on(folder), staff["wang.li"])
    edit(folder, ('title = "v2"', 'title = "v2 edited"'))
    with pytest.raises(WorkflowError) as exc:
        open_pi(app_on(folder), staff["wang.li"])
    assert "the content changed but the version is still 2; raise version to 3" in str(exc.value)


def test_a_removed_workflow_file_keeps_its_cases_working(
    app: App, staff: dict[str, Actor], folder: Path, app_on: Callable[[Path], App]
) -> None:
    key = open_pi(app_on(folder), staff["wang.li"])
    (folder / PI).unlink()
    later = app_on(folder)
    with pytest.raises(NotFound, match="no workflow named 'project_introduction'"):
        open_pi(later, staff["wang.li"])
    assert advance(later, staff["wang.li"], key, "make_contact").to_state == "first_contact"
    assert show_case(later, key)["state_title"] == "初步接洽"


def test_a_refused_open_does_not_confuse_the_version_cache(
    app: App, staff: dict[str, Actor]
) -> None:
    # The first open of talent_docking fails after its version row was inserted, so
    # the insert is rolled back; the next workflow stored may get the same row id.
    with pytest.raises(NotFound):
        open_case(app, staff["wang.li"], "talent_docking", title="t",
                  fields={"enterprise": "e", "position": "p", "expertise": "x",
                          "talent_officer": "li.si"})
    assert stored(app) == []
    key = open_pi(app, staff["wang.li"])
    view = show_case(app, key)
    assert (view["workflow"], view["state"]) == ("project_introduction", "lead")
    assert advance(app, staff["wang.li"], key, "make_contact").to_state == "first_contact"
    td = open_case(app, staff["wang.li"], "talent_docking", title="t",
                   fields={"enterprise": "e", "position": "p", "expertise": "x"})
    assert (td["key"], td["state"]) == ("TD-2026-0001", "demand_collected")
    assert [(n, v) for n, v, _ in stored(app)] == [
        ("project_introduction", load_file(WORKFLOWS / PI).version),
        ("talent_docking", load_file(WORKFLOWS / "talent_docking.toml").version)
    ]
