"""Who is acting: the real person (from the operating-system login) and the
person named with --as / TORCHFLOW_USER. Pure: the lookups are done by the caller.

The real person comes from the process's real uid, never from $USER or $LOGNAME
(anyone can set those); naming someone else needs the ``admin`` role, and then
the history records both: the named person acts, the real one entered it.
"""

from __future__ import annotations

import re

from msgspec import Struct

from torchflow.domain.permissions import allowed, authorize
from torchflow.errors import InvalidInput, Refused
from torchflow.i18n import _

SYSTEM = "system"  # the scheduler service; reserved, no person may take it or act as it
# "torchflow" wrote the service's events before "system" did: old histories carry it.
RESERVED = frozenset({SYSTEM, "torchflow"})
_NOT_HANDLE = re.compile(r"[^a-z0-9_.-]+")


class Person(Struct, frozen=True):
    """What identity needs to know of a person."""

    id: int
    handle: str
    roles: tuple[str, ...]
    active: bool


class Acting(Struct, frozen=True):
    """The outcome: who acts, and who really entered it when that differs."""

    actor: Person
    entered_by: str | None


def unknown_login(login: str, *, no_admin: bool = False) -> InvalidInput:
    """``no_admin``: people exist but no admin has a login (from before logins)."""
    if no_admin:
        return InvalidInput(_(
            "the login '{login}' is no person's, and no admin has a login yet (a database "
            "from before logins): `torchflow init --admin HANDLE` makes HANDLE, with this "
            "login, its admin", login=login))
    return InvalidInput(_(
        "the login '{login}' is no person's; an admin can add it with `torchflow person add "
        "HANDLE --name NAME --login {login}` (or `person edit HANDLE --login {login}`)",
        login=login))


def resolve(login: str, real: Person | None, named: Person | None, requested: str | None,
            *, no_admin: bool = False) -> Acting:
    """``real`` is the person of ``login`` (None: nobody), ``named`` the person of
    ``requested`` (the --as handle; None when not given or nobody has it)."""
    if requested == SYSTEM:
        raise Refused(_("'{handle}' is the scheduler service; no one acts as it",
                        handle=SYSTEM))
    if real is None:
        raise unknown_login(login, no_admin=no_admin)
    _refuse_inactive(real)
    if not requested or requested == real.handle:
        return Acting(real, None)
    if named is None:  # named first: an unknown handle is what the caller must fix
        raise InvalidInput(_("no person with handle '{handle}'; see `torchflow person list`",
                             handle=requested))
    authorize("act.as", real.handle, real.roles)
    _refuse_inactive(named)
    return Acting(named, real.handle)


def may_act_as_others(real: Person) -> bool:
    return allowed("act.as", real.roles)


def _refuse_inactive(person: Person) -> None:
    if not person.active:
        raise Refused(_("'{handle}' is no longer active; an admin can `torchflow person "
                        "reactivate {handle}`", handle=person.handle))


def handle_from_login(login: str) -> str:
    """A handle made from an OS login for the first admin (``init``): lower case,
    other characters as '.', starting with a letter."""
    handle = _NOT_HANDLE.sub(".", login.lower()).strip(".-_")
    if not handle or not handle[0].isalpha():
        handle = f"admin.{handle}".rstrip(".")
    return handle[:64]
