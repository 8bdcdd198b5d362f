"""Currencies, price books, prices, and the price parts of releases.

Revision ID: 3942a6c99638
Revises: f7229769e843
Create Date: 2026-11-22 06:05:09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assortment.db.types import JSONDocument, UTCDateTime

revision: str = "3942a6c99638"
down_revision: str | None = "f7229769e843"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "currency",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("format", sa.String(length=64), nullable=False),
        sa.Column("decimal_point", sa.String(length=3), nullable=False),
        sa.Column("thousand_separator", sa.String(length=3), nullable=False),
        sa.Column("decimal_places", sa.Integer(), nullable=False),
        sa.Column("exchange_rate", sa.Float(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_currency")),
        sa.UniqueConstraint("id", name=op.f("uq_currency_id")),
        sa.UniqueConstraint("scope_id", "code", name="uq_currency_scope_code"),
    )
    with op.batch_alter_table("currency", schema=None) as batch_op:
        batch_op.create_index("ix_currency_scope_created", ["scope_id", "created_at", "id"], unique=False)

    op.create_table(
        "pricebook",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column("external_ref_digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_pricebook")),
        sa.UniqueConstraint("id", name=op.f("uq_pricebook_id")),
        sa.UniqueConstraint("scope_id", "external_ref_digest", name="uq_pricebook_scope_external_ref_digest"),
        sa.UniqueConstraint("scope_id", "name", name="uq_pricebook_scope_name"),
    )
    with op.batch_alter_table("pricebook", schema=None) as batch_op:
        batch_op.create_index("ix_pricebook_scope_created", ["scope_id", "created_at", "id"], unique=False)

    op.create_table(
        "price",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pricebook_pk", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("currencies", JSONDocument(none_as_null=True), nullable=False),
        sa.Column("sales", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column("external_ref_digest", sa.String(length=64), nullable=True),
        sa.Column("admin_attributes", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("shopper_attributes", JSONDocument(none_as_null=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pricebook_pk"], ["pricebook.pk"], name=op.f("fk_price_pricebook_pk_pricebook"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_price")),
        sa.UniqueConstraint("id", name=op.f("uq_price_id")),
        sa.UniqueConstraint("pricebook_pk", "external_ref_digest", name="uq_price_pricebook_external_ref_digest"),
        sa.UniqueConstraint("pricebook_pk", "sku", name="uq_price_pricebook_sku"),
    )
    with op.batch_alter_table("price", schema=None) as batch_op:
        batch_op.create_index("ix_price_pricebook_created", ["pricebook_pk", "created_at", "id"], unique=False)
        batch_op.create_index("ix_price_sku", ["sku"], unique=False)

    with op.batch_alter_table("catalog_release", schema=None) as batch_op:
        batch_op.add_column(sa.Column("currencies", JSONDocument(none_as_null=True), nullable=True))

    with op.batch_alter_table("release_product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("release_product", schema=None) as batch_op:
        batch_op.drop_column("price")

    with op.batch_alter_table("catalog_release", schema=None) as batch_op:
        batch_op.drop_column("currencies")

    with op.batch_alter_table("price", schema=None) as batch_op:
        batch_op.drop_index("ix_price_sku")
        batch_op.drop_index("ix_price_pricebook_created")

    op.drop_table("price")
    with op.batch_alter_table("pricebook", schema=None) as batch_op:
        batch_op.drop_index("ix_pricebook_scope_created")

    op.drop_table("pricebook")
    with op.batch_alter_table("currency", schema=None) as batch_op:
        batch_op.drop_index("ix_currency_scope_created")

    op.drop_table("currency")
