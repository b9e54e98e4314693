"""`torchflow audit verify`: is the history as it was written?"""

from __future__ import annotations

import click

from torchflow.cli.context import Env, pass_env


@click.group()
def audit() -> None:
    """Check the integrity of case histories.

    \b
    Example:
      torchflow audit verify
    """


@audit.command("verify")
@click.argument("key", required=False)
@pass_env
def verify(env: Env, key: str | None) -> None:
    """Recompute the hash chain of KEY (default: every case).

    Exits 1 and names the first broken event when a history was tampered with.

    \b
    Example:
      torchflow audit verify PI-2026-0001
    """
    from torchflow.service import audit as service

    results = service.verify(env.app, key)
    broken = [r for r in results if not r["ok"]]
    if env.as_json:
        env.emit({"cases": results, "ok": not broken}, "")
    else:
        for r in broken:
            click.echo(f"{r['key']}: broken at event #{r['broken_at']}: {r['reason']}", err=True)
        if not broken:
            events = sum(r["events"] for r in results)
            click.echo(f"{len(results)} case(s), {events} event(s): history intact")
    if broken:
        raise SystemExit(1)
