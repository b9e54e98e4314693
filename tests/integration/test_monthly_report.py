"""[reports] monthly: the HTML report of the month before goes to the director on
the first working day of the month, once, through the notice ledger."""

from __future__ import annotations

from email import message_from_bytes

from msgspec.structs import replace
from sqlalchemy import select

from tests.conftest import PI_FIELDS, Clock, with_settings
from torchflow.channels.base import Message
from torchflow.channels.smtp import build_email
from torchflow.config import ReportSettings
from torchflow.scheduler import tick
from torchflow.service.app import App
from torchflow.service.cases.change import open_case
from torchflow.service.delivery.dispatch import Channels
from torchflow.service.delivery.monthly import produce_monthly
from torchflow.service.people.lookup import Actor
from torchflow.store.models import NOTICES


def reports(app: App) -> list[tuple[str, str]]:
    with app.db.transaction() as s:
        return [(r.recipient, r.idempotency_key) for r in s.execute(
            select(NOTICES).where(NOTICES.c.kind == "report").order_by(NOTICES.c.id))]


def test_first_working_day_once_per_month_and_recipient(
    app: App, staff: dict[str, Actor], clock: Clock
) -> None:
    monthly = with_settings(app, reports=ReportSettings(monthly=("director",)))
    open_case(monthly, staff["wang.li"], "project_introduction", title="t", fields=PI_FIELDS)
    # 1 April 2026 is a Wednesday, a working day; before 09:00 nothing goes.
    clock.set("2026-04-01T08:00:00+08:00")
    assert produce_monthly(monthly) == 0
    clock.set("2026-04-01T09:30:00+08:00")
    assert produce_monthly(monthly) == 1
    assert produce_monthly(monthly) == 0  # once
    clock.set("2026-04-02T09:30:00+08:00")
    tick(monthly, Channels(monthly.settings), "w1")  # the scheduler's hook: still once
    assert reports(monthly) == [("chen.jie", "report:monthly:2026-03:chen.jie:file")]
    with monthly.db.transaction() as s:
        row = s.execute(select(NOTICES).where(NOTICES.c.kind == "report")).one()
    assert row.payload["from"] == "2026-03-01" and row.payload["to"] == "2026-03-31"
    assert row.payload["html"].startswith("<!DOCTYPE html>") and "2026-03" in row.subject
    # Labour Day: 1-5 May off, so Wednesday 6 May is the month's first working day.
    clock.set("2026-05-05T10:00:00+08:00")
    assert produce_monthly(monthly) == 0
    clock.set("2026-05-06T10:00:00+08:00")
    assert produce_monthly(monthly) == 1
    # With no [reports] monthly nothing is sent.
    clock.set("2026-06-01T10:00:00+08:00")
    assert produce_monthly(app) == 0


def test_smtp_attaches_the_html() -> None:
    msg = Message("report:monthly:2026-03:chen.jie:smtp", "report", "chen.jie",
                  "chen@zone.example.cn", "Monthly report 2026-03", "body",
                  {"html": "<!DOCTYPE html><p>报告</p>", "filename": "report-2026-03.html"})
    mail = message_from_bytes(bytes(build_email(msg, "tf@zone.example.cn")))
    [part] = [p for p in mail.walk() if p.get_filename() == "report-2026-03.html"]
    assert "报告" in part.get_payload(decode=True).decode("utf-8")


def test_config_reads_reports_monthly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from torchflow.config import load_settings
    from torchflow.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[reports]\nmonthly = ["director", "wang.li"]\n', encoding="utf-8")
    assert load_settings(path, env={}).reports.monthly == ("director", "wang.li")
    path.write_text('[reports]\nmonthly = "director"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="monthly"):
        load_settings(path, env={})
    assert replace(load_settings(None, env={}).reports).monthly == ()
