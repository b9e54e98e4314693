"""What each person may do: the one table of permissions.

Every use case that changes anything (and every read that is not everyone's)
names its action here and authorizes its actor with ``authorize`` before it
writes; `torchflow person roles` prints the table. A rule is a role, or one of
a few relations to the thing acted on (the case's people, one's own), whose
facts the use case loads and passes in (``Facts``): this module stays pure.

An admin acting for someone else (``--as``) acts with the named person's roles
for the workflow's transitions, but keeps the admin's right to administer and to
change cases (``Actor.powers`` in service/people/lookup.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from msgspec import Struct

from torchflow.errors import Refused
from torchflow.i18n import N_, Listing, Role, Text, _

ADMIN = "admin"
COORDINATOR = "coordinator"


class Rule(StrEnum):
    """Who may, besides admins (an admin may do everything in the table)."""

    ANYONE = "anyone"  # any active person
    ADMIN = "admin"  # admins only
    OWN = "own"  # the person concerned themself (their absence, token, notices)
    CASE = "case"  # the case's people: its owner and assignees (person fields, open tasks)
    CASE_OVERSIGHT = "case+oversight"  # the case's people or its workflow's escalation roles
    LEAD = "lead"  # the case's owner or a holder of its workflow's escalation roles
    TASK = "task"  # a contact/visit: the case's people; a deadline: its escalation role
    COORDINATOR = "coordinator"  # holders of the coordinator role


# How each rule reads in `person roles` (message ids, rendered by the edge).
RULE_WORDS: dict[Rule, str] = {
    Rule.ANYONE: N_("anyone"),
    Rule.ADMIN: N_("admin"),
    Rule.OWN: N_("the person concerned, or an admin"),
    Rule.CASE: N_("the case's owner or assignees, or an admin"),
    Rule.CASE_OVERSIGHT: N_("the case's owner or assignees, its workflow's escalation roles, "
                            "or an admin; a transition that names roles needs one of them, "
                            "and their holders may fire it on any case"),
    Rule.LEAD: N_("the case's owner, its workflow's escalation roles, or an admin"),
    Rule.COORDINATOR: N_("a coordinator, or an admin"),
    Rule.TASK: N_("a contact or visit: the case's owner or assignees, or an admin; a "
                  "deadline: the role it escalates to"),
}

# action -> (who may, what it is, in words for `person roles`)
PERMISSIONS: dict[str, tuple[Rule, str]] = {
    # cases
    "case.open": (Rule.ANYONE, N_("open a case (`case open`)")),
    "case.advance": (Rule.CASE_OVERSIGHT, N_("fire a transition (`case advance`)")),
    "case.note": (Rule.CASE, N_("add a note to a case (`case note`)")),
    "case.set": (Rule.CASE, N_("set a case's fields (`case set`)")),
    "case.assign": (Rule.LEAD, N_("give a case another owner (`case assign`)")),
    "case.log": (Rule.CASE, N_("log a contact or a visit (`case contact`, `case visit`)")),
    "case.revert": (Rule.ADMIN, N_("put a case back on its former workflow version "
                                   "(`workflow migrate --revert`)")),
    # tasks
    "task.done": (Rule.TASK, N_("mark a task done (`task done`)")),
    "task.snooze": (Rule.TASK, N_("move a task to another day (`task snooze`)")),
    "task.reassign": (Rule.LEAD, N_("give a task to another person, oneself included (`task "
                                    "reassign`)")),
    # spreadsheets and reading
    "import.cases": (Rule.ANYONE, N_("import cases (`import cases`): each row is held to "
                                     "case.open, case.set, case.assign and the roles of "
                                     "the transitions into its state")),
    "import.people": (Rule.ADMIN, N_("import the staff list (`import people`)")),
    "read": (Rule.ANYONE, N_("read cases, tasks, histories, the agenda, notices, people and "
                             "reports; export them (`case list`, `export`, `report`)")),
    "report.requests": (Rule.ANYONE, N_("read the enterprise request report (`report "
                                        "requests`): sign-for, handling, closure, resolution "
                                        "and satisfaction per lead unit and category")),
    # people
    "person.add": (Rule.ADMIN, N_("add a person (`person add`)")),
    "person.edit": (Rule.ADMIN, N_("change a person's name, e-mail, channel, address or "
                                   "logins")),
    "person.roles": (Rule.ADMIN, N_("give or take a role (`person edit --add-role/"
                                    "--remove-role`)")),
    "person.deactivate": (Rule.ADMIN, N_("deactivate a person (`person deactivate`)")),
    "person.reactivate": (Rule.ADMIN, N_("reactivate a person (`person reactivate`)")),
    "person.handover": (Rule.ADMIN, N_("hand a person's work to another (`person handover`)")),
    "person.feed_token": (Rule.OWN, N_("show or rotate a calendar feed token (`person "
                                       "feed-token`)")),
    "person.absence": (Rule.OWN, N_("record or end an absence, or set how a person is told "
                                    "(`person away/back/notify`)")),
    "token.issue": (Rule.ADMIN, N_("issue a personal access token (`token create`)")),
    "token.manage": (Rule.OWN, N_("list or revoke personal access tokens (`token list`, "
                                  "`token revoke`)")),
    "act.as": (Rule.ADMIN, N_("act as another person (`--as`, TORCHFLOW_USER)")),
    # the office's machinery
    "notice.retry": (Rule.ADMIN, N_("send a dead notice again (`notice retry`)")),
    "channel.test": (Rule.ADMIN, N_("send a test message by a channel (`channel test`)")),
    "scheduler.tick": (Rule.ADMIN, N_("run one sweep and dispatch through the server "
                                      "(`scheduler tick`)")),
    "workflow.migrate": (Rule.ADMIN, N_("move open cases to another version (`workflow "
                                        "migrate`)")),
    "replan": (Rule.ADMIN, N_("re-plan open tasks on new calendar data (`calendar replan`)")),
    "audit.verify": (Rule.ANYONE, N_("check the hash chains (`audit verify`)")),
    "audit.checkpoint": (Rule.ANYONE, N_("write a signed checkpoint (`audit checkpoint`)")),
    # enterprises (一企一档)
    "enterprise.edit": (Rule.COORDINATOR, N_("add, change or import enterprises (`enterprise "
                                             "add`, `enterprise edit`, `enterprise import`)")),
    "enterprise.link": (Rule.ADMIN, N_("link existing cases to enterprises by name or credit "
                                       "code (`enterprise link`)")),
}


class Facts(Struct, frozen=True):
    """What a rule beyond a role needs to know, loaded by the use case.

    ``owner`` and ``assignees`` are the case's people (assignees: the people in
    its person fields and on its open tasks); ``overseers`` the roles its
    workflow escalates to; ``task_role`` the role a deadline escalates to (None
    for a contact or visit); ``subject`` the person concerned (``Rule.OWN``);
    ``case`` the key, for the refusal."""

    case: str | None = None
    owner: str | None = None
    assignees: tuple[str, ...] = ()
    overseers: frozenset[str] = frozenset()
    task_role: str | None = None
    subject: str | None = None


def rule_of(action: str) -> Rule:
    """The rule of ``action``; an action missing from the table is a bug."""
    return PERMISSIONS[action][0]


def allowed(action: str, roles: Iterable[str], handle: str = "",
            facts: Facts | None = None) -> bool:
    """Whether ``handle`` with ``roles`` may do ``action`` given ``facts``."""
    held = set(roles)
    if ADMIN in held:
        return True
    rule, f = rule_of(action), facts or Facts()
    people = {f.owner, *f.assignees} - {None}
    match rule:
        case Rule.ANYONE:
            return True
        case Rule.ADMIN:
            return False
        case Rule.OWN:
            return f.subject is not None and f.subject == handle
        case Rule.CASE:
            return handle in people
        case Rule.CASE_OVERSIGHT:
            return handle in people or bool(held & f.overseers)
        case Rule.LEAD:
            return handle == f.owner or bool(held & f.overseers)
        case Rule.TASK:
            return f.task_role in held if f.task_role else handle in people
        case Rule.COORDINATOR:
            return COORDINATOR in held
    raise AssertionError(rule)


def authorize(action: str, handle: str, roles: Iterable[str],
              facts: Facts | None = None) -> None:
    """Refuse ``handle`` unless the table lets them do ``action``."""
    roles = tuple(roles)
    if not allowed(action, roles, handle, facts):
        raise refusal(action, handle, facts or Facts())


def require(action: str, handle: str, roles: Iterable[str]) -> None:
    """``authorize`` for an action whose rule is a role alone."""
    authorize(action, handle, roles)


def refusal(action: str, handle: str, f: Facts) -> Refused:
    rule, what = rule_of(action), Text(PERMISSIONS[action][1])
    if rule in (Rule.ADMIN, Rule.COORDINATOR):
        return Refused(_("{handle} may not {what}: it needs the '{role}' role (see `torchflow "
                         "person roles`)", handle=handle, what=what, role=Role(rule.value)))
    if rule is Rule.OWN:
        return Refused(_("{handle} may not {what} for {other}: only {other} or an admin may",
                         handle=handle, what=what, other=f.subject or "?"))
    if rule is Rule.TASK and f.task_role:
        return Refused(_("{handle} may not {what} on case {key}: the deadline is the '{role}' "
                         "role's", handle=handle, what=what, key=f.case or "?",
                         role=Role(f.task_role)))
    who: list[object] = []
    if rule is Rule.LEAD:
        who = [f.owner] if f.owner else []
    else:
        who = list(dict.fromkeys(h for h in (f.owner, *f.assignees) if h))
    if rule in (Rule.LEAD, Rule.CASE_OVERSIGHT):
        who += [Role(r) for r in sorted(f.overseers)]
    who.append(Role(ADMIN))
    return Refused(_("{handle} may not {what} on case {key}: only {who} may (see `torchflow "
                     "person roles`)", handle=handle, what=what, key=f.case or "?",
                     who=Listing(who, "or")))


def table() -> list[dict[str, str]]:
    """The table as `person roles` shows it: action, who may (message ids), what."""
    return [{"action": a, "role": RULE_WORDS[r], "what": w} for a, (r, w) in PERMISSIONS.items()]
