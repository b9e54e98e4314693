"""Real `torchflow scheduler tick` processes route an absent person's notices to
the substitute and hold a quiet-hours notice: two ticks at once double nothing,
and the held notice goes with the first tick after the quiet hours end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import PI_FIELDS
from torchflow.domain.routing import parse_quiet
from torchflow.service.app import App
from torchflow.service.cases.change import open_case
from torchflow.service.people.absences import record_absence
from torchflow.service.people.lookup import resolve_actor
from torchflow.service.people.notify import set_notify
from torchflow.service.people.staff import add_person
from torchflow.store.models import NOTICES

pytestmark = pytest.mark.slow

TORCHFLOW = str(Path(sys.executable).with_name("torchflow"))


def tick(config: Path, now: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
    env.update(TORCHFLOW_NOW=now, PYTHONUNBUFFERED="1")
    return subprocess.Popen([TORCHFLOW, "--config", str(config), "scheduler", "tick"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


def run_ticks(config: Path, now: str, count: int) -> None:
    procs = [tick(config, now) for _ in range(count)]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out.decode(errors="replace")


def test_ticks_route_to_the_substitute_and_release_held_notices_once(
    app: App, config_file: Path, tmp_path: Path
) -> None:
    for handle, roles in (("wang.li", ["coordinator"]), ("zhao.min", ["coordinator"]),
                          ("chen.jie", ["director"])):
        add_person(app, handle, name=handle.title(), roles=roles)
    wang, zhao = resolve_actor(app, "wang.li"), resolve_actor(app, "zhao.min")
    key = str(open_case(app, wang, "project_introduction", title="Fuel cells",
                        fields=PI_FIELDS)["key"])
    record_absence(app, wang, "wang.li", starts=date(2026, 3, 16), ends=date(2026, 3, 20),
                   substitute="zhao.min")
    set_notify(app, zhao, "zhao.min", quiet=parse_quiet("09:00-09:45"))

    run_ticks(config_file, "2026-03-16T09:30:00+08:00", 2)  # two at once, inside quiet hours
    with app.db.read() as s:
        [row] = s.execute(select(NOTICES).where(NOTICES.c.kind == "upcoming")).all()
    assert (row.recipient, row.for_person, row.status) == ("zhao.min", "wang.li", "pending")
    assert row.reason == ("for wang.li, away until 2026-03-20; "
                          "held until 2026-03-16T09:45+08:00 (quiet hours)")
    outbox = tmp_path / "outbox.jsonl"
    assert not outbox.exists() or outbox.read_text() == ""

    run_ticks(config_file, "2026-03-16T09:46:00+08:00", 2)
    with app.db.read() as s:
        statuses = s.execute(select(NOTICES.c.kind, NOTICES.c.status)).all()
    assert sorted(map(tuple, statuses)) == [("upcoming", "sent")]
    [sent] = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert sent["recipient"] == "zhao.min" and key in sent["subject"]
    assert "for wang.li, away until 2026-03-20" in sent["subject"]
