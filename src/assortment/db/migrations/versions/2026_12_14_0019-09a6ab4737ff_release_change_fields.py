"""release_change.fields: the names of what differs, kept with a comparison's change once found.

Two releases never change, so neither do the fields an updated entity's documents differ in. Naming them
compares both releases' documents (for a node also its children and its product sets); a comparison's page
named them every time it was shown. Now the first time a change is shown its fields are kept with it (a
JSON list, NULL until then), and later pages of the pair read them. Rows kept before this stay NULL and
are named, and kept, when next shown.

Revision ID: 09a6ab4737ff
Revises: cc89063b9cfe
Create Date: 2026-12-14 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "09a6ab4737ff"
down_revision: str | None = "cc89063b9cfe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("release_change", sa.Column("fields", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place: the table stays WITHOUT ROWID, as a batch copy would not
    op.drop_column("release_change", "fields")
