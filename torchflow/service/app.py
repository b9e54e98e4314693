"""The application object every use case receives: settings, database,
calendar, workflow registry and the clock. Built once per process at the edge."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from msgspec import Struct, field

from torchflow.clock import utcnow
from torchflow.config import Settings
from torchflow.domain.calendar import OfficialSchedule, WorkCalendar
from torchflow.domain.vocabulary import labels
from torchflow.errors import TorchflowError
from torchflow.i18n import Translator, translator
from torchflow.service.workflows.registry import WorkflowRegistry
from torchflow.store.db import Database

_log = logging.getLogger("torchflow.calendar")


class App(Struct):
    settings: Settings
    db: Database
    calendar: WorkCalendar
    registry: WorkflowRegistry
    clock: Callable[[], datetime] = field(default=utcnow)

    def now(self) -> datetime:
        return self.clock()

    @property
    def tr(self) -> Translator:
        """The office's language ([office] locale) and its names of roles: what
        notices and messages made here are written in."""
        tr = translator(self.settings.office.locale)
        try:
            return tr.with_roles(labels(self.registry.roles()))
        except TorchflowError:
            return tr  # a broken roles.toml is `workflow validate`'s to report

    def local(self, instant: datetime | None) -> str | None:
        """An instant as people here read it: ISO 8601 in the configured zone."""
        if instant is None:
            return None
        return instant.astimezone(self.calendar.tz).isoformat()

    def close(self) -> None:
        self.db.dispose()


def build_app(settings: Settings, clock: Callable[[], datetime] = utcnow, *,
              create: bool = False) -> App:
    """``create``: only `init` (and the demo) may create a SQLite file."""
    clock()  # a bad TORCHFLOW_NOW is refused here, by every command, not only some
    cal = settings.calendar
    official: tuple[OfficialSchedule, ...] = ()
    if cal.official:  # imported only when configured: start-up stays as it was
        from torchflow.service.calendar.schedules import load_schedules

        official = load_schedules(cal.official)
    tr = translator(settings.office.locale)
    return App(
        settings=settings,
        db=Database(settings.database_url, create=create,
                    busy_seconds=settings.busy_timeout_seconds, files=settings.files),
        calendar=WorkCalendar(
            timezone=cal.timezone,
            blackout=cal.blackout,
            extra_workdays=cal.extra_workdays,
            workday_start=cal.workday_start,
            workday_end=cal.workday_end,
            official=official,
            warn=lambda text: _log.warning("%s", tr(text)),  # in the office's language
        ),
        registry=WorkflowRegistry(settings.workflows_dir),
        clock=clock,
    )
