"""`person away|back|notify` through the CLI, the agenda's absences and the
reason column of `notice list`."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client


def test_away_then_back_in_text_and_json(cli: Cli) -> None:
    out = cli.ok("person", "away", "wang.li", "--from", "2026-03-16", "--to", "2026-03-20",
                 "--substitute", "zhao.min", "--reason", "annual leave", as_="wang.li").out
    assert out == "wang.li away 2026-03-16 to 2026-03-20; zhao.min stands in\n"
    agenda = cli.json("agenda", "--days", "14")
    assert agenda["away"] == [{"person": "wang.li", "from": "2026-03-16", "to": "2026-03-20",
                               "substitute": "zhao.min"}]
    text = cli.ok("agenda", "--days", "14").out
    assert "Away:" in text and "zhao.min" in text.split("Away:")[1]
    assert "Away:" not in cli.ok("agenda", "--days", "5").out  # not within 5 days
    data = cli.json("person", "back", "wang.li", as_="wang.li")
    assert data == {"handle": "wang.li", "ended": 1, "back_on": "2026-03-04"}
    assert cli.json("agenda", "--days", "14")["away"] == []


def test_someone_else_needs_the_admin_role(cli: Cli) -> None:
    err = cli.refused("person", "away", "wang.li", "--from", "2026-03-16", "--to",
                      "2026-03-20", "--substitute", "zhao.min", as_="zhao.min")
    assert err == ("Error: zhao.min may not record or end an absence, or set how a person is "
                   "told (`person away/back/notify`) for wang.li: only wang.li or an admin may")
    cli.ok("person", "add", "root.admin", "--name", "Admin", "--role", "admin",
           "--login", "root.admin")
    cli.ok("person", "away", "wang.li", "--from", "2026-03-16", "--to", "2026-03-20",
           "--substitute", "zhao.min", as_="root.admin")


def test_a_cycle_is_refused_in_one_line(cli: Cli) -> None:
    cli.ok("person", "away", "wang.li", "--from", "2026-03-16", "--to", "2026-03-20",
           "--substitute", "zhao.min", as_="wang.li")
    err = cli.refused("person", "away", "zhao.min", "--from", "2026-03-18", "--to",
                      "2026-03-19", "--substitute", "wang.li", as_="zhao.min")
    assert err == ("Error: substitutes would go round in a circle on 2026-03-18: "
                   "zhao.min -> wang.li -> zhao.min; pick a substitute who is not away then")


def test_notify_shows_and_sets(cli: Cli) -> None:
    assert cli.ok("person", "notify", "wang.li", as_="wang.li").out == \
        "wang.li: each, quiet none, fallback none\n"
    out = cli.ok("person", "notify", "wang.li", "--digest", "--quiet", "20:00-08:00",
                 "--fallback", "webhook:https://hooks.example/wl", "--fallback-after", "2",
                 as_="wang.li").out
    assert out == ("wang.li: digest, quiet 20:00-08:00, fallback "
                   "webhook:https://hooks.example/wl after 2 refusal(s)\n")
    data = cli.json("person", "notify", "wang.li", "--each", "--no-quiet", "--no-fallback",
                    as_="wang.li")
    assert data == {"handle": "wang.li", "notify": "each", "quiet": None, "fallback": None,
                    "fallback_after": 2}
    err = cli.usage("person", "notify", "wang.li", "--quiet", "late", as_="wang.li")
    assert "quiet hours 'late' are not HH:MM-HH:MM; e.g. 20:00-08:00" in err



def test_a_fallback_that_cannot_reach_anyone_is_refused(cli: Cli) -> None:
    err = cli.usage("person", "notify", "wang.li", "--fallback", "pigeon:coop-7", as_="wang.li")
    assert "fallback 'pigeon:coop-7' is not CHANNEL:ADDRESS with a channel of file, smtp" in err
    # The channel's own check, in the use case (with the office's allow_hosts).
    err = cli.refused("person", "notify", "wang.li", "--fallback", "webhook:hooks.example",
                      as_="wang.li")
    assert err == ("Error: fallback webhook:hooks.example: webhook address 'hooks.example' must "
                   "start with http:// or https://")
    err = cli.refused("person", "notify", "wang.li", "--fallback", "smtp:notanemail",
                      as_="wang.li")
    assert err == ("Error: fallback smtp:notanemail: 'notanemail' is not an e-mail address; "
                   "e.g. wang.li@example.gov.cn")
    err = cli.refused("person", "notify", "wang.li", "--fallback",
                      "webhook:http://169.254.169.254/latest/meta-data/", as_="wang.li")
    assert err == ("Error: fallback webhook:http://169.254.169.254/latest/meta-data/: webhook "
                   "address 'http://169.254.169.254/latest/meta-data/' points to "
                   "169.254.169.254, a cloud metadata address; torchflow posts only to public "
                   "hosts unless [notify] allow_hosts lists it")
    assert cli.json("person", "notify", "wang.li", as_="wang.li")["fallback"] is None
    cli.ok("person", "notify", "wang.li", "--fallback", "smtp:wl@home.example.cn",
           as_="wang.li")
    cli.ok("person", "notify", "wang.li", "--fallback", "webhook:http://127.0.0.1:9/wl",
           as_="wang.li")  # this office lists 127.0.0.1


def test_anyone_may_read_someones_notify_settings_but_not_change_them(cli: Cli) -> None:
    cli.ok("person", "notify", "wang.li", "--digest", as_="wang.li")
    assert cli.ok("person", "notify", "wang.li", as_="zhao.min").out == \
        "wang.li: digest, quiet none, fallback none\n"
    err = cli.refused("person", "notify", "wang.li", "--each", as_="zhao.min")
    assert err.startswith("Error: zhao.min may not record or end an absence, or set how a "
                          "person is told (`person away/back/notify`) for wang.li")
    err = cli.refused("person", "notify", "wang.li", "--no-quiet", as_="zhao.min")
    assert err.startswith("Error: zhao.min may not record or end an absence")

def test_notice_list_shows_why_a_notice_was_re_routed(cli: Cli) -> None:
    key = cli.open_pi(as_="wang.li")
    cli.ok("person", "away", "wang.li", "--from", "2026-03-16", "--to", "2026-03-20",
           "--substitute", "zhao.min", as_="wang.li")
    cli.ok("scheduler", "tick", now="2026-03-16T09:40:00+08:00")
    [row] = [n for n in cli.json("notice", "list")["items"] if n["kind"] == "upcoming"]
    assert row["to"] == "zhao.min" and row["for"] == "wang.li"
    assert row["reason"] == "for wang.li, away until 2026-03-20"
    lines = cli.ok("notice", "list", "--to", "zhao.min").out.splitlines()
    assert lines[0].split()[-1] == "REASON"
    [line] = [x for x in lines if key in x]
    assert line.endswith("for wang.li, away until 2026-03-20")


def test_person_show_lists_absences_and_how_they_are_told(cli: Cli) -> None:
    cli.ok("person", "away", "wang.li", "--from", "2026-03-16", "--to", "2026-03-20",
           "--substitute", "zhao.min", "--reason", "annual leave", as_="wang.li")
    cli.ok("person", "notify", "wang.li", "--digest", "--quiet", "20:00-08:00", as_="wang.li")
    shown = cli.json("person", "show", "wang.li")
    assert shown["absences"] == [{"from": "2026-03-16", "to": "2026-03-20",
                                  "substitute": "zhao.min", "reason": "annual leave",
                                  "by": "wang.li", "ended_at": None}]
    assert (shown["notify"], shown["quiet"], shown["fallback"]) == ("digest", "20:00-08:00",
                                                                    None)
    assert shown["delivery_problems"] == []
    text = cli.ok("person", "show", "wang.li").out
    assert "Absences:" in text and "annual leave" in text
    assert "Quiet hours:" in text


def test_person_edit_rotates_ones_own_feed_token_only(cli: Cli) -> None:
    first = cli.ok("person", "edit", "wang.li", "--new-feed-token", as_="wang.li").out
    second = cli.ok("person", "edit", "wang.li", "--new-feed-token", as_="wang.li").out
    assert first.startswith("changed wang.li; feed file wang.li-") and first != second
    assert cli.json("person", "feed-token", "wang.li", as_="wang.li")["file"] in second
    err = cli.refused("person", "edit", "wang.li", "--new-feed-token", as_="zhao.min")
    assert err.endswith("for wang.li: only wang.li or an admin may")
