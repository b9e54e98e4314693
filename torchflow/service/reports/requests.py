"""`torchflow report requests`: how the enterprises' requests (诉求, the
`enterprise_request` workflow) were signed for, handled, answered and called
back in a period, per lead unit and category; every rate with its numerator and
denominator. What each figure means: docs/reports.md ("requests"), and the
report's own 统计口径 table.

One temporary table per run (``report_requests``): every state entry of the
selected requests, with the working-day ordinals of its entry and of the next
one, the deadline the engine planned on entering it, and, from window passes,
the last answer, the last handling entry, the first signing and the working
days on hold before it. Each figure is then one grouped query over it (or over
``cases``), grouped by unit and category, and added up here.

Deadlines are the engine's own: the due day of the ``<state>.deadline`` task
planned on entering a state, as the history records it (``data.planned``), so
an approved extension (the date granted), a resumed hold (the budget left) and
any per-category limit of the workflow count as the handler's task list said.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
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
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from torchflow.i18n import N_, Text, Translator, _
from torchflow.service.reports.snapshot import Snapshot, at_rank
from torchflow.store.models import CASES, EVENTS, UTCDateTime

WORKFLOW = "enterprise_request"  # service/enterprises/requests.py opens them
# The loop's states and triggers (workflows/enterprise_request.toml).
ASSIGNED, RETURNED, HANDLING, EXTENSION = "assigned", "returned", "handling", "extension_requested"
SUPERVISED, ANSWERED, CALLED_BACK, CLOSED = "supervised", "answered", "called_back", "closed"
ON_HOLD, WITHDRAWN = "on_hold", "withdrawn"
APPROVE, REFUSE, REHANDLE = "approve_extension", "refuse_extension", "rehandle"
SATISFIED, BASIC, DISSATISFIED = "satisfied", "basically_satisfied", "dissatisfied"
PLANNED_SLOTS = 4  # the deadline is looked for among the first planned tasks of an entry
# Open requests by age, in working days since accepted: (lowest, highest or None).
BANDS = ((0, 5), (6, 10), (11, 20), (21, 30), (31, None))
NONE_KEY = ""  # a request with no lead unit (not assigned yet)


def col(key: str, title: str, kind: str = "text") -> dict[str, str]:
    return {"key": key, "title": title, "type": kind}


# --------------------------------------------------------------------------- the table


def requests_table(snap: Snapshot) -> Table:
    """Every state entry of the selected requests whose history reaches the
    period (not closed before it, opened before its end), built once per run."""
    built = snap.shared.get("requests")
    if built is not None:
        return built
    days = snap.days()
    table = Table(
        "report_requests", MetaData(),
        Column("case_id", Integer, primary_key=True),
        Column("seq", Integer, primary_key=True),
        Column("state", String(64), nullable=False),
        Column("from_state", String(64)),
        Column("trigger", String(64)),
        Column("d_in", Date, nullable=False),
        Column("wd_in", Integer, nullable=False),
        Column("d_out", Date),
        Column("wd_out", Integer),
        Column("next_state", String(64)),
        Column("due", Date),
        Column("sign_seq", Integer),  # the first signing up to this entry
        Column("a_seq", Integer),  # the last answer before this entry
        Column("h_seq", Integer),  # the last entry into handling before it
        Column("hold_before", Integer, nullable=False),  # working days on hold before it
        prefixes=["TEMPORARY"],
    )
    entered = snap.entered_at()
    ev = (
        select(EVENTS.c.case_id, EVENTS.c.seq, EVENTS.c.to_state.label("state"),
               EVENTS.c.from_state, EVENTS.c.data["trigger"].as_string().label("trigger"),
               snap.local_day(entered).label("d_in"), _planned_due(snap).label("due"))
        .join(CASES, CASES.c.id == EVENTS.c.case_id)
        .where(snap.where, CASES.c.workflow == WORKFLOW, EVENTS.c.to_state.is_not(None),
               snap.dated(), CASES.c.opened_at < snap.hi,
               or_(CASES.c.closed_at.is_(None), CASES.c.closed_at >= snap.lo))
        .subquery("ev")
    )
    win: dict[str, Any] = {"partition_by": ev.c.case_id, "order_by": ev.c.seq}
    d_in, d_out = days.alias("d_in"), days.alias("d_out")
    paired = (
        select(ev.c.case_id, ev.c.seq, ev.c.state, ev.c.from_state, ev.c.trigger, ev.c.d_in,
               ev.c.due, func.lead(ev.c.d_in).over(**win).label("d_out"),
               func.lead(ev.c.state).over(**win).label("next_state"))
        .subquery("paired")
    )
    p = paired.c
    stays = (
        select(p.case_id, p.seq, p.state, p.from_state, p.trigger, p.d_in,
               d_in.c.wd.label("wd_in"), p.d_out, d_out.c.wd.label("wd_out"), p.next_state,
               p.due)
        .select_from(paired.join(d_in, d_in.c.day == p.d_in)
                     .outerjoin(d_out, d_out.c.day == p.d_out))
        .subquery("stays")
    )
    t = stays.c
    upto: dict[str, Any] = {"partition_by": t.case_id, "order_by": t.seq, "rows": (None, 0)}
    before: dict[str, Any] = {**upto, "rows": (None, -1)}
    signing = and_(t.state == HANDLING, t.from_state == ASSIGNED)
    rows = select(
        t.case_id, t.seq, t.state, t.from_state, t.trigger, t.d_in, t.wd_in, t.d_out, t.wd_out,
        t.next_state, t.due,
        func.min(case((signing, t.seq))).over(**upto).label("sign_seq"),
        func.max(case((t.state == ANSWERED, t.seq))).over(**before).label("a_seq"),
        func.max(case((t.state == HANDLING, t.seq))).over(**before).label("h_seq"),
        func.coalesce(func.sum(case((t.state == ON_HOLD, t.wd_out - t.wd_in))).over(**before),
                      0).label("hold_before"),
    )
    table.create(snap.s)
    snap.on_close(lambda: table.drop(snap.s))
    snap.s.execute(insert(table).from_select([c.name for c in table.c], rows))
    snap.shared["requests"] = table
    return table


def _planned_due(snap: Snapshot) -> ColumnElement[Any]:
    """The due day of the deadline the engine planned on entering the state (its
    rule is ``<state>.deadline``), from the event's ``data.planned``."""
    rule = EVENTS.c.to_state + literal(".deadline")
    whens = []
    for i in range(PLANNED_SLOTS):
        due = EVENTS.c.data[("planned", i, "due_on")].as_string()
        whens.append((EVENTS.c.data[("planned", i, "rule")].as_string() == rule,
                      cast(due, Date) if _pg(snap) else type_coerce(due, Date)))
    return case(*whens)


def _pg(snap: Snapshot) -> bool:
    return snap.app.db.engine.dialect.name == "postgresql"


# --------------------------------------------------------------------------- the figures


class Group:
    """The counts of one lead unit, one category, or all requests."""

    def __init__(self) -> None:
        self.n: dict[str, int] = {}
        self.sign_days: dict[int, int] = {}  # working days to sign for -> signings
        self.handle_days: dict[int, int] = {}  # working days to the first answer -> requests

    def add(self, key: str, value: Any) -> None:
        self.n[key] = self.n.get(key, 0) + int(value or 0)

    def __getitem__(self, key: str) -> int:
        return self.n.get(key, 0)


class Tally:
    """Every figure added up per unit, per category and in all."""

    def __init__(self) -> None:
        self.total = Group()
        self.units: dict[str, Group] = {}
        self.categories: dict[str, Group] = {}

    def groups(self, unit: str | None, category: str | None) -> Iterable[Group]:
        yield self.total
        yield self.units.setdefault(unit or NONE_KEY, Group())
        yield self.categories.setdefault(category or NONE_KEY, Group())

    def add(self, unit: str | None, category: str | None, **counts: Any) -> None:
        for g in self.groups(unit, category):
            for key, value in counts.items():
                g.add(key, value)

    def days(self, unit: str | None, category: str | None, which: str, days: int,
             n: int) -> None:
        for g in self.groups(unit, category):
            hist = g.sign_days if which == "sign" else g.handle_days
            hist[days] = hist.get(days, 0) + n


def requests(snap: Snapshot) -> list[dict[str, Any]]:
    """The request report's tables: the headline rates, per lead unit, per
    category, open requests by age, returns, extensions and supervision, and
    how each figure is counted."""
    tr = snap.app.tr
    tally = Tally()
    if WORKFLOW in snap.specs:
        _count(snap, tally)
        ages = _ages(snap)
    else:
        ages = {}
    categories = _category_titles(snap)  # in the workflow's order
    return [
        _headline(tr, tally.total),
        _breakdown(tr, "units", N_("By lead unit"), N_("Lead unit"), tally.units,
                   lambda k: k or tr(_("(not assigned yet)"))),
        _breakdown(tr, "categories", N_("By category"), N_("Category"), tally.categories,
                   lambda k: categories.get(k, k) or tr(_("(none)")), order=list(categories)),
        _age_table(tr, ages),
        _side_paths(tr, tally.total),
        _method(tr),
    ]


def _unit_category() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    return (CASES.c.fields["lead_unit"].as_string().label("unit"),
            CASES.c.fields["category"].as_string().label("category"))


def _count(snap: Snapshot, tally: Tally) -> None:
    s, t = snap.s, requests_table(snap)
    start, end = snap.f.period.start, snap.f.period.end
    # Whether a deadline has passed: its day is before the report's last day (the
    # period's, or today's if earlier); on that day itself it may still be met.
    last = min(end, snap.app.calendar.local_date(snap.app.now()))
    in_period = and_(t.c.d_in >= bindparam("p_start", start, type_=Date()),
                     t.c.d_in <= bindparam("p_end", end, type_=Date()))
    unit, category = _unit_category()
    joined = t.join(CASES, CASES.c.id == t.c.case_id)

    def flag(cond: ColumnElement[bool]) -> Any:
        return func.sum(case((cond, 1), else_=0))

    # Sign-for: each assignment made in the period. Judged once signed for, or
    # once its sign-for deadline's day has passed with it still unsigned.
    # A return or a withdrawal on or before the deadline's day is not judged
    # (returns are counted apart); still waiting after it, it is late.
    signed = t.c.next_state == HANDLING
    waited = func.coalesce(t.c.d_out, bindparam("last", last, type_=Date()))
    past = and_(t.c.due.is_not(None), t.c.due < waited)
    sign_days = case((signed, t.c.wd_out - t.c.wd_in))
    # Signed on or before the deadline's day (d_out: the day it was signed).
    on_time = and_(signed, or_(t.c.due.is_(None), t.c.d_out <= t.c.due))
    for r in s.execute(
            select(unit, category, sign_days.label("days"), func.count().label("assigned"),
                   flag(signed).label("signed"), flag(or_(signed, past)).label("judged"),
                   flag(on_time).label("on_time"), flag(t.c.next_state == RETURNED)
                   .label("returned"))
            .select_from(joined).where(t.c.state == ASSIGNED, in_period)
            .group_by(unit, category, sign_days)):
        tally.add(r.unit, r.category, assigned=r.assigned, signed=r.signed,
                  sign_judged=r.judged, sign_on_time=r.on_time, returned=r.returned)
        if r.days is not None:
            tally.days(r.unit, r.category, "sign", int(r.days), int(r.signed))

    # Handling: from the first signing to the first answer, on hold not counted,
    # for the requests first answered in the period.
    sign = t.alias("sign")
    handle_days = (t.c.wd_in - sign.c.wd_in) - (t.c.hold_before - sign.c.hold_before)
    for r in s.execute(
            select(unit, category, handle_days.label("days"), func.count().label("n"))
            .select_from(joined.join(sign, and_(sign.c.case_id == t.c.case_id,
                                                sign.c.seq == t.c.sign_seq)))
            .where(t.c.state == ANSWERED, t.c.a_seq.is_(None), in_period)
            .group_by(unit, category, handle_days)):
        tally.add(r.unit, r.category, answered_first=r.n)
        tally.days(r.unit, r.category, "handle", int(r.days), int(r.n))

    # On-time closure: the requests closed in the period whose closing answer
    # (the last before 办结) came by the deadline in force then: that of the last
    # entry into handling before it (signing, re-handling, an extension approved,
    # a hold resumed).
    answer, handling = t.alias("answer"), t.alias("handling")
    in_time = and_(handling.c.due.is_not(None), answer.c.d_in <= handling.c.due)
    for r in s.execute(
            select(unit, category, func.count().label("closed"),
                   flag(in_time).label("on_time"))
            .select_from(joined.join(answer, and_(answer.c.case_id == t.c.case_id,
                                                  answer.c.seq == t.c.a_seq))
                         .outerjoin(handling, and_(handling.c.case_id == t.c.case_id,
                                                   handling.c.seq == answer.c.h_seq)))
            .where(t.c.state == CLOSED, in_period)
            .group_by(unit, category)):
        tally.add(r.unit, r.category, closed=r.closed, closed_on_time=r.on_time)

    # Call-backs in the period and what the enterprise said: re-handled means 不满意;
    # closed (or still waiting) is the request's satisfaction as it stands.
    said = case((t.c.next_state == HANDLING, literal(DISSATISFIED)),
                else_=CASES.c.fields["satisfaction"].as_string())
    for r in s.execute(
            select(unit, category, said.label("said"), func.count().label("n"))
            .select_from(joined).where(t.c.state == CALLED_BACK, in_period)
            .group_by(unit, category, said)):
        tally.add(r.unit, r.category, called_back=r.n,
                  **{f"said_{r.said}": r.n} if r.said in (SATISFIED, BASIC, DISSATISFIED)
                  else {})

    # The side paths taken in the period.
    ext = and_(t.c.from_state == EXTENSION, t.c.state != WITHDRAWN)
    for r in s.execute(
            select(unit, category,
                   flag(t.c.state == EXTENSION).label("asked"),
                   flag(and_(ext, t.c.trigger == APPROVE)).label("approved"),
                   flag(and_(ext, t.c.trigger == REFUSE)).label("refused"),
                   flag(t.c.state == SUPERVISED).label("supervised"),
                   flag(and_(t.c.state == HANDLING, t.c.from_state == CALLED_BACK))
                   .label("rehandled"),
                   flag(and_(t.c.state == HANDLING, t.c.from_state == ASSIGNED))
                   .label("signings"))
            .select_from(joined).where(in_period).group_by(unit, category)):
        tally.add(r.unit, r.category, ext_asked=r.asked, ext_approved=r.approved,
                  ext_refused=r.refused, supervised=r.supervised, rehandled=r.rehandled,
                  signings=r.signings)

    # Resolution: of the requests accepted in the period and not withdrawn by its
    # end, those closed (办结 needs 满意 or 基本满意) by its end.
    by_end = CASES.c.closed_at < snap.hi
    for r in s.execute(
            select(unit, category, func.count().label("accepted"),
                   flag(and_(CASES.c.state == CLOSED, by_end)).label("closed"),
                   flag(and_(CASES.c.state == WITHDRAWN, by_end)).label("withdrawn"))
            .where(snap.where, CASES.c.workflow == WORKFLOW, CASES.c.opened_at >= snap.lo,
                   CASES.c.opened_at < snap.hi)
            .group_by(unit, category)):
        tally.add(r.unit, r.category, accepted=r.accepted, resolved=r.closed,
                  withdrawn=r.withdrawn)


def _ages(snap: Snapshot) -> dict[int, int]:
    """Requests open at the report's end (the period's, or now if earlier), per
    working days since accepted."""
    days = snap.days()
    end = min(snap.app.now(), snap.hi)
    end_wd = snap.wd(end - timedelta(microseconds=1) if end == snap.hi else end)
    opened = days.alias("opened")
    age = bindparam("end_wd", end_wd, type_=Integer()) - opened.c.wd
    at = bindparam("end_at", end, type_=UTCDateTime())
    rows = snap.s.execute(
        select(age.label("age"), func.count().label("n"))
        .select_from(CASES.join(opened, opened.c.day == snap.local_day(CASES.c.opened_at)))
        .where(snap.where, CASES.c.workflow == WORKFLOW, CASES.c.opened_at < at,
               or_(CASES.c.closed_at.is_(None), CASES.c.closed_at >= at))
        .group_by(age))
    return {int(r.age): int(r.n) for r in rows}


# --------------------------------------------------------------------------- the tables


def percent(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "—"


def rate(tr: Translator, n: int, d: int) -> str:
    """A rate with what it is made of: 12/13 (92.3%)."""
    return tr(_("{n}/{d} ({percent})", n=n, d=d, percent=percent(n, d)))


def median(hist: dict[int, int]) -> int | None:
    """The nearest-rank median (the value at rank ⌈n/2⌉) of a histogram."""
    return at_rank(hist, (sum(hist.values()) + 1) // 2)


# (key, message id, numerator, denominator) of the headline rates.
def _rates(g: Group) -> list[tuple[str, str, int, int]]:
    return [
        ("sign_on_time", N_("On-time sign-for rate"), g["sign_on_time"], g["sign_judged"]),
        ("closed_on_time", N_("On-time closure rate"), g["closed_on_time"], g["closed"]),
        ("resolution", N_("Resolution rate"), g["resolved"], g["accepted"] - g["withdrawn"]),
        ("satisfaction", N_("Satisfaction rate"), g[f"said_{SATISFIED}"] + g[f"said_{BASIC}"],
         g["called_back"]),
        ("fully_satisfied", N_("of which satisfied"), g[f"said_{SATISFIED}"], g["called_back"]),
    ]


def _headline(tr: Translator, g: Group) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        {"code": code, "indicator": tr(Text(msgid)), "en": msgid, "numerator": n,
         "denominator": d, "rate": percent(n, d)}
        for code, msgid, n, d in _rates(g)]
    for code, msgid, hist in (("sign_median", N_("Median working days to sign for"),
                               g.sign_days),
                              ("handle_median", N_("Median working days to answer"),
                               g.handle_days)):
        m = median(hist)
        rows.append({"code": code, "indicator": tr(Text(msgid)), "en": msgid,
                     "numerator": m, "denominator": sum(hist.values()),
                     "rate": "" if m is None else tr(_("{n} working days", n=m))})
    return {"name": "headline", "title": tr(_("Main figures")),
            "columns": [col("indicator", tr(_("Indicator"))),
                        col("numerator", tr(_("Numerator (median)")), "int"),
                        col("denominator", tr(_("Denominator (requests)")), "int"),
                        col("rate", tr(_("Rate")))],
            "rows": rows}


def _breakdown(tr: Translator, name: str, title: str, heading: str, groups: dict[str, Group],
               shown: Any, order: list[str] | None = None) -> dict[str, Any]:
    """One row per unit or category (by name, or in ``order``), none last."""
    rank = {k: i for i, k in enumerate(order or [])}
    rows = []
    for key in sorted(groups, key=lambda k: (k == NONE_KEY, rank.get(k, len(rank)), k)):
        g = groups[key]
        rates = {code: rate(tr, n, d) for code, _m, n, d in _rates(g)}
        rows.append({
            "key": key, "group": shown(key), "assigned": g["assigned"],
            "sign_on_time": rates["sign_on_time"], "sign_median": median(g.sign_days),
            "signed": sum(g.sign_days.values()), "handle_median": median(g.handle_days),
            "answered": sum(g.handle_days.values()),
            "closed_on_time": rates["closed_on_time"], "resolution": rates["resolution"],
            "satisfaction": rates["satisfaction"], "extensions": g["ext_approved"],
            "rehandled": g["rehandled"],
        })
    return {"name": name, "title": tr(Text(title)),
            "columns": [col("group", tr(Text(heading))),
                        col("assigned", tr(_("Assignments")), "int"),
                        col("sign_on_time", tr(_("Signed for on time")), "rate"),
                        col("sign_median", tr(_("Median days to sign for")), "int"),
                        col("signed", tr(_("Signed for")), "int"),
                        col("handle_median", tr(_("Median days to answer")), "int"),
                        col("answered", tr(_("First answers")), "int"),
                        col("closed_on_time", tr(_("Closed on time")), "rate"),
                        col("resolution", tr(_("Resolved")), "rate"),
                        col("satisfaction", tr(_("Satisfied or basically satisfied")), "rate"),
                        col("extensions", tr(_("Extensions approved")), "int"),
                        col("rehandled", tr(_("Handled again")), "int")],
            "rows": rows}


def band_of(age: int) -> int:
    return next(i for i, (lo, hi) in enumerate(BANDS) if age >= lo and (hi is None or age <= hi))


def _age_table(tr: Translator, ages: dict[int, int]) -> dict[str, Any]:
    counts = [0] * len(BANDS)
    for age, n in ages.items():
        counts[band_of(max(age, 0))] += n
    total = sum(counts)
    rows = []
    for (lo, hi), n in zip(BANDS, counts, strict=True):
        band = (tr(_("{lo}-{hi} working days", lo=lo, hi=hi)) if hi is not None
                else tr(_("over {n} working days", n=lo - 1)))
        rows.append({"band": band, "open": n, "total": total, "share": rate(tr, n, total)})
    return {"name": "ages", "title": tr(_("Open requests by age (working days since accepted)")),
            "columns": [col("band", tr(_("Age"))), col("open", tr(_("Open requests")), "int"),
                        col("total", tr(_("All open requests")), "int"),
                        col("share", tr(_("Share")), "rate")],
            "rows": rows}


def _side_paths(tr: Translator, g: Group) -> dict[str, Any]:
    items = [
        ("returned", N_("Returned by the lead unit"), g["returned"], g["assigned"]),
        ("ext_asked", N_("Extensions asked"), g["ext_asked"], g["signings"] + g["rehandled"]),
        ("ext_approved", N_("Extensions approved"), g["ext_approved"], g["ext_asked"]),
        ("ext_refused", N_("Extensions refused"), g["ext_refused"], g["ext_asked"]),
        ("supervised", N_("Put under supervision"), g["supervised"], g["assigned"]),
        ("rehandled", N_("Handled again after 不满意"), g["rehandled"], g["called_back"]),
    ]
    bases = {"returned": N_("assignments"), "ext_asked": N_("handling rounds started"),
             "ext_approved": N_("extensions asked"), "ext_refused": N_("extensions asked"),
             "supervised": N_("assignments"), "rehandled": N_("call-backs")}
    return {"name": "side_paths", "title": tr(_("Returns, extensions and supervision")),
            "columns": [col("item", tr(_("Item"))), col("count", tr(_("Times")), "int"),
                        col("base", tr(_("Of"))), col("of", tr(_("Base")), "int"),
                        col("rate", tr(_("Rate")))],
            "rows": [{"code": code, "item": tr(Text(msgid)), "count": n,
                      "base": tr(Text(bases[code])), "of": d, "rate": percent(n, d)}
                     for code, msgid, n, d in items]}


METHOD = (
    (N_("On-time sign-for rate"),
     N_("Of the assignments (交办) made in the period that were signed for, or were still "
        "waiting to be signed for after the deadline's day: those signed for on or before "
        "that day. An assignment returned (退回) or withdrawn by then is not judged; returns "
        "are counted apart. The deadline is the one planned at the assignment (1 working day "
        "in the shipped workflow).")),
    (N_("On-time closure rate"),
     N_("Of the requests closed (办结) in the period: those whose closing answer (the last "
        "答复 before 办结) was given on or before the handling deadline in force at the "
        "time: the deadline planned at the last entry into 办理中 before that answer (7 "
        "working days from signing or re-handling; the date granted when an extension was "
        "approved; moved by time on hold). A request never signed for (supervised from "
        "已交办) is not on time.")),
    (N_("Resolution rate"),
     N_("Of the requests accepted in the period and not withdrawn by the enterprise by its "
        "end: those closed (办结) by its end. A request is closed only after a call-back "
        "that found the enterprise 满意 or 基本满意, so a closed request is a resolved one.")),
    (N_("Satisfaction rate"),
     N_("Of the call-backs (回访) made in the period: those where the enterprise was 满意 or "
        "基本满意 (a call-back followed by 重办 counts as 不满意). 'Of which satisfied' "
        "counts 满意 alone.")),
    (N_("Median working days to sign for"),
     N_("From the assignment to the signing, over the assignments of the period that were "
        "signed for; the denominator is how many.")),
    (N_("Median working days to answer"),
     N_("From the first signing to the first answer, time on hold (暂缓) not counted, over "
        "the requests first answered in the period; the denominator is how many.")),
    (N_("Working days"),
     N_("Counted on the official calendar: the day something started is not counted, the "
        "day it ended is. Medians are nearest-rank (the value at rank ⌈n/2⌉).")),
    (N_("Units and categories"),
     N_("A request counts under its lead unit and category as they stand now.")),
    (N_("Open requests by age"),
     N_("Requests accepted and neither closed nor withdrawn at the end of the period (or "
        "now, if earlier), by working days since they were accepted.")),
)


def _method(tr: Translator) -> dict[str, Any]:
    return {"name": "method", "title": tr(_("How the figures are counted")),
            "columns": [col("indicator", tr(_("Indicator"))), col("how", tr(_("How counted")))],
            "rows": [{"indicator": tr(Text(a)), "how": tr(Text(b))} for a, b in METHOD]}


def _category_titles(snap: Snapshot) -> dict[str, str]:
    spec = snap.specs.get(WORKFLOW)
    field = spec.fields.get("category") if spec is not None else None
    if field is None:
        return {}
    tr = snap.app.tr
    return {c.name: tr(c.label) for c in field.options}

