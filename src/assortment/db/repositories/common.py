"""Query helpers every repository uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

# A select of any number of columns.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def paginate(
    session: Session, query: Select[Any], order: Sequence[Any], limit: int, offset: int
) -> tuple[list[Any], int]:
    """One page of `query` in `order`, and the number of rows the whole query matches."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total
