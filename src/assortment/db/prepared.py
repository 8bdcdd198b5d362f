"""Prepared reads for the hottest queries (issue 17): a Core select compiled once per dialect, run on the
driver's cursor, its rows decoded by column type without SQLAlchemy's result machinery.

For a page of 25 rows of a dozen columns, building SQLAlchemy `Row`s and running its per-column result
processors costs several times the query itself on SQLite (≈ 350 µs against ≈ 50 µs). Here each column gets
one small decoder chosen when the statement is first prepared for a dialect: UUIDs, UTC timestamps and JSON
documents decoded as `db.types` defines them, other types by SQLAlchemy's own result processor (or none).

The statement runs inside the caller's transaction: the connection must be one a `Session` has begun (its
`connection()`), so that several reads see one snapshot. Expanding (`IN`) parameters are not supported:
write them as separate parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Select, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from assortment.db.types import JSONDocument, UTCDateTime
from assortment.domain.formats import timestamp

Decoder = Callable[[Any], Any] | None


def _sqlite_uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(hex=value)


def _sqlite_timestamp(value: Any) -> datetime | None:
    # stored naive UTC as "YYYY-MM-DD HH:MM:SS[.ffffff]" (db.types.UTCDateTime)
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _sqlite_uuid_text(value: Any) -> str | None:
    # stored as 32 hex digits (SQLAlchemy's `Uuid` on SQLite)
    if value is None:
        return None
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def _postgresql_uuid_text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _sqlite_timestamp_text(value: Any) -> str | None:
    if value is None:
        return None
    if len(value) == 26:  # "YYYY-MM-DD HH:MM:SS.ffffff", as SQLAlchemy writes it: cut, not parsed
        return f"{value[:10]}T{value[11:23]}Z"
    return timestamp(datetime.fromisoformat(value).replace(tzinfo=UTC))


def _postgresql_timestamp_text(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def _postgresql_timestamp(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def _sqlite_json(value: Any) -> Any:
    return None if value is None else orjson.loads(value)


def _decoder(column_type: Any, dialect: Dialect, as_text: bool) -> Decoder:
    sqlite = dialect.name == "sqlite"
    if as_text and isinstance(column_type, Uuid):
        return _sqlite_uuid_text if sqlite else _postgresql_uuid_text
    if as_text and isinstance(column_type, UTCDateTime):
        return _sqlite_timestamp_text if sqlite else _postgresql_timestamp_text
    if as_text:
        raise TypeError(f"no text form for a column of type {column_type!r}")
    if isinstance(column_type, Uuid):
        return _sqlite_uuid if sqlite else None
    if isinstance(column_type, UTCDateTime):
        return _sqlite_timestamp if sqlite else _postgresql_timestamp
    if isinstance(column_type, JSONDocument):
        return _sqlite_json if sqlite else None  # psycopg parses jsonb itself
    processor: Decoder = column_type.dialect_impl(dialect).result_processor(dialect, None)
    return processor


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # positional drivers: the parameters' order; None: named (pyformat)
    binders: dict[str, Decoder]
    fixed: dict[str, Any]  # the values of the statement's own literals
    decoders: tuple[tuple[int, Callable[[Any], Any]], ...]


class Prepared:
    """A fixed select, ready to run on any connection of a supported dialect. The columns named in `as_text`
    (UUIDs and timestamps) come back as the API writes them: the canonical UUID form and RFC 3339 with
    milliseconds (`formats.timestamp`), with no object made on the way where the driver gives text."""

    __slots__ = ("_by_dialect", "as_text", "inline", "statement")

    def __init__(
        self, statement: Select[Any], *, as_text: tuple[str, ...] = (), inline: tuple[str, ...] = ()
    ) -> None:
        self.statement = statement
        self.as_text = frozenset(as_text)
        # Integer parameters written into the statement's text on PostgreSQL (a LIMIT, an OFFSET): with them
        # unknown, the planner prices a generic plan for any page size, finds it dearer than a plan for the
        # page asked for and plans every execution anew, which for a statement of several arms costs more
        # than running it (the product list: 300 → 90 µs of server time per page). With them in the text,
        # each page size is a statement of its own, planned once where the driver prepares it.
        self.inline = inline
        self._by_dialect: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        binders: dict[str, Decoder] = {}
        fixed: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            if bind.expanding:
                raise TypeError(f"prepared statements do not expand parameters ({name})")
            binders[name] = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:
                fixed[name] = bind.effective_value
        decoders = tuple(
            (i, decode)
            for i, column in enumerate(self.statement.selected_columns)
            if (decode := _decoder(column.type, dialect, column.key in self.as_text)) is not None
        )
        names = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
        sql = str(compiled)
        if self.inline and dialect.name == "postgresql" and names is not None:
            raise TypeError("parameters are written into the text of named-parameter statements only")
        return _Compiled(sql, names, binders, fixed, decoders)

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[list[Any]]:
        """The rows, each a list of decoded column values in the select's order."""
        dialect = connection.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = self._compile(dialect)
        binders = compiled.binders
        bound = {
            name: value if (bind := binders.get(name)) is None or value is None else bind(value)
            for name, value in (params.items() if not compiled.fixed else {**compiled.fixed, **params}.items())
        }
        arguments: Any = bound if compiled.names is None else tuple(bound[name] for name in compiled.names)
        sql = compiled.sql
        if self.inline and dialect.name == "postgresql":
            for name in self.inline:
                sql = sql.replace(f"%({name})s", str(int(arguments.pop(name))))
        fairy = connection.connection
        driver = fairy.driver_connection
        assert driver is not None
        try:
            cursor = driver.cursor()
            try:
                cursor.execute(sql, arguments)
                fetched = cursor.fetchall()
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as failed:
            # As SQLAlchemy would report it (the handlers know its errors: a lost database is a 503), and a
            # connection the database dropped is marked invalid, so that its holder opens a new one.
            disconnected = dialect.is_disconnect(failed, fairy.dbapi_connection, None)
            if disconnected:
                connection.invalidate(failed)
            raise DBAPIError.instance(
                sql,
                arguments,
                failed,
                dialect.loaded_dbapi.Error,
                connection_invalidated=disconnected,
                dialect=dialect,
            ) from failed
        decoders = compiled.decoders
        result = []
        for raw in fetched:
            row = list(raw)
            for i, decode in decoders:
                row[i] = decode(row[i])
            result.append(row)
        return result
