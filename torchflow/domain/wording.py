"""What notices say: the subject and body of task notices and daily digests.

Pure: values in, text out. The service decides who is told and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from torchflow.domain.status import NoticeKind, TaskKind

_WHAT = {TaskKind.CONTACT: "Routine contact", TaskKind.VISIT: "Visit",
         TaskKind.DEADLINE: "Deadline"}
_WHEN = {
    NoticeKind.UPCOMING: "coming up on {due}",
    NoticeKind.DUE: "due today ({due})",
    NoticeKind.OVERDUE: "overdue since {due}",
    NoticeKind.ESCALATION: "missed on {due}: escalated to you",
}


@dataclass(frozen=True)
class Wording:
    subject: str
    body: str


def for_whom(person: str, away_until: date | None) -> str:
    """The mark of a notice a substitute receives: whose it is, until when."""
    return f"for {person}, away until {away_until}"


def task_notice(task: Any, case_key: str, case_title: str, kind: str,
                on_behalf: str | None = None) -> Wording:
    """A task's notice of ``kind`` (upcoming, due, overdue, escalation);
    ``on_behalf`` (``for_whom``) when a substitute receives it."""
    what = _WHAT.get(task.kind, task.kind.capitalize())
    when = _WHEN[NoticeKind(kind)].format(due=task.due_on.isoformat())
    lines = [
        *([f"({on_behalf})"] if on_behalf else []),
        f"Case {case_key}: {case_title}",
        f"{what} (rule {task.rule}, #{task.occurrence}) is {when}.",
    ]
    if task.window_start is not None:
        lines.append(f"Visit window {task.window_start} to {task.window_end}, seed {task.seed}.")
    lines.append(f"Log it with: torchflow case {task.kind} {case_key}"
                 if task.kind in (TaskKind.CONTACT, TaskKind.VISIT) else
                 f"Review it with: torchflow case show {case_key}")
    mark = f" ({on_behalf})" if on_behalf else ""
    return Wording(f"[{case_key}] {what} {when}: {case_title}{mark}", "\n".join(lines))


def digest(name: str, day: date, items: Sequence[Any], *, on_behalf: str | None = None,
           coming_up: Sequence[Any] = (), handled: Sequence[Any] = ()) -> Wording:
    """A person's digest of ``day``: items (key, kind, due_on, title) due that day
    or before; ``coming_up`` (the same shape): upcoming notices folded into it;
    ``handled`` (recipient, kind, subject): what substitutes received for the
    person while they were away; ``on_behalf`` when a substitute receives it."""
    overdue = [i for i in items if i.due_on < day]
    today = [i for i in items if i.due_on == day]
    lines = [*([f"({on_behalf})"] if on_behalf else []), f"Follow-ups for {name} on {day}:"]
    for title, group in (("Due today", today), ("Overdue", overdue), ("Coming up", coming_up)):
        if group:
            lines.append(f"\n{title}:")
            lines += [f"  {i.key} {i.kind} (due {i.due_on}) {i.title}" for i in group]
    if handled:
        lines.append("\nHandled for you while away:")
        lines += [f"  {h.recipient}: {h.kind} {h.subject}" for h in handled]
    mark = f" ({on_behalf})" if on_behalf else ""
    return Wording(f"[torchflow] {day}: {len(today)} due today, {len(overdue)} overdue{mark}",
                   "\n".join(lines))
