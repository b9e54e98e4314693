"""What a person's details must be: handle, name, e-mail, roles, logins, and a
channel that can reach them. Shared by `person add / edit`, the staff list
import and the fallback channel."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import TYPE_CHECKING

from torchflow.channels import CHANNEL_TYPES, channel_type, unusable
from torchflow.channels.ids import EMAIL
from torchflow.domain import identity
from torchflow.domain.text import ADDRESS_MAX, EMAIL_MAX, HANDLE_MAX, NAME_MAX, check_line
from torchflow.domain.vocabulary import role_code
from torchflow.errors import InvalidInput
from torchflow.i18n import Listing, _

if TYPE_CHECKING:
    from torchflow.service.app import App


HANDLE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
ROLE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# An OS login as the password database may hold it (POSIX names, user@domain,
# DOMAIN\user, a trailing '$'): one word, no control characters, no ':' (the
# passwd separator), at most the column's 64 characters. The real login from
# pwd always fits, so `init` can always make it the first admin.
LOGIN = re.compile(r"^[^\s:\x00-\x1f\x7f]{1,64}$")


def check_person(
    handle: str, name: str, email: str, roles: list[str], channel: str | None, address: str
) -> list[str]:
    check_handle(handle)
    check_line(name, "the name", NAME_MAX)
    if address:
        check_line(address, "the address", ADDRESS_MAX)
    if email and (not EMAIL.fullmatch(check_line(email, "the e-mail", EMAIL_MAX))):
        raise InvalidInput(_("e-mail {email!r} is not valid; e.g. wang.li@example.gov.cn",
                             email=email))
    if channel is not None and channel not in CHANNEL_TYPES:
        raise InvalidInput(_("channel {channel!r} is unknown; use one of {choices}",
                             channel=channel, choices=Listing(CHANNEL_TYPES)))
    return check_roles(roles)


def named_roles(app: App, roles: list[str]) -> list[str]:
    """Roles as typed (repeated or comma-separated; 招商专员 or coordinator) as codes."""
    table = app.registry.roles()
    return [role_code(table, r) for role in roles for r in re.split("[,，、]", role) if r.strip()]


def check_roles(roles: list[str]) -> list[str]:
    """Roles as typed (repeated, or comma-separated), checked and sorted."""
    split = [r.strip() for role in roles for r in role.split(",") if r.strip()]
    for role in split:
        if not ROLE.fullmatch(role):
            raise InvalidInput(_("role {role!r} is not valid; use e.g. coordinator or director",
                                 role=role))
    return sorted(set(split))


def check_handle(handle: str) -> None:
    """A new person's handle: the pattern, and not the scheduler's reserved one."""
    if len(handle) > HANDLE_MAX or not HANDLE.fullmatch(handle):
        raise InvalidInput(
            _("handle {handle!r} is not valid; use lower-case letters, digits, '.', '_' or '-', "
              "starting with a letter (e.g. wang.li)", handle=handle)
        )
    if handle in identity.RESERVED:
        raise InvalidInput(_("handle '{handle}' is reserved for the scheduler service; pick "
                             "another handle", handle=handle))


def check_channel(app: App, channel: str | None, email: str, address: str,
                  ids: dict[str, str] | None = None) -> None:
    """A channel that cannot reach the person is refused now, not after eight
    failed sends or held notices: the channel's own check of the address it
    would use (an e-mail for smtp, a URL the sender may post to for webhook, a
    WeCom user id, a robot's name), with this configuration and environment (a
    webhook needs its secret, a robot its token)."""
    chosen = channel or app.settings.notify.default_channel
    person = SimpleNamespace(email=email, address=address, platform_ids=ids or {})
    problem = unusable(app.settings, chosen, channel_type(chosen).address_of(person))
    if problem is not None:
        raise InvalidInput(problem)


def check_logins(logins: list[str]) -> list[str]:
    checked = [check_line(login, "the login", HANDLE_MAX) for login in logins]
    for login in checked:
        if not LOGIN.fullmatch(login):
            raise InvalidInput(_("login {login!r} is not an operating-system user name; use e.g. "
                                 "wangli (see `id -un` on that account)", login=login))
    return sorted(set(checked))
