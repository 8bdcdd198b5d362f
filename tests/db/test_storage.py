"""The storage layer: migrations match the models, and SQLite runs with the settings we rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from assortment.config import Settings
from assortment.db.engine import make_engine
from assortment.db.migrate import check
from assortment.db.models import Store
from tests.conftest import Database


def test_migrations_match_the_models(db: Database) -> None:
    check(db.settings)  # raises if `alembic check` would find a difference


def test_a_fresh_database_has_one_default_store(db: Database) -> None:
    with db.sessions() as session:
        defaults = session.query(Store).filter(Store.is_default.is_(True)).all()
    assert len(defaults) == 1


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'pragmas.db'}"))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    engine.dispose()


def test_foreign_keys_are_enforced(db: Database) -> None:
    statement = text("INSERT INTO node_product (node_pk, product_pk, linked_at) VALUES (999, 999, :t)")
    with db.sessions() as session:
        with pytest.raises(IntegrityError):
            session.execute(statement, {"t": "2024-01-01 00:00:00"})
        session.rollback()


def test_savepoints_roll_back_only_their_part(db: Database) -> None:
    """The SQLite driver's default transaction handling breaks SAVEPOINT; the engine factory fixes it."""
    with db.sessions() as session:
        session.add(Store(name="kept"))
        session.flush()
        nested = session.begin_nested()
        session.add(Store(name="dropped"))
        session.flush()
        nested.rollback()
        session.commit()
    with db.sessions() as session:
        names = {s.name for s in session.query(Store)}
    assert "kept" in names
    assert "dropped" not in names


def test_release_product_rows_fit_three_to_a_page_on_postgresql(db: Database) -> None:
    """A release product row of a priced product is ≈ 4 kB (document, price, price parts): uncompressed, each
    took a page of its own, and every publish and copy wrote twice the heap and WAL. A row wider than 2,700
    bytes has its widest values compressed with lz4 and kept in the row (migration 758c7a8751bb; f3b8d6a1c920
    kept them uncompressed)."""
    if db.name != "postgresql":
        pytest.skip("PostgreSQL storage parameters")
    with db.engine.connect() as conn:
        lz4 = "lz4" in (
            conn.execute(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
            or ()
        )
        options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'release_product'")).scalar()
        columns: dict[str, str] = dict(
            conn.execute(
                text(
                    "SELECT attname, attstorage::text || attcompression::text FROM pg_attribute"
                    " WHERE attrelid = 'release_product'::regclass AND attname IN ('document', 'price', 'price_parts')"
                )
            ).all()
        )
        if not lz4:
            assert options == ["toast_tuple_target=8160"]
            return
        assert options == ["toast_tuple_target=2700"]
        assert columns == {"document": "ml", "price": "ml", "price_parts": "ml"}
        # A wide row is stored compressed, in the row: nothing is written to the TOAST table.
        toast_size = text(
            "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'release_product'"
        )
        toast_before = conn.execute(toast_size).scalar()
        wide = "x" * 1600  # two values: a row of ≈ 3.3 kB, compressed here and not under the 8,160 target
        conn.execute(
            text(
                "INSERT INTO release_product (release_pk, product_id, position, name, updated_at, document,"
                " price_parts) VALUES (-1, gen_random_uuid(), 0, 'wide', now(), convert_to(:d, 'UTF8'),"
                " convert_to(:d, 'UTF8'))"
            ),
            {"d": wide},
        )
        stored = conn.execute(
            text(
                "SELECT pg_column_size(document), pg_column_size(price_parts) FROM release_product"
                " WHERE release_pk = -1"
            )
        ).one()
        assert stored[0] + stored[1] < 2700  # compressed (3,208 bytes as written)
        assert conn.execute(toast_size).scalar() == toast_before
        conn.rollback()
