"""The gate between the ledger and the robots (service/delivery/gate.py), through
dispatch on a real database and loopback fakes of the platforms: shared rate
budgets, the platform's throttling, a backlog folded, a set-up fault, a send a
crash cut short, split notices resumed, busy minutes avoided, held notices
mended. The wall clock is the test's (``wall``), and so is the fakes'."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from tests.conftest import Clock
from tests.platforms import DingtalkFake, FeishuFake, most_in_any_window
from torchflow.config import load_settings
from torchflow.service.app import App, build_app
from torchflow.service.delivery import ledger
from torchflow.service.delivery.dispatch import Channels, dispatch
from torchflow.service.delivery.ledger import claim, list_notices
from torchflow.service.people.staff import add_person
from torchflow.store.models import BUDGETS, NOTICES, PEOPLE

TOKEN, SECRET = "ding-token", "SECding"
FEISHU_TOKEN, FEISHU_SECRET = "feishu-hook", "feishu-secret"


@pytest.fixture
def ding(wall: Clock) -> Iterator[DingtalkFake]:
    with DingtalkFake({TOKEN: SECRET}, clock=lambda: wall.now.timestamp()) as fake:
        yield fake  # type: ignore[misc]


def robot_app(config_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch, extra: str,
              ) -> App:
    """The test's app with robots configured (config_file lists 127.0.0.1)."""
    monkeypatch.setenv("TORCHFLOW_DINGTALK_ROBOT_OFFICE_TOKEN", TOKEN)
    monkeypatch.setenv("TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET", SECRET)
    monkeypatch.setenv("TORCHFLOW_FEISHU_ROBOT_OFFICE_TOKEN", FEISHU_TOKEN)
    monkeypatch.setenv("TORCHFLOW_FEISHU_ROBOT_OFFICE_SECRET", FEISHU_SECRET)
    text = config_file.read_text(encoding="utf-8").replace("lease_seconds = 5",
                                                           "lease_seconds = 60")
    config_file.write_text(text + extra, encoding="utf-8")
    return build_app(load_settings(config_file, env={}), clock=clock)


def ding_config(url: str) -> str:
    return (f'[notify.dingtalk_robot]\nbase_url = "{url}"\ndefault_robot = "office"\n'
            "[notify.dingtalk_robot.robots.office]\n")


@pytest.fixture
def robots(config_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch,
           ding: DingtalkFake) -> Iterator[App]:
    application = robot_app(config_file, clock, monkeypatch, ding_config(ding.url))
    add_person(application, "wang.li", name="Wang Li", roles=["coordinator"])
    with application.db.transaction() as s:
        s.execute(update(PEOPLE).where(PEOPLE.c.handle == "wang.li")
                  .values(platform_ids={"mobile": "13800001111"}))
    yield application
    application.close()


def add_notices(app: App, count: int, *, channel: str = "dingtalk_robot", body: str = "",
                prefix: str = "n") -> list[int]:
    now = app.now()
    with app.db.transaction() as s:
        s.execute(insert(NOTICES), [{
            "idempotency_key": f"{prefix}:{i:04d}", "task_id": None, "kind": "due",
            "channel": channel, "recipient": "wang.li", "address": "office",
            "subject": f"{prefix} {i:04d}", "body": body or f"事项 {i}", "payload": {},
            "status": "pending", "attempts": 0, "not_before": now, "created_at": now,
            "last_error": ""} for i in range(count)])
        return list(s.scalars(select(NOTICES.c.id).where(
            NOTICES.c.idempotency_key.like(f"{prefix}:%")).order_by(NOTICES.c.id)))


def table(app: App) -> dict[int, Any]:
    with app.db.transaction() as s:
        return {r.id: r for r in s.execute(select(NOTICES).order_by(NOTICES.c.id))}


def run_until_sent(app: App, wall: Clock, step: float = 1.0, limit: int = 2000) -> float:
    """Dispatch once a (simulated) second until no notice is left pending; the
    seconds it took."""
    channels = Channels(app.settings)
    start = wall.now
    try:
        for _ in range(limit):
            dispatch(app, channels, "svc")
            if all(r.status != "pending" for r in table(app).values()):
                return (wall.now - start).total_seconds()
            wall.advance(seconds=step)
    finally:
        channels.close()
    raise AssertionError("not all sent")


# --------------------------------------------------------------------------- budgets


def test_a_robot_gets_half_its_minute_at_once_and_the_rest_paced_never_over_20(
    robots: App, ding: DingtalkFake, wall: Clock
) -> None:
    add_notices(robots, 40)
    result = dispatch(robots, Channels(robots.settings), "svc")
    assert result.sent == 10  # the bucket's capacity: half the minute at once
    waiting = [r for r in table(robots).values() if r.status == "pending"]
    assert {r.attempts for r in waiting} == {0} and all(r.retry_at for r in waiting)
    assert sorted(r.retry_at for r in waiting) == [r.retry_at for r in waiting]  # in turn
    took = run_until_sent(robots, wall)
    assert len(ding.received) == 40 and not ding.refused
    assert most_in_any_window(ding.times(), 60.0) <= 20
    # 30 paced at 10 per 60.6 s: the limit's own pace (20 a minute) less 1% of slack.
    assert 180 <= took <= 190


def test_the_budget_is_in_the_database_for_every_node(robots: App, ding: DingtalkFake,
                                                      wall: Clock) -> None:
    add_notices(robots, 30)
    first = dispatch(robots, Channels(robots.settings), "node-a")
    second = dispatch(robots, Channels(robots.settings), "node-b")  # another process
    assert (first.sent, second.sent) == (10, 0)
    with robots.db.transaction() as s:
        [bucket] = s.execute(select(BUDGETS)).all()
    assert bucket.key == "dingtalk_robot:office" and bucket.tokens == pytest.approx(0, abs=0.01)


def test_throttling_pauses_the_robot_on_every_node_for_its_window(
    robots: App, ding: DingtalkFake, wall: Clock
) -> None:
    ids = add_notices(robots, 3)
    ding.force({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
    result = dispatch(robots, Channels(robots.settings), "svc")
    assert (result.sent, result.failed, result.dead) == (0, 1, 0)
    rows = table(robots)
    throttled = rows[ids[0]]
    assert throttled.attempts == 0 and "130101" in throttled.last_error
    assert throttled.retry_at >= wall.now + timedelta(seconds=600)
    with robots.db.transaction() as s:
        paused = s.scalar(select(BUDGETS.c.paused_until))
    assert paused == wall.now + timedelta(seconds=600)
    # The others wait for the window too, on this node and any other.
    assert dispatch(robots, Channels(robots.settings), "other").sent == 0
    wall.advance(seconds=606)
    run_until_sent(robots, wall)
    assert len(ding.received) == 3


# --------------------------------------------------------------------------- folding


def test_a_backlog_the_budget_cannot_pass_soon_is_folded_into_one_message(
    config_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch, ding: DingtalkFake,
    wall: Clock
) -> None:
    config_file.write_text(config_file.read_text(encoding="utf-8").replace(
        '[notify]\nallow_hosts = ["127.0.0.1"]\n',
        '[notify]\nallow_hosts = ["127.0.0.1"]\nfold_after_minutes = 2\n'), encoding="utf-8")
    app = robot_app(config_file, clock, monkeypatch, ding_config(ding.url))
    add_notices(app, 300)
    run_until_sent(app, wall)
    rows = [r for r in table(app).values()]
    folded = [r for r in rows if r.status == "folded"]
    [fold] = [r for r in rows if r.idempotency_key.startswith("fold:")]
    assert {r.folded_into for r in folded} == {fold.idempotency_key}
    assert fold.status == "sent" and fold.payload["fold"] == len(folded)
    sent = [r for r in rows if r.status == "sent" and r.id != fold.id]
    assert len(sent) + len(folded) == 300  # nothing lost
    # The group got each once: alone, or as a line of the folded message.
    texts = [got.text for got in ding.received]
    [listing] = [t for t in texts if "folded into one message" in t]
    for r in folded[:20]:
        assert f"· {r.subject}" in listing
    alone = [t for t in texts if t is not listing]
    assert sorted(r.subject for r in sent) == sorted(t.split("**")[1] for t in alone)
    assert len(ding.received) <= 30 and not ding.refused
    app.close()


# --------------------------------------------------------------------------- faults


def test_a_fault_in_the_set_up_kills_the_notice_at_once_with_what_to_fix(
    robots: App, ding: DingtalkFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    [nid] = add_notices(robots, 1)
    monkeypatch.setenv("TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET", "SECwrong")
    assert dispatch(robots, Channels(robots.settings), "svc").dead == 1
    row = table(robots)[nid]
    assert (row.status, row.attempts) == ("dead", 1)
    assert "310000 sign not match" in row.last_error
    assert "check $TORCHFLOW_DINGTALK_ROBOT_OFFICE_SECRET" in row.last_error


def test_a_send_a_crash_cut_short_is_not_repeated_blindly(robots: App, ding: DingtalkFake,
                                                         wall: Clock) -> None:
    [nid] = add_notices(robots, 1)
    channels = Channels(robots.settings)
    [claimed] = claim(robots, "crashed", 10, channels=channels)
    ledger.started(robots, "crashed", claimed.id)  # ...and the process was killed
    wall.advance(seconds=61)  # its lease ran out
    result = dispatch(robots, channels, "next")
    assert result.sent == 0 and not ding.received
    row = table(robots)[nid]
    assert row.status == "dead" and row.lease_owner is None
    assert row.last_error == (
        "the service stopped while sending this notice to dingtalk_robot, which drops no "
        f"repeated message: it has most likely arrived; if it has not, send it again with "
        f"`torchflow notice retry {nid}`")


def test_a_split_notice_goes_on_after_its_last_part_sent(robots: App, ding: DingtalkFake,
                                                         wall: Clock) -> None:
    long = "\n".join(f"第 {i:04d} 项：青能氢能源有限公司例行联络到期，请于本周内完成"
                     for i in range(600))
    [nid] = add_notices(robots, 1, body=long)
    ding.force(None)  # the first part goes through...
    ding.force({"errcode": -1, "errmsg": "system busy"})  # ...the second does not
    result = dispatch(robots, Channels(robots.settings), "svc")
    assert result.failed == 1
    assert table(robots)[nid].parts_done == 1 and len(ding.received) == 1
    wall.advance(seconds=3600)
    run_until_sent(robots, wall)
    parts = [got.text for got in ding.received]
    n = len(parts)
    assert n >= 3 and [p.split("  \n", 1)[0] for p in parts] == [f"({i}/{n})"
                                                                 for i in range(1, n + 1)]


# --------------------------------------------------------------------------- busy minutes


def test_feishu_sends_are_moved_off_the_hour_and_spread(
    config_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch, wall: Clock
) -> None:
    wall.set("2026-03-16T09:00:10+08:00")
    with FeishuFake({FEISHU_TOKEN: FEISHU_SECRET},
                    clock=lambda: wall.now.timestamp()) as fake:
        extra = (f'[notify.feishu_robot]\nbase_url = "{fake.url}"\ndefault_robot = "office"\n'
                 "[notify.feishu_robot.robots.office]\n")
        app = robot_app(config_file, clock, monkeypatch, extra)
        add_notices(app, 4, channel="feishu_robot")
        assert dispatch(app, Channels(app.settings), "svc").sent == 0
        after = [r.retry_at for r in table(app).values()]
        hour = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
        assert all(hour + timedelta(minutes=1) <= t < hour + timedelta(minutes=2) for t in after)
        assert len(set(after)) == 4  # spread, not all at once
        run_until_sent(app, wall)
        assert all(not (got.at % 3600 >= 59 * 60 or got.at % 3600 < 60) for got in fake.received)
        app.close()


# --------------------------------------------------------------------------- held


def test_a_robot_without_its_token_holds_its_notices_until_mended(
    robots: App, ding: DingtalkFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = add_notices(robots, 2)
    monkeypatch.delenv("TORCHFLOW_DINGTALK_ROBOT_OFFICE_TOKEN")
    assert dispatch(robots, Channels(robots.settings), "svc").sent == 0
    held = list_notices(robots, status="held")
    assert [n["id"] for n in held] == sorted(ids, reverse=True)
    assert held[0]["reason"] == ("dingtalk_robot robot office has no token: set "
                                 "$TORCHFLOW_DINGTALK_ROBOT_OFFICE_TOKEN")
    monkeypatch.setenv("TORCHFLOW_DINGTALK_ROBOT_OFFICE_TOKEN", TOKEN)  # and restarted
    assert dispatch(robots, Channels(robots.settings), "svc").sent == 2
    assert len(ding.received) == 2 and ding.received[0].body["at"]["atMobiles"] == [
        "13800001111"]
