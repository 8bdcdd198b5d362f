"""Fixed statements for the commonest PIM read, a product by id (issue 17), run with `db.prepared`.

Through the ORM a product by id cost ≈ 0.5 ms of CPU on SQLite, most of it building objects and rows
around two indexed lookups; here the rows come back as plain records, the id and timestamps already text.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, Select, Uuid, any_, bindparam, func, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from assortment.db.models import (
    ORGANIZATION_SCOPE,
    CustomRelationship,
    Product,
    ProductCount,
    ProductCountDelta,
    ProductRelationshipSlot,
)
from assortment.db.prepared import Prepared
from assortment.domain.formats import timestamp

_product = Product.__table__


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times more
class ProductRecord:
    """A product row as its rendering reads it: the attributes of `Product` of the same names, except that
    `id` and the timestamps are already text in the API's form, and `owner` is decided."""

    pk: int
    id: str
    owner: str
    name: str
    commodity_type: str
    status: str
    description: str | None
    slug: str | None
    sku: str | None
    upc_ean: str | None
    mpn: str | None
    external_ref: str | None
    tags: list[str] | None
    locales: dict[str, Any] | None
    created_at: str
    updated_at: str


_PRODUCT_COLUMNS = [
    (_product.c.scope_id == ORGANIZATION_SCOPE).label("of_organization") if name == "owner" else _product.c[name]
    for name in ProductRecord.__slots__
]

_slot = ProductRelationshipSlot.__table__
_relationship = CustomRelationship.__table__

# A product among the caller's scopes (one or two, bound as `scope_a`, `scope_b`), one row per custom
# relationship attached to it in attachment order (its slug last; one row with no slug when it has none):
# one statement, one round trip on PostgreSQL.
_VISIBLE = Prepared(
    select(*_PRODUCT_COLUMNS, _relationship.c.slug)
    .select_from(
        _product.outerjoin(_slot, _slot.c.product_pk == _product.c.pk).outerjoin(
            _relationship, _relationship.c.pk == _slot.c.relationship_pk
        )
    )
    .where(
        _product.c.id == bindparam("id", type_=Uuid()),
        _product.c.scope_id.in_([bindparam("scope_a", type_=Uuid()), bindparam("scope_b", type_=Uuid())]),
    )
    .order_by(_slot.c.attached_at, _relationship.c.slug),
    as_text=("id", "created_at", "updated_at"),
)


def visible_product(
    connection: Connection, scopes: Sequence[uuid.UUID], product_id: uuid.UUID
) -> tuple[ProductRecord, list[str]] | None:
    """The product `product_id` if one of `scopes` (one or two) owns it, with its relationship slugs."""
    rows = _VISIBLE.rows(connection, {"id": product_id, "scope_a": scopes[0], "scope_b": scopes[-1]})
    if not rows:
        return None
    row = rows[0]
    row[2] = "organization" if row[2] else "store"
    return ProductRecord(*row[:-1]), [slug for *_, slug in rows if slug is not None]


# How many products the scopes hold (migrations e5b7c3d9f104, cc89063b9cfe): on SQLite the counts the
# triggers keep; on PostgreSQL the folded counts plus the deltas not folded yet, in one statement (one
# snapshot: a fold that commits meanwhile is seen whole or not at all).
_counts = ProductCount.__table__
_deltas = ProductCountDelta.__table__


def _counted(scope_count: int, dialect: str) -> Select[tuple[int]]:
    scopes = [bindparam(f"scope_{n}", type_=Uuid()) for n in range(scope_count)]
    if dialect == "sqlite":
        return select(func.coalesce(func.sum(_counts.c.products), 0)).where(_counts.c.scope_id.in_(scopes))
    counted = union_all(
        select(_counts.c.products).where(_counts.c.scope_id.in_(scopes)),
        select(_deltas.c.products).where(_deltas.c.scope_id.in_(scopes)),
    ).subquery()
    return select(func.coalesce(func.sum(counted.c.products), 0))


def _newest_page(scope_count: int, dialect: str) -> Prepared:
    """A page of the products of `scope_count` scopes (bound as scope_0…) in (created_at, id) order: each
    scope read in index order up to `reach` rows (offset + limit), then merged, as `products.list_visible`;
    each row ends with the scopes' total (one statement: one round trip, and the page's snapshot)."""
    arms = [
        select(*_PRODUCT_COLUMNS)
        .where(_product.c.scope_id == bindparam(f"scope_{n}", type_=Uuid()))
        .order_by(_product.c.created_at, _product.c.id)
        .limit(bindparam("reach", type_=Integer))
        .subquery()
        for n in range(scope_count)
    ]
    merged = union_all(*(select(arm) for arm in arms)).subquery() if scope_count > 1 else arms[0]
    return Prepared(
        select(merged, _counted(scope_count, dialect).scalar_subquery().label("total"))
        .order_by(merged.c.created_at, merged.c.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer)),
        as_text=("id", "created_at", "updated_at"),
        inline=("reach", "limit", "offset"),
    )


# A caller sees one scope (the organization) or two (a store and the organization).
_DIALECTS = ("sqlite", "postgresql")
_NEWEST_PAGES = {dialect: {count: _newest_page(count, dialect) for count in (1, 2)} for dialect in _DIALECTS}
# The total alone, for a page past the end.
_COUNTED = {dialect: {count: Prepared(_counted(count, dialect)) for count in (1, 2)} for dialect in _DIALECTS}

# The slugs of a page of products. SQLite: up to PAGE_OF_PKS, the list bound as pk_0…, padded with its first
# pk. PostgreSQL: the pks as one array (psycopg parses a statement of more than 50 parameters anew at every
# execution: ≈ 1 ms for this one).
PAGE_OF_PKS = 100
_SLUGS = select(_slot.c.product_pk, _relationship.c.slug).select_from(
    _slot.join(_relationship, _relationship.c.pk == _slot.c.relationship_pk)
)
_PAGE_SLUGS = Prepared(
    _SLUGS.where(_slot.c.product_pk.in_([bindparam(f"pk_{n}", type_=Integer) for n in range(PAGE_OF_PKS)])).order_by(
        _slot.c.attached_at, _relationship.c.slug
    )
)
_PAGE_SLUGS_ARRAY = Prepared(
    _SLUGS.where(_slot.c.product_pk == any_(bindparam("pks", type_=ARRAY(Integer)))).order_by(
        _slot.c.attached_at, _relationship.c.slug
    )
)


def newest_products(
    connection: Connection, scopes: Sequence[uuid.UUID], limit: int, offset: int
) -> tuple[list[tuple[ProductRecord, list[str]]], int]:
    """A page of the products `scopes` own, oldest first, each with its relationship slugs; and their total."""
    distinct = list(dict.fromkeys(scopes))
    named = {f"scope_{n}": scope for n, scope in enumerate(distinct)}
    dialect = connection.dialect.name
    rows = _NEWEST_PAGES[dialect][len(distinct)].rows(
        connection, {**named, "limit": limit, "offset": offset, "reach": offset + limit}
    )
    # Every row carries the total; a page past the end has no row to carry it.
    total = int(rows[0][-1] if rows else _COUNTED[dialect][len(distinct)].rows(connection, named)[0][0])
    records = []
    for row in rows:
        del row[-1]
        row[2] = "organization" if row[2] else "store"
        records.append(ProductRecord(*row))
    slugs = _slugs_of(connection, records)
    return [(record, slugs.get(record.pk, [])) for record in records], total


def _slugs_of(connection: Connection, records: list[ProductRecord]) -> dict[int, list[str]]:
    slugs: dict[int, list[str]] = {}
    if records:
        pks = [record.pk for record in records[:PAGE_OF_PKS]]
        if connection.dialect.name == "postgresql":
            rows = _PAGE_SLUGS_ARRAY.rows(connection, {"pks": pks})
        else:
            padded = pks + [pks[0]] * (PAGE_OF_PKS - len(pks))
            rows = _PAGE_SLUGS.rows(connection, {f"pk_{n}": pk for n, pk in enumerate(padded)})
        for pk, slug in rows:
            slugs.setdefault(pk, []).append(slug)
    return slugs


def filtered_products(
    connection: Connection, scopes: Sequence[uuid.UUID], where: ColumnElement[bool], limit: int, offset: int
) -> tuple[list[tuple[ProductRecord, list[str]]], int]:
    """A page of the products `scopes` own that `where` (a compiled filter) admits, oldest first, each with
    its relationship slugs; and how many it admits. The statement differs with every filter, so it is built
    here and compiled through SQLAlchemy's cache; its rows are read as records, not ORM objects."""
    admitted = (_product.c.scope_id.in_(list(scopes)), where)
    total = int(connection.execute(select(func.count()).select_from(_product).where(*admitted)).scalar_one())
    page = select(*_PRODUCT_COLUMNS).where(*admitted).order_by(_product.c.created_at, _product.c.id)
    page = page.limit(limit).offset(offset)
    records = []
    for row in connection.execute(page):
        values = list(row)
        values[1] = str(values[1])
        values[2] = "organization" if values[2] else "store"
        values[-2], values[-1] = timestamp(values[-2]), timestamp(values[-1])
        records.append(ProductRecord(*values))
    slugs = _slugs_of(connection, records)
    return [(record, slugs.get(record.pk, [])) for record in records], total
