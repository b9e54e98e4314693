"""A workflow definition as frozen values: its fields, states, transitions and
the ``@previous`` destination. Nothing here reads files or checks anything;
``domain/loader.py`` builds these values from the TOML files (the format is
documented in docs/workflows.md).
"""

from __future__ import annotations

from msgspec import Struct
from msgspec.structs import replace

from torchflow.domain.rules import ContactRule, DeadlineRule, DutyRule, EachRule, Rule, VisitRule
from torchflow.i18n import Label

PREVIOUS = "@previous"
FIELD_TYPES = ("text", "number", "date", "choice", "person", "people", "enterprise")


class Named(Struct, frozen=True):
    """What a person calls a thing of a workflow: ``title`` in the office's
    language (Chinese in the shipped files), ``title_en`` in English (when the
    title is not), and the other words the office types for it (``aliases``).
    The code name (``name``) stays the identifier stored on cases."""

    name: str
    title: str
    title_en: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> Label:
        return Label(self.title or self.name, self.title_en or self.title or self.name)

    @property
    def term(self) -> Label:
        """How a refusal names it: the title in Chinese, the code in English (what
        each reader types)."""
        return Label(self.title or self.name, self.name)

    @property
    def words(self) -> tuple[str, ...]:
        """Every way to write it: the name, both titles, the aliases."""
        return tuple(dict.fromkeys(w for w in (self.name, self.title, self.title_en,
                                               *self.aliases) if w))


class ChoiceSpec(Named, frozen=True):
    """One choice of a choice field; ``name`` is the value stored (and, unless
    ``title_en`` says otherwise, its English)."""

    @property
    def label(self) -> Label:
        return Label(self.title or self.name, self.title_en or self.name)


class RoleSpec(Named, frozen=True):
    """A role as the office names it (workflows/roles.toml): 招商专员, 局长."""


class FieldSpec(Struct, frozen=True):
    """A custom field of the cases of a workflow."""

    name: str
    type: str  # one of FIELD_TYPES
    title: str
    required: bool  # required when the case is opened
    choices: tuple[str, ...] = ()  # the values stored
    unit: str = ""  # e.g. "万元" for a number
    help: str = ""
    sum: bool = False  # a number field that reports add up (planned investment, jobs)
    title_en: str = ""
    help_en: str = ""
    # Each choice's titles and aliases, in the order of ``choices``.
    options: tuple[ChoiceSpec, ...] = ()
    # ``required_from = "negotiation"``: required in that state and every state
    # reachable from it (the loader fills ``required_in``), so a lead need not
    # invent an amount nobody knows yet.
    required_from: str = ""
    required_in: frozenset[str] = frozenset()

    def required_at(self, state: str) -> bool:
        return self.required or state in self.required_in

    @property
    def label(self) -> Label:
        return Label(self.title or self.name, self.title_en or self.title or self.name)

    @property
    def term(self) -> Label:
        return Label(self.title or self.name, self.name)

    def option(self, value: str) -> ChoiceSpec:
        """The choice stored as ``value`` (one of its own when the file named no titles)."""
        return next((o for o in self.options if o.name == value), ChoiceSpec(value, value))


class StateSpec(Named, frozen=True):
    """A state and the follow-ups the engine keeps scheduled while a case sits in it."""

    terminal: bool = False
    contact: ContactRule | None = None
    visit: VisitRule | None = None
    deadline: DeadlineRule | None = None
    milestone: bool = False  # counted by `torchflow report outcomes` (签约、开工、投产)
    duties: tuple[DutyRule, ...] = ()  # duties on dates: [states.X.duties.NAME]
    each: tuple[EachRule, ...] = ()  # a deadline per person: [states.X.each.NAME]

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The follow-up rules present, in the order contact, visit, deadline, duties."""
        return (*(r for r in (self.contact, self.visit, self.deadline) if r is not None),
                *self.duties)

    def rule_named(self, name: str) -> Rule | EachRule | None:
        """The rule a task follows, by the task's rule name: one of ``rules``, or one
        person's part of an ``each`` rule (``<state>.<part>:<handle>``)."""
        found = next((r for r in self.rules if r.name == name), None)
        part, _sep, who = name.partition(":")
        if found is None and who:
            return next((replace(e, who=who) for e in self.each if e.name == part), None)
        return found


class Milestone(Struct, frozen=True):
    """A state reports count entries into (签约、开工、投产), with the title they show."""

    state: str
    title: str
    title_en: str = ""

    @property
    def label(self) -> Label:
        return Label(self.title, self.title_en or self.title)


class TransitionSpec(Struct, frozen=True):
    """A trigger leading from any of ``sources`` to ``dest`` (a state or PREVIOUS)."""

    trigger: str
    sources: tuple[str, ...]
    dest: str
    requires: tuple[str, ...] = ()  # custom fields that must have a value first
    roles: tuple[str, ...] = ()  # roles allowed to fire it; empty = anyone
    title: str = ""
    title_en: str = ""
    aliases: tuple[str, ...] = ()  # what else a person may type to fire it
    # Choice fields and the values they must hold for it to fire (回访 不满意 -> 重办).
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    count: str = ""  # a number field it adds one to each time it fires (returns, re-handles)
    # A date field (required) on which the deadline of the state entered falls, instead
    # of its budget: an extension approved moves the deadline to the date granted.
    deadline_to: str = ""
    # At least this many working days before the current state's deadline, or refused
    # (an extension is asked for in time, not on the day it is missed).
    before_deadline: int = 0

    @property
    def label(self) -> Label:
        return Label(self.title or self.trigger, self.title_en or self.title or self.trigger)

    @property
    def term(self) -> Label:
        return Label(self.title or self.trigger, self.trigger)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for w in (self.trigger, self.title, self.title_en,
                                               *self.aliases) if w))


class WorkflowSpec(Struct, frozen=True):
    """One parsed and validated workflow definition."""

    name: str
    title: str
    version: int
    key_prefix: str
    initial: str
    fields: dict[str, FieldSpec]
    states: dict[str, StateSpec]
    transitions: tuple[TransitionSpec, ...]
    digest: str
    source: str
    path: str
    description: str = ""
    # `milestone = true` on a state or a `[milestones]` table, in state order.
    milestones: tuple[Milestone, ...] = ()
    title_en: str = ""
    description_en: str = ""

    @property
    def label(self) -> Label:
        return Label(self.title or self.name, self.title_en or self.title or self.name)

    @property
    def term(self) -> Label:
        return Label(self.title or self.name, self.name)

    def transitions_from(self, state: str) -> list[TransitionSpec]:
        """The transitions that may fire in ``state``, in file order."""
        return [t for t in self.transitions if state in t.sources]

    def transition(self, state: str, trigger: str) -> TransitionSpec | None:
        """The transition ``trigger`` fires from ``state``, or None."""
        # Validation guarantees at most one match per (state, trigger).
        return next((t for t in self.transitions_from(state) if t.trigger == trigger), None)

    @property
    def roles(self) -> frozenset[str]:
        """Every role the definition names: who may fire a transition, who is told
        when a deadline passes."""
        named = {role for t in self.transitions for role in t.roles}
        named.update(s.deadline.escalate_to for s in self.states.values() if s.deadline)
        named.update(s.contact.escalate_to for s in self.states.values()
                     if s.contact and s.contact.escalate_to)
        named.update(d.escalate_to for s in self.states.values() for d in s.duties)
        named.update(e.escalate_to for s in self.states.values() for e in s.each
                     if e.escalate_to)
        named.update(step.to for s in self.states.values() if s.deadline
                     for step in s.deadline.ladder)
        return frozenset(named)
