"""Queries for the v2 dialect's view of associations (product_relationship rows)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from assortment.db.models import Association, CustomRelationship, Product


def visible_source(scopes: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    source = aliased(Product)
    return Association.source_pk.in_(select(source.pk).where(source.scope_id.in_(scopes)))


def get_association(session: Session, scopes: Sequence[uuid.UUID], pk: int) -> Association | None:
    return session.scalars(select(Association).where(Association.pk == pk, visible_source(scopes))).first()


def find_edge(session: Session, source_pk: int, relationship_pk: int, target_pk: int) -> Association | None:
    query = select(Association).where(
        Association.source_pk == source_pk,
        Association.relationship_pk == relationship_pk,
        Association.target_pk == target_pk,
    )
    return session.scalars(query).first()


def list_associations(
    session: Session,
    scopes: Sequence[uuid.UUID],
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> tuple[list[Association], int]:
    query = select(Association).where(visible_source(scopes), *conditions)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Association.pk).limit(limit).offset(offset)).all()
    return list(rows), total


def associations_of_product(
    session: Session, scopes: Sequence[uuid.UUID], product_pk: int, limit: int
) -> tuple[list[Association], int]:
    """The edges a product is the parent or the child of (whatever their status), by relationship, then pk."""
    query = select(Association).where(
        visible_source(scopes), or_(Association.source_pk == product_pk, Association.target_pk == product_pk)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Association.relationship_pk, Association.pk).limit(limit)).all()
    return list(rows), total


def set_status(session: Session, edge: Association, status: str, now: datetime, *, both_ways: bool) -> None:
    """Change an edge's status; a bi-directional pair changes together so its sides never disagree."""
    this = Association.pk == edge.pk
    reverse = and_(
        Association.source_pk == edge.target_pk,
        Association.relationship_pk == edge.relationship_pk,
        Association.target_pk == edge.source_pk,
    )
    session.execute(
        update(Association).where(or_(this, reverse) if both_ways else this).values(status=status, updated_at=now)
    )


def set_sort_order(session: Session, edge: Association, sort_order: int | None, now: datetime) -> None:
    session.execute(update(Association).where(Association.pk == edge.pk).values(sort_order=sort_order, updated_at=now))


def product_by_pk(session: Session, scopes: Sequence[uuid.UUID], pk: int) -> Product | None:
    return session.scalars(select(Product).where(Product.pk == pk, Product.scope_id.in_(scopes))).first()


def product_by_sku(session: Session, scopes: Sequence[uuid.UUID], sku: str) -> Product | None:
    """The caller's own product wins over an organization one with the same sku."""
    rows = session.scalars(select(Product).where(Product.sku == sku, Product.scope_id.in_(scopes))).all()
    own = [p for p in rows if p.scope_id == scopes[0]]
    candidates = own or list(rows)
    return candidates[0] if candidates else None


def definition_by_pk(session: Session, scopes: Sequence[uuid.UUID], pk: int) -> CustomRelationship | None:
    query = select(CustomRelationship).where(CustomRelationship.pk == pk, CustomRelationship.scope_id.in_(scopes))
    return session.scalars(query).first()


def definitions_page(
    session: Session, scopes: Sequence[uuid.UUID], limit: int, offset: int
) -> tuple[list[CustomRelationship], int]:
    query = select(CustomRelationship).where(CustomRelationship.scope_id.in_(scopes))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(CustomRelationship.pk).limit(limit).offset(offset)).all()
    return list(rows), total


def products_by_pk(session: Session, pks: Sequence[int]) -> dict[int, Product]:
    if not pks:
        return {}
    return {p.pk: p for p in session.scalars(select(Product).where(Product.pk.in_(list(set(pks)))))}


def definitions_by_pk(session: Session, pks: Sequence[int]) -> dict[int, CustomRelationship]:
    if not pks:
        return {}
    query = select(CustomRelationship).where(CustomRelationship.pk.in_(list(set(pks))))
    return {d.pk: d for d in session.scalars(query)}
