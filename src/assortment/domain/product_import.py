"""Bulk product loads from JSON lines or CSV.

Every row goes through the same checks as `POST /pcm/products` (the request schema, the required
fields, uniqueness of sku/slug/external_ref against the database and the rest of the file). Bad rows
are reported by line number; good rows are inserted in batches, one transaction per batch.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from assortment.db.engine import begin_write
from assortment.db.models import ORGANIZATION_SCOPE, Product, Store
from assortment.db.repositories import products as repo
from assortment.db.types import utcnow
from assortment.domain import auth
from assortment.domain.products import COLUMNS, check_create_values
from assortment.errors import NotFound, ValidationFailed
from assortment.schemas.products import ProductAttributes

CSV_LIST_FIELDS = ("tags",)
CSV_JSON_FIELDS = ("locales",)


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


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
    started = time.perf_counter()
    with sessions() as session:
        scope_id = _resolve_scope(session, store_id, organization)
        skus, slugs, digests = repo.existing_unique_values(session, scope_id)
    report = ImportReport()
    total_bytes = path.stat().st_size
    batch: list[tuple[int, dict[str, Any]]] = []
    with Progress(
        TextColumn("importing {task.fields[name]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
        transient=False,
    ) as bar:
        task = bar.add_task("import", total=total_bytes, name=path.name, rows=0)
        for line_no, row, position in _rows(path):
            bar.update(task, completed=position, rows=line_no)
            if isinstance(row, str):
                report.errors.append((line_no, row))
                continue
            try:
                values = _validate(row)
            except ValidationFailed as exc:
                report.errors.append((line_no, str(exc.detail)))
                continue
            clash = _claim_unique(values, skus, slugs, digests)
            if clash:
                report.errors.append((line_no, f"{clash}: Must be unique amongst products."))
                continue
            batch.append((line_no, values))
            if len(batch) >= batch_size:
                report.imported += _insert(sessions, scope_id, batch, report)
                batch = []
        if batch:
            report.imported += _insert(sessions, scope_id, batch, report)
        bar.update(task, completed=total_bytes)
    report.errors.sort()
    report.seconds = time.perf_counter() - started
    return report


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


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str, int]]:
    """(line number, row or an error message, bytes read so far)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        yield from _jsonl_rows(path)
    else:
        raise ValueError(f"unknown file type {path.suffix!r}: use .jsonl, .ndjson or .csv")


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str, int]]:
    position = 0
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            position += len(raw)
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError:
                yield line_no, "not valid JSON", position
                continue
            if not isinstance(row, dict):
                yield line_no, "each line must be a JSON object", position
                continue
            data = row.get("data")
            if isinstance(data, dict):  # a whole API request body
                if data.get("type") != "product":
                    yield line_no, "data.type: Input should be 'product'", position
                    continue
                row = data.get("attributes")
                if not isinstance(row, dict):
                    yield line_no, "data.attributes: Field required", position
                    continue
            yield line_no, row, position


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str, int]]:
    with path.open("rb") as raw_handle:
        handle = io.TextIOWrapper(raw_handle, encoding="utf-8", newline="")
        reader = csv.DictReader(handle)
        for record in reader:
            line_no = reader.line_num
            row: dict[str, Any] = {}
            problem = None
            for key, value in record.items():
                if key is None:
                    problem = "more cells than header columns"
                    break
                if value is None or value == "":
                    continue
                if key in CSV_LIST_FIELDS:
                    row[key] = [part.strip() for part in value.split(",") if part.strip()]
                elif key in CSV_JSON_FIELDS:
                    try:
                        row[key] = json.loads(value)
                    except ValueError:
                        problem = f"{key}: not valid JSON"
                        break
                else:
                    row[key] = value
            yield line_no, problem or row, raw_handle.tell()


def _validate(row: dict[str, Any]) -> dict[str, Any]:
    try:
        attributes = ProductAttributes.model_validate(row)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"{where}: {first['msg']}") from exc
    values = attributes.model_dump(include=set(attributes.model_fields_set))
    check_create_values(values)
    return values


def _claim_unique(values: dict[str, Any], skus: set[str], slugs: set[str], digests: set[str]) -> str | None:
    sku, slug = values.get("sku"), values.get("slug")
    digest = repo.external_ref_digest(values.get("external_ref"))
    if sku is not None and sku in skus:
        return "sku"
    if slug is not None and slug in slugs:
        return "slug"
    if digest is not None and digest in digests:
        return "external_ref"
    if sku is not None:
        skus.add(sku)
    if slug is not None:
        slugs.add(slug)
    if digest is not None:
        digests.add(digest)
    return None


def _row_values(scope_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    row = {name: values.get(name) for name in COLUMNS}
    row.update(
        id=uuid.uuid4(),
        scope_id=scope_id,
        status=values.get("status") or "draft",
        external_ref_digest=repo.external_ref_digest(values.get("external_ref")),
        created_at=now,
        updated_at=now,
        version=1,
    )
    return row


def _insert(
    sessions: sessionmaker[Session],
    scope_id: uuid.UUID,
    batch: list[tuple[int, dict[str, Any]]],
    report: ImportReport,
) -> int:
    rows = [_row_values(scope_id, values) for _, values in batch]
    try:
        with sessions() as session:
            begin_write(session)
            session.execute(insert(Product), rows)
            session.commit()
        return len(rows)
    except IntegrityError:
        pass
    # Someone else took a sku/slug/external_ref since we looked: insert row by row to find them.
    imported = 0
    with sessions() as session:
        begin_write(session)
        for (line_no, _), row in zip(batch, rows, strict=True):
            try:
                with session.begin_nested():
                    session.execute(insert(Product), [row])
                imported += 1
            except IntegrityError as exc:
                report.errors.append((line_no, f"not unique: {exc.orig}"))
        session.commit()
    return imported
