"""Workbench products: a searchable list, create, edit, delete, and a product's page with its nodes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from assortment.domain.hierarchies import HierarchyService
from assortment.domain.paging import Paging
from assortment.domain.products import ProductService
from assortment.domain.users import SignedIn
from assortment.schemas.products import ProductCreateRequest, ProductUpdateRequest
from assortment.web import product_sections
from assortment.web.core import (
    MAX_PAGE,
    PAGE_SIZE,
    EditorDep,
    FormDep,
    UserDep,
    WebRoute,
    form_text,
    page_number,
    reading,
    render,
    submit,
    url_with,
)

router = APIRouter(prefix="/admin/products", include_in_schema=False, route_class=WebRoute)

TEXT_FIELDS = ("name", "sku", "slug", "description")
CHOICES = {"status": ("draft", "live"), "commodity_type": ("physical", "digital")}


@router.get("")
def product_list(request: Request, user: UserDep) -> Response:
    text = request.query_params.get("q", "").strip()[:200]
    page = page_number(request.query_params.get("page"))
    with reading(request) as session:
        items, more = ProductService(session, user.principal).browse(text, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    partial = request.headers.get("hx-request") and request.headers.get("hx-target") == "product-results"
    return render(
        request,
        "products/_results.html" if partial else "products/list.html",
        user=user,
        title="Products",
        products=items,
        q=text,
        page=page,
        previous_url=url_with("/admin/products", q=text, page=page - 1) if page > 1 else None,
        next_url=url_with("/admin/products", q=text, page=page + 1) if more and page < MAX_PAGE else None,
    )


@router.get("/new")
def new_product(request: Request, user: UserDep) -> Response:
    return _form(request, user, None, {"status": "draft", "commodity_type": "physical"}, [], 200)


def _attributes(form: FormData, *, creating: bool) -> dict[str, Any]:
    """Form fields as API attributes: a blank optional field is left out on create and cleared on edit;
    the name is always sent, so a blank one gets the API's own message."""
    attributes: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = form_text(form, name) if name != "description" else str(form.get(name) or "").strip()
        if value or name == "name":
            attributes[name] = value
        elif not creating:
            attributes[name] = None
    for name in CHOICES:
        value = form_text(form, name)
        attributes[name] = value or None
    return attributes


def _form(
    request: Request,
    user: SignedIn,
    product_id: str | None,
    values: dict[str, Any],
    errors: list[str],
    status_code: int,
) -> Response:
    return render(
        request,
        "products/form.html",
        user=user,
        status_code=status_code,
        title="Edit product" if product_id else "New product",
        product_id=product_id,
        values=values,
        choices=CHOICES,
        errors=errors,
    )


@router.post("")
def create_product(request: Request, user: EditorDep, form: FormDep) -> Response:
    attributes = _attributes(form, creating=True)

    def work(session: Session) -> object:
        body = ProductCreateRequest.model_validate({"data": {"type": "product", "attributes": attributes}})
        return ProductService(session, user.principal).create(body.data.attributes).id

    return submit(
        request,
        user,
        work,
        lambda created: f"/admin/products/{created}?saved=1",
        lambda errors, status: _form(request, user, None, attributes, errors, status),
    )


DONE = {
    "saved": "Saved.",
    "unrelated": "Related product removed.",
    "link-saved": "Product relationship saved.",
}


@router.get("/{product_id}")
def product_page(request: Request, product_id: str, user: UserDep) -> Response:
    done = "saved" if request.query_params.get("saved") else request.query_params.get("done", "")
    return render_product_page(request, user, product_id, notice=DONE.get(done))


def render_product_page(
    request: Request,
    user: SignedIn,
    product_id: str,
    *,
    status_code: int = 200,
    errors: list[str] | None = None,
    notice: str | None = None,
    **extra: Any,
) -> Response:
    """A product's page: details, nodes, related products, v2 relationships (plus an alert or a report)."""
    with reading(request) as session:
        product = ProductService(session, user.principal).get(product_id)
        hierarchies = HierarchyService(session, user.principal)
        nodes = hierarchies.product_nodes(product_id, Paging(limit=100))
        placements = hierarchies.describe(nodes.items)
        related = product_sections.sections(session, user, product_id)
    return render(
        request,
        "products/page.html",
        user=user,
        status_code=status_code,
        title=product.name,
        product=product,
        placements=placements,
        more_nodes=nodes.total - len(nodes.items),
        errors=errors or [],
        notice=notice,
        **related,
        **extra,
    )


@router.get("/{product_id}/edit")
def edit_product(request: Request, product_id: str, user: UserDep) -> Response:
    with reading(request) as session:
        product = ProductService(session, user.principal).get(product_id)
    values = {name: getattr(product, name) for name in (*TEXT_FIELDS, *CHOICES)}
    return _form(request, user, str(product.id), values, [], 200)


@router.post("/{product_id}")
def update_product(request: Request, product_id: str, user: EditorDep, form: FormDep) -> Response:
    attributes = _attributes(form, creating=False)

    def work(session: Session) -> object:
        body = ProductUpdateRequest.model_validate(
            {"data": {"type": "product", "id": product_id, "attributes": attributes}}
        )
        return ProductService(session, user.principal).update(product_id, body.data.id, body.data.attributes).id

    return submit(
        request,
        user,
        work,
        lambda updated: f"/admin/products/{updated}?saved=1",
        lambda errors, status: _form(request, user, product_id, attributes, errors, status),
    )


@router.post("/{product_id}/delete")
def delete_product(request: Request, product_id: str, user: EditorDep) -> Response:
    """As `DELETE /pcm/products/{id}`: refused (a product of the organization, from a store), the API's words
    on an error page; gone already, the not-found page."""
    return submit(
        request,
        user,
        lambda session: ProductService(session, user.principal).delete(product_id),
        "/admin/products",
        lambda errors, status: render(
            request, "error.html", user=user, status_code=status, title="Not deleted", message=errors[0]
        ),
    )
