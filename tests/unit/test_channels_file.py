"""FileChannel against real files: shape of a line, durability, locking, sharing."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from torchflow.channels import Channel, FileChannel, Message
from torchflow.errors import DeliveryError

LINES_PER_WRITER = 200


def make_message(key: str = "n-1", body: str = "请于周五前回复。", **payload: Any) -> Message:
    return Message(
        idempotency_key=key,
        kind="due",
        recipient="zhang.wei",
        address="ignored@example.org",
        subject="跟进：项目引进 PI-2026-0001",
        body=body,
        payload=payload or {"case": "PI-2026-0001", "task": 7},
    )


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_send_appends_one_json_line_with_the_message_fields(tmp_path: Path) -> None:
    outbox = tmp_path / "deep" / "er" / "outbox.jsonl"  # parent dirs do not exist yet
    channel = FileChannel(outbox)
    assert isinstance(channel, Channel) and channel.name == "file"
    channel.send(make_message())
    assert read_lines(outbox) == [
        {
            "idempotency_key": "n-1",
            "kind": "due",
            "recipient": "zhang.wei",
            "subject": "跟进：项目引进 PI-2026-0001",
            "body": "请于周五前回复。",
            "payload": {"case": "PI-2026-0001", "task": 7},
        }
    ]


def test_lines_are_deterministic_utf8_and_appended(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    outbox.write_text('{"earlier": true}\n', encoding="utf-8")
    channel = FileChannel(str(outbox))
    channel.send(make_message(body="第一行\n第二行"))
    channel.send(make_message(body="第一行\n第二行"))
    raw = outbox.read_bytes().splitlines()
    assert raw[0] == b'{"earlier": true}'
    assert len(raw) == 3 and raw[1] == raw[2]  # a resend is byte-identical: no timestamp
    assert "第二行".encode() in raw[1]  # real UTF-8, not \u escapes


def test_each_send_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    FileChannel(tmp_path / "o.jsonl").send(make_message())
    assert len(synced) == 1


def test_os_error_becomes_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the outbox directory should be")
    with pytest.raises(DeliveryError, match="cannot write outbox"):
        FileChannel(blocker / "outbox.jsonl").send(make_message())


def test_failed_write_leaves_no_partial_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = tmp_path / "outbox.jsonl"
    channel = FileChannel(outbox)
    channel.send(make_message("n-1"))
    before = outbox.read_bytes()
    real_write = os.write
    calls = []

    def half_then_disk_full(fd: int, data: Any) -> int:
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_disk_full)
    with pytest.raises(DeliveryError, match="No space left"):
        channel.send(make_message("n-2"))
    assert outbox.read_bytes() == before


def test_unserializable_payload_is_a_delivery_error(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    with pytest.raises(DeliveryError, match="not JSON-serializable"):
        FileChannel(outbox).send(make_message(when=object()))
    assert not outbox.exists() or outbox.read_bytes() == b""


def test_send_waits_for_the_exclusive_lock(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    outbox.touch()
    done = threading.Event()

    def send() -> None:
        FileChannel(outbox).send(make_message())
        done.set()

    with open(outbox, "ab") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as another process appending would
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        assert not done.wait(0.3), "send wrote while another writer held the lock"
        fcntl.flock(holder, fcntl.LOCK_UN)
    assert done.wait(5.0)
    sender.join(5.0)
    assert len(read_lines(outbox)) == 1


def _write_lines(path: str, writer: str, barrier: Any) -> None:
    channel = FileChannel(path)
    big = "数据" * 6000  # ~36 KB per line: far beyond any single buffered write
    barrier.wait(10)
    for i in range(LINES_PER_WRITER):
        channel.send(make_message(f"{writer}-{i}", body=big, writer=writer, seq=i))


def test_two_processes_share_one_outbox_in_whole_lines(tmp_path: Path) -> None:
    outbox = tmp_path / "shared" / "outbox.jsonl"
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded pytest process
    barrier = ctx.Barrier(2)
    writers = [ctx.Process(target=_write_lines, args=(str(outbox), w, barrier)) for w in "AB"]
    for proc in writers:
        proc.start()
    for proc in writers:
        proc.join(60)
    assert [proc.exitcode for proc in writers] == [0, 0]

    lines = read_lines(outbox)  # any torn or interleaved line fails to parse here
    assert len(lines) == 2 * LINES_PER_WRITER
    for writer in "AB":
        seqs = [line["payload"]["seq"] for line in lines if line["payload"]["writer"] == writer]
        assert seqs == list(range(LINES_PER_WRITER))
    first_b = next(i for i, line in enumerate(lines) if line["payload"]["writer"] == "B")
    first_a = next(i for i, line in enumerate(lines) if line["payload"]["writer"] == "A")
    last_a = max(i for i, line in enumerate(lines) if line["payload"]["writer"] == "A")
    last_b = max(i for i, line in enumerate(lines) if line["payload"]["writer"] == "B")
    # the writers really ran at the same time, or the test proves nothing
    assert max(first_a, first_b) < min(last_a, last_b)
