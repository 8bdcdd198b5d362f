"""Queries on products."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, exists, func, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from assortment.db.filters import FilterField, Kind, allow, owner_field
from assortment.db.models import NodeProduct, Product, ProductCount, ProductCountDelta
from assortment.db.repositories.common import paginate, seek, sort_keys
from assortment.domain.filters import FILTER_PARSE_ERROR
from assortment.domain.paging import Page, Paging
from assortment.errors import BadRequest


def external_ref_digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def _external_ref_eq(value: str) -> ColumnElement[bool]:
    return Product.external_ref_digest == external_ref_digest(value)


def _has_nodes_eq(value: bool) -> ColumnElement[bool]:
    if value:  # the API allows only has_nodes=false
        raise BadRequest(FILTER_PARSE_ERROR)
    return ~exists().where(NodeProduct.product_pk == Product.pk)


PRODUCT_FILTERS: dict[str, FilterField] = {
    "id": allow(Product.id, Kind.UUID, "eq in gt ge lt le"),
    "sku": allow(Product.sku, Kind.STRING, "eq like ilike in is_null"),
    "slug": allow(Product.slug, Kind.STRING, "eq like ilike in is_null"),
    "upc_ean": allow(Product.upc_ean, Kind.STRING, "eq like ilike in is_null"),
    "manufacturer_part_num": allow(Product.mpn, Kind.STRING, "eq like ilike in is_null"),
    "name": allow(Product.name, Kind.STRING, "eq like ilike in"),
    "description": allow(Product.description, Kind.STRING, "eq like ilike is_null"),
    "commodity_type": allow(Product.commodity_type, Kind.STRING, "eq in"),
    "status": allow(Product.status, Kind.STRING, "eq in"),
    "external_ref": allow(
        Product.external_ref, Kind.STRING, "eq like ilike in gt ge lt le is_null", eq=_external_ref_eq
    ),
    "tags": allow(Product.tags, Kind.STRING_ARRAY, "eq like ilike in"),
    "product_types": allow(Product.id, Kind.CONSTANT, "eq in", constant="standard"),
    "has_nodes": allow(Product.pk, Kind.BOOL, "eq", eq=_has_nodes_eq),
    "owner": owner_field(Product.scope_id),
    "created_at": allow(Product.created_at, Kind.DATETIME, "eq gt ge lt le"),
    "updated_at": allow(Product.updated_at, Kind.DATETIME, "eq gt ge lt le"),
}


def owner_filter(scopes: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    return Product.scope_id.in_(scopes)


def get_visible(session: Session, scopes: Sequence[uuid.UUID], product_id: uuid.UUID) -> Product | None:
    found: Product | None = session.scalars(_VISIBLE, {"id": product_id, "scopes": list(scopes)}).first()
    return found


# Built once (a product by id is the commonest PIM read): compiled on first use, then taken from the cache.
_VISIBLE = select(Product).where(
    Product.id == bindparam("id", type_=Product.id.type),
    Product.scope_id.in_(bindparam("scopes", expanding=True, type_=Product.scope_id.type)),
)


def list_visible(
    session: Session,
    scopes: Sequence[uuid.UUID],
    where: ColumnElement[bool] | None,
    limit: int,
    offset: int,
) -> tuple[list[Product], int]:
    query: Select[Product] = select(Product).where(owner_filter(scopes))
    if where is not None:
        query = query.where(where)
        return paginate(session, query, (Product.created_at, Product.id), limit, offset)
    # No filter: the total is the scopes' counts (kept by triggers), not a count of the products;
    # and the page is read scope by scope in index order, each stopping after offset + limit rows, then
    # merged (over two scopes at once, the index gives no order and every product would be sorted).
    distinct = list(dict.fromkeys(scopes))
    values: dict[str, Any] = {"limit": limit, "offset": offset, "reach": offset + limit}
    values.update({f"scope_{n}": scope for n, scope in enumerate(distinct)})
    rows = session.scalars(_newest_page(len(distinct)), values).all()
    total = session.scalar(_COUNTED[session.get_bind().dialect.name], {"scopes": distinct}) or 0
    return list(rows), int(total)


PRODUCT_ORDER = (Product.created_at, Product.id)


def seek_visible(
    session: Session, scopes: Sequence[uuid.UUID], where: ColumnElement[bool] | None, paging: Paging
) -> Page[Product]:
    """A page of products asked for by cursor (SPEC §10.4): per scope the products after the position, read
    from ix_product_scope_created (scope, created_at, id) where the position is, at most a page and one of
    each; then merged (one index range per scope, however deep the page)."""
    keys = sort_keys(PRODUCT_ORDER)
    position = paging.check(paging.after or (), len(keys))
    reach = paging.limit + 1
    arms = []
    for scope in dict.fromkeys(scopes):
        arm = select(Product).where(Product.scope_id == scope)
        if where is not None:
            arm = arm.where(where)
        if position:
            arm = arm.where(seek(keys, position))
        arms.append(arm.order_by(*PRODUCT_ORDER).limit(reach).subquery())
    merged = aliased(Product, union_all(*(select(arm) for arm in arms)).subquery() if len(arms) > 1 else arms[0])
    rows = list(session.scalars(select(merged).order_by(merged.created_at, merged.id).limit(reach)))
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    return Page(rows, 0, paging, (rows[-1].created_at, rows[-1].id) if more else None)


def _newest_page_statement(scope_count: int) -> Select[Product]:
    """The page of products of `scope_count` scopes bound as scope_0…, in (created_at, id) order."""
    order = (Product.created_at, Product.id)
    arms = [
        select(Product)
        .where(Product.scope_id == bindparam(f"scope_{n}"))
        .order_by(*order)
        .limit(bindparam("reach"))
        .subquery()
        for n in range(scope_count)
    ]
    merged = aliased(Product, union_all(*(select(arm) for arm in arms)).subquery() if scope_count > 1 else arms[0])
    return select(merged).order_by(merged.created_at, merged.id).limit(bindparam("limit")).offset(bindparam("offset"))


# Built once: a caller sees one scope (the organization) or two (a store and the organization).
_NEWEST_PAGES = {count: _newest_page_statement(count) for count in (1, 2)}


def _newest_page(scope_count: int) -> Select[Product]:
    built = _NEWEST_PAGES.get(scope_count)
    return _newest_page_statement(scope_count) if built is None else built


# How many products the scopes hold: on SQLite the counts the triggers keep (migration e5b7c3d9f104); on
# PostgreSQL the folded counts plus the deltas not folded yet, in one statement (migration cc89063b9cfe).
_SCOPES = bindparam("scopes", expanding=True, type_=ProductCount.scope_id.type)
_COUNTED = {
    "sqlite": select(func.coalesce(func.sum(ProductCount.products), 0)).where(ProductCount.scope_id.in_(_SCOPES)),
    "postgresql": select(
        func.coalesce(
            func.sum(
                union_all(
                    select(ProductCount.products).where(ProductCount.scope_id.in_(_SCOPES)),
                    select(ProductCountDelta.products).where(ProductCountDelta.scope_id.in_(_SCOPES)),
                )
                .subquery()
                .c.products
            ),
            0,
        )
    ),
}


def find_unique_clashes(
    session: Session,
    scope_id: uuid.UUID,
    *,
    sku: str | None,
    slug: str | None,
    external_ref: str | None,
    exclude_pk: int | None = None,
) -> set[str]:
    """Names of the unique fields (sku, slug, external_ref) another product of the scope already uses."""
    conditions = []
    if sku is not None:
        conditions.append(Product.sku == sku)
    if slug is not None:
        conditions.append(Product.slug == slug)
    if external_ref is not None:
        conditions.append(Product.external_ref_digest == external_ref_digest(external_ref))
    if not conditions:
        return set()
    query = select(Product.sku, Product.slug, Product.external_ref_digest).where(
        Product.scope_id == scope_id, or_(*conditions)
    )
    if exclude_pk is not None:
        query = query.where(Product.pk != exclude_pk)
    clashes: set[str] = set()
    digest = external_ref_digest(external_ref)
    for row_sku, row_slug, row_digest in session.execute(query):
        if sku is not None and row_sku == sku:
            clashes.add("sku")
        if slug is not None and row_slug == slug:
            clashes.add("slug")
        if digest is not None and row_digest == digest:
            clashes.add("external_ref")
    return clashes


def existing_unique_values(session: Session, scope_id: uuid.UUID) -> tuple[set[str], set[str], set[str]]:
    """All skus, slugs and external_ref digests of a scope (for bulk loads)."""
    skus: set[str] = set()
    slugs: set[str] = set()
    digests: set[str] = set()
    query = select(Product.sku, Product.slug, Product.external_ref_digest).where(Product.scope_id == scope_id)
    for sku, slug, digest in session.execute(query):
        if sku is not None:
            skus.add(sku)
        if slug is not None:
            slugs.add(slug)
        if digest is not None:
            digests.add(digest)
    return skus, slugs, digests


def delete_product(session: Session, product: Product) -> None:
    session.execute(delete(Product).where(Product.pk == product.pk))
