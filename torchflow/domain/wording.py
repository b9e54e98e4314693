"""What notices say: the subject and body of task notices and daily digests.

Pure: values in, text out. The service decides who is told and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from torchflow.domain.status import NoticeKind, TaskKind
from torchflow.i18n import ENGLISH, N_, Text, Translator, _

_WHAT = {TaskKind.CONTACT: N_("Routine contact"), TaskKind.VISIT: N_("Visit"),
         TaskKind.DEADLINE: N_("Deadline"), TaskKind.DUTY: N_("Duty on a date")}


def _when(kind: str, due: str) -> Text:
    return {
        NoticeKind.UPCOMING: _("coming up on {due}", due=due),
        NoticeKind.DUE: _("due today ({due})", due=due),
        NoticeKind.OVERDUE: _("overdue since {due}", due=due),
        NoticeKind.ESCALATION: _("missed on {due}: escalated to you", due=due),
    }[NoticeKind(kind)]


@dataclass(frozen=True)
class Wording:
    subject: str
    body: str


def for_whom(person: str, away_until: date | None, tr: Translator = ENGLISH) -> str:
    """The mark of a notice a substitute receives: whose it is, until when."""
    return tr(_("for {person}, away until {day}", person=person, day=away_until))


def task_notice(task: Any, case_key: str, case_title: str, kind: str,
                on_behalf: str | None = None, tr: Translator = ENGLISH) -> Wording:
    """A task's notice of ``kind`` (upcoming, due, overdue, escalation), in the
    office's language (``tr``); ``on_behalf`` (``for_whom``) when a substitute
    receives it."""
    what = tr.gettext(_WHAT[task.kind]) if task.kind in _WHAT else task.kind.capitalize()
    when = tr(_when(kind, task.due_on.isoformat()))
    lines = [
        *([f"({on_behalf})"] if on_behalf else []),
        tr(_("Case {key}: {title}", key=case_key, title=case_title)),
        tr(_("{what} (rule {rule}, #{occurrence}) is {when}.", what=what, rule=task.rule,
             occurrence=task.occurrence, when=when)),
    ]
    if task.window_start is not None:
        lines.append(tr(_("Visit window {start} to {end}, seed {seed}.", start=task.window_start,
                          end=task.window_end, seed=task.seed)))
    if task.kind in (TaskKind.CONTACT, TaskKind.VISIT):
        lines.append(tr(_("Log it with: torchflow case {kind} {key}", kind=task.kind,
                          key=case_key)))
    else:
        lines.append(tr(_("Review it with: torchflow case show {key}", key=case_key)))
    subject = tr(_("[{key}] {what} {when}: {title}", key=case_key, what=what, when=when,
                   title=case_title))
    if on_behalf:
        subject = tr(_("{subject} ({on_behalf})", subject=subject, on_behalf=on_behalf))
    return Wording(subject, "\n".join(lines))


def digest(name: str, day: date, items: Sequence[Any], *, on_behalf: str | None = None,
           coming_up: Sequence[Any] = (), handled: Sequence[Any] = (),
           tr: Translator = ENGLISH) -> Wording:
    """A person's digest of ``day`` in the office's language (``tr``): items (key,
    kind, due_on, title) due that day or before; ``coming_up`` (the same shape):
    upcoming notices folded into it; ``handled`` (recipient, kind, subject): what
    substitutes received for the person while they were away; ``on_behalf`` when
    a substitute receives it."""
    overdue = [i for i in items if i.due_on < day]
    today = [i for i in items if i.due_on == day]
    lines = [*([f"({on_behalf})"] if on_behalf else []),
             tr(_("Follow-ups for {name} on {day}:", name=name, day=day))]
    for title, group in ((_("Due today:"), today), (_("Overdue:"), overdue),
                         (_("Coming up:"), coming_up)):
        if group:
            lines.append("\n" + tr(title))
            lines += ["  " + tr(_("{key} {kind} (due {due}) {title}", key=i.key,
                                  kind=Text(i.kind), due=i.due_on, title=i.title))
                      for i in group]
    if handled:
        lines.append("\n" + tr(_("Handled for you while away:")))
        lines += [f"  {h.recipient}: {tr(Text(h.kind))} {h.subject}" for h in handled]
    subject = tr(_("[torchflow] {day}: {today} due today, {overdue} overdue", day=day,
                   today=len(today), overdue=len(overdue)))
    if on_behalf:
        subject = tr(_("{subject} ({on_behalf})", subject=subject, on_behalf=on_behalf))
    return Wording(subject, "\n".join(lines))
