"""Product counts on PostgreSQL without a hot row (issue 17, migration cc89063b9cfe).

A scope's count is its folded count plus its deltas not folded yet, read in one statement. What must hold:
product writers of one store never wait for each other on the count (every transaction here waits for no
lock longer than LOCK_TIMEOUT, so a wait is an error, not a slow test); a count read in one snapshot equals
the products that snapshot sees, whatever writers and folds do meanwhile; a write that finds no rival folds
what rivals left; and the migration counts the products already there.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from assortment.config import Settings
from assortment.db.engine import begin_write, make_engine, make_session_factory
from assortment.db.migrate import alembic_config, upgrade
from assortment.db.models import ORGANIZATION_SCOPE, Product, ProductCount, ProductCountDelta
from assortment.db.repositories.product_reads import newest_products
from assortment.db.types import utcnow
from assortment.domain import auth
from assortment.domain.integrity import check_database
from assortment.domain.products import ProductService
from assortment.domain.tenancy import Principal
from assortment.schemas.products import ProductAttributes
from tests.conftest import Database, _create_pg_database, _drop_pg_database

LOCK_TIMEOUT = "3s"
REVISION = "cc89063b9cfe"


@pytest.fixture
def pg(db: Database) -> Database:
    if db.name != "postgresql":
        pytest.skip("count deltas are PostgreSQL's (SQLite has one writer at a time)")
    return db


@contextmanager
def reader(db: Database) -> Iterator[Connection]:
    """A connection as the direct reads use it on PostgreSQL: no transaction, a snapshot per statement."""
    with db.engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def writer(db: Database, isolation: str = "READ COMMITTED") -> Iterator[Connection]:
    """A connection whose transaction (begun here, committed by the caller) waits for no lock long."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level=isolation)
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        yield connection


def add(connection: Connection, scope_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """`count` products of `scope_id` in one statement."""
    now = utcnow()
    ids = [uuid.uuid4() for _ in range(count)]
    rows = [
        {"id": i, "scope_id": scope_id, "name": f"p {i}", "status": "draft", "commodity_type": "physical",
         "created_at": now, "updated_at": now, "version": 1}
        for i in ids
    ]  # fmt: skip
    connection.execute(insert(Product).values(rows))  # one statement: the statement triggers fire once
    return ids


def remove(connection: Connection, ids: list[uuid.UUID]) -> None:
    connection.execute(delete(Product).where(Product.id.in_(ids)))


def total(connection: Connection, *scopes: uuid.UUID) -> int:
    """The unfiltered product list's total, as the list reads it."""
    return newest_products(connection, list(scopes), 1, 0)[1]


def owned(connection: Connection, *scopes: uuid.UUID) -> int:
    query = select(func.count()).select_from(Product).where(Product.scope_id.in_(scopes))
    return int(connection.execute(query).scalar_one())


def deltas(connection: Connection, scope_id: uuid.UUID) -> list[int]:
    query = select(ProductCountDelta.products).where(ProductCountDelta.scope_id == scope_id)
    return sorted(connection.execute(query).scalars())


def folded(connection: Connection, scope_id: uuid.UUID) -> int | None:
    return connection.execute(select(ProductCount.products).where(ProductCount.scope_id == scope_id)).scalar()


def fold(db: Database) -> None:
    with writer(db) as connection:
        connection.execute(text("SELECT product_count_fold()"))
        connection.commit()


def test_writers_of_one_store_proceed_while_another_is_open(pg: Database) -> None:
    store = uuid.uuid4()
    with writer(pg) as setup:
        old = add(setup, store, 2)
        setup.commit()
    with reader(pg) as look, writer(pg) as first, writer(pg) as second:
        add(first, store, 3)  # the first writer folds: it holds the store's fold lock until it ends
        remove(second, old[:1])  # neither statement waits for the first (LOCK_TIMEOUT would fail them)
        add(second, store, 4)
        second.commit()
        assert total(look, store) == owned(look, store) == 5
        assert deltas(look, store) == [-1, 4]  # appended: the store's fold lock was taken
        assert folded(look, store) == 2
        first.commit()
        assert total(look, store) == owned(look, store) == 8
        with writer(pg) as third:  # no rival: it folds what the second left
            add(third, store, 1)
            third.commit()
        assert deltas(look, store) == []
        assert folded(look, store) == total(look, store) == owned(look, store) == 9


def test_product_creates_of_one_store_proceed_while_the_first_is_open(pg: Database) -> None:
    """The same through the product service, as the API writes (test_event_feed_concurrency's writers)."""
    with pg.sessions() as session:
        store = auth.default_store(session).id
    principal = Principal(key_id=uuid.uuid4(), store_id=store, grant="client_credentials")

    def create(session: Session, sku: str) -> None:
        begin_write(session)
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        attributes = ProductAttributes.model_validate({"name": sku, "sku": sku, "commodity_type": "physical"})
        ProductService(session, principal).create(attributes)

    with reader(pg) as look, pg.sessions() as first, pg.sessions() as second:
        create(first, "FIRST")
        create(second, "SECOND")
        second.commit()
        assert total(look, store, ORGANIZATION_SCOPE) == owned(look, store, ORGANIZATION_SCOPE) == 1
        first.commit()
        assert total(look, store, ORGANIZATION_SCOPE) == owned(look, store, ORGANIZATION_SCOPE) == 2


def test_a_fold_is_seen_whole_or_not_at_all(pg: Database) -> None:
    store = uuid.uuid4()
    with reader(pg) as look:
        with writer(pg) as holder:
            add(holder, store, 1)
            for _ in range(3):
                with writer(pg) as other:
                    add(other, store, 2)
                    other.commit()
            holder.commit()
        assert deltas(look, store) == [2, 2, 2]
        with pg.engine.connect() as snapshot, writer(pg) as folder:
            snapshot = snapshot.execution_options(isolation_level="REPEATABLE READ")
            assert total(snapshot, store) == 7  # the snapshot starts here
            folder.execute(text("SELECT product_count_fold()"))
            assert total(look, store) == 7  # the fold is not committed: the deltas still count
            folder.commit()
            assert deltas(look, store) == [] and folded(look, store) == 7
            assert total(look, store) == 7
            assert total(snapshot, store) == owned(snapshot, store) == 7  # the old snapshot: base and deltas


def test_a_fold_waits_for_no_writer(pg: Database) -> None:
    busy, idle = uuid.uuid4(), uuid.uuid4()
    with reader(pg) as look, writer(pg) as holder:
        add(holder, busy, 1)
        for scope in (busy, idle):
            with writer(pg) as other:
                add(other, scope, 2)
                other.commit()
        assert deltas(look, idle) == []  # no rival: folded by its writer
        assert deltas(look, busy) == [2]
        fold(pg)  # does not wait for the holder; leaves the scope it holds
        assert deltas(look, busy) == [2]
        holder.commit()
        fold(pg)
        assert deltas(look, busy) == [] and total(look, busy) == owned(look, busy) == 3


def test_a_repeatable_read_writer_appends(pg: Database) -> None:
    """A fold in REPEATABLE READ could fail on rows folded after its snapshot: such a writer only appends."""
    store = uuid.uuid4()
    with reader(pg) as look:
        with writer(pg, "REPEATABLE READ") as snapshot:
            add(snapshot, store, 2)
            snapshot.commit()
        assert deltas(look, store) == [2] and total(look, store) == 2
        with writer(pg) as plain:
            add(plain, store, 1)
            plain.commit()
        assert deltas(look, store) == [] and total(look, store) == owned(look, store) == 3


def test_a_statement_over_several_scopes(pg: Database) -> None:
    store, other = uuid.uuid4(), uuid.uuid4()
    with reader(pg) as look:
        with writer(pg) as setup:
            ids = add(setup, store, 3) + add(setup, other, 2) + add(setup, ORGANIZATION_SCOPE, 1)
            setup.commit()
        with writer(pg) as both:
            remove(both, [ids[0], ids[3], ids[5]])  # one statement, three scopes
            both.commit()
        assert (total(look, store, ORGANIZATION_SCOPE), total(look, other), total(look, ORGANIZATION_SCOPE)) == (
            2,
            1,
            0,
        )
        with writer(pg) as mover:  # a product changing scope counts in both
            mover.execute(update(Product).where(Product.id == ids[1]).values(scope_id=other))
            mover.commit()
        assert (total(look, store), total(look, other)) == (1, 2) == (owned(look, store), owned(look, other))


WRITERS = 4
ROUNDS = 25


def test_counts_stay_exact_under_concurrent_writers(pg: Database) -> None:
    """Writers of one store (and now and then the organization) insert and delete with transactions held
    open at random; a reader in one snapshot always finds the total equal to the products it sees, and a
    reader without a transaction (as the list reads) finds, while products are only added, a total between
    the counts of products taken just before and just after."""
    store = uuid.uuid4()
    failures: list[BaseException] = []
    stop = threading.Event()
    seen = {"snapshots": 0, "brackets": 0}

    def write(n: int) -> None:
        rng = random.Random(n)
        mine: list[uuid.UUID] = []
        try:
            for _ in range(ROUNDS):
                with writer(pg) as connection:
                    scope = ORGANIZATION_SCOPE if rng.random() < 0.2 else store
                    made = add(connection, scope, rng.randint(1, 3))
                    if mine and rng.random() < 0.4:
                        remove(connection, [mine.pop(rng.randrange(len(mine)))])
                    time.sleep(rng.choice((0.0, 0.0, 0.001, 0.01, 0.03)))
                    connection.commit()
                    mine.extend(made)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def read_in_snapshots() -> None:
        try:
            while not stop.is_set():
                with pg.engine.connect() as connection:
                    connection = connection.execution_options(isolation_level="REPEATABLE READ")
                    for scopes in ((store, ORGANIZATION_SCOPE), (ORGANIZATION_SCOPE,)):
                        assert total(connection, *scopes) == owned(connection, *scopes)
                    connection.rollback()
                seen["snapshots"] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    threads.append(threading.Thread(target=read_in_snapshots))
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join()
    stop.set()
    threads[-1].join()
    assert not failures, failures
    assert seen["snapshots"] > 0

    with reader(pg) as look:
        assert total(look, store, ORGANIZATION_SCOPE) == owned(look, store, ORGANIZATION_SCOPE)
        with pg.sessions() as session:
            assert [p for p in check_database(session) if p.check == "product_count"] == []
        fold(pg)
        assert deltas(look, store) == deltas(look, ORGANIZATION_SCOPE) == []
        assert total(look, store) == owned(look, store)

    # Only additions now, from several connections, folding as they go; the list's read takes no snapshot
    # of its own, so its one statement must not see a fold half done.
    def add_only(n: int) -> None:
        rng = random.Random(100 + n)
        try:
            for _ in range(ROUNDS * 2):
                with writer(pg) as connection:
                    add(connection, store, rng.randint(1, 2))
                    time.sleep(rng.choice((0.0, 0.0, 0.002)))
                    connection.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def read_between() -> None:
        try:
            with reader(pg) as look:
                while not stop.is_set():
                    before = owned(look, store)
                    counted = total(look, store)
                    after = owned(look, store)
                    assert before <= counted <= after, (before, counted, after)
                    seen["brackets"] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    stop.clear()
    threads = [threading.Thread(target=add_only, args=(n,)) for n in range(WRITERS)]
    threads.append(threading.Thread(target=read_between))
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join()
    stop.set()
    threads[-1].join()
    assert not failures, failures
    assert seen["brackets"] > 0
    with reader(pg) as look:
        assert total(look, store) == owned(look, store)


def test_the_migration_counts_the_products_already_there(db: Database, tmp_path: Path) -> None:
    """Upgrading counts the products written before (on PostgreSQL the table was empty); downgrading
    leaves PostgreSQL as it was (no triggers, an empty table) and SQLite counting as before."""
    if db.name == "postgresql":
        name, url = _create_pg_database()
    else:
        name, url = "", f"sqlite:///{tmp_path / 'migrate.db'}"
    settings = Settings(database_url=url, secret_key=None, webhook_worker=False)
    before = ScriptDirectory.from_config(alembic_config(settings)).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    try:
        upgrade(settings, before)
        engine = make_engine(settings)
        try:
            store = uuid.uuid4()
            with engine.begin() as connection:
                add(connection, store, 3)
                add(connection, ORGANIZATION_SCOPE, 2)
            upgrade(settings)
            with engine.connect() as connection:
                assert total(connection, store, ORGANIZATION_SCOPE) == 5
                assert total(connection, ORGANIZATION_SCOPE) == 2
            with make_session_factory(engine)() as session:
                assert [p for p in check_database(session) if p.check == "product_count"] == []
            command.downgrade(alembic_config(settings), before)
            with engine.begin() as connection:
                add(connection, store, 1)
                kept = connection.execute(select(ProductCount.scope_id, ProductCount.products)).all()
            assert dict(kept) == ({} if db.name == "postgresql" else {store: 4, ORGANIZATION_SCOPE: 2})
            upgrade(settings)
            with engine.connect() as connection:
                assert total(connection, store, ORGANIZATION_SCOPE) == 6
        finally:
            engine.dispose()
    finally:
        if name:
            _drop_pg_database(name)
