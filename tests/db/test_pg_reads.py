"""The fast path's awaited reads on PostgreSQL (db/pg_reads.py): values decoded as psycopg decodes them,
statements prepared once per connection, never more connections than its size however many reads wait,
and a failure or a cancelled read leaves no connection in a state the next read would trip on."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from assortment.db.pg_reads import PgReads, ReadFailed
from assortment.db.repositories.common import DriverSQL
from tests.conftest import Database
from tests.loops import run


@pytest.fixture
def reads(db: Database) -> PgReads:
    if db.name != "postgresql":
        pytest.skip("awaited reads are PostgreSQL's (SQLite reads are this process's own work)")
    return PgReads(db.engine, size=2)


VALUES = DriverSQL(
    "SELECT %s::int8, %s::int4, %s::bool, %s::bytea, %s::text, %s::uuid, %s::jsonb, %s::timestamptz,"
    " NULL::bytea, %s::int8"
)


def _plain(db: Database, statement: DriverSQL, *params: object) -> list[tuple[object, ...]]:
    """The same statement through psycopg's own cursor, binary, as `ReleaseVersions.fetch` reads it."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(statement.pyformat, params, binary=True)
        rows: list[tuple[object, ...]] = cursor.fetchall()
        return rows
    finally:
        raw.close()


def test_values_come_back_as_psycopg_gives_them(db: Database, reads: PgReads) -> None:
    when = datetime(2026, 5, 17, 8, 30, 1, 250000, tzinfo=UTC)
    params = (-(2**40), 7, True, "\\x00ff41", "naïve ✓", uuid.uuid4(), '{"a": [1, 2.5, null]}', when, None)

    async def read() -> list[tuple[object, ...]]:
        return await reads.fetch(VALUES, *params)

    rows = run(read())
    assert rows == [(-(2**40), 7, True, b"\x00\xffA", "naïve ✓", params[5], {"a": [1, 2.5, None]}, when, None, None)]
    assert rows == [tuple(value for value in _plain(db, VALUES, *params)[0])]
    reads.close()


def test_a_statement_is_prepared_once_per_connection(reads: PgReads) -> None:
    statement = DriverSQL("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'fast%%'")

    async def read() -> list[int]:
        counts = []
        for _ in range(3):
            (row,) = await reads.fetch(statement)
            counts.append(int(row[0]))
        return counts

    # the statement sees itself prepared on its connection, once, whatever the number of reads
    assert run(read()) == [1, 1, 1]
    assert reads.opened == 1
    reads.close()


def test_many_reads_share_the_connections(reads: PgReads) -> None:
    statement = DriverSQL("SELECT pg_backend_pid(), %s::int8 FROM pg_sleep(0.02)")

    async def read_all() -> list[tuple[object, ...]]:
        results = await asyncio.gather(*(reads.fetch(statement, n) for n in range(10)))
        return [row for rows in results for row in rows]

    rows = run(read_all())
    assert sorted(int(row[1]) for row in rows) == list(range(10))  # type: ignore[call-overload]
    assert len({row[0] for row in rows}) == 2  # the reader's size, never more
    assert reads.opened == 2
    reads.close()


def test_an_error_closes_its_connection_and_the_next_read_works(reads: PgReads) -> None:
    failing = DriverSQL("SELECT 1 / %s::int8")

    async def scenario() -> list[tuple[object, ...]]:
        with pytest.raises(ReadFailed, match="division by zero"):
            await reads.fetch(failing, 0)
        assert reads.opened == 0
        return await reads.fetch(failing, 1)

    assert run(scenario()) == [(1,)]
    reads.close()


def test_a_cancelled_read_leaves_no_statement_behind(reads: PgReads) -> None:
    slow = DriverSQL("SELECT %s::int8 FROM pg_sleep(5)")
    quick = DriverSQL("SELECT %s::int8")

    async def scenario() -> list[tuple[object, ...]]:
        task = asyncio.ensure_future(reads.fetch(slow, 1))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert reads.opened == 0  # its connection closed, the statement with it
        return await asyncio.wait_for(reads.fetch(quick, 2), timeout=2)

    assert run(scenario()) == [(2,)]
    reads.close()


def test_a_lost_server_connection_is_reported_then_replaced(db: Database, reads: PgReads) -> None:
    statement = DriverSQL("SELECT pg_backend_pid()")

    async def first() -> int:
        (row,) = await reads.fetch(statement)
        return int(row[0])

    pid = run(first())
    with psycopg.connect(reads.conninfo.decode(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    async def after() -> int:
        with pytest.raises(ReadFailed):
            await reads.fetch(statement)
        (row,) = await reads.fetch(statement)
        return int(row[0])

    assert run(after()) != pid
    reads.close()


def test_waiters_are_served_when_the_running_read_is_cancelled(db: Database, reads: PgReads) -> None:
    one = PgReads(db.engine, size=1)
    slow = DriverSQL("SELECT %s::int8 FROM pg_sleep(5)")
    quick = DriverSQL("SELECT %s::int8")

    async def scenario() -> list[tuple[object, ...]]:
        running = asyncio.ensure_future(one.fetch(slow, 0))
        await asyncio.sleep(0.1)
        waiting = [asyncio.ensure_future(one.fetch(quick, n)) for n in (1, 2)]
        await asyncio.sleep(0.05)
        running.cancel()  # its connection is closed: the waiters open another, and share it
        results = await asyncio.wait_for(asyncio.gather(*waiting), timeout=3)
        return [row for rows in results for row in rows]

    assert run(scenario()) == [(1,), (2,)]
    assert one.opened == 1
    one.close()
    reads.close()


def test_a_server_gone_mid_read_fails_that_read_only(reads: PgReads) -> None:
    slow = DriverSQL("SELECT pg_backend_pid() FROM pg_sleep(%s::float8)")
    pid_of = DriverSQL("SELECT pg_backend_pid()")

    async def scenario() -> tuple[str, list[tuple[object, ...]]]:
        (row,) = await reads.fetch(pid_of)
        running = asyncio.ensure_future(reads.fetch(slow, 5))
        await asyncio.sleep(0.1)
        with psycopg.connect(reads.conninfo.decode(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        # the same turn: another read opens a connection (it may get the number of the one just lost)
        other = asyncio.ensure_future(reads.fetch(pid_of))
        outcome = await asyncio.gather(running, return_exceptions=True)
        return type(outcome[0]).__name__, await asyncio.wait_for(other, timeout=3)

    name, rows = run(scenario())
    assert name == "ReadFailed"
    assert len(rows) == 1
    reads.close()


def test_percent_signs_are_sent_as_psycopg_sends_them(reads: PgReads) -> None:
    async def read() -> list[tuple[object, ...]]:
        return await reads.fetch(DriverSQL("SELECT 'a%%b' || %s::text"), "c")

    assert run(read()) == [("a%bc",)]
    reads.close()
