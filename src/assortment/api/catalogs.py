"""`/pcm/catalogs…`: catalogs, publishing, releases and the release view. HTTP only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from assortment.api.catalog_documents import (
    cacheable,
    catalog_links,
    catalog_list_meta,
    document_page,
    render_catalog,
    render_release,
    single_document,
)
from assortment.api.deps import AdminDep, ContextDep, FilterDep, PagingDep, SessionDep, ShopperDep
from assortment.api.responses import json_response, no_content
from assortment.api.schemas_doc import ERRORS
from assortment.db.engine import in_snapshot
from assortment.domain.catalogs import CatalogService
from assortment.domain.paging import page_of_sorted
from assortment.domain.publish import publish, publish_lock_name
from assortment.domain.release_changes import ChangesService, change_document, change_order
from assortment.domain.releases import ReleaseRef, ReleaseService
from assortment.domain.tenancy import Principal
from assortment.schemas.catalogs import CatalogCreateRequest, CatalogUpdateRequest, PublishRequest

router = APIRouter(prefix="/pcm/catalogs", tags=["catalogs"])


def resolved(request: Request, service: ReleaseService, catalog_id: str, release_id: str) -> ReleaseRef:
    """Resolve the release and tell the read cache which one this request saw, at which version of the
    catalog's releases."""
    ref = service.resolve(catalog_id, release_id)
    request.state.release_id = str(ref.release.id)
    request.state.release_version = ref.catalog.release_version
    # For the fast read path (api/fast_reads.py): what this reference resolved to, for these scopes.
    request.state.catalog_uuid = ref.catalog.id
    request.state.release = ref.release  # detached and never changed (LatestReleases)
    request.state.scopes = service.principal.visible_scopes
    return ref


def view_service(request: Request, session: Session, principal: Principal) -> ReleaseService:
    """A release reader showing prices in the currency the request asks for (§9.6.3), resolving `latest`
    with the process's memory of it (`LatestReleases`)."""
    headers = request.headers
    return ReleaseService(
        session,
        principal,
        currency=headers.get("x-moltin-currency") or headers.get("ep-currency"),
        latest=request.app.state.latest_releases,
    )


view = APIRouter(prefix="/pcm/catalogs/{catalog_id}/releases/{release_id}", tags=["release view"])


@router.post("", status_code=201, responses=ERRORS)
def create_catalog(body: CatalogCreateRequest, session: SessionDep, principal: AdminDep) -> Response:
    catalog = CatalogService(session, principal).create(body.data.attributes)
    return json_response({"data": render_catalog(catalog)}, status_code=201)


@router.get("", responses=ERRORS)
def list_catalogs(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    page = CatalogService(session, principal).list_catalogs(terms, paging)
    return json_response(
        {
            "data": [render_catalog(c) for c in page.items],
            "links": catalog_links(request, page),
            "meta": catalog_list_meta(page),
        }
    )


@router.get("/{catalog_id}", responses=ERRORS)
def get_catalog(catalog_id: str, session: SessionDep, principal: AdminDep) -> Response:
    return json_response({"data": render_catalog(CatalogService(session, principal).get(catalog_id))})


@router.put("/{catalog_id}", responses=ERRORS)
def update_catalog(catalog_id: str, body: CatalogUpdateRequest, session: SessionDep, principal: AdminDep) -> Response:
    catalog = CatalogService(session, principal).update(catalog_id, body.data.id, body.data.attributes)
    return json_response({"data": render_catalog(catalog)})


@router.delete("/{catalog_id}", status_code=204, responses=ERRORS)
def delete_catalog(catalog_id: str, session: SessionDep, principal: AdminDep) -> Response:
    CatalogService(session, principal).delete(catalog_id)
    return no_content()


# --- releases ------------------------------------------------------------------------------------------


@router.post("/{catalog_id}/releases", status_code=201, responses=ERRORS)
async def publish_release(catalog_id: str, request: Request, context: ContextDep, principal: AdminDep) -> Response:
    """Publish synchronously; an empty body means `{}` (the JS SDK sends none). The release is written in a
    transaction of its own that reads one snapshot of the database (`in_snapshot`), not the request's."""
    from starlette.concurrency import run_in_threadpool

    raw = await request.body()
    try:
        options = PublishRequest.model_validate_json(raw) if raw.strip() else PublishRequest()
    except ValidationError as exc:  # answered like a body FastAPI validated: 400 bad JSON, else 422
        raise RequestValidationError(exc.errors()) from exc

    def work(session: Session) -> Response:
        release = publish(session, principal, catalog_id, export_full_delta=options.data.export_full_delta)
        catalog = CatalogService(session, principal).get(catalog_id)
        return json_response({"data": render_release(catalog, release)}, status_code=201)

    return await run_in_threadpool(in_snapshot, context.sessions, publish_lock_name(catalog_id), work)


@router.get("/{catalog_id}/releases", responses=ERRORS)
def list_releases(
    catalog_id: str, request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep
) -> Response:
    catalog, page = ReleaseService(session, principal).list_releases(catalog_id, paging)
    return json_response(
        {
            "data": [render_release(catalog, r) for r in page.items],
            "links": catalog_links(request, page),
            "meta": catalog_list_meta(page),
        }
    )


@router.delete("/{catalog_id}/releases", status_code=204, responses=ERRORS)
def delete_all_releases(catalog_id: str, request: Request, session: SessionDep, principal: AdminDep) -> Response:
    ReleaseService(session, principal).delete_all(catalog_id)
    return no_content()


@router.get("/{catalog_id}/releases/{release_id}", responses=ERRORS)
def get_release(catalog_id: str, release_id: str, session: SessionDep, principal: ShopperDep) -> Response:
    ref = ReleaseService(session, principal).resolve(catalog_id, release_id)
    return json_response({"data": render_release(ref.catalog, ref.release)})


@router.delete("/{catalog_id}/releases/{release_id}", status_code=204, responses=ERRORS)
def delete_release(
    catalog_id: str, release_id: str, request: Request, session: SessionDep, principal: AdminDep
) -> Response:
    ReleaseService(session, principal).delete_release(catalog_id, release_id)
    return no_content()


@router.post("/{catalog_id}/releases/{release_id}/restore", responses=ERRORS)
def restore_release(catalog_id: str, release_id: str, session: SessionDep, principal: AdminDep) -> Response:
    """Make a kept release the one `latest` and the shopper view name, at once (SPEC §10.2)."""
    ref = ReleaseService(session, principal).restore(catalog_id, release_id)
    return json_response({"data": render_release(ref.catalog, ref.release)})


@router.get("/{catalog_id}/releases/{release_id}/changes", responses=ERRORS)
def release_changes(
    catalog_id: str,
    release_id: str,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
    terms: FilterDep,
    since: Annotated[
        str | None,
        Query(
            description="A kept release of the catalog (id or `latest`) to compare with; default: the release that "
            "was latest when this one was published if still kept, else the kept release published just before it"
        ),
    ] = None,
) -> Response:
    """What changed between a release and `since` (SPEC §10.1): created, updated and deleted hierarchies,
    nodes and products, with the fields that differ; `meta.counts` over the whole (filtered) list."""
    service = ChangesService(session, principal)
    changes = service.compare(catalog_id, release_id, since, terms)
    page = page_of_sorted(changes.items, change_order, paging)
    entries = page.items
    fields = service.fields(changes, entries)
    since_id = str(changes.base.id) if changes.base is not None else None
    meta = {**catalog_list_meta(page), "counts": changes.counts, "since": since_id}
    data = [change_document(entry, fields[entry.key]) for entry in entries]
    return json_response({"data": data, "links": catalog_links(request, page), "meta": meta})


@router.get("/{catalog_id}/releases/{release_id}/delta", responses=ERRORS)
def get_delta(catalog_id: str, release_id: str, request: Request, session: SessionDep, principal: AdminDep) -> Response:
    service = view_service(request, session, principal)
    ref = service.resolve(catalog_id, release_id)
    return cacheable(request, service, b'{"data":' + (service.delta(ref) or b"[]") + b"}")


# --- the release view -------------------------------------------------------------------------------------


@view.get("/hierarchies", responses=ERRORS)
def view_hierarchies(
    catalog_id: str,
    release_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.hierarchies(resolved(request, service, catalog_id, release_id), terms, paging)
    return cacheable(request, service, document_page(request, page))


@view.get("/hierarchies/{hierarchy_id}", responses=ERRORS)
def view_hierarchy(
    catalog_id: str,
    release_id: str,
    hierarchy_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
) -> Response:
    service = view_service(request, session, principal)
    return cacheable(
        request,
        service,
        single_document(service.hierarchy(resolved(request, service, catalog_id, release_id), hierarchy_id)),
    )


@view.get("/hierarchies/{hierarchy_id}/nodes", responses=ERRORS)
def view_hierarchy_nodes(
    catalog_id: str,
    release_id: str,
    hierarchy_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.nodes(resolved(request, service, catalog_id, release_id), terms, paging, hierarchy_id=hierarchy_id)
    return cacheable(request, service, document_page(request, page))


@view.get("/hierarchies/{hierarchy_id}/children", responses=ERRORS)
def view_hierarchy_children(
    catalog_id: str,
    release_id: str,
    hierarchy_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.nodes(resolved(request, service, catalog_id, release_id), terms, paging, top_level_of=hierarchy_id)
    return cacheable(request, service, document_page(request, page))


@view.get("/hierarchies/{hierarchy_id}/products", responses=ERRORS)
@view.get("/hierarchies/{hierarchy_id}/relationships/products", responses=ERRORS, include_in_schema=False)
def view_hierarchy_products(
    catalog_id: str,
    release_id: str,
    hierarchy_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.hierarchy_products(resolved(request, service, catalog_id, release_id), hierarchy_id, terms, paging)
    return cacheable(request, service, document_page(request, page))


@view.get("/nodes", responses=ERRORS)
def view_nodes(
    catalog_id: str,
    release_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.nodes(resolved(request, service, catalog_id, release_id), terms, paging)
    return cacheable(request, service, document_page(request, page))


@view.get("/nodes/{node_id}", responses=ERRORS)
def view_node(
    catalog_id: str,
    release_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
) -> Response:
    service = view_service(request, session, principal)
    return cacheable(
        request, service, single_document(service.node(resolved(request, service, catalog_id, release_id), node_id))
    )


@view.get("/nodes/{node_id}/relationships/children", responses=ERRORS)
def view_node_children(
    catalog_id: str,
    release_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.nodes(resolved(request, service, catalog_id, release_id), terms, paging, parent_id=node_id)
    return cacheable(request, service, document_page(request, page))


@view.get("/nodes/{node_id}/relationships/products", responses=ERRORS)
def view_node_products(
    catalog_id: str,
    release_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.node_products(resolved(request, service, catalog_id, release_id), node_id, terms, paging)
    return cacheable(request, service, document_page(request, page))


@view.get("/products", responses=ERRORS)
def view_products(
    catalog_id: str,
    release_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.products(resolved(request, service, catalog_id, release_id), terms, paging)
    return cacheable(request, service, document_page(request, page))


@view.get("/products/{product_id}", responses=ERRORS)
def view_product(
    catalog_id: str,
    release_id: str,
    product_id: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
) -> Response:
    service = view_service(request, session, principal)
    return cacheable(
        request,
        service,
        single_document(service.product(resolved(request, service, catalog_id, release_id), product_id)),
    )


@view.get("/products/{product_id}/relationships/{slug}/products", responses=ERRORS)
def view_related_products(
    catalog_id: str,
    release_id: str,
    product_id: str,
    slug: str,
    request: Request,
    session: SessionDep,
    principal: ShopperDep,
    paging: PagingDep,
    terms: FilterDep,
) -> Response:
    service = view_service(request, session, principal)
    page = service.related_products(resolved(request, service, catalog_id, release_id), product_id, slug, terms, paging)
    return cacheable(request, service, document_page(request, page))
