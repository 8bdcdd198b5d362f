"""release_digest: what a release serves of each hierarchy, node and product, as a digest (SPEC §10.1).

`changes` compares two releases by these rows alone: a narrow table, so that a pass over two 100k-product
releases reads a few megabytes, not their documents. On SQLite the rows live in the primary key's b-tree
(WITHOUT ROWID). Releases published before this revision have no rows here; `changes` computes their
digests from their documents.

Revision ID: d41f7a2c9e63
Revises: e5b7c3d9f104
Create Date: 2026-12-14 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d41f7a2c9e63"
down_revision: str | None = "e5b7c3d9f104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "release_digest",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["catalog_release.pk"],
            name=op.f("fk_release_digest_release_pk_catalog_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_pk", "entity_type", "entity_id", name=op.f("pk_release_digest")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("release_digest")
