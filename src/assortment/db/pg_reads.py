"""Fixed reads on PostgreSQL awaited on the event loop, through libpq itself (issue 17).

The fast read path (api/fast_reads.py) answers on the event loop. A blocking read there keeps the loop idle
for the whole round trip, PostgreSQL's share of the work included (≈ 0.25 ms for a page of 25 products):
under load the server process then spends a third of its time waiting, with requests queued behind it.
Here the statement is sent and its result awaited: while PostgreSQL works on one page the loop renders
another.

psycopg's async cursors would do the same at a cost of ≈ 70 µs of Python per statement; this module speaks
to the same libpq through psycopg's thin `pq` wrapper instead: each connection in nonblocking mode, each
statement prepared once per connection (server-side), parameters sent as text (the server infers their
types from the statement), results asked for in binary and loaded by psycopg's own (compiled) transformer,
so the values are those its cursors give: `bytea` comes as the bytes stored.

A connection serves one statement at a time; a few are kept (`size`), opened when first needed. Any failure
(the server gone, an error, a task cancelled while its statement ran) closes the connection it happened on
and is raised; the caller then answers the way it does when a database fails.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import Transformer
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine

from assortment.db.repositories.common import DriverSQL

CONNECT_TIMEOUT_S = 3


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ReadFailed(Exception):
    """A statement failed or the connection broke."""


def _text(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return b"t" if value else b"f"
    return str(value).encode()


class _Link:
    """One libpq connection in nonblocking mode and the statements prepared on it."""

    __slots__ = ("fd", "pgconn", "prepared")

    def __init__(self, conninfo: bytes) -> None:
        pgconn = pq.PGconn.connect(conninfo)
        if pgconn.status != pq.ConnStatus.OK:
            message = pgconn.get_error_message()
            pgconn.finish()
            raise ReadFailed(message)
        pgconn.nonblocking = 1
        self.pgconn = pgconn
        # The loop watches a descriptor of the link's own: libpq closes its socket when the server goes away,
        # and the number may then be reused by another connection while the loop still watches it.
        self.fd = os.dup(pgconn.socket)
        self.prepared: set[bytes] = set()

    async def run(self, name: bytes, sql: bytes, params: list[bytes | None]) -> list[tuple[Any, ...]]:
        pgconn = self.pgconn
        if name not in self.prepared:
            pgconn.send_prepare(name, sql)
            self._check(await self._result(), pq.ExecStatus.COMMAND_OK)
            self.prepared.add(name)
        pgconn.send_query_prepared(name, params, None, 1)
        result = self._check(await self._result(), pq.ExecStatus.TUPLES_OK)
        try:
            # psycopg's own loaders, in its compiled transformer: the values its cursors give
            transformer = Transformer()
            transformer.set_pgresult(result, set_loaders=True, format=pq.Format.BINARY)
            rows: list[tuple[Any, ...]] = transformer.load_rows(0, result.ntuples, tuple)
            return rows
        finally:
            result.clear()

    @staticmethod
    def _check(result: pq.abc.PGresult, expected: pq.ExecStatus) -> pq.abc.PGresult:
        if result.status != expected:
            message = result.get_error_message()
            result.clear()
            raise ReadFailed(message if isinstance(message, str) else message.decode(errors="replace"))
        return result

    async def _result(self) -> pq.abc.PGresult:
        """The one result of the statement sent: written out, then read as it arrives."""
        pgconn = self.pgconn
        loop = asyncio.get_running_loop()
        while pgconn.flush():  # the socket's buffer is full: wait until it can take the rest
            writable: asyncio.Future[None] = loop.create_future()
            loop.add_writer(self.fd, _settle, writable)
            try:
                await writable
            finally:
                loop.remove_writer(self.fd)
        found: list[pq.abc.PGresult] = []
        done: asyncio.Future[None] = loop.create_future()

        watched = False

        def readable() -> None:
            nonlocal watched
            if done.done():
                return
            try:
                pgconn.consume_input()
                while not pgconn.is_busy():
                    result = pgconn.get_result()
                    if result is None:
                        done.set_result(None)
                        break
                    found.append(result)
            except Exception as failed:  # the connection broke
                done.set_exception(ReadFailed(str(failed)))
            if done.done() and watched:  # at once: nothing else may run between the answer and this
                loop.remove_reader(self.fd)
                watched = False

        readable()  # a result may already have arrived
        if not done.done():
            loop.add_reader(self.fd, readable)
            watched = True
            try:
                await done
            finally:
                if watched:
                    loop.remove_reader(self.fd)
        else:
            done.result()
        if len(found) != 1:
            for result in found:
                result.clear()
            raise ReadFailed(f"{len(found)} results for one statement")
        return found[0]

    def close(self) -> None:
        self.pgconn.finish()
        os.close(self.fd)


class PgReads:
    """Fixed statements (`DriverSQL`) read on a few connections of their own, awaited on the event loop."""

    def __init__(self, engine: Engine, size: int = 4) -> None:
        args, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)  # psycopg's adapters, for its own connections: not a libpq setting
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)  # connecting holds the loop: not for long
        self.conninfo = make_conninfo(*args, **params).encode()
        self.size = size
        self.idle: list[_Link] = []
        self.opened = 0  # connections open, idle or in use
        # waiting for a connection: given a link, or None for a slot freed (open one)
        self.waiting: deque[asyncio.Future[_Link | None]] = deque()
        self.names: dict[str, tuple[bytes, bytes]] = {}  # a statement's text → (its name, its SQL with $n)

    async def fetch(self, statement: DriverSQL, *params: Any) -> list[tuple[Any, ...]]:
        named = self.names.get(statement.pyformat)
        if named is None:
            # `%s` placeholders become $1…, and `%%` a percent sign, as psycopg sends them
            pieces = [piece.replace("%%", "%") for piece in statement.pyformat.split("%s")]
            sql = pieces[0] + "".join(f"${i}{piece}" for i, piece in enumerate(pieces[1:], start=1))
            named = self.names[statement.pyformat] = (f"fast_{len(self.names)}".encode(), sql.encode())
        link = await self._acquire()
        try:
            rows = await link.run(named[0], named[1], [_text(value) for value in params])
        except psycopg.Error as failed:  # libpq refused to send: the connection broke
            self._discard(link)
            raise ReadFailed(str(failed)) from failed
        except BaseException:
            self._discard(link)
            raise
        self._release(link)
        return rows

    async def _acquire(self) -> _Link:
        while True:
            if self.idle:
                return self.idle.pop()
            if self.opened < self.size:
                self.opened += 1
                try:
                    return _Link(self.conninfo)  # blocks the loop for the connection's set-up, rarely
                except BaseException:
                    self.opened -= 1
                    self._wake_one()  # the slot is free again: the next waiter tries
                    raise
            waiter: asyncio.Future[_Link | None] = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            try:
                link = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    handed = waiter.result()
                    if handed is not None:
                        self._release(handed)  # handed over just as the task was cancelled
                    else:
                        self._wake_one()  # so was a free slot: pass it on
                raise
            if link is not None:
                return link
            # None: a connection was closed, its slot is free: open one (or take one released meanwhile)

    def _release(self, link: _Link) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(link)
                return
        self.idle.append(link)

    def _discard(self, link: _Link) -> None:
        link.close()
        self.opened -= 1
        self._wake_one()  # a waiter may now open a connection of its own

    def _wake_one(self) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for link in self.idle:
            link.close()
        self.opened -= len(self.idle)
        self.idle.clear()
