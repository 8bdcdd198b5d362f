"""`assortment db copy --to URL` (SPEC §12.3): every row of one database into another, SQLite ↔ PostgreSQL.

Rows keep their primary keys, ids, timestamps and documents, and the signing key (`instance_secret`)
comes along, so tokens issued by the source and the secrets of its keys keep working on the copy. The
source is read in one snapshot; the target is written in one transaction, so a copy that fails leaves the
target as it was. Tables are copied parents first (the schema's foreign key order), and nodes parents
first within their table (a node may have been moved under a node created after it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, func, literal, select, text
from sqlalchemy.orm import Session

from assortment.db.engine import SQLITE_IMMEDIATE
from assortment.db.migrate import MIGRATIONS_DIR
from assortment.db.models import Base, InstanceSecret, ProductCount, ProductCountDelta, Store
from assortment.db.repositories.common import insert_rows

BATCH_ROWS = 2000

# (table being copied, rows copied so far in all, rows to copy in all)
Progress = Callable[[str, int, int], None]


class TargetNotEmpty(Exception):
    def __init__(self, tables: list[str]) -> None:
        super().__init__(f"the target database holds data (tables: {', '.join(tables)}); nothing was written")
        self.tables = tables


class NotAtHead(Exception):
    pass


@dataclass
class CopyReport:
    source: dict[str, int] = field(default_factory=dict)  # rows per table in the source snapshot
    target: dict[str, int] = field(default_factory=dict)  # rows per table in the target after the commit
    seconds: float = 0.0

    @property
    def differences(self) -> dict[str, tuple[int, int]]:
        return {
            name: (count, self.target.get(name, -1))
            for name, count in self.source.items()
            if self.target.get(name) != count
        }

    @property
    def ok(self) -> bool:
        return not self.differences

    def document(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": sum(self.source.values()),
            "seconds": round(self.seconds, 3),
            "tables": {name: {"source": count, "target": self.target.get(name)} for name, count in self.source.items()},
        }


# Tables the database keeps itself (triggers in the writing transaction): the target's own triggers fill
# them as the rows they are derived from arrive, so they are neither copied nor compared.
DERIVED = frozenset({ProductCount.__tablename__, ProductCountDelta.__tablename__})


def tables() -> list[Table]:
    """Every table of the schema but the derived ones, each after the tables its foreign keys name."""
    return [table for table in Base.metadata.sorted_tables if table.name not in DERIVED]


def count_rows(connection: Connection) -> dict[str, int]:
    return {table.name: connection.scalar(select(func.count()).select_from(table)) or 0 for table in tables()}


def tables_with_data(connection: Connection) -> list[str]:
    """Tables holding rows a person or a program put there. A freshly migrated database holds one default
    store, and a served one also its generated signing key: neither counts, and the copy replaces both."""
    found = []
    for table in tables():
        query = select(func.count()).select_from(table)
        if table.name == Store.__tablename__:
            query = query.where(table.c.is_default.is_(False))
        elif table.name == InstanceSecret.__tablename__:
            continue
        if connection.scalar(query):
            found.append(table.name)
    stores = Base.metadata.tables[Store.__tablename__]
    if not found and connection.scalar(select(func.count()).select_from(stores)) != 1:
        found.append(Store.__tablename__)  # no default store, or several
    return found


def check_at_head(connection: Connection, which: str) -> None:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if current != head:
        raise NotAtHead(f"the {which} database is at migration {current}, not {head}: run `assortment db upgrade`")


def copy_database(source: Engine, target: Engine, progress: Progress | None = None) -> CopyReport:
    """Copy every row of `source` into `target` (migrated to head and holding no data, else TargetNotEmpty
    and nothing written); report the row counts of both."""
    started = time.perf_counter()
    report = CopyReport()
    with source.connect() as reader, target.connect() as writer:
        if source.dialect.name == "postgresql":
            reader = reader.execution_options(isolation_level="REPEATABLE READ")  # one snapshot
        writer = writer.execution_options(**{SQLITE_IMMEDIATE: True})
        with reader.begin(), writer.begin():
            check_at_head(reader, "source")
            check_at_head(writer, "target")
            busy = tables_with_data(writer)
            if busy:
                raise TargetNotEmpty(busy)
            report.source = count_rows(reader)
            for name in (Store.__tablename__, InstanceSecret.__tablename__):
                writer.execute(Base.metadata.tables[name].delete())
            session = Session(bind=writer)
            grand_total, copied = sum(report.source.values()), 0
            for table in tables():
                if progress:
                    progress(table.name, copied, grand_total)
                for rows in _batches(reader, table):
                    insert_rows(session, table, rows)
                    copied += len(rows)
                    if progress:
                        progress(table.name, copied, grand_total)
            session.close()
            if target.dialect.name == "postgresql":
                _reset_sequences(writer)
    with target.connect() as checker:
        report.target = count_rows(checker)
    report.seconds = time.perf_counter() - started
    return report


def _batches(reader: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    result = reader.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(_ordered(table))
    for partition in result.mappings().partitions():
        yield [dict(row) for row in partition]


def _ordered(table: Table) -> Any:
    """The table's rows in primary key order; for a table whose rows name rows of the same table (a node's
    parent), parents first: by depth from the top, then by primary key."""
    own = [fk for fk in table.foreign_keys if fk.column.table is table]
    if not own:
        return select(table).order_by(*table.primary_key.columns)
    (reference,) = own
    child_column, parent_column = reference.parent, reference.column
    tree = (
        select(parent_column.label("key"), literal(0).label("depth"))
        .where(child_column.is_(None))
        .cte("tree", recursive=True)
    )
    below = table.alias("below")
    tree = tree.union_all(
        select(below.c[parent_column.name], tree.c.depth + 1).where(below.c[child_column.name] == tree.c.key)
    )
    return select(table).join(tree, tree.c.key == parent_column).order_by(tree.c.depth, *table.primary_key.columns)


def _reset_sequences(writer: Connection) -> None:
    """Explicit primary keys were written, so each serial sequence is moved past the largest one."""
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        writer.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"COALESCE((SELECT max({column.name}) FROM {table.name}), 1), "
                f"(SELECT max({column.name}) FROM {table.name}) IS NOT NULL)"
            ),
            {"table": table.name, "column": column.name},
        )
