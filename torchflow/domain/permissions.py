"""What each role may do: the one table of permissions.

Every administrative action names its entry here and the services check it with
``require``; `torchflow person roles` prints the table. A case's own fields and
notes are not in it: they belong to the people of the case (``may_edit_case``).
"""

from __future__ import annotations

from collections.abc import Iterable

from torchflow.errors import Refused
from torchflow.i18n import N_, Listing, Role, Text, _

ADMIN = "admin"
COORDINATOR = "coordinator"

# action -> (the role it needs, what it is, in words for `person roles`)
PERMISSIONS: dict[str, tuple[str, str]] = {
    "person.add": (ADMIN, N_("add a person (`person add`, `import people`)")),
    "person.edit": (ADMIN, N_("change a person's name, e-mail, channel, address or logins")),
    "person.roles": (ADMIN, N_("give or take a role (`person edit --add-role/--remove-role`)")),
    "person.deactivate": (ADMIN, N_("deactivate a person (`person deactivate`)")),
    "person.reactivate": (ADMIN, N_("reactivate a person (`person reactivate`)")),
    "person.handover": (ADMIN, N_("hand a person's work to another (`person handover`)")),
    "person.feed_token": (ADMIN, N_("show or rotate another person's calendar feed token")),
    "person.absence": (ADMIN, N_("record or end another person's absence, or set how they are "
                       "told (`person away/back/notify`); one's own needs no role")),
    "token.issue": (ADMIN, N_("issue a personal access token, or list or revoke another "
                       "person's (`token create`, `token list`, `token revoke`)")),
    "act.as": (ADMIN, N_("act as another person (`--as`, TORCHFLOW_USER)")),
    "notice.retry": (ADMIN, N_("send a dead notice again (`notice retry`)")),
    "channel.test": (ADMIN, N_("send a test message by a channel (`channel test`)")),
    "workflow.migrate": (ADMIN, N_("move open cases to another version (`workflow migrate`)")),
    "replan": (ADMIN, N_("re-plan open tasks on new calendar data (`replan`)")),
    "enterprise.edit": (COORDINATOR, N_("add, change or import enterprises (`enterprise add`, "
                                        "`enterprise edit`, `enterprise import`); admins too")),
    "enterprise.link": (ADMIN, N_("link existing cases to enterprises by name or credit code "
                                  "(`enterprise link`)")),
}


def role_for(action: str) -> str:
    """The role ``action`` needs; an action missing from the table is a bug."""
    return PERMISSIONS[action][0]


def allowed(action: str, roles: Iterable[str]) -> bool:
    return role_for(action) in set(roles)


def require(action: str, handle: str, roles: Iterable[str]) -> None:
    """Refuse ``handle`` unless one of ``roles`` is the one ``action`` needs."""
    if not allowed(action, roles):
        raise Refused(_("{handle} may not {what}: it needs the '{role}' role (see `torchflow "
                        "person roles`)", handle=handle, what=Text(PERMISSIONS[action][1]),
                        role=Role(role_for(action))))


def may_edit_case(handle: str, roles: Iterable[str], people_of_case: Iterable[str]) -> bool:
    """A case's fields and notes: its owner, its assignees (person fields, open
    tasks) and admins. The owner comes first in ``people_of_case``."""
    return ADMIN in set(roles) or handle in set(people_of_case)


def refuse_case_edit(key: str, handle: str, people_of_case: list[str]) -> Refused:
    who = Listing(dict.fromkeys(people_of_case)) if people_of_case else _("nobody yet")
    return Refused(_("{handle} may not change case {key}: its owner and assignees ({who}) or "
                     "an admin may", handle=handle, key=key, who=who))
