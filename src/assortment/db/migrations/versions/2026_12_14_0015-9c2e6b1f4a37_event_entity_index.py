"""ix_event_entity: an entity's latest events without a pass over its owner's whole feed.

A workbench page's History reads the latest events of one product or node (newest first); with only the
feed's index, (scope_id, txid, pk), that walked every event of the store.

Revision ID: 9c2e6b1f4a37
Revises: 53f7a4fcd61c
Create Date: 2026-12-14 16:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9c2e6b1f4a37"
down_revision: str | None = "53f7a4fcd61c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_event_entity", "event", ["scope_id", "entity_type", "entity_id", "pk"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_event_entity", table_name="event")
