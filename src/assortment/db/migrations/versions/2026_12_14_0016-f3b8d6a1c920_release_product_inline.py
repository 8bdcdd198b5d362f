"""PostgreSQL: keep release product rows inline, uncompressed (toast_tuple_target = 8160).

A release product row is a document of one to two kilobytes and its price. Past 2 kB (the default target),
PostgreSQL compresses the widest values of a row it writes and moves them out of line; a publish writes
100k such rows (and an incremental publish copies most of them from the release before, decompressing and
compressing each again), so compression was much of the database's share of a publish. With the target at
the largest a row may be, a row stays inline and uncompressed unless it is wider than a page: the table is
larger on disk, and a publish and a copy cost less. SQLite has no such setting: nothing to do there.

Revision ID: f3b8d6a1c920
Revises: 9c2e6b1f4a37
Create Date: 2026-12-14 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "f3b8d6a1c920"
down_revision: str | None = "9c2e6b1f4a37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE release_product SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE release_product RESET (toast_tuple_target)")
