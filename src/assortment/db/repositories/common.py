"""Query helpers every repository uses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Connection, Integer, Select, bindparam, func, select
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
