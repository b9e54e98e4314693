"""Parameter values on the wire: what the CLI's parsed values become in JSON or
a query string (``encode``), and what the server makes of them again
(``decode``), each checked against its ``Param``. A malformed value is a
``BadRequest`` naming the parameter and what would be right.

Stdlib only: the client imports this module.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any

from msgspec import Struct

from torchflow.errors import BadRequest
from torchflow.i18n import _

FIRST_YEAR, LAST_YEAR = 1970, 2199  # as torchflow.clock: a year outside is a typo
MAX_TEXT = 100_000  # one value; the services hold typed text to their own, smaller limits
MAX_ITEMS = 1_000
MAX_SPAN_DAYS = 3660
SPAN = re.compile(r"\s*(\d{1,9})\s*([dw])\s*")
INT32 = 2**31 - 1
NO_FILE = "there is no file '{path}'"
NO_FOLDER = "there is no folder '{folder}' to write '{name}' in"

# kind -> what a value looks like, for error lines and the OpenAPI document
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "str": ("text", {"type": "string"}),
    "int": ("a whole number", {"type": "integer"}),
    "bool": ("true or false", {"type": "boolean"}),
    "date": ("a date YYYY-MM-DD", {"type": "string", "format": "date"}),
    "when": ("a date or an ISO 8601 time (without offset: local)",
             {"type": "string", "examples": ["2026-03-04", "2026-03-04T15:30+08:00"]}),
    "span": ("a span such as 3d or 2w", {"type": "string", "pattern": r"^\d+[dw]$"}),
    "strs": ("a list of texts", {"type": "array", "items": {"type": "string"}}),
    "map": ("an object of texts", {"type": "object",
                                   "additionalProperties": {"type": "string"}}),
    "file": ("an uploaded file", {"type": "string", "format": "binary"}),
    "files": ("uploaded files", {"type": "array",
                                 "items": {"type": "string", "format": "binary"}}),
    "out": ("the name of the file to write", {"type": "string"}),
}


class Param(Struct, frozen=True):
    """One parameter of an operation. ``low``/``high`` bound an int; ``choices``
    a str; ``required`` ones must be given. ``file``/``files`` are uploads,
    ``out`` names a file the operation writes (sent back in the response)."""

    name: str
    kind: str = "str"
    required: bool = False
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    default: Any = None
    # A file the client cannot read (``file``) or a folder it cannot write to
    # (``out``), worded as the operation words it in-process: {path}, {folder},
    # {name} and {reason} are filled in.
    missing: str = ""

    def unusable(self, path: str, reason: str) -> str:
        template = self.missing or (NO_FOLDER if self.kind == "out" else NO_FILE)
        where = PurePath(path)
        return template.format(path=path, folder=where.parent, name=where.name, reason=reason)

    def schema(self) -> dict[str, Any]:
        schema = dict(KINDS[self.kind][1])
        if self.low is not None:
            schema["minimum"] = self.low
        if self.high is not None:
            schema["maximum"] = self.high
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        return schema


def encode(value: Any) -> Any:
    """A value the CLI parsed, as JSON: dates and times in ISO 8601 (a naive time
    stays naive: the server places it in the office's zone), spans as days."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.days}d"
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(param: Param, raw: Any) -> Any:
    """``raw`` from JSON (or the strings of a query string) as the Python value the
    services take; None stays None (not given)."""
    if raw is None:
        return None
    try:
        return _DECODERS[param.kind](param, raw)
    except (TypeError, ValueError, OverflowError):
        raise bad(param, raw) from None


def bad(param: Param, raw: Any, wants: str | None = None) -> BadRequest:
    shown = repr(raw) if len(repr(raw)) <= 60 else repr(raw)[:57] + "..."
    return BadRequest(_("parameter '{name}' is {value}; it wants {wants}", name=param.name,
                        value=shown, wants=wants or KINDS[param.kind][0]))


def _text(param: Param, raw: Any) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_TEXT:
        raise ValueError
    if param.choices and raw not in param.choices:
        raise bad(param, raw, "one of " + ", ".join(param.choices))
    return raw


def _int(param: Param, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str) or len(str(raw)) > 12:
        raise ValueError
    value = int(raw)
    low = param.low if param.low is not None else -INT32
    high = param.high if param.high is not None else INT32
    if not low <= value <= high:
        raise bad(param, raw, f"a whole number from {low} to {high}")
    return value


def _bool(_param: Param, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise ValueError


def _year_ok(param: Param, raw: Any, day: date) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise bad(param, raw, f"a date from {FIRST_YEAR} to {LAST_YEAR}")


def _date(param: Param, raw: Any) -> date:
    if not isinstance(raw, str) or len(raw) != 10:
        raise ValueError
    day = date.fromisoformat(raw)
    _year_ok(param, raw, day)
    return day


def _when(param: Param, raw: Any) -> date | datetime:
    if not isinstance(raw, str) or len(raw) > 40:
        raise ValueError
    if len(raw) == 10:
        return _date(param, raw)
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    _year_ok(param, raw, value.date())
    return value


def _span(param: Param, raw: Any) -> timedelta:
    match = SPAN.fullmatch(raw) if isinstance(raw, str) else None
    if not match:
        raise ValueError
    days = int(match[1]) * (7 if match[2] == "w" else 1)
    if days > MAX_SPAN_DAYS:
        raise bad(param, raw, f"a span of at most {MAX_SPAN_DAYS}d")
    return timedelta(days=days)


def _strs(param: Param, raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise ValueError
    return [_text(param, item) for item in raw]


def _map(param: Param, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or len(raw) > MAX_ITEMS:
        raise ValueError
    for k, v in raw.items():
        if not isinstance(v, str) or len(k) > MAX_TEXT or len(v) > MAX_TEXT:
            raise ValueError
    return dict(raw)


_DECODERS = {
    "str": _text, "out": _text, "int": _int, "bool": _bool, "date": _date, "when": _when,
    "span": _span, "strs": _strs, "map": _map, "file": _text, "files": _strs,
}
