"""`/pcm/hierarchies…`, `/pcm/products/{id}/nodes`, `attach_nodes`/`detach_nodes`: HTTP only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from assortment.api.deps import AdminDep, FilterDep, PagingDep, SessionDep
from assortment.api.jsonapi import list_document
from assortment.api.products import render_products
from assortment.api.render import timestamp
from assortment.api.responses import json_response, no_content
from assortment.api.schemas_doc import ERRORS
from assortment.db.models import Hierarchy
from assortment.db.repositories.hierarchies import Crumb
from assortment.domain import events, pim_reads
from assortment.domain.hierarchies import HierarchyService, NodeView
from assortment.domain.paging import Page
from assortment.schemas.hierarchies import (
    ChildrenRequest,
    HierarchyCreateRequest,
    HierarchyUpdateRequest,
    NodeCreateRequest,
    NodeSelectionRequest,
    NodeUpdateRequest,
    ParentRequest,
    ProductReferencesRequest,
)

router = APIRouter(tags=["hierarchies"])


def _optional(target: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(target, name) for name in names if getattr(target, name, None) is not None}


def _crumb(node_id: Any, name: str, slug: str | None, locales: dict[str, Any] | None) -> dict[str, Any]:
    """A breadcrumb: id, name, slug and the localized names only (the PIM spec allows no other locale
    field there; the hierarchy's or node's own `locales` keep their descriptions)."""
    crumb: dict[str, Any] = {"id": str(node_id), "name": name}
    if slug is not None:
        crumb["slug"] = slug
    names = {
        tag: {"name": entry["name"]}
        for tag, entry in (locales or {}).items()
        if isinstance(entry, dict) and entry.get("name") is not None
    }
    if names:
        crumb["locales"] = names
    return crumb


def render_hierarchy(hierarchy: Hierarchy) -> dict[str, Any]:
    attributes = {"name": hierarchy.name}
    attributes.update(
        _optional(hierarchy, ("description", "slug", "locales", "admin_attributes", "shopper_attributes"))
    )
    return {
        "type": "hierarchy",
        "id": str(hierarchy.id),
        "attributes": attributes,
        "relationships": {
            "children": {"data": [], "links": {"related": f"/hierarchies/{hierarchy.id}/children"}}
        },
        "meta": {
            "created_at": timestamp(hierarchy.created_at),
            "updated_at": timestamp(hierarchy.updated_at),
            "owner": hierarchy.owner,
            "breadcrumbs": [_crumb(hierarchy.id, hierarchy.name, hierarchy.slug, hierarchy.locales)],
        },
    }


class NodeRenderer:
    """Renders nodes; the crumbs and ids that several nodes of one page share (their hierarchy, their
    common ancestors) are rendered once per renderer, not once per node."""

    __slots__ = ("_crumbs", "_hierarchies")

    def __init__(self) -> None:
        self._crumbs: dict[Any, dict[str, Any]] = {}
        self._hierarchies: dict[Any, tuple[str, dict[str, Any]]] = {}

    def _hierarchy(self, hierarchy: Any) -> tuple[str, dict[str, Any]]:
        known = self._hierarchies.get(hierarchy.id)
        if known is None:
            known = (str(hierarchy.id), _crumb(hierarchy.id, hierarchy.name, hierarchy.slug, hierarchy.locales))
            self._hierarchies[hierarchy.id] = known
        return known

    def _node_crumb(self, crumb: Crumb) -> dict[str, Any]:
        rendered = self._crumbs.get(crumb.id)
        if rendered is None:
            rendered = self._crumbs[crumb.id] = _crumb(crumb.id, crumb.name, crumb.slug, crumb.locales)
        return rendered

    def render(self, view: NodeView) -> dict[str, Any]:
        node = view.node
        hierarchy_id, hierarchy_crumb = self._hierarchy(view.hierarchy)
        node_id = str(node.id)
        attributes = {"name": node.name}
        attributes.update(
            _optional(
                node,
                ("description", "slug", "curated_products", "locales", "admin_attributes", "shopper_attributes"),
            )
        )
        base = f"/hierarchies/{hierarchy_id}/nodes/{node_id}"
        relationships: dict[str, Any] = {
            "children": {"data": [], "links": {"related": f"{base}/children"}},
            "products": {"data": [], "links": {"related": f"{base}/products"}},
        }
        parent = view.parent
        if parent is not None:
            relationships["parent"] = {"data": {"type": "node", "id": self._node_crumb(parent)["id"]}}
        created, updated = node.created_at, node.updated_at  # text already in a `NodeRecord`
        meta: dict[str, Any] = {
            "created_at": created if isinstance(created, str) else timestamp(created),
            "updated_at": updated if isinstance(updated, str) else timestamp(updated),
            "owner": node.owner,
            "parent_name": parent.name if parent is not None else view.hierarchy.name,
            "hierarchy_id": hierarchy_id,
            "breadcrumbs": [hierarchy_crumb, *map(self._node_crumb, view.crumbs)],
        }
        if node.sort_order is not None:
            meta["sort_order"] = node.sort_order
        return {
            "type": "node",
            "id": node_id,
            "attributes": attributes,
            "relationships": relationships,
            "meta": meta,
        }

    def render_all(self, views: list[NodeView]) -> list[dict[str, Any]]:
        return [self.render(view) for view in views]


def render_node(view: NodeView) -> dict[str, Any]:
    return NodeRenderer().render(view)


def _node_document(service: HierarchyService, node: Any) -> dict[str, Any]:
    document = render_node(service.describe([node])[0])
    events.rendered(service.session, "node", node, document)  # a write's event carries the same document
    return {"data": document}


def _node_list(request: Request, service: HierarchyService, page: Page[Any]) -> dict[str, Any]:
    return list_document(request, page, NodeRenderer().render_all(service.describe(page.items)))


# --- hierarchies -----------------------------------------------------------------------------------------


@router.post("/pcm/hierarchies", status_code=201, responses=ERRORS)
def create_hierarchy(body: HierarchyCreateRequest, session: SessionDep, principal: AdminDep) -> Response:
    hierarchy = HierarchyService(session, principal).create_hierarchy(body.data.attributes)
    return json_response({"data": render_hierarchy(hierarchy)}, status_code=201)


@router.get("/pcm/hierarchies", responses=ERRORS)
def list_hierarchies(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    page = HierarchyService(session, principal).list_hierarchies(terms, paging)
    return json_response(list_document(request, page, [render_hierarchy(h) for h in page.items]))


@router.get("/pcm/hierarchies/nodes", responses=ERRORS)
def list_all_nodes(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    service = HierarchyService(session, principal)
    page = service.list_nodes(None, terms, paging)
    document = _node_list(request, service, page)
    if request.query_params.get("include_hierarchies") == "true":
        views = service.describe(page.items)
        # `describe` reads ORM hierarchies (the records of `node_pages` render only children)
        seen = {v.hierarchy.id: v.hierarchy for v in views if isinstance(v.hierarchy, Hierarchy)}
        document["data"] += [render_hierarchy(h) for h in seen.values()]
    return json_response(document)


@router.get("/pcm/hierarchies/{hierarchy_id}", responses=ERRORS)
def get_hierarchy(hierarchy_id: str, session: SessionDep, principal: AdminDep) -> Response:
    hierarchy = HierarchyService(session, principal).get_hierarchy(hierarchy_id)
    return json_response({"data": render_hierarchy(hierarchy)})


@router.put("/pcm/hierarchies/{hierarchy_id}", responses=ERRORS)
def update_hierarchy(
    hierarchy_id: str, body: HierarchyUpdateRequest, session: SessionDep, principal: AdminDep
) -> Response:
    hierarchy = HierarchyService(session, principal).update_hierarchy(
        hierarchy_id, body.data.id, body.data.attributes
    )
    return json_response({"data": render_hierarchy(hierarchy)})


@router.delete("/pcm/hierarchies/{hierarchy_id}", status_code=204, responses=ERRORS)
def delete_hierarchy(hierarchy_id: str, session: SessionDep, principal: AdminDep) -> Response:
    HierarchyService(session, principal).delete_hierarchy(hierarchy_id)
    return no_content()


@router.get("/pcm/hierarchies/{hierarchy_id}/children", responses=ERRORS)
def list_top_level_nodes(
    hierarchy_id: str,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = HierarchyService(session, principal)
    return json_response(
        _node_list(request, service, service.list_children(hierarchy_id, None, terms, paging))
    )


@router.post("/pcm/hierarchies/{hierarchy_id}/relationships/children", responses=ERRORS)
def make_top_level(
    hierarchy_id: str, body: ChildrenRequest, session: SessionDep, principal: AdminDep
) -> Response:
    service = HierarchyService(session, principal)
    service.set_children(hierarchy_id, None, body.data)
    return json_response({"data": render_hierarchy(service.get_hierarchy(hierarchy_id))})


# --- nodes ------------------------------------------------------------------------------------------------


@router.post("/pcm/hierarchies/{hierarchy_id}/nodes", status_code=201, responses=ERRORS)
def create_node(
    hierarchy_id: str, body: NodeCreateRequest, session: SessionDep, principal: AdminDep
) -> Response:
    data = body.data
    parent = data.relationships.parent if data.relationships else None
    service = HierarchyService(session, principal)
    node = service.create_node(hierarchy_id, data.attributes, parent.data.id if parent else None, data.meta)
    return json_response(_node_document(service, node), status_code=201)


@router.get("/pcm/hierarchies/{hierarchy_id}/nodes", responses=ERRORS)
def list_nodes(
    hierarchy_id: str,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = HierarchyService(session, principal)
    return json_response(_node_list(request, service, service.list_nodes(hierarchy_id, terms, paging)))


@router.get("/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}", responses=ERRORS)
def get_node(hierarchy_id: str, node_id: str, session: SessionDep, principal: AdminDep) -> Response:
    service = HierarchyService(session, principal)
    return json_response(_node_document(service, service.get_node(hierarchy_id, node_id)))


@router.put("/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}", responses=ERRORS)
def update_node(
    hierarchy_id: str, node_id: str, body: NodeUpdateRequest, session: SessionDep, principal: AdminDep
) -> Response:
    service = HierarchyService(session, principal)
    node = service.update_node(hierarchy_id, node_id, body.data.id, body.data.attributes, body.data.meta)
    return json_response(_node_document(service, node))


@router.delete("/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}", status_code=204, responses=ERRORS)
def delete_node(hierarchy_id: str, node_id: str, session: SessionDep, principal: AdminDep) -> Response:
    HierarchyService(session, principal).delete_node(hierarchy_id, node_id)
    return no_content()


@router.get("/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/children", responses=ERRORS)
def list_node_children(
    hierarchy_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    if not terms and not paging.by_cursor:
        page = pim_reads.children(session, principal, hierarchy_id, node_id, paging)
        return json_response(list_document(request, page, NodeRenderer().render_all(page.items)))
    service = HierarchyService(session, principal)
    return json_response(
        _node_list(request, service, service.list_children(hierarchy_id, node_id, terms, paging))
    )


@router.post("/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/children", responses=ERRORS)
def set_node_children(
    hierarchy_id: str, node_id: str, body: ChildrenRequest, session: SessionDep, principal: AdminDep
) -> Response:
    service = HierarchyService(session, principal)
    service.set_children(hierarchy_id, node_id, body.data)
    return json_response(_node_document(service, service.get_node(hierarchy_id, node_id)))


@router.put(
    "/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/parent", status_code=204, responses=ERRORS
)
def set_node_parent(
    hierarchy_id: str, node_id: str, body: ParentRequest, session: SessionDep, principal: AdminDep
) -> Response:
    HierarchyService(session, principal).set_parent(hierarchy_id, node_id, body.data.id)
    return no_content()


@router.delete(
    "/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/parent", status_code=204, responses=ERRORS
)
def clear_node_parent(hierarchy_id: str, node_id: str, session: SessionDep, principal: AdminDep) -> Response:
    HierarchyService(session, principal).clear_parent(hierarchy_id, node_id)
    return no_content()


@router.post(
    "/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/products",
    status_code=201,
    responses=ERRORS,
)
def link_node_products(
    hierarchy_id: str, node_id: str, body: ProductReferencesRequest, session: SessionDep, principal: AdminDep
) -> Response:
    service = HierarchyService(session, principal)
    node = service.link_products(hierarchy_id, node_id, [p.id for p in body.data])
    return json_response(_node_document(service, node), status_code=201)


@router.delete("/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/products", responses=ERRORS)
def unlink_node_products(
    hierarchy_id: str, node_id: str, body: ProductReferencesRequest, session: SessionDep, principal: AdminDep
) -> Response:
    service = HierarchyService(session, principal)
    node = service.unlink_products(hierarchy_id, node_id, [p.id for p in body.data])
    return json_response(_node_document(service, node))


@router.get("/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/products", responses=ERRORS)
def list_node_products(
    hierarchy_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
) -> Response:
    page = HierarchyService(session, principal).node_products(hierarchy_id, node_id, paging)
    data = render_products(session, [entry.product for entry in page.items])
    for rendered, entry in zip(data, page.items, strict=True):
        if entry.curated:
            rendered["attributes"]["curated_product"] = True
    return json_response(list_document(request, page, data))


# --- products' nodes ---------------------------------------------------------------------------------------


@router.get("/pcm/products/{product_id}/nodes", tags=["products"], responses=ERRORS)
def list_product_nodes(
    product_id: str, request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep
) -> Response:
    service = HierarchyService(session, principal)
    return json_response(_node_list(request, service, service.product_nodes(product_id, paging)))


@router.post("/pcm/products/attach_nodes", tags=["products"], responses=ERRORS)
def attach_nodes(body: NodeSelectionRequest, session: SessionDep, principal: AdminDep) -> Response:
    attached, not_found = HierarchyService(session, principal).attach_nodes(
        body.data.filter, body.data.node_ids
    )
    return json_response({"meta": {"nodes_attached": attached, "nodes_not_found": not_found}})


@router.post("/pcm/products/detach_nodes", tags=["products"], responses=ERRORS)
def detach_nodes(body: NodeSelectionRequest, session: SessionDep, principal: AdminDep) -> Response:
    detached, not_found = HierarchyService(session, principal).detach_nodes(
        body.data.filter, body.data.node_ids
    )
    return json_response({"meta": {"nodes_detached": detached, "nodes_not_found": not_found}})
