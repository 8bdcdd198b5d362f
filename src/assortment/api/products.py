"""`/pcm/products`: HTTP only; the rules are in domain/products.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from assortment.api.deps import AdminDep, FilterDep, PagingDep, SessionDep
from assortment.api.jsonapi import list_document
from assortment.api.render import timestamp
from assortment.api.responses import json_response, no_content
from assortment.api.schemas_doc import ERRORS
from assortment.db.models import Product
from assortment.db.repositories.product_reads import ProductRecord
from assortment.domain import events, pim_reads
from assortment.domain.custom_relationships import relationship_slugs
from assortment.domain.products import ProductService
from assortment.schemas.products import (
    ProductCreateRequest,
    ProductDocument,
    ProductListDocument,
    ProductUpdateRequest,
)

router = APIRouter(prefix="/pcm/products", tags=["products"])

OPTIONAL_ATTRIBUTES = ("description", "slug", "sku", "upc_ean", "mpn", "external_ref", "tags", "locales")


def render_products(session: Session, products: Sequence[Product]) -> list[dict[str, Any]]:
    """Render products with the custom relationships attached to each (one query for all)."""
    slugs = relationship_slugs(session, products)
    return [render_product(p, slugs.get(p.pk, [])) for p in products]


def render_product(product: Product | ProductRecord, slugs: Sequence[str] = ()) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "name": product.name,
        "commodity_type": product.commodity_type,
        "status": product.status,
    }
    for name in OPTIONAL_ATTRIBUTES:
        value = getattr(product, name)
        if value is not None:
            attributes[name] = value
    base = f"/products/{product.id}"
    return {
        "type": "product",
        "id": str(product.id),
        "attributes": attributes,
        "relationships": {
            "children": {"data": [], "links": {"self": f"{base}/children"}},
            "component_products": {"data": [], "links": {"self": f"{base}/relationships/component_products"}},
            "files": {"data": [], "links": {"self": f"{base}/relationships/files"}},
            "main_image": {"data": None},
            "templates": {"data": [], "links": {"self": f"{base}/relationships/templates"}},
            "variations": {"data": [], "links": {"self": f"{base}/relationships/variations"}},
            "custom_relationships": {
                "data": [],
                "links": {
                    "self": f"{base}/custom-relationships",
                    **{slug: f"{base}/custom-relationships/{slug}/products" for slug in slugs},
                },
            },
        },
        "meta": {
            "created_at": created if isinstance(created := product.created_at, str) else timestamp(created),
            "updated_at": updated if isinstance(updated := product.updated_at, str) else timestamp(updated),
            "owner": product.owner,
            "product_types": ["standard"],
            "variation_matrix": {},
            "custom_relationships": list(slugs),
        },
    }


@router.post("", status_code=201, responses={201: {"model": ProductDocument}, **ERRORS})
def create_product(body: ProductCreateRequest, session: SessionDep, principal: AdminDep) -> Response:
    product = ProductService(session, principal).create(body.data.attributes)
    document = render_products(session, [product])[0]
    events.rendered(session, "product", product, document)  # the event carries the same document
    return json_response({"data": document}, status_code=201)


@router.get("", responses={200: {"model": ProductListDocument}, **ERRORS})
def list_products(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    if not paging.by_cursor:
        fast = pim_reads.products(session, principal, terms, paging)
        return json_response(list_document(request, fast, [render_product(*item) for item in fast.items]))
    page = ProductService(session, principal).list(terms, paging)
    return json_response(list_document(request, page, render_products(session, page.items)))


@router.get("/{product_id}", responses={200: {"model": ProductDocument}, **ERRORS})
def get_product(product_id: str, session: SessionDep, principal: AdminDep) -> Response:
    return json_response({"data": render_product(*pim_reads.product(session, principal, product_id))})


@router.put("/{product_id}", responses={200: {"model": ProductDocument}, **ERRORS})
def update_product(
    product_id: str, body: ProductUpdateRequest, session: SessionDep, principal: AdminDep
) -> Response:
    product = ProductService(session, principal).update(product_id, body.data.id, body.data.attributes)
    document = render_products(session, [product])[0]
    events.rendered(session, "product", product, document)  # the event carries the same document
    return json_response({"data": document})


@router.delete("/{product_id}", status_code=204, responses=ERRORS)
def delete_product(product_id: str, session: SessionDep, principal: AdminDep) -> Response:
    ProductService(session, principal).delete(product_id)
    return no_content()
