"""A text cell of a CSV kept from running as a formula.

Excel and WPS run a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, after
a tab or a carriage return, what follows) as a formula: a title typed as
``=HYPERLINK(...)`` would become a link, ``=cmd|...`` a command. The OWASP rule:
such a cell is written with a leading ``'``, which the spreadsheet shows and never
runs. A number typed as a number (``-5``, ``-12.5``) is left alone: Excel reads it
as the number it is, and a ``'`` would turn it into text. ``restore`` is the exact
inverse, applied when torchflow reads a CSV back (``import``), so a value goes
out and comes in unchanged, a leading ``'`` of its own included.

Pure: no I/O. Every CSV writer (service/sheets/files.py, reports/export.py)
calls ``defuse``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# A plain number as a spreadsheet reads one: never a formula, whatever its sign.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _armed(text: str) -> bool:
    """Would this text run, or be taken for a defused cell when read back?"""
    bare = text.lstrip(QUOTE)
    if bare[:1] not in TRIGGERS:
        return False
    return bare != text or not _NUMBER.fullmatch(text)


def defuse(value: Any) -> Any:
    """``value`` as a CSV cell: a text that would run gets a leading ``'``; a
    number (typed as one, or a text that is a plain number) stays as it is."""
    if isinstance(value, bool) or not isinstance(value, str):
        return value if isinstance(value, int | float | Decimal) else defuse(str(value))
    return QUOTE + value if _armed(value) else value


def restore(text: str) -> str:
    """The value a cell written by ``defuse`` holds (the inverse on text)."""
    if text[:1] == QUOTE and _armed(text[1:]):
        return text[1:]
    return text
