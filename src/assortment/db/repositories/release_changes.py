"""Queries comparing two releases (SPEC §10.1): which entities differ, by digest, and what each entry of a
page needs to say which of its fields differ. Releases never change, so nothing here locks."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from assortment.db.models import (
    ReleaseChange,
    ReleaseComparison,
    ReleaseDigest,
    ReleaseHierarchy,
    ReleaseNode,
    ReleaseNodeProduct,
    ReleaseProduct,
    ReleaseRelated,
)
from assortment.db.repositories.common import DriverSQL, insert_rows
from assortment.db.types import utcnow

STREAM_ROWS = 2000


# SQLite: the entities of the release (second parameter) that the base (first) lacks or serves otherwise,
# with a flag saying which; then those of the base the release lacks. Each walks one release's digests once
# (a range of the primary key) and looks every id up in the other's by primary key: the plan SQLite takes
# for these with or without statistics.
_PRESENT = DriverSQL(
    "SELECT a.entity_id, b.entity_id IS NULL FROM release_digest a LEFT JOIN release_digest b"
    " ON b.release_pk = %s AND b.entity_type = a.entity_type AND b.entity_id = a.entity_id"
    " WHERE a.release_pk = %s AND a.entity_type = %s AND (b.entity_id IS NULL OR b.digest <> a.digest)"
)
_GONE = DriverSQL(
    "SELECT b.entity_id FROM release_digest b WHERE b.release_pk = %s AND b.entity_type = %s AND NOT EXISTS"
    " (SELECT 1 FROM release_digest a WHERE a.release_pk = %s AND a.entity_type = b.entity_type"
    " AND a.entity_id = b.entity_id)"
)
# PostgreSQL: one full join of the two releases' digests (created: only the release has it; deleted: only the
# base). A full join is only ever a hash or merge join: a table published into moments ago has no statistics
# yet, and the join above would then be planned as a nested loop over both releases (10^10 comparisons at
# 100k products).
_FULL = DriverSQL(
    "SELECT coalesce(a.entity_id, b.entity_id), b.entity_id IS NULL, a.entity_id IS NULL"
    " FROM (SELECT entity_id, digest FROM release_digest WHERE release_pk = %s AND entity_type = %s) a"
    " FULL JOIN (SELECT entity_id, digest FROM release_digest WHERE release_pk = %s AND entity_type = %s) b"
    " ON b.entity_id = a.entity_id WHERE a.entity_id IS NULL OR b.entity_id IS NULL OR a.digest <> b.digest"
)
_HAS_DIGESTS = DriverSQL("SELECT 1 FROM release_digest WHERE release_pk = %s LIMIT 1")
_DIGESTED_IDS = DriverSQL("SELECT entity_id FROM release_digest WHERE release_pk = %s AND entity_type = %s")
_IDS = {
    "hierarchy": DriverSQL("SELECT hierarchy_id FROM release_hierarchy WHERE release_pk = %s"),
    "node": DriverSQL("SELECT node_id FROM release_node WHERE release_pk = %s"),
    "product": DriverSQL("SELECT product_id FROM release_product WHERE release_pk = %s"),
}


def _uuid(value: Any) -> uuid.UUID:
    """A UUID as the driver returns it: psycopg gives UUIDs, SQLite the hex text SQLAlchemy's `Uuid` stores."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)


def insert_digests(session: Session, release_pk: int, rows: list[tuple[str, uuid.UUID, bytes]]) -> None:
    """Store (entity type, entity id, digest) rows of a release being published: COPY on PostgreSQL; on SQLite
    one prepared INSERT run over the rows with the ids as the hex text SQLAlchemy's `Uuid` stores (a Core
    executemany, converting every parameter, took twice as long: 0.96 s instead of 0.48 s for 100k rows)."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        statement = "INSERT INTO release_digest (release_pk, entity_type, entity_id, digest) VALUES (?, ?, ?, ?)"
        connection.exec_driver_sql(statement, [(release_pk, kind, i.hex, digest) for kind, i, digest in rows])
        return
    keyed = [{"release_pk": release_pk, "entity_type": kind, "entity_id": i, "digest": d} for kind, i, d in rows]
    insert_rows(session, ReleaseDigest, keyed)


def has_digests(session: Session, release_pk: int) -> bool:
    """Whether publish stored the release's digests (every release since they exist; all of them or none).
    A release without entities has none either, and nothing to compare."""
    return _HAS_DIGESTS.run(session, release_pk).first() is not None


def differences(
    session: Session, entity_type: str, release_pk: int, base_pk: int
) -> tuple[list[tuple[uuid.UUID, bool]], list[uuid.UUID]]:
    """([(id, created?)] of the entities the release has and serves otherwise than the base or the base
    lacks, [id] of those only the base has), compared by their stored digests."""
    if session.get_bind().dialect.name == "postgresql":
        changed, deleted = [], []
        for i, created, gone in _FULL.run(session, release_pk, entity_type, base_pk, entity_type):
            if gone:
                deleted.append(_uuid(i))
            else:
                changed.append((_uuid(i), bool(created)))
        return changed, deleted
    changed = [(_uuid(i), bool(new)) for i, new in _PRESENT.run(session, base_pk, release_pk, entity_type)]
    deleted = [_uuid(i) for (i,) in _GONE.run(session, base_pk, entity_type, release_pk)]
    return changed, deleted


def entity_ids(session: Session, entity_type: str, release_pk: int, *, digested: bool) -> list[uuid.UUID]:
    """The ids of the release's entities of that type, from its digests when it has them (a narrow read)."""
    if digested:
        return [_uuid(i) for (i,) in _DIGESTED_IDS.run(session, release_pk, entity_type)]
    return [_uuid(i) for (i,) in _IDS[entity_type].run(session, release_pk)]


# --- comparisons kept (two releases never change, so neither do their differences) ------------------------

_COUNTS = DriverSQL("SELECT created, updated, deleted FROM release_comparison WHERE release_pk = %s AND base_pk = %s")
_STORED_CHANGES = DriverSQL(
    "SELECT entity_type, entity_id, change, fields FROM release_change WHERE release_pk = %s AND base_pk = %s"
)
_STORED_CHANGES_OF_TYPE = DriverSQL(
    "SELECT entity_type, entity_id, change, fields FROM release_change"
    " WHERE release_pk = %s AND base_pk = %s AND entity_type = %s"
)
# A page of one kind of change, in the list's order (SPEC §10.1: hierarchy, node, product, then id). The
# entity types sort by name in that order; ids sort as their text does (SQLite keeps them as hex text,
# PostgreSQL compares uuids byte by byte): one range of the primary key, in its order.
_STORED_PAGE = DriverSQL(
    "SELECT entity_type, entity_id, fields FROM release_change WHERE release_pk = %s AND base_pk = %s"
    " AND change = %s ORDER BY entity_type, entity_id LIMIT %s OFFSET %s"
)

StoredChange = tuple[str, uuid.UUID, str, str | None]  # entity type, id, change, fields (JSON) or None


def stored_counts(session: Session, release_pk: int, base_pk: int) -> dict[str, int] | None:
    """{created, updated, deleted} of a comparison kept earlier; None when the pair was never kept."""
    row = _COUNTS.run(session, release_pk, base_pk).first()
    return None if row is None else {"created": row[0], "updated": row[1], "deleted": row[2]}


def stored_changes(
    session: Session, release_pk: int, base_pk: int, entity_types: Collection[str]
) -> list[StoredChange] | None:
    """(entity type, id, change, fields) of a comparison kept earlier, of those entity types (any order);
    None when the pair was never compared and kept."""
    if stored_counts(session, release_pk, base_pk) is None:
        return None
    if len(entity_types) == 3:
        rows = _STORED_CHANGES.run(session, release_pk, base_pk)
        return [(kind, _uuid(i), change, fields) for kind, i, change, fields in rows]
    found: list[StoredChange] = []
    for entity_type in entity_types:
        rows = _STORED_CHANGES_OF_TYPE.run(session, release_pk, base_pk, entity_type)
        found += [(kind, _uuid(i), change, fields) for kind, i, change, fields in rows]
    return found


def stored_page(
    session: Session, release_pk: int, base_pk: int, change: str, limit: int, offset: int
) -> list[tuple[str, uuid.UUID, str | None]]:
    """(entity type, id, fields) of a page of one kind of change of a kept comparison, in the list's order."""
    rows = _STORED_PAGE.run(session, release_pk, base_pk, change, limit, offset)
    return [(kind, _uuid(i), fields) for kind, i, fields in rows]


def store_fields(session: Session, release_pk: int, base_pk: int, named: list[tuple[str, uuid.UUID, str]]) -> None:
    """Keep the fields (JSON) found for changes of a kept comparison, where none are kept yet."""
    if not named:
        return
    connection = session.connection()
    sql = (
        "UPDATE release_change SET fields = %s WHERE release_pk = %s AND base_pk = %s AND entity_type = %s"
        " AND entity_id = %s AND fields IS NULL"
    )
    if connection.dialect.name == "sqlite":
        sql = sql.replace("%s", "?")
        connection.exec_driver_sql(sql, [(f, release_pk, base_pk, kind, i.hex) for kind, i, f in named])
        return
    connection.exec_driver_sql(sql, [(f, release_pk, base_pk, kind, i) for kind, i, f in named])


def store_changes(
    session: Session, release_pk: int, base_pk: int, changes: list[tuple[str, uuid.UUID, str]], counts: dict[str, int]
) -> bool:
    """Keep a comparison and its changes; False when another transaction kept the pair first (nothing
    written). Both releases must still exist (else the foreign keys refuse it)."""
    connection = session.connection()
    values = {"release_pk": release_pk, "base_pk": base_pk, **counts, "compared_at": utcnow()}
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(ReleaseComparison).values(**values).on_conflict_do_nothing()
    if connection.execute(statement.returning(ReleaseComparison.release_pk)).first() is None:
        return False
    if not changes:
        return True
    if connection.dialect.name == "sqlite":
        sql = "INSERT INTO release_change (release_pk, base_pk, entity_type, entity_id, change) VALUES (?, ?, ?, ?, ?)"
        connection.exec_driver_sql(sql, [(release_pk, base_pk, kind, i.hex, change) for kind, i, change in changes])
        return True
    keyed = [
        {"release_pk": release_pk, "base_pk": base_pk, "entity_type": kind, "entity_id": i, "change": change}
        for kind, i, change in changes
    ]
    insert_rows(session, ReleaseChange, keyed)
    return True


_NAMED: dict[str, tuple[Any, Any]] = {
    "hierarchy": (ReleaseHierarchy, ReleaseHierarchy.hierarchy_id),
    "node": (ReleaseNode, ReleaseNode.node_id),
    "product": (ReleaseProduct, ReleaseProduct.product_id),
}


def names(session: Session, release_pk: int, entity_type: str, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """{id: name} of those entities of a release (the name its document carries, from its own column)."""
    if not ids:
        return {}
    model, key = _NAMED[entity_type]
    query = select(key, model.name).where(model.release_pk == release_pk, key.in_(list(ids)))
    return {_uuid(i): name for i, name in session.execute(query)}


# --- a release's rows, for digests computed from them (digests.from_rows) ---------------------------------


def _stream(session: Session, query: Any) -> Iterator[Any]:
    yield from session.execute(query.execution_options(yield_per=STREAM_ROWS))


def child_order(session: Session, release_pk: int) -> Iterator[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None]]:
    """(node id, hierarchy id, parent id or None) of every node, siblings in display order."""
    query = (
        select(ReleaseNode.node_id, ReleaseNode.hierarchy_id, ReleaseNode.parent_id)
        .where(ReleaseNode.release_pk == release_pk)
        .order_by(ReleaseNode.hierarchy_id, ReleaseNode.parent_id, ReleaseNode.child_position)
    )
    yield from _stream(session, query)


def hierarchy_documents(
    session: Session, release_pk: int, ids: Collection[uuid.UUID] | None = None
) -> Iterator[tuple[uuid.UUID, bytes]]:
    query = select(ReleaseHierarchy.hierarchy_id, ReleaseHierarchy.document).where(
        ReleaseHierarchy.release_pk == release_pk
    )
    if ids is not None:
        query = query.where(ReleaseHierarchy.hierarchy_id.in_(list(ids)))
    yield from _stream(session, query)


def node_documents(
    session: Session, release_pk: int, ids: Collection[uuid.UUID] | None = None
) -> Iterator[tuple[uuid.UUID, bytes]]:
    query = select(ReleaseNode.node_id, ReleaseNode.document).where(ReleaseNode.release_pk == release_pk)
    if ids is not None:
        query = query.where(ReleaseNode.node_id.in_(list(ids)))
    yield from _stream(session, query)


def node_product_links(session: Session, release_pk: int) -> Iterator[tuple[uuid.UUID, uuid.UUID]]:
    query = select(ReleaseNodeProduct.node_id, ReleaseNodeProduct.product_id).where(
        ReleaseNodeProduct.release_pk == release_pk
    )
    yield from _stream(session, query)


def node_product_sets(session: Session, release_pk: int, node_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """{node id: its products' ids as text} for those nodes (the ids stay text: thousands of them are only
    compared with the same query's answer for another release)."""
    query = select(cast(ReleaseNodeProduct.node_id, Text), cast(ReleaseNodeProduct.product_id, Text)).where(
        ReleaseNodeProduct.release_pk == release_pk, ReleaseNodeProduct.node_id.in_(list(node_ids))
    )
    node_of: dict[str, uuid.UUID] = {}
    found: dict[uuid.UUID, set[str]] = {node_id: set() for node_id in node_ids}
    for raw_node, raw_product in session.execute(query):
        node_id = node_of.get(raw_node)
        if node_id is None:
            node_id = node_of[raw_node] = _uuid(raw_node)
        found[node_id].add(raw_product)
    return found


def related_rows(
    session: Session, release_pk: int, source_ids: Collection[uuid.UUID] | None = None
) -> Iterator[tuple[uuid.UUID, str, uuid.UUID]]:
    """(source id, slug, target id), each source's slugs in order and each slug's targets in display order."""
    query = select(ReleaseRelated.source_id, ReleaseRelated.slug, ReleaseRelated.target_id).where(
        ReleaseRelated.release_pk == release_pk
    )
    if source_ids is not None:
        query = query.where(ReleaseRelated.source_id.in_(list(source_ids)))
    query = query.order_by(ReleaseRelated.source_id, ReleaseRelated.slug, ReleaseRelated.position)
    yield from _stream(session, query)


def product_documents(
    session: Session, release_pk: int, ids: Collection[uuid.UUID] | None = None
) -> Iterator[tuple[uuid.UUID, bytes, bytes | None]]:
    query = select(ReleaseProduct.product_id, ReleaseProduct.document, ReleaseProduct.price).where(
        ReleaseProduct.release_pk == release_pk
    )
    if ids is not None:
        query = query.where(ReleaseProduct.product_id.in_(list(ids)))
    yield from _stream(session, query)


def children_of(
    session: Session, release_pk: int, parent_ids: Collection[uuid.UUID], *, top_level: bool
) -> Iterator[tuple[uuid.UUID, uuid.UUID]]:
    """(parent id, child id) in display order: the children of those nodes, or (`top_level`) the top-level
    nodes of those hierarchies."""
    parent: Any = ReleaseNode.hierarchy_id if top_level else ReleaseNode.parent_id
    query = select(parent, ReleaseNode.node_id)
    if top_level:
        query = query.where(ReleaseNode.parent_id.is_(None))
    query = query.where(ReleaseNode.release_pk == release_pk, parent.in_(list(parent_ids)))
    yield from session.execute(query.order_by(parent, ReleaseNode.child_position))
