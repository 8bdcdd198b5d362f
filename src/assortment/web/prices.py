"""Workbench price books (SPEC §9, §13.2): the books, a book's prices per SKU with their currencies, tiers
and sales; create and edit both through PricebookService and PriceService with the API's attributes, so
every check and message is the API's. A price's currencies (with their tiers) and its sales are edited as
the JSON the API takes, beside a readable table of them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from assortment.domain.paging import Paging
from assortment.domain.price_rules import CurrencyFormat, format_amount
from assortment.domain.prices import CurrencyService, PricebookService, PriceService
from assortment.domain.users import SignedIn
from assortment.errors import ValidationFailed
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

router = APIRouter(prefix="/admin/price-books", include_in_schema=False, route_class=WebRoute)

DONE = {
    "created": "Price book created.",
    "saved": "Price book saved.",
    "price-saved": "Price saved.",
    "deleted": "Price book deleted.",
    "price-deleted": "Price deleted.",
}
EXAMPLE_CURRENCIES = {"USD": {"amount": 1000, "includes_tax": False}}


def _json_field(form: FormData, name: str, where: str) -> Any:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationFailed(f"{where}: is not valid JSON ({exc})") from exc


def _formats(request: Request, user: SignedIn) -> dict[str, CurrencyFormat]:
    with reading(request) as session:
        formats = CurrencyService(session, user.principal).enabled_formats(user.principal.scope_id)
    return {fmt.code: fmt for fmt, _default in formats}


def shown_amount(amount: Any, code: str, formats: dict[str, CurrencyFormat]) -> str:
    fmt = formats.get(code)
    if fmt is None or not isinstance(amount, int):
        return f"{amount} {code}"
    return format_amount(amount, fmt)


# --- books ------------------------------------------------------------------------------------------------


@router.get("")
def book_list(request: Request, user: UserDep) -> Response:
    page = page_number(request.query_params.get("page"))
    with reading(request) as session:
        found = PricebookService(session, user.principal).list_books(None, Paging(PAGE_SIZE, (page - 1) * PAGE_SIZE))
    more = found.total > page * PAGE_SIZE
    return render(
        request,
        "prices/list.html",
        user=user,
        title="Price books",
        books=found.items,
        total=found.total,
        page=page,
        notice=DONE.get(request.query_params.get("done", "")),
        previous_url=url_with("/admin/price-books", page=page - 1) if page > 1 else None,
        next_url=url_with("/admin/price-books", page=page + 1) if more and page < MAX_PAGE else None,
    )


@router.get("/new")
def new_book(request: Request, user: UserDep) -> Response:
    return _book_form(request, user, None, {}, [], 200)


def _book_form(
    request: Request, user: SignedIn, book_id: str | None, values: dict[str, Any], errors: list[str], status: int
) -> Response:
    return render(
        request,
        "prices/book_form.html",
        user=user,
        status_code=status,
        title="Edit price book" if book_id else "New price book",
        book_id=book_id,
        values=values,
        errors=errors,
    )


def _book_attributes(form: FormData, *, creating: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {"name": form_text(form, "name")}
    description = str(form.get("description") or "").strip()
    if description or not creating:
        attributes["description"] = description or None
    return attributes


@router.post("")
def create_book(request: Request, user: EditorDep, form: FormDep) -> Response:
    attributes = _book_attributes(form, creating=True)
    return submit(
        request,
        user,
        lambda session: PricebookService(session, user.principal).create(attributes).id,
        lambda created: f"/admin/price-books/{created}?done=created",
        lambda errors, status: _book_form(request, user, None, attributes, errors, status),
    )


@router.get("/{book_id}/edit")
def edit_book(request: Request, book_id: str, user: UserDep) -> Response:
    with reading(request) as session:
        book = PricebookService(session, user.principal).get(book_id)
    return _book_form(request, user, str(book.id), {"name": book.name, "description": book.description}, [], 200)


@router.post("/{book_id}")
def update_book(request: Request, book_id: str, user: EditorDep, form: FormDep) -> Response:
    attributes = _book_attributes(form, creating=False)
    return submit(
        request,
        user,
        lambda session: PricebookService(session, user.principal).update(book_id, book_id, attributes).id,
        lambda updated: f"/admin/price-books/{updated}?done=saved",
        lambda errors, status: _book_form(request, user, book_id, attributes, errors, status),
    )


@router.post("/{book_id}/delete")
def delete_book(request: Request, book_id: str, user: EditorDep) -> Response:
    """As `DELETE /pcm/pricebooks/{id}`: its prices go with it; releases keep their copies."""
    return submit(
        request,
        user,
        lambda session: PricebookService(session, user.principal).delete(book_id),
        "/admin/price-books?done=deleted",
        lambda errors, status: _book_page(request, user, book_id, errors, status),
    )


@router.get("/{book_id}")
def book_page(request: Request, book_id: str, user: UserDep) -> Response:
    return _book_page(request, user, book_id, [], 200)


def _book_page(request: Request, user: SignedIn, book_id: str, errors: list[str], status_code: int) -> Response:
    page = page_number(request.query_params.get("page"))
    with reading(request) as session:
        book = PricebookService(session, user.principal).get(book_id)
        paging = Paging(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        prices = PriceService(session, user.principal).list_prices(book_id, None, paging)
    base = f"/admin/price-books/{book.id}"
    return render(
        request,
        "prices/book.html",
        user=user,
        status_code=status_code,
        title=book.name,
        book=book,
        errors=errors,
        prices=prices.items,
        total=prices.total,
        page=page,
        formats=_formats(request, user),
        amount=shown_amount,
        notice=None if errors else DONE.get(request.query_params.get("done", "")),
        previous_url=url_with(base, page=page - 1) if page > 1 else None,
        next_url=url_with(base, page=page + 1) if prices.total > page * PAGE_SIZE and page < MAX_PAGE else None,
    )


# --- prices -----------------------------------------------------------------------------------------------


@router.get("/{book_id}/prices/new")
def new_price(request: Request, book_id: str, user: UserDep) -> Response:
    values = {"sku": "", "currencies": json.dumps(EXAMPLE_CURRENCIES, indent=2), "sales": ""}
    return _price_form(request, user, book_id, None, values, [], 200)


def _price_form(
    request: Request,
    user: SignedIn,
    book_id: str,
    price_id: str | None,
    values: dict[str, Any],
    errors: list[str],
    status: int,
) -> Response:
    with reading(request) as session:
        book = PricebookService(session, user.principal).get(book_id)
    return render(
        request,
        "prices/price_form.html",
        user=user,
        status_code=status,
        title="Edit price" if price_id else "New price",
        book=book,
        price_id=price_id,
        values=values,
        errors=errors,
    )


def _price_attributes(form: FormData, *, creating: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {"sku": form_text(form, "sku")}
    currencies = _json_field(form, "currencies", "data.attributes.currencies")
    if currencies is not None or creating:
        attributes["currencies"] = currencies
    sales = _json_field(form, "sales", "data.attributes.sales")
    if sales is not None or not creating:
        attributes["sales"] = sales
    return attributes


def _typed(form: FormData) -> dict[str, Any]:
    return {name: str(form.get(name) or "") for name in ("sku", "currencies", "sales")}


@router.post("/{book_id}/prices")
def create_price(request: Request, book_id: str, user: EditorDep, form: FormDep) -> Response:
    return submit(
        request,
        user,
        lambda session: PriceService(session, user.principal).create(book_id, _price_attributes(form, creating=True)),
        f"/admin/price-books/{book_id}?done=price-saved",
        lambda errors, status: _price_form(request, user, book_id, None, _typed(form), errors, status),
    )


@router.get("/{book_id}/prices/{price_id}/edit")
def edit_price(request: Request, book_id: str, price_id: str, user: UserDep) -> Response:
    with reading(request) as session:
        price = PriceService(session, user.principal).get(book_id, price_id)
    values = {
        "sku": price.sku,
        "currencies": json.dumps(price.currencies, indent=2),
        "sales": json.dumps(price.sales, indent=2) if price.sales else "",
    }
    return _price_form(request, user, book_id, str(price.id), values, [], 200)


@router.post("/{book_id}/prices/{price_id}")
def update_price(request: Request, book_id: str, price_id: str, user: EditorDep, form: FormDep) -> Response:
    def work(session: Session) -> object:
        attributes = _price_attributes(form, creating=False)
        return PriceService(session, user.principal).update(book_id, price_id, price_id, attributes)

    return submit(
        request,
        user,
        work,
        f"/admin/price-books/{book_id}?done=price-saved",
        lambda errors, status: _price_form(request, user, book_id, price_id, _typed(form), errors, status),
    )


@router.post("/{book_id}/prices/{price_id}/delete")
def delete_price(request: Request, book_id: str, price_id: str, user: EditorDep) -> Response:
    """As `DELETE /pcm/pricebooks/{id}/prices/{pid}`."""
    return submit(
        request,
        user,
        lambda session: PriceService(session, user.principal).delete(book_id, price_id),
        f"/admin/price-books/{book_id}?done=price-deleted",
        lambda errors, status: _book_page(request, user, book_id, errors, status),
    )
