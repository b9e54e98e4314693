"""The monthly report by notice: ``[reports] monthly = ["director"]`` sends the
HTML report of the month before to every active person holding one of those
roles (or having that handle), on the first working day of the month, once.

Once: each notice's idempotency key names the month, the recipient and the
channel, so the ledger refuses a second one whatever the number of ticks or
services. A service down on the first working day sends at its first tick
later in the same month; a month gone by is not replayed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from torchflow.domain.periods import Period
from torchflow.reports.html import render
from torchflow.service.app import App
from torchflow.service.delivery import ledger
from torchflow.service.delivery.routing import direct
from torchflow.service.reports.registry import english, run_all
from torchflow.service.reports.snapshot import Filters
from torchflow.store.models import PEOPLE


def produce_monthly(app: App, now: datetime | None = None) -> int:
    """The monthly report notices due now; how many were added to the ledger."""
    wanted = set(app.settings.reports.monthly)
    if not wanted:
        return 0
    now = now or app.now()
    cal = app.calendar
    today = cal.local_date(now)
    first = date(today.year, today.month, 1)
    first_workday = cal.next_workday(first)
    if today < first_workday or (today == first_workday and
                                 now < cal.at(today, cal.workday_start)):
        return 0
    last_month_end = first - timedelta(days=1)
    period = Period(date(last_month_end.year, last_month_end.month, 1), last_month_end)
    month = f"{period.start.year}-{period.start.month:02d}"
    with app.db.read() as s:
        people = [p for p in s.execute(select(PEOPLE).where(PEOPLE.c.active.is_(True)))
                  if p.handle in wanted or wanted & set(p.roles or [])]
        keys = {ledger.report_key(route, month): route
                for route in (direct(app.settings, p, now) for p in people)}
        sent = ledger.known_keys(s, list(keys))
    todo = [route for k, route in keys.items() if k not in sent]
    if not todo:
        return 0
    html = render(*run_all(app, Filters(period=period)), english(app))
    subject = f"Monthly report {month} · {period.start.year}年{period.start.month}月工作报告"
    body = (f"The cooperation matters' report for {month} is attached (HTML).\n"
            f"附件为{period.start.year}年{period.start.month}月合作事项工作报告（HTML）。\n")
    payload = {"month": month, "from": period.start.isoformat(), "to": period.end.isoformat(),
               "html": html, "filename": f"report-{month}.html"}
    rows = [ledger.report_notice(route, month, subject, body, payload, now) for route in todo]
    with app.db.transaction() as s:
        return ledger.add(s, rows)
