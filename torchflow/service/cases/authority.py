"""What the permission table needs to know of a case (domain/permissions.py:
its people, its workflow's escalation roles), loaded in the use case's own
transaction, and the work a closed case no longer takes."""

from __future__ import annotations

from sqlalchemy import Connection, select

from torchflow.domain.field_values import people_of
from torchflow.domain.permissions import Facts
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import Refused
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.cases.rows import CaseRow
from torchflow.service.people.absences import in_force
from torchflow.store.models import OPEN, PEOPLE, TASKS


def overseers(spec: WorkflowSpec) -> frozenset[str]:
    """The roles a workflow escalates to (its deadlines, missed contacts): those
    who oversee its cases."""
    return frozenset(role for state in spec.states.values() for r in state.rules
                     if (role := getattr(r, "escalate_to", None)))


def case_facts(session: Connection, case: CaseRow, spec: WorkflowSpec,
               task_role: str | None = None, *, standing_in: App | None = None) -> Facts:
    """The case's people: its owner, then the people named in its person fields
    and the assignees of its open tasks; with ``standing_in`` (the day's work:
    contacts, visits, tasks), also whoever stands in for one of them today."""
    owner = session.scalar(select(PEOPLE.c.handle).where(PEOPLE.c.id == case.owner_id)) \
        if case.owner_id is not None else None
    named = [str(case.fields[name]) for name, f in spec.fields.items()
             if f.type == "person" and case.fields.get(name)]
    named += [h for name, f in spec.fields.items() if f.type == "people"
              for h in people_of(case.fields.get(name))]  # co-handlers act on it too
    assignees = session.scalars(
        select(PEOPLE.c.handle).join(TASKS, TASKS.c.assignee_id == PEOPLE.c.id)
        .where(TASKS.c.case_id == case.id, TASKS.c.status == OPEN).distinct())
    people = [h for h in [*named, *sorted(assignees)] if h != owner]
    if standing_in is not None:
        ours = {h for h in (owner, *people) if h}
        today = standing_in.calendar.local_date(standing_in.now())
        people += sorted(a.substitute for a in in_force(session, standing_in.calendar.tz, today)
                         if a.person in ours)
    found = tuple(dict.fromkeys(h for h in people if h != owner))
    return Facts(case=case.key, owner=owner, assignees=found, overseers=overseers(spec),
                 task_role=task_role)


def refuse_if_closed(case: CaseRow, spec: WorkflowSpec) -> None:
    """Work is logged on a live case only: a closed one (a terminal state) takes no
    contact, visit or task change until a workflow reopens it."""
    state = spec.states.get(case.state)
    if state is not None and state.terminal:
        raise Refused(_("case {key} is closed ({state}); nothing more is logged on it",
                        key=case.key, state=state.term))
