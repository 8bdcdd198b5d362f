"""A page of a node's children, read the fast way (issue 17): fixed statements, the parent's ancestry read once.

The answer is the one `HierarchyService.list_children` gives (the HTTP tests compare the two); filtered and
cursor-paged requests, and every case where something is not found, go to the service, so refusals keep
its words.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from assortment.db.repositories import node_reads
from assortment.db.repositories.hierarchies import Crumb
from assortment.domain.hierarchies import HierarchyService, NodeView
from assortment.domain.paging import Page, Paging
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal


def children(session: Session, principal: Principal, hierarchy_id: str, node_id: str, paging: Paging) -> Page[NodeView]:
    """The children of node `node_id` of hierarchy `hierarchy_id`, a page by offset, with their total."""
    hierarchy_uuid, node_uuid = parse_id(hierarchy_id), parse_id(node_id)
    if hierarchy_uuid is not None and node_uuid is not None:
        connection = session.connection()
        hierarchy, parent_pk = node_reads.hierarchy_and_node(
            connection, principal.visible_scopes, hierarchy_uuid, node_uuid
        )
        if hierarchy is not None and parent_pk is not None:
            ancestry = node_reads.chain(connection, parent_pk)
            if ancestry:  # else deleted meanwhile: the service says so
                records, total = node_reads.children_page(
                    connection, hierarchy.pk, parent_pk, paging.limit, paging.offset
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
