"""Who is who: a person found by handle, the acting person (``acting``, the
rules in domain/identity.py), the admins who can act. Read by every use case,
so it imports nothing of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, overload

from msgspec import Struct
from sqlalchemy import Connection, Row, bindparam, or_, select

from torchflow.domain import identity, permissions
from torchflow.domain.permissions import ADMIN, Facts
from torchflow.domain.vocabulary import person_handle
from torchflow.errors import NotFound, Refused
from torchflow.i18n import Text, _
from torchflow.service.audit.head import lock_head
from torchflow.store.models import PEOPLE, PERSON_LOGINS

if TYPE_CHECKING:
    from torchflow.service.app import App


class Actor(Struct, frozen=True):
    """The person doing something, resolved once per command."""

    id: int
    handle: str
    roles: tuple[str, ...]
    entered_by: str | None = None  # the real person, when an admin acts as this one

    @property
    def powers(self) -> tuple[str, ...]:
        """The roles the permission table counts: only an admin may act as another
        (domain/identity.py), and entering for someone they keep the admin's right
        to administer and to change cases; a transition still checks ``roles``."""
        return (*self.roles, ADMIN) if self.entered_by else self.roles

    def authorize(self, action: str, facts: Facts | None = None) -> None:
        """Refuse unless domain/permissions.py lets this person do ``action``."""
        permissions.authorize(action, self.handle, self.powers, facts)


def admins(s: Connection, *, lock: bool = True) -> list[str]:
    """The active admins who can act (a login maps to them), their rows locked on
    PostgreSQL: two admins taking each other's role at once queue here instead of
    both seeing the other one left."""
    can_act = select(PERSON_LOGINS.c.person_id).where(
        PERSON_LOGINS.c.person_id == PEOPLE.c.id).exists()
    query = select(PEOPLE.c.handle, PEOPLE.c.roles).where(
        PEOPLE.c.active.is_(True), can_act).order_by(PEOPLE.c.handle)
    if lock:  # the audit head first, as every writer takes it (the office's events follow)
        lock_head(s)
    rows = s.execute(query.with_for_update(of=PEOPLE) if lock else query)
    return [p.handle for p in rows if ADMIN in (p.roles or ())]


def keep_an_admin(s: Connection, before: list[str], where: str = "") -> None:
    """A change that takes away the last active admin who can act is refused
    (rolled back): a database is never left with nobody able to administer it."""
    if before and not admins(s):
        raise Refused(_("{where}that would leave no active admin with a login; give another "
                        "person the 'admin' role first", where=where))


def person_by_handle(session: Connection, handle: str) -> Row[Any]:
    person = session.execute(select(PEOPLE).where(PEOPLE.c.handle == handle)).first()
    if person is None:
        raise NotFound(_("no person with handle '{handle}'; see `torchflow person list`",
                         handle=handle))
    return person


def find_person(session: Connection, typed: str) -> Row[Any]:
    """The person ``typed`` names: a handle, or an exact name only one person has
    (王立); an ambiguous name is refused with the handles to choose from."""
    rows = session.execute(select(PEOPLE.c.handle, PEOPLE.c.name).where(
        or_(PEOPLE.c.handle == typed.strip(), PEOPLE.c.name == typed.strip()))).all()
    return person_by_handle(session, person_handle(typed, [(r.handle, r.name) for r in rows]))


def active_person(session: Connection, handle: str, role: str | Text) -> Row[Any]:
    """A person who can take on work (by handle or unique name); ``role`` says what
    for, in the refusal. Callers keep the row's handle, not what was typed."""
    person = find_person(session, handle)
    if not person.active:
        raise Refused(_("'{handle}' is not active; {role} an active person",
                        handle=handle, role=role))
    return person


def resolve_actor(app: App, handle: str) -> Actor:
    """The active person with ``handle`` as the actor, with no check of who is
    really at the keyboard: for services and tests. The CLI uses ``acting``."""
    with app.db.read() as s:
        person = person_by_handle(s, handle)
        if not person.active:
            raise Refused(_("'{handle}' is no longer active; act as another person",
                            handle=handle))
        return Actor(person.id, person.handle, tuple(person.roles or ()))


@overload
def acting(app: App, login: str, requested: str | None, *, person: str | None = None
           ) -> Actor: ...
@overload
def acting(app: App, login: str, requested: str | None, *, required: bool,
           person: str | None = None) -> Actor | None: ...


def acting(app: App, login: str, requested: str | None, *, required: bool = True,
           person: str | None = None) -> Actor | None:
    """Who acts: the person of the OS ``login`` (or, for a caller the server knows
    by a token, ``person``), or (for an admin) the person named with --as;
    domain/identity.py has the rules. Not ``required``: None for a login that is
    nobody's when no one is named."""
    with app.db.read() as s:
        return acting_in(s, login, requested, required=required, person=person)


# Built once: who acts is read on every command and every request of the server.
_BY_LOGIN = select(PEOPLE).join(PERSON_LOGINS, PERSON_LOGINS.c.person_id == PEOPLE.c.id) \
    .where(PERSON_LOGINS.c.login == bindparam("login"))
_BY_HANDLE = select(PEOPLE).where(PEOPLE.c.handle == bindparam("handle"))


def acting_in(s: Connection, login: str, requested: str | None, *, required: bool = True,
              person: str | None = None) -> Actor | None:
    """``acting`` in a transaction already open: the use case's own, so the person
    who acts is read in the very transaction that acts (``Deferred``)."""
    real_row = s.execute(_BY_HANDLE, {"handle": person}).first() if person is not None \
        else s.execute(_BY_LOGIN, {"login": login}).first()
    real = _identity_person(real_row)
    named = None
    if requested and real is not None and requested != real.handle:
        named = _identity_person(s.execute(_BY_HANDLE, {"handle": requested}).first())
    # Only on the way to a refusal: whether this is a database from before logins.
    no_admin = real is None and required and not admins(s, lock=False)
    if real is None and not requested and not required:
        return None
    result = identity.resolve(login, real, named, requested, no_admin=no_admin)
    who = result.actor
    return Actor(who.id, who.handle, who.roles, entered_by=result.entered_by)


class Deferred:
    """Stands in for the Actor of a caller not yet read: ``read`` gives it on first
    use of any attribute. The server's requests (and embedded commands) hand this
    to the use case, and the caller is read inside the use case's first
    transaction (``Database.stamped``'s ``on_begin``): no transaction of its own
    per request, and a removed login or a person made inactive a moment ago is
    seen by the very transaction that would act."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], Actor]) -> None:
        self._read = read

    def __getattr__(self, name: str) -> Any:
        return getattr(self._read(), name)

    def __repr__(self) -> str:
        return f"Deferred({self._read()!r})"


def _identity_person(row: Row[Any] | None) -> identity.Person | None:
    if row is None:
        return None
    return identity.Person(row.id, row.handle, tuple(row.roles or ()), bool(row.active))


def has_role(person: Row[Any], role: str) -> bool:
    return role in (person.roles or ())


def people_by_id(session: Connection) -> dict[int, Row[Any]]:
    return {p.id: p for p in session.execute(select(PEOPLE))}


def platform_ids(session: Connection, handles: set[str]) -> dict[str, Mapping[str, str]]:
    """The ids on the platforms (channels/ids.py) of the people with ``handles``:
    whom a group robot @-mentions."""
    if not handles:
        return {}
    rows = session.execute(select(PEOPLE.c.handle, PEOPLE.c.platform_ids)
                           .where(PEOPLE.c.handle.in_(sorted(handles))))
    return {r.handle: dict(r.platform_ids or {}) for r in rows}
