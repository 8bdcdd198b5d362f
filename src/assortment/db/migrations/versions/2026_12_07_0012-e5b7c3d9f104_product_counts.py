"""Cheap PIM lists at any size (issue 17): on SQLite products counted per scope, so an unfiltered product list's
total costs one lookup; nodes indexed in child order; and on PostgreSQL, SKU prefixes found by a range.

`product_count` holds how many products each scope owns, on SQLite: row triggers on `product` keep it in
the writing transaction (SQLite has one writer at a time, so the count row adds no waiting). On PostgreSQL
the table stays empty and lists count as before: a count row per store would be locked from a transaction's
first product write to its commit, so a transaction that commits late would hold back every other product
write of its store (tests/api/test_event_feed_concurrency.py does exactly that). The table is derived: a
database copy leaves it to the target's triggers, and `assortment check` compares it with the products.

`ix_node_child_order` orders a parent's children (and a hierarchy's top-level nodes) as §2.4 does — the
sort order, highest first and missing last, then the most recently updated, then the id — so a page of
1,000 siblings is read in order instead of sorting them all. SQLite keeps NULLs last in a descending index
already and has no NULLS LAST in CREATE INDEX; PostgreSQL needs it spelled out.

`ix_product_scope_sku_pattern` (PostgreSQL): `like(sku,ABC*)` as a range of (scope, sku) in byte order. The
unique index on (scope_id, sku) compares by the database's collation, which a LIKE prefix cannot use unless it
is "C"; the trigram index finds candidates, then rechecks thousands of them for a common prefix. Not in the
models (env.py leaves these two out of the comparison).

Revision ID: e5b7c3d9f104
Revises: c3a9e5d17b42
Create Date: 2026-12-07 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5b7c3d9f104"
down_revision: str | None = "c3a9e5d17b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE = (
    "CREATE TRIGGER product_count_insert AFTER INSERT ON product BEGIN "
    "INSERT INTO product_count(scope_id, products) VALUES (new.scope_id, 1) "
    "ON CONFLICT(scope_id) DO UPDATE SET products = products + 1; END",
    "CREATE TRIGGER product_count_delete AFTER DELETE ON product BEGIN "
    "UPDATE product_count SET products = products - 1 WHERE scope_id = old.scope_id; END",
    "CREATE TRIGGER product_count_move AFTER UPDATE OF scope_id ON product "
    "WHEN new.scope_id IS NOT old.scope_id BEGIN "
    "UPDATE product_count SET products = products - 1 WHERE scope_id = old.scope_id; "
    "INSERT INTO product_count(scope_id, products) VALUES (new.scope_id, 1) "
    "ON CONFLICT(scope_id) DO UPDATE SET products = products + 1; END",
    "CREATE INDEX ix_node_child_order ON node (hierarchy_pk, parent_pk, sort_order DESC, updated_at DESC, id)",
)
POSTGRESQL = (
    "CREATE INDEX ix_product_scope_sku_pattern ON product (scope_id, sku text_pattern_ops)",
    "CREATE INDEX ix_node_child_order ON node "
    "(hierarchy_pk, parent_pk, sort_order DESC NULLS LAST, updated_at DESC, id)",
)


def upgrade() -> None:
    op.create_table(
        "product_count",
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("products", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope_id", name=op.f("pk_product_count")),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(
            "INSERT INTO product_count (scope_id, products) SELECT scope_id, count(*) FROM product GROUP BY scope_id"
        )
    for statement in SQLITE if sqlite else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX ix_node_child_order")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("product_count_insert", "product_count_delete", "product_count_move"):
            op.execute(f"DROP TRIGGER {trigger}")
    else:
        op.execute("DROP INDEX ix_product_scope_sku_pattern")
    op.drop_table("product_count")
