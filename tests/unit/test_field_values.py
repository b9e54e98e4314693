"""Custom-field values typed on the command line: coerced to the stored value, and
bounded before anything is written (text length and control characters, finite
numbers of bounded size, dates in a sane range), each refusal one line naming
the field, the value's shape and what would be right."""

from __future__ import annotations

import pytest

from torchflow.domain.field_values import coerce_value
from torchflow.domain.workflow import FieldSpec
from torchflow.errors import InvalidInput

TEXT = FieldSpec("enterprise", "text", "Enterprise", True)
NUMBER = FieldSpec("investment", "number", "Investment", False, unit="万元")
DATE = FieldSpec("signed_date", "date", "Signed on", False)
CHOICE = FieldSpec("industry", "choice", "Industry", False, ("new materials", "biomedicine"))
PERSON = FieldSpec("mentor", "person", "Mentor", False)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        (TEXT, "  Acme Materials Co.  ", "Acme Materials Co."),
        (NUMBER, "5000", 5000),
        (NUMBER, "5000.0", 5000),
        (NUMBER, "-3", -3),
        (NUMBER, "12.5", 12.5),
        (NUMBER, " 0.25 ", 0.25),
        (DATE, "2026-03-15", "2026-03-15"),
        (DATE, " 2024-02-29 ", "2024-02-29"),
        (CHOICE, "biomedicine", "biomedicine"),
        (CHOICE, "New Materials", "new materials"),
        (PERSON, " wangfang ", "wangfang"),
    ],
)
def test_coerce_value(field: FieldSpec, raw: str, expected: object) -> None:
    value = coerce_value(field, raw)

    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("field", [TEXT, NUMBER, DATE, CHOICE, PERSON], ids=lambda f: f.type)
@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_value_clears_the_field(field: FieldSpec, raw: str) -> None:
    assert coerce_value(field, raw) is None


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (NUMBER, "abc", "field 'investment' wants a number, got 'abc'"),
        (NUMBER, "1,200", "without thousands separators, e.g. investment=5000 (万元)"),
        (NUMBER, "1e3", "wants a number"),
        (NUMBER, "nan", "wants a number"),
        (NUMBER, "5000万", "wants a number"),
        (DATE, "2026-02-30", "field 'signed_date' wants a date as YYYY-MM-DD, got '2026-02-30'"),
        (DATE, "20260315", "e.g. signed_date=2026-03-15"),
        (DATE, "15/03/2026", "wants a date"),
        (CHOICE, "biotech", "field 'industry' must be one of: new materials, biomedicine; got"),
    ],
)
def test_coerce_value_refuses_with_one_line_saying_what_is_right(
    field: FieldSpec, raw: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        coerce_value(field, raw)

    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (NUMBER, "9" * 400, "field 'investment' wants a number of at most 15 digits before "
                            "the decimal point and 6 after, got '99999999999999999999'... "
                            "(400 characters); e.g. investment=5000 (万元)"),
        (NUMBER, "1" + "0" * 15, "at most 15 digits before the decimal point"),
        (NUMBER, "0." + "0" * 399 + "1", "and 6 after"),
        (NUMBER, "inf", "wants a number"),
        (NUMBER, "-Infinity", "wants a number"),
        (NUMBER, "NaN", "wants a number"),
        (NUMBER, "1e400", "wants a number"),
        (DATE, "9999-12-31", "field 'signed_date' wants a date between 1900-01-01 and "
                             "2199-12-31, got '9999-12-31'; e.g. signed_date=2026-03-15"),
        (DATE, "0001-01-01", "between 1900-01-01 and 2199-12-31"),
        (TEXT, "x" * 2001, "field 'enterprise' is 2001 characters long; at most 2000 are allowed"),
        (TEXT, "Acme\x1b[31m red", "field 'enterprise' contains the control character U+001B"),
        (TEXT, "Acme\nCo.", "field 'enterprise' contains the control character U+000A"),
        (TEXT, "Acme \u202eoC", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        (PERSON, "wang\x1bfang", "field 'mentor' contains the control character U+001B"),
        (PERSON, "w" * 201, "field 'mentor' is 201 characters long; at most 200 are allowed"),
        (CHOICE, "x" * 500, "got 'xxxxxxxxxxxxxxxxxxxx'... (500 characters)"),
    ],
)
def test_values_out_of_bounds_are_refused_before_any_write(
    field: FieldSpec, raw: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        coerce_value(field, raw)

    assert message in str(caught.value)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        (NUMBER, "9" * 15, 999_999_999_999_999),
        (NUMBER, "-" + "9" * 15, -999_999_999_999_999),
        (NUMBER, "0000000000000000000042", 42),  # leading zeros are not digits of size
        (NUMBER, "3.141593", 3.141593),
        (DATE, "1900-01-01", "1900-01-01"),
        (DATE, "2199-12-31", "2199-12-31"),
        (TEXT, "y" * 2000, "y" * 2000),
        (TEXT, "清能动力 · Qingneng", "清能动力 · Qingneng"),
    ],
)
def test_values_at_the_bounds_are_kept(field: FieldSpec, raw: str, expected: object) -> None:
    assert coerce_value(field, raw) == expected
