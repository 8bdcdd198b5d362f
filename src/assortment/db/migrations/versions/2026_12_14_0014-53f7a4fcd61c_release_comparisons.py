"""release_comparison, release_change: two releases compared once, and what differs between them (SPEC §10.1).

Releases never change, so `changes` between two of them is found once (one pass over both releases'
digests) and kept: later comparisons of the pair read its change rows only. Both tables go with either
release (ON DELETE CASCADE).

Revision ID: 53f7a4fcd61c
Revises: b3e8d5f1a927
Create Date: 2026-12-14 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assortment.db.types import UTCDateTime

revision: str = "53f7a4fcd61c"
down_revision: str | None = "b3e8d5f1a927"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "release_comparison",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("base_pk", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("compared_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_pk"],
            ["catalog_release.pk"],
            name=op.f("fk_release_comparison_base_pk_catalog_release"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["catalog_release.pk"],
            name=op.f("fk_release_comparison_release_pk_catalog_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_pk", "base_pk", name=op.f("pk_release_comparison")),
    )
    op.create_index(op.f("ix_release_comparison_base_pk"), "release_comparison", ["base_pk"], unique=False)
    op.create_table(
        "release_change",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("base_pk", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_pk", "base_pk"],
            ["release_comparison.release_pk", "release_comparison.base_pk"],
            name=op.f("fk_release_change_release_pk_release_comparison"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_pk", "base_pk", "entity_type", "entity_id", name=op.f("pk_release_change")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("release_change")
    op.drop_index(op.f("ix_release_comparison_base_pk"), table_name="release_comparison")
    op.drop_table("release_comparison")
