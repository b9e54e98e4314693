"""Custom-field values typed on the command line (``name=value``) turned into the
values stored on a case, each checked before anything is written: text without
control characters and within a length, numbers finite and bounded, dates in a
sane range, choices from the list, person handles shaped like handles."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from torchflow.domain.text import FIELD_TEXT_MAX, NAME_MAX, check_line, plain_line
from torchflow.domain.vocabulary import choice_value, quoted
from torchflow.domain.workflow import FieldSpec
from torchflow.errors import InvalidInput
from torchflow.i18n import Text, _

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
        raise InvalidInput(_("field '{field}' has unknown type '{type}'", field=field.term,
                             type=field.type))
    return coerce(field, text)


def _what(field: FieldSpec) -> Text:
    return _("field '{field}'", field=field.term)


def _coerce_text(field: FieldSpec, text: str) -> str:
    if plain_line(text, FIELD_TEXT_MAX):  # most are: no refusal to word
        return text
    return check_line(text, _what(field), FIELD_TEXT_MAX)


def _coerce_number(field: FieldSpec, text: str) -> int | float:
    value = _decimal(text)
    unit = f" ({field.unit})" if field.unit else ""
    if value is None:
        raise InvalidInput(_(
            "field '{field}' wants a number, got {value}; write plain decimal digits without "
            "thousands separators, e.g. {field}=5000{unit}",
            field=field.term, value=quoted(text), unit=unit))
    whole, _sep, fraction = text.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > NUMBER_INT_DIGITS or len(fraction) > NUMBER_FRACTION_DIGITS:
        raise InvalidInput(_(
            "field '{field}' wants a number of at most {whole} digits before the decimal "
            "point and {fraction} after, got {value}; e.g. {field}=5000{unit}",
            field=field.term, whole=NUMBER_INT_DIGITS, fraction=NUMBER_FRACTION_DIGITS,
            value=quoted(text), unit=unit))
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
        raise InvalidInput(_("field '{field}' wants a date as YYYY-MM-DD, got {value}; "
                             "e.g. {field}=2026-03-15", field=field.term,
                             value=quoted(text))) from None
    if not DATE_MIN <= day <= DATE_MAX:
        raise InvalidInput(_("field '{field}' wants a date between {first} and {last}, "
                             "got {value}; e.g. {field}=2026-03-15", field=field.term,
                             first=DATE_MIN.isoformat(), last=DATE_MAX.isoformat(),
                             value=repr(text)))
    return day.isoformat()


def _coerce_choice(field: FieldSpec, text: str) -> str:
    # Its value, title or an alias (新能源 for "new energy"), letter case forgiven.
    return choice_value(field, text)


def _coerce_person(field: FieldSpec, text: str) -> str:
    # A handle, or a person's exact name (王立, Wang Li): whether such a person
    # exists, and who, is the service's question (it reads the people).
    return check_line(text, _what(field), NAME_MAX)


# The people of a ``people`` field: typed separated by commas (full-width too), 、
# or semicolons; stored as their handles joined by 、 (one text, as other values).
PEOPLE_SEPARATOR = "、"
_PEOPLE_SPLIT = re.compile(r"\s*[,，、;；]\s*")
PEOPLE_MAX = 20  # co-handlers of one matter; more is a list, not a team


def people_of(value: object) -> list[str]:
    """The names (or handles) a ``people`` value holds, in order, each once."""
    if not isinstance(value, str):
        return []
    return list(dict.fromkeys(p for p in _PEOPLE_SPLIT.split(value.strip()) if p))


def _coerce_people(field: FieldSpec, text: str) -> str:
    # Handles or exact names, each checked as a person's is; who they are is the
    # service's question (it reads the people).
    names = [check_line(name, _what(field), NAME_MAX) for name in people_of(text)]
    if len(names) > PEOPLE_MAX:
        raise InvalidInput(_("field '{field}' names {n} people; at most {max}",
                             field=field.term, n=len(names), max=PEOPLE_MAX))
    return PEOPLE_SEPARATOR.join(names)


def _coerce_enterprise(field: FieldSpec, text: str) -> str:
    # Its name or unified social credit code: which enterprise that is, the
    # service asks the records (service/enterprises/records.find_enterprise).
    return check_line(text, _what(field), NAME_MAX)


_COERCERS: dict[str, Callable[[FieldSpec, str], str | int | float]] = {
    "text": _coerce_text,
    "number": _coerce_number,
    "date": _coerce_date,
    "choice": _coerce_choice,
    "person": _coerce_person,
    "people": _coerce_people,
    "enterprise": _coerce_enterprise,
}
