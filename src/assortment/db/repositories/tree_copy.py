"""Copying a hierarchy's tree (and optionally its product links) in a few set-based statements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from assortment.db.models import Hierarchy, Node, NodeProduct

COPIED_COLUMNS = (
    "name",
    "description",
    "slug",
    "locales",
    "admin_attributes",
    "shopper_attributes",
    "sort_order",
)


def copy_tree(session: Session, source: Hierarchy, target: Hierarchy, *, include_products: bool, now: datetime) -> int:
    """Copy every node of `source` under `target`, level by level; returns the number of nodes copied."""
    columns = [getattr(Node, c) for c in COPIED_COLUMNS]
    rows = session.execute(
        select(Node.pk, Node.parent_pk, Node.curated_products, *columns).where(Node.hierarchy_pk == source.pk)
    ).all()
    children: dict[int | None, list[Any]] = {}
    for row in rows:
        children.setdefault(row.parent_pk, []).append(row)
    new_pk: dict[int, int] = {}
    level: list[Any] = children.get(None, [])
    while level:
        new_ids: dict[uuid.UUID, int] = {}
        values = []
        for row in level:
            node_id = uuid.uuid4()
            new_ids[node_id] = row.pk
            values.append(
                {
                    "id": node_id,
                    "hierarchy_pk": target.pk,
                    "parent_pk": None if row.parent_pk is None else new_pk[row.parent_pk],
                    "scope_id": target.scope_id,
                    "curated_products": row.curated_products if include_products else None,
                    "created_at": now,
                    "updated_at": now,
                    **{c: getattr(row, c) for c in COPIED_COLUMNS},
                }
            )
        session.execute(insert(Node), values)
        for pk, node_id in session.execute(select(Node.pk, Node.id).where(Node.id.in_(list(new_ids)))):
            new_pk[new_ids[node_id]] = pk
        level = [child for row in level for child in children.get(row.pk, [])]
    if include_products and new_pk:
        links = session.execute(
            select(NodeProduct.node_pk, NodeProduct.product_pk, NodeProduct.linked_at)
            .join(Node, Node.pk == NodeProduct.node_pk)
            .where(Node.hierarchy_pk == source.pk)
        ).all()
        if links:
            session.execute(
                insert(NodeProduct),
                [{"node_pk": new_pk[n], "product_pk": p, "linked_at": at} for n, p, at in links],
            )
    return len(new_pk)
