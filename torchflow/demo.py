"""`torchflow demo`: a fresh SQLite file, sample people and cases, a walk through
every shipped workflow, then a month of simulated days run through the
scheduler's tick on a manual clock. It never touches the user's own database:
its settings come from its own config.toml alone (no TORCHFLOW_* variable), and
a demo that fails removes what it wrote."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter, deque
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from torchflow.channels.file import FileSettings
from torchflow.clock import ManualClock, utcnow
from torchflow.config import bundled_workflows_dir, load_settings
from torchflow.domain.workflow import PREVIOUS, WorkflowSpec
from torchflow.errors import ConfigError, InvalidInput, TorchflowError
from torchflow.i18n import _
from torchflow.scheduler import tick
from torchflow.service.app import App, build_app
from torchflow.service.cases.change import advance, open_case
from torchflow.service.cases.read import show_case
from torchflow.service.delivery.dispatch import Channels, worker_id
from torchflow.service.enterprises.records import add_enterprise
from torchflow.service.followups import work as tasks
from torchflow.service.people import staff as people
from torchflow.service.people.lookup import resolve_actor
from torchflow.store.migrate import upgrade

PEOPLE = [
    ("wang.li", "Wang Li · 王立", ["coordinator"]),
    ("zhao.min", "Zhao Min · 赵敏", ["coordinator"]),
    ("chen.jie", "Chen Jie · 陈杰", ["director"]),
    ("liu.yang", "Liu Yang · 刘洋", ["torch_liaison"]),
    ("sun.hao", "Sun Hao · 孙浩", ["expert"]),
]

# Realistic values for the fields the main path of each workflow asks for.
SAMPLES: dict[str, tuple[str, dict[str, str]]] = {
    "project_introduction": ("Hydrogen fuel-cell stack plant · 氢燃料电池电堆项目", {
        "enterprise": "Qingneng Power Co. · 清能动力", "industry": "new energy",
        "lead_source": "torch center", "planned_investment": "120000",
        "expected_jobs": "450", "contact_person": "Ms. Li, CFO, 138-0000-1234",
        "target_park": "High-tech Zone East Park · 东区产业园", "credit_code": "91310000MA1FL1XY2K",
    }),
    "enterprise_cultivation": ("Cultivation of Ruixin Semiconductor · 睿芯半导体培育", {
        "enterprise": "Ruixin Semiconductor · 睿芯半导体", "credit_code": "91320500MA1X8K7Q3N",
        "mentor": "zhao.min", "revenue": "8600", "rd_ratio": "7.5", "ip_count": "14",
        "application_no": "GQ-2026-0318", "certificate_no": "GR202632001234",
    }),
    "talent_docking": ("Power electronics engineers for Qingneng · 电力电子人才对接", {}),
    "international_cooperation": ("Sino-German incubator exchange · 中德孵化器交流", {
        "budget": "300",
    }),
    "platform_building": ("Pilot-scale base for new materials · 新材料中试基地", {
        "approval_no": "KJ-2026-017", "approved_funding": "5000", "lead_reviewer": "sun.hao",
        "evaluation_grade": "excellent",
    }),
    "strategic_research": ("Future industries along Taihu Bay · 太湖湾未来产业培育路径研究", {
        "topic": "Future industries along Taihu Bay · 太湖湾科创带未来产业培育路径研究",
        "research_area": "future industries",
        "lead_unit": "Torch Center research office · 火炬中心研究室", "budget": "80",
        "application": "In the city's 15th five-year S&T plan · 纳入市十五五科技创新规划",
    }),
    "industrialization_zone": ("New industrialization demonstration zone · 新型工业化示范区创建", {
        "zone": "High-tech Zone demonstration zone · 高新区新型工业化示范区",
        "lead_department": "Zone economic development bureau · 高新区经发局",
        "leading_industries": "Integrated circuits, IoT · 集成电路、物联网",
        "industrial_output_target": "3000", "approval_no": "GKHZ-2026-015",
        "evaluation_result": "good",
    }),
    "double_high": ("Double-high linkage: Ruixin Semiconductor · 双高联动：睿芯半导体", {
        "enterprise": "Ruixin Semiconductor · 睿芯半导体", "park": "IC Park · 集成电路产业园",
        "enterprise_status": "high-tech enterprise", "service_officer": "zhao.min",
        "needs": "R&D space, re-certification coaching · 研发用房、高企复审辅导",
        "service_plan": "2,000 m2 of R&D space; coaching · 协调研发用房两千平方米，安排复审辅导",
        "review_result": "good",
    }),
}

# The enterprise on record the demo's request names (一企一档).
ENTERPRISE = ("Qingneng Power Co. · 清能动力", "91440300708461136T")
SAMPLES["enterprise_request"] = ("Land for the second plant · 二期扩产用地", {
    "enterprise": ENTERPRISE[1], "category": "land", "lead_unit": "Natural Resources Bureau · "
    "自然资源和规划局", "handler": "zhao.min", "answer": "In the second 2026 land plan · "
    "已纳入2026年第二批供地计划"})

GOOD_ENDS = ("closed", "graduated", "completed", "named")


def main_path(spec: WorkflowSpec) -> list[str]:
    """Triggers of the shortest walk from the initial state to a good end (closed,
    graduated), not an exit such as lost or withdrawn."""
    ends = [s for s in GOOD_ENDS if s in spec.states] or [
        s.name for s in spec.states.values() if s.terminal]
    queue: deque[tuple[str, list[str]]] = deque([(spec.initial, [])])
    seen = {spec.initial}
    while queue:
        state, path = queue.popleft()
        if state in ends:
            return path
        for t in spec.transitions_from(state):
            if t.dest != PREVIOUS and t.dest not in seen:
                seen.add(t.dest)
                queue.append((t.dest, [*path, t.trigger]))
    return []


def sample_value(spec: WorkflowSpec, name: str, today: date) -> str:
    given = SAMPLES.get(spec.name, ("", {}))[1].get(name)
    if given is not None:
        return given
    field = spec.fields[name]
    return {
        "number": "100", "date": today.isoformat(), "person": "wang.li",
        "choice": field.choices[0] if field.choices else "",
    }.get(field.type, f"Sample {field.title.split(' · ')[0].lower()}")


def run_demo(directory: Path | None, *, days: int = 30,
             echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = echo or (lambda _text: None)
    start = utcnow()  # a bad TORCHFLOW_NOW is refused before the folder is written
    folder, created = _fresh_folder(directory)
    try:
        return _in_folder(folder, start, days, say)
    except BaseException:
        _remove(folder, created)
        raise


def _in_folder(folder: Path, start: datetime, days: int,
               say: Callable[[str], None]) -> dict[str, Any]:
    config = folder / "config.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///demo.db"\n\n'
        f"[workflows]\ndirectory = {json.dumps(str(bundled_workflows_dir()))}\n\n"
        '[notify.file]\npath = "outbox.jsonl"\n',
        encoding="utf-8",
    )
    # env={}: TORCHFLOW_DATABASE_URL and friends are the user's, not the demo's.
    app = build_app(load_settings(config, env={}), clock=ManualClock(start), create=True)
    try:
        return _run(app, folder, days, say)
    finally:
        app.close()


def _fresh_folder(directory: Path | None) -> tuple[Path, bool]:
    """The demo's folder, and whether the demo made it (so may remove it)."""
    try:
        if directory is None:
            return Path(tempfile.mkdtemp(prefix="torchflow-demo-")), True
        if directory.exists() and any(directory.iterdir()):
            raise InvalidInput(_("{directory} is not empty; give a new or empty folder to --dir",
                                 directory=directory))
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        return directory, created
    except OSError as exc:
        raise ConfigError(_("cannot make the demo folder {directory}: {reason}",
                            directory=directory, reason=exc.strerror)) from None


def _remove(folder: Path, created: bool) -> None:
    """Undo a failed demo: the folder it made, or what it wrote into an empty one."""
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _admin_for_you(app: App) -> None:
    """The login running the demo administers its database, as after `init`, so
    the folder can be explored with every command."""
    from torchflow.cli.context import os_login
    from torchflow.domain.identity import handle_from_login

    login = os_login()
    people.first_admin(app, handle_from_login(login), login, named=True)


def _run(app: App, folder: Path, days: int, say: Callable[[str], None]) -> dict[str, Any]:
    cal = app.calendar
    start = cal.next_workday(cal.local_date(app.now()))
    _set_now(app, start, time(9, 0))
    upgrade(app.db)
    for handle, name, roles in PEOPLE:
        people.add_person(app, handle, name=name, roles=roles,
                          email=f"{handle}@zone.example.gov.cn")
    actors = {h: resolve_actor(app, h) for h, _, _ in PEOPLE}
    add_enterprise(app, actors["wang.li"], ENTERPRISE[0], credit_code=ENTERPRISE[1],
                   coordinator="wang.li", tags=["高新技术企业"])
    _admin_for_you(app)
    say(f"torchflow demo in {folder} (simulating {days} days from {start})\n")
    walks = _open_cases(app, actors, start, say)
    channels = Channels(app.settings)
    owner = worker_id()
    sent: Counter[str] = Counter()
    try:
        for offset in range(days):
            day = start + timedelta(days=offset)
            if not cal.is_workday(day):
                continue
            # Morning tick (digests, due notices), the coordinators' day, evening tick.
            for at in (time(9, 5), None, time(18, 30)):
                if at is None:
                    _set_now(app, day, time(10, 0))
                    _work_day(app, actors, walks, offset, say)
                    continue
                _set_now(app, day, at)
                sent["sent"] += tick(app, channels, owner).dispatch.sent
    finally:
        channels.close()
    return _summary(app, folder, walks, sent, say)


def _set_now(app: App, day: date, at: time) -> None:
    assert isinstance(app.clock, ManualClock)
    app.clock.set(app.calendar.at(day, at))


def _open_cases(app: App, actors: dict[str, Any], today: date,
                say: Callable[[str], None]) -> list[dict[str, Any]]:
    walks: list[dict[str, Any]] = []
    for name, spec in sorted(app.registry.files().items()):
        title = SAMPLES.get(name, (spec.title, {}))[0] or spec.title
        required = [f.name for f in spec.fields.values() if f.required]
        fields = {f: sample_value(spec, f, today) for f in required}
        owner = "wang.li" if len(walks) % 2 == 0 else "zhao.min"
        opened = open_case(app, actors[owner], name, title=title, owner=owner,
                                 fields=fields)
        say(f"opened {opened['key']}  {title}")
        walks.append({"key": opened["key"], "spec": spec, "path": main_path(spec), "step": 0,
                      "owner": owner})
    say("")
    return walks


def _work_day(app: App, actors: dict[str, Any], walks: list[dict[str, Any]], offset: int,
              say: Callable[[str], None]) -> None:
    """A coordinator's day: most due contacts are made (some slip), and every
    few days a case moves one stage on."""
    today = app.calendar.local_date(app.now())
    due = tasks.list_tasks(app, due_within=timedelta(0))
    for walk in walks:
        for task in due:
            if task["case"] == walk["key"] and task["kind"] in ("contact", "visit") \
                    and (offset + task["id"]) % 4 != 0:
                tasks.log_followup(app, actors[walk["owner"]], walk["key"], task["kind"],
                                   note="Routine follow-up by phone · 电话例行联络")
        if offset % 4 == 1 and walk["step"] < len(walk["path"]):
            _step(app, actors, walk, today, say)


def _step(app: App, actors: dict[str, Any], walk: dict[str, Any], today: date,
          say: Callable[[str], None]) -> None:
    spec: WorkflowSpec = walk["spec"]
    case = show_case(app, walk["key"])
    trigger = walk["path"][walk["step"]]
    transition = spec.transition(case["state"], trigger)
    if transition is None:
        return
    missing = {name: sample_value(spec, name, today) for name in transition.requires
               if case["fields"].get(name) in (None, "")}
    # The case's owner moves it on; a step that names roles is one holder's.
    actor = actors[walk["owner"]] if not transition.roles else next(
        (a for a in actors.values() if set(a.roles) & set(transition.roles)), actors["chen.jie"])
    try:
        moved = advance(app, actor, walk["key"], trigger, fields=missing,
                              note="Demo walk-through")
    except TorchflowError as exc:
        say(f"{walk['key']}: {exc}")
        return
    walk["step"] += 1
    say(f"{today}  {moved.key}: {trigger} ({moved.from_state} -> {moved.to_state}) by "
        f"{actor.handle}")


def _summary(app: App, folder: Path, walks: list[dict[str, Any]], sent: Counter[str],
             say: Callable[[str], None]) -> dict[str, Any]:
    outbox = app.settings.notify.of("file", FileSettings).path
    lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
    kinds = Counter(json.loads(line)["kind"] for line in lines)
    finals = [show_case(app, w["key"]) for w in walks]
    say("\nWhere the cases ended:")
    for case in finals:
        say(f"  {case['key']:<14} {case['state_title']}")
    say(f"\n{len(lines)} notices sent to {outbox}: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    for line in lines[:3]:
        say("  " + json.loads(line)["subject"])
    report = _html_report(app, folder)
    say(f"\nHTML report: {report}" if report else
        "\nHTML report: install torchflow[reports] (matplotlib, Jinja2) to have one")
    admins = people.acting_admins(app) or []
    say(f"\nExplore it: torchflow --config {folder / 'config.toml'} case list\n"
        f"(you act as its admin {', '.join(admins)}; add --as wang.li to act for her)")
    return {
        "report": report,
        "folder": str(folder),
        "database": str(folder / "demo.db"),
        "outbox": str(outbox),
        "cases": [{"key": c["key"], "state": c["state"]} for c in finals],
        "notices": dict(kinds),
        "sent": sent["sent"],
    }


def _html_report(app: App, folder: Path) -> str | None:
    """The demo's HTML report over the simulated days, or None without the extra."""
    try:
        from torchflow.reports.html import write
    except ImportError:
        return None
    from torchflow.domain.periods import Period
    from torchflow.service.reports.registry import english, run_all
    from torchflow.service.reports.snapshot import Filters

    with app.db.read() as s:
        from sqlalchemy import func, select

        from torchflow.store.models import CASES

        first = s.scalar(select(func.min(CASES.c.opened_at)))
    today = app.calendar.local_date(app.now())
    start = app.calendar.local_date(first) if first else today
    path = folder / "report.html"
    try:
        write(*run_all(app, Filters(period=Period(start, today))), str(path), english(app))
    except ImportError:  # jinja2 or matplotlib missing
        return None
    return str(path)
