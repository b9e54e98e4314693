"""`torchflow calendar ...`: the working-day calendar as data."""

from __future__ import annotations

import calendar as monthly
from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, one_line, pass_env
from torchflow.cli.params import Whole
from torchflow.domain.calendar import OFFICE, OFFICIAL, STATUTORY
from torchflow.errors import InvalidInput
from torchflow.i18n import Translator, _

MARKS = {"work": ".", "weekend": "-", "off": "H", "worked_weekend": "W",
         "blackout": "B", "extra": "E"}
LEGEND = ("H day off (holiday, day in lieu)  W worked weekend day  "
          "B blackout  E extra working day  - weekend  . working day")


@click.group()
def calendar() -> None:
    """Show the working-day calendar and check that it has official data.

    \b
    Example:
      torchflow calendar show 2027 --month 2
      torchflow calendar check
      torchflow calendar template 2027 --out calendars/cn-2027.toml
    """


@calendar.command("show")
@click.argument("year", type=Whole())
@click.option("--month", type=Whole(), help="Only this month (1-12).")
@pass_env
def show(env: Env, year: int, month: int | None) -> None:
    """Month grids of YEAR: days off, worked weekend days, blackout and extra
    days, and which source decided the year.

    \b
    Example:
      torchflow calendar show 2027 --month 2
    """
    env.emit(env.call("calendar.show", year=year, month=month), render)


@calendar.command("check")
@pass_env
def check(env: Env) -> None:
    """Exit 1 if a year with open tasks, or within the next 13 months, has no
    official schedule although its notice is due (from 1 December of the year
    before): for CI or cron. Also checks the [calendar] official files.

    \b
    Example:
      torchflow calendar check
    """
    report = env.call("calendar.check")
    if env.as_json:
        env.emit(report, "")
    else:
        tr = env.tr
        for line in report["file_problems"]:
            click.echo(tr(_("error: {problem}", problem=one_line(tr(line)))), err=True)
        for row in report["missing"]:
            click.echo(tr(row["todo"]), err=True)
        for row in report["pending"]:
            click.echo(tr(row["note"]))
        for row in report["overridden"]:
            click.echo(tr(_("{year}: the holidays library now carries it; {path} is no longer "
                            "used and can be removed from the config", year=row["year"],
                            path=row["path"])))
        if report["ok"]:
            years = ", ".join(f"{r['year']} ({r['source']})" for r in report["years"])
            click.echo(tr(_("calendar ok: {years}", years=years)))
    if not report["ok"]:
        raise SystemExit(1)


@calendar.command("template")
@click.argument("year", type=Whole())
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write it to FILE (refused if FILE exists) instead of printing it.")
@pass_env
def template(env: Env, year: int, out: str | None) -> None:
    """The office's schedule file of YEAR to fill in from the State Council's
    notice: the statutory holidays typed in, the days in lieu and worked weekend
    days left to you. Then list the file in [calendar] official.

    \b
    Example:
      torchflow calendar template 2027 --out calendars/cn-2027.toml
    """
    made = env.call("calendar.template", year=year)
    if out is None:
        env.emit(made, lambda r: r["text"].rstrip("\n"))
        return
    write_new(Path(out), made["text"])
    env.emit({**made, "written": out}, _("{path} written: type in the notice's days off and "
                                         "worked weekend days and its source, then list it in "
                                         "[calendar] official", path=out))


def write_new(path: Path, text: str) -> None:
    """A new file, whole or not at all; an existing one (an office's typed
    schedule) is never overwritten."""
    try:
        fh = path.open("x", encoding="utf-8")
    except FileExistsError:
        raise InvalidInput(_("{path} exists; give another file or remove it first",
                             path=path)) from None
    except OSError as exc:
        raise InvalidInput(_("cannot write {path}: {reason}", path=path,
                             reason=exc.strerror)) from None
    try:
        with fh:
            fh.write(text)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise InvalidInput(_("cannot write {path}: {reason}", path=path,
                             reason=exc.strerror)) from None


@click.command("replan")
@click.option("--dry-run", is_flag=True, help="List what would move; change nothing.")
@pass_env
def replan(env: Env, dry_run: bool) -> None:
    """Re-plan open tasks planned with other calendar data than today's.

    After a holidays upgrade, an office schedule file or a new blackout day:
    each stale task is planned again from the same day with the same rule (and,
    for a visit, the same seed); its pending notices move as with a snooze.
    One history event per case. Logged contacts and visits never move.

    \b
    Example:
      torchflow replan --dry-run
      torchflow --as wang.li replan
    """
    tr = env.tr
    result = env.call("calendar.replan", dry_run=dry_run or None)
    if dry_run:
        env.emit(result, lambda r: _render(r, tr))
        return
    env.emit(result, lambda r: _render({"cases": r["plan"]}, tr) + "\n" + tr(
        _("re-planned {moved} task(s) in {cases} case(s); {renewed} kept their dates",
          moved=r["moved"], cases=r["cases"], renewed=r["renewed"])))


def _render(data: dict, tr: Translator) -> str:
    if not data["cases"]:
        return tr(_("no open task moves: every one was planned with today's calendar data"))
    lines = []
    for case in data["cases"]:
        lines.append(case["key"])
        for t in case["tasks"]:
            old, new = t["from"], t["to"]
            lines.append("  " + tr(_("#{task} {rule}: due {old} -> {new}, reminder {old_reminder} "
                                     "-> {new_reminder}", task=t["task"], rule=t["rule"],
                                     old=old["due_on"], new=new["due_on"],
                                     old_reminder=old["reminder"] or "-",
                                     new_reminder=new["reminder"] or "-")))
    return "\n".join(lines)


def render(data: dict[str, Any]) -> str:
    """Month grids (Monday first) with one mark per day and the year's source."""
    label = {OFFICIAL: "official (library)", OFFICE: "official (office file)",
             STATUTORY: "ASSUMED"}[data["source"]]
    lines = [f"{data['year']}: {label}: {data['detail']}", LEGEND]
    for month in data["months"]:
        lines += ["", _grid(data["year"], month["month"], month["days"])]
    return "\n".join(lines)


def _grid(year: int, month: int, kinds: dict[str, str]) -> str:
    rows = [f"{monthly.month_name[month]} {year}".center(34).rstrip(),
            " Mo   Tu   We   Th   Fr   Sa   Su"]
    for week in monthly.Calendar().monthdatescalendar(year, month):
        cells = []
        for d in week:
            if d.month != month:
                cells.append("     ")
            else:
                cells.append(f"{d.day:>3}{MARKS[kinds[d.isoformat()]]} ")
        rows.append("".join(cells).rstrip())
    return "\n".join(rows)
