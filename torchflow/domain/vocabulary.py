"""The words a person types for the things of a workflow, resolved to the codes
stored: a choice by its value, title or alias (新能源), a state by its title or
alias (在谈), a transition by its title or alias or by the state it leads to
(签约), a field by its title (计划投资额), a role by its name or alias (局长), a
person by handle or by exact name when only one person has it.

Pure: the service passes the workflow and the people it read. Words compare
folded (NFKC, case and runs of spaces ignored), so 'New Energy', ' 新能源 ' and
full-width letters match. A refusal lists what would be accepted in the
reader's language (``term``: titles in Chinese, codes in English).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from torchflow.domain.text import printable
from torchflow.domain.workflow import FieldSpec, RoleSpec, TransitionSpec, WorkflowSpec
from torchflow.errors import InvalidInput, NotFound, Refused
from torchflow.i18n import Label, Listing, Text, _

T = TypeVar("T")
_SHOWN = 40


def fold(word: str) -> str:
    """A word as compared: NFKC (full-width letters, compatibility forms), case
    folded, spaces trimmed and collapsed."""
    if word.isascii():  # NFKC leaves ASCII as it is, and casefold is lower there
        return " ".join(word.lower().split())
    return " ".join(unicodedata.normalize("NFKC", word).casefold().split())


def quoted(text: str) -> str | Text:
    """A typed value echoed in a refusal: escaped, and cut (its length said) when
    long, so the refusal stays one short line."""
    if len(text) <= _SHOWN:
        return repr(printable(text))
    return _("{start}... ({length} characters)", start=repr(printable(text[:20])),
             length=len(text))


def _matching(items: Iterable[T], typed: str, words: Callable[[T], Iterable[str]]) -> list[T]:
    """The items ``typed`` names: an exact word first (a code is never shadowed by
    another's alias), else a folded one."""
    items = list(items)
    exact = [i for i in items if typed in words(i)]
    if exact:
        return exact
    want = fold(typed)
    return [i for i in items if any(fold(w) == want for w in words(i))] if want else []


def choice_value(field: FieldSpec, typed: str) -> str:
    """The value stored for what a person typed into a choice field."""
    options = [field.option(value) for value in field.choices]
    found = _matching(options, typed.strip(), lambda o: o.words)
    if len(found) == 1:
        return found[0].name
    raise InvalidInput(_("field '{field}' must be one of: {choices}; got {value}",
                         field=field.term, choices=Listing(o.term for o in options),
                         value=quoted(typed)))


def field_named(spec: WorkflowSpec, typed: str) -> FieldSpec:
    """A field by its name or either title."""
    fields = list(spec.fields.values())
    found = _matching(fields, typed.strip(), lambda f: (f.name, f.title, f.title_en))
    if len(found) == 1:
        return found[0]
    raise InvalidInput(_("'{workflow}' has no field '{name}'; fields: {fields}",
                         workflow=spec.term, name=typed,
                         fields=Listing(f.term for f in fields) if fields else _("none")))


def workflow_name(specs: Iterable[WorkflowSpec], typed: str,
                  stored: Iterable[str] = ()) -> str | None:
    """The workflow ``typed`` names: its name, title or ``title_en`` (项目引进), or
    the name of one only cases remember (its file gone); None when none."""
    typed = typed.strip()
    found = _matching(specs, typed, lambda w: (w.name, w.title, w.title_en))
    if len(found) == 1:
        return found[0].name
    return typed if typed in set(stored) else None


def unknown_workflow(specs: Iterable[WorkflowSpec], typed: str,
                     stored: Iterable[str] = ()) -> Text:
    names = sorted({w.name for w in specs} | set(stored))
    terms = {w.name: w.term for w in specs}
    return _("there is no workflow '{workflow}'; workflows: {workflows}", workflow=typed,
             workflows=Listing(terms.get(n, n) for n in names) if names else _("none yet"))


def state_name(spec: WorkflowSpec, typed: str) -> str:
    found = _matching(spec.states.values(), typed.strip(), lambda s: s.words)
    if len(found) == 1:
        return found[0].name
    raise InvalidInput(_("there is no state '{state}'; states: {states}", state=typed,
                         states=Listing(s.term for s in spec.states.values())))


def states_named(specs: Iterable[WorkflowSpec], typed: str,
                 stored: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Every (workflow, state) ``typed`` names, across ``specs``, plus the stored
    (workflow, state) pairs of cases whose state is that code (a state a newer
    version dropped): for a filter such as `case list --state 在谈`."""
    specs = list(specs)
    pairs = [(w.name, s.name) for w in specs
             for s in _matching(w.states.values(), typed.strip(), lambda s: s.words)]
    pairs += [p for p in stored if p[1] == typed.strip() and p not in pairs]
    if pairs:
        return pairs
    known = {s.name for w in specs for s in w.states.values()}
    terms: list[Label | str] = [s.term for w in specs for s in w.states.values()]
    terms += [state for _w, state in stored if state not in known]
    raise InvalidInput(_("there is no state '{state}'; states: {states}", state=typed,
                         states=Listing(dict.fromkeys(terms)) if terms else _("none yet")))


def transition_for(spec: WorkflowSpec, state: str, typed: str) -> TransitionSpec | None:
    """The transition out of ``state`` that ``typed`` names: its trigger, title
    or alias, or the state it leads to (`case advance PI-2026-0001 签约`). None
    when nothing matches (the machine says what is allowed); Refused when a
    word leads two ways."""
    out = spec.transitions_from(state)
    typed = typed.strip()
    found = _matching(out, typed, lambda t: t.words)
    if not found:
        dests = {t.dest for t in out if t.dest in spec.states}
        named = {s.name for s in _matching([spec.states[d] for d in dests], typed,
                                           lambda s: s.words)}
        found = [t for t in out if t.dest in named]
    if len(found) > 1:
        raise Refused(_("'{word}' could mean {triggers}; name one of them",
                        word=typed, triggers=Listing((t.term for t in found), "or")))
    return found[0] if found else None


def role_code(roles: Mapping[str, RoleSpec], typed: str) -> str:
    """A role by its code, name or alias (roles.toml); an unnamed code stands as typed."""
    typed = typed.strip()
    found = _matching(roles.values(), typed, lambda r: r.words)
    if len(found) == 1:
        return found[0].name
    if len(found) > 1:
        raise InvalidInput(_("'{word}' names the roles {roles}; give one of them",
                             word=typed, roles=Listing((r.term for r in found), "or")))
    return typed


def person_handle(typed: str, people: Sequence[tuple[str, str]]) -> str:
    """The handle of the person ``typed`` names, among ``people`` (handle, name)
    whose handle or name is ``typed``: a handle wins; a name must be one person's."""
    typed = typed.strip()
    if any(handle == typed for handle, _name in people):
        return typed
    named = sorted(handle for handle, name in people if name.strip() == typed)
    if len(named) == 1:
        return named[0]
    if named:
        raise InvalidInput(_("{name} is the name of {n} people ({handles}); give the handle",
                             name=typed, n=len(named), handles=Listing(named)))
    if typed.isascii() and not any(ch.isspace() for ch in typed):
        raise NotFound(_("no person with handle '{handle}'; see `torchflow person list`",
                         handle=typed))
    raise NotFound(_("no person is named {name}; see `torchflow person list`",
                     name=quoted(typed)))


def english_names(specs: Iterable[WorkflowSpec]) -> dict[str, str]:
    """The workflows' Chinese titles in English (workflows, states, milestones):
    for a chart drawn where no CJK font is installed."""
    names: dict[str, str] = {}
    for spec in specs:
        # A milestone's own title first: its state may share the Chinese (签约).
        for label in (spec.label, *(m.label for m in spec.milestones),
                      *(s.label for s in spec.states.values())):
            names.setdefault(label.zh, label.en)
    return names


def labels(items: Mapping[str, RoleSpec]) -> dict[str, Label]:
    """The office's names of its roles, for ``Translator.with_roles``: the name in
    Chinese, the code (what English speakers type) in English."""
    return {code: role.term for code, role in items.items()}
