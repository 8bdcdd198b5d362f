"""release_product.inputs: a digest of what each product row of a release was rendered from (SPEC §10.3).

The next publish compares it with the digest of the product's current inputs and copies the row when they
are equal. Releases published before this revision have NULL: their rows are rendered again.

Revision ID: a7c41e9b2d05
Revises: d41f7a2c9e63
Create Date: 2026-12-14 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c41e9b2d05"
down_revision: str | None = "d41f7a2c9e63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("release_product") as batch:
        batch.add_column(sa.Column("inputs", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("release_product") as batch:
        batch.drop_column("inputs")
