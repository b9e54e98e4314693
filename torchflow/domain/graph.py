"""The shape of a workflow's state graph: where ``@previous`` can lead, and the
structural checks of a definition (every state reachable, a way out of every
non-terminal state, a path from each to a terminal state)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torchflow.domain.problems import Report
from torchflow.domain.workflow import PREVIOUS, StateSpec, TransitionSpec


def came_from(transitions: Iterable[TransitionSpec]) -> dict[str, frozenset[str]]:
    """For each state, the states a case in it can have just left: the places
    ``@previous`` may lead back to from there. The machine, the diagram and the
    graph checks all ask this one question.

    A transition from S to a named D makes S a predecessor of D. Going back with
    ``@previous`` from P to Q makes P a predecessor of Q too (the case is in Q and
    has just left P), so the sets grow until nothing changes.
    """
    transitions = list(transitions)
    entered: dict[str, set[str]] = {}
    for t in transitions:
        if t.dest != PREVIOUS:
            entered.setdefault(t.dest, set()).update(t.sources)
    goes_back = {s for t in transitions if t.dest == PREVIOUS for s in t.sources}
    changed = True
    while changed:
        changed = False
        for back in goes_back:
            for target in list(entered.get(back, ())):
                if back not in entered.setdefault(target, set()):
                    entered[target].add(back)
                    changed = True
    return {state: frozenset(sources) for state, sources in entered.items()}


def check_graph(
    report: Report,
    states: Mapping[str, StateSpec],
    transitions: tuple[TransitionSpec, ...],
    initial: str,
) -> None:
    """Record every structural problem of a definition whose state names resolve."""
    back_to = came_from(transitions)
    _check_previous(report, transitions, initial, back_to)
    dead_ends = _check_exits(report, states, transitions)
    if initial in states:  # else already reported: nowhere to walk from
        _check_reachable(report, states, transitions, initial)
    _check_can_finish(report, states, _edges(states, transitions, back_to), dead_ends)


def _edges(
    states: Mapping[str, StateSpec],
    transitions: tuple[TransitionSpec, ...],
    back_to: Mapping[str, frozenset[str]],
) -> list[tuple[str, str]]:
    edges: list[tuple[str, str]] = []
    for t in transitions:
        for source in t.sources:
            if t.dest == PREVIOUS:
                edges.extend((source, back) for back in back_to.get(source, ()))
            elif t.dest in states:
                edges.append((source, t.dest))
    return edges


def _check_previous(
    report: Report,
    transitions: tuple[TransitionSpec, ...],
    initial: str,
    back_to: Mapping[str, frozenset[str]],
) -> None:
    for index, t in enumerate(transitions):
        if t.dest != PREVIOUS:
            continue
        for source in t.sources:
            if source == initial:
                report.add(
                    f"transitions[{index}].dest",
                    f"'{PREVIOUS}' from the initial state '{source}': a case opened "
                    "there has no previous state; name a state instead",
                )
            elif not back_to.get(source):
                report.add(
                    f"transitions[{index}].dest",
                    f"'{PREVIOUS}' from state '{source}' has nowhere to go back to: "
                    f"no transition has dest = '{source}'",
                )


def _check_exits(
    report: Report, states: Mapping[str, StateSpec], transitions: tuple[TransitionSpec, ...]
) -> set[str]:
    has_exit = {s for t in transitions for s in t.sources}
    dead = {n for n, s in states.items() if not s.terminal and n not in has_exit}
    for name in states:
        if name in dead:
            report.add(
                f"states.{name}",
                f"non-terminal state '{name}' has no way out; add a transition with "
                f"source = '{name}' or set terminal = true",
            )
    return dead


def _check_reachable(
    report: Report,
    states: Mapping[str, StateSpec],
    transitions: tuple[TransitionSpec, ...],
    initial: str,
) -> None:
    # '@previous' only returns to a state already visited, so it reaches nothing new.
    forward = [(s, t.dest) for t in transitions for s in t.sources if t.dest in states]
    seen = _closure({initial}, forward)
    for name in states:
        if name not in seen:
            report.add(
                f"states.{name}",
                f"state '{name}' cannot be reached from the initial state "
                f"'{initial}'; add a transition with dest = '{name}' or remove it",
            )


def _check_can_finish(
    report: Report,
    states: Mapping[str, StateSpec],
    edges: list[tuple[str, str]],
    dead_ends: set[str],
) -> None:
    terminals = {n for n, s in states.items() if s.terminal}
    if not terminals:
        return  # reported once as "no terminal state"
    finishing = _closure(terminals, [(dest, source) for source, dest in edges])
    for name in states:
        if name not in finishing and name not in dead_ends:
            report.add(
                f"states.{name}",
                f"no path leads from state '{name}' to a terminal state; "
                "add a transition towards one",
            )


def reachable(start: set[str], edges: list[tuple[str, str]]) -> set[str]:
    """The states ``start`` leads to along ``edges`` (``start`` among them)."""
    return _closure(start, edges)


def only_through(state: str, initial: str, edges: list[tuple[str, str]]) -> set[str]:
    """The states a case reaches only through ``state`` (``state`` among them):
    reachable from it, but not from ``initial`` without passing through it. The
    exits every stage shares (lost, withdrawn, on hold) are not among them."""
    around = [(a, b) for a, b in edges if state not in (a, b)]
    before = _closure({initial}, around) if initial != state else set()
    return _closure({state}, edges) - before


def named_edges(states: Mapping[str, StateSpec], transitions: Iterable[TransitionSpec]
                ) -> list[tuple[str, str]]:
    """(source, destination) of every transition to a named state (not @previous)."""
    return [(s, t.dest) for t in transitions for s in t.sources if t.dest in states]


def _closure(start: set[str], edges: list[tuple[str, str]]) -> set[str]:
    """All nodes reachable from ``start`` along ``edges``."""
    seen = set(start)
    stack = list(start)
    while stack:
        node = stack.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                stack.append(b)
    return seen
