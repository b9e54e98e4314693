"""Adapters: operations whose service functions do not take ``(app, actor,
**params)`` as they are, or that put two calls together. Each is named for its
operation (``case.list`` -> ``case_list``) and receives the call and the
functions the table names, in that order: no service is imported here, so
moving one changes only its string in the table.

No permission is checked here: the edge resolves who acts (``c.actor()``) and
the use case authorizes them (domain/permissions.py). What each returns is plain
data, the same for the CLI in-process and for a client of the server.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec.structs import asdict

from torchflow.errors import InvalidInput, UsageError
from torchflow.files import replacing
from torchflow.i18n import _

if TYPE_CHECKING:
    from torchflow.api.invoke import Call

Fn = Callable[..., Any]


# --- cases -----------------------------------------------------------------------------------

def case_list(c: Call, list_cases: Fn, /, *, mine: bool = False, owner: str | None = None,
              field: list[str] | None = None, **filters: Any) -> Any:
    if mine and owner:
        raise UsageError(_("--mine and --owner exclude each other; use one"))
    if mine:
        owner = c.actor().handle
    # NAME=VALUE texts (a list, which a query string carries), as the service's mapping.
    fields = dict(pair.partition("=")[::2] for pair in field or [])
    return list_cases(c.app, owner=owner, fields=fields or None, **filters)


def case_show(c: Call, show_case: Fn, /, *, key: str) -> Any:
    reader = c.reader()
    return show_case(c.app, key, reader.roles if reader else None)


def case_advance(c: Call, advance: Fn, /, *, key: str, trigger: str, **options: Any) -> Any:
    return asdict(advance(c.app, c.actor(), key, trigger, **options))


def case_log(c: Call, log_followup: Fn, /, *, key: str, kind: str, note: str | None = None,
             at: date | datetime | None = None) -> Any:
    return log_followup(c.app, c.actor(), key, kind, note=note,
                        at=None if at is None else instant(c, at))


def instant(c: Call, when: date | datetime) -> date | datetime:
    """A given --at in the office's zone: a time without an offset is local; a day
    stays a day (no time of day is invented for it)."""
    if not isinstance(when, datetime):
        return when
    return when if when.tzinfo else c.app.calendar.at(when.date(), when.time())


def request_raise(c: Call, log_with_requests: Fn, /, *, key: str, kind: str,
                  at: date | datetime | None = None, **given: Any) -> Any:
    return log_with_requests(c.app, c.actor(), key, kind,
                             at=None if at is None else instant(c, at), **given)


def case_revert(c: Call, revert: Fn, outcome_view: Fn, /, *, key: str) -> Any:
    return outcome_view(revert(c.app, c.actor(), key))


# --- tasks -----------------------------------------------------------------------------------

def task_list(c: Call, list_tasks: Fn, /, *, mine: bool = False, assignee: str | None = None,
              **filters: Any) -> Any:
    if mine and assignee:
        raise UsageError(_("--mine and --assignee exclude each other; use one"))
    who = c.actor().handle if mine else assignee
    return list_tasks(c.app, assignee=who, **filters)


def task_agenda(c: Call, agenda: Fn, /, *, days: int = 14, assignee: str | None = None,
                all: bool = False, mine: bool = False) -> Any:
    """The reader's own agenda unless another person's or the office's is asked
    for (the service decides; a caller who is nobody's person sees the office)."""
    return agenda(c.app, c.reader(), days=days, assignee=assignee, everyone=all, mine=mine)


def task_agenda_ics(c: Call, agenda_ics: Fn, write_ics: Fn, /, *, out: str,
                    person: str | None = None, days: int = 14) -> Any:
    write_ics(Path(out), agenda_ics(c.app, person=person, days=days), c.settings.files)
    return {"file": out, "person": person, "days": days}


# --- notices ---------------------------------------------------------------------------------

def notice_retry(c: Call, retry: Fn, /, *, notice_id: int) -> Any:
    return _retried(retry(c.app, c.actor(), notice_id))


def notice_retry_dead(c: Call, retry_dead: Fn, /, **filters: Any) -> Any:
    return _retried(retry_dead(c.app, c.actor(), **filters))


def _retried(result: Any) -> dict[str, Any]:
    return {"ids": list(result.ids), "count": result.count}


# --- people ----------------------------------------------------------------------------------

def person_roles(_c: Call, table: Fn, /) -> Any:
    # Message ids, as the table's: the CLI shows them in the reader's language.
    return table()


def person_add(c: Call, add: Fn, /, *, handle: str, **details: Any) -> Any:
    return add(c.app, c.actor(), handle, **details)


def person_edit(c: Call, edit: Fn, rotate_token: Fn, /, *, handle: str,
                new_feed_token: bool = False, **changes: Any) -> Any:
    if not changes and not new_feed_token:
        raise UsageError(_("nothing to change; give e.g. --email or --add-role"))
    actor = c.actor()
    result = edit(c.app, actor, handle, **changes) if changes else {"handle": handle}
    if new_feed_token:
        result = {**result, "feed_file": rotate_token(c.app, actor, handle)["file"]}
    return result


def person_deactivate(c: Call, deactivate: Fn, /, *, handle: str,
                      handover_to: str | None = None) -> Any:
    return deactivate(c.app, c.actor(), handle, handover_to=handover_to)


def person_handover(c: Call, handover: Fn, /, *, handle: str, to: str,
                    deactivate: bool = False) -> Any:
    result = handover(c.app, c.actor(), handle, to, deactivate=deactivate)
    return {"from": result.giver, "to": result.taker, "cases": result.cases,
            "tasks": result.tasks, "notices": result.notices, "in_flight": result.in_flight}


def person_notify_set(c: Call, set_notify: Fn, parse_quiet: Fn, parse_fallback: Fn, /, *,
                      handle: str, notify: str | None = None, quiet: str | None = None,
                      no_quiet: bool = False, fallback: str | None = None,
                      no_fallback: bool = False, fallback_after: int | None = None) -> Any:
    changes: dict[str, Any] = {"notify": notify, "fallback_after": fallback_after}
    if quiet is not None:
        changes["quiet"] = _flag(parse_quiet, quiet, "--quiet")
    if fallback is not None:
        changes["fallback"] = _flag(parse_fallback, fallback, "--fallback")
    if quiet is not None and no_quiet:
        raise UsageError(_("give --quiet or --no-quiet, not both"))
    if fallback is not None and no_fallback:
        raise UsageError(_("give --fallback or --no-fallback, not both"))
    if no_quiet:
        changes["quiet"] = None
    if no_fallback:
        changes["fallback"] = None
    return set_notify(c.app, c.actor(), handle, **changes)


def _flag(parse: Fn, value: str, flag: str) -> Any:
    """A flag's value parsed by the domain: a malformed one is a usage error (exit
    2) naming the flag, as click's own checks are."""
    try:
        return parse(value)
    except InvalidInput as exc:
        raise UsageError(exc.text, param=flag) from None


# --- workflows -------------------------------------------------------------------------------

def workflow_show(c: Call, get_spec: Fn, spec_view: Fn, /, *, name: str,
                  version: int | None = None) -> Any:
    return spec_view(get_spec(c.app, name, version))


def workflow_diagram(c: Call, get_spec: Fn, diagram: Fn, /, *, name: str, fmt: str = "mermaid",
                     version: int | None = None) -> Any:
    return {"name": name, "format": fmt,
            "diagram": diagram(get_spec(c.app, name, version), fmt)}


def workflow_validate(c: Call, validate_files: Fn, database_exists: Fn, /, *,
                      files: list[str] | None = None) -> Any:
    settings = c.settings
    paths = [Path(f) for f in files or []] or [settings.workflows_dir]
    app = c.app if database_exists(settings.database_url) else None
    found = validate_files(paths, workflows_dir=settings.workflows_dir, app=app)
    return {"files": found.files, "problems": list(found.errors),
            "warnings": list(found.warnings), "ok": not found.errors}


def workflow_migrate(c: Call, plan: Fn, plan_view: Fn, apply: Fn, outcome_view: Fn, /, *,
                     name: str, to_version: int, mapping: dict[str, str] | None = None,
                     case_key: str | None = None, dry_run: bool = False,
                     allow_terminal: bool = False) -> Any:
    actor = c.actor()
    planned = plan(c.app, actor, name, to_version, mapping=mapping or {}, case_key=case_key,
                   allow_terminal=allow_terminal, store=not dry_run)
    if dry_run:
        return plan_view(planned)
    return {"workflow": name, "to_version": to_version,
            "cases": [outcome_view(o) for o in apply(c.app, actor, planned)]}


# --- the calendar ----------------------------------------------------------------------------

def calendar_show(c: Call, show: Fn, /, *, year: int, month: int | None = None) -> Any:
    return show(c.app.calendar, year, month)


def calendar_check(c: Call, check: Fn, /) -> Any:
    app = c.app
    return check(app, app.calendar.local_date(app.now()))


def calendar_replan(c: Call, plan: Fn, view: Fn, apply: Fn, /, *, dry_run: bool = False) -> Any:
    app = c.app
    if dry_run:
        return {"cases": view(app.calendar, plan(app)), "dry_run": True}
    return apply(app, c.actor())


def calendar_template(c: Call, template: Fn, schedule_file: Fn, /, *, year: int) -> Any:
    # Needs no database: the text in the office's language, and where it goes.
    return {"year": year, "file": schedule_file(year), "text": template(year, c.tr)}


# --- spreadsheets ----------------------------------------------------------------------------

def import_cases(c: Call, import_cases: Fn, /, *, workflow: str, file: str,
                 skip_bad: str | None = None, progress: Fn | None = None,
                 **options: Any) -> Any:
    result = import_cases(c.app, c.actor(), workflow, Path(file),
                          skip_bad=None if skip_bad is None else Path(skip_bad),
                          progress=progress, **options)
    return result.view()


def import_people(c: Call, import_people: Fn, /, *, file: str, dry_run: bool = False,
                  **options: Any) -> Any:
    return import_people(c.app, c.actor(), Path(file), dry_run=dry_run, **options)


def enterprise_import(c: Call, import_enterprises: Fn, /, *, file: str,
                      dry_run: bool = False) -> Any:
    return import_enterprises(c.app, c.actor(), Path(file), dry_run=dry_run)


# --- reports ---------------------------------------------------------------------------------

def _filters(c: Call, filters: Fn, resolve: Fn, *, start: date | None = None,
             end: date | None = None, period: str | None = None, **extra: Any) -> Any:
    app = c.app
    span = resolve(period, start, end, app.calendar.local_date(app.now()))
    return filters(period=span, **extra)


def report_run(c: Call, run: Fn, filters: Fn, resolve: Fn, /, *, name: str, **span: Any) -> Any:
    return run(c.app, name, _filters(c, filters, resolve, **span), c.reader())


def report_file(c: Call, run: Fn, english: Fn, filters: Fn, resolve: Fn, write_csv: Fn,
                write_xlsx: Fn, draw: Fn, /, *, name: str, out: str, format: str,
                **span: Any) -> Any:
    if not Path(out).parent.is_dir():  # as a client finds it: one wording in either mode
        raise InvalidInput(_("cannot write {path}: {reason}", path=out,
                             reason=os.strerror(2)))
    doc = run(c.app, name, _filters(c, filters, resolve, **span), c.reader())
    with _extra():
        if format == "chart":  # the workflows' English titles where no CJK font is installed
            draw(doc, out, english(c.app), c.settings.files)
        else:
            {"csv": write_csv, "xlsx": write_xlsx}[format](doc, out, c.settings.files)
    return {"file": out, "format": format}


def report_html(c: Call, write: Fn, run_all: Fn, english: Fn, filters: Fn, resolve: Fn, /, *,
                out: str, **span: Any) -> Any:
    with _extra():
        write(*run_all(c.app, _filters(c, filters, resolve, **span)), out, english(c.app),
              c.settings.files)
    return {"written": out}


@contextmanager
def _extra() -> Iterator[None]:
    """matplotlib, Jinja2 and XlsxWriter come with the ``reports`` extra."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise InvalidInput(_("{module} is not installed; pip install 'torchflow[reports]'",
                             module=exc.name)) from None


# --- audit -----------------------------------------------------------------------------------

def audit_verify(c: Call, audit: Fn, /, *, key: str | None = None,
                 against: str | None = None) -> Any:
    doc = read_checkpoint(Path(against)) if against else None
    return audit(c.app, key, against=doc).as_dict()


def read_checkpoint(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(_("cannot read the checkpoint {path}: {reason}", path=path,
                             reason=exc.strerror)) from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(_("{path} is not a torchflow audit checkpoint (not JSON)",
                             path=path)) from None


def audit_checkpoint(c: Call, checkpoint: Fn, /, *, out: str) -> Any:
    doc = checkpoint(c.app)
    body = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    file = Path(out)
    try:
        # Written aside with its mode ([files] group) and renamed: a crash never
        # leaves half a checkpoint.
        with replacing(file, c.settings.files) as tmp:
            tmp.write_text(body, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(_("cannot write the checkpoint {path}: {reason}", path=file,
                             reason=exc.strerror)) from None
    return {"file": out, "cases": len(doc["cases"]), "events": doc["events"],
            "signed": doc["signature"] is not None}


# --- the scheduler ---------------------------------------------------------------------------

def scheduler_tick(c: Call, tick_once: Fn, /) -> Any:
    # Signals belong to the main thread: the CLI's own process, not a server's worker.
    main = threading.current_thread() is threading.main_thread()
    # The process holding the database (embedded: cron, a timer) ticks as the
    # service itself; a caller of the server is a person, whom the use case checks.
    actor = None if c.caller.auth.startswith("os:") else c.actor()
    return tick_once(c.app, actor, signals=main).as_dict()


def scheduler_run(c: Call, service: Fn, /) -> Any:
    return service(c.app).run()


# --- tokens ----------------------------------------------------------------------------------

def token_create(c: Call, create: Fn, /, *, handle: str, label: str = "",
                 expires_days: int = 90) -> Any:
    return create(c.app, c.actor(), handle, label=label, expires=timedelta(days=expires_days))


def token_list(c: Call, list_tokens: Fn, /, *, handle: str | None = None) -> Any:
    return list_tokens(c.app, c.actor(), handle)


def token_revoke(c: Call, revoke: Fn, /, *, token_id: int) -> Any:
    return revoke(c.app, c.actor(), token_id)


# --- the database ----------------------------------------------------------------------------

def database_init(c: Call, upgrade: Fn, first_admin: Fn, acting_admins: Fn, check_handle: Fn,
                  handle_from_login: Fn, /, *, admin: str | None = None) -> Any:
    login = c.caller.login or ""
    handle = admin or handle_from_login(login)
    check_handle(handle)  # before any table is made: nothing half-done
    app = c.app
    before, after = upgrade(app.db)
    added = first_admin(app, handle, login, named=admin is not None)
    return {"database": app.db.engine.url.render_as_string(hide_password=True),
            "before": before, "after": after, "admin": added["handle"] if added else None,
            "login": login, "admins": acting_admins(app) if not added else None}

