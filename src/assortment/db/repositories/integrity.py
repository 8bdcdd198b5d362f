"""The queries of `assortment check` (SPEC §12.3): each finds the rows that break one invariant.

Every query is set-based (a join, a group or a NOT EXISTS on indexed columns), so a large database is read
in a few statements; each returns at most `limit` rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ForeignKeyConstraint, Table, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from assortment.db.models import (
    Association,
    Base,
    Catalog,
    CustomRelationship,
    Hierarchy,
    Node,
    NodeProduct,
    Product,
    ProductCount,
    ProductCountDelta,
    ProductRelationshipSlot,
    Release,
    ReleaseDigest,
    ReleaseHierarchy,
    ReleaseNode,
    ReleaseNodeProduct,
    ReleaseProduct,
    ReleaseRelated,
)
from assortment.db.repositories.common import pks_in

# --- hierarchies and nodes ----------------------------------------------------------------------------


def nodes_with_parent_elsewhere(session: Session, limit: int) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """(node id, its hierarchy id, its parent's hierarchy id) of nodes whose parent is in another hierarchy."""
    parent = aliased(Node)
    own, other = aliased(Hierarchy), aliased(Hierarchy)
    query = (
        select(Node.id, own.id, other.id)
        .join(parent, parent.pk == Node.parent_pk)
        .join(own, own.pk == Node.hierarchy_pk)
        .join(other, other.pk == parent.hierarchy_pk)
        .where(parent.hierarchy_pk != Node.hierarchy_pk)
        .order_by(Node.pk)
        .limit(limit)
    )
    return [(a, b, c) for a, b, c in session.execute(query)]


def parent_links(session: Session) -> dict[int, int]:
    """{node pk: parent pk} of every node that has a parent (two integers a node: the whole table fits)."""
    rows = session.execute(select(Node.pk, Node.parent_pk).where(Node.parent_pk.is_not(None)))
    return {pk: parent for pk, parent in rows if parent is not None}


def node_ids(session: Session, pks: Sequence[int]) -> dict[int, uuid.UUID]:
    return {pk: node_id for pk, node_id in session.execute(select(Node.pk, Node.id).where(pks_in(Node.pk, pks)))}


@dataclass(frozen=True)
class DuplicateSiblings:
    field: str  # "name" or "slug"
    value: str
    parent_type: str  # "hierarchy" (top-level nodes) or "node"
    parent_id: uuid.UUID
    node_ids: list[uuid.UUID]


def duplicate_siblings(session: Session, field: str, limit: int) -> list[DuplicateSiblings]:
    """Groups of siblings sharing a name (or a slug): children of one node, or top-level nodes of one
    hierarchy. The unique indexes forbid them; a database restored or edited by hand may still hold them."""
    column = Node.name if field == "name" else Node.slug
    found: list[DuplicateSiblings] = []
    for parent_type in ("node", "hierarchy"):
        if parent_type == "node":
            key, where = Node.parent_pk, Node.parent_pk.is_not(None)
        else:
            key, where = Node.hierarchy_pk, Node.parent_pk.is_(None)
        groups = session.execute(
            select(key, column)
            .where(where, column.is_not(None))
            .group_by(key, column)
            .having(func.count() > 1)
            .order_by(key, column)
            .limit(limit)
        ).all()
        for owner_pk, value in groups:
            members = list(
                session.scalars(select(Node.id).where(where, key == owner_pk, column == value).order_by(Node.pk))
            )
            owner = Node if parent_type == "node" else Hierarchy
            owner_id = session.scalar(select(owner.id).where(owner.pk == owner_pk))
            assert owner_id is not None
            found.append(DuplicateSiblings(field, str(value), parent_type, owner_id, members))
    return found[:limit]


def curated_lists(session: Session) -> list[tuple[int, uuid.UUID, list[Any]]]:
    """(node pk, node id, curated product ids as stored) of nodes that curate anything."""
    rows = session.execute(
        select(Node.pk, Node.id, Node.curated_products).where(Node.curated_products.is_not(None)).order_by(Node.pk)
    )
    return [(pk, node_id, list(curated)) for pk, node_id, curated in rows if isinstance(curated, list) and curated]


def linked_product_ids(session: Session, node_pks: Sequence[int]) -> dict[int, set[str]]:
    """{node pk: ids (strings) of the products linked to it}."""
    linked: dict[int, set[str]] = {pk: set() for pk in node_pks}
    for chunk in _chunks(node_pks, 1000):
        rows = session.execute(
            select(NodeProduct.node_pk, Product.id)
            .join(Product, Product.pk == NodeProduct.product_pk)
            .where(pks_in(NodeProduct.node_pk, chunk))
        )
        for node_pk, product_id in rows:
            linked[node_pk].add(str(product_id))
    return linked


# --- custom relationships -----------------------------------------------------------------------------


def products_with_slots_over(session: Session, most: int, limit: int) -> list[tuple[uuid.UUID, int]]:
    """(product id, number of custom relationships attached) where that number exceeds `most`."""
    count = func.count().label("n")
    query = (
        select(Product.id, count)
        .join(ProductRelationshipSlot, ProductRelationshipSlot.product_pk == Product.pk)
        .group_by(Product.pk, Product.id)
        .having(func.count() > most)
        .order_by(Product.pk)
        .limit(limit)
    )
    return [(product_id, n) for product_id, n in session.execute(query)]


def association_lists_over(session: Session, most: int, limit: int) -> list[tuple[uuid.UUID, str, int]]:
    """(product id, relationship slug, associations) where a product's list under one slug exceeds `most`."""
    query = (
        select(Product.id, CustomRelationship.slug, func.count())
        .select_from(Association)
        .join(Product, Product.pk == Association.source_pk)
        .join(CustomRelationship, CustomRelationship.pk == Association.relationship_pk)
        .group_by(Product.pk, Product.id, CustomRelationship.pk, CustomRelationship.slug)
        .having(func.count() > most)
        .order_by(Product.pk, CustomRelationship.pk)
        .limit(limit)
    )
    return [(product_id, slug, n) for product_id, slug, n in session.execute(query)]


@dataclass(frozen=True)
class Edge:
    pk: int  # the v2 product_relationship id
    source_id: uuid.UUID
    target_id: uuid.UUID
    slug: str


def _edges(condition: Any, limit: int, *, bi_directional_only: bool = False) -> Any:
    source, target = aliased(Product), aliased(Product)
    query = (
        select(Association.pk, source.id, target.id, CustomRelationship.slug)
        .join(source, source.pk == Association.source_pk)
        .join(target, target.pk == Association.target_pk)
        .join(CustomRelationship, CustomRelationship.pk == Association.relationship_pk)
        .where(condition)
        .order_by(Association.pk)
        .limit(limit)
    )
    if bi_directional_only:
        query = query.where(CustomRelationship.bi_directional.is_(True))
    return query


def _run_edges(session: Session, query: Any) -> list[Edge]:
    return [Edge(pk, source_id, target_id, slug) for pk, source_id, target_id, slug in session.execute(query)]


def bi_directional_edges_without_reverse(session: Session, limit: int) -> list[Edge]:
    reverse = aliased(Association)
    missing = ~exists().where(
        reverse.source_pk == Association.target_pk,
        reverse.target_pk == Association.source_pk,
        reverse.relationship_pk == Association.relationship_pk,
    )
    return _run_edges(session, _edges(missing, limit, bi_directional_only=True))


def edges_without_attachment(session: Session, limit: int) -> list[Edge]:
    """Associations whose source product does not carry the relationship (its slot row is missing)."""
    missing = ~exists().where(
        ProductRelationshipSlot.product_pk == Association.source_pk,
        ProductRelationshipSlot.relationship_pk == Association.relationship_pk,
    )
    return _run_edges(session, _edges(missing, limit))


def edges_to_self(session: Session, limit: int) -> list[Edge]:
    return _run_edges(session, _edges(Association.source_pk == Association.target_pk, limit))


# --- references ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Orphan:
    table: str
    row: str  # the row's id, or its primary key values joined by "/"
    column: str
    value: Any
    target: str  # "table.column" it should name


def _row_label(table: Table) -> list[Column[Any]]:
    if "id" in table.c and not table.c.id.primary_key and table.c.id.unique:
        return [table.c.id]
    return list(table.primary_key.columns)


def foreign_key_orphans(session: Session, limit: int) -> list[Orphan]:
    """Rows whose foreign key names no row: every foreign key of the schema (the database enforces them,
    unless they were switched off while the rows were written)."""
    found: list[Orphan] = []
    for table in Base.metadata.sorted_tables:
        for constraint in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
            found.extend(_orphans_of(session, table, constraint, limit - len(found)))
            if len(found) >= limit:
                return found
    return found


# The release tables that name their release without a foreign key (models.py, above ReleaseProduct).
RELEASE_ROWS: tuple[Any, ...] = (ReleaseProduct, ReleaseNodeProduct, ReleaseRelated, ReleaseDigest)
RELEASES: Table = Base.metadata.tables[Release.__tablename__]


def rows_without_their_release(session: Session, limit: int) -> list[Orphan]:
    """Rows of those tables whose release does not exist."""
    found: list[Orphan] = []
    for model in RELEASE_ROWS:
        table = model.__table__
        found.extend(_missing(session, table, table.c.release_pk, RELEASES.c.pk, limit - len(found)))
        if len(found) >= limit:
            break
    return found


def _orphans_of(session: Session, table: Table, constraint: ForeignKeyConstraint, limit: int) -> list[Orphan]:
    return _missing_many(session, table, [(e.parent, e.column) for e in constraint.elements], limit)


def _missing(session: Session, table: Table, child: Column[Any], named: Column[Any], limit: int) -> list[Orphan]:
    """Rows of the table whose `child` column holds a value that no row has in the `named` column."""
    return _missing_many(session, table, [(child, named)], limit)


def _missing_many(
    session: Session, table: Table, pairs: Sequence[tuple[Column[Any], Column[Any]]], limit: int
) -> list[Orphan]:
    """Rows of the table whose (child, …) columns hold values that no row has in the (named, …) columns of
    one table (a foreign key of one column or of several: release_change names its comparison by two)."""
    parent = pairs[0][1].table.alias()
    targets = [parent.c[named.name] for _, named in pairs]
    children = [child for child, _ in pairs]
    label = _row_label(table)
    query = (
        select(*label, *children)
        .select_from(table.outerjoin(parent, and_(*(t == c for t, c in zip(targets, children, strict=True)))))
        .where(*(c.is_not(None) for c in children), targets[0].is_(None))
        .order_by(*label)
        .limit(limit)
    )
    named_table = pairs[0][1].table.name
    return [
        Orphan(
            table.name,
            "/".join(str(value) for value in row[: len(label)]),
            ",".join(c.name for c in children),
            row[len(label)] if len(children) == 1 else "/".join(str(v) for v in row[len(label) :]),
            f"{named_table}.{pairs[0][1].name}"
            if len(pairs) == 1
            else f"{named_table}.({','.join(n.name for _, n in pairs)})",
        )
        for row in session.execute(query)
    ]


@dataclass(frozen=True)
class ReleaseOrphan:
    release_id: uuid.UUID
    table: str
    column: str
    value: uuid.UUID
    target: str


# References inside one release that are plain columns, not foreign keys: (table, column, table it names,
# the column there). Both sides share the release's `release_pk`.
RELEASE_REFERENCES: tuple[tuple[Any, str, Any, str], ...] = (
    (ReleaseNodeProduct, "product_id", ReleaseProduct, "product_id"),
    (ReleaseNodeProduct, "node_id", ReleaseNode, "node_id"),
    (ReleaseRelated, "source_id", ReleaseProduct, "product_id"),
    (ReleaseRelated, "target_id", ReleaseProduct, "product_id"),
    (ReleaseNode, "parent_id", ReleaseNode, "node_id"),
    (ReleaseNode, "hierarchy_id", ReleaseHierarchy, "hierarchy_id"),
)


def release_orphans(session: Session, limit: int) -> list[ReleaseOrphan]:
    """Release rows naming a product, node or hierarchy the same release does not hold."""
    found: list[ReleaseOrphan] = []
    for model, column, target_model, target_column in RELEASE_REFERENCES:
        target = aliased(target_model)
        value = getattr(model, column)
        missing = ~exists().where(target.release_pk == model.release_pk, getattr(target, target_column) == value)
        query = (
            select(Release.id, value)
            .select_from(model)
            .join(Release, Release.pk == model.release_pk)
            .where(value.is_not(None), missing)
            .distinct()
            .order_by(Release.id, value)
            .limit(limit - len(found))
        )
        for release_id, raw in session.execute(query):
            named = f"{target_model.__tablename__}.{target_column}"
            found.append(ReleaseOrphan(release_id, model.__tablename__, column, raw, named))
        if len(found) >= limit:
            break
    return found


def release_counts(session: Session, limit: int) -> list[tuple[uuid.UUID, int, int, int, int]]:
    """(release id, stored total_products, product rows, stored total_nodes, node rows) where they differ."""
    products = (
        select(func.count()).select_from(ReleaseProduct).where(ReleaseProduct.release_pk == Release.pk)
    ).scalar_subquery()
    nodes = (
        select(func.count()).select_from(ReleaseNode).where(ReleaseNode.release_pk == Release.pk)
    ).scalar_subquery()
    query = (
        select(Release.id, Release.total_products, products, Release.total_nodes, nodes)
        .where((Release.total_products != products) | (Release.total_nodes != nodes))
        .order_by(Release.pk)
        .limit(limit)
    )
    return [(a, b, c, d, e) for a, b, c, d, e in session.execute(query)]


def catalogs_with_a_wrong_latest(session: Session, limit: int) -> list[tuple[uuid.UUID, int | None]]:
    """(catalog id, latest_release_pk) of catalogs whose pointer names no release of theirs, or nothing while
    they have releases."""
    of_catalog = select(Release.pk).where(Release.catalog_pk == Catalog.pk)
    named = exists(of_catalog.where(Release.pk == Catalog.latest_release_pk))
    query = (
        select(Catalog.id, Catalog.latest_release_pk)
        .where(
            ((Catalog.latest_release_pk.is_not(None)) & ~named)
            | ((Catalog.latest_release_pk.is_(None)) & exists(of_catalog))
        )
        .order_by(Catalog.pk)
        .limit(limit)
    )
    return [(catalog_id, pointer) for catalog_id, pointer in session.execute(query)]


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def wrong_product_counts(session: Session, limit: int) -> list[tuple[uuid.UUID, int, int]]:
    """(scope, count kept, products owned) where the triggers' count disagrees with the products. The count
    kept is the folded count plus the deltas not folded yet (on PostgreSQL; SQLite has none). The caller reads
    one snapshot (`assortment check` runs in REPEATABLE READ on PostgreSQL)."""
    owned = {
        row[0]: row[1] for row in session.execute(select(Product.scope_id, func.count()).group_by(Product.scope_id))
    }
    kept = {row[0]: row[1] for row in session.execute(select(ProductCount.scope_id, ProductCount.products))}
    pending = select(ProductCountDelta.scope_id, func.sum(ProductCountDelta.products)).group_by(
        ProductCountDelta.scope_id
    )
    for scope_id, change in session.execute(pending):
        kept[scope_id] = kept.get(scope_id, 0) + change
    wrong = [
        (scope_id, kept.get(scope_id, 0), owned.get(scope_id, 0))
        for scope_id in sorted(owned.keys() | kept.keys(), key=str)
        if kept.get(scope_id, 0) != owned.get(scope_id, 0)
    ]
    return wrong[:limit]
