"""release_product.price_parts: a priced row's additions rendered at publish for every display currency.

A page of a release splices them into the stored document instead of computing the price fields on every
read (issue 17). NULL where the price has sales (they depend on the time of the read), where there is no
price, and in releases published before this revision: those rows are rendered at read time as before.

Revision ID: b3e8d5f1a927
Revises: a7c41e9b2d05
Create Date: 2026-12-14 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3e8d5f1a927"
down_revision: str | None = "a7c41e9b2d05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("release_product") as batch:
        batch.add_column(sa.Column("price_parts", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("release_product") as batch:
        batch.drop_column("price_parts")
