"""Queries the workbench's tree needs beyond the API's: light rows (no full node objects) for a parent's
sibling order and for the whole hierarchy's outline (the `Move` and `Add node` parent choices)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import String, cast, select
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
    parent_pk: int | None
    name: str
    id: str  # canonical text, not a UUID object: building 10k of those is most of the cost of a read


def outline(session: Session, hierarchy_pk: int) -> list[OutlineRow]:
    """Every node of a hierarchy as a light row, each parent's children in the API's child order (one
    query; no per-row UUID or timestamp objects, so 10k nodes take a few tens of milliseconds)."""
    query = (
        select(Node.pk, Node.parent_pk, Node.name, cast(Node.id, String))
        .where(Node.hierarchy_pk == hierarchy_pk)
        .order_by(*CHILD_ORDER)
    )
    return [OutlineRow(pk, parent_pk, name, _canonical(text)) for pk, parent_pk, name, text in session.execute(query)]


def _canonical(text: str) -> str:
    """A UUID's text as stored (32 hex digits on SQLite, dashed on PostgreSQL) in the canonical spelling."""
    digits = text.replace("-", "").lower()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
