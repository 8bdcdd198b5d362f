"""Queries that build and read releases. Reads touch only the release tables: a release never changes."""

from __future__ import annotations

import sys
import uuid
from array import array
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, delete, func, literal, or_, select, text, update
from sqlalchemy.orm import Session, defer

from assortment.db.filters import FilterField, Kind, allow
from assortment.db.models import (
    Association,
    Catalog,
    CustomRelationship,
    Hierarchy,
    Node,
    NodeProduct,
    Price,
    Pricebook,
    Product,
    ProductRelationshipSlot,
    Release,
    ReleaseComparison,
    ReleaseDigest,
    ReleaseHierarchy,
    ReleaseNode,
    ReleaseNodeProduct,
    ReleaseProduct,
    ReleaseRelated,
)
from assortment.db.repositories.common import AnySelect, DriverSQL, keyset_page, order_of, pks_in
from assortment.db.repositories.common import insert_rows as insert_rows  # publish writes its rows with it
from assortment.domain.paging import Page, Paging

RELEASE_TREE_FILTERS_NODE: dict[str, FilterField] = {
    "name": allow(ReleaseNode.name, Kind.STRING, "eq"),
    "slug": allow(ReleaseNode.slug, Kind.STRING, "eq"),
    "id": allow(ReleaseNode.node_id, Kind.UUID, "in eq"),
}
RELEASE_TREE_FILTERS_HIERARCHY: dict[str, FilterField] = {
    "name": allow(ReleaseHierarchy.name, Kind.STRING, "eq"),
    "slug": allow(ReleaseHierarchy.slug, Kind.STRING, "eq"),
    "id": allow(ReleaseHierarchy.hierarchy_id, Kind.UUID, "in eq"),
}
RELEASE_PRODUCT_FILTERS: dict[str, FilterField] = {
    "id": allow(ReleaseProduct.product_id, Kind.UUID, "in eq"),
    "name": allow(ReleaseProduct.name, Kind.STRING, "eq in"),
    "sku": allow(ReleaseProduct.sku, Kind.STRING, "eq in"),
    "slug": allow(ReleaseProduct.slug, Kind.STRING, "eq in"),
    "manufacturer_part_num": allow(ReleaseProduct.mpn, Kind.STRING, "eq in"),
    "upc_ean": allow(ReleaseProduct.upc_ean, Kind.STRING, "eq in"),
    "tags": allow(ReleaseProduct.tags, Kind.STRING_ARRAY, "eq in"),
    "product_types": allow(ReleaseProduct.product_id, Kind.CONSTANT, "eq in", constant="standard"),
}

# --- building ----------------------------------------------------------------------------------------


def hierarchies_by_ids(session: Session, scopes: Sequence[uuid.UUID], ids: Collection[uuid.UUID]) -> list[Hierarchy]:
    if not ids:
        return []
    return list(session.scalars(select(Hierarchy).where(Hierarchy.id.in_(list(ids)), Hierarchy.scope_id.in_(scopes))))


def nodes_of_hierarchies(session: Session, hierarchy_pks: Collection[int]) -> list[Node]:
    if not hierarchy_pks:
        return []
    query = select(Node).where(Node.hierarchy_pk.in_(list(hierarchy_pks))).order_by(Node.created_at, Node.id)
    return list(session.scalars(query))


def live_links(
    session: Session, hierarchy_pks: Collection[int], node_pks: Collection[int]
) -> list[tuple[int, int, datetime]]:
    """(node pk, product pk, linked at) for every live product linked to the nodes, which belong to the
    hierarchies. The query selects by hierarchy, not by a list of thousands of node pks: given such a list
    and fresh statistics, SQLite scans every product and probes the list for each (minutes for 100k)."""
    if not node_pks or not hierarchy_pks:
        return []
    query = (
        select(NodeProduct.node_pk, NodeProduct.product_pk, NodeProduct.linked_at)
        .join(Node, Node.pk == NodeProduct.node_pk)
        .join(Product, Product.pk == NodeProduct.product_pk)
        .where(Node.hierarchy_pk.in_(list(hierarchy_pks)), Product.status == "live")
    )
    wanted = set(node_pks)  # a node created since the caller listed them is not part of its tree
    return [(n, p, at) for n, p, at in session.execute(query) if n in wanted]


def product_order_keys(session: Session, product_pks: Collection[int]) -> list[tuple[int, uuid.UUID, datetime]]:
    """(pk, id, updated_at) of the products, in chunks so the statement stays small."""
    result: list[tuple[int, uuid.UUID, datetime]] = []
    for chunk in chunks(sorted(product_pks), 5000):
        query = select(Product.pk, Product.id, Product.updated_at).where(pks_in(Product.pk, chunk))
        result += [(pk, pid, at) for pk, pid, at in session.execute(query)]
    return result


# What a release product document is made of (rows rather than ORM objects: a tenth of the cost).
PRODUCT_FIELDS = (
    Product.pk,
    Product.id,
    Product.name,
    Product.description,
    Product.slug,
    Product.sku,
    Product.commodity_type,
    Product.upc_ean,
    Product.mpn,
    Product.tags,
    Product.external_ref,
    Product.created_at,
    Product.updated_at,
)


def products_in_chunks(session: Session, product_pks: Sequence[int], size: int) -> Iterator[list[Any]]:
    """Rows of the PRODUCT_FIELDS of the products (named like Product's attributes), in the order given,
    `size` at a time."""
    for chunk in chunks(list(product_pks), size):
        rows = session.execute(select(*PRODUCT_FIELDS).where(pks_in(Product.pk, chunk))).all()
        by_pk = {p.pk: p for p in rows}
        yield [by_pk[pk] for pk in chunk if pk in by_pk]


def attached_slugs(session: Session, product_pks: Collection[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for chunk in chunks(sorted(product_pks), 5000):
        query = (
            select(ProductRelationshipSlot.product_pk, CustomRelationship.slug)
            .join(CustomRelationship, CustomRelationship.pk == ProductRelationshipSlot.relationship_pk)
            .where(pks_in(ProductRelationshipSlot.product_pk, chunk))
            .order_by(ProductRelationshipSlot.attached_at, CustomRelationship.slug)
        )
        for pk, slug in session.execute(query):
            result.setdefault(pk, []).append(slug)
    return result


def active_associations(session: Session, source_pks: Collection[int]) -> list[tuple[int, str, int, int | None, int]]:
    """(source pk, slug, target pk, sort_order, pk) of active associations from the sources."""
    result: list[tuple[int, str, int, int | None, int]] = []
    for chunk in chunks(sorted(source_pks), 5000):
        query = (
            select(
                Association.source_pk,
                CustomRelationship.slug,
                Association.target_pk,
                Association.sort_order,
                Association.pk,
            )
            .join(CustomRelationship, CustomRelationship.pk == Association.relationship_pk)
            .where(pks_in(Association.source_pk, chunk), Association.status == "active")
        )
        result += [(s, slug, t, so, pk) for s, slug, t, so, pk in session.execute(query)]
    return result


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pricebooks_by_ids(session: Session, scopes: Sequence[uuid.UUID], ids: Collection[uuid.UUID]) -> list[Pricebook]:
    if not ids:
        return []
    return list(session.scalars(select(Pricebook).where(Pricebook.id.in_(list(ids)), Pricebook.scope_id.in_(scopes))))


def prices_for(
    session: Session, pricebook_pks: Collection[int], product_pks: Sequence[int]
) -> list[tuple[int, str, str, str | None]]:
    """(price book pk, sku, currencies, sales) of every price of those books for the skus of those products,
    the two JSON values as their text: the caller decodes them (faster than the driver's json module)."""
    query = (
        select(Price.pricebook_pk, Price.sku, cast(Price.currencies, Text), cast(Price.sales, Text))
        .join(Product, Product.sku == Price.sku)
        .where(Price.pricebook_pk.in_(list(pricebook_pks)), pks_in(Product.pk, product_pks))
        .distinct()
    )
    return [(pk, sku, base, sales) for pk, sku, base, sales in session.execute(query)]


def release_product_versions(session: Session, release_pk: int) -> dict[uuid.UUID, datetime]:
    query = select(ReleaseProduct.product_id, ReleaseProduct.updated_at).where(ReleaseProduct.release_pk == release_pk)
    return {pid: at for pid, at in session.execute(query)}


# --- releases --------------------------------------------------------------------------------------------


# A release's delta lists every product of a full publish (megabytes at 100k products): it is loaded only
# when read (the delta endpoint), not with every release a request resolves.
WITHOUT_DELTA = defer(Release.delta)


_CATALOG_KEY = DriverSQL("SELECT pk, release_version FROM catalog WHERE id = %s AND scope_id IN (%s, %s)")


def catalog_key(session: Session, catalog_id: uuid.UUID, scopes: Sequence[uuid.UUID]) -> tuple[int, int] | None:
    """(pk, release_version) of the catalog when one of the scopes owns it."""
    first, second = scopes[0], scopes[-1]
    row = _CATALOG_KEY.run(session, catalog_id, first, second).first()
    return None if row is None else (int(row[0]), int(row[1]))


def latest_published(session: Session, catalog_pk: int) -> Release | None:
    """The release the catalog names as its latest (SPEC §10.2), read with the pointer in one statement (on
    PostgreSQL each statement sees the commits made before it: two would let a delete slip in between)."""
    pointer = select(Catalog.latest_release_pk).where(Catalog.pk == catalog_pk).scalar_subquery()
    query = select(Release).options(WITHOUT_DELTA).where(Release.pk == pointer, Release.catalog_pk == catalog_pk)
    return session.scalars(query).first()


def most_recently_published(session: Session, catalog_pk: int) -> int | None:
    """The pk of the catalog's most recently published release (what becomes latest when the latest goes)."""
    query = (
        select(Release.pk)
        .where(Release.catalog_pk == catalog_pk, Release.status == "PUBLISHED")
        .order_by(Release.pk.desc())
        .limit(1)
    )
    return session.scalar(query)



# The tables a publish writes, whose planner statistics it refreshes (PostgreSQL).
RELEASE_TABLES = (
    "release_product",
    "release_node_product",
    "release_node",
    "release_hierarchy",
    "release_related",
    "release_digest",
)


def refresh_statistics(session: Session) -> None:
    """PostgreSQL: sample the release tables in the publishing transaction, so that the statistics the
    planner reads say the new release exists when it becomes visible. Left to autovacuum (when it runs at
    all), reads of the newest release would be planned as if it had no rows until its next analyze: a node
    page took a second (nested loops scanning the whole release per row) instead of a millisecond. ANALYZE
    counts the rows its own transaction inserted, and its statistics commit with the release."""
    if session.connection().dialect.name == "postgresql":
        # A tenth of the default sample (3,000 rows a table): enough to know each release's size and the
        # columns' spread, at an eighth of the time (100k catalog: 2.5 → 0.3 s). The setting ends with the
        # transaction.
        session.execute(text("SET LOCAL default_statistics_target = 10"))
        session.execute(text("ANALYZE " + ", ".join(RELEASE_TABLES)))


def published_before(session: Session, catalog_pk: int, release_pk: int) -> Release | None:
    """The catalog's kept release published just before that one, if any."""
    query = (
        select(Release)
        .options(WITHOUT_DELTA)
        .where(Release.catalog_pk == catalog_pk, Release.pk < release_pk)
        .order_by(Release.pk.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def release_delta(session: Session, release_pk: int) -> bytes | None:
    return session.scalar(select(Release.delta).where(Release.pk == release_pk))


def releases_changed(session: Session, catalog_pk: int) -> None:
    """Tell every process, with the transaction that changes them, that the catalog's releases changed:
    `latest` resolved at an older `release_version` is resolved again."""
    session.execute(
        update(Catalog).where(Catalog.pk == catalog_pk).values(release_version=Catalog.release_version + 1)
    )


def get_release(session: Session, catalog_pk: int, release_id: uuid.UUID) -> Release | None:
    query = select(Release).options(WITHOUT_DELTA).where(Release.catalog_pk == catalog_pk, Release.id == release_id)
    return session.scalars(query).first()


def list_releases(session: Session, catalog_pk: int, paging: Paging) -> Page[Release]:
    query = select(Release).where(Release.catalog_pk == catalog_pk)
    if paging.by_cursor:
        return keyset_page(session, query.options(WITHOUT_DELTA), (Release.pk.desc(),), paging)
    limit, offset = paging.limit, paging.offset
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.options(WITHOUT_DELTA).order_by(Release.pk.desc()).limit(limit).offset(offset)).all()
    return Page(list(rows), total, paging)


def releases_beyond(session: Session, catalog_pk: int, keep: int, *, always: Collection[int] = ()) -> list[int]:
    """The releases retention deletes: all but the `keep` most recently published ones, counting the releases
    `always` kept (the latest, ...) among them wherever they are."""
    pks = [pk for (pk,) in session.execute(select(Release.pk).where(Release.catalog_pk == catalog_pk))]
    pks.sort(reverse=True)
    kept = [pk for pk in pks if pk in always][:keep]
    kept += [pk for pk in pks if pk not in always][: max(keep - len(kept), 0)]
    return [pk for pk in pks if pk not in kept]


def release_ids(session: Session, release_pks: Collection[int]) -> list[uuid.UUID]:
    """The ids of these releases, oldest first."""
    if not release_pks:
        return []
    query = select(Release.id).where(Release.pk.in_(list(release_pks))).order_by(Release.pk)
    return list(session.scalars(query))


def delete_releases(session: Session, release_pks: Collection[int]) -> None:
    """Delete releases and their rows (child tables first: bulk deletes do not wait for cascades)."""
    if not release_pks:
        return
    pks = list(release_pks)
    # comparisons kept with either side (their change rows follow by the foreign key's cascade)
    kept = or_(ReleaseComparison.release_pk.in_(pks), ReleaseComparison.base_pk.in_(pks))
    session.execute(delete(ReleaseComparison).where(kept))
    for model in (ReleaseDigest, ReleaseRelated, ReleaseNodeProduct, ReleaseProduct, ReleaseNode, ReleaseHierarchy):
        session.execute(delete(model).where(model.release_pk.in_(pks)))
    session.execute(delete(Release).where(Release.pk.in_(pks)))


# --- reading a release ------------------------------------------------------------------------------------


def page_of(session: Session, documents: AnySelect, paging: Paging) -> Page[tuple[Any, ...]]:
    """A page of one of the queries below (already in their order: a position unique in the list)."""
    if paging.by_cursor:
        return keyset_page(session, documents.order_by(None), order_of(documents), paging, scalars=False)
    total = session.scalar(select(func.count()).select_from(documents.order_by(None).subquery())) or 0
    rows = session.execute(documents.limit(paging.limit).offset(paging.offset)).all()
    return Page([tuple(r) for r in rows], total, paging)


def hierarchies_query(release_pk: int, where: ColumnElement[bool] | None) -> AnySelect:
    query = select(ReleaseHierarchy.document).where(ReleaseHierarchy.release_pk == release_pk)
    if where is not None:
        query = query.where(where)
    return query.order_by(ReleaseHierarchy.position)


_HIERARCHY_DOCUMENT = DriverSQL("SELECT document FROM release_hierarchy WHERE release_pk = %s AND hierarchy_id = %s")


def hierarchy_document(session: Session, release_pk: int, hierarchy_id: uuid.UUID) -> bytes | None:
    document: bytes | None = _HIERARCHY_DOCUMENT.run(session, release_pk, hierarchy_id).scalar()
    return document


def nodes_query(
    release_pk: int,
    where: ColumnElement[bool] | None,
    *,
    hierarchy_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
    top_level_of: uuid.UUID | None = None,
) -> AnySelect:
    query = select(ReleaseNode.document).where(ReleaseNode.release_pk == release_pk)
    order: tuple[Any, ...] = (ReleaseNode.position,)
    if hierarchy_id is not None:
        query = query.where(ReleaseNode.hierarchy_id == hierarchy_id)
    if parent_id is not None:
        query = query.where(ReleaseNode.parent_id == parent_id)
        order = (ReleaseNode.child_position,)
    if top_level_of is not None:
        query = query.where(ReleaseNode.hierarchy_id == top_level_of, ReleaseNode.parent_id.is_(None))
        order = (ReleaseNode.child_position,)
    if where is not None:
        query = query.where(where)
    return query.order_by(*order)


_NODE_DOCUMENT = DriverSQL("SELECT document FROM release_node WHERE release_pk = %s AND node_id = %s")


def node_document(session: Session, release_pk: int, node_id: uuid.UUID) -> bytes | None:
    document: bytes | None = _NODE_DOCUMENT.run(session, release_pk, node_id).scalar()
    return document


def products_query(release_pk: int, where: ColumnElement[bool] | None) -> AnySelect:
    query = select(ReleaseProduct.document, ReleaseProduct.price, literal(False), ReleaseProduct.price_parts).where(
        ReleaseProduct.release_pk == release_pk
    )
    if where is not None:
        query = query.where(where)
    return query.order_by(ReleaseProduct.position)


_PRODUCT_ROW = DriverSQL(
    "SELECT document, price, price_parts FROM release_product WHERE release_pk = %s AND product_id = %s"
)


def product_row(
    session: Session, release_pk: int, product_id: uuid.UUID
) -> tuple[bytes, bytes | None, bytes | None] | None:
    """A product's stored document, price and price parts."""
    row = _PRODUCT_ROW.run(session, release_pk, product_id).first()
    return None if row is None else (row[0], row[1], row[2])


# The unfiltered product pages, the storefront's everyday reads, as fixed statements (the filtered ones are
# built from the filter below). Rows: (document, price, curated, price parts).
_NODE_PRODUCTS_FROM = (
    " FROM release_node_product JOIN release_product ON release_product.release_pk = release_node_product.release_pk"
    " AND release_product.product_id = release_node_product.product_id"
    " WHERE release_node_product.release_pk = %s AND release_node_product.node_id = %s"
)
_NODE_PRODUCTS_PAGE = DriverSQL(
    "SELECT release_product.document, release_product.price, release_node_product.curated,"
    " release_product.price_parts"
    + _NODE_PRODUCTS_FROM
    + " ORDER BY release_node_product.position LIMIT %s OFFSET %s"
)
_NODE_PRODUCTS_COUNT = DriverSQL("SELECT count(*)" + _NODE_PRODUCTS_FROM)
_PRODUCTS_PAGE = DriverSQL(
    "SELECT document, price, 0, price_parts FROM release_product WHERE release_pk = %s"
    " ORDER BY position LIMIT %s OFFSET %s"
)
_PRODUCTS_COUNT = DriverSQL("SELECT count(*) FROM release_product WHERE release_pk = %s")


def node_products_page(
    session: Session, release_pk: int, node_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[Any], int]:
    rows = _NODE_PRODUCTS_PAGE.run(session, release_pk, node_id, limit, offset).all()
    return _with_total(rows, offset, limit, lambda: _NODE_PRODUCTS_COUNT.run(session, release_pk, node_id).scalar())


def products_page(session: Session, release_pk: int, limit: int, offset: int) -> tuple[list[Any], int]:
    rows = _PRODUCTS_PAGE.run(session, release_pk, limit, offset).all()
    return _with_total(rows, offset, limit, lambda: _PRODUCTS_COUNT.run(session, release_pk).scalar())


def _with_total(rows: Sequence[Any], offset: int, limit: int, count: Any) -> tuple[list[Any], int]:
    """The page's rows and the number of rows in all pages: a page that is not full and not empty ends the
    list, so its total is known without counting."""
    if 0 < len(rows) < limit:
        return [tuple(r) for r in rows], offset + len(rows)
    return [tuple(r) for r in rows], int(count() or 0)


def node_products_query(release_pk: int, node_id: uuid.UUID, where: ColumnElement[bool] | None) -> AnySelect:
    query = (
        select(ReleaseProduct.document, ReleaseProduct.price, ReleaseNodeProduct.curated, ReleaseProduct.price_parts)
        .join(
            ReleaseProduct,
            (ReleaseProduct.release_pk == ReleaseNodeProduct.release_pk)
            & (ReleaseProduct.product_id == ReleaseNodeProduct.product_id),
        )
        .where(ReleaseNodeProduct.release_pk == release_pk, ReleaseNodeProduct.node_id == node_id)
    )
    if where is not None:
        query = query.where(where)
    return query.order_by(ReleaseNodeProduct.position)


# A hierarchy's products kept at publish (models.py ReleaseHierarchy.product_positions): how many, and the
# slice of their positions a page shows (substr counts bytes from 1, in SQLite and PostgreSQL alike).
_HIERARCHY_POSITIONS = DriverSQL(
    "SELECT length(product_positions), substr(product_positions, %s, %s) FROM release_hierarchy"
    " WHERE release_pk = %s AND hierarchy_id = %s"
)
POSITION_BYTES = 4


def pack_positions(positions: Sequence[int]) -> bytes:
    """Product positions as `release_hierarchy.product_positions` keeps them: 4-byte little-endian each."""
    packed = array("i", positions)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack_positions(packed: bytes) -> list[int]:
    positions = array("i")
    positions.frombytes(packed)
    if sys.byteorder == "big":
        positions.byteswap()
    return positions.tolist()


def hierarchy_product_positions(
    session: Session, release_pk: int, hierarchy_id: uuid.UUID, limit: int, offset: int
) -> tuple[int, list[int]] | None:
    """(how many distinct products the hierarchy's nodes hold, the positions of those from `offset` to
    `offset + limit`); None when the release was published before publish kept them."""
    start, length = offset * POSITION_BYTES + 1, limit * POSITION_BYTES
    row = _HIERARCHY_POSITIONS.run(session, start, length, release_pk, hierarchy_id).first()
    if row is None or row[0] is None:
        return None
    return row[0] // POSITION_BYTES, unpack_positions(bytes(row[1] or b""))


def products_at(session: Session, release_pk: int, positions: Sequence[int]) -> list[tuple[Any, ...]]:
    """The rows (document, price, curated: never, price parts) of the release's products at those positions,
    in their order."""
    if not positions:
        return []
    marks = ", ".join(["%s"] * len(positions))
    rows = DriverSQL(
        "SELECT document, price, 0, price_parts FROM release_product WHERE release_pk = %s"
        f" AND position IN ({marks}) ORDER BY position"
    ).run(session, release_pk, *positions)
    return [tuple(r) for r in rows]


def hierarchy_products_query(release_pk: int, hierarchy_id: uuid.UUID, where: ColumnElement[bool] | None) -> AnySelect:
    """The hierarchy's products in the release's product order, found from the node links of its nodes (a
    filtered or cursor page, or a release published before publish kept them)."""
    in_hierarchy = (
        select(ReleaseNodeProduct.product_id)
        .join(
            ReleaseNode,
            (ReleaseNode.release_pk == ReleaseNodeProduct.release_pk)
            & (ReleaseNode.node_id == ReleaseNodeProduct.node_id),
        )
        .where(ReleaseNodeProduct.release_pk == release_pk, ReleaseNode.hierarchy_id == hierarchy_id)
    )
    query = select(ReleaseProduct.document, ReleaseProduct.price, literal(False), ReleaseProduct.price_parts).where(
        ReleaseProduct.release_pk == release_pk, ReleaseProduct.product_id.in_(in_hierarchy)
    )
    if where is not None:
        query = query.where(where)
    return query.order_by(ReleaseProduct.position)


def related_query(release_pk: int, source_id: uuid.UUID, slug: str, where: ColumnElement[bool] | None) -> AnySelect:
    query = (
        select(ReleaseProduct.document, ReleaseProduct.price, literal(False), ReleaseProduct.price_parts)
        .join(
            ReleaseRelated,
            (ReleaseRelated.release_pk == ReleaseProduct.release_pk)
            & (ReleaseRelated.target_id == ReleaseProduct.product_id),
        )
        .where(
            ReleaseRelated.release_pk == release_pk,
            ReleaseRelated.source_id == source_id,
            ReleaseRelated.slug == slug,
        )
    )
    if where is not None:
        query = query.where(where)
    return query.order_by(ReleaseRelated.position)


# The fast read path (api/fast_reads.py) runs these on its own connection, outside any session.
FAST_NODE_PRODUCT_COUNT = DriverSQL("SELECT product_count FROM release_node WHERE release_pk = %s AND node_id = %s")
FAST_NODE_PRODUCTS_PAGE = _NODE_PRODUCTS_PAGE
# The page with the node's product count in every row, in one round trip; an empty page asks for the count
# alone (a node not in the release, or an offset past the end).
FAST_NODE_PRODUCTS_COUNTED = DriverSQL(
    "SELECT release_product.document, release_product.price, release_node_product.curated,"
    " release_product.price_parts,"
    " (SELECT product_count FROM release_node WHERE release_node.release_pk = %s AND release_node.node_id = %s)"
    + _NODE_PRODUCTS_FROM
    + " ORDER BY release_node_product.position LIMIT %s OFFSET %s"
)
FAST_PRODUCT_ROW = _PRODUCT_ROW
