"""The figures of `torchflow report ...`, each computed in SQL and grouped in the
database (SQLAlchemy Core, the same statements on SQLite and PostgreSQL).

Every report returns one plain document: its name, bilingual title, period,
filters and a list of tables, each with typed columns and rows; the CLI prints
it, and writes it as CSV, XLSX, a chart or HTML. What each figure means is in
docs/reports.md. Working days: see domain/periods.py (a temporary day table,
looked up with one index seek per instant).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    distinct,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from torchflow.domain.periods import BY, Period, day_rows
from torchflow.domain.status import NoticeKind, NoticeStatus, Outcome, TaskKind, TaskStatus
from torchflow.domain.workflow import PREVIOUS, WorkflowSpec
from torchflow.errors import InvalidInput, NotFound
from torchflow.service.app import App
from torchflow.service.tasks import overdue_before
from torchflow.store.models import CASES, EVENTS, NOTICES, PEOPLE, TASKS, UTCDateTime

REPORTS = ("outcomes", "pipeline", "stages", "compliance", "workload")
TITLES = {
    "outcomes": "Outcomes · 工作成效",
    "pipeline": "Pipeline · 事项进展",
    "stages": "Stage times · 环节用时",
    "compliance": "Contact and visit compliance · 联系走访落实",
    "workload": "Workload · 工作量",
}


@dataclass(frozen=True)
class Filters:
    period: Period
    workflow: str | None = None
    owner: str | None = None
    by: str = "quarter"  # outcomes: month, quarter or year
    days: int = 10  # workload: due within this many working days
    cases: int = 0  # stages: list the N slowest cases of each state


def col(key: str, title: str, kind: str = "text") -> dict[str, str]:
    """A column: kind is text, int, float, date or rate (numerator/denominator)."""
    return {"key": key, "title": title, "type": kind}


def _doc(app: App, name: str, f: Filters, tables: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "report": name, "title": TITLES[name],
        "period": {"from": f.period.start.isoformat(), "to": f.period.end.isoformat()},
        "filters": {"workflow": f.workflow, "owner": f.owner},
        "generated_at": app.local(app.now()), "tables": tables,
    }


def run(app: App, name: str, f: Filters) -> dict[str, Any]:
    """One report by name."""
    if f.by not in BY:
        raise InvalidInput(f"--by wants one of {', '.join(BY)}, got {f.by!r}")
    with _reading(app) as s:
        specs = _specs(app, f)
        owner_id = _owner_id(s, f.owner)
        return _RUNNERS[name](app, s, f, specs, owner_id)


def run_all(app: App, f: Filters) -> dict[str, dict[str, Any]]:
    """Every report over one snapshot (the HTML report)."""
    with _reading(app) as s:
        specs = _specs(app, f)
        owner_id = _owner_id(s, f.owner)
        return {n: _RUNNERS[n](app, s, f, specs, owner_id) for n in REPORTS}


@contextmanager
def _reading(app: App) -> Iterator[Connection]:
    # The day table is a temporary table: SQLite creates it in a deferred
    # transaction (no write lock on the database); PostgreSQL refuses CREATE in
    # a READ ONLY transaction, so there the transaction is an ordinary one.
    ctx = app.db.read() if app.db.engine.dialect.name == "sqlite" else app.db.transaction()
    with ctx as s:
        try:
            yield s
        finally:
            _DAYS.drop(s, checkfirst=True)


def _specs(app: App, f: Filters) -> dict[str, WorkflowSpec]:
    files = app.registry.files()
    if f.workflow is not None:
        if f.workflow not in files:
            known = ", ".join(sorted(files)) or "none"
            raise NotFound(f"no workflow named '{f.workflow}'; workflows: {known}")
        return {f.workflow: files[f.workflow]}
    return dict(files)


def _owner_id(s: Connection, handle: str | None) -> int | None:
    if handle is None:
        return None
    found = s.scalar(select(PEOPLE.c.id).where(PEOPLE.c.handle == handle))
    if found is None:
        raise NotFound(f"no person '{handle}'; see `torchflow person list`")
    return int(found)


# --------------------------------------------------------------------------- days

_DAYS = Table(
    "report_days", MetaData(),
    Column("starts", UTCDateTime(), primary_key=True),
    Column("day", Date, nullable=False),
    Column("wd", Integer, nullable=False),
    Column("month", String(7), nullable=False),
    Column("quarter", String(6), nullable=False),
    Column("year", String(4), nullable=False),
    prefixes=["TEMPORARY"],
)


def fill_days(app: App, s: Connection, f: Filters) -> Table:
    """The day table from the first case opened to the later of today and the
    period.s end."""
    _DAYS.drop(s, checkfirst=True)
    _DAYS.create(s)
    first_open = s.scalar(select(func.min(CASES.c.opened_at)))
    today = app.calendar.local_date(app.now())
    first = min(f.period.start, app.calendar.local_date(first_open) if first_open else today)
    last = max(f.period.end, today)
    rows = [{"starts": r.starts, "day": r.day, "wd": r.wd, "month": r.month,
             "quarter": r.quarter, "year": r.year}
            for r in day_rows(app.calendar, first, last)]
    s.execute(insert(_DAYS), rows)
    return _DAYS


def day_of(instant: ColumnElement[Any], column: str = "wd") -> Any:
    """``column`` of the local date of ``instant``: the last day starting at or before it."""
    days = _DAYS.alias()
    return (select(days.c[column]).where(days.c.starts <= instant)
            .order_by(days.c.starts.desc()).limit(1).scalar_subquery())


def _bounds(app: App, f: Filters) -> tuple[datetime, datetime]:
    cal = app.calendar
    return cal.at(f.period.start, time(0, 0)), cal.at(f.period.end + timedelta(days=1), time(0))


def _case_filter(specs: dict[str, WorkflowSpec], owner_id: int | None) -> ColumnElement[bool]:
    cond: ColumnElement[bool] = CASES.c.workflow.in_(list(specs))
    if owner_id is not None:
        cond = and_(cond, CASES.c.owner_id == owner_id)
    return cond


def _title(specs: dict[str, WorkflowSpec], workflow: str, state: str | None) -> str:
    spec = specs.get(workflow)
    if spec is None or state is None or state not in spec.states:
        return state or ""
    return spec.states[state].title


def _rate(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else f"{n}/0"


# --------------------------------------------------------------------------- outcomes


def outcomes(app: App, s: Connection, f: Filters, specs: dict[str, WorkflowSpec],
             owner_id: int | None) -> dict[str, Any]:
    """Per period bucket: cases that entered each milestone state, with the
    ``sum = true`` fields of those cases added up."""
    fill_days(app, s, f)
    lo, hi = _bounds(app, f)
    tables = []
    for name, spec in specs.items():
        milestones = [st for st in spec.states.values() if st.milestone]
        if not milestones:
            continue
        sums = [fs for fs in spec.fields.values() if fs.sum]
        entered = (
            select(EVENTS.c.case_id, EVENTS.c.to_state.label("state"),
                   day_of(EVENTS.c.at, f.by).label("bucket"))
            .join(CASES, CASES.c.id == EVENTS.c.case_id)
            .where(CASES.c.workflow == name, _case_filter(specs, owner_id),
                   EVENTS.c.to_state.in_([m.name for m in milestones]),
                   EVENTS.c.at >= lo, EVENTS.c.at < hi)
            .distinct().subquery()
        )
        query = (
            select(entered.c.bucket, entered.c.state, func.count().label("cases"),
                   *[func.coalesce(func.sum(CASES.c.fields[fs.name].as_float()), 0)
                     .label(fs.name) for fs in sums])
            .join(CASES, CASES.c.id == entered.c.case_id)
            .group_by(entered.c.bucket, entered.c.state)
        )
        order = {m.name: i for i, m in enumerate(milestones)}
        rows = [{"period": r.bucket, "milestone": spec.states[r.state].title,
                 "state": r.state, "cases": int(r.cases),
                 **{fs.name: float(r._mapping[fs.name]) for fs in sums}}
                for r in s.execute(query)]
        rows.sort(key=lambda r: (r["period"], order[r["state"]]))
        tables.append({
            "name": name, "title": spec.title, "workflow": name,
            "columns": [col("period", "Period · 期间"), col("milestone", "Milestone · 节点"),
                        col("cases", "Cases · 件数", "int"),
                        *[col(fs.name, fs.title + (f" ({fs.unit})" if fs.unit else ""), "float")
                          for fs in sums]],
            "rows": rows, "milestones": [m.title for m in milestones],
        })
    return _doc(app, "outcomes", f, tables)


# --------------------------------------------------------------------------- pipeline


def pipeline(app: App, s: Connection, f: Filters, specs: dict[str, WorkflowSpec],
             owner_id: int | None) -> dict[str, Any]:
    """Open cases per state now; entries into and exits from each state in the
    period; the funnel from each state to the milestone and terminal states."""
    lo, hi = _bounds(app, f)
    where = _case_filter(specs, owner_id)
    base = EVENTS.join(CASES, CASES.c.id == EVENTS.c.case_id)
    in_period = and_(where, EVENTS.c.at >= lo, EVENTS.c.at < hi)
    counts: dict[tuple[str, str], dict[str, int]] = {}

    def add(key: str, rows: Any) -> None:
        for w, st, n in rows:
            counts.setdefault((w, st), {"open": 0, "entered": 0, "left": 0})[key] = int(n)

    add("open", s.execute(select(CASES.c.workflow, CASES.c.state, func.count())
                          .where(where, CASES.c.closed_at.is_(None))
                          .group_by(CASES.c.workflow, CASES.c.state)))
    add("entered", s.execute(select(CASES.c.workflow, EVENTS.c.to_state, func.count())
                             .select_from(base)
                             .where(in_period, EVENTS.c.to_state.is_not(None))
                             .group_by(CASES.c.workflow, EVENTS.c.to_state)))
    add("left", s.execute(select(CASES.c.workflow, EVENTS.c.from_state, func.count())
                          .select_from(base)
                          .where(in_period, EVENTS.c.from_state.is_not(None),
                                 EVENTS.c.to_state.is_not(None),
                                 EVENTS.c.from_state != EVENTS.c.to_state)
                          .group_by(CASES.c.workflow, EVENTS.c.from_state)))
    states_rows = []
    for name, spec in specs.items():
        for st in spec.states.values():
            c = counts.get((name, st.name))
            if c:
                states_rows.append({"workflow": spec.title, "state": st.title, "code": st.name,
                                    "open": c["open"], "entered": c["entered"],
                                    "left": c["left"]})
    # Funnel: cases entering X in the period, and of those the ones that later
    # entered a milestone or terminal state Y (up to the end of the period).
    targets = sorted({st.name for spec in specs.values() for st in spec.states.values()
                      if st.milestone or st.terminal})
    a, b = EVENTS.alias("a"), EVENTS.alias("b")
    reached = dict(
        ((w, st), int(n)) for w, st, n in s.execute(
            select(CASES.c.workflow, a.c.to_state, func.count(distinct(a.c.case_id)))
            .select_from(a.join(CASES, CASES.c.id == a.c.case_id))
            .where(where, a.c.to_state.is_not(None), a.c.at >= lo, a.c.at < hi)
            .group_by(CASES.c.workflow, a.c.to_state)))
    converted = s.execute(
        select(CASES.c.workflow, a.c.to_state, b.c.to_state, func.count(distinct(a.c.case_id)))
        .select_from(a.join(CASES, CASES.c.id == a.c.case_id)
                     .join(b, and_(b.c.case_id == a.c.case_id, b.c.seq > a.c.seq)))
        .where(where, a.c.to_state.is_not(None), a.c.at >= lo, a.c.at < hi,
               b.c.to_state.in_(targets or [""]), b.c.to_state != a.c.to_state, b.c.at < hi)
        .group_by(CASES.c.workflow, a.c.to_state, b.c.to_state))
    funnel = []
    for w, x, y, n in converted:
        spec = specs[w]
        if spec.states.get(y) is None or not (spec.states[y].milestone or spec.states[y].terminal):
            continue
        d = reached.get((w, x), 0)
        funnel.append({"workflow": spec.title, "from": _title(specs, w, x),
                       "to": _title(specs, w, y), "from_code": x, "to_code": y,
                       "converted": int(n), "reached": d, "rate": _rate(int(n), d)})
    order = {(w, st): i for w, spec in specs.items() for i, st in enumerate(spec.states)}
    funnel.sort(key=lambda r: (r["workflow"], order.get((_wf(specs, r), r["from_code"]), 0),
                               order.get((_wf(specs, r), r["to_code"]), 0)))
    return _doc(app, "pipeline", f, [
        {"name": "states", "title": "States · 各环节",
         "columns": [col("workflow", "Workflow · 业务"), col("state", "State · 环节"),
                     col("open", "Open now · 在办", "int"),
                     col("entered", "Entered · 进入", "int"), col("left", "Left · 离开", "int")],
         "rows": states_rows},
        {"name": "funnel", "title": "Funnel · 转化",
         "columns": [col("workflow", "Workflow · 业务"), col("from", "Reached · 到达"),
                     col("to", "Then reached · 后续到达"),
                     col("converted", "Converted · 转化", "int"),
                     col("reached", "Of · 基数", "int"), col("rate", "Rate · 转化率", "rate")],
         "rows": funnel},
    ])


def _wf(specs: dict[str, WorkflowSpec], row: dict[str, Any]) -> str:
    return next((n for n, sp in specs.items() if sp.title == row["workflow"]), "")


# --------------------------------------------------------------------------- stages


def hold_states(spec: WorkflowSpec) -> set[str]:
    """States left by resuming (@previous): time there is hold, not stage time."""
    return {src for t in spec.transitions if t.dest == PREVIOUS for src in t.sources}


def stages(app: App, s: Connection, f: Filters, specs: dict[str, WorkflowSpec],
           owner_id: int | None) -> dict[str, Any]:
    """Working days per state: every stay (an entry to the next entry) that
    overlaps the period, an unfinished one counted to the period's end or now;
    summed per case and state, hold stays counted apart under the state held."""
    fill_days(app, s, f)
    lo, hi = _bounds(app, f)
    end = min(app.now(), hi - timedelta(seconds=1))  # the last day counts, not the next
    stays = (
        select(EVENTS.c.case_id, EVENTS.c.to_state.label("state"),
               EVENTS.c.from_state, EVENTS.c.at.label("entered"),
               func.lead(EVENTS.c.at).over(partition_by=EVENTS.c.case_id,
                                           order_by=EVENTS.c.seq).label("left_at"))
        .where(EVENTS.c.to_state.is_not(None))
        .subquery("stays")
    )
    holds = [(w, sorted(hold_states(sp))) for w, sp in specs.items() if hold_states(sp)]
    is_hold: ColumnElement[bool] = or_(
        false(), *(and_(CASES.c.workflow == w, stays.c.state.in_(h)) for w, h in holds))
    terminal = [(w, [st.name for st in sp.states.values() if st.terminal])
                for w, sp in specs.items()]
    is_terminal: ColumnElement[bool] = or_(
        false(), *(and_(CASES.c.workflow == w, stays.c.state.in_(t)) for w, t in terminal if t))
    until = func.coalesce(stays.c.left_at, bindparam("end", end, type_=UTCDateTime()))
    per_stay = (
        select(stays.c.case_id, CASES.c.workflow,
               case((is_hold, stays.c.from_state), else_=stays.c.state).label("state"),
               case((is_hold, 0), else_=1).label("staged"),
               case((until < stays.c.entered, 0),  # an event after "now" (a set clock)
                    else_=day_of(until) - day_of(stays.c.entered)).label("days"))
        .join(CASES, CASES.c.id == stays.c.case_id)
        .where(_case_filter(specs, owner_id), ~is_terminal,
               stays.c.entered < hi,
               or_(stays.c.left_at.is_(None), stays.c.left_at >= lo))
        .subquery("per_stay")
    )
    per_case = (
        select(per_stay.c.case_id, per_stay.c.workflow, per_stay.c.state,
               func.sum(case((per_stay.c.staged == 1, per_stay.c.days), else_=0)).label("days"),
               func.sum(case((per_stay.c.staged == 0, per_stay.c.days), else_=0)).label("hold"),
               func.max(per_stay.c.staged).label("staged"))
        .group_by(per_stay.c.case_id, per_stay.c.workflow, per_stay.c.state)
        .subquery("per_case")
    )
    part = (per_case.c.workflow, per_case.c.state)
    ranked = (
        select(per_case,
               func.row_number().over(partition_by=part, order_by=per_case.c.days).label("rn"),
               func.row_number().over(partition_by=part,
                                      order_by=(per_case.c.days.desc(), per_case.c.case_id))
               .label("slow"),
               func.count().over(partition_by=part).label("n"))
        .where(per_case.c.staged == 1)
        .subquery("ranked")
    )
    r = ranked.c
    agg = (
        select(r.workflow, r.state, func.count().label("cases"),
               func.max(case((r.rn == (r.n + 1) // 2, r.days))).label("median"),
               func.max(case((r.rn == (9 * r.n + 9) // 10, r.days))).label("p90"),
               func.max(r.days).label("max"),
               func.sum(case((r.hold > 0, 1), else_=0)).label("hold_cases"),
               func.sum(r.hold).label("hold_days"))
        .group_by(r.workflow, r.state)
    )
    rows = []
    for row in s.execute(agg):
        spec = specs[row.workflow]
        st = spec.states.get(row.state)
        budget = st.deadline.within if st is not None and st.deadline else None
        rows.append({
            "workflow": spec.title, "state": _title(specs, row.workflow, row.state),
            "workflow_code": row.workflow, "code": row.state,
            "cases": int(row.cases), "median": int(row.median), "p90": int(row.p90),
            "max": int(row.max), "budget": budget,
            "over": "OVER · 超期" if budget is not None and row.median > budget else "",
            "hold_cases": int(row.hold_cases), "hold_days": int(row.hold_days),
        })
    order = {(w, st): i for w, sp in specs.items() for i, st in enumerate(sp.states)}
    rows.sort(key=lambda x: (x["workflow"], order.get((x["workflow_code"], x["code"]), 0)))
    tables = [{
        "name": "stages", "title": "Working days per state · 各环节工作日",
        "columns": [col("workflow", "Workflow · 业务"), col("state", "State · 环节"),
                    col("cases", "Cases · 件数", "int"), col("median", "Median · 中位数", "int"),
                    col("p90", "P90", "int"), col("max", "Max · 最长", "int"),
                    col("budget", "Budget · 时限", "int"), col("over", "Flag · 标记"),
                    col("hold_cases", "On hold · 暂缓件数", "int"),
                    col("hold_days", "Hold days · 暂缓工作日", "int")],
        "rows": rows,
    }]
    if f.cases:
        slow = s.execute(
            select(r.workflow, r.state, r.days, r.hold, CASES.c.key, CASES.c.title)
            .join(CASES, CASES.c.id == r.case_id).where(r.slow <= f.cases)
            .order_by(r.workflow, r.state, r.slow))
        tables.append({
            "name": "slowest", "title": "Slowest cases · 用时最长的事项",
            "columns": [col("workflow", "Workflow · 业务"), col("state", "State · 环节"),
                        col("key", "Case · 编号"), col("title", "Title · 名称"),
                        col("days", "Working days · 工作日", "int"),
                        col("hold", "Hold days · 暂缓工作日", "int")],
            "rows": [{"workflow": specs[x.workflow].title,
                      "state": _title(specs, x.workflow, x.state), "key": x.key,
                      "title": x.title, "days": int(x.days), "hold": int(x.hold)}
                     for x in slow],
        })
    return _doc(app, "stages", f, tables)


# --------------------------------------------------------------------------- compliance


def compliance(app: App, s: Connection, f: Filters, specs: dict[str, WorkflowSpec],
               owner_id: int | None) -> dict[str, Any]:
    """Tasks due in the period, per assignee, workflow and kind, by how they ended."""
    cutoff = overdue_before(app, app.now())
    t = TASKS.c
    escalated = exists().where(NOTICES.c.task_id == t.id,
                               NOTICES.c.kind == NoticeKind.ESCALATION)

    def n(cond: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    who = func.coalesce(PEOPLE.c.handle, literal("-"))
    query = (
        select(who.label("person"), CASES.c.workflow, t.kind,
               n(t.status != TaskStatus.CANCELLED).label("planned"),
               n(t.outcome_kind == Outcome.ON_TIME).label("on_time"),
               n(t.outcome_kind == Outcome.LATE).label("late"),
               func.coalesce(func.sum(case((t.outcome_kind == Outcome.LATE, t.late_by))), 0)
               .label("late_days"),
               func.coalesce(func.max(case((t.outcome_kind == Outcome.LATE, t.late_by))), 0)
               .label("late_max"),
               n(or_(t.outcome_kind == Outcome.MISSED, t.status == TaskStatus.MISSED))
               .label("missed"),
               n(t.status == TaskStatus.OPEN).label("open"),
               n(and_(t.status == TaskStatus.OPEN, t.due_on < cutoff)).label("overdue"),
               n(escalated).label("escalated"))
        .select_from(TASKS.join(CASES, CASES.c.id == t.case_id)
                     .outerjoin(PEOPLE, PEOPLE.c.id == t.assignee_id))
        .where(_case_filter(specs, owner_id), t.due_on >= f.period.start,
               t.due_on <= f.period.end)
        .group_by(who, CASES.c.workflow, t.kind)
        .having(func.sum(case((t.status != TaskStatus.CANCELLED, 1), else_=0)) > 0)
    )
    kinds = {TaskKind.CONTACT: "contact · 日常联系", TaskKind.VISIT: "visit · 走访",
             TaskKind.DEADLINE: "deadline · 时限"}
    rows = [{"person": r.person, "workflow": specs[r.workflow].title, "workflow_code": r.workflow,
             "kind": kinds.get(r.kind, r.kind), "kind_code": r.kind,
             **{k: int(getattr(r, k)) for k in ("planned", "on_time", "late", "late_days",
                                                "late_max", "missed", "open", "overdue",
                                                "escalated")}}
            for r in s.execute(query)]
    rows.sort(key=lambda x: (x["person"], x["workflow_code"], x["kind_code"]))
    return _doc(app, "compliance", f, [{
        "name": "compliance", "title": "Follow-ups due in the period · 期内应办跟进",
        "columns": [col("person", "Person · 责任人"), col("workflow", "Workflow · 业务"),
                    col("kind", "Kind · 类型"), col("planned", "Planned · 应办", "int"),
                    col("on_time", "On time · 按时", "int"), col("late", "Late · 逾期办理", "int"),
                    col("late_days", "Late days · 逾期工作日", "int"),
                    col("late_max", "Latest · 最长逾期", "int"),
                    col("missed", "Missed · 漏办", "int"), col("open", "Open · 未办", "int"),
                    col("overdue", "Overdue · 已超期", "int"),
                    col("escalated", "Escalated · 已上报", "int")],
        "rows": rows,
    }])


# --------------------------------------------------------------------------- workload


def workload(app: App, s: Connection, f: Filters, specs: dict[str, WorkflowSpec],
             owner_id: int | None) -> dict[str, Any]:
    """Per active person: open cases owned, open tasks, overdue, due soon, notices sent."""
    lo, hi = _bounds(app, f)
    today = app.calendar.local_date(app.now())
    cutoff = overdue_before(app, app.now())
    soon = app.calendar.add_workdays(today, f.days)
    p = PEOPLE.c
    in_flows = CASES.c.workflow.in_(list(specs))

    def tasks(*cond: ColumnElement[bool]) -> Any:
        return (select(func.count()).select_from(TASKS.join(CASES, CASES.c.id == TASKS.c.case_id))
                .where(TASKS.c.assignee_id == p.id, TASKS.c.status == TaskStatus.OPEN, in_flows,
                       *cond).scalar_subquery())

    query = (
        select(p.handle, p.name,
               select(func.count()).where(CASES.c.owner_id == p.id, CASES.c.closed_at.is_(None),
                                          in_flows).scalar_subquery().label("cases"),
               tasks().label("tasks"),
               tasks(TASKS.c.due_on < cutoff).label("overdue"),
               tasks(TASKS.c.due_on >= today, TASKS.c.due_on <= soon).label("due_soon"),
               select(func.count()).where(NOTICES.c.recipient == p.handle,
                                          NOTICES.c.status == NoticeStatus.SENT,
                                          NOTICES.c.sent_at >= lo, NOTICES.c.sent_at < hi)
               .scalar_subquery().label("notices"))
        .where(p.active.is_(True), *([p.id == owner_id] if owner_id is not None else []))
        .order_by(p.handle)
    )
    rows = [{"person": r.handle, "name": r.name, "cases": int(r.cases), "tasks": int(r.tasks),
             "overdue": int(r.overdue), "due_soon": int(r.due_soon), "notices": int(r.notices)}
            for r in s.execute(query)]
    return _doc(app, "workload", f, [{
        "name": "workload", "title": "Per person · 按人员",
        "columns": [col("person", "Person · 人员"), col("name", "Name · 姓名"),
                    col("cases", "Open cases · 在办事项", "int"),
                    col("tasks", "Open tasks · 待办", "int"),
                    col("overdue", "Overdue · 超期", "int"),
                    col("due_soon", f"Due in {f.days} workdays · {f.days}个工作日内到期", "int"),
                    col("notices", "Notices sent · 已发通知", "int")],
        "rows": rows,
    }])


_RUNNERS = {"outcomes": outcomes, "pipeline": pipeline, "stages": stages,
            "compliance": compliance, "workload": workload}




# --------------------------------------------------------------------------- exceptions


def exceptions(app: App, f: Filters) -> dict[str, list[dict[str, Any]]]:
    """What leadership should look at first: stuck cases (a stage deadline
    overdue: its budget spent, time on hold not counted), overdue contacts, and
    visits missed (the window ended with no visit logged, or recorded missed)."""
    cutoff = overdue_before(app, app.now())
    with _reading(app) as s:
        specs = _specs(app, f)
        owner_id = _owner_id(s, f.owner)
        fill_days(app, s, f)
        now = bindparam("now", app.now(), type_=UTCDateTime())
        base = (
            select(CASES.c.key, CASES.c.title, CASES.c.workflow, CASES.c.state, TASKS.c.due_on,
                   TASKS.c.kind, func.coalesce(PEOPLE.c.handle, literal("-")).label("person"),
                   (day_of(now) - day_of(CASES.c.state_entered_at)).label("in_state"))
            .select_from(TASKS.join(CASES, CASES.c.id == TASKS.c.case_id)
                         .outerjoin(PEOPLE, PEOPLE.c.id == TASKS.c.assignee_id))
            .where(_case_filter(specs, owner_id), CASES.c.closed_at.is_(None))
        )
        overdue = and_(TASKS.c.status == TaskStatus.OPEN, TASKS.c.due_on < cutoff)

        def rows(cond: ColumnElement[bool]) -> list[dict[str, Any]]:
            out = []
            for r in s.execute(base.where(cond).order_by(TASKS.c.due_on, CASES.c.key).limit(50)):
                out.append({"key": r.key, "title": r.title, "workflow": specs[r.workflow].title,
                            "state": _title(specs, r.workflow, r.state), "person": r.person,
                            "due_on": r.due_on.isoformat(), "in_state": int(r.in_state or 0)})
            return out

        return {
            "stuck": rows(and_(overdue, TASKS.c.kind == TaskKind.DEADLINE)),
            "contacts": rows(and_(overdue, TASKS.c.kind == TaskKind.CONTACT)),
            "visits": rows(and_(TASKS.c.kind == TaskKind.VISIT, or_(
                overdue, and_(TASKS.c.outcome_kind == Outcome.MISSED,
                              TASKS.c.due_on >= f.period.start,
                              TASKS.c.due_on <= f.period.end)))),
        }
