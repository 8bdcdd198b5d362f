"""Engine and session factory, with the driver defaults fixed for SQLite."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from assortment.config import Settings
from assortment.db.repositories.common import is_contention

T = TypeVar("T")

# Execution option asking SQLite to open the transaction with BEGIN IMMEDIATE: a writer takes the
# write lock up front, so two writers never both read, then fail to upgrade their lock.
SQLITE_IMMEDIATE = "assortment_sqlite_immediate"


def make_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _make_sqlite_engine(settings)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


# The threads a server process runs its routes on (anyio's default limit). SQLite connections are cheap to
# keep and dear to open (a file open, the WAL index, five PRAGMAs): the pool keeps one per thread, so none is
# opened per request under load (QueuePool's default of 5 closed and reopened one for every request beyond).
SQLITE_POOL_SIZE = 40


def _make_sqlite_engine(settings: Settings) -> Engine:
    in_memory = make_url(settings.database_url).database in (None, "", ":memory:")
    engine = create_engine(
        settings.database_url,
        connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000},
        **({} if in_memory else {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE}),
    )
    busy_timeout = int(settings.sqlite_busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin, so that SAVEPOINT
        # works and writers can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # `like` filters are case-sensitive on PostgreSQL; make SQLite agree (`ilike` is the other one).
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(SQLITE_IMMEDIATE):
            # may wait for, and fail on, the write lock: through SQLAlchemy, so a failure is its error
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # takes no lock, so nothing to wait for; straight to the driver, since through `exec_driver_sql`
            # the BEGIN of every read cost more than a primary-key read (issue 17)
            connection.connection.driver_connection.execute("BEGIN")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def begin_write(session: Session) -> None:
    """Mark the session's transaction as a writer before its first statement."""
    session.connection(execution_options={SQLITE_IMMEDIATE: True})


@contextmanager
def quick_writer(engine: Engine, wait_ms: int) -> Iterator[Session | None]:
    """A write transaction of its own, committed when the block ends, that waits at most `wait_ms` for a
    lock instead of the busy timeout (SQLite's write lock is held for seconds by a publish): for writes that
    may as well not happen, such as keeping what a read found. Waiting longer raises OperationalError.
    None on an in-memory SQLite database, whose one connection the caller is using."""
    if engine.dialect.name != "sqlite":
        with Session(bind=engine) as session:
            session.execute(text(f"SET LOCAL lock_timeout = '{int(wait_ms)}ms'"))
            yield session
            session.commit()
        return
    if engine.url.database in (None, "", ":memory:"):
        yield None
        return
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        (previous,) = driver.execute("PRAGMA busy_timeout").fetchone()
        driver.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            with Session(bind=connection.execution_options(**{SQLITE_IMMEDIATE: True})) as session:
                yield session
                session.commit()
        finally:
            driver.execute(f"PRAGMA busy_timeout={int(previous)}")


# The advisory lock space of snapshot writers on PostgreSQL ("SNAP"); the key is a hash of the writer's name.
SNAPSHOT_LOCKS = 0x534E4150
SNAPSHOT_ATTEMPTS = 3


def in_snapshot(sessions: sessionmaker[Session], name: str, work: Callable[[Session], T]) -> T:
    """Run `work` in one write transaction that reads a single snapshot of the whole database, one such
    transaction per `name` at a time, and commit it.

    SQLite: BEGIN IMMEDIATE already gives both (one writer; a transaction reads its own snapshot).
    PostgreSQL: READ COMMITTED would let every statement see what others committed in between (a product
    deleted after the links were read but before the products were), so the work runs in REPEATABLE READ.
    Its snapshot starts at its first statement, so the one-at-a-time lock is taken before, on another
    connection (a session-level advisory lock, released after the commit or when that connection dies):
    the next writer's snapshot then includes the previous writer's commit. Should the transaction still
    lose a race for a row it locks (serialization failure), it is run again from the start on a new snapshot.
    """
    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        with sessions() as session:
            begin_write(session)
            result = work(session)
            session.commit()
            return result
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)
    with engine.connect() as holder:
        holder = holder.execution_options(isolation_level="AUTOCOMMIT")
        holder.execute(text("SELECT pg_advisory_lock(:space, :key)"), {"space": SNAPSHOT_LOCKS, "key": key})
        try:
            for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
                try:
                    with sessions() as session:
                        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                        result = work(session)
                        session.commit()
                        return result
                except OperationalError as exc:
                    if attempt == SNAPSHOT_ATTEMPTS or not is_contention(exc):
                        raise
                    time.sleep(0.05 * attempt)
            raise AssertionError("unreachable")
        finally:
            if not holder.invalidated:
                holder.execute(text("SELECT pg_advisory_unlock(:space, :key)"), {"space": SNAPSHOT_LOCKS, "key": key})
