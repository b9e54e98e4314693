"""Many notices waiting at once for one person become one message.

An import with real entry dates, or an outage, leaves a person with dozens of
task notices due at the same moment; several deadlines missed on one day give
their role's holder as many escalations. After each sweep, a person's task
notices ready to go by their own channel are summarised: escalations when two
or more wait, the rest when more than ``[notify] backlog_after`` do. Each
summarised notice stays in the ledger, folded into the summary (its key names
them), so nothing is dropped and nothing goes twice. Group robots have their
own folding (delivery/gate.py); a notice held for quiet hours waits, and is
summarised with the rest once they end.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, select

from torchflow.domain import wording
from torchflow.domain.status import NoticeKind, NoticeStatus
from torchflow.domain.timeline import KINDS
from torchflow.service.app import App
from torchflow.service.delivery import ledger
from torchflow.service.people.lookup import people_by_id
from torchflow.store.models import NOTICES

ESCALATION = NoticeKind.ESCALATION


def summarise(app: App, now: datetime) -> int:
    """Summarise each person's waiting task notices; how many summaries were made."""
    made = 0
    with app.db.transaction() as s:
        waiting = _waiting(s, now)
        if not waiting:
            return 0
        names = {p.handle: p.name for p in people_by_id(s).values()}
        for (recipient, _channel, _address, escalation), group in groupby(
                waiting, key=lambda n: (n.recipient, n.channel, n.address,
                                        n.kind == ESCALATION)):
            rows = list(group)
            if len(rows) < (2 if escalation else app.settings.notify.backlog_after + 1):
                continue
            kind = ESCALATION if escalation else NoticeKind.DIGEST
            words = wording.summary(names.get(recipient, recipient), kind,
                                    [r.subject for r in rows], app.tr)
            ledger.summarise(s, rows, kind=kind, subject=words.subject, body=words.body,
                             now=now)
            made += 1
    return made


def _waiting(s: Connection, now: datetime) -> list[Any]:
    """Task notices ready to go to a person's own channel, not taken by a
    sender, in the order they are summarised (locked, skipping any a sender
    or another service holds)."""
    rows = s.execute(
        select(NOTICES.c.id, NOTICES.c.recipient, NOTICES.c.channel, NOTICES.c.address,
               NOTICES.c.kind, NOTICES.c.subject, NOTICES.c.payload, NOTICES.c.for_person)
        .where(NOTICES.c.status == NoticeStatus.PENDING, NOTICES.c.task_id.is_not(None),
               NOTICES.c.kind.in_(KINDS), NOTICES.c.not_before <= now,
               NOTICES.c.lease_owner.is_(None), NOTICES.c.held.is_(None),
               NOTICES.c.send_started.is_(None), NOTICES.c.attempts == 0)
        .with_for_update(skip_locked=True)).all()
    mine = [r for r in rows if not (r.payload or {}).get("group")]
    return sorted(mine, key=lambda n: (n.recipient, n.channel, n.address,
                                       n.kind == ESCALATION, n.id))
