"""Alembic environment: the URL comes from the caller's Settings or ASSORTMENT_DATABASE_URL."""

from __future__ import annotations

import warnings

from alembic import context
from sqlalchemy import Connection

from assortment.config import Settings
from assortment.db.engine import make_engine
from assortment.db.models import Base

config = context.config
target_metadata = Base.metadata

# Indexes that exist on one dialect only (see the product text search migration): made by migrations,
# not described by the models, so autogenerate must not offer to drop them.
DIALECT_INDEXES = frozenset(
    {
        "ix_product_search",
        "ix_product_name_trgm",
        "ix_product_sku_trgm",
        "ix_product_scope_sku_pattern",
        "ix_node_child_order",
    }
)


# SQLite's full-text index of products (a virtual table and the tables FTS5 keeps for it): made by a
# migration on SQLite only, and not something SQLAlchemy can describe.
DIALECT_TABLE_PREFIX = "product_search"


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name is not None and name.startswith(DIALECT_TABLE_PREFIX))


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "index" and reflected and compare_to is None and name in DIALECT_INDEXES)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include_object,
        include_name=_include_name,
    )
    with context.begin_transaction(), warnings.catch_warnings():
        # SQLAlchemy cannot reflect SQLite's expression index ix_product_search, and says so; it is one of
        # DIALECT_INDEXES, left out of the comparison anyway.
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    settings = config.attributes.get("settings") or Settings()
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `assortment db upgrade`")
run_migrations_online()
