"""Adapters: operations whose service functions do not take ``(app, actor,
**params)`` as they are, or that check a permission first, or put two calls
together. Each is named for its operation (``case.list`` -> ``case_list``) and
receives the call and the functions the table names, in that order: no
service is imported here, so moving one changes only its string in the table.

The permission checks here are the ones the CLI made before calling (issue 14
moves them into the use cases); what each returns is plain data, the same for
the CLI in-process and for a client of the server.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchflow.errors import InvalidInput, UsageError
from torchflow.files import replacing
from torchflow.i18n import N_, _

if TYPE_CHECKING:
    from torchflow.api.invoke import Call

Fn = Callable[..., Any]


# --- cases -----------------------------------------------------------------------------------

def case_list(c: Call, list_cases: Fn, /, *, mine: bool = False, owner: str | None = None,
              **filters: Any) -> Any:
    if mine and owner:
        raise UsageError(_("--mine and --owner exclude each other; use one"))
    if mine:
        owner = c.actor().handle
    return list_cases(c.app, owner=owner, **filters)


def case_show(c: Call, show_case: Fn, /, *, key: str) -> Any:
    reader = c.reader()
    return show_case(c.app, key, reader.roles if reader else None)


def case_advance(c: Call, advance: Fn, /, *, key: str, trigger: str, **options: Any) -> Any:
    return advance(c.app, c.actor(), key, trigger, **options).__dict__


def case_log(c: Call, log_followup: Fn, /, *, key: str, kind: str, note: str | None = None,
             at: date | datetime | None = None) -> Any:
    return log_followup(c.app, c.actor(), key, kind, note=note,
                        at=None if at is None else instant(c, at))


def instant(c: Call, when: date | datetime) -> datetime:
    """A given --at in the office's zone: a day means noon there, a time without
    an offset is local."""
    cal = c.app.calendar
    if not isinstance(when, datetime):
        return cal.at(when, time(12, 0))
    return when if when.tzinfo else cal.at(when.date(), when.time())


def case_revert(c: Call, revert: Fn, outcome_view: Fn, /, *, key: str) -> Any:
    return outcome_view(revert(c.app, c.require("workflow.migrate"), key))


# --- tasks -----------------------------------------------------------------------------------

def task_list(c: Call, list_tasks: Fn, /, *, mine: bool = False, assignee: str | None = None,
              **filters: Any) -> Any:
    if mine and assignee:
        raise UsageError(_("--mine and --assignee exclude each other; use one"))
    who = c.actor().handle if mine else assignee
    return list_tasks(c.app, assignee=who, **filters)


def task_agenda_ics(c: Call, agenda_ics: Fn, write_ics: Fn, /, *, out: str,
                    person: str | None = None, days: int = 14) -> Any:
    write_ics(Path(out), agenda_ics(c.app, person=person, days=days), c.settings.files)
    return {"file": out, "person": person, "days": days}


# --- notices ---------------------------------------------------------------------------------

def notice_retry(c: Call, retry: Fn, /, *, notice_id: int) -> Any:
    c.require("notice.retry")
    return _retried(retry(c.app, notice_id))


def notice_retry_dead(c: Call, retry_dead: Fn, /, **filters: Any) -> Any:
    c.require("notice.retry")
    return _retried(retry_dead(c.app, **filters))


def _retried(result: Any) -> dict[str, Any]:
    return {"ids": list(result.ids), "count": result.count}


# --- people ----------------------------------------------------------------------------------

def person_roles(_c: Call, permissions: dict[str, tuple[str, str]], /) -> Any:
    rows = [{"action": a, "role": r, "what": w} for a, (r, w) in permissions.items()]
    # Message ids, as the table's: the CLI shows them in the reader's language.
    rows.append({"action": "case.edit", "role": N_("owner, assignees or admin"),
                 "what": N_("set a case's fields, add notes (`case set`, `case note`)")})
    rows.append({"action": "case.advance", "role": N_("as the workflow says"),
                 "what": N_("fire a transition (its `roles` in the workflow file)")})
    return rows


def person_add(c: Call, add_person: Fn, /, *, handle: str, **details: Any) -> Any:
    c.require("person.add")
    return add_person(c.app, handle, **details)


def person_edit(c: Call, edit_person: Fn, rotate_token: Fn, /, *, handle: str,
                new_feed_token: bool = False, **changes: Any) -> Any:
    if not changes and not new_feed_token:
        raise UsageError(_("nothing to change; give e.g. --email or --add-role"))
    if changes.get("add_roles") or changes.get("remove_roles"):
        c.require("person.roles")
    if changes:
        c.require("person.edit")
    if new_feed_token and c.actor().handle != handle:
        c.require("person.feed_token")
    result = edit_person(c.app, handle, **changes) if changes else {"handle": handle}
    if new_feed_token:
        result = {**result, "feed_file": rotate_token(c.app, handle)["file"]}
    return result


def person_deactivate(c: Call, set_active: Fn, /, *, handle: str,
                      handover_to: str | None = None) -> Any:
    actor = c.require("person.deactivate")
    if handover_to:
        c.require("person.handover")
    return set_active(c.app, handle, False, handover_to=handover_to, actor=actor)


def person_reactivate(c: Call, set_active: Fn, /, *, handle: str) -> Any:
    c.require("person.reactivate")
    return set_active(c.app, handle, True)


def person_handover(c: Call, handover: Fn, /, *, handle: str, to: str,
                    deactivate: bool = False) -> Any:
    actor = c.require("person.handover")
    if deactivate:
        c.require("person.deactivate")
    result = handover(c.app, actor, handle, to, deactivate=deactivate)
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


def person_feed_token(c: Call, show_token: Fn, /, *, handle: str) -> Any:
    _own_feed(c, handle)
    return show_token(c.app, handle)


def person_feed_token_rotate(c: Call, rotate_token: Fn, /, *, handle: str) -> Any:
    _own_feed(c, handle)
    return rotate_token(c.app, handle)


def _own_feed(c: Call, handle: str) -> None:
    # The token is a secret (whoever knows it reads the feed): one's own, or an admin.
    if c.actor().handle != handle:
        c.require("person.feed_token")


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
    actor = None if dry_run else c.require("workflow.migrate")
    planned = plan(c.app, name, to_version, mapping=mapping or {}, case_key=case_key,
                   allow_terminal=allow_terminal, store=not dry_run)
    if actor is None:
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
    actor = c.require("replan")
    return apply(app, actor.handle, entered_by=actor.entered_by)


# --- spreadsheets ----------------------------------------------------------------------------

def import_cases(c: Call, import_cases: Fn, /, *, workflow: str, file: str,
                 skip_bad: str | None = None, progress: Fn | None = None,
                 **options: Any) -> Any:
    result = import_cases(c.app, c.actor(), workflow, Path(file),
                          skip_bad=None if skip_bad is None else Path(skip_bad),
                          progress=progress, **options)
    return result.view()


def import_people(c: Call, import_people: Fn, /, *, file: str, dry_run: bool = False) -> Any:
    if not dry_run:
        c.require("person.add")
    return import_people(c.app, Path(file), dry_run=dry_run)


# --- reports ---------------------------------------------------------------------------------

def _filters(c: Call, filters: Fn, resolve: Fn, *, start: date | None = None,
             end: date | None = None, period: str | None = None, **extra: Any) -> Any:
    app = c.app
    span = resolve(period, start, end, app.calendar.local_date(app.now()))
    return filters(period=span, **extra)


def report_run(c: Call, run: Fn, filters: Fn, resolve: Fn, /, *, name: str, **span: Any) -> Any:
    return run(c.app, name, _filters(c, filters, resolve, **span))


def report_file(c: Call, run: Fn, english: Fn, filters: Fn, resolve: Fn, write_csv: Fn,
                write_xlsx: Fn, draw: Fn, /, *, name: str, out: str, format: str,
                **span: Any) -> Any:
    if not Path(out).parent.is_dir():  # as a client finds it: one wording in either mode
        raise InvalidInput(_("cannot write {path}: {reason}", path=out,
                             reason=os.strerror(2)))
    doc = run(c.app, name, _filters(c, filters, resolve, **span))
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
    return tick_once(c.app, signals=main).as_dict()


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

