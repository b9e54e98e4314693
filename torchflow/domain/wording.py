"""What notices say: task notices, daily digests and the summaries of a backlog.

Pure: values in, text out, in the office's language (a ``Translator``). A notice
says what a person needs to act: the case, the enterprise and whom to call there,
how many working days it is overdue and what to do, in words; the CLI command
only as a hint, a link to the case when the office has a server URL; never a
rule's internal name or a visit's seed. The service decides who is told and when.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from msgspec import Struct

from torchflow.domain.status import NoticeKind, TaskKind
from torchflow.i18n import ENGLISH, N_, Text, Translator, _, ngettext_

_WHAT = {TaskKind.CONTACT: N_("Routine contact"), TaskKind.VISIT: N_("Visit"),
         TaskKind.DEADLINE: N_("Deadline"), TaskKind.DUTY: N_("Duty on a date"),
         TaskKind.EACH: N_("Your part, reported to the lead")}
# What to do, in words, per task kind; an escalation asks the role to follow it up.
_TODO = {TaskKind.CONTACT: N_("Please get in touch with the enterprise and log the contact."),
         TaskKind.VISIT: N_("Please visit the enterprise and log the visit."),
         TaskKind.DEADLINE: N_("Please check how the matter stands and mark it done once "
                               "it is."),
         TaskKind.DUTY: N_("Please see that the duty is fulfilled by its date and mark it done "
                           "once it is."),
         TaskKind.EACH: N_("Please report your part to the lead handler and mark it done "
                           "once you have.")}
# What someone logged on a person's work while they were away, by event kind.
_DID = {"contact": N_("logged a contact"), "visit": N_("logged a visit"),
        "task_done": N_("marked a task done"), "note": N_("added a note")}
_FOLLOW_UP = N_("It was not done in time: please see that it is followed up.")

# Where the workflows keep the enterprise, its contact person and a phone number.
ENTERPRISE_FIELDS = ("enterprise", "enterprise_name", "company")
CONTACT_FIELDS = ("contact_person", "contact", "contact_name")
PHONE_FIELDS = ("contact_phone", "phone", "mobile", "telephone")


class Wording(Struct, frozen=True):
    subject: str
    body: str


class About(Struct, frozen=True):
    """What a notice tells about its case beyond key and title: the enterprise,
    its contact person and phone (from the case's fields, where the workflow has
    them) and a link to the case (``[notify] case_url``)."""

    enterprise: str = ""
    contact: str = ""
    phone: str = ""
    link: str = ""


NOTHING_MORE = About()


def about(fields: Mapping[str, Any] | None, key: str, case_url: str = "") -> About:
    """The ``About`` of case ``key`` with ``fields``; ``case_url`` has ``{key}``."""
    fields = fields or {}

    def first(names: Sequence[str]) -> str:
        return next((" ".join(str(fields[n]).split()) for n in names if fields.get(n)), "")

    return About(first(ENTERPRISE_FIELDS), first(CONTACT_FIELDS), first(PHONE_FIELDS),
                 case_url.replace("{key}", key) if case_url else "")


def what(kind: str, tr: Translator = ENGLISH) -> str:
    """A task kind as a person says it (日常联络, 走访, 期限)."""
    return tr.gettext(_WHAT[TaskKind(kind)]) if kind in _WHAT else kind


def _when(kind: str, due: date, late: int) -> Text:
    """When, for a notice of ``kind`` on a task due on ``due``, ``late`` working
    days overdue at the time of writing."""
    if kind in (NoticeKind.OVERDUE, NoticeKind.ESCALATION) and late > 0:
        return ngettext_("{n} working day overdue (due {due})",
                         "{n} working days overdue (due {due})", late, due=due)
    return {
        NoticeKind.UPCOMING: _("coming up on {due}", due=due),
        NoticeKind.DUE: _("due today ({due})", due=due),
        NoticeKind.OVERDUE: _("not done by the end of {due}", due=due),
        NoticeKind.ESCALATION: _("not done by the end of {due}", due=due),
    }[NoticeKind(kind)]


def for_whom(person: str, away_until: date | None, tr: Translator = ENGLISH) -> str:
    """The mark of a notice a substitute receives: whose it is, until when."""
    return tr(_("for {person}, away until {day}", person=person, day=away_until))


def _about_lines(a: About, tr: Translator) -> list[str]:
    lines = []
    if a.enterprise:
        lines.append(tr(_("Enterprise: {name}", name=a.enterprise)))
    if a.contact:
        lines.append(tr(_("Contact person: {contact}", contact=a.contact)))
    if a.phone:
        lines.append(tr(_("Phone: {phone}", phone=a.phone)))
    return lines


def task_notice(task: Any, case_key: str, case_title: str, kind: str,
                on_behalf: str | None = None, tr: Translator = ENGLISH, *,
                about: About = NOTHING_MORE, late: int = 0, step: str = "") -> Wording:
    """A task's notice of ``kind`` (upcoming, due, overdue, escalation), in the
    office's language (``tr``); ``on_behalf`` (``for_whom``) when a substitute
    receives it; ``late``: working days overdue; ``step``: the title of the
    ladder step an escalation is (催办), as the office names it."""
    name = step or what(task.kind, tr)
    when = tr(_when(kind, task.due_on, late))
    lines = [
        *([f"({on_behalf})"] if on_behalf else []),
        tr(_("Case {key}: {title}", key=case_key, title=case_title)),
        *_about_lines(about, tr),
        "",
        tr(_("{what}: {when}.", what=name, when=when)),
    ]
    if task.window_start is not None:
        lines.append(tr(_("Visit on a working day of your choice from {start} to {end}.",
                          start=task.window_start, end=task.window_end)))
    todo = _FOLLOW_UP if kind == NoticeKind.ESCALATION else _TODO.get(task.kind)
    if step:
        # A ladder step (催办, 通报, 督办): what it asks of the role it goes to.
        lines.append(tr(_("{step} is a step of the escalation ladder of a missed deadline "
                          "that falls to your role: please take it and see that the matter "
                          "is done.", step=step)))
    elif todo:
        lines.append(tr.gettext(todo))
    if about.link:
        lines.append(tr(_("Open the case: {link}", link=about.link)))
    lines += ["", _hint(task.kind, case_key, tr)]
    subject = tr(_("[{key}] {title}: {what} {when}", key=case_key, what=name, when=when,
                   title=case_title))
    if on_behalf:
        subject = tr(_("{subject} ({on_behalf})", subject=subject, on_behalf=on_behalf))
    return Wording(subject, "\n".join(lines))


def _hint(kind: str, key: str, tr: Translator) -> str:
    if kind in (TaskKind.CONTACT, TaskKind.VISIT):
        return tr(_("(On the command line: torchflow case {kind} {key})", kind=kind, key=key))
    return tr(_("(On the command line: torchflow case show {key})", key=key))


class Away(Struct, frozen=True):
    """What happened to a person's work while they were away: what others logged
    on it (``logged``: who, kind, key, title, day) and what is still open
    (``still_open``: the digest's items)."""

    logged: Sequence[Any] = ()
    still_open: Sequence[Any] = ()


def _item(i: Any, day: date, cal_late: int, tr: Translator) -> str:
    a = getattr(i, "about", None) or About()
    state = (tr(ngettext_("{n} working day overdue", "{n} working days overdue", cal_late))
             if cal_late > 0 else tr(_("due {due}", due=i.due_on)))
    text = tr(_("{key} {title}: {what}, {state}", key=i.key, title=i.title,
                what=what(i.kind, tr), state=state))
    extra = [x for x in (a.enterprise, a.contact, a.phone) if x]
    return "  · " + text + (f" ({'; '.join(extra)})" if extra else "") + \
        (f"\n    {a.link}" if a.link else "")


def digest(name: str, day: date, items: Sequence[Any], *, on_behalf: str | None = None,
           coming_up: Sequence[Any] = (), away: Away | None = None,
           late: Callable[[date], int] | None = None,
           office: str = "", tr: Translator = ENGLISH) -> Wording:
    """A person's digest of ``day`` in the office's language (``tr``): items (key,
    kind, due_on, title, optionally about) due that day or before; ``coming_up``
    (the same shape): upcoming notices folded into it; ``away``: what was done
    and what is still open from their absence; ``late(due_on)``: working days
    overdue; ``on_behalf`` when a substitute receives it."""
    late = late or (lambda _due: 0)
    away = away or Away()
    overdue = [i for i in items if i.due_on < day]
    today = [i for i in items if i.due_on == day]
    lines = [*([f"({on_behalf})"] if on_behalf else []),
             tr(_("Follow-ups for {name} on {day}:", name=name, day=day))]
    for title, group in ((_("Due today:"), today), (_("Overdue:"), overdue),
                         (_("Coming up:"), coming_up)):
        if group:
            lines.append("\n" + tr(title))
            lines += [_item(i, day, late(i.due_on), tr) for i in group]
    if away.logged:
        lines.append("\n" + tr(_("Logged for you while you were away:")))
        lines += ["  · " + tr(_("{day} {who} {did}: {key} {title}", day=e.day, who=e.who,
                                did=tr.gettext(_DID.get(e.kind, e.kind)), key=e.key,
                                title=e.title))
                  for e in away.logged]
    if away.still_open:
        lines.append("\n" + tr(_("Still open from while you were away:")))
        lines += [_item(i, day, late(i.due_on), tr) for i in away.still_open]
    if items or coming_up:
        lines += ["", tr(_("(On the command line: torchflow agenda)"))]
    head = office + " " if office else ""
    subject = tr(_("{office}Follow-ups {day}: {today} due today, {overdue} overdue",
                   office=head, day=day, today=len(today), overdue=len(overdue)))
    if on_behalf:
        subject = tr(_("{subject} ({on_behalf})", subject=subject, on_behalf=on_behalf))
    return Wording(subject, "\n".join(lines))


def summary(name: str, kind: str, subjects: Sequence[str], tr: Translator = ENGLISH) -> Wording:
    """One message for many notices waiting at once for ``name``: escalations
    (``kind`` escalation), or a backlog an import or an outage made."""
    n = len(subjects)
    if kind == NoticeKind.ESCALATION:
        subject = tr(ngettext_("{n} matter not done in time: escalated to you",
                               "{n} matters not done in time: escalated to you", n))
        head = tr.gettext(_FOLLOW_UP)
    else:
        subject = tr(ngettext_("{n} follow-up needs your attention",
                               "{n} follow-ups need your attention", n))
        head = tr(_("Dear {name}, these follow-ups are waiting for you:", name=name))
    return Wording(subject, "\n".join([head, "", *(f"· {s}" for s in subjects)]))
