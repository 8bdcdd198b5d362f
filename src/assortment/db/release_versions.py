"""The current `release_version` of catalogs, read outside any request's session (SPEC §12.4).

The release view's read cache (an ASGI middleware on the event loop) answers `latest` from memory only
while the catalog's `release_version` is the one it resolved `latest` at. It reads the version here: one
primary-key-like lookup on a connection of its own, kept open, in autocommit (every read sees every commit
that finished before it started), with the driver's own parameters instead of a compiled SQLAlchemy
statement (a few microseconds on SQLite, one loopback round trip on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine

from assortment.db.pg_reads import PgReads, ReadFailed
from assortment.db.repositories.common import DriverSQL

CATALOG_VERSION = DriverSQL("SELECT release_version FROM catalog WHERE id = %s")


class ReleaseVersions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._connection: Any = None
        self._lock = threading.Lock()
        # PostgreSQL: the fast path's page reads, awaited (the loop renders other pages meanwhile)
        self.awaited = None if self.sqlite else PgReads(engine)

    def read(self, catalog_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
        """{catalog id: release_version} of those of the catalogs that exist. Raises what the driver
        raises (the connection is then dropped and opened again by the next call)."""
        if not catalog_ids:
            return {}
        ids = list(catalog_ids)
        with self._lock:
            try:
                connection = self._connection or self._connect()
                cursor = connection.cursor()
                try:
                    if self.sqlite:
                        marks = ",".join("?" * len(ids))
                        cursor.execute(
                            f"SELECT id, release_version FROM catalog WHERE id IN ({marks})", [i.hex for i in ids]
                        )
                        return {uuid.UUID(hex=raw): version for raw, version in cursor.fetchall()}
                    marks = ",".join(["%s"] * len(ids))
                    cursor.execute(f"SELECT id, release_version FROM catalog WHERE id IN ({marks})", ids)
                    return {found: version for found, version in cursor.fetchall()}
                finally:
                    cursor.close()
            except Exception:
                self.close()
                raise

    def fetch(self, statement: DriverSQL, *params: Any) -> list[tuple[Any, ...]]:
        """The rows of one of the repositories' fixed statements, on the same connection: the fast read path
        (api/fast_reads.py) reads immutable release rows here, on the event loop. Raises as `read`."""
        with self._lock:
            try:
                connection = self._connection or self._connect()
                cursor = connection.cursor()
                try:
                    if self.sqlite:
                        converted = tuple(p.hex if isinstance(p, uuid.UUID) else p for p in params)
                        cursor.execute(statement.qmark, converted)
                    else:
                        cursor.execute(statement.pyformat, params, binary=True)  # bytea as it is, not hex
                    rows: list[tuple[Any, ...]] = cursor.fetchall()
                    return rows
                finally:
                    cursor.close()
            except Exception:
                self.close()
                raise

    async def fetch_awaited(self, statement: DriverSQL, *params: Any) -> list[tuple[Any, ...]]:
        """`fetch`, awaited on PostgreSQL (on connections of `PgReads`, that decode as psycopg does); on
        SQLite, where a read is this process's own work, run at once."""
        if self.awaited is None:
            return self.fetch(statement, *params)
        return await self.awaited.fetch(statement, *params)

    def _connect(self) -> Any:
        # A connection of the engine's (its `connect` settings applied), taken out of the pool for good.
        fairy = self.engine.raw_connection()
        connection: Any = fairy.driver_connection  # before detaching: a detached fairy no longer names it
        fairy.detach()
        if not self.sqlite:
            connection.rollback()  # whatever the pool's checks began
            connection.autocommit = True
        self._connection = connection
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                connection.close()


class TurnVersions:
    """Catalogs' `release_version`, read at most once per turn of the event loop, shared by the read
    cache and the fast read path of a process (SPEC §12.4).

    A request's task is created when its bytes are read (uvicorn's `data_received`) and asyncio runs the
    callbacks of one turn in the order they were scheduled. The first read of a turn schedules `_expire` at
    once: every task that runs before it was scheduled before that read, so its request had arrived before
    the read began, and the read saw every write that had answered by then. A task scheduled later runs
    after `_expire` and reads again. Under load one lookup serves every request of a turn."""

    def __init__(self, versions: ReleaseVersions) -> None:
        self.versions = versions
        self._fresh: dict[uuid.UUID, int | None] | None = None
        self._rows: dict[tuple[Any, ...], asyncio.Future[list[tuple[Any, ...]] | None]] = {}

    def _turn(self) -> dict[uuid.UUID, int | None]:
        fresh = self._fresh
        if fresh is None:
            fresh = self._fresh = {}
            asyncio.get_running_loop().call_soon(self._expire)
        return fresh

    def current(self, catalog_id: uuid.UUID) -> int | None:
        """The catalog's version now (None: no such catalog, or the database could not say)."""
        fresh = self._turn()
        if catalog_id not in fresh:
            try:
                fresh[catalog_id] = self.versions.read([catalog_id]).get(catalog_id)
            except Exception:  # the app answers, and reports a database that went away the usual way
                return None
        return fresh[catalog_id]

    def _expire(self) -> None:
        self._fresh = None
        self._rows.clear()

    async def rows_now(self, statement: DriverSQL, *params: Any) -> list[tuple[Any, ...]]:
        """A statement's rows now, read at most once per turn for the same parameters, as `current` reads
        versions (the shopper's catalog rules with their catalogs' versions), awaited on PostgreSQL: the
        requests of the turn that ask while the read is on its way wait for it (they arrived before it was
        sent). Raises what the read raises, or `ReadFailed` to those who waited for a read that failed."""
        self._turn()
        key = (statement, *params)
        pending = self._rows.get(key)
        if pending is not None:
            rows = await asyncio.shield(pending)  # one waiter cancelled is not the read cancelled
            if rows is None:
                raise ReadFailed("the read this request waited for failed")
            return rows
        pending = self._rows[key] = asyncio.get_running_loop().create_future()
        try:
            rows = await self.versions.fetch_awaited(statement, *params)
        except BaseException:
            pending.set_result(None)
            if self._rows.get(key) is pending:
                del self._rows[key]
            raise
        pending.set_result(rows)
        return rows

    async def current_awaited(self, catalog_id: uuid.UUID) -> int | None:
        """`current`, with the read awaited on PostgreSQL."""
        fresh = self._turn()
        if catalog_id in fresh:  # read this turn already
            return fresh[catalog_id]
        try:
            rows = await self.rows_now(CATALOG_VERSION, catalog_id)
        except Exception:  # the app answers, and reports a database that went away the usual way
            return None
        return int(rows[0][0]) if rows else None

    async def fetch_awaited(self, statement: DriverSQL, *params: Any) -> list[tuple[Any, ...]]:
        return await self.versions.fetch_awaited(statement, *params)
