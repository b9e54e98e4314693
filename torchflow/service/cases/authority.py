"""What the permission table needs to know of a case (domain/permissions.py:
its people, its workflow's escalation roles), loaded in the use case's own
transaction, and the work a closed case no longer takes."""

from __future__ import annotations

from collections.abc import Sequence

from msgspec.structs import replace
from sqlalchemy import Connection, and_, select

from torchflow.domain.field_values import people_of
from torchflow.domain.permissions import Facts
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import Refused
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.cases.rows import CaseRow
from torchflow.service.people.absences import in_force
from torchflow.store.models import CASES, OPEN, PEOPLE, TASKS


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
    facts = cases_facts(session, [case], spec, task_role)[case.id]
    if standing_in is None:
        return facts
    ours = {h for h in (facts.owner, *facts.assignees) if h}
    today = standing_in.calendar.local_date(standing_in.now())
    stand_ins = sorted(a.substitute for a in in_force(session, standing_in.calendar.tz, today)
                       if a.person in ours)
    found = tuple(dict.fromkeys(h for h in (*facts.assignees, *stand_ins) if h != facts.owner))
    return replace(facts, assignees=found)


def cases_facts(session: Connection, cases: Sequence[CaseRow], spec: WorkflowSpec,
                task_role: str | None = None) -> dict[int, Facts]:
    """``case_facts`` of many cases (an import's chunk) in one query: each case's
    owner and the assignees of its open tasks, by case id."""
    if not cases:
        return {}
    owner, assignee = PEOPLE.alias("owner"), PEOPLE.alias("assignee")
    rows = session.execute(
        select(CASES.c.id, owner.c.handle, assignee.c.handle)
        .select_from(CASES.outerjoin(owner, owner.c.id == CASES.c.owner_id)
                     .outerjoin(TASKS, and_(TASKS.c.case_id == CASES.c.id,
                                            TASKS.c.status == OPEN))
                     .outerjoin(assignee, assignee.c.id == TASKS.c.assignee_id))
        .where(CASES.c.id.in_([c.id for c in cases])))
    owners: dict[int, str | None] = {}
    assignees: dict[int, set[str]] = {}
    for case_id, owner_handle, assignee_handle in rows:
        owners[case_id] = owner_handle
        if assignee_handle is not None:
            assignees.setdefault(case_id, set()).add(assignee_handle)
    watching = overseers(spec)
    facts = {}
    for case in cases:
        who = owners.get(case.id)
        named = [str(case.fields[name]) for name, f in spec.fields.items()
                 if f.type == "person" and case.fields.get(name)]
        named += [h for name, f in spec.fields.items() if f.type == "people"
                  for h in people_of(case.fields.get(name))]  # co-handlers act on it too
        people = tuple(dict.fromkeys(h for h in (*named, *sorted(assignees.get(case.id, ())))
                                     if h != who))
        facts[case.id] = Facts(case=case.key, owner=who, assignees=people, overseers=watching,
                               task_role=task_role)
    return facts


def refuse_if_closed(case: CaseRow, spec: WorkflowSpec) -> None:
    """Work is logged on a live case only: a closed one (a terminal state) takes no
    contact, visit or task change until a workflow reopens it."""
    state = spec.states.get(case.state)
    if state is not None and state.terminal:
        raise Refused(_("case {key} is closed ({state}); nothing more is logged on it",
                        key=case.key, state=state.term))
