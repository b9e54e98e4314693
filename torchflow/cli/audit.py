"""`torchflow audit verify` and `audit checkpoint`: is the history as it was written?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, pass_env
from torchflow.i18n import Translator, _


@click.group()
def audit() -> None:
    """Check the integrity of case histories and of the office's own data.

    Set TORCHFLOW_AUDIT_KEY (environment only) to key the chain with HMAC-SHA256:
    without it, anyone who can write to the database can rewrite a history and
    recompute its hashes.

    \b
    Example:
      torchflow audit checkpoint /mnt/offsite/torchflow-2026-03-31.json
      torchflow audit verify --against /mnt/offsite/torchflow-2026-03-31.json
    """


@audit.command("verify")
@click.argument("key", required=False)
@click.option("--against", "against", type=click.Path(dir_okay=False, path_type=Path),
              help="A checkpoint file: report anything removed or rewritten since.")
@pass_env
def verify(env: Env, key: str | None, against: Path | None) -> None:
    """Check KEY's history (default: every case and the whole database).

    Recomputes each hash chain, replays each case's events against the case row,
    and checks the database-wide sequence; replays the office's chain (people,
    roles, logins, absences, notice settings, feed and access tokens, stored
    workflow versions) against those rows. Exits 1 and names the first broken
    event when a history was tampered with.

    \b
    Example:
      torchflow audit verify PI-2026-0001
    """
    report = env.call("audit.verify", key=key, against=against)
    if env.as_json:
        env.emit(report, "")
    else:
        _print(report, env.tr)
    if not report["ok"]:
        raise SystemExit(1)


def _print(report: dict[str, Any], tr: Translator) -> None:
    for r in report["cases"]:
        if not r["ok"]:
            line = (_("{key}: broken at event #{seq}: {reason}", key=r["key"], seq=r["broken_at"],
                      reason=r["reason"]) if r["broken_at"] else
                    _("{key}: {reason}", key=r["key"], reason=r["reason"]))
            click.echo(tr(line), err=True)
    for problem in report["problems"]:
        click.echo(tr(_("database: {problem}", problem=problem)), err=True)
    if report["ok"]:
        events = sum(r["events"] for r in report["cases"])
        click.echo(tr(_("{cases} case(s), {events} event(s): history intact",
                        cases=len(report["cases"]), events=events)))
    for note in report["notes"]:
        click.echo(tr(_("note: {note}", note=note)), err=not report["ok"])


@audit.command("checkpoint")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_env
def checkpoint(env: Env, file: Path) -> None:
    """Write a summary of the whole history (counts and heads) to FILE.

    Signed with TORCHFLOW_AUDIT_KEY when it is set. Keep the file outside the
    database's reach; `audit verify --against FILE` then reports anything removed
    or rewritten since, even by someone who could rewrite the whole database.

    \b
    Example:
      torchflow audit checkpoint /mnt/offsite/torchflow-2026-03-31.json
    """
    summary = env.call("audit.checkpoint", out=file)
    signed = _("signed with TORCHFLOW_AUDIT_KEY") if summary["signed"] else _(
        "UNSIGNED (TORCHFLOW_AUDIT_KEY is not set): it proves nothing unless the file itself "
        "is kept where the database's writers cannot edit it")
    env.emit(summary, _("{file}: {cases} case(s), {events} event(s); {signed}", file=file,
                        cases=summary["cases"], events=summary["events"], signed=signed))
