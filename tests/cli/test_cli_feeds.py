"""Follow-ups in each person's calendar: `agenda --ics` parsed back with
icalendar (UIDs, all-day dates, alarms, cancelled events), the feed folder the
scheduler keeps, and rotating a feed's secret."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def events_of(path: Path) -> dict[str, object]:
    doc = Calendar.from_ical(path.read_bytes())
    return {str(ev["uid"]): ev for ev in doc.walk("VEVENT")}


def test_agenda_ics_has_stable_uids_dates_and_alarms(cli: Cli, tmp_path: Path) -> None:
    key = cli.open_pi()
    cli.to_negotiation(key)
    tasks = cli.open_tasks(key)
    out = tmp_path / "wang.ics"
    cli.ok("agenda", "--ics", out, "--person", "wang.li", "--days", "90")
    events = events_of(out)
    contact = tasks["negotiation.contact"]
    ev = events[f"task-{contact['id']}@torchflow"]
    assert ev.decoded("dtstart") == date.fromisoformat(contact["due_on"])
    assert ev.decoded("dtend") == date.fromisoformat(contact["due_on"]) + timedelta(days=1)
    assert str(ev["summary"]).startswith(f"{key} Hydrogen fuel-cell stack plant")
    assert "case contact" in str(ev["description"])
    assert str(ev["status"]) == "CONFIRMED"
    [alarm] = ev.walk("VALARM")
    # remind = 1 workday: 09:00 Beijing time of the working day before the due day.
    trigger = alarm.decoded("trigger")
    assert isinstance(trigger, datetime)
    # Entered on Wednesday 03-04, due Friday 03-06: the alarm at Thursday 09:00 (01:00 UTC).
    assert contact["due_on"] == "2026-03-06"
    assert trigger.astimezone(UTC) == datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    assert set(events) >= {f"task-{t['id']}@torchflow" for t in tasks.values()}
    # The same UIDs next time; leaving the state marks the events cancelled.
    cli.ok("case", "advance", key, "inspect", as_="wang.li")
    cli.ok("agenda", "--ics", out, "--person", "wang.li", "--days", "90")
    again = events_of(out)
    assert str(again[f"task-{contact['id']}@torchflow"]["status"]) == "CANCELLED"
    assert not again[f"task-{contact['id']}@torchflow"].walk("VALARM")
    assert "zhao.min" not in out.read_text(encoding="utf-8")
    other = tmp_path / "zhao.ics"
    cli.ok("agenda", "--ics", other, "--person", "zhao.min")
    assert events_of(other) == {}


@pytest.mark.embedded  # the server's config, environment or process
def test_feed_folder_is_kept_by_the_scheduler_and_the_token_rotates(
        cli: Cli, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    with cli.config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[feeds]\nics_dir = "{feeds}"\n')
    key = cli.open_pi()
    cli.ok("scheduler", "tick")
    token = cli.json("person", "feed-token", "wang.li")["token"]
    path = feeds / f"wang.li-{token}.ics"
    assert path.is_file() and len(token) >= 24
    assert any(key in str(ev["summary"]) for ev in events_of(path).values())
    assert not list(feeds.glob(".*tmp"))
    (feeds / "notes.ics").write_text("not ours", encoding="utf-8")
    rotated = cli.json("person", "feed-token", "wang.li", "--new")
    assert rotated["token"] != token
    cli.ok("scheduler", "tick")
    assert not path.exists()
    assert (feeds / rotated["file"]).is_file()
    assert (feeds / "notes.ics").is_file()
    assert "no person with handle 'nobody'" in cli.refused("person", "feed-token", "nobody")
    # One's own token, or an admin: the name of the file is the secret.
    assert cli.json("person", "feed-token", "wang.li", as_="wang.li")["token"] == \
        rotated["token"]
    assert cli.refused("person", "feed-token", "wang.li", as_="zhao.min") == (
        "Error: zhao.min may not show or rotate a calendar feed token (`person feed-token`) "
        "for wang.li: only wang.li or an admin may")
