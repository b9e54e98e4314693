"""A workflow version compiled into one shared transitions Machine.

The machine is built once per version with no models attached
(attaching thousands of cases makes add_model quadratic) and a case is bound to it
for a single trigger through a throwaway binding object.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct
from transitions import EventData, Machine

from torchflow.domain.graph import came_from
from torchflow.domain.workflow import PREVIOUS, WorkflowSpec
from torchflow.errors import Refused
from torchflow.i18n import Listing, Text, _


class _Binding(Struct):
    state: str
    previous_state: str | None


def _came_from(state: str) -> Any:
    def check(event: EventData) -> bool:
        return bool(getattr(event.model, "previous_state", None) == state)

    return check


class CompiledWorkflow:
    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.machine = Machine(
            model=None,
            states=list(spec.states),
            initial=None,
            auto_transitions=False,
            send_event=True,
        )
        back_to = came_from(spec.transitions)
        for t in spec.transitions:
            if t.dest == PREVIOUS:
                # "Back to where it was": one conditional transition per state the
                # case can have come from.
                for source in t.sources:
                    back = back_to.get(source, frozenset())
                    for dest in (state for state in spec.states if state in back):
                        self.machine.add_transition(
                            t.trigger, source, dest, conditions=[_came_from(dest)]
                        )
            else:
                self.machine.add_transition(t.trigger, list(t.sources), t.dest)

    def fire(self, state: str, previous_state: str | None, trigger: str) -> str:
        """The state after ``trigger``; Refused when it cannot fire from ``state``."""
        if self.spec.transition(state, trigger) is None:
            raise Refused(self.not_allowed(state, trigger))
        binding = _Binding(state, previous_state)
        if not self.machine.events[trigger].trigger(binding):
            raise Refused(_("'{trigger}' cannot fire from '{state}': there is no earlier state "
                            "to go back to", trigger=self._term(state, trigger),
                            state=self._state(state)))
        return binding.state

    def not_allowed(self, state: str, trigger: str) -> Text:
        """Why ``trigger`` (as typed) cannot fire from ``state``, and what can."""
        allowed = [t.term for t in self.spec.transitions_from(state)]
        if not allowed:
            return _("'{trigger}' is not allowed: '{state}' is a terminal state with no way out",
                     trigger=trigger, state=self._state(state))
        return _("'{trigger}' is not allowed from '{state}'; allowed: {allowed}",
                 trigger=trigger, state=self._state(state), allowed=Listing(allowed))

    def _state(self, state: str) -> object:
        spec = self.spec.states.get(state)
        return spec.term if spec is not None else state

    def _term(self, state: str, trigger: str) -> object:
        transition = self.spec.transition(state, trigger)
        return transition.term if transition is not None else trigger
