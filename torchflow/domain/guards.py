"""Guards of a transition: the fields it needs and the roles that may fire it.

Kept apart from the compiled machine so that showing what may happen next
(`case show`) needs no state-machine library at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torchflow.domain.workflow import TransitionSpec


def guard_problems(
    transition: TransitionSpec,
    fields: Mapping[str, Any],
    actor_roles: Iterable[str],
) -> list[str]:
    """What stops ``transition`` from firing for this actor and these field values."""
    problems = []
    missing = [name for name in transition.requires if fields.get(name) in (None, "")]
    if missing:
        hint = " ".join(f"--field {name}=..." for name in missing)
        problems.append(f"'{transition.trigger}' needs " + ", ".join(missing) + f" first ({hint})")
    if transition.roles and not set(transition.roles) & set(actor_roles):
        problems.append(
            f"'{transition.trigger}' may be done only by a person with role "
            + " or ".join(transition.roles)
        )
    return problems
