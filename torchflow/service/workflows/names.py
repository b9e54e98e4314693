"""The office's names of a workflow's codes, as the edges show them: one
workflow's (``workflow_names``, which `case show` and `case history` carry, so
they read no other file) or every file's and the roles' (``names_view``,
`office.names`)."""

from __future__ import annotations

from typing import Any

from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import TorchflowError
from torchflow.i18n import Label
from torchflow.service.app import App


def names_view(app: App) -> dict[str, Any]:
    """The office's names of its roles and of each workflow's codes (states,
    fields and their choices, transitions), each as [Chinese, English]: what an
    edge shows a code by (cli/context.Names), the same embedded and through the
    server. ``term`` is how a refusal names it (the code in English), ``label``
    its title in both languages."""
    try:
        roles = {code: pair(role.term) for code, role in app.registry.roles().items()}
    except TorchflowError:
        roles = {}  # a broken roles.toml is `workflow validate`'s to report
    return {"roles": roles,
            "workflows": {name: workflow_names(spec)
                          for name, spec in app.registry.files().items()}}


def workflow_names(spec: WorkflowSpec) -> dict[str, Any]:
    """One workflow's names of its codes, as ``names_view`` gives each."""
    transitions: dict[str, list[str]] = {}
    for t in spec.transitions:  # a trigger from several states: its first definition
        transitions.setdefault(t.trigger, pair(t.term))
    return {
        "term": pair(spec.term), "label": pair(spec.label), "key_prefix": spec.key_prefix,
        "states": {code: {"term": pair(s.term), "label": pair(s.label)}
                   for code, s in spec.states.items()},
        "fields": {code: {"term": pair(f.term),
                          "choices": {o.name: pair(o.term) for o in f.options}
                          if f.type == "choice" else None}
                   for code, f in spec.fields.items()},
        "transitions": transitions,
    }


def pair(label: Label) -> list[str]:
    return [label.zh, label.en]
