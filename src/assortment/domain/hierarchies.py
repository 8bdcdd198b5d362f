"""Hierarchies, nodes and node↔product links (SPEC §2, seeds 000 and 001).

Every change to the shape or the sibling names of a hierarchy's tree first locks the hierarchy row,
so the rules are always checked against the tree as it will be committed (SQLite writers are already
serialised by BEGIN IMMEDIATE). Sibling uniqueness is also held by unique indexes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assortment.db import filters as sql_filters
from assortment.db.models import Hierarchy, Node, Product
from assortment.db.repositories import hierarchies as repo
from assortment.db.repositories import products as product_repo
from assortment.db.repositories.hierarchies import Crumb
from assortment.db.repositories.node_reads import HierarchyRecord, NodeRecord
from assortment.db.types import utcnow
from assortment.domain import events, tree_rules
from assortment.domain.filters import Term, parse_filter
from assortment.domain.paging import START, Page, Paging, Position
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal
from assortment.errors import MissingReferences, NotFound, ValidationFailed
from assortment.schemas.hierarchies import (
    ChildReference,
    HierarchyAttributes,
    NodeAttributes,
    NodeMeta,
)

UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class NodeView:
    """A node with what its rendering needs: its hierarchy and its chain of ancestors."""

    node: Node | NodeRecord
    hierarchy: Hierarchy | HierarchyRecord
    crumbs: list[Crumb]  # top-level ancestor … the node itself

    @property
    def parent(self) -> Crumb | None:
        return self.crumbs[-2] if len(self.crumbs) > 1 else None


@dataclass(frozen=True, slots=True)
class NodeProductEntry:
    product: Product
    curated: bool


def sort_order_change(meta: NodeMeta | None) -> Any:
    """The new sort order a request asks for, or UNSET when it does not mention one."""
    if meta is None or "sort_order" not in meta.model_fields_set:
        return UNSET
    return meta.sort_order


@dataclass
class HierarchyService:
    session: Session
    principal: Principal

    # --- hierarchies ----------------------------------------------------------------------------

    def get_hierarchy(self, hierarchy_id: str, *, for_update: bool = False) -> Hierarchy:
        parsed = parse_id(hierarchy_id)
        hierarchy = (
            None
            if parsed is None
            else repo.get_hierarchy(
                self.session, self.principal.visible_scopes, parsed, for_update=for_update
            )
        )
        if hierarchy is None:
            raise NotFound(f"hierarchy {hierarchy_id} not found")
        return hierarchy

    def _writable_hierarchy(self, hierarchy_id: str) -> Hierarchy:
        hierarchy = self.get_hierarchy(hierarchy_id, for_update=True)
        self.principal.check_can_modify(hierarchy.scope_id)
        return hierarchy

    def list_hierarchies(self, terms: tuple[Term, ...] | None, paging: Paging) -> Page[Hierarchy]:
        where = None if not terms else sql_filters.compile_filter(terms, repo.HIERARCHY_FILTERS)
        return repo.list_hierarchies(self.session, self.principal.visible_scopes, where, paging)

    def create_hierarchy(self, attributes: HierarchyAttributes) -> Hierarchy:
        if attributes.name is None:
            raise ValidationFailed("data.attributes.name: Field required")
        now = utcnow()
        hierarchy = Hierarchy(
            id=uuid.uuid4(), scope_id=self.principal.scope_id, created_at=now, updated_at=now
        )
        _apply_tree_attributes(hierarchy, attributes)
        self.session.add(hierarchy)
        self.session.flush()
        self._event("hierarchy.created", hierarchy)
        return hierarchy

    def update_hierarchy(self, hierarchy_id: str, body_id: str, attributes: HierarchyAttributes) -> Hierarchy:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        if body_id != hierarchy_id:
            raise ValidationFailed("data.id: must match the hierarchy id in the path")
        if "name" in attributes.model_fields_set and attributes.name is None:
            raise ValidationFailed("data.attributes.name: can not be null")
        if attributes.model_fields_set:
            _apply_tree_attributes(hierarchy, attributes)
            hierarchy.updated_at = utcnow()
            self.session.flush()
            self._event("hierarchy.updated", hierarchy)
        return hierarchy

    def delete_hierarchy(self, hierarchy_id: str) -> None:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        repo.delete_hierarchy(self.session, hierarchy)
        self._event("hierarchy.deleted", hierarchy)

    # --- nodes ----------------------------------------------------------------------------------

    def get_node(self, hierarchy_id: str, node_id: str, *, hierarchy: Hierarchy | None = None) -> Node:
        hierarchy = hierarchy or self.get_hierarchy(hierarchy_id)
        parsed = parse_id(node_id)
        node = None if parsed is None else repo.get_node(self.session, hierarchy.pk, parsed)
        if node is None:
            raise NotFound(f"node {node_id} not found in hierarchy {hierarchy_id}")
        return node

    def list_nodes(
        self, hierarchy_id: str | None, terms: tuple[Term, ...] | None, paging: Paging
    ) -> Page[Node]:
        hierarchy_pk = None if hierarchy_id is None else self.get_hierarchy(hierarchy_id).pk
        where = None if not terms else sql_filters.compile_filter(terms, repo.NODE_FILTERS)
        return repo.list_nodes(
            self.session, self.principal.visible_scopes, where, paging, hierarchy_pk=hierarchy_pk
        )

    def list_children(
        self, hierarchy_id: str, node_id: str | None, terms: tuple[Term, ...] | None, paging: Paging
    ) -> Page[Node]:
        hierarchy = self.get_hierarchy(hierarchy_id)
        parent_pk = None if node_id is None else self.get_node(hierarchy_id, node_id, hierarchy=hierarchy).pk
        where = None if not terms else sql_filters.compile_filter(terms, repo.NODE_FILTERS)
        return repo.list_children(self.session, hierarchy.pk, parent_pk, where, paging)

    def create_node(
        self, hierarchy_id: str, attributes: NodeAttributes, parent_id: str | None, meta: NodeMeta | None
    ) -> Node:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        if attributes.name is None:
            raise ValidationFailed("data.attributes.name: Field required")
        if attributes.curated_products:
            raise ValidationFailed(
                "data.attributes.curated_products: a new node has no products yet, so it cannot curate any"
            )
        parent_pk = None
        if parent_id is not None:
            parent_pk = self._nodes_of(hierarchy, [parent_id])[parent_id].pk
        siblings = repo.sibling_names_and_slugs(self.session, hierarchy.pk, parent_pk)
        tree_rules.check_unique_among_siblings(
            [(attributes.name, attributes.slug)], [(name, slug) for _, name, slug in siblings]
        )
        now = utcnow()
        node = Node(
            id=uuid.uuid4(),
            hierarchy_pk=hierarchy.pk,
            parent_pk=parent_pk,
            scope_id=hierarchy.scope_id,
            created_at=now,
            updated_at=now,
        )
        _apply_tree_attributes(node, attributes)
        sort_order = sort_order_change(meta)
        node.sort_order = None if sort_order is UNSET else sort_order
        self.session.add(node)
        self._flush_tree()
        self._event("node.created", node)
        return node

    def update_node(
        self,
        hierarchy_id: str,
        node_id: str,
        body_id: str,
        attributes: NodeAttributes,
        meta: NodeMeta | None,
    ) -> Node:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        node = self.get_node(hierarchy_id, node_id, hierarchy=hierarchy)
        if body_id != node_id:
            raise ValidationFailed("data.id: must match the node id in the path")
        sent = attributes.model_fields_set
        if "name" in sent and attributes.name is None:
            raise ValidationFailed("data.attributes.name: can not be null")
        new_name = attributes.name if attributes.name is not None else node.name
        new_slug = attributes.slug if "slug" in sent else node.slug
        if (new_name, new_slug) != (node.name, node.slug):
            siblings = repo.sibling_names_and_slugs(
                self.session, hierarchy.pk, node.parent_pk, exclude_pks=[node.pk]
            )
            tree_rules.check_unique_among_siblings([(new_name, new_slug)], [(n, s) for _, n, s in siblings])
        curated: list[str] | None = None
        if "curated_products" in sent and attributes.curated_products:
            # Ids in their canonical spelling, as links, deletes and unlinks compare them.
            curated = [str(pid) if (pid := parse_id(c)) else c for c in attributes.curated_products]
            linked = repo.products_by_ids_linked(self.session, node.pk, [c for c in curated if parse_id(c)])
            tree_rules.check_curated_products(curated, set(linked))
        sort_order = sort_order_change(meta)
        if not sent and sort_order is UNSET:
            return node
        _apply_tree_attributes(node, attributes)
        if curated is not None:
            node.curated_products = curated
        if sort_order is not UNSET:
            node.sort_order = sort_order
        node.updated_at = utcnow()
        self._flush_tree()
        self._event("node.updated", node)
        return node

    def delete_node(self, hierarchy_id: str, node_id: str) -> None:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        node = self.get_node(hierarchy_id, node_id, hierarchy=hierarchy)
        repo.delete_node(self.session, node)
        self._event("node.deleted", node)

    # --- moving nodes -------------------------------------------------------------------------------

    def set_children(
        self, hierarchy_id: str, parent_id: str | None, children: Sequence[ChildReference]
    ) -> None:
        """Make each listed node a child of `parent_id` (or a top-level node when it is None)."""
        hierarchy = self._writable_hierarchy(hierarchy_id)
        parent = None if parent_id is None else self.get_node(hierarchy_id, parent_id, hierarchy=hierarchy)
        child_ids = [c.id for c in children]
        if parent_id is not None:
            tree_rules.check_not_own_parent(parent_id, child_ids)
        moving = self._nodes_of(hierarchy, child_ids)
        moving_pks = {n.pk for n in moving.values()}
        if parent is not None:
            tree_rules.check_no_cycle(moving_pks, repo.ancestor_pks(self.session, parent.pk))
        parent_pk = None if parent is None else parent.pk
        staying = repo.sibling_names_and_slugs(self.session, hierarchy.pk, parent_pk, exclude_pks=moving_pks)
        arriving = list({n.pk: (n.name, n.slug) for n in moving.values()}.values())
        tree_rules.check_unique_among_siblings(arriving, [(n, s) for _, n, s in staying])
        now = utcnow()
        for child in children:
            node = moving[child.id]
            node.parent_pk = parent_pk
            node.updated_at = now
            change = sort_order_change(child.meta)
            if change is not UNSET:  # an item without a sort_order keeps the stored one
                node.sort_order = change
        self._flush_tree()
        for node in {n.pk: n for n in moving.values()}.values():
            self._event("node.updated", node)

    def set_parent(self, hierarchy_id: str, node_id: str, parent_id: str) -> None:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        node = self.get_node(hierarchy_id, node_id, hierarchy=hierarchy)
        tree_rules.check_not_own_parent(node_id, [parent_id])
        parent = self._nodes_of(hierarchy, [parent_id])[parent_id]
        tree_rules.check_no_cycle([node.pk], repo.ancestor_pks(self.session, parent.pk))
        self._move(hierarchy, node, parent.pk)

    def clear_parent(self, hierarchy_id: str, node_id: str) -> None:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        node = self.get_node(hierarchy_id, node_id, hierarchy=hierarchy)
        if node.parent_pk is not None:
            self._move(hierarchy, node, None)

    def _move(self, hierarchy: Hierarchy, node: Node, parent_pk: int | None) -> None:
        staying = repo.sibling_names_and_slugs(self.session, hierarchy.pk, parent_pk, exclude_pks=[node.pk])
        tree_rules.check_unique_among_siblings([(node.name, node.slug)], [(n, s) for _, n, s in staying])
        node.parent_pk = parent_pk
        node.updated_at = utcnow()
        self._flush_tree()
        self._event("node.updated", node)

    def _nodes_of(self, hierarchy: Hierarchy, node_ids: Sequence[str]) -> dict[str, Node]:
        """R2/R5: every id must name a node of this hierarchy, else 422 with the ids that do not."""
        parsed = {raw: parse_id(raw) for raw in node_ids}
        found = {n.id: n for n in repo.nodes_by_ids(self.session, [p for p in parsed.values() if p])}
        result: dict[str, Node] = {}
        missing: list[str] = []
        for raw, pid in parsed.items():
            node = found.get(pid) if pid else None
            if node is None or node.hierarchy_pk != hierarchy.pk:
                missing.append(raw)
            else:
                result[raw] = node
        if missing:
            raise MissingReferences("nodes must exist in the same hierarchy", missing)
        return result

    def _flush_tree(self) -> None:
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            # The unique indexes are the last line of defence behind check_unique_among_siblings.
            raise ValidationFailed("names and slugs must be unique among sibling nodes") from exc

    # --- node ↔ product links -------------------------------------------------------------------------

    def link_products(self, hierarchy_id: str, node_id: str, product_ids: Sequence[str]) -> Node:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        node = self.get_node(hierarchy_id, node_id, hierarchy=hierarchy)
        products = self._visible_products(product_ids)
        repo.link_products(self.session, node.pk, [p.pk for p in products.values()], utcnow())
        self._event("node.updated", node)
        return node

    def unlink_products(self, hierarchy_id: str, node_id: str, product_ids: Sequence[str]) -> Node:
        hierarchy = self._writable_hierarchy(hierarchy_id)
        node = self.get_node(hierarchy_id, node_id, hierarchy=hierarchy)
        parsed = [p for p in (parse_id(raw) for raw in product_ids) if p is not None]
        pks = (
            [pk for (pk,) in self.session.execute(select(Product.pk).where(Product.id.in_(parsed)))]
            if parsed
            else []
        )
        repo.unlink_products(self.session, node.pk, pks)
        gone = {str(p) for p in parsed}
        if node.curated_products and gone & set(node.curated_products):
            node.curated_products = [c for c in node.curated_products if c not in gone] or None
        self.session.flush()
        self._event("node.updated", node)
        return node

    def node_products(self, hierarchy_id: str, node_id: str, paging: Paging) -> Page[NodeProductEntry]:
        """Curated products first, in curated order; then the others, most recently updated first."""
        node = self.get_node(hierarchy_id, node_id)
        curated_ids = list(node.curated_products or [])
        curated = repo.products_by_ids_linked(self.session, node.pk, curated_ids)
        curated_in_order = [curated[c] for c in curated_ids if c in curated]
        if paging.by_cursor:
            return self._node_products_after(node.pk, curated_in_order, paging)
        total = repo.count_node_products(self.session, node.pk)
        entries = [
            NodeProductEntry(p, True) for p in curated_in_order[paging.offset : paging.offset + paging.limit]
        ]
        remaining = paging.limit - len(entries)
        if remaining > 0:
            offset = max(paging.offset - len(curated_in_order), 0)
            others = repo.node_products_page(
                self.session, node.pk, [p.id for p in curated_in_order], remaining, offset
            )
            entries += [NodeProductEntry(p, False) for p in others]
        return Page(entries, total, paging)

    def _node_products_after(self, node_pk: int, curated: list[Product], paging: Paging) -> Page[NodeProductEntry]:
        """A page of a node's products by cursor (SPEC §10.4). Positions: (0, index, id) in the curated
        list (found again by id, so a curated product removed before it moves nothing), (1, updated_at, id)
        among the others (a keyset seek in their order)."""
        position = paging.check(paging.after or START, 3)
        curated_ids = [str(p.id) for p in curated]
        entries: list[NodeProductEntry] = []
        others_after: Position = START
        if position and position[0] == 1:
            others_after = position[1:]
        else:
            start = 0
            if position and position[0] == 0:
                try:
                    start = curated_ids.index(str(position[2])) + 1
                except ValueError:  # it left the curated list meanwhile: about where it was
                    start = min(int(position[1]), len(curated_ids))
            chosen = curated[start : start + paging.limit]
            entries = [NodeProductEntry(p, True) for p in chosen]
            if len(entries) == paging.limit:
                last = start + len(chosen) - 1
                more = last + 1 < len(curated) or repo.count_node_products(self.session, node_pk) > len(curated)
                return Page(entries, 0, paging, (0, last, curated_ids[last]) if more else None)
        rest = Paging(paging.limit - len(entries), after=others_after, cursors=paging.cursors)
        others = repo.node_products_after(self.session, node_pk, [p.id for p in curated], rest)
        entries += [NodeProductEntry(p, False) for p in others.items]
        return Page(entries, 0, paging, None if others.next is None else (1, *others.next))

    def product_nodes(self, product_id: str, paging: Paging) -> Page[Node]:
        parsed = parse_id(product_id)
        product = (
            None
            if parsed is None
            else product_repo.get_visible(self.session, self.principal.visible_scopes, parsed)
        )
        if product is None:
            raise NotFound(f"product {product_id} not found")
        return repo.nodes_of_product(self.session, product.pk, paging)

    def attach_nodes(self, filter_text: str, node_ids: Sequence[str]) -> tuple[int, list[str]]:
        nodes, not_found = self._selected_nodes(filter_text, node_ids)
        products = self._filtered_products(filter_text)
        repo.attach_by_filter(self.session, [n.pk for n in nodes], products, utcnow())
        for node in nodes:
            self._event("node.updated", node)
        return len(nodes), not_found

    def detach_nodes(self, filter_text: str, node_ids: Sequence[str]) -> tuple[int, list[str]]:
        nodes, not_found = self._selected_nodes(filter_text, node_ids)
        products = self._filtered_products(filter_text)
        repo.detach_by_filter(self.session, [n.pk for n in nodes], products)
        for node in nodes:
            if node.curated_products:
                linked = repo.products_by_ids_linked(self.session, node.pk, node.curated_products)
                kept = [c for c in node.curated_products if c in linked]
                if kept != node.curated_products:
                    node.curated_products = kept or None
        self.session.flush()
        for node in nodes:
            self._event("node.updated", node)
        return len(nodes), not_found

    def _selected_nodes(self, filter_text: str, node_ids: Sequence[str]) -> tuple[list[Node], list[str]]:
        parse_filter(filter_text)  # a bad filter is a 400 before anything else
        parsed = {raw: parse_id(raw) for raw in dict.fromkeys(node_ids)}
        found = {
            n.id: n
            for n in repo.visible_nodes_by_ids(
                self.session, self.principal.visible_scopes, [p for p in parsed.values() if p]
            )
        }
        nodes: dict[int, Node] = {}  # distinct nodes, however their ids were spelt (§B-8)
        not_found: list[str] = []
        for raw, pid in parsed.items():
            node = found.get(pid) if pid else None
            if node is None:
                not_found.append(raw)
            else:
                self.principal.check_can_modify(node.scope_id)
                nodes[node.pk] = node
        hierarchy_pks = sorted({n.hierarchy_pk for n in nodes.values()})
        for pk in hierarchy_pks:  # the same lock every structural change takes, in a fixed order
            self.session.execute(select(Hierarchy.pk).where(Hierarchy.pk == pk).with_for_update())
        return list(nodes.values()), not_found

    def _filtered_products(self, filter_text: str) -> Any:
        where = sql_filters.compile_filter(parse_filter(filter_text), product_repo.PRODUCT_FILTERS)
        return select(Product.pk).where(product_repo.owner_filter(self.principal.visible_scopes), where)

    def _visible_products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        parsed = {raw: parse_id(raw) for raw in dict.fromkeys(product_ids)}
        wanted = [p for p in parsed.values() if p]
        found: dict[uuid.UUID, Product] = {}
        if wanted:
            query = select(Product).where(
                Product.id.in_(wanted), product_repo.owner_filter(self.principal.visible_scopes)
            )
            found = {p.id: p for p in self.session.scalars(query)}
        missing = [raw for raw, pid in parsed.items() if pid is None or pid not in found]
        if missing:
            raise MissingReferences("products must exist", missing)
        return {raw: found[pid] for raw, pid in parsed.items() if pid is not None}

    def _event(self, triggered_by: str, entity: Hierarchy | Node) -> None:
        events.record(self.session, self.principal, triggered_by, entity, entity.id, entity.scope_id)

    # --- rendering support ------------------------------------------------------------------------------

    def describe(self, nodes: Sequence[Node]) -> list[NodeView]:
        """Load what node objects show (hierarchy, breadcrumbs, parent name) in two queries."""
        chains = repo.ancestry(self.session, [n.pk for n in nodes])
        hierarchies = repo.hierarchies_by_pk(self.session, {n.hierarchy_pk for n in nodes})
        return [NodeView(n, hierarchies[n.hierarchy_pk], chains.get(n.pk, [])) for n in nodes]


def _apply_tree_attributes(
    target: Hierarchy | Node, attributes: HierarchyAttributes | NodeAttributes
) -> None:
    """Apply the attributes a request sent: plain values replace, custom attribute maps merge."""
    sent = attributes.model_fields_set
    for name in ("name", "description", "slug", "curated_products"):
        if name in sent and hasattr(target, name):
            setattr(target, name, getattr(attributes, name))
    if "locales" in sent:
        locales = attributes.locales
        target.locales = (
            {code: entry.model_dump(exclude_none=True) for code, entry in locales.items()}
            if locales
            else None
        )
    for name in ("admin_attributes", "shopper_attributes"):
        if name in sent:
            setattr(
                target,
                name,
                tree_rules.merge_custom_attributes(getattr(target, name), getattr(attributes, name)),
            )
    clears_curated = "curated_products" in sent and not getattr(attributes, "curated_products", None)
    if isinstance(target, Node) and clears_curated:
        target.curated_products = None
