"""Bulk product loads (`assortment products import FILE`).

Every row goes through the same checks as `POST /pcm/products` (the request schema, the required
fields, uniqueness of sku/slug/external_ref against the database and the rest of the file). CSV: a
header row naming attributes; empty cells are absent attributes; `tags` is a comma-separated list and
`locales` a JSON object. The file handling is shared with the price import: see bulk_load.py.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from assortment.db.models import ORGANIZATION_SCOPE, Product, Store
from assortment.db.repositories import products as repo
from assortment.db.types import utcnow
from assortment.domain import auth, events
from assortment.domain.bulk_load import ImportReport, LoadSpec, bulk_principal, check_file_type, first_line, load_file
from assortment.domain.products import COLUMNS, UNIQUE_FIELDS, check_create_values
from assortment.domain.tenancy import owner_of
from assortment.errors import NotFound, ValidationFailed
from assortment.schemas.products import ProductAttributes

CSV_LIST_FIELDS = ("tags",)
CSV_JSON_FIELDS = ("locales",)
MAX_PROBLEMS_PER_ROW = 5
NOT_UNIQUE = "Must be unique amongst products."

# Core inserts on the table: the ORM's bulk path costs more per row and adds nothing here.
PRODUCT_TABLE: Table = Product.__table__  # type: ignore[assignment]

__all__ = ["ImportReport", "import_products"]


def import_products(
    sessions: sessionmaker[Session],
    path: Path,
    *,
    store_id: uuid.UUID | None = None,
    organization: bool = False,
    batch_size: int = 5000,
    progress: bool = True,
    console: Console | None = None,
) -> ImportReport:
    """Load the products of a file into a store (the default one unless named) or the organization.

    Raises ValueError for a file type it does not know, NotFound/ValidationFailed for a bad target,
    before anything is read or written.
    """
    check_file_type(path)
    with sessions() as session:
        scope_id = _resolve_scope(session, store_id, organization)
        skus, slugs, digests = repo.existing_unique_values(session, scope_id)
    # value -> line that claimed it (0: a product already in the database)
    claimed: dict[str, dict[str, int]] = {
        "sku": dict.fromkeys(skus, 0),
        "slug": dict.fromkeys(slugs, 0),
        "external_ref": dict.fromkeys(digests, 0),
    }
    importer = bulk_principal(scope_id)
    owner = owner_of(scope_id)

    def created(session: Session, rows: list[dict[str, Any]]) -> None:
        # product.created per row (SPEC §11.2), rendered from the row: a new product has no relationships yet.
        products = [(SimpleNamespace(**row, owner=owner), row["id"]) for row in rows]
        events.record_created(session, importer, "product", products, scope_id)

    spec = LoadSpec(
        resource_type="product",
        table=PRODUCT_TABLE,
        csv_record=_csv_record,
        validate=_validate,
        claim=lambda line_no, values: _claim_unique(line_no, values, claimed),
        to_row=lambda values: _row_values(scope_id, values),
        integrity_message=_integrity_message,
        inserted=created,
    )
    return load_file(sessions, path, spec, batch_size=batch_size, progress=progress, console=console)


def _resolve_scope(session: Session, store_id: uuid.UUID | None, organization: bool) -> uuid.UUID:
    if organization and store_id is not None:
        raise ValidationFailed("choose either a store or the organization")
    if organization:
        return ORGANIZATION_SCOPE
    if store_id is not None:
        if session.get(Store, store_id) is None:
            raise NotFound(f"store {store_id} does not exist")
        return store_id
    return auth.default_store(session).id


def _csv_record(header: list[str], cells: list[str]) -> dict[str, Any] | str:
    row: dict[str, Any] = {}
    for key, value in zip(header, cells, strict=False):
        if value == "" or not key:
            continue
        if key in CSV_LIST_FIELDS:
            row[key] = [part.strip() for part in value.split(",") if part.strip()]
        elif key in CSV_JSON_FIELDS:
            try:
                row[key] = json.loads(value)
            except ValueError:
                return f"{key}: not valid JSON"
        else:
            row[key] = value
    return row


def _validate(row: dict[str, Any]) -> dict[str, Any]:
    try:
        attributes = ProductAttributes.model_validate(row)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
            for problem in exc.errors()[:MAX_PROBLEMS_PER_ROW]
        ]
        raise ValidationFailed("; ".join(problems)) from exc
    values = attributes.model_dump(include=set(attributes.model_fields_set))
    check_create_values(values)
    values["external_ref_digest"] = repo.external_ref_digest(values.get("external_ref"))
    return values


def _claim_unique(line_no: int, values: dict[str, Any], claimed: dict[str, dict[str, int]]) -> str | None:
    """Claim the row's sku, slug and external_ref, or say which one is taken (and where)."""
    keys = {
        "sku": values.get("sku"),
        "slug": values.get("slug"),
        "external_ref": values["external_ref_digest"],
    }
    for name, key in keys.items():
        if key is not None and key in claimed[name]:
            owner = claimed[name][key]
            where = "a product in the database" if owner == 0 else f"line {owner}"
            return f"{name}: {NOT_UNIQUE} ({where} has it)"
    for name, key in keys.items():
        if key is not None:
            claimed[name][key] = line_no
    return None


def _row_values(scope_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    row = {name: values.get(name) for name in COLUMNS}
    row.update(
        id=uuid.uuid4(),
        scope_id=scope_id,
        status=values.get("status") or "draft",
        external_ref_digest=values["external_ref_digest"],
        created_at=now,
        updated_at=now,
        version=1,
    )
    return row


def _integrity_message(exc: IntegrityError) -> str:
    message = str(exc.orig)
    for name in UNIQUE_FIELDS:
        if name in message:
            return f"{name}: {NOT_UNIQUE} (another writer took it during the import)"
    return f"refused by the database: {first_line(exc.orig)}"
