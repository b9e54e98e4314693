"""What the engine holds, out to a spreadsheet: cases (one sheet per workflow,
their fields differ), tasks, history and notices. Typed cells (numbers as
numbers, dates as dates), times in the configured zone, bilingual headers.
Rows are streamed from the database to the writer (xlsxwriter in constant-memory
mode), so an export's memory does not grow with its rows.

A cases sheet has the template's columns first (domain/sheets.py), so an export
imports again as it is: a case never imported has its key as its reference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, select

from torchflow.domain import sheets
from torchflow.domain.workflow import WorkflowSpec
from torchflow.service.app import App
from torchflow.service.cases.read import case_filter, states_typed, workflow_typed
from torchflow.service.delivery.ledger import notice_filter
from torchflow.service.people.lookup import find_person
from torchflow.service.sheets.files import Sheet, write_sheets
from torchflow.store.models import CASES, EVENTS, NOTICES, PEOPLE, TASKS, WORKFLOW_VERSIONS

BATCH = 2000


def _local(app: App, instant: datetime | None) -> datetime | None:
    """A stored UTC instant as the wall-clock time here (a spreadsheet has no zones)."""
    if instant is None:
        return None
    return instant.astimezone(app.calendar.tz).replace(tzinfo=None)


def _stream(s: Connection, query: Select[Any]) -> Iterator[Any]:
    result = s.execution_options(yield_per=BATCH).execute(query)
    yield from result


def export_cases(
    app: App, out: Path, *, workflow: str | None = None, state: str | None = None,
    owner: str | None = None, is_open: bool | None = None,
) -> dict[str, Any]:
    with app.db.read() as s:
        names = sorted(set(s.scalars(select(CASES.c.workflow).distinct())))
        if workflow:  # as `case list` reads it: its name or title (项目引进)
            names = [workflow_typed(app, s, workflow)]
        states = states_typed(app, s, names[0] if workflow else None, state) if state else None
        owner_id = find_person(s, owner).id if owner else None
        specs = {n: _spec_of(app, s, n) for n in names}
        sheet_list: list[Sheet] = [
            (name, _case_header(spec), _case_rows(app, s, spec, name, states, owner_id, is_open))
            for name, spec in specs.items()
        ]
        count = write_sheets(out, sheet_list, app.settings.files)
    return {"file": str(out), "what": "cases", "rows": count, "sheets": names}


def _spec_of(app: App, s: Connection, name: str) -> WorkflowSpec:
    """The workflow's file, or its newest stored version when the file is gone."""
    files = app.registry.files()
    if name in files:
        return files[name]
    return app.registry.stored(s, name).spec


def _case_header(spec: WorkflowSpec) -> list[str]:
    return [title for _, title in sheets.template_columns(spec)] + [
        title for _, title in sheets.EXPORT_ONLY]


def _case_rows(app: App, s: Connection, spec: WorkflowSpec, name: str,
               states: list[tuple[str, str]] | None, owner_id: int | None,
               is_open: bool | None) -> Iterator[list[Any]]:
    query = (select(CASES.c.key, CASES.c.external_ref, CASES.c.title, PEOPLE.c.handle,
                    CASES.c.state, CASES.c.state_entered_at, CASES.c.fields,
                    WORKFLOW_VERSIONS.c.version, CASES.c.opened_at, CASES.c.closed_at)
             .select_from(CASES.outerjoin(PEOPLE, PEOPLE.c.id == CASES.c.owner_id)
                          .join(WORKFLOW_VERSIONS,
                                WORKFLOW_VERSIONS.c.id == CASES.c.workflow_version_id))
             .order_by(CASES.c.id))
    query = case_filter(query, workflow=name, states=states, owner_id=owner_id,
                        is_open=is_open)
    tz = app.calendar.tz
    for r in _stream(s, query):
        fields = r.fields or {}
        values = [_typed(spec.fields[f].type, fields.get(f)) for f in spec.fields]
        yield [r.external_ref or r.key, r.title, r.handle, r.state,
               r.state_entered_at.astimezone(tz).date(), *values,
               r.key, name, r.version, _local(app, r.opened_at), _local(app, r.closed_at)]


def _typed(kind: str, value: Any) -> Any:
    if kind == "date" and isinstance(value, str) and value:
        return date.fromisoformat(value)
    return value


TASK_HEADER = ["Case key · 案件编号", "Case title · 案件标题", "Workflow · 流程",
               "Kind · 类型", "Rule · 规则", "Occurrence · 次序", "Due on · 到期日",
               "Window start · 窗口开始", "Window end · 窗口结束", "Assignee · 承办人",
               "Status · 状态", "Outcome · 结果", "Late by (workdays) · 逾期工作日",
               "Created at · 创建时间", "Closed at · 关闭时间"]


def export_tasks(app: App, out: Path, *, assignee: str | None = None, kind: str | None = None,
                 status: str | None = None, workflow: str | None = None) -> dict[str, Any]:
    with app.db.read() as s:
        query = (select(CASES.c.key, CASES.c.title, CASES.c.workflow, TASKS.c.kind,
                        TASKS.c.rule, TASKS.c.occurrence, TASKS.c.due_on,
                        TASKS.c.window_start, TASKS.c.window_end, PEOPLE.c.handle,
                        TASKS.c.status, TASKS.c.outcome_kind, TASKS.c.late_by,
                        TASKS.c.created_at, TASKS.c.closed_at)
                 .select_from(TASKS.join(CASES, CASES.c.id == TASKS.c.case_id)
                              .outerjoin(PEOPLE, PEOPLE.c.id == TASKS.c.assignee_id))
                 .order_by(TASKS.c.due_on, TASKS.c.id))
        if assignee:
            query = query.where(TASKS.c.assignee_id == find_person(s, assignee).id)
        if kind:
            query = query.where(TASKS.c.kind == kind)
        if status:
            query = query.where(TASKS.c.status == status)
        if workflow:  # its name or title (项目引进)
            query = query.where(CASES.c.workflow == workflow_typed(app, s, workflow))
        rows = ([*r[:13], _local(app, r.created_at), _local(app, r.closed_at)]
                for r in _stream(s, query))
        count = write_sheets(out, [("tasks", TASK_HEADER, rows)], app.settings.files)
    return {"file": str(out), "what": "tasks", "rows": count}


HISTORY_HEADER = ["Case key · 案件编号", "Seq · 序号", "Kind · 类型", "Actor · 操作人",
                  "At · 时间", "From state · 原状态", "To state · 新状态", "Data · 内容",
                  "Hash · 哈希"]


def export_history(app: App, out: Path, *, case: str | None = None,
                   workflow: str | None = None) -> dict[str, Any]:
    with app.db.read() as s:
        query = (select(CASES.c.key, EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.actor, EVENTS.c.at,
                        EVENTS.c.from_state, EVENTS.c.to_state, EVENTS.c.data, EVENTS.c.hash)
                 .select_from(EVENTS.join(CASES, CASES.c.id == EVENTS.c.case_id))
                 .order_by(EVENTS.c.gseq))
        if case:
            query = query.where(CASES.c.key == case.strip().upper())
        if workflow:  # its name or title (项目引进)
            query = query.where(CASES.c.workflow == workflow_typed(app, s, workflow))
        rows = ([r.key, r.seq, r.kind, r.actor, _local(app, r.at), r.from_state, r.to_state,
                 json.dumps(r.data, ensure_ascii=False, sort_keys=True), r.hash]
                for r in _stream(s, query))
        count = write_sheets(out, [("history", HISTORY_HEADER, rows)], app.settings.files)
    return {"file": str(out), "what": "history", "rows": count}


NOTICE_HEADER = ["Id · 编号", "Case key · 案件编号", "Kind · 类型", "Channel · 渠道",
                 "To · 收件人", "Subject · 主题", "Status · 状态", "Attempts · 尝试次数",
                 "Not before · 最早发送", "Sent at · 发送时间", "Last error · 最近错误"]


def export_notices(app: App, out: Path, *, status: str | None = None,
                   recipient: str | None = None) -> dict[str, Any]:
    with app.db.read() as s:
        query = (select(NOTICES.c.id, CASES.c.key, NOTICES.c.kind, NOTICES.c.channel,
                        NOTICES.c.recipient, NOTICES.c.subject, NOTICES.c.status,
                        NOTICES.c.attempts, NOTICES.c.not_before, NOTICES.c.sent_at,
                        NOTICES.c.last_error)
                 .select_from(NOTICES.outerjoin(TASKS, TASKS.c.id == NOTICES.c.task_id)
                              .outerjoin(CASES, CASES.c.id == TASKS.c.case_id))
                 .order_by(NOTICES.c.id))
        query = query.where(*notice_filter(status=status, recipient=recipient))
        rows = ([*r[:8], _local(app, r.not_before), _local(app, r.sent_at), r.last_error]
                for r in _stream(s, query))
        count = write_sheets(out, [("notices", NOTICE_HEADER, rows)], app.settings.files)
    return {"file": str(out), "what": "notices", "rows": count}
