"""`person handover`: a person leaves or changes post; their open cases, open
tasks and pending notices move to another, in one transaction."""

from __future__ import annotations

from msgspec import Struct
from sqlalchemy import select, update

from torchflow.domain.office import OfficeKind, Subject
from torchflow.domain.status import EventKind
from torchflow.errors import InvalidInput
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.cases.events import append_event
from torchflow.service.cases.rows import case_by_id
from torchflow.service.followups import writer as followups
from torchflow.service.people.absences import refuse_if_substitute
from torchflow.service.people.lookup import (
    Actor,
    active_person,
    admins,
    keep_an_admin,
    person_by_handle,
)
from torchflow.store.models import CASES, PEOPLE


class Handover(Struct, frozen=True):
    giver: str
    taker: str
    cases: int
    tasks: int
    notices: int  # moved now
    in_flight: int  # being sent: they move if that send ends unsent


def handover(app: App, actor: Actor, old: str, new: str, *, deactivate: bool = False
             ) -> Handover:
    """OLD leaves or changes post: open cases, open tasks and pending notices move."""
    actor.authorize("person.handover")
    if deactivate:
        actor.authorize("person.deactivate")
    if old == new:
        raise InvalidInput("OLD and NEW are the same person")
    if deactivate:
        refuse_if_substitute(app, old)
    now = app.now()
    with app.db.transaction() as s:
        giver, taker = person_by_handle(s, old), active_person(s, new, "hand over to")
        new = taker.handle
        case_ids = list(s.scalars(select(CASES.c.id).where(
            CASES.c.owner_id == giver.id, CASES.c.closed_at.is_(None))))
        for case_id in case_ids:
            append_event(s, case_by_id(s, case_id), kind=EventKind.ASSIGNED,
                         actor=actor.handle, entered_by=actor.entered_by, at=now,
                         data={"owner": new, "was": old, "handover": True},
                         changes={"owner_id": taker.id})
        moved = followups.move_work(app, s, taker, giver=giver)
        if deactivate:
            before = admins(s)
            s.execute(update(PEOPLE).where(PEOPLE.c.id == giver.id).values(active=False))
            keep_an_admin(s, before)
            office.record(s, OfficeKind.DEACTIVATED, Subject.PERSON, giver.id, actor=actor,
                          at=now)
    return Handover(old, new, len(case_ids), moved.tasks, moved.notices, moved.in_flight)
