"""`torchflow report ...`: outcomes, pipeline, stage times, compliance, workload,
enterprise requests, and the HTML report. Thin: the figures are service/reports/'s, the output
torchflow/reports/'s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from torchflow.cli.context import Env, pass_env
from torchflow.cli.params import DATE, Choice, Whole
from torchflow.i18n import _


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--from", "start", type=DATE, help="First day (YYYY-MM-DD)."),
        click.option("--to", "end", type=DATE, help="Last day, included (YYYY-MM-DD)."),
        click.option("--period", metavar="PERIOD", help="2026Q4, 2026-11 or 2026."),
        click.option("--workflow", metavar="NAME", help="Only this workflow."),
        click.option("--owner", metavar="HANDLE", help="Only cases owned by HANDLE."),
        click.option("--csv", "csv_path", metavar="FILE", help="Write the tables as CSV."),
        click.option("--xlsx", "xlsx_path", metavar="FILE", help="Write an XLSX workbook."),
        click.option("--chart", "chart_path", metavar="FILE",
                     help="Draw the report's chart (FILE.png or FILE.svg)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group()
def report() -> None:
    """Figures for the office and its leadership, in working days.

    \b
    Example:
      torchflow report outcomes --period 2026Q4 --by month
      torchflow report stages --workflow project_introduction --cases 5
      torchflow report html report.html --period 2026Q4
    """


def _run(env: Env, name: str, csv_path: str | None, xlsx_path: str | None,
         chart_path: str | None, **filters: Any) -> None:
    """The report's figures as text (or JSON), and each file asked for. A file is
    drawn from the same figures by the server (or this process), one call each."""
    from torchflow.reports.export import text

    doc = env.call("report.run", name=name, **filters)
    for fmt, path in (("chart", chart_path), ("csv", csv_path), ("xlsx", xlsx_path)):
        if path:
            env.call("report.file", name=name, format=fmt, out=path, **filters)
    env.emit(doc, text)


@report.command()
@_common
@click.option("--by", type=Choice(["month", "quarter", "year"]), default="quarter",
              show_default=True, help="Group by month, quarter or year.")
@pass_env
def outcomes(env: Env, csv_path: str | None, xlsx_path: str | None, chart_path: str | None,
             by: str, **span: Any) -> None:
    """Cases that reached each milestone (签约、开工、投产), per period, with sums.

    \b
    Example:
      torchflow report outcomes --period 2026 --by quarter --xlsx outcomes.xlsx
    """
    _run(env, "outcomes", csv_path, xlsx_path, chart_path, by=by, **span)


@report.command()
@_common
@pass_env
def pipeline(env: Env, csv_path: str | None, xlsx_path: str | None, chart_path: str | None,
             **span: Any) -> None:
    """Open cases per state, entries and exits, and the funnel to the outcomes.

    \b
    Example:
      torchflow report pipeline --period 2026Q4 --workflow project_introduction
    """
    _run(env, "pipeline", csv_path, xlsx_path, chart_path, **span)


@report.command()
@_common
@click.option("--cases", "slowest", type=Whole(0, 100), default=0,
              help="Also list the N slowest cases of each state.")
@pass_env
def stages(env: Env, csv_path: str | None, xlsx_path: str | None, chart_path: str | None,
           slowest: int, **span: Any) -> None:
    """Working days in each state (median, p90, max), on hold apart, over budget flagged.

    \b
    Example:
      torchflow report stages --period 2026 --cases 5 --chart stages.png
    """
    _run(env, "stages", csv_path, xlsx_path, chart_path, cases=slowest, **span)


@report.command()
@_common
@pass_env
def compliance(env: Env, csv_path: str | None, xlsx_path: str | None, chart_path: str | None,
               **span: Any) -> None:
    """Contacts, visits and deadlines due in the period: on time, late, missed, open.

    \b
    Example:
      torchflow report compliance --period 2026-11 --csv compliance.csv
    """
    _run(env, "compliance", csv_path, xlsx_path, chart_path, **span)


@report.command()
@_common
@click.option("--days", type=Whole(1, 250), default=10, show_default=True,
              help="Count tasks due within this many working days.")
@pass_env
def workload(env: Env, csv_path: str | None, xlsx_path: str | None, chart_path: str | None,
             days: int, **span: Any) -> None:
    """Per person: open cases, open and overdue tasks, tasks due soon, notices sent.

    \b
    Example:
      torchflow report workload --days 5
    """
    _run(env, "workload", csv_path, xlsx_path, chart_path, days=days, **span)


@report.command()
@_common
@pass_env
def requests(env: Env, csv_path: str | None, xlsx_path: str | None, chart_path: str | None,
             **span: Any) -> None:
    """Enterprises' requests (诉求): on-time sign-for and closure, resolution and
    satisfaction rates, days per lead unit and category, open ones by age.

    \b
    Example:
      torchflow report requests --period 2026Q2 --xlsx requests.xlsx
    """
    _run(env, "requests", csv_path, xlsx_path, chart_path, **span)


@report.command()
@click.argument("out", metavar="OUT.html")
@click.option("--from", "start", type=DATE, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", type=DATE, help="Last day, included (YYYY-MM-DD).")
@click.option("--period", metavar="PERIOD", help="2026Q4, 2026-11 or 2026.")
@click.option("--workflow", metavar="NAME", help="Only this workflow.")
@click.option("--owner", metavar="HANDLE", help="Only cases owned by HANDLE.")
@pass_env
def html(env: Env, out: str, **span: Any) -> None:
    """One self-contained HTML report for leadership (charts, tables, exceptions).

    \b
    Example:
      torchflow report html report-2026Q4.html --period 2026Q4
    """
    env.emit(env.call("report.html", out=out, **span),
             _("HTML report written to {file}", file=out))
