"""The current `release_version` of catalogs, read outside any request's session (SPEC §12.4).

The release view's read cache (an ASGI middleware on the event loop) answers `latest` from memory only
while the catalog's `release_version` is the one it resolved `latest` at. It reads the version here: one
primary-key-like lookup on a connection of its own, kept open, in autocommit (every read sees every commit
that finished before it started), with the driver's own parameters instead of a compiled SQLAlchemy
statement (a few microseconds on SQLite, one loopback round trip on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine


class ReleaseVersions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._connection: Any = None
        self._lock = threading.Lock()
        self._data_version: int | None = None  # SQLite: `current`'s memory, valid while data_version holds
        self._known: dict[uuid.UUID, int] = {}

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

    def current(self, catalog_id: uuid.UUID) -> int | None:
        """SQLite: the catalog's version now, cheap enough to ask on the event loop for every request. The
        connection's `PRAGMA data_version` changes when any other connection commits (this one never
        writes), so the versions read since it last changed are still the database's: a commit that ended
        before this call changed it before this call read it."""
        with self._lock:
            try:
                connection = self._connection or self._connect()
                changed = connection.execute("PRAGMA data_version").fetchone()[0]
            except Exception:
                self.close()
                raise
            if changed != self._data_version:
                self._known.clear()
                self._data_version = changed
            if catalog_id in self._known:
                return self._known[catalog_id]
        found = self.read([catalog_id]).get(catalog_id)
        with self._lock:
            if found is not None and self._data_version == changed:
                self._known[catalog_id] = found
        return found

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
        self._data_version = None
        self._known.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                connection.close()
