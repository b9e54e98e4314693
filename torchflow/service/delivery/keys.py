"""The ledger's idempotency keys: one function builds every variant.

A key is unique in the ledger, so producing a notice twice is a no-op and a
receiver can drop a resend (SMTP Message-ID, ``X-Torchflow-Idempotency-Key``).
Stored keys are never rewritten by a change of this module: every variant
below is what the ledger already holds, byte for byte.

* a task notice: ``task:{task}:{occurrence}:{kind}:{recipient}:{channel}:{due_on}``;
  the due day is in it so a snoozed task reminds again for its new day, while
  sweeping the same day twice stays a no-op;
* a ladder step's escalation (a deadline's 催办, 通报, ...): the task notice's key
  of kind ``escalation`` then ``:step:{step}``, one per step of the due day;
* a digest: ``digest:{day}:{recipient}:{channel}``, and a substitute's digest
  for someone away beside their own: ``...:for:{person}``;
* the monthly report: ``report:monthly:{YYYY-MM}:{recipient}:{channel}``;
* a notice re-routed to its person's fallback channel: its key as it was, then
  ``:via:{channel}`` (a key older than the due day in task keys keeps its form);
* a held notice that follows its person to another channel (``on_channel``):
  its key with ``:{recipient}:{channel}`` naming the new channel;
* a robot's backlog folded into one message (delivery/gate.py):
  ``fold:{channel}:{address}:{first id}:{last id}:{count}``;
* a test message (`channel test`, never in the ledger):
  ``test:{channel}:{address}:{ISO instant}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from torchflow.domain.status import NoticeKind
from torchflow.domain.timeline import DIGEST, KINDS
from torchflow.errors import InvalidInput

_VIA = ":via:"


def idempotency_key(
    *,
    kind: str = "",
    recipient: str = "",
    channel: str = "",
    task_id: int | None = None,
    occurrence: int | None = None,
    due_on: date | None = None,
    day: date | None = None,
    for_person: str | None = None,
    month: str | None = None,
    rerouted: str | None = None,
    address: str = "",
    folded: Sequence[int] | None = None,
    test_at: datetime | None = None,
    step: str | None = None,
) -> str:
    """The key of a notice of ``kind`` to ``recipient`` by ``channel``, from what
    it is about (a task's occurrence and due day, a digest's day and for whom, a
    report's month); or, given ``rerouted`` (the key a notice has), the key of
    that notice re-routed to ``channel``; given ``folded`` (the ids of a backlog,
    in order), the key of the message they are folded into at ``address``; given
    ``test_at``, the key of a test message by ``channel`` to ``address``."""
    if rerouted is not None:
        if not channel:
            raise InvalidInput("a re-routed notice needs its new channel")
        return f"{rerouted}{_VIA}{channel}"
    if folded is not None:
        if not channel or not folded:
            raise InvalidInput("a folded backlog needs its channel and its notices")
        return f"fold:{channel}:{address}:{folded[0]}:{folded[-1]}:{len(folded)}"
    if test_at is not None:
        return f"test:{channel}:{address}:{test_at.isoformat()}"
    if not recipient or not channel:
        raise InvalidInput("a notice needs a recipient and a channel")
    if kind == DIGEST:
        if day is None:
            raise InvalidInput("a digest notice needs its day")
        key = f"digest:{day.isoformat()}:{recipient}:{channel}"
        return f"{key}:for:{for_person}" if for_person else key
    if kind == NoticeKind.REPORT:
        if not month:
            raise InvalidInput("a report notice needs its month")
        return f"report:monthly:{month}:{recipient}:{channel}"
    if kind not in KINDS:
        raise InvalidInput(
            f"unknown notice kind {kind!r}; expected one of "
            + ", ".join((*KINDS, DIGEST, NoticeKind.REPORT)))
    if task_id is None or occurrence is None or due_on is None:
        raise InvalidInput(f"a {kind!r} notice needs task_id, occurrence and due_on")
    key = f"task:{task_id}:{occurrence}:{kind}:{recipient}:{channel}:{due_on.isoformat()}"
    if step is not None:
        if kind != NoticeKind.ESCALATION:
            raise InvalidInput("a ladder step's notice is an escalation")
        return f"{key}:step:{step}"
    return key


def is_rerouted(key: str) -> bool:
    """Whether the key is one of a notice re-routed already (once is all)."""
    return _VIA in key


def on_channel(key: str, recipient: str, old: str, new: str) -> str:
    """The key of ``recipient``'s notice (task, digest or report) that goes by
    channel ``new`` instead of ``old``: every such key names the two together."""
    return key.replace(f":{recipient}:{old}", f":{recipient}:{new}", 1)
