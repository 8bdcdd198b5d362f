"""Workbench custom relationships (SPEC §3, §13.2): the definitions, and on a product's page its related
products (`Add related products` with the partial-success report of §3.4, `Remove`) and its product
relationships as the v2 dialect sees them (seed 004: status and sort order editable).

Every change goes through the service the API calls (CustomRelationshipService, ProductRelationshipService),
with the API's request models, so the limits, the refusals and their texts are the API's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from assortment.api.v2.product_relationships import parse_link
from assortment.db.models import CustomRelationship
from assortment.domain import relationship_rules as rules
from assortment.domain.custom_relationships import AssociationOutcome, CustomRelationshipService
from assortment.domain.paging import Paging
from assortment.domain.product_relationships import ProductRelationshipService
from assortment.domain.products import ProductService
from assortment.domain.tenancy import owner_of
from assortment.domain.users import SignedIn
from assortment.errors import NotFound, ValidationFailed
from assortment.schemas.custom_relationships import (
    AssociateRequest,
    CustomRelationshipCreateRequest,
    DissociateRequest,
)
from assortment.web import product_sections
from assortment.web.core import (
    MAX_PAGE,
    PAGE_SIZE,
    EditorDep,
    FormDep,
    UserDep,
    WebRoute,
    attempt,
    form_text,
    not_found,
    page_number,
    reading,
    redirect,
    render,
    shown,
    submit,
    url_with,
    writing,
)
from assortment.web.products import render_product_page

router = APIRouter(prefix="/admin/custom-relationships", include_in_schema=False, route_class=WebRoute)
on_products = APIRouter(prefix="/admin/products", include_in_schema=False, route_class=WebRoute)

DONE = {"created": "Custom relationship created.", "deleted": "Custom relationship deleted."}
REPORT_NAMES = 200  # products of a report looked up by name; beyond, their ids are shown


# --- definitions ------------------------------------------------------------------------------------------


@router.get("")
def definition_list(request: Request, user: UserDep) -> Response:
    page = page_number(request.query_params.get("page"))
    return _list_page(request, user, page, [], 200)


def _list_page(request: Request, user: SignedIn, page: int, errors: list[str], status_code: int) -> Response:
    with reading(request) as session:
        found = CustomRelationshipService(session, user.principal).list_definitions(
            None, Paging(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        )
    more = found.total > page * PAGE_SIZE
    return render(
        request,
        "relationships/list.html",
        user=user,
        status_code=status_code,
        title="Custom relationships",
        definitions=found.items,
        total=found.total,
        page=page,
        owner_of=owner_of,
        max_relationships=rules.MAX_RELATIONSHIPS_PER_PRODUCT,
        max_associations=rules.MAX_ASSOCIATIONS,
        errors=errors,
        notice=None if errors else DONE.get(request.query_params.get("done", "")),
        previous_url=url_with("/admin/custom-relationships", page=page - 1) if page > 1 else None,
        next_url=url_with("/admin/custom-relationships", page=page + 1) if more and page < MAX_PAGE else None,
    )


@router.get("/new")
def new_definition(request: Request, user: UserDep) -> Response:
    return _form(request, user, {}, [], 200)


def _form(request: Request, user: SignedIn, values: dict[str, Any], errors: list[str], status_code: int) -> Response:
    return render(
        request,
        "relationships/form.html",
        user=user,
        status_code=status_code,
        title="New custom relationship",
        values=values,
        errors=errors,
    )


def _definition_attributes(form: FormData) -> dict[str, Any]:
    """Name and slug are always sent (a blank one gets the API's own message); a blank description is left out."""
    attributes: dict[str, Any] = {
        "name": form_text(form, "name"),
        "slug": form_text(form, "slug"),
        "bi_directional": form.get("bi_directional") == "on",
    }
    description = str(form.get("description") or "").strip()
    if description:
        attributes["description"] = description
    return attributes


@router.post("")
def create_definition(request: Request, user: EditorDep, form: FormDep) -> Response:
    attributes = _definition_attributes(form)

    def work(session: Session) -> object:
        body = CustomRelationshipCreateRequest.model_validate(
            {"data": {"type": "custom-relationship", "attributes": attributes}}
        )
        return CustomRelationshipService(session, user.principal).create_definition(body.data.attributes)

    return submit(
        request,
        user,
        work,
        "/admin/custom-relationships?done=created",
        lambda errors, status: _form(request, user, attributes, errors, status),
    )


@router.post("/{slug}/delete")
def delete_definition(request: Request, slug: str, user: EditorDep) -> Response:
    return submit(
        request,
        user,
        lambda session: CustomRelationshipService(session, user.principal).delete_definition(slug),
        "/admin/custom-relationships?done=deleted",
        lambda errors, status: _list_page(request, user, 1, errors, status),
    )


# --- on a product's page ----------------------------------------------------------------------------------


@on_products.get("/{product_id}/related-search")
def related_search(request: Request, product_id: str, user: UserDep) -> Response:
    """The `Add related products` dialog's results: one checkbox per found product."""
    text = request.query_params.get("q", "").strip()[:200]
    with reading(request) as session:
        ProductService(session, user.principal).get(product_id)
        found = product_sections.found_products(session, user, text)
    return render(
        request,
        "relationships/_found.html",
        user=user,
        found=found,
        q=text,
        product_id=product_id,
        max_relationships=rules.MAX_RELATIONSHIPS_PER_PRODUCT,
    )


@dataclass(frozen=True, slots=True)
class ReportLine:
    id: str
    name: str | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """The partial-success report of §3.4, with product names where the user can see them."""

    definition: CustomRelationship
    associated: list[ReportLine]
    refused: list[ReportLine]


def _report(session: Session, user: SignedIn, definition: CustomRelationship, outcome: AssociationOutcome) -> Report:
    products = ProductService(session, user.principal)
    names: dict[str, str] = {}
    for raw in [*outcome.associated, *(pid for pid, _ in outcome.not_associated)][:REPORT_NAMES]:
        try:
            names[raw] = products.get(raw).name
        except NotFound:
            continue
    return Report(
        definition,
        [ReportLine(pid, names.get(pid)) for pid in outcome.associated],
        [ReportLine(pid, names.get(pid), why) for pid, why in outcome.not_associated],
    )


@on_products.post("/{product_id}/related")
def add_related(request: Request, product_id: str, user: EditorDep, form: FormDep) -> Response:
    slug = form_text(form, "relationship")
    chosen = [value for value in form.getlist("product") if isinstance(value, str) and value]

    def work() -> Report:
        if not slug:
            raise ValidationFailed("choose a relationship")
        if not chosen:
            raise ValidationFailed("choose at least one product to relate")
        body = AssociateRequest.model_validate({"data": [{"type": "product", "id": pid} for pid in chosen]})
        with writing(request) as session:
            service = CustomRelationshipService(session, user.principal)
            outcome = service.associate(product_id, slug, body.data)
            return _report(session, user, service.get_definition(slug), outcome)

    report, errors, status = attempt(work)
    if report is None:
        if status == 404 and not _product_exists(request, user, product_id):
            return not_found(request, user, errors)
        return render_product_page(request, user, product_id, status_code=shown(status), errors=errors)
    return render_product_page(request, user, product_id, report=report)


def _product_exists(request: Request, user: SignedIn, product_id: str) -> bool:
    with reading(request) as session:
        try:
            ProductService(session, user.principal).get(product_id)
        except NotFound:
            return False
    return True


@on_products.post("/{product_id}/related/remove")
def remove_related(request: Request, product_id: str, user: EditorDep, form: FormDep) -> Response:
    slug = form_text(form, "relationship")
    target = form_text(form, "product")

    def work() -> bool:
        body = DissociateRequest.model_validate({"data": [{"type": "product", "id": target}]})
        with writing(request) as session:
            CustomRelationshipService(session, user.principal).dissociate(
                product_id, slug, [item.id for item in body.data]
            )
        return True

    return _product_change(request, user, product_id, "unrelated", work)


@on_products.post("/{product_id}/product-relationships/{link_id}")
def update_link(request: Request, product_id: str, link_id: str, user: EditorDep, form: FormDep) -> Response:
    """The v2 table's `Save`: a product relationship's status and sort order, as `PUT
    /api/v2/product_relationships/{id}` changes them (the same parsing, the same service)."""
    status_value = form_text(form, "status")
    sort_text = form_text(form, "sort_order")

    def work() -> bool:
        if not link_id.isascii() or not link_id.isdigit() or len(link_id) > 9:
            raise NotFound(f"product relationship {link_id} not found")
        inner = {"status": status_value or None, "sort_order": _sort_order(sort_text)}
        link = parse_link({"product_relationship": inner})
        with writing(request) as session:
            service = ProductRelationshipService(session, user.principal)
            ProductService(session, user.principal).get(product_id)
            service.update(int(link_id), link)
        return True

    return _product_change(request, user, product_id, "link-saved", work)


def _sort_order(text: str) -> Any:
    """A blank sort order clears it; a whole number is sent as one; anything else as typed (refused by the
    API's parsing with its message)."""
    if not text:
        return None
    digits = text[1:] if text.startswith("-") else text
    if digits.isascii() and digits.isdigit() and len(digits) <= 12:
        return int(text)
    return text


def _product_change(request: Request, user: SignedIn, product_id: str, done: str, work: Any) -> Response:
    result, errors, status = attempt(work)
    if result is None:
        if status == 404 and not _product_exists(request, user, product_id):
            return not_found(request, user, errors)
        return render_product_page(request, user, product_id, status_code=shown(status), errors=errors)
    return redirect(url_with(f"/admin/products/{product_id}", done=done), request)
