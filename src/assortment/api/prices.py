"""`/v2/currencies…` and `/pcm/pricebooks…`: HTTP only; rules in domain/prices.py and price_rules.py.

Endpoints that read the body themselves are `async`; their database work runs in the thread pool, never
on the event loop: a write waiting there for a row lock would stop the loop, and with it the commit of
the request holding that lock (a deadlock within one server process)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from assortment.api.catalog_documents import catalog_links, catalog_list_meta
from assortment.api.deps import AdminDep, FilterDep, PagingDep, SessionDep, ShopperDep
from assortment.api.responses import json_response, no_content
from assortment.api.schemas_doc import ERRORS
from assortment.db.models import Currency, Price, Pricebook
from assortment.domain.formats import timestamp
from assortment.domain.paging import Paging
from assortment.domain.price_rules import MAX_AMOUNT
from assortment.domain.prices import (
    CURRENCY_FIELDS,
    CurrencyService,
    PricebookService,
    PriceService,
)
from assortment.domain.tenancy import owner_of
from assortment.errors import BadRequest, ValidationFailed

router = APIRouter(tags=["prices"])

# What the bodies look like, for the OpenAPI document (and so for generated clients and the contract
# fuzzer). The handlers read the body themselves and check it with the domain rules, which stay the
# authority: these schemas describe, they do not validate.


def _body_doc(data: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "required": ["data"], "properties": {"data": data}}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _only_these(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object of these properties and no others: an unknown one is a 422 (price and price book
    attributes, tiers, sales); elsewhere unknown members are ignored."""
    return {**_object(required, **properties), "additionalProperties": False}


_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_REFERENCE = {"type": ["string", "null"], "maxLength": 2048}
_AMOUNT = {"type": "integer", "minimum": 0, "maximum": MAX_AMOUNT}
# Values of null remove a key on update.
_STRING_MAP = {"type": ["object", "null"], "additionalProperties": {"type": ["string", "null"]}, "maxProperties": 100}
_CURRENCY_FIELDS_DOC = {
    "code": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
    "format": {"type": "string", "pattern": "\\{price\\}", "description": "a template holding {price}, e.g. ${price}"},
    "decimal_point": {"type": "string", "minLength": 1, "maxLength": 3},
    "thousand_separator": {"type": "string", "maxLength": 3},
    "decimal_places": {"type": "integer", "minimum": 0, "maximum": 8},
    "exchange_rate": {"type": "number", "minimum": 0},
    "default": {"type": "boolean"},
    "enabled": {"type": "boolean"},
}
_TIERS = {
    "type": "object",
    "additionalProperties": _only_these(
        ["minimum_quantity", "amount"],
        minimum_quantity={"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT},
        amount=_AMOUNT,
    ),
}
_CURRENCY_AMOUNTS = {
    "type": "object",
    "description": "amounts in minor units by 3-letter currency code",
    "additionalProperties": _only_these(["amount"], amount=_AMOUNT, includes_tax={"type": "boolean"}, tiers=_TIERS),
}
_SALE = _only_these(
    ["currencies"],
    schedule={
        **_only_these([], valid_from={"type": ["string", "null"]}, valid_to={"type": ["string", "null"]}),
        "type": ["object", "null"],
        "description": "ISO 8601 instants; valid_from before valid_to",
    },
    bundle_ids={"type": "array", "items": {"type": "string", "format": "uuid"}},
    currencies=_CURRENCY_AMOUNTS,
)
_PRICE_ATTRIBUTES_DOC = {
    "sku": {"type": "string", "minLength": 1, "maxLength": 255},
    "currencies": _CURRENCY_AMOUNTS,
    "sales": {"type": ["object", "null"], "additionalProperties": _SALE},
    "external_ref": _REFERENCE,
    "admin_attributes": _STRING_MAP,
    "shopper_attributes": _STRING_MAP,
}
_PRICEBOOK_ATTRIBUTES_DOC = {
    "name": {"type": "string", "minLength": 1},
    "description": _NULLABLE_TEXT,
    "external_ref": _REFERENCE,
}


CURRENCY_CREATE_BODY = _body_doc(
    _object(["type", *CURRENCY_FIELDS], type={"type": "string", "enum": ["currency"]}, **_CURRENCY_FIELDS_DOC)
)
CURRENCY_UPDATE_BODY = _body_doc(_object([], type={"type": "string", "enum": ["currency"]}, **_CURRENCY_FIELDS_DOC))
PRICEBOOK_CREATE_BODY = _body_doc(
    _object(
        ["type", "attributes"],
        type={"type": "string", "enum": ["pricebook"]},
        attributes=_only_these(["name"], **_PRICEBOOK_ATTRIBUTES_DOC),
    )
)
PRICEBOOK_UPDATE_BODY = _body_doc(
    _object(
        ["type", "id"],
        type={"type": "string", "enum": ["pricebook"]},
        id=_TEXT,
        attributes=_only_these([], **_PRICEBOOK_ATTRIBUTES_DOC),
    )
)
PRICE_CREATE_BODY = _body_doc(
    _object(
        ["type", "attributes"],
        type={"type": "string", "enum": ["product-price"]},
        attributes=_only_these(["sku", "currencies"], **_PRICE_ATTRIBUTES_DOC),
    )
)
PRICE_UPDATE_BODY = _body_doc(
    _object(
        ["type", "id"],
        type={"type": "string", "enum": ["product-price"]},
        id=_TEXT,
        attributes=_only_these([], **_PRICE_ATTRIBUTES_DOC),
    )
)


async def _data(request: Request, expected_type: str | None) -> dict[str, Any]:
    """The `data` object of a JSON body, with its `type` checked when one is required."""
    raw = await request.body()
    try:
        body = await request.json() if raw.strip() else None
    except ValueError as exc:
        raise BadRequest("Request body is not valid JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ValidationFailed("data: must be an object")
    data: dict[str, Any] = body["data"]
    if expected_type is not None and data.get("type") != expected_type:
        raise ValidationFailed(f"data.type: must be {expected_type}")
    return data


def _attributes(data: dict[str, Any]) -> dict[str, Any]:
    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict):
        raise ValidationFailed("data.attributes: must be an object")
    return attributes


# --- currencies ------------------------------------------------------------------------------------------


def render_currency(currency: Currency) -> dict[str, Any]:
    return {
        "type": "currency",
        "id": str(currency.id),
        "code": currency.code,
        "exchange_rate": currency.exchange_rate,
        "format": currency.format,
        "decimal_point": currency.decimal_point,
        "thousand_separator": currency.thousand_separator,
        "decimal_places": currency.decimal_places,
        "default": currency.is_default,
        "enabled": currency.enabled,
        "links": {"self": f"/v2/currencies/{currency.id}"},
        "meta": {
            "owner": owner_of(currency.scope_id),
            "timestamps": {"created_at": timestamp(currency.created_at), "updated_at": timestamp(currency.updated_at)},
        },
    }


def _currency_values(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in CURRENCY_FIELDS if name in data}


@router.post("/v2/currencies", status_code=201, responses=ERRORS, openapi_extra=CURRENCY_CREATE_BODY)
async def create_currency(request: Request, session: SessionDep, principal: AdminDep) -> Response:
    data = await _data(request, "currency")

    def work() -> Response:
        currency = CurrencyService(session, principal).create(_currency_values(data))
        return json_response({"data": render_currency(currency)}, status_code=201)

    return await run_in_threadpool(work)


@router.get("/v2/currencies", responses=ERRORS)
def list_currencies(request: Request, session: SessionDep, principal: ShopperDep, paging: PagingDep) -> Response:
    page = CurrencyService(session, principal).list_currencies(paging)
    return json_response(
        {
            "data": [render_currency(c) for c in page.items],
            "links": catalog_links(request, page),
            "meta": catalog_list_meta(page),
        }
    )


@router.get("/v2/currencies/{currency_id}", responses=ERRORS)
def get_currency(currency_id: str, session: SessionDep, principal: ShopperDep) -> Response:
    return json_response({"data": render_currency(CurrencyService(session, principal).get(currency_id))})


@router.put("/v2/currencies/{currency_id}", responses=ERRORS, openapi_extra=CURRENCY_UPDATE_BODY)
async def update_currency(currency_id: str, request: Request, session: SessionDep, principal: AdminDep) -> Response:
    data = await _data(request, None)
    if "type" in data and data["type"] != "currency":
        raise ValidationFailed("data.type: must be currency")

    def work() -> Response:
        currency = CurrencyService(session, principal).update(currency_id, _currency_values(data))
        return json_response({"data": render_currency(currency)})

    return await run_in_threadpool(work)


@router.delete("/v2/currencies/{currency_id}", status_code=204, responses=ERRORS)
def delete_currency(currency_id: str, session: SessionDep, principal: AdminDep) -> Response:
    CurrencyService(session, principal).delete(currency_id)
    return no_content()


# --- price books -----------------------------------------------------------------------------------------


def render_pricebook(book: Pricebook) -> dict[str, Any]:
    attributes: dict[str, Any] = {"name": book.name}
    if book.description is not None:
        attributes["description"] = book.description
    if book.external_ref is not None:
        attributes["external_ref"] = book.external_ref
    attributes["created_at"] = timestamp(book.created_at)
    attributes["updated_at"] = timestamp(book.updated_at)
    return {
        "type": "pricebook",
        "id": str(book.id),
        "attributes": attributes,
        "meta": {"owner": book.owner},
    }


def pricebook_document(book: Pricebook) -> dict[str, Any]:
    """A price book as its GET answers it: `links` beside `data`, not in it (SPEC §9.2)."""
    return {"data": render_pricebook(book), "links": {"self": f"/pcm/pricebooks/{book.id}"}}


def render_price(price: Price, book: Pricebook) -> dict[str, Any]:
    """A price; its owner is its book's (not the caller's: a store token may read organization books)."""
    attributes: dict[str, Any] = {"sku": price.sku, "currencies": price.currencies}
    for name in ("sales", "external_ref", "admin_attributes", "shopper_attributes"):
        value = getattr(price, name)
        if value is not None:
            attributes[name] = value
    attributes["created_at"] = timestamp(price.created_at)
    attributes["updated_at"] = timestamp(price.updated_at)
    return {
        "type": "product-price",
        "id": str(price.id),
        "attributes": attributes,
        "meta": {"owner": book.owner, "pricebook_id": str(book.id)},
    }


def price_document(price: Price, book: Pricebook) -> dict[str, Any]:
    """A price as its GET answers it: `links` beside `data`, not in it (SPEC §9.3)."""
    return {"data": render_price(price, book), "links": {"self": f"/pcm/pricebooks/{book.id}/prices/{price.id}"}}


@router.post("/pcm/pricebooks", status_code=201, responses=ERRORS, openapi_extra=PRICEBOOK_CREATE_BODY)
async def create_pricebook(request: Request, session: SessionDep, principal: AdminDep) -> Response:
    data = await _data(request, "pricebook")

    def work() -> Response:
        book = PricebookService(session, principal).create(_attributes(data))
        return json_response(pricebook_document(book), status_code=201)

    return await run_in_threadpool(work)


@router.get("/pcm/pricebooks", responses=ERRORS)
def list_pricebooks(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    page = PricebookService(session, principal).list_books(terms, paging)
    return json_response(
        {
            "data": [render_pricebook(b) for b in page.items],
            "links": catalog_links(request, page),
            "meta": catalog_list_meta(page),
        }
    )


@router.get("/pcm/pricebooks/prices", responses=ERRORS)
def list_all_prices(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    service = PriceService(session, principal)
    page = service.list_prices(None, terms, paging)
    return json_response(
        {
            "data": [render_price(p, service.book_of(p)) for p in page.items],
            "links": catalog_links(request, page),
            "meta": catalog_list_meta(page),
        }
    )


@router.get("/pcm/pricebooks/{pricebook_id}", responses=ERRORS)
def get_pricebook(pricebook_id: str, request: Request, session: SessionDep, principal: AdminDep) -> Response:
    book = PricebookService(session, principal).get(pricebook_id)
    document = pricebook_document(book)
    include = request.query_params.get("include")
    if include is not None:
        if include != "prices":
            raise BadRequest("include may only be prices")
        prices = PriceService(session, principal).list_prices(pricebook_id, None, _all())
        document["included"] = [render_price(p, book) for p in prices.items]
    return json_response(document)


def _all() -> Paging:
    return Paging(limit=10_000, offset=0)


@router.put("/pcm/pricebooks/{pricebook_id}", responses=ERRORS, openapi_extra=PRICEBOOK_UPDATE_BODY)
async def update_pricebook(pricebook_id: str, request: Request, session: SessionDep, principal: AdminDep) -> Response:
    data = await _data(request, "pricebook")

    def work() -> Response:
        book = PricebookService(session, principal).update(pricebook_id, data.get("id"), _attributes(data))
        return json_response(pricebook_document(book))

    return await run_in_threadpool(work)


@router.delete("/pcm/pricebooks/{pricebook_id}", status_code=204, responses=ERRORS)
def delete_pricebook(pricebook_id: str, session: SessionDep, principal: AdminDep) -> Response:
    PricebookService(session, principal).delete(pricebook_id)
    return no_content()


# --- prices ------------------------------------------------------------------------------------------------


@router.post(
    "/pcm/pricebooks/{pricebook_id}/prices", status_code=201, responses=ERRORS, openapi_extra=PRICE_CREATE_BODY
)
async def create_price(pricebook_id: str, request: Request, session: SessionDep, principal: AdminDep) -> Response:
    data = await _data(request, "product-price")

    def work() -> Response:
        service = PriceService(session, principal)
        price = service.create(pricebook_id, _attributes(data))
        return json_response(price_document(price, service.book_of(price)), status_code=201)

    return await run_in_threadpool(work)


@router.get("/pcm/pricebooks/{pricebook_id}/prices", responses=ERRORS)
def list_prices(
    pricebook_id: str, request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    service = PriceService(session, principal)
    page = service.list_prices(pricebook_id, terms, paging)
    return json_response(
        {
            "data": [render_price(p, service.book_of(p)) for p in page.items],
            "links": catalog_links(request, page),
            "meta": catalog_list_meta(page),
        }
    )


@router.get("/pcm/pricebooks/{pricebook_id}/prices/{price_id}", responses=ERRORS)
def get_price(pricebook_id: str, price_id: str, session: SessionDep, principal: AdminDep) -> Response:
    service = PriceService(session, principal)
    price = service.get(pricebook_id, price_id)
    return json_response(price_document(price, service.book_of(price)))


@router.put("/pcm/pricebooks/{pricebook_id}/prices/{price_id}", responses=ERRORS, openapi_extra=PRICE_UPDATE_BODY)
async def update_price(
    pricebook_id: str, price_id: str, request: Request, session: SessionDep, principal: AdminDep
) -> Response:
    data = await _data(request, "product-price")

    def work() -> Response:
        service = PriceService(session, principal)
        price = service.update(pricebook_id, price_id, data.get("id"), _attributes(data))
        return json_response(price_document(price, service.book_of(price)))

    return await run_in_threadpool(work)


@router.delete("/pcm/pricebooks/{pricebook_id}/prices/{price_id}", status_code=204, responses=ERRORS)
def delete_price(pricebook_id: str, price_id: str, session: SessionDep, principal: AdminDep) -> Response:
    PriceService(session, principal).delete(pricebook_id, price_id)
    return no_content()
