"""`torchflow db grants`: the SQL of the per-person PostgreSQL set-up (the strong
option of docs/security.md), printed for a database administrator to review and run."""

from __future__ import annotations

import click

from torchflow.cli.context import Env, pass_env, usage_error
from torchflow.i18n import _

# What the CLI writes and reads, table by table; everything else is read-only.
CLI_WRITES = {
    "cases": "SELECT, INSERT, UPDATE",
    "case_events": "SELECT, INSERT",
    "audit_head": "SELECT, UPDATE",
    "tasks": "SELECT, INSERT, UPDATE",
    "notices": "SELECT, INSERT, UPDATE",
    "key_sequences": "SELECT, INSERT, UPDATE",
    "workflow_versions": "SELECT, INSERT",
    "people": "SELECT, INSERT, UPDATE",
    "person_logins": "SELECT, INSERT, DELETE",
    "scheduler_marks": "SELECT",
}
# The scheduler service: the sweep, dispatch, digests and the monthly report.
SERVICE_WRITES = {**CLI_WRITES, "scheduler_marks": "SELECT, INSERT, UPDATE",
                  "people": "SELECT", "person_logins": "SELECT"}


def grants_sql(owner: str, people: tuple[str, ...]) -> str:
    """Group roles with exactly the grants each side needs, one login per person.
    Nobody but ``owner`` (who runs `torchflow init`, the migrations) may DELETE
    events or alter tables, and UPDATE of case_events is granted to nobody."""
    lines = [
        "-- torchflow: per-person database logins (see docs/security.md).",
        f"-- Tables are owned by {owner}, who runs `torchflow init`; nobody else owns them.",
        "CREATE ROLE torchflow_cli NOLOGIN;",
        "CREATE ROLE torchflow_service NOLOGIN;",
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;",
    ]
    for role, grants in (("torchflow_cli", CLI_WRITES), ("torchflow_service", SERVICE_WRITES)):
        lines += [f"GRANT {rights} ON {table} TO {role};" for table, rights in grants.items()]
        lines.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};")
    lines.append("CREATE ROLE torchflow_scheduler LOGIN IN ROLE torchflow_service "
                 "PASSWORD 'change me';")
    for handle in people:
        lines.append(f'CREATE ROLE "{handle}" LOGIN IN ROLE torchflow_cli PASSWORD \'change me\';')
    lines.append("-- Each person then connects with their own login (TORCHFLOW_DATABASE_URL);")
    lines.append("-- case_events.db_role records it on every event they write.")
    return "\n".join(lines)


@click.group()
def db() -> None:
    """The database set-up.

    \b
    Example:
      torchflow db grants --person wang.li --person chen.jie > grants.sql
    """


@db.command("grants")
@click.option("--owner", default="torchflow_owner", show_default=True,
              help="The role that owns the tables (runs init).")
@click.option("--person", "people", multiple=True, metavar="HANDLE",
              help="A person to give a database login (repeatable; default: everyone active).")
@pass_env
def grants(env: Env, owner: str, people: tuple[str, ...]) -> None:
    """Print the SQL for a PostgreSQL role per person and the grants the CLI and the
    scheduler need; review it, set real passwords, run it as a superuser.

    \b
    Example:
      torchflow db grants > grants.sql
    """
    from torchflow.service.people.checks import HANDLE
    from torchflow.service.people.staff import list_people

    if not people:
        people = tuple(p["handle"] for p in list_people(env.app, include_inactive=False,
                                                        limit=10_000))
    for handle in (owner, *people):
        if not HANDLE.fullmatch(handle):
            raise usage_error(_("{handle!r} is not a valid role name; use a handle such as "
                                "wang.li", handle=handle))
    env.emit({"sql": grants_sql(owner, people)}, lambda r: r["sql"])
