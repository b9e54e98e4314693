"""One exception root. Every error a user can cause is a TorchflowError whose
message is one line saying what was wrong and what would be right."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchflow.i18n import Text


class TorchflowError(Exception):
    """Root of every error torchflow raises on purpose. The message may be a
    ``Text`` from the catalogs (torchflow.i18n): ``str(exc)`` is its English,
    the edge renders ``exc.text`` in the office's language."""

    exit_code = 1

    def __init__(self, message: str | Text = "") -> None:
        super().__init__(message)
        self.text = message


class ConfigError(TorchflowError):
    """config.toml or a TORCHFLOW_* variable is wrong."""


class Problems(TorchflowError):
    """A file checked whole: ``problems`` lists every problem, each one line, so
    a user fixes them all in one go (the CLI prints one line each)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "invalid file"
        more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
        super().__init__(first + more)


class WorkflowError(Problems):
    """A workflow definition is invalid."""


class ScheduleError(Problems, ConfigError):
    """An office-typed official schedule file (calendars/*.toml) is invalid."""


class NotFound(TorchflowError):
    """A case, person, task, notice or workflow that does not exist."""


class InvalidInput(TorchflowError):
    """A value given by the user does not fit (a field, a date, a duration)."""


class Refused(TorchflowError):
    """The rules forbid the action: a guard, a role, a terminal state."""


class Conflict(TorchflowError):
    """Someone else changed the same thing first; re-read and try again."""


class DeliveryError(TorchflowError):
    """A notice channel could not deliver; the notice will be retried.
    ``permanent``: the receiver refused the address for good (an SMTP 5xx), which
    counts towards the person's fallback channel. ``fatal``: the office's set-up is
    wrong (a robot's key, signature, trusted IP or keyword): the notice dies at once
    with the reason, trying again cannot help. ``retry_after``: the platform
    throttled the sender; try again after that many seconds, not the backoff."""

    def __init__(self, message: str | Text, *, permanent: bool = False, fatal: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.fatal = fatal
        self.retry_after = retry_after
