"""`/pcm/custom-relationships…` and `/pcm/products/{id}/custom-relationships…`: HTTP only."""

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
from assortment.db.models import CustomRelationship
from assortment.domain.custom_relationships import CustomRelationshipService
from assortment.schemas.custom_relationships import (
    AssociateRequest,
    CustomRelationshipCreateRequest,
    CustomRelationshipUpdateRequest,
    DissociateRequest,
    SlugReferencesRequest,
)

router = APIRouter(tags=["custom relationships"])

OPTIONAL = ("description", "sort_order", "external_name", "external_description")


def render_definition(definition: CustomRelationship) -> dict[str, Any]:
    attributes: dict[str, Any] = {"name": definition.name, "slug": definition.slug}
    for name in OPTIONAL:
        value = getattr(definition, name)
        if value is not None:
            attributes[name] = value
    attributes["bi_directional"] = definition.bi_directional
    return {
        "type": "custom-relationship",
        "id": str(definition.id),
        "attributes": attributes,
        "meta": {
            "owner": definition.owner,
            "timestamps": {
                "created_at": timestamp(definition.created_at),
                "updated_at": timestamp(definition.updated_at),
            },
        },
    }


# --- definitions ---


@router.post("/pcm/custom-relationships", status_code=201, responses=ERRORS)
def create_definition(
    body: CustomRelationshipCreateRequest, session: SessionDep, principal: AdminDep
) -> Response:
    definition = CustomRelationshipService(session, principal).create_definition(body.data.attributes)
    return json_response({"data": render_definition(definition)}, status_code=201)


@router.get("/pcm/custom-relationships", responses=ERRORS)
def list_definitions(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    page = CustomRelationshipService(session, principal).list_definitions(terms, paging)
    return json_response(list_document(request, page, [render_definition(d) for d in page.items]))


@router.get("/pcm/custom-relationships/{slug}", responses=ERRORS)
def get_definition(slug: str, session: SessionDep, principal: AdminDep) -> Response:
    return json_response(
        {"data": render_definition(CustomRelationshipService(session, principal).get_definition(slug))}
    )


@router.put("/pcm/custom-relationships/{slug}", responses=ERRORS)
def update_definition(
    slug: str, body: CustomRelationshipUpdateRequest, session: SessionDep, principal: AdminDep
) -> Response:
    definition = CustomRelationshipService(session, principal).update_definition(
        slug, body.data.id, body.data.attributes
    )
    return json_response({"data": render_definition(definition)})


@router.delete("/pcm/custom-relationships/{slug}", status_code=204, responses=ERRORS)
def delete_definition(slug: str, session: SessionDep, principal: AdminDep) -> Response:
    CustomRelationshipService(session, principal).delete_definition(slug)
    return no_content()


# --- attached to a product ---


def _attached_document(
    request: Request, service: CustomRelationshipService, product_id: str, paging: Any
) -> dict[str, Any]:
    page = service.attached(product_id, paging)
    return list_document(request, page, [render_definition(d) for d in page.items])


@router.post("/pcm/products/{product_id}/custom-relationships", status_code=201, responses=ERRORS)
def attach_definitions(
    product_id: str,
    body: SlugReferencesRequest,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
) -> Response:
    service = CustomRelationshipService(session, principal)
    service.attach(product_id, [ref.slug for ref in body.data])
    return json_response(_attached_document(request, service, product_id, paging), status_code=201)


@router.delete("/pcm/products/{product_id}/custom-relationships", status_code=204, responses=ERRORS)
def detach_definitions(
    product_id: str, body: SlugReferencesRequest, session: SessionDep, principal: AdminDep
) -> Response:
    CustomRelationshipService(session, principal).detach(product_id, [ref.slug for ref in body.data])
    return no_content()


@router.get("/pcm/products/{product_id}/custom-relationships", responses=ERRORS)
def list_attached(
    product_id: str, request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep
) -> Response:
    service = CustomRelationshipService(session, principal)
    return json_response(_attached_document(request, service, product_id, paging))


# --- associations ---


@router.post("/pcm/products/{product_id}/custom-relationships/{slug}", status_code=201, responses=ERRORS)
def associate(
    product_id: str, slug: str, body: AssociateRequest, session: SessionDep, principal: AdminDep
) -> Response:
    outcome = CustomRelationshipService(session, principal).associate(product_id, slug, body.data)
    at = timestamp(outcome.at)
    return json_response(
        {
            "meta": {
                "associated_products": outcome.associated,
                "products_not_associated": [
                    {"ID": pid, "Details": why} for pid, why in outcome.not_associated
                ],
                "owner": principal.owner,
                "timestamps": {"created_at": at, "updated_at": at},
            }
        },
        status_code=201,
    )


@router.delete("/pcm/products/{product_id}/custom-relationships/{slug}", status_code=204, responses=ERRORS)
def dissociate(
    product_id: str, slug: str, body: DissociateRequest, session: SessionDep, principal: AdminDep
) -> Response:
    CustomRelationshipService(session, principal).dissociate(
        product_id, slug, [item.id for item in body.data]
    )
    return no_content()


@router.get("/pcm/products/{product_id}/custom-relationships/{slug}", responses=ERRORS)
def list_associated_ids(
    product_id: str, slug: str, request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep
) -> Response:
    page = CustomRelationshipService(session, principal).related(product_id, slug, paging)
    data = []
    for association, product in page.items:
        item: dict[str, Any] = {"type": "product", "id": str(product.id)}
        if association.sort_order is not None:
            item["attributes"] = {"sort_order": association.sort_order}
        data.append(item)
    return json_response(list_document(request, page, data))


@router.get("/pcm/products/{product_id}/custom-relationships/{slug}/products", responses=ERRORS)
def list_associated_products(
    product_id: str, slug: str, request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep
) -> Response:
    service = CustomRelationshipService(session, principal)
    page = service.related(product_id, slug, paging)
    products = [product for _, product in page.items]
    return json_response(list_document(request, page, render_products(session, products)))
