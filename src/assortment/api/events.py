"""`/v2/events` (SPEC §11.4), and how events render the resources they carry (the documents of their GETs)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from assortment.api import catalog_documents as _renders_releases  # noqa: F401  (catalog-release)
from assortment.api.catalog_rules import render_rule
from assortment.api.custom_relationships import render_definition
from assortment.api.deps import AdminDep, FilterDep, SessionDep
from assortment.api.hierarchies import render_hierarchy, render_node
from assortment.api.prices import price_document, pricebook_document, render_currency
from assortment.api.products import render_product, render_products
from assortment.api.render import timestamp
from assortment.api.responses import json_response
from assortment.api.schemas_doc import ERRORS
from assortment.db.models import Event
from assortment.domain import events
from assortment.domain.events import EventService
from assortment.domain.hierarchies import HierarchyService
from assortment.domain.paging import Paging
from assortment.domain.tenancy import Principal
from assortment.errors import BadRequest

router = APIRouter(tags=["events"])

_NOBODY = Principal(key_id=uuid.UUID(int=0), store_id=None, grant="client_credentials")


def _product(session: Session, product: Any) -> dict[str, Any]:
    return {"data": render_products(session, [product])[0]}


def _hierarchy(_session: Session, hierarchy: Any) -> dict[str, Any]:
    return {"data": render_hierarchy(hierarchy)}


def _node(session: Session, node: Any) -> dict[str, Any]:
    # describe() reads the hierarchy and ancestors by key; the caller's scope plays no part.
    return {"data": render_node(HierarchyService(session, _NOBODY).describe([node])[0])}


events.register_renderer("product", _product, new=render_product)
events.register_renderer("hierarchy", _hierarchy)
events.register_renderer("node", _node)
events.register_renderer("custom-relationship", lambda _s, definition: {"data": render_definition(definition)})
events.register_renderer("catalog-rule", lambda _s, service_and_rule: {"data": render_rule(*service_and_rule)})
events.register_renderer("currency", lambda _s, currency: {"data": render_currency(currency)})
events.register_renderer("pricebook", lambda _s, book: pricebook_document(book))
events.register_renderer("price", lambda _s, price_and_book: price_document(*price_and_book))


def render_event(event: Any, *, with_payload: bool = False) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "triggered_by": event.triggered_by,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "created_at": timestamp(event.created_at),
        "actor": {"type": event.actor_type, "id": event.actor_id},
    }
    if with_payload:
        attributes["payload"] = event.payload
    return {"type": "event", "id": str(event.id), "attributes": attributes, "links": {"self": f"/v2/events/{event.id}"}}


@router.get("/v2/events", responses=ERRORS)
def list_events(request: Request, session: SessionDep, principal: AdminDep, terms: FilterDep) -> Response:
    params = request.query_params
    if params.get("page[offset]") is not None:
        raise BadRequest("the event feed pages by page[after] only")
    limit = Paging.parse(params.get("page[limit]"), None).limit
    filter_text = params.get("filter")
    page = EventService(session, principal).feed(terms, filter_text, params.get("page[after]", ""), limit)
    suffix = f"&page[limit]={limit}" + (
        "" if filter_text is None else f"&filter={quote(filter_text, safe='(),:|*._-~')}"
    )
    path = request.url.path
    return json_response(
        {
            "data": [render_event(e) for e in page.items],
            "links": {
                "first": f"{path}?page[after]={suffix}",
                "next": f"{path}?page[after]={page.next_cursor}{suffix}",
            },
            "meta": {"page": {"limit": limit}},
        }
    )


@router.get("/v2/events/{event_id}", responses=ERRORS)
def get_event(event_id: str, session: SessionDep, principal: AdminDep) -> Response:
    event: Event = EventService(session, principal).get(event_id)
    return json_response({"data": render_event(event, with_payload=True)})
