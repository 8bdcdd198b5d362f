"""Queries of an incremental publish (SPEC §10.3): what each product of the catalog is rendered from, read
set-based for the whole catalog, and the statements that copy a base release's rows of unchanged products
into the new release in SQL (INSERT … SELECT) instead of rendering them again in Python.

The products of a release are the live products linked to a node of the catalog's hierarchies; the reads
below select them with that subquery rather than with lists of thousands of pks.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from assortment.db.models import (
    Association,
    CustomRelationship,
    Node,
    NodeProduct,
    Product,
    ProductRelationshipSlot,
    ReleaseDigest,
    ReleaseProduct,
    ReleaseRelated,
)
from assortment.db.repositories import releases
from assortment.db.repositories.common import DriverSQL, insert_rows


def read_instants_in_utc(session: Session) -> None:
    """PostgreSQL: this transaction reads instants in UTC. The server's zone (often `Etc/UTC`) comes back as a
    zoneinfo, and formatting each of a publish's few hundred thousand instants converted it first (3 µs
    each); in UTC the driver hands out `datetime.UTC` itself. The instants are the same either way, and so
    is their text (`_version`).

    And no JIT compilation: each of a publish's statements over whole releases is planned above the JIT
    threshold and compiled, 50-100 ms apiece, for work that is writing rows rather than evaluating
    expressions."""
    if session.connection().dialect.name == "postgresql":
        session.connection().exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
        session.connection().exec_driver_sql("SET LOCAL jit = off")


def _released(hierarchy_pks: Collection[int]) -> Select[Any]:
    """The pks of the live products linked to a node of the hierarchies (the products of the release)."""
    return (
        select(NodeProduct.product_pk)
        .join(Node, Node.pk == NodeProduct.node_pk)
        .join(Product, Product.pk == NodeProduct.product_pk)
        .where(Node.hierarchy_pk.in_(list(hierarchy_pks)), Product.status == "live")
    )


def _hierarchy_list(hierarchy_pks: Collection[int]) -> str:
    return ", ".join(str(int(pk)) for pk in hierarchy_pks)


def _fetch(session: Session, statement: str, parameters: tuple[Any, ...] | None = None) -> list[Any]:
    """All rows of a statement, fetched by the driver's cursor at once (SQLAlchemy's per-row fetching costs
    more than the query for the hundreds of thousands of rows read here)."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        if parameters is None:
            cursor.execute(statement)
        else:
            cursor.execute(statement, parameters)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _uuid(value: Any) -> uuid.UUID:
    """A UUID as the driver returns it: psycopg gives UUIDs, SQLite the hex text SQLAlchemy's `Uuid` stores."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)


def _as_text(session: Session, column: str) -> str:
    """A column read as its text: PostgreSQL casts it; SQLite stores instants as text already."""
    return f"{column}::text" if session.connection().dialect.name == "postgresql" else column


def released_products(
    session: Session, hierarchy_pks: Collection[int]
) -> list[tuple[int, uuid.UUID, str | None, Any, str]]:
    """(pk, id, sku, updated_at, updated_at as text) of the products of the release, in the order of its
    product lists: most recently updated first, then by id (the database's uuid order is the order of their
    text). Read with the driver: `updated_at` is the driver's value (PostgreSQL: an aware datetime; SQLite:
    the stored text, whose order is the order of the instants), comparable with others read so; its text
    is the database's (a version for digests, without formatting an instant per product)."""
    if not hierarchy_pks:
        return []
    statement = (
        f"SELECT p.pk, p.id, p.sku, p.updated_at, {_as_text(session, 'p.updated_at')} FROM product p"
        " WHERE p.status = 'live' AND p.pk IN"
        " (SELECT np.product_pk FROM node_product np JOIN node n ON n.pk = np.node_pk"
        f" WHERE n.hierarchy_pk IN ({_hierarchy_list(hierarchy_pks)})) ORDER BY p.updated_at DESC, p.id"
    )
    return [(pk, _uuid(pid), sku, at, text) for pk, pid, sku, at, text in _fetch(session, statement)]


def live_links(session: Session, hierarchy_pks: Collection[int]) -> list[tuple[int, int]]:
    """(node pk, product pk) of the links of live products to nodes of the hierarchies, each product's in
    bread-crumb order: most recently linked first, then by node id (the database's uuid order is the order
    of their text; SQLite's instants are text in the order of the instants)."""
    if not hierarchy_pks:
        return []
    statement = (
        "SELECT np.node_pk, np.product_pk FROM node_product np JOIN node n ON n.pk = np.node_pk"
        f" JOIN product p ON p.pk = np.product_pk WHERE n.hierarchy_pk IN ({_hierarchy_list(hierarchy_pks)})"
        " AND p.status = 'live' ORDER BY np.product_pk, np.linked_at DESC, n.id"
    )
    return _fetch(session, statement)


def attached_slugs(session: Session, hierarchy_pks: Collection[int]) -> dict[int, list[str]]:
    """The custom relationships attached to each product of the release, in the order they were attached."""
    result: dict[int, list[str]] = {}
    if not hierarchy_pks:
        return result
    query = (
        select(ProductRelationshipSlot.product_pk, CustomRelationship.slug)
        .join(CustomRelationship, CustomRelationship.pk == ProductRelationshipSlot.relationship_pk)
        .where(ProductRelationshipSlot.product_pk.in_(_released(hierarchy_pks)))
        .order_by(ProductRelationshipSlot.attached_at, CustomRelationship.slug)
    )
    for pk, slug in session.execute(query):
        result.setdefault(pk, []).append(slug)
    return result


def active_associations(
    session: Session, hierarchy_pks: Collection[int]
) -> list[tuple[int, str, int, int | None, int]]:
    """(source pk, slug, target pk, sort_order, pk) of the active associations from products of the release
    (the caller keeps those whose target is in the release too), oldest first."""
    if not hierarchy_pks:
        return []
    query = (
        select(
            Association.source_pk,
            CustomRelationship.slug,
            Association.target_pk,
            Association.sort_order,
            Association.pk,
        )
        .join(CustomRelationship, CustomRelationship.pk == Association.relationship_pk)
        .where(Association.source_pk.in_(_released(hierarchy_pks)), Association.status == "active")
        .order_by(Association.pk)  # a product's slugs come in the order of their oldest association
    )
    return [(s, slug, t, so, pk) for s, slug, t, so, pk in session.execute(query)]


def price_versions(
    session: Session, pricebook_pks: Collection[int], hierarchy_pks: Collection[int]
) -> list[tuple[int, str, int, str]]:
    """(price book pk, sku, price pk, updated_at as text) of the prices those books hold for the skus of the
    release's products: which price wins for a sku, and which version of it, without reading the prices."""
    if not pricebook_pks or not hierarchy_pks:
        return []
    statement = (
        f"SELECT pr.pricebook_pk, pr.sku, pr.pk, {_as_text(session, 'pr.updated_at')} FROM price pr"
        f" WHERE pr.pricebook_pk IN ({_hierarchy_list(pricebook_pks)}) AND pr.sku IN"
        " (SELECT p.sku FROM product p WHERE p.status = 'live' AND p.sku IS NOT NULL AND p.pk IN"
        " (SELECT np.product_pk FROM node_product np JOIN node n ON n.pk = np.node_pk"
        f" WHERE n.hierarchy_pk IN ({_hierarchy_list(hierarchy_pks)})))"
    )
    return _fetch(session, statement)


def changed_since(
    session: Session, base_pk: int, base_products: int, kept: int
) -> tuple[list[tuple[uuid.UUID, Any]], list[uuid.UUID]]:
    """Against the base release (of `base_products` products, `kept` of them in the keep table), from the
    position table (the new release's products): (id, updated_at) of the products new to it or whose
    updated_at moved since, in the new release's order, and the ids of its products the new release no
    longer has, in the base's order. updated_at as the driver returns it.

    A kept product's inputs digest covers its updated_at, so only the others are looked up in the base; and
    when every product of the base is still there (the count says so), none is gone."""
    candidates = DriverSQL(
        f"SELECT pp.product_id, p.updated_at, b.product_id IS NOT NULL, b.updated_at = p.updated_at"
        f" FROM {POSITION_TABLE} pp JOIN product p ON p.pk = pp.product_pk"
        " LEFT JOIN release_product b ON b.release_pk = %s AND b.product_id = pp.product_id"
        f" WHERE NOT EXISTS (SELECT 1 FROM {KEEP_TABLE} k WHERE k.product_id = pp.product_id) ORDER BY pp.position"
    ).run(session, base_pk)
    changed: list[tuple[uuid.UUID, Any]] = []
    still_there = kept
    for pid, at, in_base, same in candidates:
        still_there += bool(in_base)
        if not same:
            changed.append((_uuid(pid), at))
    if still_there == base_products:
        return changed, []
    gone = DriverSQL(
        "SELECT b.product_id FROM release_product b WHERE b.release_pk = %s"
        f" AND NOT EXISTS (SELECT 1 FROM {POSITION_TABLE} pp WHERE pp.product_id = b.product_id) ORDER BY b.position"
    ).run(session, base_pk)
    return changed, [_uuid(pid) for (pid,) in gone]


# --- what a product's row is rendered from ------------------------------------------------------------


class ProductFields(NamedTuple):
    """The fields of a product its release document shows (releases.PRODUCT_FIELDS, by the same names)."""

    pk: int
    id: uuid.UUID
    name: str
    description: str | None
    slug: str | None
    sku: str | None
    commodity_type: str
    upc_ean: str | None
    mpn: str | None
    tags: list[str] | None
    external_ref: str | None
    created_at: datetime
    updated_at: datetime


_PRODUCT_FIELDS = (
    "SELECT pk, id, name, description, slug, sku, commodity_type, upc_ean, mpn, tags::text, external_ref,"
    " created_at, updated_at FROM product WHERE pk = ANY(%s)"
)
_PRICES = (
    "SELECT pricebook_pk, sku, currencies::text, sales::text FROM price WHERE pricebook_pk = ANY(%s) AND sku = ANY(%s)"
)


def products_in_chunks(session: Session, product_pks: Sequence[int], size: int) -> Iterator[list[Any]]:
    """Rows of the products' fields (named like Product's attributes), in the order given, `size` at a time.
    PostgreSQL: read by the driver, the tags decoded by orjson (SQLAlchemy's per-row processing and the
    driver's json module were a second of a 100k-product publish); SQLite: releases.products_in_chunks."""
    if session.connection().dialect.name != "postgresql":
        yield from releases.products_in_chunks(session, product_pks, size)
        return
    for chunk in releases.chunks(list(product_pks), size):
        by_pk: dict[int, ProductFields] = {}
        for row in _fetch(session, _PRODUCT_FIELDS, (list(chunk),)):
            tags = orjson.loads(row[9]) if row[9] is not None else None
            by_pk[row[0]] = ProductFields._make((*row[:9], tags, *row[10:]))
        yield [by_pk[pk] for pk in chunk if pk in by_pk]


def prices_for(
    session: Session, pricebook_pks: Sequence[int], products: Sequence[Any]
) -> list[tuple[int, str, str, str | None]]:
    """(price book pk, sku, currencies, sales) of every price of those books for the skus of those products
    (rows with a `pk` and a `sku`), the two JSON values as their text. PostgreSQL: by sku, read by the
    driver; SQLite: releases.prices_for."""
    if session.connection().dialect.name != "postgresql":
        return releases.prices_for(session, pricebook_pks, [p.pk for p in products if p.sku])
    skus = [p.sku for p in products if p.sku]
    if not skus:
        return []
    return _fetch(session, _PRICES, (list(pricebook_pks), skus))


# --- copying a base release's rows ----------------------------------------------------------------------

# The products copied from the base release, with their place in the new one. A temporary table: it lives in
# the publishing transaction's connection and is dropped before the transaction ends.
KEEP_TABLE = "publish_keep"
CURATED_TABLE = "publish_curated"
# Every product of the new release with its id and position: what the node → product rows are ordered by,
# without reading them back from the release's wide product rows.
POSITION_TABLE = "publish_position"
SCRATCH_TABLES = (KEEP_TABLE, CURATED_TABLE, POSITION_TABLE)


def create_scratch(session: Session) -> None:
    connection = session.connection()
    uuid_type = "uuid" if connection.dialect.name == "postgresql" else "CHAR(32)"
    for table in SCRATCH_TABLES:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    for statement in (
        f"CREATE TEMPORARY TABLE {KEEP_TABLE} (product_id {uuid_type} PRIMARY KEY, position INTEGER NOT NULL)",
        f"CREATE TEMPORARY TABLE {CURATED_TABLE} (node_pk INTEGER NOT NULL, product_pk INTEGER NOT NULL,"
        " rank INTEGER NOT NULL, PRIMARY KEY (node_pk, product_pk))",
        f"CREATE TEMPORARY TABLE {POSITION_TABLE} (product_pk INTEGER PRIMARY KEY,"
        f" product_id {uuid_type} NOT NULL UNIQUE,"
        f" position INTEGER NOT NULL, inputs {'bytea' if uuid_type == 'uuid' else 'BLOB'})",
    ):
        connection.exec_driver_sql(statement)


def drop_scratch(session: Session) -> None:
    connection = session.connection()
    for table in SCRATCH_TABLES:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


def fill_positions(session: Session, rows: Sequence[tuple[int, uuid.UUID, int, bytes]]) -> None:
    """(product pk, product id, position, inputs digest) of every product of the new release."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # One binary COPY: the driver writes the ids' bytes as they are (array literals formatted each as text,
        # a second of a 100k-product publish).
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(f"COPY {POSITION_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "uuid", "int4", "bytea"])
            for row in rows:
                copy.write_row(row)
        connection.exec_driver_sql(f"ANALYZE {POSITION_TABLE}")
        return
    connection.exec_driver_sql(
        f"INSERT INTO {POSITION_TABLE} (product_pk, product_id, position, inputs) VALUES (?, ?, ?, ?)",
        [(pk, pid.hex, position, inputs) for pk, pid, position, inputs in rows],
    )


def keep_unchanged(session: Session, base_pk: int) -> int:
    """Fill the keep table with the products whose inputs digest is the one their row in the base release
    was rendered from (their place from the position table); how many."""
    kept = DriverSQL(
        f"INSERT INTO {KEEP_TABLE} (product_id, position) SELECT pp.product_id, pp.position FROM {POSITION_TABLE} pp"
        " JOIN release_product b ON b.release_pk = %s AND b.product_id = pp.product_id AND b.inputs = pp.inputs"
    ).run(session, base_pk)
    if session.connection().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"ANALYZE {KEEP_TABLE}")
    return int(kept.rowcount)


def fresh_products(session: Session) -> list[int]:
    """The pks of the position table's products not in the keep table, in the new release's order."""
    rows = DriverSQL(
        f"SELECT pp.product_pk FROM {POSITION_TABLE} pp LEFT JOIN {KEEP_TABLE} k ON k.product_id = pp.product_id"
        " WHERE k.product_id IS NULL ORDER BY pp.position"
    ).run(session)
    return [pk for (pk,) in rows]


def fill_curated(session: Session, rows: Sequence[tuple[int, int, int]]) -> None:
    """(node pk, product pk, rank) of the curated products of each node that are linked to it."""
    if not rows:
        return
    connection = session.connection()
    placeholder = "%s" if connection.dialect.name == "postgresql" else "?"
    connection.exec_driver_sql(
        f"INSERT INTO {CURATED_TABLE} (node_pk, product_pk, rank) VALUES ({placeholder}, {placeholder}, {placeholder})",
        list(rows),
    )


def _document_rewrite(dialect: str) -> str:
    """The SQL expression turning a base document into the new release's: its `published_at` and the start
    of its links replaced (the four parameters: old, new `published_at` member; old, new link prefix)."""
    if dialect == "postgresql":
        return "convert_to(replace(replace(convert_from(b.document, 'UTF8'), %s, %s), %s, %s), 'UTF8')"
    return "CAST(replace(replace(CAST(b.document AS TEXT), %s, %s), %s, %s) AS BLOB)"


def copy_kept(
    session: Session,
    base_pk: int,
    release_pk: int,
    published_at: tuple[str, str],
    link_prefix: tuple[str, str],
) -> None:
    """Copy the base release's product rows, digests and related products of the products in the keep
    table into the new release: documents with their `published_at` and link prefix rewritten, positions
    from the keep table, everything else as it is."""
    dialect = session.connection().dialect.name
    products = DriverSQL(
        "INSERT INTO release_product (release_pk, product_id, position, name, sku, slug, upc_ean, mpn, tags,"
        " updated_at, document, price, price_parts, inputs)"
        " SELECT %s, b.product_id, k.position, b.name, b.sku, b.slug, b.upc_ean, b.mpn, b.tags, b.updated_at, "
        + _document_rewrite(dialect)
        + ", b.price, b.price_parts, b.inputs"
        f" FROM release_product b JOIN {KEEP_TABLE} k ON k.product_id = b.product_id WHERE b.release_pk = %s"
    )
    products.run(session, release_pk, *published_at, *link_prefix, base_pk)
    DriverSQL(
        "INSERT INTO release_digest (release_pk, entity_type, entity_id, digest)"
        " SELECT %s, d.entity_type, d.entity_id, d.digest"
        f" FROM release_digest d JOIN {KEEP_TABLE} k ON k.product_id = d.entity_id"
        " WHERE d.release_pk = %s AND d.entity_type = 'product'"
    ).run(session, release_pk, base_pk)
    DriverSQL(
        "INSERT INTO release_related (release_pk, source_id, slug, position, target_id)"
        " SELECT %s, r.source_id, r.slug, r.position, r.target_id"
        f" FROM release_related r JOIN {KEEP_TABLE} k ON k.product_id = r.source_id WHERE r.release_pk = %s"
    ).run(session, release_pk, base_pk)


def insert_node_products(session: Session, release_pk: int, hierarchy_pks: Collection[int]) -> None:
    """Every node's products in display order (SPEC §4.3), from the links and the position table (the new
    release's products): the curated table's products first, in their rank, then by product position."""
    if not hierarchy_pks:
        return
    hierarchies = _hierarchy_list(hierarchy_pks)
    DriverSQL(
        "INSERT INTO release_node_product (release_pk, node_id, position, product_id, curated)"
        " SELECT %s, n.id,"
        " row_number() OVER (PARTITION BY np.node_pk ORDER BY c.rank IS NULL, c.rank, pp.position) - 1,"
        " pp.product_id, c.rank IS NOT NULL"
        f" FROM node_product np JOIN node n ON n.pk = np.node_pk JOIN {POSITION_TABLE} pp"
        " ON pp.product_pk = np.product_pk"
        f" LEFT JOIN {CURATED_TABLE} c ON c.node_pk = np.node_pk AND c.product_pk = np.product_pk"
        f" WHERE n.hierarchy_pk IN ({hierarchies})"
    ).run(session, release_pk)


# --- writing a release's product rows -------------------------------------------------------------------

PRODUCT_COLUMNS = (
    "release_pk",
    "product_id",
    "position",
    "name",
    "sku",
    "slug",
    "upc_ean",
    "mpn",
    "tags",
    "updated_at",
    "document",
    "price",
    "price_parts",
    "inputs",
)
# PostgreSQL's binary COPY takes each value in its type's own binary form, so the types are named; text and
# varchar share theirs (the server still checks varchar's length).
_PRODUCT_TYPES = ("int4", "uuid", "int4", *("text",) * 5, "jsonb", "timestamptz", *("bytea",) * 4)
_RELATED_COLUMNS = ("release_pk", "source_id", "slug", "position", "target_id")
_RELATED_TYPES = ("int4", "uuid", "text", "int4", "uuid")
_DIGEST_COLUMNS = ("release_pk", "entity_type", "entity_id", "digest")
_DIGEST_TYPES = ("int4", "text", "uuid", "bytea")


class RowWriter:
    """Rows of one release table, in PRODUCT_COLUMNS' (or the table's) order, written as they come.

    PostgreSQL: one binary COPY, open while the caller renders, so the server stores rows while the next ones
    are rendered (the two run on two processors), and nothing is formatted as text or escaped (a document
    in text COPY is written twice its size, as hex). SQLite: the rows are inserted when the writer closes,
    by SQLAlchemy's column types as before. Nothing else may run on the session's connection while a
    writer is open."""

    def __init__(self, session: Session, model: Any, columns: Sequence[str], types: Sequence[str]) -> None:
        self.session = session
        self.model = model
        self.table = model.__tablename__
        self.columns = columns
        self.types = types
        self.rows: list[tuple[Any, ...]] = []
        self._copy: Any = None
        self._cursor: Any = None
        self.write = self.rows.append

    def __enter__(self) -> RowWriter:
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            from psycopg.types.json import set_json_dumps

            driver = connection.connection.driver_connection
            assert driver is not None
            self._cursor = driver.cursor()
            set_json_dumps(_json_bytes, self._cursor)
            self._copy = self._cursor.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN (FORMAT BINARY)")
            copy = self._copy.__enter__()
            copy.set_types(list(self.types))
            self.write = copy.write_row
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self._copy is not None:
            try:
                self._copy.__exit__(kind, error, trace)
            finally:
                self._cursor.close()
            return
        if kind is None and self.rows:
            insert_rows(self.session, self.model, [dict(zip(self.columns, row, strict=True)) for row in self.rows])


def _json_bytes(value: Any) -> bytes:
    return orjson.dumps(value)


def product_writer(session: Session) -> RowWriter:
    return RowWriter(session, ReleaseProduct, PRODUCT_COLUMNS, _PRODUCT_TYPES)


def related_writer(session: Session) -> RowWriter:
    return RowWriter(session, ReleaseRelated, _RELATED_COLUMNS, _RELATED_TYPES)


def digest_writer(session: Session) -> RowWriter:
    return RowWriter(session, ReleaseDigest, _DIGEST_COLUMNS, _DIGEST_TYPES)
