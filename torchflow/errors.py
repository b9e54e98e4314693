"""One exception root. Every error a user can cause is a TorchflowError whose
message is one line saying what was wrong and what would be right.

Each class has a stable ``code``: the server sends it with the message (its
HTTP status is the server's business), and the client raises the same class
again from it, so a refusal reads and exits the same in either mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from torchflow.domain.summary import lines

if TYPE_CHECKING:
    from torchflow.i18n import Text


class TorchflowError(Exception):
    """Root of every error torchflow raises on purpose. The message may be a
    ``Text`` from the catalogs (torchflow.i18n): ``str(exc)`` is its English,
    the edge renders ``exc.text`` in the office's language."""

    exit_code = 1
    code = "error"

    def __init__(self, message: str | Text = "") -> None:
        super().__init__(message)
        self.text = message


class ConfigError(TorchflowError):
    """config.toml or a TORCHFLOW_* variable is wrong."""

    code = "config"


MAX_PROBLEMS = 200  # lines of one error, the last counting the rest


class Problems(TorchflowError):
    """A file checked whole: ``problems`` lists every problem, each one line, so
    a user fixes them all in one go (the CLI prints one line each)."""

    code = "problems"

    def __init__(self, problems: Sequence[str | Text]) -> None:
        # Bounded: ten thousand problems are the first ones and a count.
        self.problems: list[str | Text] = lines(problems, MAX_PROBLEMS)
        first = self.problems[0] if self.problems else "invalid file"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(first + more)


class WorkflowError(Problems):
    """A workflow definition is invalid."""


class ScheduleError(Problems, ConfigError):
    """An office-typed official schedule file (calendars/*.toml) is invalid."""


class NotFound(TorchflowError):
    """A case, person, task, notice or workflow that does not exist."""

    code = "not_found"


class InvalidInput(TorchflowError):
    """A value given by the user does not fit (a field, a date, a duration)."""

    code = "invalid_input"


class Refused(TorchflowError):
    """The rules forbid the action: a guard, a role, a terminal state."""

    code = "refused"


class Conflict(TorchflowError):
    """Someone else changed the same thing first; re-read and try again."""

    code = "conflict"


class DeliveryError(TorchflowError):
    """A notice channel could not deliver; the notice will be retried.
    ``permanent``: the receiver refused the address for good (an SMTP 5xx), which
    counts towards the person's fallback channel. ``fatal``: the office's set-up is
    wrong (a robot's key, signature, trusted IP or keyword): the notice dies at once
    with the reason, trying again cannot help. ``retry_after``: the platform
    throttled the sender; try again after that many seconds, not the backoff."""

    code = "delivery"

    def __init__(self, message: str | Text, *, permanent: bool = False, fatal: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.fatal = fatal
        self.retry_after = retry_after


class BadRequest(TorchflowError):
    """A request to the server that no CLI would send: a parameter missing, of
    the wrong type or unknown."""

    code = "bad_request"


class UsageError(TorchflowError):
    """A flag's value or a combination of flags that cannot work, found where the
    rule lives: the CLI shows it as click shows its own (exit 2, naming ``param``)."""

    code = "usage"
    exit_code = 2

    def __init__(self, message: str | Text = "", param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class Unauthorized(TorchflowError):
    """The server does not know who is calling (no token, a wrong, expired or
    revoked one)."""

    code = "unauthorized"


class TooLarge(TorchflowError):
    """A request larger than the server takes."""

    code = "too_large"


class Unavailable(TorchflowError):
    """The server cannot be reached, or answered with something that is not
    torchflow's."""

    code = "unavailable"


def error_class(code: str) -> type[TorchflowError]:
    """The class whose ``code`` is ``code`` (TorchflowError for one unknown)."""
    todo: list[type[TorchflowError]] = [TorchflowError]
    while todo:
        cls = todo.pop()
        if cls.code == code:
            return cls
        todo.extend(cls.__subclasses__())
    return TorchflowError
