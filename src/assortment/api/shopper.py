"""`/catalog…`: the shopper view of the release the catalog rules choose (SPEC §5). HTTP only.

The documents are the release's own, with their links moved from `/pcm/catalogs/{cid}/releases/{rid}`
to `/catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from assortment.api.catalog_documents import cacheable, document_page, render_release, single_document
from assortment.api.catalogs import view_service
from assortment.api.deps import FilterDep, PagingDep, SessionDep, ShopperDep
from assortment.api.responses import json_response
from assortment.api.schemas_doc import ERRORS
from assortment.domain.catalog_rules import CatalogRuleService, ShopperContext
from assortment.domain.publish import release_base
from assortment.domain.releases import ReleaseRef, ReleaseService

router = APIRouter(prefix="/catalog", tags=["shopper catalog"])


@dataclass(frozen=True)
class ShopperRelease:
    service: ReleaseService
    ref: ReleaseRef
    rebase: tuple[bytes, bytes]


def shopper_release(request: Request, session: SessionDep, principal: ShopperDep) -> ShopperRelease:
    headers = request.headers
    context = ShopperContext(
        channel=headers.get("ep-channel"),
        tag=headers.get("ep-context-tag"),
        customer_id=headers.get("x-moltin-customer-id"),
        account_id=headers.get("ep-account-id"),
    )
    catalog = CatalogRuleService(session, principal).shopper_catalog(context)
    service = view_service(request, session, principal)
    ref = service.resolve_in(catalog, "latest")
    # For the fast read path (api/fast_reads.py): the latest release of this catalog, at this version.
    request.state.catalog_uuid = catalog.id
    request.state.release = ref.release  # detached and never changed (LatestReleases)
    request.state.release_version = catalog.release_version
    return ShopperRelease(service, ref, (release_base(catalog.id, ref.release.id).encode(), b"/catalog"))


Shopper = Annotated[ShopperRelease, Depends(shopper_release)]


@router.get("", responses=ERRORS)
def get_catalog_release(shopper: Shopper) -> Response:
    return json_response({"data": render_release(shopper.ref.catalog, shopper.ref.release)})


@router.get("/hierarchies", responses=ERRORS)
def hierarchies(request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep) -> Response:
    page = shopper.service.hierarchies(shopper.ref, terms, paging)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))


@router.get("/hierarchies/{hierarchy_id}", responses=ERRORS)
def hierarchy(hierarchy_id: str, request: Request, shopper: Shopper) -> Response:
    document = shopper.service.hierarchy(shopper.ref, hierarchy_id)
    return cacheable(request, shopper.service, single_document(document, rebase=shopper.rebase))


@router.get("/hierarchies/{hierarchy_id}/nodes", responses=ERRORS)
def hierarchy_nodes(
    hierarchy_id: str, request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep
) -> Response:
    page = shopper.service.nodes(shopper.ref, terms, paging, hierarchy_id=hierarchy_id)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))


@router.get("/hierarchies/{hierarchy_id}/children", responses=ERRORS)
def hierarchy_children(
    hierarchy_id: str, request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep
) -> Response:
    page = shopper.service.nodes(shopper.ref, terms, paging, top_level_of=hierarchy_id)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))


@router.get("/hierarchies/{hierarchy_id}/products", responses=ERRORS)
def hierarchy_products(
    hierarchy_id: str, request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep
) -> Response:
    page = shopper.service.hierarchy_products(shopper.ref, hierarchy_id, terms, paging)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))


@router.get("/nodes", responses=ERRORS)
def nodes(request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep) -> Response:
    page = shopper.service.nodes(shopper.ref, terms, paging)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))


@router.get("/nodes/{node_id}", responses=ERRORS)
def node(node_id: str, request: Request, shopper: Shopper) -> Response:
    return cacheable(
        request, shopper.service, single_document(shopper.service.node(shopper.ref, node_id), rebase=shopper.rebase)
    )


@router.get("/nodes/{node_id}/relationships/children", responses=ERRORS)
def node_children(node_id: str, request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep) -> Response:
    page = shopper.service.nodes(shopper.ref, terms, paging, parent_id=node_id)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))


@router.get("/nodes/{node_id}/relationships/products", responses=ERRORS)
def node_products(node_id: str, request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep) -> Response:
    page = shopper.service.node_products(shopper.ref, node_id, terms, paging)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))


@router.get("/products", responses=ERRORS)
def products(request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep) -> Response:
    page = shopper.service.products(shopper.ref, terms, paging)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))


@router.get("/products/{product_id}", responses=ERRORS)
def product(product_id: str, request: Request, shopper: Shopper) -> Response:
    document = shopper.service.product(shopper.ref, product_id)
    return cacheable(request, shopper.service, single_document(document, rebase=shopper.rebase))


@router.get("/products/{product_id}/relationships/{slug}/products", responses=ERRORS)
def related_products(
    product_id: str, slug: str, request: Request, shopper: Shopper, paging: PagingDep, terms: FilterDep
) -> Response:
    page = shopper.service.related_products(shopper.ref, product_id, slug, terms, paging)
    return cacheable(request, shopper.service, document_page(request, page, rebase=shopper.rebase))
