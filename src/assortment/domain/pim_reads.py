"""The hottest PIM reads, the fast way (issue 17): fixed statements run with `db.prepared`, rows as plain
records (repositories `node_reads`, `product_reads`).

- a page of a node's children, the parent's ancestry read once for the page;
- a product by id;
- a page of products by offset, filtered or not.

Each answers what the service's general path answers (tests/api/test_pim_reads.py compares the two); every
case where something is not found goes to the service, so refusals keep its words.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from assortment.db import filters as sql_filters
from assortment.db.models import Product
from assortment.db.repositories import node_reads, product_reads
from assortment.db.repositories import products as product_repo
from assortment.db.repositories.hierarchies import Crumb
from assortment.domain.custom_relationships import relationship_slugs
from assortment.domain.filters import Term
from assortment.domain.hierarchies import HierarchyService, NodeView
from assortment.domain.paging import Page, Paging
from assortment.domain.products import ProductService, parse_id
from assortment.domain.tenancy import Principal


def children(session: Session, principal: Principal, hierarchy_id: str, node_id: str, paging: Paging) -> Page[NodeView]:
    """The children of node `node_id` of hierarchy `hierarchy_id`, a page by offset, with their total."""
    hierarchy_uuid, node_uuid = parse_id(hierarchy_id), parse_id(node_id)
    if hierarchy_uuid is not None and node_uuid is not None:
        connection = session.connection()
        placed = node_reads.placed_node(connection, principal.visible_scopes, hierarchy_uuid, node_uuid)
        if placed is not None:
            hierarchy, ancestry = placed
            records, total = node_reads.children_page(
                connection, hierarchy.pk, ancestry[-1].pk, paging.limit, paging.offset
            )
            views = [
                NodeView(
                    record,
                    hierarchy,
                    [*ancestry, Crumb(record.pk, record.id, record.name, record.slug, record.locales)],
                )
                for record in records
            ]
            return Page(views, total, paging)
    service = HierarchyService(session, principal)
    page = service.list_children(hierarchy_id, node_id, None, paging)
    return Page(service.describe(page.items), page.total, paging)


def product(
    session: Session, principal: Principal, product_id: str
) -> tuple[Product | product_reads.ProductRecord, list[str]]:
    """The product `product_id` as the caller sees it, with the slugs of its custom relationships."""
    parsed = parse_id(product_id)
    if parsed is not None:
        found = product_reads.visible_product(session.connection(), principal.visible_scopes, parsed)
        if found is not None:
            return found
    loaded = ProductService(session, principal).get(product_id)
    return loaded, relationship_slugs(session, [loaded]).get(loaded.pk, [])


def products(
    session: Session, principal: Principal, terms: tuple[Term, ...] | None, paging: Paging
) -> Page[tuple[product_reads.ProductRecord, list[str]]]:
    """A page by offset of the products the caller sees that the filter `terms` admits (all without one),
    oldest first, with their total."""
    connection, scopes = session.connection(), principal.visible_scopes
    if not terms:
        items, total = product_reads.newest_products(connection, scopes, paging.limit, paging.offset)
    else:
        where = sql_filters.compile_filter(terms, product_repo.PRODUCT_FILTERS)  # as ProductService.list
        items, total = product_reads.filtered_products(connection, scopes, where, paging.limit, paging.offset)
    return Page(items, total, paging)
