"""Files torchflow creates, and with which mode.

Every file torchflow writes holds the office's data (cases, people, feed
tokens, notices), so it is created readable by its owner alone (0600), or, with
``[files] group`` set, shared with the office's group: 0660 for what every
member's torchflow writes (the SQLite database, its WAL and SHM, the outbox),
0640 for what it writes for people to read (exports, reports, checkpoints, the
``--skip-bad`` file, feeds). A folder it makes is 0700, or 0710 with the group:
the group may open a file whose name it knows (a feed's secret name) but never
list the folder.

Created so from the start: ``os.open`` with the mode, never wider than wanted
(the umask may narrow it). With a group, the empty file is given the group and
its exact mode before a byte is written (an ``fchown`` and ``fchmod`` on the
descriptor): a process-wide ``umask`` change would race the server's other
threads. Stdlib only: the client saves downloaded files with it.
"""

from __future__ import annotations

import grp
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from msgspec import Struct

PRIVATE_FILE, GROUP_FILE, SHARED_FILE = 0o600, 0o640, 0o660
PRIVATE_FOLDER, GROUP_FOLDER = 0o700, 0o710


class FileModes(Struct, frozen=True):
    """``[files] group``: the office group's name and id, or none (owner only)."""

    group: str = ""
    gid: int | None = None

    def mode(self, shared: bool = False) -> int:
        """A new file's mode; ``shared``: written by every member's torchflow."""
        if self.gid is None:
            return PRIVATE_FILE
        return SHARED_FILE if shared else GROUP_FILE

    @property
    def folder_mode(self) -> int:
        return PRIVATE_FOLDER if self.gid is None else GROUP_FOLDER


PRIVATE = FileModes()


def group_id(name: str) -> int | None:
    """The id of group ``name``, or None when there is no such group."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def create(path: Path | str, modes: FileModes = PRIVATE, *, shared: bool = False,
           append: bool = False) -> int:
    """A descriptor of ``path`` opened for writing. A new file is made with its
    mode (``modes``); an existing one is opened as it is when ``append``, and is
    otherwise an error (FileExistsError): callers write new files aside and
    rename them (``replacing``)."""
    mode = modes.mode(shared)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | (os.O_APPEND if append else 0), mode)
    except FileExistsError:
        if not append:
            raise
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        _settle(fd, modes, mode)
    except OSError:
        os.close(fd)
        os.unlink(path)
        raise
    return fd


def _settle(fd: int, modes: FileModes, mode: int) -> None:
    """The group and the exact mode, on an object nothing has been written to."""
    if modes.gid is None:
        return
    os.fchown(fd, -1, modes.gid)
    if os.fstat(fd).st_mode & 0o777 != mode:  # narrowed by the umask
        os.fchmod(fd, mode)


def make_folder(path: Path, modes: FileModes = PRIVATE) -> None:
    """``path`` (and missing parents) as a folder of ``modes``; one that exists is
    left as it is."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, modes.folder_mode)
    except FileExistsError:
        return  # made meanwhile by another process
    if modes.gid is not None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _settle(fd, modes, modes.folder_mode)
        finally:
            os.close(fd)


@contextmanager
def replacing(path: Path, modes: FileModes = PRIVATE) -> Iterator[Path]:
    """A temporary file next to ``path``, already made with its mode, that becomes
    ``path`` only when the block ends without an error: nothing half-written is
    ever seen under the name. Write it by opening it again ("w" keeps the mode)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a crash of a process with this pid
    os.close(create(tmp, modes))
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
