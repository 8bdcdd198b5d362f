"""Fixed statements for the hottest node read, a page of a node's children (issue 17).

The ORM path (`hierarchies.list_children` + `describe`) builds its statements on every request, loads ORM
objects and reads the ancestry of each child; a page of 25 children of one parent took ≈ 4.5 ms of CPU. Here
the statements are built once (their compiled forms cached), the rows are plain records, and the ancestry is
read once, for the parent: every child's breadcrumbs are the parent's plus itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Integer, Uuid, bindparam, func, literal, select

from assortment.db.models import ORGANIZATION_SCOPE, Hierarchy, Node
from assortment.db.prepared import Prepared
from assortment.db.repositories.hierarchies import MAX_ANCESTRY_DEPTH, Crumb

_node = Node.__table__
_hierarchy = Hierarchy.__table__


@dataclass(frozen=True, slots=True)
class HierarchyRecord:
    """What a node's rendering shows of its hierarchy."""

    pk: int
    id: uuid.UUID
    name: str
    slug: str | None
    locales: dict[str, Any] | None


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times more, per row
class NodeRecord:
    """A node row as its rendering reads it: the attributes of `Node` of the same names, except that `id`
    and the timestamps are already text in the API's form, and `owner` is decided."""

    pk: int
    id: str
    owner: str
    name: str
    description: str | None
    slug: str | None
    locales: dict[str, Any] | None
    admin_attributes: dict[str, str] | None
    shopper_attributes: dict[str, str] | None
    curated_products: list[str] | None
    sort_order: int | None
    created_at: str
    updated_at: str


_NODE_COLUMNS = [
    (_node.c.scope_id == ORGANIZATION_SCOPE).label("of_organization") if name == "owner" else _node.c[name]
    for name in NodeRecord.__slots__
]


def _record(row: list[Any]) -> NodeRecord:
    row[2] = "organization" if row[2] else "store"
    return NodeRecord(*row)


# The hierarchy (among the caller's scopes: one or two, bound as `scope_a`, `scope_b`) and, when `node`
# names one of its nodes, that node's pk.
_HIERARCHY_AND_NODE = Prepared(
    select(_hierarchy.c.pk, _hierarchy.c.id, _hierarchy.c.name, _hierarchy.c.slug, _hierarchy.c.locales, _node.c.pk)
    .select_from(
        _hierarchy.outerjoin(
            _node, (_node.c.hierarchy_pk == _hierarchy.c.pk) & (_node.c.id == bindparam("node", type_=_node.c.id.type))
        )
    )
    .where(
        _hierarchy.c.id == bindparam("hierarchy"),
        _hierarchy.c.scope_id.in_([bindparam("scope_a", type_=Uuid()), bindparam("scope_b", type_=Uuid())]),
    )
)

# §2.4's child order (the index `ix_node_child_order`), the same as `hierarchies.CHILD_ORDER`.
_CHILD_ORDER = (_node.c.sort_order.desc().nulls_last(), _node.c.updated_at.desc(), _node.c.id)
_CHILDREN_OF = (_node.c.hierarchy_pk == bindparam("hierarchy_pk")) & (_node.c.parent_pk == bindparam("parent_pk"))
_CHILDREN_PAGE = Prepared(
    select(*_NODE_COLUMNS)
    .where(_CHILDREN_OF)
    .order_by(*_CHILD_ORDER)
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer)),
    as_text=("id", "created_at", "updated_at"),
)
_CHILDREN_COUNT = Prepared(select(func.count()).select_from(_node).where(_CHILDREN_OF))


def _chain_statement() -> Prepared:
    """The crumbs of one node and its ancestors, the top-level one first: one primary-key probe per level."""
    chain = (
        select(_node.c.pk, _node.c.parent_pk.label("parent"), literal(0).label("depth"))
        .where(_node.c.pk == bindparam("pk"))
        .cte("chain", recursive=True)
    )
    up = _node.alias("up")
    chain = chain.union_all(
        select(
            chain.c.parent,
            select(up.c.parent_pk).where(up.c.pk == chain.c.parent).scalar_subquery(),
            chain.c.depth + 1,
        ).where(chain.c.parent.is_not(None), chain.c.depth < MAX_ANCESTRY_DEPTH)
    )
    return Prepared(
        select(_node.c.pk, _node.c.id, _node.c.name, _node.c.slug, _node.c.locales)
        .select_from(chain.join(_node, _node.c.pk == chain.c.pk))
        .order_by(chain.c.depth.desc())
    )


_CHAIN = _chain_statement()


def hierarchy_and_node(
    connection: Connection, scopes: Sequence[uuid.UUID], hierarchy_id: uuid.UUID, node_id: uuid.UUID
) -> tuple[HierarchyRecord | None, int | None]:
    """The hierarchy visible to `scopes` (one or two), and the pk of its node `node_id` (None when it has no
    such node)."""
    rows = _HIERARCHY_AND_NODE.rows(
        connection, {"hierarchy": hierarchy_id, "node": node_id, "scope_a": scopes[0], "scope_b": scopes[-1]}
    )
    if not rows:
        return None, None
    pk, hierarchy, name, slug, locales, node_pk = rows[0]
    return HierarchyRecord(pk, hierarchy, name, slug, locales), node_pk


def chain(connection: Connection, node_pk: int) -> list[Crumb]:
    """The crumbs from the node's top-level ancestor down to the node itself."""
    return [Crumb(*row) for row in _CHAIN.rows(connection, {"pk": node_pk})]


def children_page(
    connection: Connection, hierarchy_pk: int, parent_pk: int, limit: int, offset: int
) -> tuple[list[NodeRecord], int]:
    """A page of a node's children in §2.4 order, and how many children it has."""
    where = {"hierarchy_pk": hierarchy_pk, "parent_pk": parent_pk}
    total: int = _CHILDREN_COUNT.rows(connection, where)[0][0]
    rows = _CHILDREN_PAGE.rows(connection, {**where, "limit": limit, "offset": offset})
    return [_record(row) for row in rows], total
