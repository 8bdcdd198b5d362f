"""Bulk price loads (`assortment prices import FILE --pricebook ID`).

Rows are checked exactly like `POST /pcm/pricebooks/{id}/prices` (check_price_attributes), and sku and
external_ref must be unique within the price book, against the database and the rest of the file.

- JSON lines: the price attributes (`sku`, `currencies`, `sales`, …) or a whole request body
  `{"data": {"type": "product-price", "attributes": {...}}}`.
- CSV: a header with `sku`, optionally `external_ref` and `includes_tax` (true/false), and one column
  per currency code holding the amount in minor units (`sku,USD,EUR` / `BS-1,47500,41000`). Tiers and
  sales need JSON lines.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rich.console import Console
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from assortment.db.models import ORGANIZATION_SCOPE, Price, Pricebook
from assortment.db.repositories.products import external_ref_digest as digest
from assortment.db.types import utcnow
from assortment.domain import auth, events
from assortment.domain.bulk_load import ImportReport, LoadSpec, bulk_principal, check_file_type, first_line, load_file
from assortment.domain.prices import check_price_attributes
from assortment.domain.products import parse_id
from assortment.errors import NotFound, ValidationFailed

PRICE_TABLE: Table = Price.__table__  # type: ignore[assignment]
NOT_UNIQUE = "already priced in this price book"


def import_prices(
    sessions: sessionmaker[Session],
    path: Path,
    pricebook_id: str,
    *,
    store_id: uuid.UUID | None = None,
    organization: bool = False,
    batch_size: int = 5000,
    progress: bool = True,
    console: Console | None = None,
) -> ImportReport:
    check_file_type(path)
    with sessions() as session:
        book = _pricebook(session, pricebook_id, store_id, organization)
        existing = session.execute(select(Price.sku, Price.external_ref_digest).where(Price.pricebook_pk == book.pk))
        claimed: dict[str, dict[str, int]] = {"sku": {}, "external_ref": {}}
        for sku, ref_digest in existing:
            claimed["sku"][sku] = 0
            if ref_digest is not None:
                claimed["external_ref"][ref_digest] = 0
    book_pk = book.pk

    def claim(line_no: int, values: dict[str, Any]) -> str | None:
        keys = {"sku": values["sku"], "external_ref": digest(values.get("external_ref"))}
        for name, key in keys.items():
            if key is not None and key in claimed[name]:
                owner = claimed[name][key]
                where = "a price in the database" if owner == 0 else f"line {owner}"
                return f"{name}: {NOT_UNIQUE} ({where} has it)"
        for name, key in keys.items():
            if key is not None:
                claimed[name][key] = line_no
        return None

    def to_row(values: dict[str, Any]) -> dict[str, Any]:
        now = utcnow()
        return {
            "id": uuid.uuid4(),
            "pricebook_pk": book_pk,
            "sku": values["sku"],
            "currencies": values["currencies"],
            "sales": values.get("sales"),
            "external_ref": values.get("external_ref"),
            "external_ref_digest": digest(values.get("external_ref")),
            "admin_attributes": _without_nulls(values.get("admin_attributes")),
            "shopper_attributes": _without_nulls(values.get("shopper_attributes")),
            "created_at": now,
            "updated_at": now,
        }

    importer = bulk_principal(book.scope_id)

    def created(session: Session, rows: list[dict[str, Any]]) -> None:
        # price.created per row (SPEC §11.2); the payload is rendered as GET renders the price (with its book).
        prices = [((SimpleNamespace(**row), book), row["id"]) for row in rows]
        events.record_created(session, importer, "price", prices, book.scope_id)

    spec = LoadSpec(
        resource_type="product-price",
        table=PRICE_TABLE,
        csv_record=_csv_record,
        validate=lambda row: check_price_attributes(row, creating=True),
        claim=claim,
        to_row=to_row,
        integrity_message=_integrity_message,
        inserted=created,
    )
    return load_file(sessions, path, spec, batch_size=batch_size, progress=progress, console=console)


def _pricebook(session: Session, pricebook_id: str, store_id: uuid.UUID | None, organization: bool) -> Pricebook:
    if organization and store_id is not None:
        raise ValidationFailed("choose either a store or the organization")
    scope = ORGANIZATION_SCOPE if organization else (store_id or auth.default_store(session).id)
    parsed = parse_id(pricebook_id)
    book = None
    if parsed is not None:
        book = session.scalars(select(Pricebook).where(Pricebook.id == parsed, Pricebook.scope_id == scope)).first()
    if book is None:
        raise NotFound(f"price book {pricebook_id} not found")
    return book


def _csv_record(header: list[str], cells: list[str]) -> dict[str, Any] | str:
    row: dict[str, Any] = {}
    currencies: dict[str, Any] = {}
    includes_tax = False
    for key, value in zip(header, cells, strict=False):
        if value == "" or not key:
            continue
        if key == "includes_tax":
            if value not in ("true", "false"):
                return "includes_tax: must be true or false"
            includes_tax = value == "true"
        elif len(key) == 3 and key.isalpha() and key.isupper():
            if not (value.isascii() and value.isdigit()):  # "²".isdigit() holds, int() refuses it
                return f"{key}: amounts are whole numbers in minor units"
            currencies[key] = {"amount": int(value)}
        else:
            row[key] = value
    for entry in currencies.values():
        entry["includes_tax"] = includes_tax
    if currencies:
        row["currencies"] = currencies
    return row


def _without_nulls(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if not values:
        return None
    kept = {k: v for k, v in values.items() if v is not None}
    return kept or None


def _integrity_message(exc: IntegrityError) -> str:
    message = str(exc.orig)
    for name in ("sku", "external_ref"):
        if name in message:
            return f"{name}: {NOT_UNIQUE} (another writer took it during the import)"
    return f"refused by the database: {first_line(exc.orig)}"
