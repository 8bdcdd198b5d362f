"""Queries on custom relationship definitions, their attachment to products, and associations."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assortment.db.filters import FilterField, Kind, allow, owner_field
from assortment.db.models import (
    ORGANIZATION_SCOPE,
    Association,
    CustomRelationship,
    Product,
    ProductRelationshipSlot,
)
from assortment.db.repositories.common import insert_rows as bulk_insert
from assortment.db.repositories.common import keyset_page, pks_in
from assortment.domain.paging import Page, Paging

# Core inserts on the tables: the ORM's bulk path spends more per row than the database does here.
ASSOCIATION_TABLE: Table = Association.__table__  # type: ignore[assignment]
SLOT_TABLE: Table = ProductRelationshipSlot.__table__  # type: ignore[assignment]


DEFINITION_FILTERS: dict[str, FilterField] = {
    "owner": owner_field(CustomRelationship.scope_id),
    "slug": allow(CustomRelationship.slug, Kind.STRING, "eq in"),
}

# Related products: lower sort_order first, unsorted ones after, then in the order they were associated.
ASSOCIATION_ORDER = (
    case((Association.sort_order.is_(None), 1), else_=0),
    Association.sort_order,
    Association.pk,
)


# --- definitions ---


def get_definition(session: Session, scopes: Sequence[uuid.UUID], slug: str) -> CustomRelationship | None:
    """The caller's own definition wins over an organization one with the same slug."""
    query = (
        select(CustomRelationship)
        .where(CustomRelationship.slug == slug, CustomRelationship.scope_id.in_(scopes))
        .order_by(case((CustomRelationship.scope_id == ORGANIZATION_SCOPE, 1), else_=0))
    )
    return session.scalars(query).first()


def definitions_by_slugs(
    session: Session, scopes: Sequence[uuid.UUID], slugs: Collection[str]
) -> dict[str, CustomRelationship]:
    if not slugs:
        return {}
    query = (
        select(CustomRelationship)
        .where(CustomRelationship.slug.in_(list(slugs)), CustomRelationship.scope_id.in_(scopes))
        .order_by(case((CustomRelationship.scope_id == ORGANIZATION_SCOPE, 0), else_=1))
    )
    return {d.slug: d for d in session.scalars(query)}  # later (own) rows replace organization ones


def slug_taken(session: Session, scope_id: uuid.UUID, slug: str) -> bool:
    query = select(CustomRelationship.pk).where(
        CustomRelationship.scope_id == scope_id, CustomRelationship.slug == slug
    )
    return session.scalar(query) is not None


def list_definitions(
    session: Session, scopes: Sequence[uuid.UUID], where: ColumnElement[bool] | None, paging: Paging
) -> Page[CustomRelationship]:
    query: Select[CustomRelationship] = select(CustomRelationship).where(CustomRelationship.scope_id.in_(scopes))
    if where is not None:
        query = query.where(where)
    return keyset_page(session, query, (CustomRelationship.created_at, CustomRelationship.id), paging)


def is_attached_anywhere(session: Session, relationship_pk: int) -> bool:
    return bool(session.scalar(select(exists().where(ProductRelationshipSlot.relationship_pk == relationship_pk))))


def has_associations(session: Session, relationship_pk: int) -> bool:
    return bool(session.scalar(select(exists().where(Association.relationship_pk == relationship_pk))))


def delete_definition(session: Session, definition: CustomRelationship) -> None:
    session.execute(delete(CustomRelationship).where(CustomRelationship.pk == definition.pk))


# --- attachment ---


def _bound_lock_waits(session: Session) -> None:
    session.execute(text("SET LOCAL lock_timeout = '10s'"))


def lock_products(session: Session, product_pks: Collection[int]) -> set[int]:
    """Lock the rows of every product whose relationships a request changes, always in pk order so that
    two requests locking overlapping sets cannot deadlock; returns the pks of those that still exist (one
    deleted by a request that committed meanwhile is missing). SQLite: writers are already serialised, so
    nothing can vanish during the request."""
    if not product_pks:
        return set()
    if session.get_bind().dialect.name != "postgresql":
        return set(product_pks)
    _bound_lock_waits(session)
    query = select(Product.pk).where(pks_in(Product.pk, sorted(product_pks))).order_by(Product.pk).with_for_update()
    return {pk for (pk,) in session.execute(query)}


def lock_definitions(
    session: Session, relationship_pks: Collection[int], *, exclusive: bool
) -> dict[int, CustomRelationship]:
    """Lock definitions and reload them: shared by requests that attach or associate under them, exclusive
    by their update and delete, so that `bi_directional` and "in use" cannot change under a writer. A
    definition deleted meanwhile is missing from the result. (SQLite ignores FOR UPDATE / FOR SHARE.)"""
    if not relationship_pks:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        _bound_lock_waits(session)
    query = (
        select(CustomRelationship)
        .where(CustomRelationship.pk.in_(sorted(relationship_pks)))
        .order_by(CustomRelationship.pk)
        .with_for_update(read=not exclusive)
        .execution_options(populate_existing=True)
    )
    return {d.pk: d for d in session.scalars(query)}


def attached_definitions(session: Session, product_pk: int) -> list[CustomRelationship]:
    query = (
        select(CustomRelationship)
        .join(ProductRelationshipSlot, ProductRelationshipSlot.relationship_pk == CustomRelationship.pk)
        .where(ProductRelationshipSlot.product_pk == product_pk)
        .order_by(ProductRelationshipSlot.attached_at, CustomRelationship.slug)
    )
    return list(session.scalars(query))


def attached_page(
    session: Session, scopes: Sequence[uuid.UUID], product_pk: int, paging: Paging
) -> Page[CustomRelationship]:
    """The definitions attached to a product that the caller may see (a store's definition can sit on an
    organization product it targets; other stores must not see it)."""
    query: Select[CustomRelationship] = (
        select(CustomRelationship)
        .join(ProductRelationshipSlot, ProductRelationshipSlot.relationship_pk == CustomRelationship.pk)
        .where(ProductRelationshipSlot.product_pk == product_pk, CustomRelationship.scope_id.in_(scopes))
    )
    # The id last: a store's and the organization's definitions may share a slug.
    order = (ProductRelationshipSlot.attached_at, CustomRelationship.slug, CustomRelationship.id)
    return keyset_page(session, query, order, paging)


def slugs_of_products(session: Session, product_pks: Collection[int]) -> dict[int, list[str]]:
    """The slugs attached to each product, in attachment order (for rendering product objects)."""
    if not product_pks:
        return {}
    pks = list(product_pks)
    if len(pks) <= PAGE_OF_PKS:  # a page of products: the statement built once, its compiled form cached
        rows = session.execute(_SLUGS_OF_A_PAGE, {"pks": pks})
    else:
        rows = session.execute(_slugs_query(pks_in(ProductRelationshipSlot.product_pk, pks)))
    result: dict[int, list[str]] = {}
    for pk, slug in rows:
        result.setdefault(pk, []).append(slug)
    return result


# Up to a page of products (100) the pks go as one expanding parameter; beyond, written into the statement.
PAGE_OF_PKS = 100


def _slugs_query(condition: ColumnElement[bool]) -> Select[int, str]:
    return (
        select(ProductRelationshipSlot.product_pk, CustomRelationship.slug)
        .join(CustomRelationship, CustomRelationship.pk == ProductRelationshipSlot.relationship_pk)
        .where(condition)
        .order_by(ProductRelationshipSlot.attached_at, CustomRelationship.slug)
    )


_SLUGS_OF_A_PAGE = _slugs_query(ProductRelationshipSlot.product_pk.in_(bindparam("pks", expanding=True)))


def slot_facts(session: Session, product_pks: Collection[int], relationship_pk: int) -> dict[int, tuple[bool, int]]:
    """For each product: (is the relationship attached, how many relationships are attached)."""
    if not product_pks:
        return {}
    has = func.max(case((ProductRelationshipSlot.relationship_pk == relationship_pk, 1), else_=0))
    query = (
        select(ProductRelationshipSlot.product_pk, has, func.count())
        .where(pks_in(ProductRelationshipSlot.product_pk, list(product_pks)))
        .group_by(ProductRelationshipSlot.product_pk)
    )
    return {pk: (bool(flag), count) for pk, flag, count in session.execute(query)}


def attach(session: Session, product_pks: Collection[int], relationship_pk: int, now: datetime) -> None:
    insert_rows(
        session,
        SLOT_TABLE,
        [{"product_pk": pk, "relationship_pk": relationship_pk, "attached_at": now} for pk in product_pks],
    )


def detach(session: Session, product_pk: int, relationship_pks: Collection[int]) -> None:
    if relationship_pks:
        session.execute(
            delete(ProductRelationshipSlot).where(
                ProductRelationshipSlot.product_pk == product_pk,
                ProductRelationshipSlot.relationship_pk.in_(list(relationship_pks)),
            )
        )


# --- associations ---


def count_associations(session: Session, source_pk: int, relationship_pk: int) -> int:
    query = select(func.count()).where(
        Association.source_pk == source_pk, Association.relationship_pk == relationship_pk
    )
    return session.scalar(query) or 0


def association_counts(session: Session, source_pks: Collection[int], relationship_pk: int) -> dict[int, int]:
    if not source_pks:
        return {}
    query = (
        select(Association.source_pk, func.count())
        .where(pks_in(Association.source_pk, list(source_pks)), Association.relationship_pk == relationship_pk)
        .group_by(Association.source_pk)
    )
    return {pk: count for pk, count in session.execute(query)}


def existing_targets(session: Session, source_pk: int, relationship_pk: int, target_pks: Collection[int]) -> set[int]:
    if not target_pks:
        return set()
    query = select(Association.target_pk).where(
        Association.source_pk == source_pk,
        Association.relationship_pk == relationship_pk,
        pks_in(Association.target_pk, list(target_pks)),
    )
    return {pk for (pk,) in session.execute(query)}


def existing_sources(session: Session, target_pk: int, relationship_pk: int, source_pks: Collection[int]) -> set[int]:
    """Products among `source_pks` that already point at `target_pk` under the relationship."""
    if not source_pks:
        return set()
    query = select(Association.source_pk).where(
        Association.target_pk == target_pk,
        Association.relationship_pk == relationship_pk,
        pks_in(Association.source_pk, list(source_pks)),
    )
    return {pk for (pk,) in session.execute(query)}


def insert_edges(session: Session, edges: Sequence[dict[str, Any]]) -> None:
    insert_rows(session, ASSOCIATION_TABLE, edges)


COPY_FROM = 200  # rows from which COPY beats a pipelined executemany on PostgreSQL


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY on PostgreSQL for many rows, else a Core executemany (the ORM's bulk path spends more per row
    than the database does here). A duplicate is an IntegrityError either way."""
    if not rows:
        return
    if len(rows) >= COPY_FROM and session.get_bind().dialect.name == "postgresql":
        try:
            bulk_insert(session, table, list(rows))
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(f"COPY {table.name}", None, exc) from exc
        return
    session.execute(insert(table), list(rows))


def set_sort_orders(
    session: Session, source_pk: int, relationship_pk: int, sort_orders: dict[int, int | None], now: datetime
) -> None:
    """Update the sort order of existing edges (grouped by value: one statement per distinct value)."""
    by_value: dict[int | None, list[int]] = {}
    for target_pk, value in sort_orders.items():
        by_value.setdefault(value, []).append(target_pk)
    for value, targets in by_value.items():
        session.execute(
            update(Association)
            .where(
                Association.source_pk == source_pk,
                Association.relationship_pk == relationship_pk,
                pks_in(Association.target_pk, targets),
            )
            .values(sort_order=value, updated_at=now)
        )


def delete_edges(
    session: Session,
    source_pk: int,
    relationship_pks: Collection[int],
    target_pks: Collection[int] | None,
    *,
    both_ways: bool,
) -> None:
    """Remove source → targets under the relationships (all targets when `target_pks` is None), and the
    reverse edges too when `both_ways`."""
    if not relationship_pks:
        return
    forward = and_(Association.source_pk == source_pk, Association.relationship_pk.in_(list(relationship_pks)))
    backward = and_(Association.target_pk == source_pk, Association.relationship_pk.in_(list(relationship_pks)))
    if target_pks is not None:
        forward = and_(forward, pks_in(Association.target_pk, list(target_pks)))
        backward = and_(backward, pks_in(Association.source_pk, list(target_pks)))
    session.execute(delete(Association).where(or_(forward, backward) if both_ways else forward))


def related_page(
    session: Session, source_pk: int, relationship_pk: int, paging: Paging
) -> Page[tuple[Association, Product]]:
    """Active associations of a source under a relationship, with their target products, in order."""
    base = (
        select(Association, Product)
        .join(Product, Product.pk == Association.target_pk)
        .where(
            Association.source_pk == source_pk,
            Association.relationship_pk == relationship_pk,
            Association.status == "active",
        )
    )
    return keyset_page(session, base, ASSOCIATION_ORDER, paging, scalars=False)
