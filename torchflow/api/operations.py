"""The operation table: every use case the CLI has, once.

Each operation has a name (``case.open``), an HTTP method and path under
``/api/v1/`` (resources named for the domain), its parameters, whether it
takes uploaded files or writes one (``out``), and the service functions it
calls, named by "module:function" strings as the channel registry names its
classes. Every reference from the CLI and the server to a service function is
in this file (``OPERATIONS`` and ``REFS``): when a service moves, its string
changes here and nowhere else.

An operation with no ``adapter`` calls its first function as
``fn(app, actor, **params)`` (``actor=True``) or ``fn(app, **params)``; the
others have an adapter of the same name in ``torchflow.api.adapters``, which
receives the call and the resolved functions in the order named here.

Stdlib only: the client imports this module to build its requests.
"""

from __future__ import annotations

from msgspec import Struct

from torchflow.api.values import MAX_SPAN_DAYS, Param

PREFIX = "/api/v1"
ID_MAX = 2**31 - 1
# channels/__init__.CHANNEL_TYPES' names (tests/unit/test_api.py keeps them in step).
CHANNELS = ("file", "smtp", "webhook", "wecom_robot", "wecom_app", "dingtalk_robot",
            "feishu_robot")
NOTICE_STATUSES = ("pending", "sent", "dead", "cancelled", "folded", "held")
TASK_KINDS = ("contact", "visit", "deadline", "duty", "each")  # domain.status.TaskKind
REPORTS = ("outcomes", "pipeline", "stages", "compliance", "workload", "requests")

# Services that are not operations: what the edges build and ask.
REFS: dict[str, str] = {
    "app.build": "torchflow.service.app:build_app",
    "office.translator": "torchflow.domain.loader:office_translator",
    "people.acting": "torchflow.service.people.lookup:acting",
    "people.acting_in": "torchflow.service.people.lookup:acting_in",
    "people.deferred": "torchflow.service.people.lookup:Deferred",
    "tokens.authenticate": "torchflow.service.people.tokens:authenticate",
    "store.upgrade": "torchflow.store.migrate:upgrade",
    "store.current": "torchflow.store.migrate:current_revision",
    "store.head": "torchflow.store.migrate:head_revision",
    "scheduler.service": "torchflow.scheduler:Service",
    "scheduler.channels": "torchflow.service.delivery.dispatch:channels_in_use",
    "workflows.load": "torchflow.service.workflows.definitions:validate_files",
}


class Operation(Struct, frozen=True):
    name: str
    method: str  # "" for an operation only the server's own host runs (init)
    path: str
    summary: str
    calls: tuple[str, ...]
    params: tuple[Param, ...] = ()
    adapter: bool = False
    actor: bool = False  # without an adapter: the acting person is the second argument

    @property
    def local(self) -> bool:
        """Run only where the database is (no HTTP route): init, scheduler run."""
        return not self.method

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(p.split("}")[0].split(":")[0] for p in self.path.split("{")[1:])

    @property
    def uploads(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.kind in ("file", "files"))

    @property
    def out(self) -> Param | None:
        return next((p for p in self.params if p.kind == "out"), None)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _s(name: str, **kw: object) -> Param:
    return Param(name, "str", **kw)  # type: ignore[arg-type]


def _b(name: str) -> Param:
    return Param(name, "bool")


def _id(name: str) -> Param:
    return Param(name, "int", required=True, low=1, high=ID_MAX)


KEY = _s("key", required=True)
HANDLE = _s("handle", required=True)
LIMIT = Param("limit", "int", low=1, high=10_000, default=500)
OFFSET = Param("offset", "int", low=0, high=1_000_000_000, default=0)
OUT = Param("out", "out", required=True)
OUT_REPORT = Param("out", "out", required=True, missing="cannot write {path}: {reason}")
SPAN_FILTERS = (Param("start", "date"), Param("end", "date"), _s("period"), _s("workflow"),
                _s("owner"))
REPORT_EXTRA = (_s("by", choices=("month", "quarter", "year")),
                Param("days", "int", low=1, high=250), Param("cases", "int", low=0, high=100))

# The service modules (house's packages import nothing: each string names a module).
CASES = "torchflow.service.cases.change"
READ = "torchflow.service.cases.read"
TASKS = "torchflow.service.followups.work"
FEEDS = "torchflow.service.followups.feeds"
REPLAN = "torchflow.service.followups.replan"
NOTICES = "torchflow.service.delivery.ledger"
CHANNEL = "torchflow.service.delivery.channel_check"
PEOPLE = "torchflow.service.people.staff"
HANDOVER = "torchflow.service.people.handover"
PERSON_HISTORY = "torchflow.service.people.history"
CHECKS = "torchflow.service.people.checks"
ABSENCES = "torchflow.service.people.absences"
NOTIFY = "torchflow.service.people.notify"
TOKENS = "torchflow.service.people.tokens"
WORKFLOWS = "torchflow.service.workflows.definitions"
NAMES = "torchflow.service.workflows.names"
MOVES = "torchflow.service.workflows.version_moves"
IMPORTS = "torchflow.service.sheets.imports"
EXPORTS = "torchflow.service.sheets.exports"
REPORT = "torchflow.service.reports.registry"
SNAPSHOT = "torchflow.service.reports.snapshot"
AUDIT = "torchflow.service.audit.verify"
CALENDAR = "torchflow.service.calendar.schedules"
ENTERPRISES = "torchflow.service.enterprises.records"
DOSSIER = "torchflow.service.enterprises.dossier"
LINKING = "torchflow.service.enterprises.linking"
LEDGER = "torchflow.service.enterprises.sheets"
REQUESTS = "torchflow.service.enterprises.requests"
ENTERPRISE = _s("enterprise", required=True)
ENTERPRISE_VALUES = (_s("credit_code"), _s("district"), _s("industry"), _s("coordinator"))

_TABLE = [
    # --- cases ------------------------------------------------------------------------------
    Operation("case.open", "POST", "/cases", "Open a case", (f"{CASES}:open_case",),
              (_s("workflow", required=True), _s("title", required=True), _s("owner"),
               Param("fields", "map")), actor=True),
    Operation("case.list", "GET", "/cases", "List cases, oldest first", (f"{READ}:list_cases",),
              (_s("workflow"), _s("state"), _s("owner"), _b("mine"), _b("is_open"), LIMIT,
               OFFSET, _s("search"), Param("field", "strs")), adapter=True),
    Operation("case.show", "GET", "/cases/{key}", "A case, what may happen next, its follow-ups",
              (f"{READ}:show_case",), (KEY,), adapter=True),
    Operation("case.history", "GET", "/cases/{key}/history", "The whole history of a case",
              (f"{READ}:history",), (KEY,)),
    Operation("case.advance", "POST", "/cases/{key}/advance", "Fire a transition",
              (f"{CASES}:advance",),
              (KEY, _s("trigger", required=True), _s("note"), Param("fields", "map"),
               Param("expected_version", "int", low=1, high=ID_MAX)), adapter=True),
    Operation("case.note", "POST", "/cases/{key}/notes", "Add a note to the history",
              (f"{CASES}:add_note",), (KEY, _s("note", required=True)), actor=True),
    Operation("case.set", "PATCH", "/cases/{key}/fields", "Set custom fields",
              (f"{CASES}:set_fields",), (KEY, Param("pairs", "map", required=True)), actor=True),
    Operation("case.assign", "PUT", "/cases/{key}/owner", "Give a case another owner",
              (f"{CASES}:assign",), (KEY, HANDLE), actor=True),
    Operation("case.log", "POST", "/cases/{key}/followups", "Log a contact or a visit",
              (f"{TASKS}:log_followup",),
              (KEY, _s("kind", required=True, choices=("contact", "visit")), _s("note"),
               Param("at", "when")), adapter=True),
    Operation("case.revert", "POST", "/cases/{key}/revert-version",
              "Put a case back on the workflow version it was moved from",
              (f"{MOVES}:revert", f"{MOVES}:outcome_view"), (KEY,), adapter=True),
    # --- tasks ------------------------------------------------------------------------------
    Operation("task.list", "GET", "/tasks", "Open tasks, soonest first", (f"{TASKS}:list_tasks",),
              (_b("mine"), _s("assignee"), Param("due_within", "span"), _b("overdue"),
               _s("kind", choices=TASK_KINDS), LIMIT, OFFSET), adapter=True),
    Operation("task.agenda", "GET", "/tasks/agenda", "What comes due and which notices go out",
              (f"{TASKS}:agenda",),
              (Param("days", "int", low=1, high=90, default=14), _s("assignee"), _b("all"),
               _b("mine")), adapter=True),
    Operation("task.agenda_ics", "GET", "/tasks/agenda.ics", "Open follow-ups as iCalendar",
              (f"{FEEDS}:agenda_ics", f"{FEEDS}:write_ics"),
              (OUT, _s("person"), Param("days", "int", low=1, high=90, default=14)),
              adapter=True),
    Operation("task.done", "POST", "/tasks/{task_id:int}/done", "Mark a task done",
              (f"{TASKS}:complete",), (_id("task_id"), _s("note")), actor=True),
    Operation("task.snooze", "POST", "/tasks/{task_id:int}/snooze", "Move a task to another day",
              (f"{TASKS}:snooze",),
              (_id("task_id"), Param("to", "date", required=True), _s("reason", required=True)),
              actor=True),
    Operation("task.reassign", "PUT", "/tasks/{task_id:int}/assignee", "Give a task to another",
              (f"{TASKS}:reassign",), (_id("task_id"), HANDLE), actor=True),
    # --- notices ----------------------------------------------------------------------------
    Operation("notice.list", "GET", "/notices", "Notices, newest first",
              (f"{NOTICES}:list_notices",),
              (_s("status", choices=NOTICE_STATUSES), _s("recipient"),
               Param("limit", "int", low=1, high=10_000, default=200), OFFSET)),
    Operation("notice.retry", "POST", "/notices/{notice_id:int}/retry", "Send a notice again",
              (f"{NOTICES}:retry",), (_id("notice_id"),), adapter=True),
    Operation("notice.retry_dead", "POST", "/notices/retry-dead", "Send every dead notice again",
              (f"{NOTICES}:retry_dead",),
              (_s("recipient"), _s("kind"), _s("channel", choices=CHANNELS)), adapter=True),
    Operation("channel.test", "POST", "/channels/{name}/test",
              "Send one test message by a channel (CHANNEL or CHANNEL:ROBOT)",
              (f"{CHANNEL}:test_channel",), (_s("name", required=True), _s("to")), actor=True),
    # --- people -----------------------------------------------------------------------------
    Operation("person.list", "GET", "/people", "Everyone, by handle", (f"{PEOPLE}:list_people",),
              (LIMIT, OFFSET)),
    Operation("person.roles", "GET", "/permissions", "What each role may do",
              ("torchflow.domain.permissions:table",), adapter=True),
    Operation("person.add", "POST", "/people", "Add a person", (f"{PEOPLE}:add",),
              (HANDLE, _s("name", required=True), _s("email", default=""),
               Param("roles", "strs"), _s("channel", choices=CHANNELS), _s("address", default=""),
               Param("logins", "strs"), Param("ids", "map")), adapter=True),
    Operation("person.show", "GET", "/people/{handle}", "A person, their work and absences",
              (f"{PEOPLE}:show_person",), (HANDLE,)),
    Operation("person.edit", "PATCH", "/people/{handle}", "Change a person",
              (f"{PEOPLE}:edit", f"{FEEDS}:rotate_token"),
              (HANDLE, _s("name"), _s("email"), _s("channel", choices=CHANNELS), _s("address"),
               Param("add_roles", "strs"), Param("remove_roles", "strs"),
               Param("add_logins", "strs"), Param("remove_logins", "strs"), Param("ids", "map"),
               _b("new_feed_token")), adapter=True),
    Operation("person.deactivate", "POST", "/people/{handle}/deactivate", "Deactivate a person",
              (f"{PEOPLE}:deactivate",), (HANDLE, _s("handover_to")), adapter=True),
    Operation("person.reactivate", "POST", "/people/{handle}/reactivate", "Reactivate a person",
              (f"{PEOPLE}:reactivate",), (HANDLE,), actor=True),
    Operation("person.handover", "POST", "/people/{handle}/handover",
              "Move a person's open work to another", (f"{HANDOVER}:handover",),
              (HANDLE, _s("to", required=True), _b("deactivate")), adapter=True),
    Operation("person.away", "POST", "/people/{handle}/absences", "Record an absence",
              (f"{ABSENCES}:record_absence",),
              (HANDLE, Param("starts", "date", required=True), Param("ends", "date",
                                                                      required=True),
               _s("substitute", required=True), _s("reason", default="")), actor=True),
    Operation("person.back", "POST", "/people/{handle}/back", "End a person's absences",
              (f"{ABSENCES}:end_absence",), (HANDLE,), actor=True),
    Operation("person.notify", "GET", "/people/{handle}/notify", "How a person is told",
              (f"{NOTIFY}:notify_of",), (HANDLE,)),
    Operation("person.notify_set", "PATCH", "/people/{handle}/notify",
              "Change how a person is told",
              (f"{NOTIFY}:set_notify", "torchflow.domain.routing:parse_quiet",
               f"{NOTIFY}:parse_fallback"),
              (HANDLE, _s("notify", choices=("each", "digest")), _s("quiet"), _b("no_quiet"),
               _s("fallback"), _b("no_fallback"), Param("fallback_after", "int", low=1,
                                                         high=50)), adapter=True),
    Operation("person.feed_token", "GET", "/people/{handle}/feed-token",
              "The secret in a person's calendar feed file name", (f"{FEEDS}:show_token",),
              (HANDLE,), actor=True),
    Operation("person.feed_token_rotate", "POST", "/people/{handle}/feed-token",
              "Rotate the secret of a person's calendar feed", (f"{FEEDS}:rotate_token",),
              (HANDLE,), actor=True),
    Operation("person.history", "GET", "/people/{handle}/history",
              "Who changed a person's roles, logins, absences, notice settings and tokens",
              (f"{PERSON_HISTORY}:person_history",), (HANDLE,)),
    # --- the office's words -----------------------------------------------------------------
    Operation("office.names", "GET", "/names",
              "The office's names of its roles and of the workflows' codes, in both languages",
              (f"{NAMES}:names_view",)),
    # --- workflows --------------------------------------------------------------------------
    Operation("workflow.list", "GET", "/workflows", "The workflows, with stored versions",
              (f"{WORKFLOWS}:list_workflows",)),
    Operation("workflow.validate", "POST", "/workflows/validate",
              "Check workflow files as `case open` would (default: the server's)",
              (f"{WORKFLOWS}:validate_files", f"{WORKFLOWS}:database_exists"),
              (Param("files", "files",
                     missing="{path} does not exist; name a workflow file or folder"),),
              adapter=True),
    Operation("workflow.show", "GET", "/workflows/{name}", "A workflow's definition",
              (f"{WORKFLOWS}:get_spec", f"{WORKFLOWS}:spec_view"),
              (_s("name", required=True), Param("version", "int", low=1, high=ID_MAX)),
              adapter=True),
    Operation("workflow.diagram", "GET", "/workflows/{name}/diagram",
              "A workflow as Mermaid or DOT text",
              (f"{WORKFLOWS}:get_spec", f"{WORKFLOWS}:diagram"),
              (_s("name", required=True), _s("fmt", choices=("mermaid", "dot"),
                                             default="mermaid"),
               Param("version", "int", low=1, high=ID_MAX)), adapter=True),
    Operation("workflow.migrate", "POST", "/workflows/{name}/migrate",
              "Move open cases to another workflow version",
              (f"{MOVES}:plan", f"{MOVES}:plan_view", f"{MOVES}:apply", f"{MOVES}:outcome_view"),
              (_s("name", required=True), Param("to_version", "int", required=True, low=1,
                                                high=ID_MAX),
               Param("mapping", "map"), _s("case_key"), _b("dry_run"), _b("allow_terminal")),
              adapter=True),
    # --- the calendar -----------------------------------------------------------------------
    Operation("calendar.check", "GET", "/calendar/check",
              "Years without official data, problems of the schedule files",
              (f"{CALENDAR}:check",), adapter=True),
    Operation("calendar.show", "GET", "/calendar/{year:int}", "A year's working-day calendar",
              (f"{CALENDAR}:show",),
              (Param("year", "int", required=True),
               Param("month", "int")), adapter=True),
    Operation("calendar.replan", "POST", "/calendar/replan",
              "Re-plan open tasks planned with other calendar data",
              (f"{REPLAN}:plan", f"{REPLAN}:view", f"{REPLAN}:apply"), (_b("dry_run"),),
              adapter=True),
    Operation("calendar.template", "GET", "/calendar/{year:int}/template",
              "The office's schedule file of a year, to fill in from the notice",
              ("torchflow.domain.schedule_template:schedule_template",
               "torchflow.domain.schedule_template:schedule_file"),
              (Param("year", "int", required=True),), adapter=True),
    # --- spreadsheets -----------------------------------------------------------------------
    Operation("import.template", "GET", "/imports/templates/{workflow}",
              "A workflow's import template", (f"{IMPORTS}:write_template",),
              (_s("workflow", required=True), OUT)),
    Operation("import.cases", "POST", "/imports/cases", "Import a sheet's rows as cases",
              (f"{IMPORTS}:import_cases",),
              (_s("workflow", required=True), Param("file", "file", required=True),
               _s("sheet"), _b("dry_run"), Param("skip_bad", "out"),
               Param("header_row", "int", low=1, high=1000), Param("ignore_columns", "strs"),
               _b("ignore_unknown")), adapter=True),
    Operation("import.people", "POST", "/imports/people", "Import the office's staff list",
              (f"{IMPORTS}:import_people",),
              (Param("file", "file", required=True), _b("dry_run"),
               Param("ignore_columns", "strs"), _b("ignore_unknown")), adapter=True),
    Operation("export.cases", "GET", "/exports/cases", "Cases to a spreadsheet",
              (f"{EXPORTS}:export_cases",),
              (OUT, _s("workflow"), _s("state"), _s("owner"), _b("is_open"))),
    Operation("export.tasks", "GET", "/exports/tasks", "Follow-up tasks to a spreadsheet",
              (f"{EXPORTS}:export_tasks",),
              (OUT, _s("assignee"), _s("kind", choices=TASK_KINDS),
               _s("status", choices=("open", "done", "cancelled", "missed")), _s("workflow"))),
    Operation("export.history", "GET", "/exports/history", "History events to a spreadsheet",
              (f"{EXPORTS}:export_history",), (OUT, _s("case"), _s("workflow"))),
    Operation("export.notices", "GET", "/exports/notices", "The notice ledger to a spreadsheet",
              (f"{EXPORTS}:export_notices",),
              (OUT, _s("status", choices=NOTICE_STATUSES), _s("recipient"))),
    # --- reports ----------------------------------------------------------------------------
    Operation("report.html", "GET", "/reports/html", "The HTML report for leadership",
              ("torchflow.reports.html:write", f"{REPORT}:run_all", f"{REPORT}:english",
               f"{SNAPSHOT}:Filters", "torchflow.domain.periods:resolve"),
              (OUT_REPORT, *SPAN_FILTERS), adapter=True),
    Operation("report.run", "GET", "/reports/{name}", "A report's figures",
              (f"{REPORT}:run", f"{SNAPSHOT}:Filters", "torchflow.domain.periods:resolve"),
              (_s("name", required=True, choices=REPORTS), *SPAN_FILTERS, *REPORT_EXTRA),
              adapter=True),
    Operation("report.file", "GET", "/reports/{name}/file",
              "A report as CSV, XLSX or a chart (PNG, SVG)",
              (f"{REPORT}:run", f"{REPORT}:english", f"{SNAPSHOT}:Filters",
               "torchflow.domain.periods:resolve", "torchflow.reports.export:write_csv",
               "torchflow.reports.export:write_xlsx", "torchflow.reports.charts:draw"),
              (_s("name", required=True, choices=REPORTS), OUT_REPORT,
               _s("format", required=True, choices=("csv", "xlsx", "chart")), *SPAN_FILTERS,
               *REPORT_EXTRA), adapter=True),
    # --- audit ------------------------------------------------------------------------------
    Operation("audit.verify", "POST", "/audit/verify",
              "Check the hash chains (optionally against a checkpoint)",
              (f"{AUDIT}:audit",),
              (_s("key"), Param("against", "file",
                                missing="cannot read the checkpoint {path}: {reason}")),
              adapter=True),
    Operation("audit.checkpoint", "GET", "/audit/checkpoint", "A signed summary of the history",
              (f"{AUDIT}:checkpoint",),
              (Param("out", "out", required=True,
                     missing="cannot write the checkpoint {path}: {reason}"),), adapter=True),
    # --- the scheduler ----------------------------------------------------------------------
    Operation("scheduler.tick", "POST", "/scheduler/tick", "One sweep and one dispatch",
              ("torchflow.scheduler:tick_once",), adapter=True),
    # --- tokens -----------------------------------------------------------------------------
    Operation("token.create", "POST", "/tokens", "Issue a personal access token (shown once)",
              (f"{TOKENS}:create",),
              (HANDLE, _s("label", default=""),
               Param("expires_days", "int", low=1, high=MAX_SPAN_DAYS, default=90)),
              adapter=True),
    Operation("token.list", "GET", "/tokens", "Personal access tokens, with last use",
              (f"{TOKENS}:list_tokens",), (_s("handle"),), adapter=True),
    Operation("token.revoke", "DELETE", "/tokens/{token_id:int}", "Revoke a token",
              (f"{TOKENS}:revoke",), (_id("token_id"),), adapter=True),
    # --- enterprises (一企一档) and their requests ---------------------------------------------
    Operation("enterprise.add", "POST", "/enterprises", "Add an enterprise",
              (f"{ENTERPRISES}:add_enterprise",),
              (_s("name", required=True), *ENTERPRISE_VALUES, Param("tags", "strs"),
               Param("contacts", "strs")), actor=True),
    Operation("enterprise.edit", "PATCH", "/enterprises/{enterprise}", "Change an enterprise",
              (f"{ENTERPRISES}:edit_enterprise",),
              (ENTERPRISE, _s("name"), *ENTERPRISE_VALUES, Param("add_tags", "strs"),
               Param("remove_tags", "strs"), Param("add_contacts", "strs"),
               Param("remove_contacts", "strs")), actor=True),
    Operation("enterprise.show", "GET", "/enterprises/{enterprise}",
              "An enterprise's file: cases, visits, requests", (f"{DOSSIER}:show_enterprise",),
              (ENTERPRISE,)),
    Operation("enterprise.list", "GET", "/enterprises", "Enterprises, by name",
              (f"{ENTERPRISES}:list_enterprises",),
              (_s("tag"), _s("district"), _s("coordinator"), _s("search"), LIMIT, OFFSET)),
    Operation("enterprise.link", "POST", "/enterprises/link",
              "Link cases whose enterprise is text to the enterprise records",
              (f"{LINKING}:link_cases",),
              (_s("field", default="enterprise"), _s("code_field", default="credit_code"),
               _s("workflow"), _b("dry_run")), actor=True),
    Operation("enterprise.import", "POST", "/imports/enterprises",
              "Import the office's enterprise ledger", (f"{LEDGER}:import_enterprises",),
              (Param("file", "file", required=True), _b("dry_run")), adapter=True),
    Operation("enterprise.export", "GET", "/exports/enterprises",
              "The enterprise ledger to a spreadsheet", (f"{LEDGER}:export_enterprises",),
              (OUT,)),
    Operation("request.open", "POST", "/requests", "Open an enterprise's request (诉求)",
              (f"{REQUESTS}:open_request",),
              (ENTERPRISE, _s("request", required=True), _s("category", required=True),
               _s("owner")), actor=True),
    Operation("request.raise", "POST", "/cases/{key}/requests",
              "Log a contact or visit and the requests the enterprise raised on it",
              (f"{REQUESTS}:log_with_requests",),
              (KEY, _s("kind", required=True, choices=("contact", "visit")),
               Param("requests", "strs", required=True), _s("category"), _s("note"),
               Param("at", "when")), adapter=True),
    # --- only where the database is -----------------------------------------------------------
    Operation("database.init", "", "", "Create or upgrade the database; the first admin",
              ("torchflow.store.migrate:upgrade", f"{PEOPLE}:first_admin",
               f"{PEOPLE}:acting_admins", f"{CHECKS}:check_handle",
               "torchflow.domain.identity:handle_from_login"),
              (_s("admin"),), adapter=True),
    Operation("scheduler.run", "", "", "The notice service until SIGTERM",
              ("torchflow.scheduler:Service",), adapter=True),
]

OPERATIONS: dict[str, Operation] = {op.name: op for op in _TABLE}
