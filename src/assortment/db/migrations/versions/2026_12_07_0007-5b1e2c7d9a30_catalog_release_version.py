"""catalog.release_version: the counter every process checks `latest` against (SPEC §12.4, issue 17).

Revision ID: 5b1e2c7d9a30
Revises: 3334374cc2ae
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1e2c7d9a30"
down_revision: str | None = "3334374cc2ae"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog") as batch:
        batch.add_column(sa.Column("release_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("catalog") as batch:
        batch.drop_column("release_version")
