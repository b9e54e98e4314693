"""Text that people type: the same limits on every backend, no control characters
in one-line values, and control characters escaped wherever text is printed.

SQLite does not enforce VARCHAR lengths and PostgreSQL does, so the limits are
checked here, before any write, with the column sizes of ``store/models.py``.
"""

from __future__ import annotations

import re
import unicodedata

from torchflow.errors import InvalidInput
from torchflow.i18n import Text, _

# Column sizes (store/models.py) that user text goes into.
HANDLE_MAX = 64
NAME_MAX = 200
EMAIL_MAX = 320
ADDRESS_MAX = 500
TITLE_MAX = 300
NOTE_MAX = 10_000
FIELD_TEXT_MAX = 2_000

# C0/C1 controls, DEL, and the bidirectional overrides and isolates that can make
# printed text read differently from what is stored (CVE-2021-42574).
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_CONTROL_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROL_MULTILINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")


def check_line(value: str, what: str | Text, limit: int) -> str:
    """A one-line value (title, handle, name): stripped, non-empty, within ``limit``
    characters, without control characters."""
    value = value.strip()
    if not value:
        raise InvalidInput(_("{what} is empty; give a value", what=what))
    bad = _CONTROL_LINE.search(value)
    if bad:
        raise InvalidInput(_("{what} contains the control character {char}; use plain text "
                             "on one line", what=what, char=_name(bad.group())))
    _check_length(value, what, limit)
    return value


def plain_line(value: str, limit: int) -> bool:
    """Whether ``check_line`` takes ``value`` (stripped) as it is: a quick yes for
    the many values that are fine, before a refusal's words are made."""
    return 0 < len(value) <= limit and not _CONTROL_LINE.search(value)


def check_block(value: str, what: str | Text, limit: int = NOTE_MAX) -> str:
    """A multi-line value (a note): newlines allowed, other control characters not."""
    bad = _CONTROL_MULTILINE.search(value)
    if bad:
        raise InvalidInput(_("{what} contains the control character {char}; use plain text",
                             what=what, char=_name(bad.group())))
    _check_length(value, what, limit)
    return value


def _check_length(value: str, what: str | Text, limit: int) -> None:
    if len(value) > limit:
        raise InvalidInput(_("{what} is {length} characters long; at most {limit} are "
                             "allowed", what=what, length=len(value), limit=limit))


def _name(char: str) -> str:
    return f"U+{ord(char):04X}" + (f" ({unicodedata.name(char)})" if unicodedata.name(char, "")
                                   else "")


_ESCAPE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")


_JSON_ESCAPE = re.compile(f"[\x7f-\x9f{_BIDI}]")


def json_printable(document: str) -> str:
    """A JSON document safe to print: what ``json.dumps`` leaves raw (DEL, the C1
    controls, bidi overrides) as ``\\uXXXX`` escapes, which decode to the same text."""
    return _JSON_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def printable(value: str) -> str:
    """``value`` safe to print on a terminal: control characters (but newlines)
    shown as ``\\x1b``-style escapes, so stored text cannot move the cursor,
    recolour the screen or reorder what is shown."""
    return _ESCAPE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)
