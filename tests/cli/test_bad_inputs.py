"""A sweep of bad inputs across every command: each is exit 1 (refused) or 2
(usage), exactly one line on stderr that says what is wrong, nothing on stdout,
never a traceback, and the database exactly as it was.

One database serves the whole module (copied from the migrated template): every
input here is refused, and each test compares a snapshot of every table before
and after, so one input that wrote something fails on its own. Inputs that could
loop forever (a zero batch size) run in a subprocess under a timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import Engine

from tests.cli.conftest import NOW, PI_FIELDS, Cli, seed_office
from tests.conftest import WORKFLOWS, _postgres_database, _url_of, is_postgres
from torchflow.cli.main import cli as torchflow

BIDI = "\u202e"
SURROGATE = "caf\udce9"  # 'café' in Latin-1 bytes, as click decodes a non-UTF-8 argv
FUTURE = "2026-03-05"
LONG = "x" * 301
HUGE = str(10**20)
OPEN = ("case", "open", "project_introduction")
FIELDS = tuple(arg for pair in PI_FIELDS for arg in ("--field", pair))


class World:
    """The module's database and config, with a case in negotiation (open tasks)."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder, self.url = folder, url
        self.config = folder / "config.toml"
        self.base = (
            f'[database]\nurl = "{url}"\nbusy_timeout_seconds = 1\n\n'
            f'[workflows]\ndirectory = "{WORKFLOWS}"\n\n'
            f'[notify.file]\npath = "{folder / "outbox.jsonl"}"\n'
        )
        self.config.write_text(self.base, encoding="utf-8")
        self.engine: Engine = create_engine(url)
        self.task = 0  # an open task, set once the world is made

    def variant(self, name: str, extra: str) -> Path:
        """A config with one more table (or a whole replacement when it has [database])."""
        path = self.folder / f"{name}.toml"
        body = extra if "[database]" in extra else self.base + "\n" + extra
        path.write_text(body, encoding="utf-8")
        return path

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            return {t: sorted(map(tuple, conn.execute(select(text("*")).select_from(text(t)))),
                              key=repr) for t in tables}


@pytest.fixture(scope="module")
def world(template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("bad-inputs")
    if is_postgres():
        with _postgres_database("tf_bad", template) as name:
            yield from _prepared(folder, _url_of(name))
        return
    path = folder / "torchflow.db"
    shutil.copyfile(template, path)
    yield from _prepared(folder, f"sqlite:///{path}")


def _prepared(folder: Path, url: str) -> Iterator[World]:
    w = World(folder, url)
    tool = seed_office(Cli(w.config))
    tool.ok("person", "add", "gone.away", "--name", "Gone Away", "--role", "coordinator")
    tool.ok("person", "handover", "gone.away", "wang.li", "--deactivate")
    key = tool.open_pi()
    tool.to_negotiation(key)
    w.task = tool.open_tasks(key)["negotiation.contact"]["id"]
    tool.ok("case", "open", "project_introduction", "--title", "second", *FIELDS, as_="wang.li")
    try:
        yield w
    finally:
        w.engine.dispose()


def _config_cases() -> list[Any]:
    """Config files that are wrong, each against a command that reads them."""
    bad = {
        "batch-half": "[scheduler]\nbatch_size = 0.5\n",
        "batch-zero": "[scheduler]\nbatch_size = 0\n",
        "batch-negative": "[scheduler]\nbatch_size = -3\n",
        "batch-text": '[scheduler]\nbatch_size = "10"\n',
        "batch-bool": "[scheduler]\nbatch_size = true\n",
        "batch-huge": "[scheduler]\nbatch_size = 1000000000\n",
        "attempts-zero": "[scheduler]\nmax_attempts = 0\n",
        "attempts-float": "[scheduler]\nmax_attempts = 2.5\n",
        "interval-zero": "[scheduler]\ninterval_seconds = 0\n",
        "interval-inf": "[scheduler]\ninterval_seconds = inf\n",
        "interval-nan": "[scheduler]\ninterval_seconds = nan\n",
        "interval-text": '[scheduler]\ninterval_seconds = "60"\n',
        "interval-huge": "[scheduler]\ninterval_seconds = 1e12\n",
        "lease-zero": "[scheduler]\nlease_seconds = 0\n",
        "lease-inf": "[scheduler]\nlease_seconds = inf\n",
        "backoff-order": "[scheduler]\nbackoff_base_seconds = 100\nbackoff_max_seconds = 10\n",
        "backoff-negative": "[scheduler]\nbackoff_base_seconds = -1\n",
        "digest-25h": '[scheduler]\ndigest_time = "25:00"\n',
        "digest-number": "[scheduler]\ndigest_time = 930\n",
        "scheduler-typo": "[scheduler]\nbatchsize = 5\n",
        "scheduler-not-table": "scheduler = 5\n",
        "section-typo": "[schedular]\nbatch_size = 5\n",
        "zone-unknown": '[calendar]\ntimezone = "Mars/Olympus"\n',
        "zone-empty": '[calendar]\ntimezone = ""\n',
        "zone-number": "[calendar]\ntimezone = 8\n",
        "workday-order": '[calendar]\nworkday_start = "18:00"\nworkday_end = "09:00"\n',
        "blackout-not-list": '[calendar]\nblackout = "2026-01-01"\n',
        "blackout-bad-date": '[calendar]\nblackout = ["2026-02-30"]\n',
        "channel-unknown": '[notify]\ndefault_channel = "fax"\n',
        "smtp-port-zero": "[notify.smtp]\nport = 0\n",
        "smtp-port-big": "[notify.smtp]\nport = 70000\n",
        "smtp-port-text": '[notify.smtp]\nport = "25"\n',
        "smtp-security": '[notify.smtp]\nsecurity = "tls"\n',
        "smtp-timeout-vs-lease": "[notify.smtp]\ntimeout_seconds = 200\n",
        "webhook-timeout-vs-lease": "[scheduler]\nlease_seconds = 5\n[notify.webhook]\n"
                                    "timeout_seconds = 3\n",
        "webhook-unsigned-text": '[notify.webhook]\nallow_unsigned = "yes"\n',
        "webhook-typo": "[notify.webhook]\nsecret = \"x\"\n",
        "file-path-number": "[notify.file]\npath = 5\n",
        "busy-negative": '[database]\nurl = "sqlite:///x.db"\nbusy_timeout_seconds = -1\n',
        "url-number": "[database]\nurl = 5\n",
        "url-garbage": '[database]\nurl = "nonsense"\n',
        "url-port": '[database]\nurl = "postgresql://u@127.0.0.1:99999/db"\n',
        "not-toml": "[scheduler\nbatch_size = 1\n",
        "workflows-number": "[workflows]\ndirectory = 5\n",
    }
    commands = {"batch-half": ("scheduler", "tick"), "batch-zero": ("scheduler", "tick"),
                "interval-zero": ("scheduler", "run"), "attempts-zero": ("scheduler", "tick")}
    return [pytest.param(("case", "list"), {"config": (name, body),
                                            "args": commands.get(name, ("case", "list")),
                                            "proc": name in commands}, id=f"config-{name}")
            for name, body in bad.items()]


def _cases() -> list[Any]:
    k = "PI-2026-0001"
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        # top level and the environment
        ("unknown-command", ("cases", "list"), {}),
        ("unknown-global-option", ("--bogus", "case", "list"), {}),
        ("config-missing", ("--config", "/no/such/config.toml", "case", "list"), {"raw": True}),
        ("config-folder", ("--config", "/tmp", "case", "list"), {"raw": True}),
        ("now-garbage", ("case", "list"), {"now": "garbage"}),
        ("now-naive", ("case", "list"), {"now": "2026-03-04T09:30:00"}),
        ("now-feb-30", ("case", "list"), {"now": "2026-02-30T00:00:00Z"}),
        ("now-9999-tick", ("scheduler", "tick"), {"now": "9999-12-31T20:00:00+00:00"}),
        ("now-9999-open", (*OPEN, "--title", "t", *FIELDS), {"now": "9999-12-31T20:00:00+00:00"}),
        ("now-9999-agenda", ("agenda",), {"now": "9999-12-31T20:00:00+00:00"}),
        ("now-9999-tasks", ("task", "list"), {"now": "9999-12-31T23:59:59-12:00"}),
        ("now-year-1", ("case", "contact", k), {"now": "0001-01-01T00:00:00+00:00"}),
        ("as-unknown", ("case", "note", k, "x"), {"as_": "nobody"}),
        ("as-inactive", ("case", "note", k, "x"), {"as_": "gone.away"}),
        ("as-control", ("case", "note", k, "x"), {"as_": "wang\x1b[31m.li"}),
        ("as-newline", ("case", "note", k, "x"), {"as_": "wang.li\nroot"}),
        ("as-surrogate", ("case", "note", k, "x"), {"as_": SURROGATE}),
        # case open
        ("open-unknown-workflow", ("case", "open", "nope", "--title", "t"), {}),
        ("open-workflow-control", ("case", "open", "no\x1bpe", "--title", "t"), {}),
        ("open-no-title", OPEN, {}),
        ("open-title-empty", (*OPEN, "--title", "", *FIELDS), {}),
        ("open-title-blank", (*OPEN, "--title", "   ", *FIELDS), {}),
        ("open-title-301", (*OPEN, "--title", LONG, *FIELDS), {}),
        ("open-title-newline", (*OPEN, "--title", "a\nb", *FIELDS), {}),
        ("open-title-ansi", (*OPEN, "--title", "\x1b[31mred", *FIELDS), {}),
        ("open-title-bidi", (*OPEN, "--title", f"abc{BIDI}def", *FIELDS), {}),
        ("open-title-nul", (*OPEN, "--title", "a\x00b", *FIELDS), {}),
        ("open-title-del", (*OPEN, "--title", "a\x7fb", *FIELDS), {}),
        ("open-title-non-utf8", (*OPEN, "--title", SURROGATE, *FIELDS), {}),
        ("open-field-no-equals", (*OPEN, "--title", "t", "--field", "industry"), {}),
        ("open-field-no-name", (*OPEN, "--title", "t", "--field", "=x"), {}),
        ("open-field-unknown", (*OPEN, "--title", "t", *FIELDS, "--field", "colour=red"), {}),
        ("open-field-number-text", (*OPEN, "--title", "t", *FIELDS[:-1],
                                    "planned_investment=lots"), {}),
        ("open-field-choice", (*OPEN, "--title", "t", "--field", "industry=mining",
                               *FIELDS[2:]), {}),
        ("open-missing-required", (*OPEN, "--title", "t"), {}),
        ("open-owner-unknown", (*OPEN, "--title", "t", *FIELDS, "--owner", "nobody"), {}),
        ("open-owner-inactive", (*OPEN, "--title", "t", *FIELDS, "--owner", "gone.away"), {}),
        ("open-owner-control", (*OPEN, "--title", "t", *FIELDS, "--owner", "a\x1bb"), {}),
        ("open-no-workflow", ("case", "open"), {}),
        # case list
        *[(f"list-limit-{v}", ("case", "list", "--limit", v), {})
          for v in ("0", "-1", HUGE, "abc", "100001", "1.5")],
        *[(f"list-offset-{v}", ("case", "list", "--offset", v), {}) for v in ("-1", HUGE, "x")],
        ("list-workflow-unknown", ("case", "list", "--workflow", "nope"), {}),
        ("list-state-unknown", ("case", "list", "--state", "nowhere"), {}),
        ("list-state-other-workflow", ("case", "list", "--workflow", "talent_docking",
                                       "--state", "negotiation"), {}),
        ("list-owner-unknown", ("case", "list", "--owner", "nobody"), {}),
        ("list-bogus", ("case", "list", "--bogus"), {}),
        ("list-json-value", ("case", "list", "--json=yes"), {}),
        # case show / history
        ("show-unknown", ("case", "show", "XX-2026-0001"), {}),
        ("show-control", ("case", "show", "PI\x1b[2J"), {}),
        ("show-newline", ("case", "show", "PI-2026-0001\nX"), {}),
        ("show-non-utf8", ("case", "show", SURROGATE), {}),
        ("show-long", ("case", "show", "P" * 5000), {}),
        ("show-missing", ("case", "show"), {}),
        ("history-unknown", ("case", "history", "XX-1"), {}),
        ("history-missing", ("case", "history"), {}),
        # case advance
        ("advance-unknown-trigger", ("case", "advance", k, "fly"), {}),
        ("advance-unknown-key", ("case", "advance", "XX-1", "sign"), {}),
        ("advance-missing-trigger", ("case", "advance", k), {}),
        *[(f"advance-if-version-{v}", ("case", "advance", k, "hold", "--if-version", v), {})
          for v in ("0", "-1", "abc", HUGE, "99")],
        ("advance-field-bad", ("case", "advance", k, "hold", "--field", "x"), {}),
        ("advance-field-unknown", ("case", "advance", k, "hold", "--field", "x=1"), {}),
        ("advance-note-nul", ("case", "advance", k, "hold", "--note", "a\x00"), {}),
        ("advance-note-ansi", ("case", "advance", k, "hold", "--note", "\x1b]0;title\x07"), {}),
        ("advance-note-long", ("case", "advance", k, "hold", "--note", "n" * 10_001), {}),
        ("advance-role", ("case", "advance", k, "sign"), {"as_": "sun.hao"}),
        ("advance-clear-required", ("case", "advance", k, "hold", "--field", "enterprise="), {}),
        # case note / set / assign
        ("note-empty", ("case", "note", k, ""), {}),
        ("note-blank", ("case", "note", k, "  \n "), {}),
        ("note-long", ("case", "note", k, "n" * 10_001), {}),
        ("note-nul", ("case", "note", k, "a\x00b"), {}),
        ("note-escape", ("case", "note", k, "\x1b[2Jgone"), {}),
        ("note-bidi", ("case", "note", k, f"ok{BIDI}"), {}),
        ("note-non-utf8", ("case", "note", k, SURROGATE), {}),
        ("note-unknown-key", ("case", "note", "XX-1", "x"), {}),
        ("note-missing", ("case", "note", k), {}),
        ("set-nothing", ("case", "set", k), {}),
        ("set-no-equals", ("case", "set", k, "industry"), {}),
        ("set-unknown-field", ("case", "set", k, "colour=red"), {}),
        ("set-bad-number", ("case", "set", k, "planned_investment=lots"), {}),
        ("set-clear-required", ("case", "set", k, "enterprise="), {}),
        ("set-unknown-key", ("case", "set", "XX-1", "industry=x"), {}),
        ("set-bad-choice", ("case", "set", k, "industry=mining"), {}),
        ("assign-unknown", ("case", "assign", k, "nobody"), {"as_": "chen.jie"}),
        ("assign-inactive", ("case", "assign", k, "gone.away"), {"as_": "chen.jie"}),
        ("assign-unknown-key", ("case", "assign", "XX-1", "zhao.min"), {"as_": "chen.jie"}),
        ("assign-missing", ("case", "assign", k), {}),
    ]
    for kind in ("contact", "visit"):
        cases += [
            (f"{kind}-at-garbage", ("case", kind, k, "--at", "yesterday"), {}),
            (f"{kind}-at-9999", ("case", kind, k, "--at", "9999-12-31"), {}),
            (f"{kind}-at-year-1", ("case", kind, k, "--at", "0001-01-01"), {}),
            (f"{kind}-at-future", ("case", kind, k, "--at", FUTURE), {}),
            (f"{kind}-at-before-open", ("case", kind, k, "--at", "2026-03-01"), {}),
            (f"{kind}-at-hour-25", ("case", kind, k, "--at", "2026-03-04T25:00"), {}),
            (f"{kind}-at-offset", ("case", kind, k, "--at", "2026-03-04T09:00+25:00"), {}),
            (f"{kind}-at-empty", ("case", kind, k, "--at", ""), {}),
            (f"{kind}-note-bell", ("case", kind, k, "--note", "ding\x07"), {}),
            (f"{kind}-note-long", ("case", kind, k, "--note", "n" * 10_001), {}),
            (f"{kind}-unknown-key", ("case", kind, "XX-1"), {}),
        ]
    cases += [
        # task list
        ("tasks-due-huge", ("task", "list", "--due-within", "99999999d"), {}),
        ("tasks-due-words", ("task", "list", "--due-within", "3 days"), {}),
        ("tasks-due-negative", ("task", "list", "--due-within", "-1d"), {}),
        ("tasks-due-years", ("task", "list", "--due-within", "1y"), {}),
        ("tasks-due-empty", ("task", "list", "--due-within", ""), {}),
        ("tasks-due-weeks-huge", ("task", "list", "--due-within", "999999w"), {}),
        ("tasks-kind", ("task", "list", "--kind", "call"), {}),
        ("tasks-limit-huge", ("task", "list", "--limit", HUGE), {}),
        ("tasks-offset-negative", ("task", "list", "--offset", "-1"), {}),
        ("tasks-assignee-unknown", ("task", "list", "--assignee", "nobody"), {}),
        ("tasks-mine-nobody", ("task", "list", "--mine"), {"as_": "system"}),
        ("tasks-mine-and-assignee", ("task", "list", "--mine", "--assignee", "zhao.min"), {}),
    ]
    for command in ("done", "snooze", "reassign"):
        extra = {"done": (), "snooze": ("--to", "2026-03-20", "--reason", "x"),
                 "reassign": ("zhao.min",)}[command]
        cases += [(f"{command}-id-{v}", ("task", command, v, *extra), {})
                  for v in ("0", "-1", "abc", HUGE, "999999", "1.5")]
    cases += [
        ("done-closed-task", ("task", "done", "1"), {}),
        ("done-note-nul", ("task", "done", "{task}", "--note", "\x00"), {}),
        ("done-note-long", ("task", "done", "{task}", "--note", "n" * 10_001), {}),
        ("done-missing", ("task", "done"), {}),
        ("snooze-9999", ("task", "snooze", "{task}", "--to", "9999-12-31", "--reason", "x"), {}),
        ("snooze-2199", ("task", "snooze", "{task}", "--to", "2199-12-31", "--reason", "x"), {}),
        ("snooze-feb-30", ("task", "snooze", "{task}", "--to", "2026-02-30", "--reason", "x"), {}),
        ("snooze-past", ("task", "snooze", "{task}", "--to", "2026-03-03", "--reason", "x"), {}),
        ("snooze-words", ("task", "snooze", "{task}", "--to", "next week", "--reason", "x"), {}),
        ("snooze-year-1", ("task", "snooze", "{task}", "--to", "0001-01-01", "--reason", "x"), {}),
        ("snooze-instant", ("task", "snooze", "{task}", "--to", "2026-03-20T10:00",
                            "--reason", "x"), {}),
        ("snooze-reason-empty", ("task", "snooze", "{task}", "--to", "2026-03-20",
                                 "--reason", ""), {}),
        ("snooze-reason-nul", ("task", "snooze", "{task}", "--to", "2026-03-20",
                               "--reason", "\x00"), {}),
        ("snooze-no-reason", ("task", "snooze", "{task}", "--to", "2026-03-20"), {}),
        ("snooze-no-to", ("task", "snooze", "{task}", "--reason", "x"), {}),
        ("snooze-closed-task", ("task", "snooze", "1", "--to", "2026-03-20", "--reason", "x"), {}),
        ("reassign-unknown", ("task", "reassign", "{task}", "nobody"), {}),
        ("reassign-inactive", ("task", "reassign", "{task}", "gone.away"), {}),
        ("reassign-control", ("task", "reassign", "{task}", "x\x1by"), {}),
        ("reassign-missing", ("task", "reassign", "{task}"), {}),
        # notices
        *[(f"notices-limit-{v}", ("notice", "list", "--limit", v), {})
          for v in (HUGE, "0", "-1", "x")],
        ("notices-offset-negative", ("notice", "list", "--offset", "-5"), {}),
        ("notices-status", ("notice", "list", "--status", "lost"), {}),
        ("notices-to-unknown", ("notice", "list", "--to", "nobody"), {}),
        *[(f"retry-{v}", ("notice", "retry", v), {}) for v in (HUGE, "0", "abc", "999999")],
        # people
        ("person-handle-space", ("person", "add", "Bad Handle", "--name", "X"), {}),
        ("person-handle-upper", ("person", "add", "WANG", "--name", "X"), {}),
        ("person-handle-65", ("person", "add", "a" * 65, "--name", "X"), {}),
        ("person-handle-newline", ("person", "add", "new.one\n", "--name", "X"), {}),
        ("person-handle-ansi", ("person", "add", "a\x1b[1m", "--name", "X"), {}),
        ("person-handle-non-utf8", ("person", "add", SURROGATE, "--name", "X"), {}),
        ("person-handle-exists", ("person", "add", "wang.li", "--name", "X"), {}),
        ("person-name-empty", ("person", "add", "new.one", "--name", ""), {}),
        ("person-name-201", ("person", "add", "new.one", "--name", "n" * 201), {}),
        ("person-name-ansi", ("person", "add", "new.one", "--name", "\x1b[31mX"), {}),
        ("person-name-newline", ("person", "add", "new.one", "--name", "A\nB"), {}),
        ("person-name-bidi", ("person", "add", "new.one", "--name", f"A{BIDI}B"), {}),
        ("person-no-name", ("person", "add", "new.one"), {}),
        ("person-email-bad", ("person", "add", "new.one", "--name", "X", "--email", "nope"), {}),
        ("person-email-long", ("person", "add", "new.one", "--name", "X", "--email",
                               "a" * 320 + "@x.cn"), {}),
        ("person-email-control", ("person", "add", "new.one", "--name", "X", "--email",
                                  "a@b\x1b.cn"), {}),
        ("person-role-bad", ("person", "add", "new.one", "--name", "X", "--role", "Big Boss"),
         {}),
        ("person-channel", ("person", "add", "new.one", "--name", "X", "--channel", "fax"), {}),
        ("person-address-newline", ("person", "add", "new.one", "--name", "X", "--address",
                                    "http://a\nb"), {}),
        ("person-address-long", ("person", "add", "new.one", "--name", "X", "--address",
                                 "http://" + "a" * 500), {}),
        ("person-login-space", ("person", "add", "new.one", "--name", "X", "--login", "a b"), {}),
        ("person-login-taken", ("person", "add", "new.one", "--name", "X", "--login",
                                "zhao.min"), {}),
        ("person-reserved", ("person", "add", "system", "--name", "X"), {}),
        ("person-webhook-no-url", ("person", "add", "new.one", "--name", "X", "--channel",
                                   "webhook"), {}),
        ("person-smtp-no-email", ("person", "add", "new.one", "--name", "X", "--channel",
                                  "smtp"), {}),
        ("edit-nothing", ("person", "edit", "wang.li"), {}),
        ("edit-unknown", ("person", "edit", "nobody", "--name", "X"), {}),
        ("edit-email-bad", ("person", "edit", "wang.li", "--email", "nope"), {}),
        ("edit-name-empty", ("person", "edit", "wang.li", "--name", " "), {}),
        ("edit-webhook-no-url", ("person", "edit", "wang.li", "--channel", "webhook"), {}),
        ("edit-remove-missing-login", ("person", "edit", "wang.li", "--remove-login", "zz"), {}),
        ("edit-role-bad", ("person", "edit", "wang.li", "--add-role", "Big Boss"), {}),
        ("edit-by-coordinator", ("person", "edit", "zhao.min", "--name", "Z"), {"as_": None,
                                                                               "login": "wang.li"}),
        ("deactivate-with-work", ("person", "deactivate", "wang.li"), {}),
        ("deactivate-unknown", ("person", "deactivate", "nobody"), {}),
        ("deactivate-handover-unknown", ("person", "deactivate", "zhao.min", "--handover-to",
                                         "nobody"), {}),
        ("reactivate-unknown", ("person", "reactivate", "nobody"), {}),
        ("show-unknown", ("person", "show", "nobody"), {}),
        ("as-system", ("case", "list", "--mine"), {"as_": "system"}),
        ("grants-bad-person", ("db", "grants", "--person", 'x"; DROP TABLE cases'), {}),
        ("people-limit-zero", ("person", "list", "--limit", "0"), {}),
        ("people-offset-negative", ("person", "list", "--offset", "-1"), {}),
        ("handover-same", ("person", "handover", "wang.li", "wang.li"), {}),
        ("handover-by-director", ("person", "handover", "wang.li", "zhao.min"),
         {"as_": None, "login": "chen.jie"}),
        ("handover-from-unknown", ("person", "handover", "nobody", "wang.li"),
         {"as_": "chen.jie"}),
        ("handover-to-unknown", ("person", "handover", "wang.li", "nobody"), {"as_": "chen.jie"}),
        ("handover-to-inactive", ("person", "handover", "wang.li", "gone.away"),
         {"as_": "chen.jie"}),
        # absences and how each person is told
        ("away-no-substitute", ("person", "away", "wang.li", "--from", "2026-03-20",
                                "--to", "2026-03-27"), {}),
        ("away-date-bad", ("person", "away", "wang.li", "--from", "2026-13-01", "--to",
                           "2026-03-27", "--substitute", "zhao.min"), {}),
        ("away-to-before-from", ("person", "away", "wang.li", "--from", "2026-03-27", "--to",
                                 "2026-03-20", "--substitute", "zhao.min"), {}),
        ("away-in-the-past", ("person", "away", "wang.li", "--from", "2026-01-05", "--to",
                              "2026-01-09", "--substitute", "zhao.min"), {}),
        ("away-self-substitute", ("person", "away", "wang.li", "--from", "2026-03-20", "--to",
                                  "2026-03-27", "--substitute", "wang.li"), {}),
        ("away-substitute-unknown", ("person", "away", "wang.li", "--from", "2026-03-20",
                                     "--to", "2026-03-27", "--substitute", "nobody"), {}),
        ("away-substitute-inactive", ("person", "away", "wang.li", "--from", "2026-03-20",
                                      "--to", "2026-03-27", "--substitute", "gone.away"), {}),
        ("away-too-long", ("person", "away", "wang.li", "--from", "2026-03-20", "--to",
                           "2027-06-01", "--substitute", "zhao.min"), {}),
        ("away-reason-newline", ("person", "away", "wang.li", "--from", "2026-03-20", "--to",
                                 "2026-03-27", "--substitute", "zhao.min", "--reason", "a\nb"),
         {}),
        ("away-someone-else", ("person", "away", "zhao.min", "--from", "2026-03-20", "--to",
                               "2026-03-27", "--substitute", "wang.li"),
         {"login": "wang.li", "as_": None}),
        ("back-not-away", ("person", "back", "wang.li"), {}),
        ("back-unknown", ("person", "back", "nobody"), {"as_": "chen.jie"}),
        ("notify-quiet-bad", ("person", "notify", "wang.li", "--quiet", "8pm-8am"), {}),
        ("notify-quiet-same", ("person", "notify", "wang.li", "--quiet", "08:00-08:00"), {}),
        ("notify-quiet-both", ("person", "notify", "wang.li", "--quiet", "20:00-08:00",
                               "--no-quiet"), {}),
        ("notify-fallback-channel", ("person", "notify", "wang.li", "--fallback", "fax:123"), {}),
        ("notify-fallback-no-address", ("person", "notify", "wang.li", "--fallback",
                                        "webhook:"), {}),
        ("notify-fallback-after-0", ("person", "notify", "wang.li", "--fallback-after", "0"), {}),
        ("notify-someone-else", ("person", "notify", "zhao.min", "--digest"),
         {"login": "wang.li", "as_": None}),
        # workflows, audit, agenda, init, demo
        ("workflow-show-unknown", ("workflow", "show", "nope"), {}),
        ("workflow-show-version-0", ("workflow", "show", "project_introduction", "--version", "0"),
         {}),
        ("workflow-show-version-99", ("workflow", "show", "project_introduction", "--version",
                                      "99"), {}),
        ("workflow-show-version-text", ("workflow", "show", "project_introduction", "--version",
                                        "one"), {}),
        ("workflow-diagram-unknown", ("workflow", "diagram", "nope"), {}),
        ("workflow-diagram-format", ("workflow", "diagram", "project_introduction", "--format",
                                     "svg"), {}),
        ("workflow-validate-missing", ("workflow", "validate", "/no/such/file.toml"), {}),
        ("audit-unknown-key", ("audit", "verify", "XX-1"), {}),
        *[(f"agenda-days-{v}", ("agenda", "--days", v), {}) for v in ("0", "91", "abc", HUGE)],
        ("agenda-assignee-unknown", ("agenda", "--assignee", "nobody"), {}),
        ("demo-days-zero", ("demo", "--days", "0"), {}),
        ("demo-days-121", ("demo", "--days", "121"), {}),
        ("demo-dir-file", ("demo", "--dir", "/etc/hostname"), {}),
        ("demo-dir-not-empty", ("demo", "--dir", "/etc"), {}),
        ("demo-dir-unwritable", ("demo", "--dir", "/proc/torchflow-demo"), {}),
    ]
    return [pytest.param(args, opts, id=name) for name, args, opts in cases] + _config_cases()


ALL = _cases()


def test_the_sweep_is_big_enough() -> None:
    assert len(ALL) >= 200


@pytest.mark.parametrize(("args", "opts"), ALL)
def test_a_bad_input_is_one_line_and_writes_nothing(world: World, args: tuple[Any, ...],
                                                    opts: dict[str, Any]) -> None:
    config = world.config
    if "config" in opts:
        config = world.variant(*opts["config"])
        args = opts["args"]
    argv = [] if opts.get("raw") else ["--config", str(config)]
    who = opts.get("as_", "wang.li")
    if who:
        argv += ["--as", who]
    argv += [str(a).replace("{task}", str(world.task)) for a in args]
    env = {"TORCHFLOW_NOW": opts.get("now", NOW), "TORCHFLOW_USER": None,
           "TORCHFLOW_CONFIG": None, "TORCHFLOW_DATABASE_URL": None}
    before = world.snapshot()
    # "login": run from that OS login (a person's own, not the admin's) instead of --as.
    login = (mock.patch("torchflow.cli.context.os_login", return_value=opts["login"])
             if "login" in opts else nullcontext())
    with login:
        code, out, err = (_in_subprocess(argv, env) if opts.get("proc")
                          else _in_process(argv, env))
    assert "Traceback" not in err, err
    assert code in (1, 2), f"exit {code}: {out}{err}"
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    # No [office] in this config: the default language, Chinese.
    assert lines[0].startswith("错误：") and len(lines[0]) > 8
    assert world.snapshot() == before


def _in_process(argv: list[str], env: dict[str, str | None]) -> tuple[int, str, str]:
    result = CliRunner().invoke(torchflow, argv, env=env, prog_name="torchflow")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail(f"TRACEBACK {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, result.stdout, result.stderr


def _in_subprocess(argv: list[str], env: dict[str, str | None]) -> tuple[int, str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in env}
    environ.update({k: v for k, v in env.items() if v is not None})
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from torchflow.cli.main import main; main()", *argv],
            env=environ, capture_output=True, text=True, timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("HANG: the command did not end within 60 s")
    if "Traceback" in done.stderr:
        pytest.fail("TRACEBACK " + done.stderr.strip().splitlines()[-1])
    return done.returncode, done.stdout, done.stderr
