"""CompiledWorkflow (one shared transitions Machine per workflow version) and the
guards that stop a transition: missing fields and roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchflow.domain.guards import guard_problems
from torchflow.domain.loader import load_directory, parse_workflow
from torchflow.domain.machine import CompiledWorkflow
from torchflow.domain.workflow import PREVIOUS, TransitionSpec
from torchflow.errors import Refused

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SHIPPED = sorted(p.stem for p in WORKFLOWS.glob("*.toml") if p.name != "roles.toml")

DEMO = """\
name = "demo"
title = "Demo"
version = 1
key_prefix = "DM"

[fields.enterprise]
type = "text"
required = true

[fields.investment]
type = "number"

[states.lead]
[states.signed]
[states.on_hold]
[states.closed]
terminal = true

[[transitions]]
trigger = "sign"
source = "lead"
dest = "signed"
requires = ["investment"]
roles = ["director"]

[[transitions]]
trigger = "close"
source = "signed"
dest = "closed"
roles = ["coordinator", "director"]

[[transitions]]
trigger = "hold"
source = ["lead", "signed"]
dest = "on_hold"

[[transitions]]
trigger = "resume"
source = "on_hold"
dest = "@previous"

[[transitions]]
trigger = "drop"
source = ["lead", "on_hold"]
dest = "closed"
"""


@pytest.fixture(scope="module")
def shipped() -> dict[str, CompiledWorkflow]:
    return {name: CompiledWorkflow(spec) for name, spec in load_directory(WORKFLOWS).items()}


@pytest.fixture(scope="module")
def demo() -> CompiledWorkflow:
    return CompiledWorkflow(parse_workflow(DEMO, "demo.toml"))


# -- compiling the shipped workflows -----------------------------------------------------


def test_all_nine_shipped_workflows_are_present(shipped: dict[str, CompiledWorkflow]) -> None:
    assert sorted(shipped) == SHIPPED
    assert SHIPPED == [
        "double_high",
        "enterprise_cultivation",
        "enterprise_request",
        "industrialization_zone",
        "international_cooperation",
        "platform_building",
        "project_introduction",
        "strategic_research",
        "talent_docking",
    ]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_machine_has_every_state_and_trigger_and_no_model(
    shipped: dict[str, CompiledWorkflow], name: str
) -> None:
    compiled = shipped[name]
    spec = compiled.spec
    assert set(compiled.machine.states) == set(spec.states)
    assert set(compiled.machine.events) == {t.trigger for t in spec.transitions}
    # Built with model=None and no auto transitions ("to_<state>").
    assert compiled.machine.models == []
    assert not any(name.startswith("to_") for name in compiled.machine.events)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_transition_fires_to_its_dest(
    shipped: dict[str, CompiledWorkflow], name: str
) -> None:
    compiled = shipped[name]
    fired = 0
    for t in compiled.spec.transitions:
        for source in t.sources:
            if t.dest == PREVIOUS:
                # Back to each state the source can be entered from.
                entered_from = {
                    s for u in compiled.spec.transitions if source == u.dest for s in u.sources
                }
                assert entered_from, f"{name}: nothing enters {source}"
                for previous in sorted(entered_from):
                    assert compiled.fire(source, previous, t.trigger) == previous
                    fired += 1
            else:
                assert compiled.fire(source, None, t.trigger) == t.dest
                fired += 1
    assert fired >= len(compiled.spec.transitions)
    # Firing binds a throwaway object: nothing stays attached to the shared machine.
    assert compiled.machine.models == []


def test_shipped_project_introduction_main_line(shipped: dict[str, CompiledWorkflow]) -> None:
    pi = shipped["project_introduction"]
    path = [
        ("lead", "make_contact", "first_contact"),
        ("first_contact", "negotiate", "negotiation"),
        ("negotiation", "inspect", "site_inspection"),
        ("site_inspection", "sign", "signed"),
        ("signed", "register", "registered"),
        ("registered", "start_construction", "construction"),
        ("construction", "start_production", "production"),
        ("production", "close", "closed"),
    ]
    for source, trigger, dest in path:
        assert pi.fire(source, None, trigger) == dest
    assert pi.spec.states["closed"].terminal


# -- fire and its refusals ---------------------------------------------------------------


def test_fire_plain_transition(demo: CompiledWorkflow) -> None:
    assert demo.fire("lead", None, "sign") == "signed"
    assert demo.fire("signed", "lead", "close") == "closed"
    assert demo.fire("lead", None, "hold") == "on_hold"


def test_fire_does_not_check_guards(demo: CompiledWorkflow) -> None:
    # Guards are the service's job (guard_problems); the machine only moves states.
    assert demo.fire("lead", None, "sign") == "signed"


@pytest.mark.parametrize("previous", ["lead", "signed"])
def test_resume_goes_back_to_the_previous_state(demo: CompiledWorkflow, previous: str) -> None:
    assert demo.fire("on_hold", previous, "resume") == previous


def test_resume_without_a_previous_state_is_refused(demo: CompiledWorkflow) -> None:
    with pytest.raises(Refused) as exc:
        demo.fire("on_hold", None, "resume")
    assert str(exc.value) == (
        "'resume' cannot fire from 'on_hold': there is no earlier state to go back to"
    )


def test_resume_to_the_same_state_is_refused(demo: CompiledWorkflow) -> None:
    with pytest.raises(Refused, match="no earlier state to go back to"):
        demo.fire("on_hold", "on_hold", "resume")


def test_unknown_trigger_is_refused_listing_the_allowed_ones(demo: CompiledWorkflow) -> None:
    with pytest.raises(Refused) as exc:
        demo.fire("lead", None, "sgin")
    assert str(exc.value) == "'sgin' is not allowed from 'lead'; allowed: sign, hold, drop"


def test_trigger_from_the_wrong_state_is_refused(demo: CompiledWorkflow) -> None:
    with pytest.raises(Refused) as exc:
        demo.fire("signed", None, "sign")
    assert str(exc.value) == "'sign' is not allowed from 'signed'; allowed: close, hold"


def test_trigger_from_a_terminal_state_is_refused(demo: CompiledWorkflow) -> None:
    with pytest.raises(Refused) as exc:
        demo.fire("closed", "signed", "close")
    assert str(exc.value) == "'close' is not allowed: 'closed' is a terminal state with no way out"


def test_not_allowed_lists_in_file_order(demo: CompiledWorkflow) -> None:
    assert demo.not_allowed("on_hold", "x") == (
        "'x' is not allowed from 'on_hold'; allowed: resume, drop"
    )


def test_a_refused_fire_does_not_disturb_later_fires(demo: CompiledWorkflow) -> None:
    for _ in range(3):
        with pytest.raises(Refused):
            demo.fire("closed", None, "sign")
    assert demo.fire("lead", None, "sign") == "signed"
    assert demo.machine.models == []


def test_one_machine_serves_many_cases(demo: CompiledWorkflow) -> None:
    before = len(demo.machine.events["hold"].transitions["lead"])
    for _ in range(500):
        assert demo.fire("lead", None, "hold") == "on_hold"
    assert demo.machine.models == []
    assert len(demo.machine.events["hold"].transitions["lead"]) == before


# -- guards -------------------------------------------------------------------------------


def sign() -> TransitionSpec:
    return TransitionSpec(
        trigger="sign", sources=("lead",), dest="signed",
        requires=("investment", "signed_date"), roles=("director",),
    )


def test_guard_all_satisfied() -> None:
    fields = {"investment": 5000, "signed_date": "2026-03-04"}
    assert guard_problems(sign(), fields, ("director",)) == []


def test_guard_names_every_missing_field_with_a_hint() -> None:
    assert guard_problems(sign(), {"investment": None}, ("director",)) == [
        "'sign' needs investment, signed_date first "
        "(--field investment=... --field signed_date=...)"
    ]


def test_guard_treats_an_empty_string_as_missing_but_zero_as_a_value() -> None:
    problems = guard_problems(sign(), {"investment": 0, "signed_date": ""}, ("director",))
    assert problems == ["'sign' needs signed_date first (--field signed_date=...)"]


def test_guard_names_the_allowed_roles() -> None:
    fields = {"investment": 1, "signed_date": "2026-03-04"}
    assert guard_problems(sign(), fields, ("coordinator",)) == [
        "'sign' may be done only by a person with role director"
    ]
    both = TransitionSpec("close", ("signed",), "closed", roles=("coordinator", "director"))
    assert guard_problems(both, {}, ("expert", "torch_liaison")) == [
        "'close' may be done only by a person with role coordinator or director"
    ]
    assert guard_problems(both, {}, ("expert", "director")) == []


def test_guard_reports_fields_and_role_together() -> None:
    problems = guard_problems(sign(), {}, ())
    assert len(problems) == 2
    assert str(problems[0]).startswith("'sign' needs investment, signed_date first")
    assert problems[1] == "'sign' may be done only by a person with role director"


def test_guard_without_roles_lets_anyone_fire() -> None:
    hold = TransitionSpec("hold", ("lead",), "on_hold")
    assert guard_problems(hold, {}, ()) == []
    assert guard_problems(hold, {}, ("expert",)) == []


def test_guards_of_shipped_role_restricted_transitions(
    shipped: dict[str, CompiledWorkflow],
) -> None:
    pi = shipped["project_introduction"].spec
    sign_pi = pi.transition("site_inspection", "sign")
    assert sign_pi is not None
    assert sign_pi.roles == ("director",)
    full = {name: "x" for name in sign_pi.requires}
    assert guard_problems(sign_pi, full, ("coordinator",)) == [
        "'sign' may be done only by a person with role director"
    ]
    assert guard_problems(sign_pi, full, ("director",)) == []
    ec = shipped["enterprise_cultivation"].spec
    certify = ec.transition("under_review", "certify")
    assert certify is not None
    assert guard_problems(certify, {"certificate_no": "GR1", "certified_on": "x"}, ("expert",)) == [
        "'certify' may be done only by a person with role torch_liaison or director"
    ]
