"""PostgreSQL: release product rows compressed with lz4, three to a page (toast_tuple_target = 2700).

f3b8d6a1c920 kept every release product row inline and uncompressed. A row of the 100k benchmark catalog
is ≈ 4.2 kB (a 1.2 kB document, its price, and 2.5 kB of price parts rendered for three currencies), so
each took a page of 8 kB to itself: a release was 800 MB of heap, and a publish or an incremental
publish's copy wrote all of it and as much WAL. Now a row wider than 2,700 bytes has its widest values
compressed with lz4 (a fraction of pglz's cost; the price parts shrink to a quarter) until it fits three to
a page, and its values stay in the row (storage MAIN: out of line only past a page). The document of most
rows is left uncompressed, so a copy's rewrite of it does not decompress it; values copied unchanged (price,
price parts) are copied compressed as they are. Rows written before keep their form. A server built
without lz4 keeps the previous setting. SQLite has no such settings: nothing to do there.

Revision ID: 758c7a8751bb
Revises: 09a6ab4737ff
Create Date: 2026-12-14 20:00:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "758c7a8751bb"
down_revision: str | None = "09a6ab4737ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("document", "price", "price_parts")


def _has_lz4() -> bool:
    enumvals = op.get_bind().execute(
        text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    return "lz4" in (enumvals or ())


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql" or not _has_lz4():
        return
    columns = ", ".join(f"ALTER COLUMN {c} SET STORAGE MAIN, ALTER COLUMN {c} SET COMPRESSION lz4" for c in COLUMNS)
    op.execute(f"ALTER TABLE release_product {columns}, SET (toast_tuple_target = 2700)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    columns = ", ".join(
        f"ALTER COLUMN {c} SET STORAGE EXTENDED, ALTER COLUMN {c} SET COMPRESSION DEFAULT" for c in COLUMNS
    )
    op.execute(f"ALTER TABLE release_product {columns}, SET (toast_tuple_target = 8160)")
