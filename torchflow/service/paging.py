"""A list that may be cut: the rows shown, and how many there are in all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Select, func, select


class Page(list[dict[str, Any]]):
    """The rows of one page (a plain list to callers that only iterate), with the
    ``total`` that matched and the ``limit`` and ``offset`` that cut it."""

    def __init__(self, rows: Iterable[dict[str, Any]], *, total: int, limit: int,
                 offset: int) -> None:
        super().__init__(rows)
        self.total, self.limit, self.offset = total, limit, offset


def fetch_page(session: Connection, query: Select[Any], *, limit: int, offset: int,
               view: Callable[[Any], dict[str, Any]]) -> Page:
    """Run ``query`` (already ordered) for one page; count the whole only when the
    page may be cut, so a short list costs one statement."""
    rows = [view(r) for r in session.execute(query.limit(limit).offset(offset))]
    if offset == 0 and len(rows) < limit:
        return Page(rows, total=len(rows), limit=limit, offset=offset)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return Page(rows, total=total or 0, limit=limit, offset=offset)
