"""Alembic environment: the URL comes from the caller's Settings or ASSORTMENT_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from assortment.config import Settings
from assortment.db.engine import make_engine
from assortment.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
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
