"""Where '@previous' can lead: one answer (``came_from``) for the compiled
machine, the diagram and the structural checks of a definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchflow.domain.graph import came_from
from torchflow.domain.loader import load_directory, parse_workflow, validate_text
from torchflow.domain.machine import CompiledWorkflow
from torchflow.domain.workflow import PREVIOUS, WorkflowSpec
from torchflow.errors import Refused
from torchflow.service.workflows.definitions import diagram

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"

# review -> hold -> resume(@previous) puts a case back in review having just left
# on_hold; "back" from review then returns to on_hold, not only to draft.
CHAIN = """\
name = "chain"
title = "Chain"
version = 1
key_prefix = "CH"

[states.draft]
[states.review]
[states.on_hold]
[states.done]
terminal = true

[[transitions]]
trigger = "submit"
source = "draft"
dest = "review"

[[transitions]]
trigger = "hold"
source = "review"
dest = "on_hold"

[[transitions]]
trigger = "resume"
source = "on_hold"
dest = "@previous"

[[transitions]]
trigger = "back"
source = "review"
dest = "@previous"

[[transitions]]
trigger = "finish"
source = "review"
dest = "done"
"""


def test_came_from_follows_named_transitions_and_the_returns_of_previous() -> None:
    spec = parse_workflow(CHAIN)
    assert came_from(spec.transitions) == {
        "review": frozenset({"draft", "on_hold"}),
        "on_hold": frozenset({"review"}),
        "draft": frozenset({"review"}),  # back from review, having come from draft
        "done": frozenset({"review"}),
    }


def test_the_machine_goes_back_where_the_case_came_from() -> None:
    machine = CompiledWorkflow(parse_workflow(CHAIN))
    assert machine.fire("review", "draft", "back") == "draft"
    assert machine.fire("on_hold", "review", "resume") == "review"
    assert machine.fire("review", "on_hold", "back") == "on_hold"
    with pytest.raises(Refused, match="no earlier state to go back to"):
        machine.fire("review", None, "back")


def _edges(spec: WorkflowSpec) -> set[tuple[str, str, str]]:
    """(source, dest, trigger) drawn in the Mermaid diagram; Mermaid joins the
    triggers of one edge with " | "."""
    edges = set()
    for line in diagram(spec, "mermaid").splitlines():
        if "-->" in line and ":" in line and "[*]" not in line:
            arrow, labels = line.strip().split(": ", 1)
            source, dest = arrow.split(" --> ")
            edges |= {(source, dest, label) for label in labels.split(" | ")}
    return edges


def test_the_diagram_draws_every_place_previous_can_lead() -> None:
    edges = _edges(parse_workflow(CHAIN))
    assert {("review", "draft", "back"), ("review", "on_hold", "back"),
            ("on_hold", "review", "resume")} <= edges


def test_a_state_left_only_through_previous_back_to_it_can_still_finish() -> None:
    # 'fix' is left only by '@previous', back to 'review': the graph checks count
    # that way out as the machine does.
    text = CHAIN.replace('[states.done]', '[states.fix]\n[states.done]').replace(
        '[[transitions]]\ntrigger = "finish"',
        '[[transitions]]\ntrigger = "repair"\nsource = "review"\ndest = "fix"\n\n'
        '[[transitions]]\ntrigger = "repaired"\nsource = "fix"\ndest = "@previous"\n\n'
        '[[transitions]]\ntrigger = "finish"',
    )
    assert validate_text(text) == []


@pytest.mark.parametrize("name", ["enterprise_cultivation", "enterprise_request",
                                  "international_cooperation",
                                  "platform_building", "project_introduction",
                                  "talent_docking"])
def test_machine_and_diagram_agree_on_the_shipped_workflows(name: str) -> None:
    spec: WorkflowSpec = load_directory(WORKFLOWS)[name]
    back_to = came_from(spec.transitions)
    machine = CompiledWorkflow(spec).machine
    drawn = _edges(spec)
    for t in spec.transitions:
        if t.dest != PREVIOUS:
            continue
        for source in t.sources:
            compiled = {tr.dest for tr in machine.events[t.trigger].transitions[source]}
            assert compiled == set(back_to[source])
            assert all((source, dest, t.trigger) in drawn for dest in compiled)
