"""Hierarchies, nodes, node-product links and jobs.

Revision ID: 82b475e0cb37
Revises: 8f0d5420ab45
Create Date: 2026-11-22 05:43:09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assortment.db.types import JSONDocument, UTCDateTime

revision: str = "82b475e0cb37"
down_revision: str | None = "8f0d5420ab45"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hierarchy",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("slug", sa.String(length=255), nullable=True),
        sa.Column("locales", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("admin_attributes", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("shopper_attributes", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_hierarchy")),
        sa.UniqueConstraint("id", name=op.f("uq_hierarchy_id")),
    )
    with op.batch_alter_table("hierarchy", schema=None) as batch_op:
        batch_op.create_index("ix_hierarchy_scope_created", ["scope_id", "created_at", "id"], unique=False)

    op.create_table(
        "pim_job",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("meta", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("errors", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_pim_job")),
        sa.UniqueConstraint("id", name=op.f("uq_pim_job_id")),
    )
    with op.batch_alter_table("pim_job", schema=None) as batch_op:
        batch_op.create_index("ix_pim_job_scope_created", ["scope_id", "created_at", "id"], unique=False)

    op.create_table(
        "node",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hierarchy_pk", sa.Integer(), nullable=False),
        sa.Column("parent_pk", sa.Integer(), nullable=True),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("slug", sa.String(length=255), nullable=True),
        sa.Column("locales", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("admin_attributes", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("shopper_attributes", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("curated_products", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hierarchy_pk"],
            ["hierarchy.pk"],
            name=op.f("fk_node_hierarchy_pk_hierarchy"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["parent_pk"], ["node.pk"], name=op.f("fk_node_parent_pk_node"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_node")),
        sa.UniqueConstraint("id", name=op.f("uq_node_id")),
    )
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.create_index("ix_node_hierarchy_created", ["hierarchy_pk", "created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_node_parent_pk"), ["parent_pk"], unique=False)
        batch_op.create_index("ix_node_scope_created", ["scope_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            "uq_node_parent_name",
            ["parent_pk", "name"],
            unique=True,
            sqlite_where=sa.text("parent_pk IS NOT NULL"),
            postgresql_where=sa.text("parent_pk IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_node_parent_slug",
            ["parent_pk", "slug"],
            unique=True,
            sqlite_where=sa.text("parent_pk IS NOT NULL"),
            postgresql_where=sa.text("parent_pk IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_node_top_name",
            ["hierarchy_pk", "name"],
            unique=True,
            sqlite_where=sa.text("parent_pk IS NULL"),
            postgresql_where=sa.text("parent_pk IS NULL"),
        )
        batch_op.create_index(
            "uq_node_top_slug",
            ["hierarchy_pk", "slug"],
            unique=True,
            sqlite_where=sa.text("parent_pk IS NULL"),
            postgresql_where=sa.text("parent_pk IS NULL"),
        )

    op.create_table(
        "node_product",
        sa.Column("node_pk", sa.Integer(), nullable=False),
        sa.Column("product_pk", sa.Integer(), nullable=False),
        sa.Column("linked_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_pk"], ["node.pk"], name=op.f("fk_node_product_node_pk_node"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_pk"],
            ["product.pk"],
            name=op.f("fk_node_product_product_pk_product"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("node_pk", "product_pk", name=op.f("pk_node_product")),
    )
    with op.batch_alter_table("node_product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_node_product_product_pk"), ["product_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("node_product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_product_product_pk"))

    op.drop_table("node_product")
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_node_top_slug",
            sqlite_where=sa.text("parent_pk IS NULL"),
            postgresql_where=sa.text("parent_pk IS NULL"),
        )
        batch_op.drop_index(
            "uq_node_top_name",
            sqlite_where=sa.text("parent_pk IS NULL"),
            postgresql_where=sa.text("parent_pk IS NULL"),
        )
        batch_op.drop_index(
            "uq_node_parent_slug",
            sqlite_where=sa.text("parent_pk IS NOT NULL"),
            postgresql_where=sa.text("parent_pk IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_node_parent_name",
            sqlite_where=sa.text("parent_pk IS NOT NULL"),
            postgresql_where=sa.text("parent_pk IS NOT NULL"),
        )
        batch_op.drop_index("ix_node_scope_created")
        batch_op.drop_index(batch_op.f("ix_node_parent_pk"))
        batch_op.drop_index("ix_node_hierarchy_created")

    op.drop_table("node")
    with op.batch_alter_table("pim_job", schema=None) as batch_op:
        batch_op.drop_index("ix_pim_job_scope_created")

    op.drop_table("pim_job")
    with op.batch_alter_table("hierarchy", schema=None) as batch_op:
        batch_op.drop_index("ix_hierarchy_scope_created")

    op.drop_table("hierarchy")
