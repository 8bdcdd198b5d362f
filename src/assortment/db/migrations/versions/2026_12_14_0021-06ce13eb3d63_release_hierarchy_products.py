"""release_hierarchy.product_positions: every product of a hierarchy in a release, kept at publish.

Every product of a hierarchy in a release (the release view's `/hierarchies/{id}/products`, the workbench's
browse page) was found by a pass over all the hierarchy's node links, counted, for each page: at 100k
products ≈ 0.6 s. Publish now keeps a hierarchy's distinct products as their positions in the release's
product order, packed (4 bytes each): a page is a slice of them and a lookup of those positions. Releases
published before have NULL and are read as before. PostgreSQL keeps the column uncompressed and out of line
(STORAGE EXTERNAL): a slice (substr) reads only the chunks it covers.

Revision ID: 06ce13eb3d63
Revises: 758c7a8751bb
Create Date: 2026-12-14 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "06ce13eb3d63"
down_revision: str | None = "758c7a8751bb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("release_hierarchy", sa.Column("product_positions", sa.LargeBinary(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE release_hierarchy ALTER COLUMN product_positions SET STORAGE EXTERNAL")


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place
    op.drop_column("release_hierarchy", "product_positions")
