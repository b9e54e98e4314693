"""Custom-field values typed on the command line (``name=value``) turned into the
values stored on a case, each checked before anything is written: text without
control characters and within a length, numbers finite and bounded, dates in a
sane range, choices from the list, person handles shaped like handles."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from torchflow.domain.text import FIELD_TEXT_MAX, HANDLE_MAX, check_line, printable
from torchflow.domain.workflow import FieldSpec
from torchflow.errors import InvalidInput

# Beyond 15 digits a float (what JSON gives back) no longer holds every integer
# exactly, and SQLite stores a too-large number as Infinity, which is not JSON.
NUMBER_INT_DIGITS = 15
NUMBER_FRACTION_DIGITS = 6
# Wide enough for any real record, narrow enough that a typo like 9999-12-31 or
# 0001-01-01 is refused rather than stored.
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2199, 12, 31)

_PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)\Z")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_SHOWN = 40  # characters of a refused value echoed back


def coerce_value(field: FieldSpec, raw: str) -> str | int | float | None:
    """Turn the text of a CLI ``name=value`` into the field's stored value.

    An empty value means "clear" and gives None. Numbers are plain decimals
    (no thousands separators, no exponents) and come back as int when integral.
    """
    text = raw.strip()
    if not text:
        return None
    coerce = _COERCERS.get(field.type)
    if coerce is None:
        raise InvalidInput(f"field '{field.name}' has unknown type '{field.type}'")
    return coerce(field, text)


def shown(text: str) -> str:
    """A value quoted for a message: control characters escaped, a long one cut
    and its length said, so the message stays one short line."""
    if len(text) <= _SHOWN:
        return repr(printable(text))
    return f"{printable(text[:20])!r}... ({len(text)} characters)"


def _coerce_text(field: FieldSpec, text: str) -> str:
    return check_line(text, f"field '{field.name}'", FIELD_TEXT_MAX)


def _coerce_number(field: FieldSpec, text: str) -> int | float:
    value = _decimal(text)
    unit = f" ({field.unit})" if field.unit else ""
    if value is None:
        raise InvalidInput(
            f"field '{field.name}' wants a number, got {shown(text)}; write plain decimal "
            f"digits without thousands separators, e.g. {field.name}=5000{unit}"
        )
    whole, _, fraction = text.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > NUMBER_INT_DIGITS or len(fraction) > NUMBER_FRACTION_DIGITS:
        raise InvalidInput(
            f"field '{field.name}' wants a number of at most {NUMBER_INT_DIGITS} digits "
            f"before the decimal point and {NUMBER_FRACTION_DIGITS} after, got {shown(text)}; "
            f"e.g. {field.name}=5000{unit}"
        )
    return int(value) if value == value.to_integral_value() else float(value)


def _decimal(text: str) -> Decimal | None:
    # The shape check keeps out what Decimal would also take: NaN, Infinity, 1e5.
    if not _PLAIN_DECIMAL.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _coerce_date(field: FieldSpec, text: str) -> str:
    # date.fromisoformat alone would also take "20260105" or "2026-W01-1"; the
    # stored form must be exactly YYYY-MM-DD, so check the shape first.
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"field '{field.name}' wants a date as YYYY-MM-DD, got {shown(text)}; "
            f"e.g. {field.name}=2026-03-15"
        ) from None
    if not DATE_MIN <= day <= DATE_MAX:
        raise InvalidInput(
            f"field '{field.name}' wants a date between {DATE_MIN} and {DATE_MAX}, "
            f"got {text!r}; e.g. {field.name}=2026-03-15"
        )
    return day.isoformat()


def _coerce_choice(field: FieldSpec, text: str) -> str:
    if text in field.choices:
        return text
    # Forgive letter case when it leaves exactly one candidate.
    folded = [c for c in field.choices if c.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise InvalidInput(
        f"field '{field.name}' must be one of: {', '.join(field.choices)}; got {shown(text)}"
    )


def _coerce_person(field: FieldSpec, text: str) -> str:
    # Only the shape is checked here; whether the person exists is the service's job.
    if any(ch.isspace() for ch in text):
        raise InvalidInput(
            f"field '{field.name}' wants a person's handle, got {shown(text)}; "
            f"e.g. {field.name}=wangfang"
        )
    return check_line(text, f"field '{field.name}'", HANDLE_MAX)


_COERCERS: dict[str, Callable[[FieldSpec, str], str | int | float]] = {
    "text": _coerce_text,
    "number": _coerce_number,
    "date": _coerce_date,
    "choice": _coerce_choice,
    "person": _coerce_person,
}
