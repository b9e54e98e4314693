"""Long lists made short enough to read: every error line is bounded.

A file with ten thousand bad dates, a header of a thousand unknown columns, a
workflow with a problem on every key: each would otherwise print as ten thousand
lines, or one line of half a million characters. ``few`` names the first values
and counts the rest ("a, b, c and 997 more"); ``grouped`` gathers the values that
share a column and a message, so one line says what is wrong with all of them;
``lines`` keeps the first lines of a list and counts the rest; ``clip`` caps one
line's length.

Pure and stdlib only (the client path renders errors too); the services, the
loaders and the CLI's error printer call it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, TypeVar

from torchflow.i18n import Listing, Text, ngettext_

SHOWN = 5  # values named in a line before "and N more"
SHOWN_LINES = 20  # lines of one file's problems before "and N more"
MAX_LINE = 1000  # characters of one error line: room for any message, not for a list
ELLIPSIS = "…"

K = TypeVar("K", bound=Hashable)


def few(values: Iterable[Any], shown: int = SHOWN, how: str = "and") -> Listing | Text:
    """The first ``shown`` values and how many more: "a, b, c and 7 more"."""
    values = list(values)
    if len(values) <= shown:
        return Listing(values, how)
    rest = len(values) - shown
    return ngettext_("{first} and {n} more", "{first} and {n} more", rest,
                     first=Listing(values[:shown], how))


def grouped(pairs: Iterable[tuple[K, Any]]) -> list[tuple[K, list[Any]]]:
    """The values of each key (a column and its message), keys in first-seen order."""
    out: dict[K, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return list(out.items())


def lines(items: Sequence[Any], shown: int = SHOWN_LINES, what: str = "") -> list[Any]:
    """The first ``shown`` items, then one line counting the rest (``what``:
    whose problems, e.g. a file's path)."""
    if len(items) <= shown:
        return list(items)
    rest = len(items) - shown
    more: Text = (ngettext_("{where}: … and {n} more problem", "{where}: … and {n} more problems",
                            rest, where=what) if what else
                  ngettext_("… and {n} more problem", "… and {n} more problems", rest))
    return [*items[:shown], more]


def clip(text: str, limit: int = MAX_LINE) -> str:
    """``text`` cut to about ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    cut = limit - 30
    return f"{text[:cut]}{ELLIPSIS} (+{len(text) - cut:,})"
