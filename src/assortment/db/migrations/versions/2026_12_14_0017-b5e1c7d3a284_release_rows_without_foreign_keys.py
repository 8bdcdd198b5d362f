"""The big release tables name their release without a foreign key.

release_product, release_node_product, release_related and release_digest: a publish writes hundreds of
thousands of their rows (100k products: ~450k rows), and PostgreSQL checks a foreign key row by row, a
lookup and a lock of the release row each; dropping the constraints took a quarter off a publish. Their
rows are written only by publish, in the transaction that creates the release, and deleted only with it,
children first (no cascade was relied on); `assortment check` reports rows whose release does not exist.
SQLite rebuilds the four tables (batch mode), keeping release_digest WITHOUT ROWID.

Revision ID: b5e1c7d3a284
Revises: f3b8d6a1c920
Create Date: 2026-12-14 18:30:00
"""

from collections.abc import Sequence
from typing import Any

from alembic import op

revision: str = "b5e1c7d3a284"
down_revision: str | None = "f3b8d6a1c920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("release_product", {}),
    ("release_node_product", {}),
    ("release_related", {}),
    ("release_digest", {"sqlite_with_rowid": False}),
)


def upgrade() -> None:
    for table, options in TABLES:
        with op.batch_alter_table(table, table_kwargs=options) as batch:
            batch.drop_constraint(f"fk_{table}_release_pk_catalog_release", type_="foreignkey")


def downgrade() -> None:
    for table, options in TABLES:
        with op.batch_alter_table(table, table_kwargs=options) as batch:
            batch.create_foreign_key(
                f"fk_{table}_release_pk_catalog_release", "catalog_release", ["release_pk"], ["pk"], ondelete="CASCADE"
            )
