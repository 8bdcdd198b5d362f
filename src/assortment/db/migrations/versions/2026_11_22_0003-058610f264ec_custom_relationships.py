"""Custom relationships, their attachment to products, and associations.

Revision ID: 058610f264ec
Revises: 82b475e0cb37
Create Date: 2026-11-22 05:48:54
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assortment.db.types import UTCDateTime

revision: str = "058610f264ec"
down_revision: str | None = "82b475e0cb37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_relationship",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=True),
        sa.Column("external_name", sa.Text(), nullable=True),
        sa.Column("external_description", sa.Text(), nullable=True),
        sa.Column("bi_directional", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_custom_relationship")),
        sa.UniqueConstraint("id", name=op.f("uq_custom_relationship_id")),
        sa.UniqueConstraint("scope_id", "slug", name="uq_custom_relationship_scope_slug"),
    )
    with op.batch_alter_table("custom_relationship", schema=None) as batch_op:
        batch_op.create_index("ix_custom_relationship_scope_created", ["scope_id", "created_at", "id"], unique=False)

    op.create_table(
        "association",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_pk", sa.Integer(), nullable=False),
        sa.Column("relationship_pk", sa.Integer(), nullable=False),
        sa.Column("target_pk", sa.Integer(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("ck_association_status")),
        sa.ForeignKeyConstraint(
            ["relationship_pk"],
            ["custom_relationship.pk"],
            name=op.f("fk_association_relationship_pk_custom_relationship"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["source_pk"], ["product.pk"], name=op.f("fk_association_source_pk_product"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_pk"], ["product.pk"], name=op.f("fk_association_target_pk_product"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_association")),
        sa.UniqueConstraint("source_pk", "relationship_pk", "target_pk", name="uq_association_edge"),
    )
    with op.batch_alter_table("association", schema=None) as batch_op:
        batch_op.create_index("ix_association_relationship", ["relationship_pk"], unique=False)
        batch_op.create_index("ix_association_target", ["target_pk", "relationship_pk"], unique=False)

    op.create_table(
        "product_custom_relationship",
        sa.Column("product_pk", sa.Integer(), nullable=False),
        sa.Column("relationship_pk", sa.Integer(), nullable=False),
        sa.Column("attached_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_pk"],
            ["product.pk"],
            name=op.f("fk_product_custom_relationship_product_pk_product"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["relationship_pk"],
            ["custom_relationship.pk"],
            name=op.f("fk_product_custom_relationship_relationship_pk_custom_relationship"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("product_pk", "relationship_pk", name=op.f("pk_product_custom_relationship")),
    )
    with op.batch_alter_table("product_custom_relationship", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_custom_relationship_relationship_pk"), ["relationship_pk"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("product_custom_relationship", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_custom_relationship_relationship_pk"))

    op.drop_table("product_custom_relationship")
    with op.batch_alter_table("association", schema=None) as batch_op:
        batch_op.drop_index("ix_association_target")
        batch_op.drop_index("ix_association_relationship")

    op.drop_table("association")
    with op.batch_alter_table("custom_relationship", schema=None) as batch_op:
        batch_op.drop_index("ix_custom_relationship_scope_created")

    op.drop_table("custom_relationship")
