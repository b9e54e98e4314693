"""FileChannel: an append-only JSONL outbox that several processes can share."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from msgspec import Struct

from torchflow.channels.base import Message, message_json
from torchflow.config import Section, Settings
from torchflow.errors import DeliveryError
from torchflow.files import PRIVATE, FileModes, create, make_folder
from torchflow.i18n import Text


class FileSettings(Struct, frozen=True):
    """[notify.file]: the outbox, relative to the config file's folder."""

    path: Path = Path("outbox.jsonl")


class FileChannel:
    """Append one JSON line per message; a returned send is on disk."""

    name = "file"
    dedup = True  # a reader of the outbox drops a repeated key

    def __init__(self, path: str | Path, modes: FileModes = PRIVATE) -> None:
        self.path = Path(path)
        self.modes = modes  # [files] group: the outbox is written by every member's torchflow

    @staticmethod
    def read_settings(section: Section, base: Path) -> FileSettings:
        section.only(["path"])
        return FileSettings(path=base / section.text("path", str(FileSettings().path)))

    @classmethod
    def from_settings(cls, settings: Settings) -> FileChannel:
        return cls(settings.notify.of(cls.name, FileSettings).path, settings.files)

    @staticmethod
    def address_of(person: Any) -> str:
        return ""  # one shared outbox: the recipient is in the record

    @staticmethod
    def address_problem(settings: Settings, address: str) -> Text | None:
        return None

    def problem(self, address: str) -> Text | None:
        return None

    def send(self, message: Message) -> None:
        line = (message_json(message) + "\n").encode("utf-8")
        try:
            self._append(line)
        except OSError as exc:
            raise DeliveryError(f"cannot write outbox {self.path}: {exc.strerror or exc}") from None

    def _append(self, line: bytes) -> None:
        make_folder(self.path.parent, self.modes)
        # One os.write under an exclusive lock: other processes appending to the
        # same outbox can never split or interleave a line, whatever its size.
        # A new outbox is 0600 (0660 with [files] group) from the start.
        fd = create(self.path, self.modes, shared=True, append=True)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            start = os.fstat(fd).st_size
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError:
                # Leave no half line behind (e.g. disk full): the retry appends a whole one.
                os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)  # closing the descriptor also releases the lock

    def close(self) -> None:
        """Nothing is held open between sends."""


def _write_all(fd: int, data: bytes) -> None:
    # os.write may write less than asked (e.g. a signal or a full disk mid-way).
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
