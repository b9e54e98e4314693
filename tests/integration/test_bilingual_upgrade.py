"""An office whose cases were opened under the shipped workflows of before (version
1: "English · 中文" titles, no aliases) moves them onto the shipped version (3:
version 2's titles as data in both languages, and the amount asked from
negotiation on), the same states, fields and follow-ups: every task is kept,
nothing is missing, the history verifies, and the moved cases take the office's
words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, WORKFLOWS, Clock, app_with_workflow
from torchflow.config import Settings
from torchflow.domain.loader import load_file, parse_workflow
from torchflow.service.app import App
from torchflow.service.audit.verify import verify
from torchflow.service.cases.change import advance, open_case
from torchflow.service.cases.read import show_case
from torchflow.service.people.lookup import Actor
from torchflow.service.workflows import version_moves as vm

PI = "project_introduction.toml"


def as_version_1(text: str) -> str:
    """The shipped file as version 1 wrote it: bilingual titles cut by " · ", no
    English keys, no aliases, choices as plain strings."""
    text = re.sub(r'(?m)^(title|description) = "(.*)"\n\1_en = "(.*)"$',
                  lambda m: f'{m[1]} = "{m[3]} · {m[2]}"', text)
    text = re.sub(r'\{ title = "(.*?)", title_en = "(.*?)" \}', r'"\2 · \1"', text)
    text = re.sub(r'\{ value = "(.*?)", title = "[^"]*"(, aliases = \[[^]]*\])? \}', r'"\1"',
                  text)
    text = re.sub(r"(?m)^(aliases|help_en) = .*\n", "", text)
    text = text.replace('required_from = "negotiation"', "required = true")  # version 3's
    return re.sub(r"(?m)^version = [23]$", "version = 1", text)


@pytest.fixture
def v1_app(settings: Settings, clock: Clock, tmp_path: Path) -> Iterator[App]:
    with app_with_workflow(settings, clock, tmp_path / "workflows-v1", PI, as_version_1) as app:
        yield app


def test_the_version_1_file_is_what_version_1_was() -> None:
    old = parse_workflow(as_version_1((WORKFLOWS / PI).read_text(encoding="utf-8")))
    new = load_file(WORKFLOWS / PI)
    assert (old.version, new.version) == (1, 3)
    assert old.title == "Project introduction · 项目引进"
    assert old.states["negotiation"].title == "Negotiation · 洽谈"
    assert old.states["negotiation"].aliases == ()
    assert old.fields["industry"].choices == new.fields["industry"].choices
    assert old.milestones[0].title == "Signed · 签约"
    # The same machine: only names changed.
    assert list(old.states) == list(new.states)
    # (Version 3 asks for the amount on the way into negotiation and after, where
    # version 1 asked it of every lead.)
    assert [(t.trigger, t.sources, t.dest, t.roles) for t in old.transitions] == [
        (t.trigger, t.sources, t.dest, t.roles) for t in new.transitions]
    assert all(set(o.requires) <= set(n.requires) <= {*o.requires, "planned_investment"}
               for o, n in zip(old.transitions, new.transitions, strict=True))
    assert [s.rules for s in old.states.values()] == [s.rules for s in new.states.values()]


def test_open_cases_move_to_the_shipped_version_keeping_every_follow_up(
    v1_app: App, app: App, staff: dict[str, Actor]
) -> None:
    wang = staff["wang.li"]
    keys = [open_case(v1_app, wang, "project_introduction", title=t, fields=PI_FIELDS)["key"]
            for t in ("lead", "negotiation", "on hold")]
    advance(v1_app, wang, keys[1], "make_contact")
    advance(v1_app, wang, keys[1], "negotiate", fields={"contact_person": "李总"})
    advance(v1_app, wang, keys[2], "hold")
    assert show_case(app, keys[1])["state_title"] == "Negotiation · 洽谈"  # its version's
    # On version 1 the office's words are not known yet.
    assert show_case(app, keys[1])["version"] == 1

    plan = vm.plan(app, OFFICE_ADMIN, "project_introduction", 3)
    view = vm.plan_view(plan)
    assert view["totals"]["cases"] == 3
    assert (view["totals"]["re-planned"], view["totals"]["cancelled"],
            view["totals"]["new"]) == (0, 0, 0)
    assert all(not c["missing_fields"] and not c["invalid_fields"] for c in view["cases"])
    outcomes = vm.apply(app, OFFICE_ADMIN, plan)
    assert all(o.ok for o in outcomes)
    assert all(r["ok"] for r in verify(app))

    moved = show_case(app, keys[1])
    assert (moved["version"], moved["state"], moved["state_title"]) == (3, "negotiation", "洽谈")
    # The shipped words now apply to the moved cases: 考察 fires `inspect`, and on
    # hold resumes to where it was.
    assert advance(app, wang, keys[1], "考察").to_state == "site_inspection"
    assert advance(app, wang, keys[2], "恢复跟踪").to_state == "lead"
