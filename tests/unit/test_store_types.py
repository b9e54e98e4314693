"""The store's column types: on SQLite, UTCDateTime and Day bind through one
remembered function each (store/models.py); the text must be the stock chain's
(TypeDecorator.process_bind_param, then the dialect's DATETIME/DATE format), or
rows written before and after would not compare or sort alike. (Writing and
reading them back is what every other test does.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Date
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

from torchflow.store.models import Day, UTCDateTime

INSTANTS = [
    datetime(2026, 3, 4, 2, 0, tzinfo=UTC),
    datetime(2026, 3, 4, 2, 0, 0, 1, tzinfo=UTC),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 4, 10, 0, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),
    datetime(2026, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(2026, 3, 4, tzinfo=ZoneInfo("UTC")),
    # The same wall time twice in New York (the fold): two instants, two texts.
    datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York")),
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
    None,
]


def _stock(type_: TypeDecorator, dialect: sqlite.dialect) -> object:
    impl = type_.dialect_impl(dialect)
    return TypeDecorator.bind_processor(impl, dialect)  # type: ignore[arg-type]


def test_utc_datetime_binds_the_stock_text_on_sqlite() -> None:
    dialect = sqlite.dialect()
    fast = UTCDateTime()._cached_bind_processor(dialect)
    stock = _stock(UTCDateTime(), dialect)
    assert fast is not None and fast is not stock
    texts = [fast(v) for v in INSTANTS]
    assert texts == [stock(v) for v in INSTANTS]  # type: ignore[operator]
    assert texts[7] != texts[8]
    assert texts[:2] == ["2026-03-04 02:00:00.000000", "2026-03-04 02:00:00.000001"]


def test_utc_datetime_still_refuses_a_naive_value() -> None:
    fast = UTCDateTime()._cached_bind_processor(sqlite.dialect())
    assert fast is not None
    with pytest.raises(ValueError, match="naive datetime"):
        fast(datetime(2026, 3, 4, 2, 0))


def test_day_binds_the_stock_text_on_sqlite() -> None:
    dialect = sqlite.dialect()
    fast = Day()._cached_bind_processor(dialect)
    stock = Date().dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None and stock is not None
    values = [date(2026, 3, 5), date(999, 1, 2), date(9999, 12, 31),
              datetime(2026, 3, 5, 10, 1), None]  # a datetime is cut to its day
    assert [fast(v) for v in values] == [stock(v) for v in values]

