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
