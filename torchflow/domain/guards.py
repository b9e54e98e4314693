"""Guards of a transition: the fields it needs and the roles that may fire it.

Kept apart from the compiled machine so that showing what may happen next
(`case show`) needs no state-machine library at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torchflow.domain.workflow import FieldSpec, TransitionSpec, WorkflowSpec
from torchflow.i18n import Label, Listing, Role, Text, _


def guard_problems(
    transition: TransitionSpec,
    fields: Mapping[str, Any],
    actor_roles: Iterable[str],
    specs: Mapping[str, FieldSpec] | None = None,
) -> list[Text]:
    """What stops ``transition`` from firing for this actor and these field values;
    ``specs`` (the workflow's fields) name the missing ones as the reader knows them."""
    problems = []
    missing = [name for name in transition.requires if fields.get(name) in (None, "")]
    if missing:
        terms = [_term(name, specs) for name in missing]
        hint = Listing((_("--field {field}=...", field=t) for t in terms), "words")
        problems.append(_("'{trigger}' needs {fields} first ({hint})", trigger=transition.term,
                          fields=Listing(terms), hint=hint))
    for name, wanted in transition.when:
        if fields.get(name) not in wanted:
            spec = (specs or {}).get(name)
            shown = [spec.option(v).label for v in wanted] if spec else list(wanted)
            problems.append(_("'{trigger}' only when {field} is {values}",
                              trigger=transition.term, field=_term(name, specs),
                              values=Listing(shown, "or")))
    if transition.roles and not set(transition.roles) & set(actor_roles):
        problems.append(_("'{trigger}' may be done only by a person with role {roles}",
                          trigger=transition.term,
                          roles=Listing((Role(r) for r in transition.roles), "or")))
    return problems


def _term(name: str, specs: Mapping[str, FieldSpec] | None) -> Label | str:
    spec = (specs or {}).get(name)
    return spec.term if spec is not None else name


def reachable(spec: WorkflowSpec, roles: Iterable[str]) -> frozenset[str]:
    """The states a person with ``roles`` can bring a new case to by transitions
    they may fire (an import row puts a case there directly: it is held to the
    same roles). Resuming (@previous) leads back where a case was, so adds none."""
    held, found, todo = set(roles), {spec.initial}, [spec.initial]
    while todo:
        state = todo.pop()
        for t in spec.transitions_from(state):
            if t.dest in spec.states and t.dest not in found and (
                    not t.roles or held & set(t.roles)):
                found.add(t.dest)
                todo.append(t.dest)
    return frozenset(found)


def roles_into(spec: WorkflowSpec, state: str) -> list[str]:
    """The roles named by the transitions leading into ``state``."""
    return sorted({r for t in spec.transitions if t.dest == state for r in t.roles})
