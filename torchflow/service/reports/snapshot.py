"""One reading transaction for a run of reports, its filters, and the two
temporary tables its reports share: the day table (working days, built once
per run) and the stays (every stay of a selected case in a state overlapping
the period, one window pass over the history). Working days: see
domain/periods.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

from msgspec import Struct
from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from torchflow.domain.periods import BY, DayRow, Period, day_rows, fixed_offset_minutes
from torchflow.domain.workflow import WorkflowSpec
from torchflow.errors import InvalidInput, NotFound
from torchflow.i18n import Listing, _
from torchflow.service.app import App
from torchflow.store.models import CASES, EVENTS, PEOPLE, UTCDateTime


class Filters(Struct, frozen=True):
    period: Period
    workflow: str | None = None
    owner: str | None = None
    by: str = "quarter"  # outcomes: month, quarter or year
    days: int = 10  # workload: due within this many working days
    cases: int = 0  # stages: list the N slowest cases of each state


_SQLITE_CACHE_KIB = -262_144  # 256 MiB at most, taken only as the run needs it


@contextmanager
def snapshot(app: App, f: Filters) -> Iterator[Snapshot]:
    """One reading transaction. The day and stays tables are temporary tables:
    SQLite creates them in a deferred transaction (no write lock on the
    database); PostgreSQL refuses CREATE in a READ ONLY transaction, so there it
    is an ordinary REPEATABLE READ one (one snapshot for every report of a run)
    that writes nothing but its own temporary tables."""
    if f.by not in BY:
        raise InvalidInput(_("--by wants one of {choices}, got {by!r}",
                             choices=Listing(BY), by=f.by))
    pg = app.db.engine.dialect.name == "postgresql"
    with (app.db.transaction() if pg else app.db.read()) as s:
        if pg:
            s.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        else:
            # The stays and the sorts of a million events in a page cache that
            # holds them (SQLite's default is 2 MB; the rest spills to a
            # temporary file), for this run only.
            cache = int(s.exec_driver_sql("PRAGMA cache_size").scalar() or -2000)
            s.exec_driver_sql(f"PRAGMA cache_size = {_SQLITE_CACHE_KIB}")
            s.exec_driver_sql(f"PRAGMA temp.cache_size = {_SQLITE_CACHE_KIB}")
        snap = Snapshot(app, s, f)
        failed = False
        try:
            yield snap
        except BaseException:
            failed = True
            raise
        finally:
            # A failed PostgreSQL transaction takes its temporary tables with it in
            # the rollback; dropping them there would hide the error with another.
            if not (pg and failed):
                for drop in reversed(snap.closing):
                    drop()
                if snap.stays_table is not None:
                    snap.stays_table.drop(s)
                _DAYS.drop(s, checkfirst=True)
            if not pg:
                s.exec_driver_sql(f"PRAGMA cache_size = {cache}")
                s.exec_driver_sql(f"PRAGMA temp.cache_size = {cache}")


def _specs(app: App, f: Filters) -> dict[str, WorkflowSpec]:
    files = app.registry.files()
    if f.workflow is not None:
        if f.workflow not in files:
            known = Listing(sorted(files)) if files else _("none")
            raise NotFound(_("no workflow named '{workflow}'; workflows: {known}",
                             workflow=f.workflow, known=known))
        return {f.workflow: files[f.workflow]}
    return dict(files)


def _owner_id(s: Connection, handle: str | None) -> int | None:
    if handle is None:
        return None
    found = s.scalar(select(PEOPLE.c.id).where(PEOPLE.c.handle == handle))
    if found is None:
        raise NotFound(_("no person '{handle}'; see `torchflow person list`", handle=handle))
    return int(found)


_DAYS = Table(
    "report_days", MetaData(),
    Column("day", Date, primary_key=True),
    Column("starts", UTCDateTime(), nullable=False, unique=True),
    Column("wd", Integer, nullable=False),
    Column("month", String(7), nullable=False),
    Column("quarter", String(6), nullable=False),
    Column("year", String(4), nullable=False),
    prefixes=["TEMPORARY"],
)


# Every stay of a case in a state that overlaps the period (an entry to the
# next entry, both as instants and as local dates) of the cases the filters
# select: derived from case_events in one window pass per run and read by
# pipeline and stages, instead of each re-deriving it with windows. A Table
# object per run, so no metadata is shared between threads or runs.
_STAYS_NAME = "report_stays"


class Snapshot:
    """One reading transaction, its filters, and the tables its reports share,
    each built on first use."""

    def __init__(self, app: App, s: Connection, f: Filters) -> None:
        self.app, self.s, self.f = app, s, f
        self.specs = _specs(app, f)
        self.owner_id = _owner_id(s, f.owner)
        self.lo, self.hi = _bounds(app, f)
        self.where = _case_filter(self.specs, self.owner_id)
        self._days: dict[date, DayRow] | None = None
        self._offset: int | None = None
        self.stays_table: Table | None = None
        # Other reports' own temporary tables (requests.py), by name, each built
        # on first use; dropped with the run's by the ``closing`` callables.
        self.shared: dict[str, Table] = {}
        self.closing: list[Callable[[], None]] = []
        # Where a funnel leads: the milestones and terminal states of the workflows.
        self.targets = sorted({t for spec in self.specs.values() for t in funnel_targets(spec)})

    def days(self) -> Table:
        """The day table from the first case opened to the latest of today, the
        period's end and the last event."""
        if self._days is None:
            s, cal = self.s, self.app.calendar
            first_open, last_event = s.execute(
                select(func.min(CASES.c.opened_at), func.max(CASES.c.last_event_at))).one()
            today = cal.local_date(self.app.now())
            first = min(self.f.period.start, cal.local_date(first_open) if first_open else today)
            last = max(self.f.period.end, today,
                       cal.local_date(last_event) if last_event else today)
            rows = day_rows(cal, first, last)
            _DAYS.create(s)
            s.execute(insert(_DAYS), [
                {"starts": r.starts, "day": r.day, "wd": r.wd, "month": r.month,
                 "quarter": r.quarter, "year": r.year} for r in rows])
            self._days = {r.day: r for r in rows}
            self._offset = fixed_offset_minutes(rows)
        return _DAYS

    def wd(self, instant: datetime) -> int:
        """The working-day ordinal of an instant known in Python (now, a period end)."""
        self.days()
        assert self._days is not None
        return self._days[self.app.calendar.local_date(instant)].wd

    def local_day(self, instant: ColumnElement[Any]) -> ColumnElement[Any]:
        """The local date of ``instant`` in SQL. PostgreSQL converts with the zone
        itself; SQLite shifts by the zone's offset when it has one over the whole
        table (no daylight saving, as in China). Otherwise one index seek into
        the day table per instant: the last day starting at or before it."""
        days = self.days()
        if self.app.db.engine.dialect.name == "postgresql":
            return cast(func.timezone(self.app.calendar.tz.key, instant), Date)
        if self._offset is not None:
            return func.date(instant, f"{self._offset:+d} minutes", type_=Date)
        d = days.alias()
        return (select(d.c.day).where(d.c.starts <= instant)
                .order_by(d.c.starts.desc()).limit(1).scalar_subquery())

    def entries(self) -> Any:
        """Entries into states before the period's end (case_id, seq, workflow,
        state, entered, d_in): the stays when this run has built them (the HTML
        report), else straight from case_events, which needs no window pass."""
        if self.stays_table is not None:
            return self.stays_table
        entered = self.entered_at()
        return (
            select(EVENTS.c.case_id, EVENTS.c.seq, CASES.c.workflow,
                   EVENTS.c.to_state.label("state"), entered.label("entered"),
                   self.local_day(entered).label("d_in"))
            .join(CASES, CASES.c.id == EVENTS.c.case_id)
            .where(self.where, EVENTS.c.to_state.is_not(None), entered < self.hi,
                   self.dated())
            .subquery("entries")
        )

    def entered_at(self) -> ColumnElement[Any]:
        """When an event's state was entered: the event's time, but for a matter
        imported from a sheet the day the sheet says it entered its state
        (``data.state_entered_at``), so an import counts at its real dates, not in
        the period of the import (docs/reports.md)."""
        given = EVENTS.c.data["state_entered_at"].as_string()
        imported = and_(EVENTS.c.kind == "imported", given.is_not(None))
        return type_coerce(case((imported, self._instant(given)), else_=EVENTS.c.at),
                           UTCDateTime())

    def _instant(self, given: ColumnElement[Any]) -> ColumnElement[Any]:
        """An ISO time with its offset, written in an event's data, as an instant."""
        if self.app.db.engine.dialect.name == "postgresql":
            return cast(given, UTCDateTime())
        # the text a UTCDateTime is stored as, from the ISO time with its offset
        return type_coerce(func.strftime("%Y-%m-%d %H:%M:%S.000000", given), UTCDateTime())

    def passed(self, workflow: str, milestones: list[str], *, dated: bool = True) -> Any:
        """The milestones matters imported past them reached before (``data.passed``
        of their imported event: 签约 for one imported in production), as
        ``entries`` has entries (case_id, seq, state, entered, d_in), at each one's
        own date; with ``dated=False``, those with no date (case_id, seq, state)."""
        parts = []
        for state in milestones:
            given = EVENTS.c.data[("passed", state, "state_entered_at")].as_string()
            base = (select(EVENTS.c.case_id, EVENTS.c.seq, literal(state).label("state"))
                    .join(CASES, CASES.c.id == EVENTS.c.case_id)
                    .where(self.where, CASES.c.workflow == workflow,
                           EVENTS.c.kind == "imported"))
            if dated:
                entered = self._instant(given)
                parts.append(base.add_columns(entered.label("entered"),
                                              self.local_day(entered).label("d_in"))
                             .where(given.is_not(None), entered < self.hi))
            else:
                parts.append(base.where(EVENTS.c.data[("passed", state, "date_unknown")]
                                        .as_string().is_not(None)))
        return union_all(*parts).subquery("passed")

    @staticmethod
    def dated() -> ColumnElement[bool]:
        """Leaves out a matter imported with no date: "imported, date unknown" is
        reached in no period at all (counted apart: ``undated``)."""
        return or_(EVENTS.c.kind != "imported",
                   EVENTS.c.data["date_unknown"].as_string().is_(None))

    def on_close(self, drop: Callable[[], None]) -> None:
        """Run ``drop`` when the run ends (a temporary table of one report)."""
        self.closing.append(drop)

    def stays(self) -> Table:
        if self.stays_table is not None:
            return self.stays_table
        table = Table(
            _STAYS_NAME, MetaData(),
            Column("case_id", Integer, primary_key=True),
            Column("seq", Integer, primary_key=True),
            Column("workflow", String(64), nullable=False),
            Column("state", String(64), nullable=False),
            Column("from_state", String(64)),
            Column("entered", UTCDateTime(), nullable=False),
            Column("left_at", UTCDateTime()),
            Column("d_in", Date, nullable=False),
            Column("d_out", Date),
            prefixes=["TEMPORARY"],
        )
        entered = self.entered_at()
        ev = (
            select(EVENTS.c.case_id, EVENTS.c.seq, CASES.c.workflow,
                   EVENTS.c.to_state.label("state"), EVENTS.c.from_state,
                   entered.label("entered"), self.local_day(entered).label("d_in"))
            .join(CASES, CASES.c.id == EVENTS.c.case_id)
            # A case closed before the period has no stay in it that any report
            # reads (its last, terminal, stay counts nowhere).
            .where(self.where, EVENTS.c.to_state.is_not(None), self.dated(),
                   or_(CASES.c.closed_at.is_(None), CASES.c.closed_at >= self.lo))
            .subquery("ev")
        )
        win: dict[str, Any] = {"partition_by": ev.c.case_id, "order_by": ev.c.seq}
        w = (
            select(ev.c.case_id, ev.c.seq, ev.c.workflow, ev.c.state, ev.c.from_state,
                   ev.c.entered, func.lead(ev.c.entered).over(**win).label("left_at"),
                   ev.c.d_in, func.lead(ev.c.d_in).over(**win).label("d_out"))
            .subquery("w")
        )
        table.create(self.s)
        self.stays_table = table
        self.s.execute(insert(table).from_select(
            [c.name for c in table.c],
            select(*w.c).where(w.c.entered < self.hi,
                               or_(w.c.left_at.is_(None), w.c.left_at >= self.lo))))
        return table


def _bounds(app: App, f: Filters) -> tuple[datetime, datetime]:
    cal = app.calendar
    return cal.at(f.period.start, time(0, 0)), cal.at(f.period.end + timedelta(days=1), time(0))


def _case_filter(specs: dict[str, WorkflowSpec], owner_id: int | None) -> ColumnElement[bool]:
    cond: ColumnElement[bool] = CASES.c.workflow.in_(list(specs))
    if owner_id is not None:
        cond = and_(cond, CASES.c.owner_id == owner_id)
    return cond


def funnel_targets(spec: WorkflowSpec) -> set[str]:
    """Where a funnel leads: the milestones and the terminal states."""
    return {m.state for m in spec.milestones} | {
        st.name for st in spec.states.values() if st.terminal}


def at_rank(hist: Mapping[int, int], rank: int) -> int | None:
    """The value of the ``rank``-th smallest (1-based) of a histogram {value: how
    many}: rank ⌈n/2⌉ is the nearest-rank median. None when it is empty."""
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return max(hist, default=None)
