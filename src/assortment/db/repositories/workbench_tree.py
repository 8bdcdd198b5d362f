"""Queries the workbench's tree needs beyond the API's: light rows (no full node objects) for a parent's
sibling order and for the whole hierarchy's outline (the `Move` and `Add node` parent choices)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from assortment.db.models import Node
from assortment.db.repositories.hierarchies import CHILD_ORDER


@dataclass(frozen=True, slots=True)
class Sibling:
    id: uuid.UUID
    sort_order: int | None


def ordered_children(session: Session, hierarchy_pk: int, parent_pk: int | None) -> list[Sibling]:
    """All children of one parent (or the top-level nodes) in the API's child order (SPEC §2.4)."""
    query = select(Node.id, Node.sort_order).where(Node.hierarchy_pk == hierarchy_pk)
    query = query.where(Node.parent_pk.is_(None) if parent_pk is None else Node.parent_pk == parent_pk)
    return [Sibling(node_id, sort_order) for node_id, sort_order in session.execute(query.order_by(*CHILD_ORDER))]


@dataclass(frozen=True, slots=True)
class OutlineRow:
    pk: int
    id: uuid.UUID
    name: str
    parent_pk: int | None
    sort_order: int | None
    updated_at: datetime


def outline(session: Session, hierarchy_pk: int) -> list[OutlineRow]:
    """Every node of a hierarchy as a light row (one indexed scan; 10k nodes in a few milliseconds)."""
    query = select(Node.pk, Node.id, Node.name, Node.parent_pk, Node.sort_order, Node.updated_at).where(
        Node.hierarchy_pk == hierarchy_pk
    )
    return [OutlineRow(*row) for row in session.execute(query)]
