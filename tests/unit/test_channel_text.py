"""A notice in a platform's markdown, within its limit: split into marked parts,
or cut with the rest counted; typed text cannot become markup."""

from __future__ import annotations

from torchflow.channels.text import Layout, cut, escape, lines_of, parts, size


def test_typed_text_cannot_mention_everyone_or_link() -> None:
    title = '<@all> <at user_id="all">所有人</at> [点我](http://evil.example) **急** # 标题 `x`'
    shown = escape(title)
    assert "<" not in shown and ">" not in shown and "[" not in shown and "*" not in shown
    assert "#" not in shown and "`" not in shown
    assert "所有人" in shown and "点我" in shown  # the words stay


def test_a_short_notice_is_one_part_with_its_subject_in_bold() -> None:
    layout = Layout(max_bytes=4096)
    [only] = parts(lines_of("[PI-2026-0001] 例行联络今日到期", "第一行\n第二行", layout), layout)
    assert only == "**［PI-2026-0001］ 例行联络今日到期**\n第一行\n第二行"


def test_a_long_digest_is_split_at_line_ends_into_marked_parts_within_the_limit() -> None:
    layout = Layout(max_bytes=400)
    body = "\n".join(f"PI-2026-{i:04d} 联络 (到期 2026-03-18) 氢能源企业" for i in range(30))
    pieces = parts(lines_of("今日跟进", body, layout), layout)
    assert len(pieces) > 1
    assert all(size(p) <= 400 for p in pieces)
    n = len(pieces)
    assert [p.split("\n", 1)[0] for p in pieces] == [f"({i}/{n})" for i in range(1, n + 1)]
    lines = [line for p in pieces for line in p.split("\n")[1:]]
    assert lines[1:] == body.split("\n")  # every line, whole, in order


def test_past_max_parts_the_last_part_says_how_many_lines_were_left_out() -> None:
    layout = Layout(max_bytes=300, max_parts=2)
    body = "\n".join(f"事项 {i:03d} 的跟进提醒，请及时处理" for i in range(100))
    pieces = parts(lines_of("今日跟进", body, layout), layout)
    assert len(pieces) == 2 and all(size(p) <= 300 for p in pieces)
    shown = sum(len(p.split("\n")) - 1 for p in pieces) - 1  # less markers and the tail
    assert pieces[-1].endswith(f"… and {100 + 1 - shown} more lines")


def test_a_line_longer_than_a_message_is_cut_at_a_character_boundary() -> None:
    layout = Layout(max_bytes=100, max_parts=20)
    pieces = parts(["题" * 200], layout)
    assert all(size(p) <= 100 for p in pieces)
    assert "".join(p.split("\n", 1)[1] for p in pieces) == "题" * 200


def test_cut_keeps_one_message_and_counts_the_rest() -> None:
    layout = Layout(max_bytes=200)
    lines = [f"· 通知 {i}" for i in range(100)]
    one = cut(lines, layout)
    assert size(one) <= 200
    kept = one.split("\n")[:-1]
    assert kept == lines[:len(kept)]
    assert one.endswith(f"… and {100 - len(kept)} more")
    assert cut(lines[:3], layout) == "\n".join(lines[:3])
