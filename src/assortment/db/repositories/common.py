"""Query helpers every repository uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# PostgreSQL's answers when a lock could not be had in time or a transaction lost a race: the request may
# simply be retried (lock_not_available, deadlock_detected, serialization_failure).
CONTENTION_STATES = frozenset({"55P03", "40P01", "40001"})


def is_contention(exc: DBAPIError) -> bool:
    """A lost race for a lock (retry and it may pass), as opposed to a database that is not there."""
    if exc.connection_invalidated:
        return False
    state = getattr(exc.orig, "sqlstate", None)
    if state is not None:
        return state in CONTENTION_STATES
    return "locked" in str(exc.orig).lower()  # SQLite: "database is locked", "database table is locked"


# A select of any number of columns.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def paginate(
    session: Session, query: Select[Any], order: Sequence[Any], limit: int, offset: int
) -> tuple[list[Any], int]:
    """One page of `query` in `order`, and the number of rows the whole query matches."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total


def pks_in(column: Any, pks: Sequence[int]) -> ColumnElement[bool]:
    """`column IN (…)` with the integers written into the statement: as thousands of bind parameters they
    cost more to render and parse than the query itself."""
    condition: ColumnElement[bool] = column.in_(
        bindparam(None, list(pks), type_=Integer, expanding=True, literal_execute=True)
    )
    return condition
