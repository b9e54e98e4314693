"""`torchflow person ...`: the people who act and are told."""

from __future__ import annotations

import click

from torchflow.channels import CHANNEL_TYPES
from torchflow.cli.context import Env, pass_env
from torchflow.cli.params import LIMIT, OFFSET

PEOPLE_COLUMNS = [("HANDLE", "handle"), ("NAME", "name"), ("ROLES", "roles"),
                  ("EMAIL", "email"), ("CHANNEL", "channel"), ("ACTIVE", "active")]


@click.group()
def person() -> None:
    """Add, list and hand over people.

    \b
    Example:
      torchflow person add wang.li --name "Wang Li" --role coordinator
      torchflow --as chen.jie person handover wang.li zhao.min
    """


@person.command("add")
@click.argument("handle")
@click.option("--name", required=True, help="Full name.")
@click.option("--email", default="", help="E-mail address (for the smtp channel).")
@click.option("--role", "roles", multiple=True,
              help="A role, e.g. coordinator, director (repeatable or comma-separated).")
@click.option("--channel", type=click.Choice(list(CHANNEL_TYPES)),
              help="How notices reach this person (default: notify.default_channel).")
@click.option("--address", default="", help="Webhook URL for this person, if any.")
@pass_env
def add(env: Env, handle: str, name: str, email: str, roles: tuple[str, ...],
        channel: str | None, address: str) -> None:
    """Add a person with HANDLE.

    \b
    Example:
      torchflow person add wang.li --name "Wang Li" --email wang.li@zone.gov.cn \\
          --role coordinator
    """
    from torchflow.service import people

    result = people.add_person(env.app, handle, name=name, email=email, roles=list(roles),
                               channel=channel, address=address)
    env.emit(result, lambda r: f"added {r['handle']} ({', '.join(r['roles']) or 'no roles'})")


@person.command("list")
@click.option("--limit", type=LIMIT, default=500, show_default=True)
@click.option("--offset", type=OFFSET, default=0, help="Skip this many people first.")
@pass_env
def list_(env: Env, limit: int, offset: int) -> None:
    """Everyone, by handle.

    \b
    Example:
      torchflow person list
    """
    from torchflow.service import people

    env.emit_page(people.list_people(env.app, limit=limit, offset=offset), PEOPLE_COLUMNS)


@person.command("handover")
@click.argument("old")
@click.argument("new")
@click.option("--deactivate", is_flag=True, help="Also mark OLD as no longer active.")
@pass_env
def handover(env: Env, old: str, new: str, deactivate: bool) -> None:
    """Move OLD's open cases, open tasks and pending notices to NEW.

    \b
    Example:
      torchflow person handover wang.li zhao.min --deactivate
    """
    from torchflow.service import people

    result = people.handover(env.app, env.actor(), old, new, deactivate=deactivate)
    flight = (f" ({result.in_flight} being sent: moved if that send fails)"
              if result.in_flight else "")
    data = {"from": result.giver, "to": result.taker, "cases": result.cases,
            "tasks": result.tasks, "notices": result.notices, "in_flight": result.in_flight}
    env.emit(data, f"{old} -> {new}: {result.cases} case(s), {result.tasks} task(s), "
             f"{result.notices} pending notice(s) moved{flight}")
