"""How follow-up tasks are shown and judged overdue: read by the case views,
the reports and the lists without loading the writer of tasks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchflow.service.app import App


def window_view(task: Any) -> dict[str, Any]:
    """A visit's window and seed as views show them (nothing for other tasks)."""
    if task.window_start is None:
        return {}
    return {"window": [task.window_start.isoformat(), task.window_end.isoformat()],
            "seed": task.seed}


def overdue_before(app: App, now: datetime) -> date:
    """Tasks due before this day are overdue: today's become so at the end of the
    working day, as their overdue notice does."""
    today = app.calendar.local_date(now)
    past_end = now >= app.calendar.at(today, app.calendar.workday_end)
    return today + timedelta(days=1) if past_end else today
