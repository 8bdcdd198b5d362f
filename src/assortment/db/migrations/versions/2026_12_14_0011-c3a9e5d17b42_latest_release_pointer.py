"""catalog.latest_release_pk and catalog_release.base_release_id: a stored `latest` (SPEC §10.2, restore).

Until now `latest` was derived as the newest published release. A restore makes an older release the latest,
so the catalog names its latest release; existing catalogs start with their newest published one, which is
what `latest` named before. A release also records the release that was latest when it was published (the
default base of its `changes`); releases published before this revision have none, and the base they fall
back to (the kept release published just before them) is what it would have been.

Revision ID: c3a9e5d17b42
Revises: b7d2e4f6a810
Create Date: 2026-12-14 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3a9e5d17b42"
down_revision: str | None = "b7d2e4f6a810"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog") as batch:
        batch.add_column(sa.Column("latest_release_pk", sa.Integer(), nullable=True))
    with op.batch_alter_table("catalog_release") as batch:
        batch.add_column(sa.Column("base_release_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE catalog SET latest_release_pk = (SELECT max(r.pk) FROM catalog_release r"
        " WHERE r.catalog_pk = catalog.pk AND r.status = 'PUBLISHED')"
    )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite ≥ 3.35): copying `catalog` into a new table, as batch mode
    # would, fails on SQLite while releases and rules name its rows.
    op.drop_column("catalog_release", "base_release_id")
    op.drop_column("catalog", "latest_release_pk")
