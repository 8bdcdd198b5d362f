"""Queries on hierarchies, nodes and node-product links."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from assortment.db.filters import FieldPattern, FilterField, Kind, allow, column_condition, json_text, owner_field
from assortment.db.models import Hierarchy, Node, NodeProduct, Product
from assortment.db.repositories.common import keyset_page
from assortment.domain.filters import FILTER_PARSE_ERROR, Condition
from assortment.domain.paging import Page, Paging
from assortment.errors import BadRequest


def _node_ref_eq(column: Any) -> Any:
    """`parent_id`: a node id (its children) or a hierarchy id (its top-level nodes)."""

    def predicate(value: uuid.UUID) -> ColumnElement[bool]:
        parent = aliased(Node)
        by_node: ColumnElement[bool] = column.in_(select(parent.pk).where(parent.id == value).scalar_subquery())
        top_level = and_(
            Node.parent_pk.is_(None),
            Node.hierarchy_pk.in_(select(Hierarchy.pk).where(Hierarchy.id == value).scalar_subquery()),
        )
        return by_node | top_level

    return predicate


def _hierarchy_id_eq(value: uuid.UUID) -> ColumnElement[bool]:
    return Node.hierarchy_pk.in_(select(Hierarchy.pk).where(Hierarchy.id == value).scalar_subquery())


def _has_children_eq(value: bool) -> ColumnElement[bool]:
    child = aliased(Node)
    has = exists().where(child.parent_pk == Node.pk)
    return has if value else ~has


LOCALE_CODE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
LOCALE_FIELDS = ("name", "description")


def _locale_text(column: Any, parts: list[str], field: str) -> Any:
    """`locales.<code>.<field>`: the localized text; codes look like language tags, nothing else."""
    (code,) = parts
    if not LOCALE_CODE.match(code) or field not in LOCALE_FIELDS:
        raise BadRequest(FILTER_PARSE_ERROR)
    return json_text(column, literal(code), literal(field))


def _locale_filter(entity: Any, field: str) -> FieldPattern:
    return lambda parts: allow(_locale_text(entity.locales, parts, field), Kind.STRING, "eq like ilike")


def _crumb_filter(
    kind: str, ops: str, node_column: Callable[[Any], Any], hierarchy_column: Callable[[Any], Any]
) -> FilterField:
    """`breadcrumbs.…` on nodes: a node matches when the condition holds for its hierarchy, for one of
    its ancestors or for itself (its breadcrumbs, hierarchy first)."""
    crumb = aliased(Node)

    def around(on_crumb: ColumnElement[bool], cond: Condition) -> ColumnElement[bool]:
        on_hierarchy = column_condition(cond, allow(hierarchy_column(Hierarchy), kind, ops))
        below = select(crumb.pk.label("pk")).where(on_crumb).cte(recursive=True)
        child = aliased(Node)
        below = below.union_all(select(child.pk).join(below, child.parent_pk == below.c.pk))
        in_subtree: ColumnElement[bool] = Node.pk.in_(select(below.c.pk))
        in_hierarchy: ColumnElement[bool] = Node.hierarchy_pk.in_(select(Hierarchy.pk).where(on_hierarchy))
        return or_(in_subtree, in_hierarchy)

    return allow(node_column(crumb), kind, ops, around=around)


def _crumb_locale_filter(field: str) -> FieldPattern:
    def make(parts: list[str]) -> FilterField:
        _locale_text(Node.locales, parts, field)  # checks the code and the field
        return _crumb_filter(
            Kind.STRING,
            "eq like ilike",
            lambda entity: _locale_text(entity.locales, parts, field),
            lambda entity: _locale_text(entity.locales, parts, field),
        )

    return make


HIERARCHY_FILTERS: dict[str, Any] = {
    "id": allow(Hierarchy.id, Kind.UUID, "eq in gt ge lt le"),
    "owner": owner_field(Hierarchy.scope_id),
    "name": allow(Hierarchy.name, Kind.STRING, "eq like ilike in"),
    "slug": allow(Hierarchy.slug, Kind.STRING, "eq like ilike in is_null"),
    "description": allow(Hierarchy.description, Kind.STRING, "eq like ilike is_null"),
    "created_at": allow(Hierarchy.created_at, Kind.DATETIME, "eq gt ge lt le"),
    "updated_at": allow(Hierarchy.updated_at, Kind.DATETIME, "eq gt ge lt le"),
    # A hierarchy's breadcrumbs are the hierarchy itself.
    "breadcrumbs.id": allow(Hierarchy.id, Kind.UUID, "eq in"),
    "breadcrumbs.name": allow(Hierarchy.name, Kind.STRING, "eq like ilike"),
    "breadcrumbs.slug": allow(Hierarchy.slug, Kind.STRING, "eq like ilike"),
    **{f"locales.*.{field}": _locale_filter(Hierarchy, field) for field in LOCALE_FIELDS},
    **{f"breadcrumbs.locales.*.{field}": _locale_filter(Hierarchy, field) for field in LOCALE_FIELDS},
}

NODE_FILTERS: dict[str, Any] = {
    "id": allow(Node.id, Kind.UUID, "eq in gt ge lt le"),
    "hierarchy_id": allow(Node.hierarchy_pk, Kind.UUID, "eq in", eq=_hierarchy_id_eq),
    "parent_id": allow(Node.parent_pk, Kind.UUID, "eq in", eq=_node_ref_eq(Node.parent_pk)),
    "owner": owner_field(Node.scope_id),
    "name": allow(Node.name, Kind.STRING, "eq like ilike in"),
    "slug": allow(Node.slug, Kind.STRING, "eq like ilike in is_null"),
    "description": allow(Node.description, Kind.STRING, "eq like ilike is_null"),
    "has_children": allow(Node.pk, Kind.BOOL, "eq", eq=_has_children_eq),
    "created_at": allow(Node.created_at, Kind.DATETIME, "eq gt ge lt le"),
    "updated_at": allow(Node.updated_at, Kind.DATETIME, "eq gt ge lt le"),
    "breadcrumbs.id": _crumb_filter(Kind.UUID, "eq in", lambda e: e.id, lambda e: e.id),
    "breadcrumbs.name": _crumb_filter(Kind.STRING, "eq like ilike", lambda e: e.name, lambda e: e.name),
    "breadcrumbs.slug": _crumb_filter(Kind.STRING, "eq like ilike", lambda e: e.slug, lambda e: e.slug),
    **{f"locales.*.{field}": _locale_filter(Node, field) for field in LOCALE_FIELDS},
    **{f"breadcrumbs.locales.*.{field}": _crumb_locale_filter(field) for field in LOCALE_FIELDS},
}

# Child order (SPEC §2.4): nodes with a sort_order first, highest first; then the rest, most recently
# updated first; ties by updated_at (newest first), then id.
# §2.4: highest sort order first, nodes without one last; then the most recently updated; then the id. Written
# as ix_node_child_order (migration e5b7c3d9f104) is, so a page of siblings is read from it in order.
CHILD_ORDER = (
    Node.sort_order.desc().nulls_last(),
    Node.updated_at.desc(),
    Node.id,
)


# --- hierarchies ------------------------------------------------------------------------------------


def get_hierarchy(
    session: Session, scopes: Sequence[uuid.UUID], hierarchy_id: uuid.UUID, *, for_update: bool = False
) -> Hierarchy | None:
    query = select(Hierarchy).where(Hierarchy.id == hierarchy_id, Hierarchy.scope_id.in_(scopes))
    if for_update:
        # Every structural change of one hierarchy takes this lock first, so checks such as "no cycle"
        # and "unique among siblings" are never made against a tree another transaction is changing.
        query = query.with_for_update()
    return session.scalars(query).first()


def hierarchy_by_pk(session: Session, pk: int) -> Hierarchy:
    hierarchy = session.get(Hierarchy, pk)
    assert hierarchy is not None
    return hierarchy


def list_hierarchies(
    session: Session, scopes: Sequence[uuid.UUID], where: ColumnElement[bool] | None, paging: Paging
) -> Page[Hierarchy]:
    query: Select[Hierarchy] = select(Hierarchy).where(Hierarchy.scope_id.in_(scopes))
    if where is not None:
        query = query.where(where)
    return keyset_page(session, query, (Hierarchy.created_at, Hierarchy.id), paging)


def hierarchies_by_pk(session: Session, pks: Iterable[int]) -> dict[int, Hierarchy]:
    wanted = set(pks)
    if not wanted:
        return {}
    return {h.pk: h for h in session.scalars(select(Hierarchy).where(Hierarchy.pk.in_(wanted)))}


# --- nodes ------------------------------------------------------------------------------------------


def get_node(session: Session, hierarchy_pk: int, node_id: uuid.UUID) -> Node | None:
    return session.scalars(select(Node).where(Node.id == node_id, Node.hierarchy_pk == hierarchy_pk)).first()


def nodes_by_ids(session: Session, node_ids: Collection[uuid.UUID]) -> list[Node]:
    if not node_ids:
        return []
    return list(session.scalars(select(Node).where(Node.id.in_(list(node_ids)))))


def visible_nodes_by_ids(session: Session, scopes: Sequence[uuid.UUID], node_ids: Collection[uuid.UUID]) -> list[Node]:
    if not node_ids:
        return []
    return list(session.scalars(select(Node).where(Node.id.in_(list(node_ids)), Node.scope_id.in_(scopes))))


def nodes_by_pk(session: Session, pks: Iterable[int]) -> dict[int, Node]:
    wanted = set(pks)
    if not wanted:
        return {}
    return {n.pk: n for n in session.scalars(select(Node).where(Node.pk.in_(wanted)))}


def list_nodes(
    session: Session,
    scopes: Sequence[uuid.UUID],
    where: ColumnElement[bool] | None,
    paging: Paging,
    *,
    hierarchy_pk: int | None = None,
) -> Page[Node]:
    query: Select[Node] = select(Node).where(Node.scope_id.in_(scopes))
    if hierarchy_pk is not None:
        query = query.where(Node.hierarchy_pk == hierarchy_pk)
    if where is not None:
        query = query.where(where)
    return keyset_page(session, query, (Node.created_at, Node.id), paging)


def list_children(
    session: Session,
    hierarchy_pk: int,
    parent_pk: int | None,
    where: ColumnElement[bool] | None,
    paging: Paging,
) -> Page[Node]:
    query: Select[Node] = select(Node).where(Node.hierarchy_pk == hierarchy_pk)
    query = query.where(Node.parent_pk.is_(None) if parent_pk is None else Node.parent_pk == parent_pk)
    if where is not None:
        query = query.where(where)
    return keyset_page(session, query, CHILD_ORDER, paging)


def sibling_names_and_slugs(
    session: Session, hierarchy_pk: int, parent_pk: int | None, exclude_pks: Collection[int] = ()
) -> list[tuple[int, str, str | None]]:
    query = select(Node.pk, Node.name, Node.slug).where(Node.hierarchy_pk == hierarchy_pk)
    query = query.where(Node.parent_pk.is_(None) if parent_pk is None else Node.parent_pk == parent_pk)
    if exclude_pks:
        query = query.where(Node.pk.not_in(list(exclude_pks)))
    return [(pk, name, slug) for pk, name, slug in session.execute(query)]


def ancestor_pks(session: Session, node_pk: int) -> list[int]:
    """The node itself, then its parent, grandparent… up to the top-level node."""
    chain = select(Node.pk, Node.parent_pk).where(Node.pk == node_pk).cte("chain", recursive=True)
    parent = aliased(Node)
    chain = chain.union_all(select(parent.pk, parent.parent_pk).join(chain, parent.pk == chain.c.parent_pk))
    return [pk for (pk,) in session.execute(select(chain.c.pk))]


@dataclass(frozen=True, slots=True)
class Crumb:
    pk: int
    id: uuid.UUID | str  # str: already in its canonical text form (node_reads)
    name: str
    slug: str | None
    locales: dict[str, Any] | None


# A bound on the walk up: the tree rules keep trees acyclic, but should a cycle ever be written, a
# request stops after this many steps instead of growing the result until memory runs out.
MAX_ANCESTRY_DEPTH = 10_000


def ancestry(session: Session, node_pks: Collection[int]) -> dict[int, list[Crumb]]:
    """For each node: the chain from its top-level ancestor down to the node itself.

    The walk up takes one primary-key probe per ancestor (a correlated subquery, not a join), then the
    crumbs are read by primary key: the cost follows the nodes and their depth, never the size of the
    node table. (Joined to `node`, the recursive query was planned by PostgreSQL as hash joins over
    full scans of the table for a page of 100 nodes: ~15 ms per page at 100k nodes.)
    """
    if not node_pks:
        return {}
    links = session.execute(_ANCESTRY, {"pks": list(node_pks)}).all()
    crumbs = {
        pk: Crumb(pk, node_id, name, slug, locales)
        for pk, node_id, name, slug, locales in session.execute(_CRUMBS, {"pks": list({pk for _, pk, _ in links})})
    }
    result: dict[int, list[Crumb]] = {pk: [] for pk in node_pks}
    for start, pk, _depth in sorted(links, key=lambda link: (link[0], -link[2])):
        if pk in crumbs:  # else deleted between the two reads (with its subtree): nothing to show
            result[start].append(crumbs[pk])
    return result


def _ancestry_statement() -> Select[Any]:
    """(start, ancestor pk, depth) for the nodes bound as `pks`: built once, its compiled form cached."""
    chain = (
        select(
            Node.pk.label("start"),
            Node.pk.label("pk"),
            Node.parent_pk.label("parent"),
            literal(0).label("depth"),
        )
        .where(Node.pk.in_(bindparam("pks", expanding=True)))
        .cte("ancestry", recursive=True)
    )
    up = aliased(Node)
    chain = chain.union_all(
        select(
            chain.c.start,
            chain.c.parent,
            select(up.parent_pk).where(up.pk == chain.c.parent).scalar_subquery(),
            chain.c.depth + 1,
        ).where(chain.c.parent.is_not(None), chain.c.depth < MAX_ANCESTRY_DEPTH)
    )
    return select(chain.c.start, chain.c.pk, chain.c.depth)


_ANCESTRY = _ancestry_statement()
_CRUMBS = select(Node.pk, Node.id, Node.name, Node.slug, Node.locales).where(
    Node.pk.in_(bindparam("pks", expanding=True))
)


def set_parent(session: Session, node_pks: Collection[int], parent_pk: int | None, now: datetime) -> None:
    session.execute(update(Node).where(Node.pk.in_(list(node_pks))).values(parent_pk=parent_pk, updated_at=now))


def delete_node(session: Session, node: Node) -> None:
    """Deletes the node; its subtree and product links follow by ON DELETE CASCADE."""
    session.execute(delete(Node).where(Node.pk == node.pk))


def delete_hierarchy(session: Session, hierarchy: Hierarchy) -> None:
    session.execute(delete(Hierarchy).where(Hierarchy.pk == hierarchy.pk))


def child_counts(session: Session, node_pks: Collection[int]) -> set[int]:
    """The nodes among `node_pks` that have children."""
    if not node_pks:
        return set()
    child = aliased(Node)
    query = select(child.parent_pk).where(child.parent_pk.in_(list(node_pks))).distinct()
    return {pk for (pk,) in session.execute(query) if pk is not None}


# --- node ↔ product links ------------------------------------------------------------------------------


def linked_product_pks(session: Session, node_pk: int, product_pks: Collection[int]) -> set[int]:
    if not product_pks:
        return set()
    query = select(NodeProduct.product_pk).where(
        NodeProduct.node_pk == node_pk, NodeProduct.product_pk.in_(list(product_pks))
    )
    return {pk for (pk,) in session.execute(query)}


def link_products(session: Session, node_pk: int, product_pks: Collection[int], now: datetime) -> None:
    already = linked_product_pks(session, node_pk, product_pks)
    rows = [  # each pair once, even when one product was named twice (e.g. in upper and lower case)
        {"node_pk": node_pk, "product_pk": pk, "linked_at": now}
        for pk in dict.fromkeys(product_pks)
        if pk not in already
    ]
    if rows:
        session.execute(insert(NodeProduct), rows)


def unlink_products(session: Session, node_pk: int, product_pks: Collection[int]) -> None:
    if product_pks:
        session.execute(
            delete(NodeProduct).where(NodeProduct.node_pk == node_pk, NodeProduct.product_pk.in_(list(product_pks)))
        )


def count_node_products(session: Session, node_pk: int) -> int:
    return session.scalar(select(func.count()).where(NodeProduct.node_pk == node_pk)) or 0


def node_products_page(
    session: Session, node_pk: int, exclude_product_ids: Collection[uuid.UUID], limit: int, offset: int
) -> list[Product]:
    """Linked products that are not curated, most recently updated first."""
    query = (
        select(Product)
        .join(NodeProduct, NodeProduct.product_pk == Product.pk)
        .where(NodeProduct.node_pk == node_pk)
        .order_by(Product.updated_at.desc(), Product.id)
        .limit(limit)
        .offset(offset)
    )
    if exclude_product_ids:
        query = query.where(Product.id.not_in(list(exclude_product_ids)))
    return list(session.scalars(query))


def node_products_after(
    session: Session, node_pk: int, exclude_product_ids: Collection[uuid.UUID], paging: Paging
) -> Page[Product]:
    """`node_products_page` by cursor: the linked, not curated products after a position in that order."""
    query = select(Product).join(NodeProduct, NodeProduct.product_pk == Product.pk)
    query = query.where(NodeProduct.node_pk == node_pk)
    if exclude_product_ids:
        query = query.where(Product.id.not_in(list(exclude_product_ids)))
    return keyset_page(session, query, (Product.updated_at.desc(), Product.id), paging)


def products_by_ids_linked(session: Session, node_pk: int, product_ids: Sequence[str]) -> dict[str, Product]:
    if not product_ids:
        return {}
    ids = [uuid.UUID(p) for p in product_ids]
    query = (
        select(Product)
        .join(NodeProduct, NodeProduct.product_pk == Product.pk)
        .where(NodeProduct.node_pk == node_pk, Product.id.in_(ids))
    )
    return {str(p.id): p for p in session.scalars(query)}


def nodes_of_product(session: Session, product_pk: int, paging: Paging) -> Page[Node]:
    query: Select[Node] = (
        select(Node).join(NodeProduct, NodeProduct.node_pk == Node.pk).where(NodeProduct.product_pk == product_pk)
    )
    return keyset_page(session, query, (Node.created_at, Node.id), paging)


def curating_nodes(session: Session, product_pk: int) -> list[Node]:
    """Nodes linked to the product that carry a curated list (it may name the product)."""
    query = (
        select(Node)
        .join(NodeProduct, NodeProduct.node_pk == Node.pk)
        .where(NodeProduct.product_pk == product_pk, Node.curated_products.is_not(None))
    )
    return list(session.scalars(query))


def attach_by_filter(session: Session, node_pks: Collection[int], products: Select[Any], now: datetime) -> None:
    """Link every product selected by `products` (a select of product pks) to each node, set-based."""
    for node_pk in node_pks:
        already = select(NodeProduct.product_pk).where(NodeProduct.node_pk == node_pk)
        chosen = products.where(Product.pk.not_in(already)).with_only_columns(
            literal(node_pk), Product.pk, literal(now, type_=NodeProduct.linked_at.type)
        )
        session.execute(insert(NodeProduct).from_select(["node_pk", "product_pk", "linked_at"], chosen))


def detach_by_filter(session: Session, node_pks: Collection[int], products: Select[Any]) -> None:
    if not node_pks:
        return
    session.execute(
        delete(NodeProduct).where(
            NodeProduct.node_pk.in_(list(node_pks)),
            NodeProduct.product_pk.in_(products.with_only_columns(Product.pk)),
        )
    )

