"""Three real `torchflow scheduler run` services on one PostgreSQL database share
one DingTalk robot (a loopback fake that verifies signatures and enforces 20 a
minute over a sliding window): over a backlog of 500 notices they never exceed
its budget, and with one of them killed (SIGKILL) and started again nothing is
lost or sent twice.

The wall clock runs 150 times faster in every process and in the fake
(TORCHFLOW_WALL_SPEED), so the half hour the budget needs takes seconds.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from tests.conftest import is_postgres
from tests.platforms import DingtalkFake, most_in_any_window
from tests.processes.conftest import NOW, Services
from torchflow.service.app import App
from torchflow.service.delivery.gate import CUT_SHORT
from torchflow.store.models import NOTICES

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not is_postgres(), reason=(
    "several services sharing one robot's budget is the PostgreSQL set-up; run with "
    "TORCHFLOW_TEST_DATABASE=postgresql+psycopg://..."))]

TOKEN, SECRET = "ding-robot-token", "SECding-robot-secret"
SPEED = 150.0
BACKLOG = 500


def accelerated(epoch: float) -> float:
    return epoch + (time.time() - epoch) * SPEED


def config(config_file: Path, url: str) -> Path:
    """Leases and backoff in the accelerated seconds; ticks a fifth of a real second."""
    text = config_file.read_text(encoding="utf-8")
    text = text.replace("interval_seconds = 1\n", "interval_seconds = 0.15\n")
    text = text.replace("lease_seconds = 5\n", "lease_seconds = 3000\n")
    text = text.replace("backoff_base_seconds = 1\n", "backoff_base_seconds = 60\n")
    text = text.replace("backoff_max_seconds = 4\n", "backoff_max_seconds = 600\n")
    text = text.replace('[notify]\nallow_hosts = ["127.0.0.1"]\n',
                        '[notify]\nallow_hosts = ["127.0.0.1"]\nfold_after_minutes = 120\n')
    text += (f'[notify.dingtalk_robot]\nbase_url = "{url}"\ndefault_robot = "office"\n'
             "timeout_seconds = 10\n[notify.dingtalk_robot.robots.office]\n")
    path = config_file.with_name("robot.toml")
    path.write_text(text, encoding="utf-8")
    return path


def add_backlog(app: App) -> None:
    now = app.now()
    with app.db.transaction() as s:
        s.execute(insert(NOTICES), [{
            "idempotency_key": f"robot:{i:04d}", "task_id": None, "kind": "due",
            "channel": "dingtalk_robot", "recipient": "wang.li", "address": "",
            "subject": f"事项 {i:04d}", "body": "请及时跟进。", "payload": {}, "status": "pending",
            "attempts": 0, "not_before": now, "created_at": now, "last_error": ""}
            for i in range(BACKLOG)])


def statuses(app: App) -> dict[str, int]:
    with app.db.transaction() as s:
        return dict(s.execute(select(NOTICES.c.status, func.count())
                              .group_by(NOTICES.c.status)).all())


def test_three_services_share_one_robots_budget_and_survive_sigkill(
    app: App, services: Services, config_file: Path
) -> None:
    epoch = time.time()
    speed = f"{epoch}:{SPEED}"
    env = {"TORCHFLOW_WALL_SPEED": speed, "TORCHFLOW_DINGTALK_ROBOT_OFFICE_TOKEN": TOKEN,
           "TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET": SECRET}
    with DingtalkFake({TOKEN: SECRET}, clock=lambda: accelerated(epoch)) as fake:
        path = config(config_file, fake.url)
        add_backlog(app)
        for name in ("a", "b", "c"):
            services.start(name, path, NOW, extra=env)
        deadline = time.monotonic() + 120
        killed = False
        while statuses(app).get("pending", 0) and time.monotonic() < deadline:
            services.check_alive()
            if not killed and len(fake.received) >= 150:
                time.sleep(random.uniform(0, 0.3))
                services.kill("b")  # mid-dispatch, wherever it is
                services.start("b2", path, NOW, extra=env)
                killed = True
            time.sleep(0.2)
        assert killed and not statuses(app).get("pending"), services.all_logs()
        for name in ("a", "c", "b2"):
            assert services.terminate(name) == 0

    # Never over the robot's budget, wherever its minute begins; none refused for rate.
    assert not fake.refused, fake.refused[:3]
    assert most_in_any_window(fake.times(), 60.0) <= 20
    # Nothing twice; everything sent, or (a send the kill cut short) marked so.
    texts = [got.body["markdown"]["title"] for got in fake.received]
    assert len(texts) == len(set(texts)), "a notice reached the group twice"
    with app.db.transaction() as s:
        rows = s.execute(select(NOTICES.c.id, NOTICES.c.subject, NOTICES.c.status,
                                NOTICES.c.last_error)).all()
    assert len(rows) == BACKLOG
    sent = {r.subject for r in rows if r.status == "sent"}
    cut = [r for r in rows if r.status == "dead"]
    assert sent <= set(texts) and len(sent) + len(cut) == BACKLOG
    assert len(cut) <= 1  # at most the one send the kill landed in
    for r in cut:
        assert r.last_error == CUT_SHORT.format(channel="dingtalk_robot", id=r.id)
    # The budget's pace: 490 after the first ten, ten per 60.6 accelerated seconds.
    span = max(fake.times()) - min(fake.times())
    assert span >= (BACKLOG - 10) * 6.06 * 0.98
