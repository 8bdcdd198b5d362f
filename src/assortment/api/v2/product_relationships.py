"""The v2 dialect: `/api/v2/product_relationships…` and `/api/v2/relationships…` (seed 004).

Bodies are validated here exactly as seed 004 states (a hash wrapper, integer ids, string codes, a
status of active/inactive, an integer sort order); the rules live in domain/product_relationships.py.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from starlette.responses import Response

from assortment.api.deps import AdminDep, SessionDep
from assortment.api.render import timestamp
from assortment.api.responses import json_response, no_content
from assortment.api.schemas_doc import ERRORS
from assortment.db.filters import parse_instant
from assortment.db.models import CustomRelationship
from assortment.domain.parsing import parse_natural
from assortment.domain.product_relationships import (
    STATUSES,
    LinkRequest,
    LinkView,
    ProductRelationshipService,
    Reference,
    code_of,
)
from assortment.errors import NotFound, ValidationFailed

router = APIRouter(prefix="/api/v2", tags=["v2 product relationships"])

INT32 = 2**31 - 1
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
ID_FIELDS = ("relationship_id", "parent_product_id", "child_product_id")
CODE_FIELDS = ("relationship_code", "parent_product_code", "child_product_code")

BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["product_relationship"],
                    "properties": {
                        "product_relationship": {
                            "type": "object",
                            "properties": {
                                **{name: {"type": ["integer", "null"]} for name in ID_FIELDS},
                                **{name: {"type": ["string", "null"]} for name in CODE_FIELDS},
                                "status": {"type": ["string", "null"], "enum": [*STATUSES, None]},
                                "sort_order": {"type": ["integer", "null"]},
                            },
                        }
                    },
                }
            }
        },
    }
}
TYPE_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["relationship"],
                    "properties": {
                        "relationship": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "code": {"type": "string"}},
                        }
                    },
                }
            }
        },
    }
}


# Handlers are plain functions (run in the thread pool, never blocking the event loop on the database);
# FastAPI parses the JSON body: malformed JSON is a 400, an absent body is None.
JsonBody = Annotated[Any, Body()]


def _wrapper(body: Any, name: str) -> dict[str, Any]:
    if not isinstance(body, dict) or name not in body:
        raise ValidationFailed(f"{name}: is required")
    inner = body[name]
    if not isinstance(inner, dict):
        raise ValidationFailed(f"{name}: must be a Hash")
    return inner


def _integer(name: str, value: Any, *, lower: int = -INT32) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"product_relationship[{name}]: must be an Integer")
    if not lower <= value <= INT32:
        raise ValidationFailed(f"product_relationship[{name}]: is out of range")
    return value


def _string(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"product_relationship[{name}]: must be a String")
    if "\x00" in value:  # PostgreSQL cannot even compare with one
        raise ValidationFailed(f"product_relationship[{name}]: must not contain NUL characters")
    return value


def parse_link(body: Any) -> LinkRequest:
    inner = _wrapper(body, "product_relationship")
    ids = {name: _integer(name, inner.get(name), lower=1) for name in ID_FIELDS}
    codes = {name: _string(name, inner.get(name)) for name in CODE_FIELDS}
    status = inner.get("status")
    if status is not None and status not in STATUSES:
        raise ValidationFailed("product_relationship[status]: must be one of: inactive, active")
    sort_order = _integer("sort_order", inner.get("sort_order"))
    return LinkRequest(
        relationship=Reference(ids["relationship_id"], codes["relationship_code"]),
        parent=Reference(ids["parent_product_id"], codes["parent_product_code"]),
        child=Reference(ids["child_product_id"], codes["child_product_code"]),
        status=status,
        sort_order=sort_order,
        sent=frozenset(k for k in inner if k == "sort_order"),
    )


def render_link(view: LinkView) -> dict[str, Any]:
    edge = view.association
    return {
        "id": edge.pk,
        "sort_order": edge.sort_order,
        "status": edge.status,
        "relationship": render_type(view.relationship),
        "parent_product": {"id": view.parent.pk, "code": view.parent.sku, "name": view.parent.name},
        "child_product": {"id": view.child.pk, "code": view.child.sku, "name": view.child.name},
        "created_time": timestamp(edge.created_at),
        "updated_time": timestamp(edge.updated_at),
    }


def render_type(definition: CustomRelationship) -> dict[str, Any]:
    return {"id": definition.pk, "name": definition.name, "code": code_of(definition)}


def _page_params(request: Request) -> tuple[int, int]:
    def number(name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        value = parse_natural(raw, max_digits=9)
        if value is None or value < 1:
            raise ValidationFailed(f"{name}: must be a positive Integer")
        return value

    return number("page", 1), min(number("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)


def _page_document(page: int, per_page: int, total: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "page": page,
        "per_page": per_page,
        "total_pages": math.ceil(total / per_page) if total else 0,
        "total_entries": total,
        "entries": entries,
    }


def _path_id(raw: str, what: str) -> int:
    value = parse_natural(raw, max_digits=9)
    if value is None:
        raise NotFound(f"{what} {raw} not found")
    return value


def _filter_id(raw: str) -> int:
    """An id in the query: a bad one is a bad parameter (422), not a missing resource (404)."""
    value = parse_natural(raw, max_digits=9)
    if value is None:
        raise ValidationFailed("id: must be a positive Integer")
    return value


# --- product relationships -------------------------------------------------------------------------


@router.post("/product_relationships", status_code=201, responses=ERRORS, openapi_extra=BODY_DOC)
def create_link(session: SessionDep, principal: AdminDep, body: JsonBody = None) -> Response:
    link = parse_link(body)
    service = ProductRelationshipService(session, principal)
    edge = service.create(link)
    return json_response(render_link(service.describe([edge])[0]), status_code=201)


@router.get("/product_relationships", responses=ERRORS)
def list_links(request: Request, session: SessionDep, principal: AdminDep) -> Response:
    page, per_page = _page_params(request)
    params = request.query_params
    ids = [_filter_id(part) for part in params.get("id", "").split(",") if part] if "id" in params else []
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise ValidationFailed("status: must be one of: inactive, active")

    def instant(name: str) -> Any:
        raw = params.get(name)
        if raw is None:
            return None
        try:
            return parse_instant(raw)
        except ValueError as exc:
            raise ValidationFailed(f"{name}: must be an ISO 8601 time") from exc

    service = ProductRelationshipService(session, principal)
    edges, total = service.list_links(
        page=page,
        per_page=per_page,
        ids=ids,
        status=status,
        created_from=instant("created_time_from"),
        created_to=instant("created_time_to"),
        updated_from=instant("updated_time_from"),
        updated_to=instant("updated_time_to"),
    )
    return json_response(
        _page_document(page, per_page, total, [render_link(v) for v in service.describe(edges)])
    )


@router.get("/product_relationships/{link_id}", responses=ERRORS)
def get_link(link_id: str, session: SessionDep, principal: AdminDep) -> Response:
    service = ProductRelationshipService(session, principal)
    edge = service.get(_path_id(link_id, "product relationship"))
    return json_response(render_link(service.describe([edge])[0]))


@router.put("/product_relationships/{link_id}", responses=ERRORS, openapi_extra=BODY_DOC)
def update_link(link_id: str, session: SessionDep, principal: AdminDep, body: JsonBody = None) -> Response:
    pk = _path_id(link_id, "product relationship")
    link = parse_link(body)
    service = ProductRelationshipService(session, principal)
    edge = service.update(pk, link)
    return json_response(render_link(service.describe([edge])[0]))


@router.delete("/product_relationships/{link_id}", status_code=204, responses=ERRORS)
def delete_link(link_id: str, session: SessionDep, principal: AdminDep) -> Response:
    ProductRelationshipService(session, principal).delete(_path_id(link_id, "product relationship"))
    return no_content()


# --- relationship types -----------------------------------------------------------------------------


def _type_fields(body: Any) -> tuple[str | None, str | None, frozenset[str]]:
    inner = _wrapper(body, "relationship")
    name, code = inner.get("name"), inner.get("code")
    for label, value in (("name", name), ("code", code)):
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"relationship[{label}]: must be a String")
        if value is not None and "\x00" in value:
            raise ValidationFailed(f"relationship[{label}]: must not contain NUL characters")
    return name, code, frozenset(k for k in inner if k in ("name", "code"))


@router.post("/relationships", status_code=201, responses=ERRORS, openapi_extra=TYPE_BODY_DOC)
def create_type(session: SessionDep, principal: AdminDep, body: JsonBody = None) -> Response:
    name, code, _ = _type_fields(body)
    if not code:
        raise ValidationFailed("relationship[code]: is required")
    definition = ProductRelationshipService(session, principal).create_type(name, code)
    return json_response(render_type(definition), status_code=201)


@router.get("/relationships", responses=ERRORS)
def list_types(request: Request, session: SessionDep, principal: AdminDep) -> Response:
    page, per_page = _page_params(request)
    items, total = ProductRelationshipService(session, principal).list_types(page, per_page)
    return json_response(_page_document(page, per_page, total, [render_type(d) for d in items]))


@router.get("/relationships/{type_id}", responses=ERRORS)
def get_type(type_id: str, session: SessionDep, principal: AdminDep) -> Response:
    definition = ProductRelationshipService(session, principal).get_type(_path_id(type_id, "relationship"))
    return json_response(render_type(definition))


@router.put("/relationships/{type_id}", responses=ERRORS, openapi_extra=TYPE_BODY_DOC)
def update_type(type_id: str, session: SessionDep, principal: AdminDep, body: JsonBody = None) -> Response:
    pk = _path_id(type_id, "relationship")
    name, code, sent = _type_fields(body)
    definition = ProductRelationshipService(session, principal).update_type(pk, name, code, sent)
    return json_response(render_type(definition))


@router.delete("/relationships/{type_id}", status_code=204, responses=ERRORS)
def delete_type(type_id: str, session: SessionDep, principal: AdminDep) -> Response:
    ProductRelationshipService(session, principal).delete_type(_path_id(type_id, "relationship"))
    return no_content()
