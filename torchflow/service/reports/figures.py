"""What each report computes, in SQL grouped in the database (SQLAlchemy Core,
the same statements on SQLite and PostgreSQL), over one snapshot (snapshot.py).
Each returns its tables (typed columns and rows); registry.py names the reports
and makes their documents. What each figure means is in docs/reports.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from torchflow.domain.status import NoticeKind, NoticeStatus, Outcome, TaskKind, TaskStatus
from torchflow.domain.workflow import PREVIOUS, WorkflowSpec
from torchflow.service.followups.views import overdue_before
from torchflow.service.reports.snapshot import Snapshot, at_rank, funnel_targets
from torchflow.store.models import CASES, EVENTS, NOTICES, PEOPLE, TASKS, UTCDateTime


def col(key: str, title: str, kind: str = "text") -> dict[str, str]:
    """A column: kind is text, int, float, date or rate (numerator/denominator)."""
    return {"key": key, "title": title, "type": kind}


# --------------------------------------------------------------------------- days and stays


def _title(specs: dict[str, WorkflowSpec], workflow: str, state: str | None) -> str:
    spec = specs.get(workflow)
    if spec is None or state is None or state not in spec.states:
        return state or ""
    return spec.states[state].title


def _rate(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else f"{n}/0"


# --------------------------------------------------------------------------- outcomes


def outcomes(snap: Snapshot) -> list[dict[str, Any]]:
    """Per period bucket: cases that entered each milestone, with the ``sum =
    true`` fields added up as they stood when the case entered it."""
    days = snap.days()
    entries = snap.entries()
    tables = []
    for name, spec in snap.specs.items():
        if not spec.milestones:
            continue
        sums = [fs for fs in spec.fields.values() if fs.sum]
        milestones = [m.state for m in spec.milestones]
        # Entered, or passed before an import (at its own date column's day).
        reached = union_all(
            select(entries.c.case_id, entries.c.seq, entries.c.state, entries.c.entered,
                   entries.c.d_in)
            .where(entries.c.workflow == name, entries.c.state.in_(milestones)),
            select(snap.passed(name, milestones))).subquery("reached")
        # A case entering a milestone twice in one bucket counts once, at its first entry.
        bucket = days.c[snap.f.by]
        entered = (
            select(reached.c.case_id, reached.c.state, bucket.label("bucket"),
                   func.min(reached.c.seq).label("seq"))
            .join(days, days.c.day == reached.c.d_in)
            .where(reached.c.entered >= snap.lo)
            .group_by(reached.c.case_id, reached.c.state, bucket)
            .subquery()
        )
        values = (
            select(entered.c.bucket, entered.c.state,
                   *[_value_at(snap, fs.name, entered.c.case_id, entered.c.seq).label(fs.name)
                     for fs in sums])
            .subquery()
        )
        query = (
            select(values.c.bucket, values.c.state, func.count().label("cases"),
                   *[func.coalesce(func.sum(values.c[fs.name]), 0).label(fs.name)
                     for fs in sums])
            .group_by(values.c.bucket, values.c.state)
        )
        order = {m.state: i for i, m in enumerate(spec.milestones)}
        titles = {m.state: m.title for m in spec.milestones}
        rows = [{"period": r.bucket, "milestone": titles[r.state],
                 "state": r.state, "cases": int(r.cases),
                 **{fs.name: float(r._mapping[fs.name]) for fs in sums}}
                for r in snap.s.execute(query)]
        rows.sort(key=lambda r: (r["period"], order[r["state"]]))
        rows += [{"period": UNDATED, "milestone": titles[r.state], "state": r.state,
                  "cases": int(r.cases), **{fs.name: float(r._mapping[fs.name]) for fs in sums}}
                 for r in sorted(_undated(snap, name, spec, sums), key=lambda r: order[r.state])]
        tables.append({
            "name": name, "title": spec.title, "workflow": name,
            "columns": [col("period", "Period · 期间"), col("milestone", "Milestone · 节点"),
                        col("cases", "Cases · 件数", "int"),
                        # The unit and the field's own title: the HTML page writes
                     # 74.51 亿元 for 745,100 万元.
                     *[{**col(fs.name, fs.title + (f" ({fs.unit})" if fs.unit else ""), "float"),
                        "unit": fs.unit, "sum_of": fs.title}
                       for fs in sums]],
            "rows": rows, "milestones": [m.title for m in spec.milestones],
        })
    return tables


# Matters imported in a milestone with no date in the sheet: reached, but in no period.
UNDATED = "imported, date unknown · 导入，日期不详"


def _undated(snap: Snapshot, name: str, spec: WorkflowSpec, sums: list[Any]) -> list[Any]:
    """Per milestone, the matters imported in it, or past it, with no date for it
    (docs/reports.md)."""
    milestones = [m.state for m in spec.milestones]
    imported = union_all(
        select(EVENTS.c.case_id, EVENTS.c.seq, EVENTS.c.to_state.label("state"))
        .join(CASES, CASES.c.id == EVENTS.c.case_id)
        .where(snap.where, CASES.c.workflow == name, EVENTS.c.kind == "imported",
               EVENTS.c.to_state.in_(milestones),
               EVENTS.c.data["date_unknown"].as_string().is_not(None)),
        select(snap.passed(name, milestones, dated=False)),
    ).subquery()
    values = (
        select(imported.c.state,
               *[_value_at(snap, fs.name, imported.c.case_id, imported.c.seq).label(fs.name)
                 for fs in sums])
        .subquery()
    )
    return list(snap.s.execute(
        select(values.c.state, func.count().label("cases"),
               *[func.coalesce(func.sum(values.c[fs.name]), 0).label(fs.name) for fs in sums])
        .group_by(values.c.state)))


def _value_at(snap: Snapshot, field: str, case_id: Any, seq: Any) -> Any:
    """A number field's value as it stood after event ``seq`` of a case: from the
    last event up to it whose ``data.fields`` names the field (opened, advanced,
    fields_set, imported write their values there); None if cleared or never set."""
    e = EVENTS.alias("fv")
    if snap.app.db.engine.dialect.name == "postgresql":
        named: ColumnElement[bool] = e.c.data.op("->")(literal("fields")).op(
            "?", is_comparison=True)(literal(field))
    else:
        named = func.json_type(e.c.data, f"$.fields.{field}").is_not(None)
    return (select(e.c.data[("fields", field)].as_float())
            .where(e.c.case_id == case_id, e.c.seq <= seq, named)
            .order_by(e.c.seq.desc()).limit(1).scalar_subquery())


# --------------------------------------------------------------------------- pipeline


def pipeline(snap: Snapshot) -> list[dict[str, Any]]:
    """Open cases per state now; entries into and exits from each state in the
    period; the funnel from each state to the milestone and terminal states."""
    s, specs, lo = snap.s, snap.specs, snap.lo
    st = snap.stays()
    counts: dict[tuple[str, str], dict[str, int]] = {}

    def add(key: str, w: str, state: str, n: int) -> None:
        counts.setdefault((w, state), {"open": 0, "entered": 0, "left": 0})[key] = int(n)

    for w, state, n in s.execute(select(CASES.c.workflow, CASES.c.state, func.count())
                                 .where(snap.where, CASES.c.closed_at.is_(None))
                                 .group_by(CASES.c.workflow, CASES.c.state)):
        add("open", w, state, n)
    for w, state, n in s.execute(select(st.c.workflow, st.c.from_state, func.count())
                                 .where(st.c.entered >= lo, st.c.from_state.is_not(None),
                                        st.c.from_state != st.c.state)
                                 .group_by(st.c.workflow, st.c.from_state)):
        add("left", w, state, n)
    # Entries in the period; the cases entering (reached); and of those the ones
    # that later entered each funnel target (a milestone or terminal state)
    # before the period's end: distinct cases, so a state entered twice counts once.
    # Per case, the last entry into each target (a stays row is entered before
    # the period's end): an entry into X at seq s reached Y if that is after s.
    reach = (
        select(st.c.case_id, *[func.max(case((st.c.state == t, st.c.seq))).label(f"last_{i}")
                               for i, t in enumerate(snap.targets)])
        .where(st.c.state.in_(snap.targets or [""])).group_by(st.c.case_id).subquery("reach")
    )
    reached: dict[tuple[str, str], int] = {}
    later: dict[tuple[str, str, str], int] = {}
    # Each case once per state: its first entry in the period (anything after a
    # later entry is after the first too) and how many entries it made.
    firsts = (
        select(st.c.case_id, st.c.workflow, st.c.state, func.min(st.c.seq).label("seq"),
               func.count().label("n"))
        .where(st.c.entered >= lo).group_by(st.c.case_id, st.c.workflow, st.c.state)
        .subquery("firsts")
    )
    fc = firsts.c
    rows = s.execute(
        select(fc.workflow, fc.state, func.sum(fc.n), func.count(),
               *[func.sum(case((reach.c[f"last_{i}"] > fc.seq, 1), else_=0))
                 for i in range(len(snap.targets))])
        .select_from(firsts.outerjoin(reach, reach.c.case_id == fc.case_id))
        .group_by(fc.workflow, fc.state))
    for w, x, n, d, *flags in rows:
        add("entered", w, x, n)
        reached[(w, x)] = int(d)
        for y, k in zip(snap.targets, flags, strict=True):
            if k and y != x and y in funnel_targets(specs[w]):
                later[(w, x, y)] = int(k)
    states_rows = []
    for name, spec in specs.items():
        for state in spec.states.values():
            c = counts.get((name, state.name))
            if c:
                states_rows.append({"workflow": spec.title, "state": state.title,
                                    "code": state.name, "open": c["open"],
                                    "entered": c["entered"], "left": c["left"]})
    funnel: list[dict[str, Any]] = []
    for (w, x, y), n in later.items():
        spec = specs[w]
        d = reached.get((w, x), 0)
        funnel.append({"workflow": spec.title, "from": _title(specs, w, x),
                       "to": _title(specs, w, y), "from_code": x, "to_code": y,
                       "converted": n, "reached": d, "rate": _rate(n, d)})
    order = {(w, state): i for w, spec in specs.items() for i, state in enumerate(spec.states)}
    funnel.sort(key=lambda r: (r["workflow"], order.get((_wf(specs, r), r["from_code"]), 0),
                               order.get((_wf(specs, r), r["to_code"]), 0)))
    return [
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
    ]


def _wf(specs: dict[str, WorkflowSpec], row: dict[str, Any]) -> str:
    return next((n for n, sp in specs.items() if sp.title == row["workflow"]), "")


# --------------------------------------------------------------------------- stages


def hold_states(spec: WorkflowSpec) -> set[str]:
    """States left by resuming (@previous): time there is hold, not stage time."""
    return {src for t in spec.transitions if t.dest == PREVIOUS for src in t.sources}


def stages(snap: Snapshot) -> list[dict[str, Any]]:
    """Working days per state: every stay (an entry to the next entry) that
    overlaps the period, an unfinished one counted to the period's end or now;
    summed per case and state, hold stays counted apart under the state held."""
    specs, f = snap.specs, snap.f
    stays, days = snap.stays(), snap.days()
    end = min(snap.app.now(), snap.hi - timedelta(seconds=1))  # the last day counts, not the next
    holds = [(w, sorted(hold_states(sp))) for w, sp in specs.items() if hold_states(sp)]
    is_hold: ColumnElement[bool] = or_(
        false(), *(and_(stays.c.workflow == w, stays.c.state.in_(h)) for w, h in holds))
    terminal = [(w, [st.name for st in sp.states.values() if st.terminal])
                for w, sp in specs.items()]
    is_terminal: ColumnElement[bool] = or_(
        false(), *(and_(stays.c.workflow == w, stays.c.state.in_(t)) for w, t in terminal if t))
    d_in, d_out = days.alias("d_in"), days.alias("d_out")
    end_wd = bindparam("end_wd", snap.wd(end), type_=Integer())
    per_stay = (
        select(stays.c.case_id, stays.c.workflow,
               case((is_hold, stays.c.from_state), else_=stays.c.state).label("state"),
               case((is_hold, 0), else_=1).label("staged"),
               case((stays.c.left_at.is_not(None), d_out.c.wd - d_in.c.wd),
                    # an event after "now" (a set clock) has not lasted yet
                    (stays.c.entered > bindparam("end", end, type_=UTCDateTime()), 0),
                    else_=end_wd - d_in.c.wd).label("days"))
        .select_from(stays.join(d_in, d_in.c.day == stays.c.d_in)
                     .outerjoin(d_out, d_out.c.day == stays.c.d_out))
        .where(~is_terminal)
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
    # A histogram per state (cases per number of working days) is all the
    # quantiles need: a few hundred rows, not a window sorted over every case.
    p = per_case.c
    hist = (
        select(p.workflow, p.state, p.days, func.count().label("n"),
               func.sum(case((p.hold > 0, 1), else_=0)).label("hold_cases"),
               func.sum(p.hold).label("hold_days"))
        .where(p.staged == 1).group_by(p.workflow, p.state, p.days)
    )
    by_state: dict[tuple[str, str], list[Any]] = {}
    for h in snap.s.execute(hist):
        by_state.setdefault((h.workflow, h.state), []).append(h)
    rows: list[dict[str, Any]] = []
    for (w, code), bins in by_state.items():
        spec = specs[w]
        st = spec.states.get(code)
        budget = st.deadline.within if st is not None and st.deadline else None
        counts = {int(h.days): int(h.n) for h in bins}
        n = sum(counts.values())
        median = at_rank(counts, (n + 1) // 2) or 0
        rows.append({
            "workflow": spec.title, "state": _title(specs, w, code),
            "workflow_code": w, "code": code,
            "cases": n, "median": median, "p90": at_rank(counts, (9 * n + 9) // 10),
            "max": max(int(h.days) for h in bins), "budget": budget,
            "over": "OVER · 超期" if budget is not None and median > budget else "",
            "hold_cases": sum(int(h.hold_cases) for h in bins),
            "hold_days": sum(int(h.hold_days) for h in bins),
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
        ranked = (
            select(per_case, func.row_number().over(
                partition_by=(p.workflow, p.state), order_by=(p.days.desc(), p.case_id))
                .label("slow"))
            .where(p.staged == 1).subquery("ranked")
        )
        r = ranked.c
        slow = snap.s.execute(
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
    return tables


# --------------------------------------------------------------------------- compliance


def compliance(snap: Snapshot) -> list[dict[str, Any]]:
    """Tasks due in the period, per assignee, workflow and kind, by how they ended."""
    app, s, f, specs = snap.app, snap.s, snap.f, snap.specs
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
        .where(snap.where, t.due_on >= f.period.start,
               t.due_on <= f.period.end)
        .group_by(who, CASES.c.workflow, t.kind)
        .having(func.sum(case((t.status != TaskStatus.CANCELLED, 1), else_=0)) > 0)
    )
    kinds = {TaskKind.CONTACT: "contact · 日常联系", TaskKind.VISIT: "visit · 走访",
             TaskKind.DEADLINE: "deadline · 时限", TaskKind.DUTY: "duty · 限期事项"}
    rows = [{"person": r.person, "workflow": specs[r.workflow].title, "workflow_code": r.workflow,
             "kind": kinds.get(r.kind, r.kind), "kind_code": r.kind,
             **{k: int(getattr(r, k)) for k in ("planned", "on_time", "late", "late_days",
                                                "late_max", "missed", "open", "overdue",
                                                "escalated")}}
            for r in s.execute(query)]
    rows.sort(key=lambda x: (x["person"], x["workflow_code"], x["kind_code"]))
    return [{
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
    }]


# --------------------------------------------------------------------------- workload


def workload(snap: Snapshot) -> list[dict[str, Any]]:
    """Per active person: open cases owned, open tasks, overdue, due soon, notices sent."""
    app, s, f, specs, owner_id = snap.app, snap.s, snap.f, snap.specs, snap.owner_id
    lo, hi = snap.lo, snap.hi
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
    return [{
        "name": "workload", "title": "Per person · 按人员",
        "columns": [col("person", "Person · 人员"), col("name", "Name · 姓名"),
                    col("cases", "Open cases · 在办事项", "int"),
                    col("tasks", "Open tasks · 待办", "int"),
                    col("overdue", "Overdue · 超期", "int"),
                    col("due_soon", f"Due in {f.days} workdays · {f.days}个工作日内到期", "int"),
                    col("notices", "Notices sent · 已发通知", "int")],
        "rows": rows,
    }]


# --------------------------------------------------------------------------- exceptions


EXCEPTION_ROWS = 500  # per list; the count is every one


def exceptions(snap: Snapshot) -> dict[str, dict[str, Any]]:
    """What leadership should look at first: stuck cases (a stage deadline
    overdue: its budget spent, time on hold not counted), overdue contacts, and
    visits missed (the window ended with no visit logged, or recorded missed).
    Each list: ``total``, and its ``rows``, the longest overdue first (at most
    EXCEPTION_ROWS), each naming the person by name."""
    app, s, f, specs = snap.app, snap.s, snap.f, snap.specs
    cutoff = overdue_before(app, app.now())
    days = snap.days()
    entered_wd = (select(days.c.wd).where(days.c.day == snap.local_day(CASES.c.state_entered_at))
                  .scalar_subquery())
    base = (
        select(CASES.c.key, CASES.c.title, CASES.c.workflow, CASES.c.state, TASKS.c.due_on,
               TASKS.c.kind,
               func.coalesce(PEOPLE.c.name, PEOPLE.c.handle, literal("-")).label("person"),
               (bindparam("now_wd", snap.wd(app.now()), type_=Integer()) - entered_wd)
               .label("in_state"))
        .select_from(TASKS.join(CASES, CASES.c.id == TASKS.c.case_id)
                     .outerjoin(PEOPLE, PEOPLE.c.id == TASKS.c.assignee_id))
        .where(snap.where, CASES.c.closed_at.is_(None))
    )
    overdue = and_(TASKS.c.status == TaskStatus.OPEN, TASKS.c.due_on < cutoff)

    def rows(cond: ColumnElement[bool]) -> dict[str, Any]:
        out = []
        query = base.where(cond)
        for r in s.execute(query.order_by(TASKS.c.due_on, CASES.c.key).limit(EXCEPTION_ROWS)):
            out.append({"key": r.key, "title": r.title, "workflow": specs[r.workflow].title,
                        "state": _title(specs, r.workflow, r.state), "person": r.person,
                        "due_on": r.due_on.isoformat(), "in_state": max(int(r.in_state or 0), 0)})
        total = len(out) if len(out) < EXCEPTION_ROWS else int(s.scalar(
            select(func.count()).select_from(query.subquery())) or 0)
        return {"total": total, "rows": out}

    return {
        "stuck": rows(and_(overdue, TASKS.c.kind == TaskKind.DEADLINE)),
        "contacts": rows(and_(overdue, TASKS.c.kind == TaskKind.CONTACT)),
        "visits": rows(and_(TASKS.c.kind == TaskKind.VISIT, or_(
            overdue, and_(TASKS.c.outcome_kind == Outcome.MISSED,
                          TASKS.c.due_on >= f.period.start,
                          TASKS.c.due_on <= f.period.end)))),
    }
