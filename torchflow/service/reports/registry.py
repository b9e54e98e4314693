"""The reports, one entry each: its name, its bilingual title, what it computes,
and the document it makes. `torchflow report NAME`, the HTML page and the
monthly report by notice all go through here; docs/reports.md says what each
figure means.

A document is plain data: its name, title, period, filters, when it was made
and a list of tables, each with typed columns and rows. The renderers in
torchflow/reports/ turn finished documents into text, CSV, XLSX, charts and
HTML; they read nothing from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec import Struct

from torchflow.domain.vocabulary import english_names
from torchflow.errors import InvalidInput, Refused
from torchflow.i18n import N_, Listing, Text, _
from torchflow.service.app import App
from torchflow.service.people.lookup import Actor, people_by_id
from torchflow.service.reports import figures, requests
from torchflow.service.reports.snapshot import Filters, Snapshot, snapshot

Document = dict[str, Any]
Table = dict[str, Any]


class Report(Struct, frozen=True):
    name: str
    title: str  # "English · 中文"
    computes: str  # one line: what it computes
    tables: Callable[[Snapshot], list[Table]]
    # A report in the office's language: its title's message id (the catalogs'),
    # the action of domain/permissions.py its reader needs, and the one workflow
    # it reads (the HTML page shows it when that workflow is selected).
    heading: str | None = None
    action: str | None = None
    workflow: str | None = None

    def document(self, snap: Snapshot) -> Document:
        """The report over ``snap``, with its period and filters."""
        f, app = snap.f, snap.app
        title = app.tr(Text(self.heading)) if self.heading else self.title
        return {
            "report": self.name, "title": title,
            "period": {"from": f.period.start.isoformat(), "to": f.period.end.isoformat()},
            "filters": {"workflow": f.workflow, "owner": f.owner},
            "generated_at": app.local(app.now()), "tables": self.tables(snap),
        }


REPORTS: dict[str, Report] = {r.name: r for r in (
    Report("outcomes", "Outcomes · 工作成效",
           "cases that entered each milestone per month, quarter or year, with the "
           "sums of their summed fields as they stood then", figures.outcomes),
    Report("pipeline", "Pipeline · 事项进展",
           "open cases per state, entries and exits in the period, and the funnel to "
           "the milestones and terminal states", figures.pipeline),
    Report("stages", "Stage times · 环节用时",
           "working days per state (median, p90, max), hold apart, over budget "
           "flagged; optionally the slowest cases", figures.stages),
    Report("compliance", "Contact and visit compliance · 联系走访落实",
           "follow-ups due in the period per person, workflow and kind: on time, "
           "late, missed, open, escalated", figures.compliance),
    Report("workload", "Workload · 工作量",
           "per active person: open cases, open and overdue tasks, tasks due soon, "
           "notices sent", figures.workload),
    Report("requests", "Enterprise requests · 企业诉求办理情况",
           "enterprises' requests: on-time sign-for and closure, resolution and "
           "satisfaction rates, median working days per lead unit and category, open "
           "requests by age, returns and extensions", requests.requests,
           heading=N_("Enterprise requests: how they were handled"),
           action="report.requests", workflow=requests.WORKFLOW),
)}


def report(name: str) -> Report:
    if name not in REPORTS:
        raise InvalidInput(_("there is no report '{name}'; reports: {choices}",
                             name=name, choices=Listing(REPORTS)))
    return REPORTS[name]


def run(app: App, name: str, f: Filters, reader: Actor | None = None) -> Document:
    """One report by name; ``reader``, who reads it (a report with its own action
    in domain/permissions.py needs one)."""
    entry = report(name)
    if entry.action is not None:
        if reader is None:
            raise Refused(_("report {name} is read by a person of the office; run it as one "
                            "(`--as HANDLE`, or a login mapped to a person)", name=name))
        reader.authorize(entry.action)
    with snapshot(app, f) as snap:
        return entry.document(snap)


def english(app: App) -> dict[str, str]:
    """The workflows' Chinese titles in English, for the renderers to draw a chart
    where no CJK font is installed."""
    return english_names(app.registry.files().values())


def run_all(app: App, f: Filters) -> tuple[dict[str, Document], dict[str, Any],
                                          dict[str, Any]]:
    """Every report and the exceptions over one snapshot (the HTML page), the day
    and stays tables built once for all of them; and what the page says about
    the office: its name, its language, its people's names by handle."""
    with snapshot(app, f) as snap:
        snap.stays()  # first, so that outcomes reads it too
        docs = {name: r.document(snap) for name, r in REPORTS.items()
                if r.workflow is None or r.workflow in snap.specs}
        found = figures.exceptions(snap)
        people = {p.handle: p.name for p in people_by_id(snap.s).values()}
    office = app.settings.office
    return docs, found, {"office": office.name, "locale": office.locale, "people": people}
