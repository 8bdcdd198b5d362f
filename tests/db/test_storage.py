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


def test_release_product_rows_stay_inline_on_postgresql(db: Database) -> None:
    """PostgreSQL compresses the values of a row wider than 2 kB as it writes it: every release product row
    of a publish, and again every row an incremental publish copies. The table keeps its rows inline and
    uncompressed up to a page instead (migration f3b8d6a1c920)."""
    if db.name != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    with db.engine.connect() as conn:
        options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'release_product'")).scalar()
    assert options == ["toast_tuple_target=8160"]
