"""How each person wants to be told (`person notify`): each notice or a daily
digest, quiet hours, a fallback channel after refusals. What these settings do
to a notice is decided in delivery/routing.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, update

from torchflow.channels import CHANNEL_TYPES, shown_address, unusable
from torchflow.domain import routing
from torchflow.domain.office import OfficeKind, Subject
from torchflow.domain.text import ADDRESS_MAX, check_line
from torchflow.errors import InvalidInput
from torchflow.i18n import Listing, _
from torchflow.service.app import App
from torchflow.service.audit import office
from torchflow.service.delivery.routing import FALLBACK_AFTER, Fallback
from torchflow.service.people.absences import require_manage
from torchflow.service.people.lookup import Actor, person_by_handle
from torchflow.store.models import PEOPLE

FALLBACK_AFTER_MAX = 50


def parse_fallback(text: str) -> Fallback:
    """``webhook:https://...`` or ``smtp:other@example.cn`` -> Fallback (its
    channel known, an address given); whether it can reach anyone is the
    channel's check, in ``set_notify``."""
    channel, sep, address = text.partition(":")
    if not sep or channel not in CHANNEL_TYPES:
        raise InvalidInput(_("fallback {text!r} is not CHANNEL:ADDRESS with a channel of "
                             "{choices}; e.g. webhook:https://hooks.example/x",
                             text=text, choices=Listing(CHANNEL_TYPES)))
    address = check_line(address.strip(), "the fallback address", ADDRESS_MAX)
    if not address and channel != "file":
        raise InvalidInput(_("fallback {text!r} has no address; give CHANNEL:ADDRESS", text=text))
    return Fallback(channel, address)


def check_fallback(app: App, fallback: Fallback) -> None:
    """The checks a person's own channel gets, so a fallback cannot be a dead end."""
    problem = unusable(app.settings, fallback.channel, fallback.address)
    if problem is not None:
        shown = f"{fallback.channel}:{shown_address(fallback.address)}"
        raise InvalidInput(_("fallback {fallback}: {problem}", problem=problem, fallback=shown))


_UNSET: Any = object()


def set_notify(app: App, actor: Actor, handle: str, *, notify: str | None = None,
               quiet: routing.Quiet | None = _UNSET, fallback: Fallback | None = _UNSET,
               fallback_after: int | None = None) -> dict[str, Any]:
    """``person notify``: change only what is given (``quiet=None`` clears the
    quiet hours, ``fallback=None`` the fallback channel)."""
    require_manage(actor, handle)
    values: dict[str, Any] = {}
    if notify is not None:
        if notify not in routing.NOTIFY_MODES:
            raise InvalidInput(_("notify {notify!r} is unknown; use each or digest",
                                 notify=notify))
        values["notify"] = notify
    if quiet is not _UNSET:
        values["quiet_start"] = f"{quiet.start:%H:%M}" if quiet else None
        values["quiet_end"] = f"{quiet.end:%H:%M}" if quiet else None
    if fallback is not _UNSET:
        if fallback is not None:
            check_fallback(app, fallback)
        values["fallback_channel"] = fallback.channel if fallback else None
        values["fallback_address"] = fallback.address if fallback else None
    if fallback_after is not None:
        if not 1 <= fallback_after <= FALLBACK_AFTER_MAX:
            raise InvalidInput(_("--fallback-after {fallback_after} is out of range; use 1 to "
                                 "{fallback_after_max}",
                                 fallback_after=fallback_after,
                                 fallback_after_max=FALLBACK_AFTER_MAX))
        values["fallback_after"] = fallback_after
    with app.db.transaction() as s:
        person = person_by_handle(s, handle)
        if values:
            s.execute(update(PEOPLE).where(PEOPLE.c.id == person.id).values(**values))
            office.record(s, OfficeKind.NOTIFY, Subject.PERSON, person.id, actor=actor,
                          at=app.now())
        return notify_view(person_by_handle(s, handle), app.settings.notify.mode)


def notify_of(app: App, handle: str) -> dict[str, Any]:
    """``person notify HANDLE`` with no option: anyone may read it (``person
    show`` shows the same); only changing it needs ``require_manage``."""
    with app.db.read() as s:
        return notify_view(person_by_handle(s, handle), app.settings.notify.mode)


def notify_view(p: Row[Any], office_mode: str = routing.DIGEST) -> dict[str, Any]:
    """How ``p`` is told: their own mode, else the office's (``[notify] mode``)."""
    quiet = routing.quiet_of(p.quiet_start, p.quiet_end)
    return {"handle": p.handle, "notify": p.notify or office_mode,
            "quiet": str(quiet) if quiet else None,
            "fallback": (f"{p.fallback_channel}:{shown_address(p.fallback_address or '')}"
                         if p.fallback_channel else None),
            "fallback_after": p.fallback_after or FALLBACK_AFTER}
