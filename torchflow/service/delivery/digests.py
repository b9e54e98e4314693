"""The daily digests: what each person has due, what was folded for them, and
what their substitutes handled while they were away."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, or_, select

from torchflow.domain.status import NoticeKind, NoticeStatus
from torchflow.store.models import NOTICES, TASKS


def folded_for(session: Connection, owner: str) -> list[Any]:
    """The folded notices of ``owner`` (received by them, or for them by a
    substitute) not yet in a digest, with their task's status: their next
    digest takes them all and lists those whose task is still open."""
    return list(session.execute(
        select(NOTICES.c.id, NOTICES.c.kind, NOTICES.c.payload,
               TASKS.c.status.label("task_status"))
        .join(TASKS, TASKS.c.id == NOTICES.c.task_id)
        .where(NOTICES.c.status == NoticeStatus.FOLDED, NOTICES.c.folded_into.is_(None),
               or_(NOTICES.c.for_person == owner,
                   and_(NOTICES.c.for_person.is_(None), NOTICES.c.recipient == owner)))
        .order_by(NOTICES.c.id)).all())


def handled_while_away(session: Connection, handle: str) -> list[Any]:
    """Task notices others received for ``handle`` since ``handle``'s own last
    digest: what their substitutes handled while they were away."""
    last = session.scalar(
        select(NOTICES.c.created_at)
        .where(NOTICES.c.recipient == handle, NOTICES.c.kind == NoticeKind.DIGEST,
               NOTICES.c.for_person.is_(None))
        .order_by(NOTICES.c.created_at.desc()).limit(1))
    query = (select(NOTICES.c.recipient, NOTICES.c.kind, NOTICES.c.status, NOTICES.c.subject)
             .where(NOTICES.c.for_person == handle, NOTICES.c.task_id.is_not(None),
                    NOTICES.c.status != NoticeStatus.CANCELLED))
    if last is not None:
        query = query.where(NOTICES.c.created_at > last)
    return list(session.execute(query.order_by(NOTICES.c.id)).all())


def people_handled_for(session: Connection) -> list[str]:
    """Everyone some substitute received notices for (candidates for a
    "handled for you" section)."""
    return sorted(h for h in session.scalars(
        select(NOTICES.c.for_person).distinct().where(NOTICES.c.for_person.is_not(None)))
        if h)
