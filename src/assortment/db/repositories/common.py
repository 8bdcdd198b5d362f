"""Query helpers every repository uses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from assortment.domain.paging import Page, Paging

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


# --- keyset paging (SPEC §10.4) -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SortKey:
    """One term of a list's ORDER BY: the expression, its direction, and where its NULLs go (None: the
    expression is never NULL)."""

    expression: Any
    descending: bool = False
    nulls: str | None = None  # "first" | "last"


def sort_keys(order: Sequence[Any]) -> tuple[SortKey, ...]:
    """The terms of an ORDER BY as written for `order_by` (`Node.id`, `Node.updated_at.desc()`,
    `Node.sort_order.desc().nulls_last()`). A nullable term must say where its NULLs go."""
    keys = []
    for term in order:
        descending, nulls, element = False, None, term
        while isinstance(element, UnaryExpression) and element.modifier in _MODIFIERS:
            modifier = element.modifier
            if modifier is operators.desc_op:
                descending = True
            elif modifier is operators.nulls_last_op:
                nulls = "last"
            elif modifier is operators.nulls_first_op:
                nulls = "first"
            element = element.element
        keys.append(SortKey(element, descending, nulls))
    return tuple(keys)


_MODIFIERS = (operators.desc_op, operators.asc_op, operators.nulls_last_op, operators.nulls_first_op)


def _value(key: SortKey, value: Any) -> Any:
    return literal(value, type_=key.expression.type)


def _beyond(key: SortKey, value: Any) -> ColumnElement[bool]:
    """Rows strictly after `value` on this key alone."""
    column = key.expression
    if value is None:  # NULLs last: nothing after; NULLs first: every value
        return column.is_not(None) if key.nulls == "first" else false()
    condition: ColumnElement[bool] = column < _value(key, value) if key.descending else column > _value(key, value)
    if key.nulls == "last":
        condition = or_(condition, column.is_(None))
    return condition


def _level(key: SortKey, value: Any) -> ColumnElement[bool]:
    column = key.expression
    equal: ColumnElement[bool] = column.is_(None) if value is None else column == _value(key, value)
    return equal


def seek(keys: Sequence[SortKey], position: Sequence[Any]) -> ColumnElement[bool]:
    """The rows strictly after `position` (the values of `keys` of one row) in the order of `keys`.

    Terms all in one direction and never NULL: a row-value comparison, `(a, b) > (:a, :b)`, which both
    databases answer as one index range. Otherwise the expanded form, `a > :a OR (a = :a AND b > :b) …`,
    with `a >= :a` beside it when the first term is never NULL, so an index on the order is entered at the
    position instead of read from its start."""
    uniform = all(k.nulls is None for k in keys) and len({k.descending for k in keys}) == 1
    if uniform and all(v is not None for v in position):
        columns = tuple_(*(k.expression for k in keys))
        values = tuple_(*(_value(k, v) for k, v in zip(keys, position, strict=True)))
        return columns < values if keys[0].descending else columns > values
    arms = []
    for i, key in enumerate(keys):
        same = (_level(k, v) for k, v in zip(keys[:i], position[:i], strict=True))
        arms.append(and_(*same, _beyond(key, position[i])))
    condition = or_(*arms)
    first, value = keys[0], position[0]
    if first.nulls is None and value is not None:
        bound = _value(first, value)
        start = first.expression <= bound if first.descending else first.expression >= bound
        condition = and_(start, condition)
    return condition


def order_of(query: AnySelect) -> tuple[Any, ...]:
    """The ORDER BY terms a select was built with (for a query built elsewhere in its order)."""
    return tuple(query._order_by_clauses)


def keyset_page(
    session: Session, query: AnySelect, order: Sequence[Any], paging: Paging, *, scalars: bool = True
) -> Page[Any]:
    """One page of `query` in `order`, asked for by offset or by cursor.

    By offset: `paginate`, with the total. By cursor (SPEC §10.4): the rows after the cursor's position, as
    a keyset seek (`seek`), no count; `order` must end with a unique tiebreaker. One row beyond the page is
    read to know whether another page follows; the page's `next` is the position of its last row.
    `scalars`: the items are the query's single entity or column, else tuples of its columns."""
    if paging.after is None:
        if scalars:
            items, total = paginate(session, query, order, paging.limit, paging.offset)
            return Page(items, total, paging)
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        rows = session.execute(query.order_by(*order).limit(paging.limit).offset(paging.offset)).all()
        return Page([tuple(r) for r in rows], total, paging)
    keys = sort_keys(order)
    position = paging.check(paging.after, len(keys))
    if position:
        query = query.where(seek(keys, position))
    width = len(query.column_descriptions)
    statement = query.add_columns(*(k.expression for k in keys)).order_by(*order).limit(paging.limit + 1)
    rows = session.execute(statement).all()
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    items = [row[0] if scalars else tuple(row[:width]) for row in rows]
    return Page(items, 0, paging, tuple(rows[-1][width:]) if more else None)


def pks_in(column: Any, pks: Sequence[int]) -> ColumnElement[bool]:
    """`column IN (…)` with the integers written into the statement: as thousands of bind parameters they
    cost more to render and parse than the query itself."""
    condition: ColumnElement[bool] = column.in_(
        bindparam(None, list(pks), type_=Integer, expanding=True, literal_execute=True)
    )
    return condition


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert plain rows (dicts with the same keys) into a table: COPY on PostgreSQL, a Core executemany
    elsewhere. Column types convert the values as they would in an INSERT."""
    if not rows:
        return
    table = getattr(model, "__table__", model)  # a mapped class or a Table
    connection = session.connection()
    names = list(rows[0])
    if connection.dialect.name == "postgresql" and _copyable(table, names, rows):
        _copy_rows(connection, table, names, rows)
    else:
        connection.execute(table.insert(), rows)


def _copyable(table: Any, names: list[str], rows: list[dict[str, Any]]) -> bool:
    """COPY applies no client-side column defaults: every column that has one must be given, in every row."""
    given = set(names)
    if any(column.default is not None and column.name not in given for column in table.columns):
        return False
    keys = rows[0].keys()
    return all(row.keys() == keys for row in rows)


def _copy_rows(connection: Connection, table: Any, names: list[str], rows: list[dict[str, Any]]) -> None:
    dialect = connection.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    converted = [(i, process) for i, process in enumerate(processors) if process is not None]
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({columns}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in names]
            for i, process in converted:
                values[i] = process(values[i])
            copy.write_row(values)


class DriverSQL:
    """A fixed statement sent to the driver as it is (`exec_driver_sql`): for the hottest reads, where
    building and compiling a SQLAlchemy statement costs ten times the query (a primary-key lookup on SQLite
    takes microseconds; a Core select, built and compiled per request, a hundred). Written with `%s`
    placeholders; UUID parameters are passed as `uuid.UUID` and converted here for SQLite (hex text, as
    SQLAlchemy's `Uuid` stores them)."""

    def __init__(self, sql: str) -> None:
        self.pyformat = sql
        self.qmark = sql.replace("%s", "?")

    def run(self, session: Session, *params: Any) -> Any:
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            converted = tuple(p.hex if isinstance(p, uuid.UUID) else p for p in params)
            return connection.exec_driver_sql(self.qmark, converted)
        return connection.exec_driver_sql(self.pyformat, params)
