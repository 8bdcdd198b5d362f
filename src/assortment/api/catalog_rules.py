"""`/pcm/catalogs/rules…`: HTTP only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from assortment.api.catalog_documents import catalog_links, catalog_list_meta
from assortment.api.deps import AdminDep, FilterDep, PagingDep, SessionDep
from assortment.api.responses import json_response, no_content
from assortment.api.schemas_doc import ERRORS
from assortment.db.models import CatalogRule
from assortment.domain.catalog_rules import LIST_FIELDS, CatalogRuleService
from assortment.domain.formats import timestamp
from assortment.schemas.catalogs import RuleCreateRequest, RuleUpdateRequest

router = APIRouter(prefix="/pcm/catalogs/rules", tags=["catalog rules"])


def render_rule(service: CatalogRuleService, rule: CatalogRule) -> dict[str, Any]:
    attributes: dict[str, Any] = {"name": rule.name, "catalog_id": str(service.catalog_id_of(rule))}
    if rule.description is not None:
        attributes["description"] = rule.description
    for name in (*LIST_FIELDS, "schedules", "pricebook_ids"):
        value = getattr(rule, name)
        if value:
            attributes[name] = value
    # The timestamps are attributes, as the public catalogs document requires them (not meta).
    attributes["created_at"] = timestamp(rule.created_at)
    attributes["updated_at"] = timestamp(rule.updated_at)
    return {
        "type": "catalog_rule",
        "id": str(rule.id),
        "attributes": attributes,
        "meta": {"owner": "organization" if service.principal.is_organization else "store"},
    }


@router.post("", status_code=201, responses=ERRORS)
def create_rule(body: RuleCreateRequest, session: SessionDep, principal: AdminDep) -> Response:
    service = CatalogRuleService(session, principal)
    return json_response(
        {"data": render_rule(service, service.create(body.data.attributes))}, status_code=201
    )


@router.post("/validate", responses=ERRORS)
def validate_rule(body: RuleCreateRequest, session: SessionDep, principal: AdminDep) -> Response:
    CatalogRuleService(session, principal).validate(body.data.attributes)
    return json_response({"meta": {"valid": True}})


@router.get("", responses=ERRORS)
def list_rules(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, terms: FilterDep
) -> Response:
    service = CatalogRuleService(session, principal)
    page = service.list_rules(terms, paging)
    return json_response(
        {
            "data": [render_rule(service, r) for r in page.items],
            "links": catalog_links(request, page),
            "meta": catalog_list_meta(page),
        }
    )


@router.get("/{rule_id}", responses=ERRORS)
def get_rule(rule_id: str, session: SessionDep, principal: AdminDep) -> Response:
    service = CatalogRuleService(session, principal)
    return json_response({"data": render_rule(service, service.get(rule_id))})


@router.put("/{rule_id}", responses=ERRORS)
def update_rule(rule_id: str, body: RuleUpdateRequest, session: SessionDep, principal: AdminDep) -> Response:
    service = CatalogRuleService(session, principal)
    rule = service.update(rule_id, body.data.id, body.data.attributes)
    return json_response({"data": render_rule(service, rule)})


@router.delete("/{rule_id}", status_code=204, responses=ERRORS)
def delete_rule(rule_id: str, session: SessionDep, principal: AdminDep) -> Response:
    CatalogRuleService(session, principal).delete(rule_id)
    return no_content()
