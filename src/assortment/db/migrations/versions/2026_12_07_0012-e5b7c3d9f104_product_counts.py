"""Cheap PIM lists at any size (issue 17): products counted per scope, so an unfiltered product list's
total costs one lookup; nodes indexed in child order; and on PostgreSQL, SKU prefixes found by a range.

`product_count` holds how many products each scope owns. Triggers on `product` keep it in the writing
transaction: row triggers on SQLite (one writer at a time anyway); on PostgreSQL statement triggers over
the transition tables, so a bulk insert updates each scope's count once per statement. A scope's row is
then locked until the writing transaction ends: product writes of one store take turns at commit, which
bulk imports (committed every few thousand rows) and single edits can afford. The table is derived: a
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
    """CREATE FUNCTION product_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO product_count (scope_id, products)
        SELECT scope_id, count(*) FROM added GROUP BY scope_id ORDER BY scope_id
        ON CONFLICT (scope_id) DO UPDATE SET products = product_count.products + excluded.products;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION product_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE product_count SET products = product_count.products - gone.products
        FROM (SELECT scope_id, count(*) AS products FROM removed GROUP BY scope_id) AS gone
        WHERE product_count.scope_id = gone.scope_id;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION product_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE product_count SET products = products - 1 WHERE scope_id = OLD.scope_id;
        INSERT INTO product_count (scope_id, products) VALUES (NEW.scope_id, 1)
        ON CONFLICT (scope_id) DO UPDATE SET products = product_count.products + 1;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER product_count_insert AFTER INSERT ON product REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_count_added()",
    "CREATE TRIGGER product_count_delete AFTER DELETE ON product REFERENCING OLD TABLE AS removed "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_count_removed()",
    "CREATE TRIGGER product_count_move AFTER UPDATE OF scope_id ON product FOR EACH ROW "
    "WHEN (NEW.scope_id IS DISTINCT FROM OLD.scope_id) EXECUTE FUNCTION product_count_moved()",
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
    op.execute(
        "INSERT INTO product_count (scope_id, products) SELECT scope_id, count(*) FROM product GROUP BY scope_id"
    )
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute("DROP INDEX ix_node_child_order")
    for trigger in ("product_count_insert", "product_count_delete", "product_count_move"):
        op.execute(f"DROP TRIGGER {trigger}" if sqlite else f"DROP TRIGGER {trigger} ON product")
    if not sqlite:
        op.execute("DROP INDEX ix_product_scope_sku_pattern")
        for function in ("product_count_added", "product_count_removed", "product_count_moved"):
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_table("product_count")
