"""Stores, API keys, instance secrets and products.

Revision ID: 8f0d5420ab45
Revises:
Create Date: 2026-11-22 05:32:38
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from assortment.db.types import JSONDocument, UTCDateTime

revision: str = "8f0d5420ab45"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instance_secret",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_secret")),
    )
    store = op.create_table(
        "store",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store")),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], name=op.f("fk_api_key_store_id_store"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_key_client_id")),
    )
    op.create_table(
        "product",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("slug", sa.String(length=255), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("commodity_type", sa.String(length=16), nullable=False),
        sa.Column("upc_ean", sa.String(length=255), nullable=True),
        sa.Column("mpn", sa.String(length=255), nullable=True),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column("external_ref_digest", sa.String(length=64), nullable=True),
        sa.Column("tags", JSONDocument(), nullable=True),
        sa.Column("locales", JSONDocument(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("commodity_type IN ('physical', 'digital')", name=op.f("ck_product_commodity_type")),
        sa.CheckConstraint("status IN ('draft', 'live')", name=op.f("ck_product_status")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_product")),
        sa.UniqueConstraint("id", name=op.f("uq_product_id")),
        sa.UniqueConstraint("scope_id", "sku", name="uq_product_scope_sku"),
        sa.UniqueConstraint("scope_id", "slug", name="uq_product_scope_slug"),
        sa.UniqueConstraint("scope_id", "external_ref_digest", name="uq_product_scope_external_ref_digest"),
    )
    op.create_index("ix_product_scope_created", "product", ["scope_id", "created_at", "id"], unique=False)

    # A fresh database has one default store: keys created without --store belong to it.
    op.bulk_insert(
        store,
        [{"id": uuid.uuid4(), "name": "Default store", "is_default": True, "created_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_index("ix_product_scope_created", table_name="product")
    op.drop_table("product")
    op.drop_table("api_key")
    op.drop_table("store")
    op.drop_table("instance_secret")
