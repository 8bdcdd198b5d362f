"""Product counts on PostgreSQL without a hot row (issue 17): append-only deltas, folded without waiting.

On SQLite `product_count` is kept by row triggers in the writing transaction (migration e5b7c3d9f104): one
writer at a time, so the count row adds no waiting. On PostgreSQL a count row updated by every product write
stayed locked from a transaction's first product write to its commit, so a transaction committing late held
back every other product write of its store (withdrawn in aaad912). Here a scope's count is

    product_count.products (the folded base, 0 when absent) + SUM(product_count_delta.products)

read in one statement, so in one snapshot: a fold (deltas deleted and their sum added to the base in one
transaction) is seen entirely or not at all, and a count equals the products the same snapshot sees.

Statement triggers over the transition tables (`product_count_insert`, `product_count_delete`; a row trigger
`product_count_move` when a product changes scope) call `product_count_add(scope, change)` once per scope
touched. It folds when it can do so without waiting: in READ COMMITTED, and when `pg_try_advisory_xact_lock`
on the scope (lock space "PCNT") succeeds, it deletes the scope's committed deltas and adds their sum and the
change to the base row in the writing transaction. Otherwise — another transaction holds the scope's lock
until it ends, or the writer runs in REPEATABLE READ, where a fold could fail on a row folded after its
snapshot — it inserts a delta row, which no one else ever locks. Writers therefore never wait for each other
on a count; deltas are left only by writes that overlapped another writer of their scope, and the scope's
next uncontended write folds them. `product_count_fold()` folds every scope the same way (tests, operators).

SQLite keeps its triggers; `product_count_delta` stays empty there. The existing products are counted into
the base here, after the triggers exist (CREATE TRIGGER holds off product writes until this commits).

Revision ID: cc89063b9cfe
Revises: b5e1c7d3a284
Create Date: 2026-12-14 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cc89063b9cfe"
down_revision: str | None = "b5e1c7d3a284"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The advisory lock space of scope counts on PostgreSQL ("PCNT"); the key is hashtext(scope_id::text). Two
# scopes sharing a key only fold one at a time.
COUNT_LOCKS = 0x50434E54

POSTGRESQL = (
    f"""CREATE FUNCTION product_count_add(target_scope uuid, change bigint) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('transaction_isolation') = 'read committed'
                AND pg_try_advisory_xact_lock({COUNT_LOCKS}, hashtext(target_scope::text)) THEN
            WITH folded AS (DELETE FROM product_count_delta WHERE scope_id = target_scope RETURNING products)
            INSERT INTO product_count AS kept (scope_id, products)
            SELECT target_scope, change + coalesce(sum(folded.products), 0) FROM folded
            ON CONFLICT (scope_id) DO UPDATE SET products = kept.products + excluded.products;
        ELSIF change <> 0 THEN
            INSERT INTO product_count_delta (scope_id, products) VALUES (target_scope, change);
        END IF;
    END $$""",
    """CREATE FUNCTION product_count_fold() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM product_count_add(scope_id, 0) FROM (SELECT DISTINCT scope_id FROM product_count_delta) AS s
        ORDER BY scope_id;
    END $$""",
    """CREATE FUNCTION product_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM product_count_add(scope_id, count(*)) FROM added GROUP BY scope_id ORDER BY scope_id;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION product_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM product_count_add(scope_id, -count(*)) FROM removed GROUP BY scope_id ORDER BY scope_id;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION product_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM product_count_add(OLD.scope_id, -1);
        PERFORM product_count_add(NEW.scope_id, 1);
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER product_count_insert AFTER INSERT ON product REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_count_added()",
    "CREATE TRIGGER product_count_delete AFTER DELETE ON product REFERENCING OLD TABLE AS removed "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_count_removed()",
    "CREATE TRIGGER product_count_move AFTER UPDATE OF scope_id ON product FOR EACH ROW "
    "WHEN (NEW.scope_id IS DISTINCT FROM OLD.scope_id) EXECUTE FUNCTION product_count_moved()",
    # A queue table: rows come and go all day, so vacuum it by the number of dead rows, not by its size.
    "ALTER TABLE product_count_delta SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)",
    # The existing products, counted once the triggers count every later write (see above).
    "DELETE FROM product_count",
    "INSERT INTO product_count (scope_id, products) SELECT scope_id, count(*) FROM product GROUP BY scope_id",
)


def upgrade() -> None:
    op.create_table(
        "product_count_delta",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("products", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_product_count_delta")),
    )
    with op.batch_alter_table("product_count_delta", schema=None) as batch_op:
        batch_op.create_index("ix_product_count_delta_scope", ["scope_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("product_count_insert", "product_count_delete", "product_count_move"):
            op.execute(f"DROP TRIGGER {trigger} ON product")
        for function in ("product_count_added", "product_count_removed", "product_count_moved"):
            op.execute(f"DROP FUNCTION {function}()")
        op.execute("DROP FUNCTION product_count_fold()")
        op.execute("DROP FUNCTION product_count_add(uuid, bigint)")
        op.execute("DELETE FROM product_count")  # empty on PostgreSQL before this revision
    with op.batch_alter_table("product_count_delta", schema=None) as batch_op:
        batch_op.drop_index("ix_product_count_delta_scope")
    op.drop_table("product_count_delta")
