"""Catalogs, catalog rules, releases and the release snapshot tables.

Revision ID: f7229769e843
Revises: 058610f264ec
Create Date: 2026-11-22 05:56:31
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assortment.db.types import JSONDocument, UTCDateTime

revision: str = "f7229769e843"
down_revision: str | None = "058610f264ec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("hierarchy_ids", JSONDocument(none_as_null=True), nullable=False),
        sa.Column("pricebook_id", sa.Uuid(), nullable=True),
        sa.Column("pricebook_ids", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("locales", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("enable_price_segmentation", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_catalog")),
        sa.UniqueConstraint("id", name=op.f("uq_catalog_id")),
    )
    with op.batch_alter_table("catalog", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_scope_created", ["scope_id", "created_at", "id"], unique=False)

    op.create_table(
        "catalog_release",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("catalog_pk", sa.Integer(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("hierarchies", JSONDocument(none_as_null=True), nullable=False),
        sa.Column("pricebook_ids", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("is_full_publish", sa.Boolean(), nullable=False),
        sa.Column("is_full_delta", sa.Boolean(), nullable=False),
        sa.Column("price_segmentation_enabled", sa.Boolean(), nullable=False),
        sa.Column("total_products", sa.Integer(), nullable=False),
        sa.Column("total_nodes", sa.Integer(), nullable=False),
        sa.Column("delta", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_pk"],
            ["catalog.pk"],
            name=op.f("fk_catalog_release_catalog_pk_catalog"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_catalog_release")),
        sa.UniqueConstraint("id", name=op.f("uq_catalog_release_id")),
    )
    with op.batch_alter_table("catalog_release", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_release_catalog", ["catalog_pk", "pk"], unique=False)

    op.create_table(
        "catalog_rule",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("catalog_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("account_ids", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("account_tag_ids", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("customer_ids", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("channels", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("tags", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("schedules", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("pricebook_ids", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_pk"],
            ["catalog.pk"],
            name=op.f("fk_catalog_rule_catalog_pk_catalog"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_catalog_rule")),
        sa.UniqueConstraint("id", name=op.f("uq_catalog_rule_id")),
    )
    with op.batch_alter_table("catalog_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_rule_catalog_pk"), ["catalog_pk"], unique=False)
        batch_op.create_index("ix_catalog_rule_scope_created", ["scope_id", "created_at", "id"], unique=False)

    op.create_table(
        "release_hierarchy",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("hierarchy_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=True),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["catalog_release.pk"],
            name=op.f("fk_release_hierarchy_release_pk_catalog_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_pk", "hierarchy_id", name=op.f("pk_release_hierarchy")),
    )
    op.create_table(
        "release_node",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Uuid(), nullable=False),
        sa.Column("hierarchy_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("child_position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=True),
        sa.Column("product_count", sa.Integer(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["catalog_release.pk"],
            name=op.f("fk_release_node_release_pk_catalog_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_pk", "node_id", name=op.f("pk_release_node")),
    )
    with op.batch_alter_table("release_node", schema=None) as batch_op:
        batch_op.create_index("ix_release_node_hierarchy", ["release_pk", "hierarchy_id", "position"], unique=False)
        batch_op.create_index("ix_release_node_parent", ["release_pk", "parent_id", "child_position"], unique=False)

    op.create_table(
        "release_node_product",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("curated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["catalog_release.pk"],
            name=op.f("fk_release_node_product_release_pk_catalog_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_pk", "node_id", "position", name=op.f("pk_release_node_product")),
    )
    op.create_table(
        "release_product",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("slug", sa.String(length=255), nullable=True),
        sa.Column("upc_ean", sa.String(length=255), nullable=True),
        sa.Column("mpn", sa.String(length=255), nullable=True),
        sa.Column("tags", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["catalog_release.pk"],
            name=op.f("fk_release_product_release_pk_catalog_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_pk", "product_id", name=op.f("pk_release_product")),
    )
    with op.batch_alter_table("release_product", schema=None) as batch_op:
        batch_op.create_index("ix_release_product_position", ["release_pk", "position"], unique=False)

    op.create_table(
        "release_related",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["catalog_release.pk"],
            name=op.f("fk_release_related_release_pk_catalog_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_pk", "source_id", "slug", "position", name=op.f("pk_release_related")),
    )


def downgrade() -> None:
    op.drop_table("release_related")
    with op.batch_alter_table("release_product", schema=None) as batch_op:
        batch_op.drop_index("ix_release_product_position")

    op.drop_table("release_product")
    op.drop_table("release_node_product")
    with op.batch_alter_table("release_node", schema=None) as batch_op:
        batch_op.drop_index("ix_release_node_parent")
        batch_op.drop_index("ix_release_node_hierarchy")

    op.drop_table("release_node")
    op.drop_table("release_hierarchy")
    with op.batch_alter_table("catalog_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_rule_scope_created")
        batch_op.drop_index(batch_op.f("ix_catalog_rule_catalog_pk"))

    op.drop_table("catalog_rule")
    with op.batch_alter_table("catalog_release", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_release_catalog")

    op.drop_table("catalog_release")
    with op.batch_alter_table("catalog", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_scope_created")

    op.drop_table("catalog")
