"""Bulk product loads from JSON lines or CSV.

Every row goes through the same checks as `POST /pcm/products` (the request schema, the required
fields, uniqueness of sku/slug/external_ref against the database and the rest of the file). Bad rows
are reported by line number; good rows are inserted in batches, one transaction per batch.

Input formats:
- JSON lines (`.jsonl`, `.ndjson`, `.json`): one object per line, either the product attributes
  themselves or a whole API request body `{"data": {"type": "product", "attributes": {...}}}`.
- CSV (`.csv`, UTF-8, optional BOM): a header row naming attributes; empty cells are absent attributes;
  `tags` is a comma-separated list and `locales` a JSON object.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlalchemy import Table, insert
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from assortment.db.engine import begin_write
from assortment.db.models import ORGANIZATION_SCOPE, Product, Store
from assortment.db.repositories import products as repo
from assortment.db.types import utcnow
from assortment.domain import auth
from assortment.domain.products import COLUMNS, UNIQUE_FIELDS, check_create_values
from assortment.errors import NotFound, ValidationFailed
from assortment.schemas.products import ProductAttributes

CSV_LIST_FIELDS = ("tags",)
CSV_JSON_FIELDS = ("locales",)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
# Attribute errors are reported without the request-body prefix the API uses (rows are attributes).
API_PREFIX = "data.attributes."
MAX_PROBLEMS_PER_ROW = 5
PROGRESS_EVERY = 1000
NOT_UNIQUE = "Must be unique amongst products."

# Core inserts on the table: the ORM's bulk path costs more per row and adds nothing here.
PRODUCT_TABLE: Table = Product.__table__  # type: ignore[assignment]
# (line number, the row or an error message, bytes read so far)
RowItem = tuple[int, dict[str, Any] | str, int]


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
    """Load the products of a file into a store (the default one unless named) or the organization.

    Raises ValueError for a file type it does not know, NotFound/ValidationFailed for a bad target,
    before anything is read or written.
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    read_rows = _reader_for(path)
    with sessions() as session:
        scope_id = _resolve_scope(session, store_id, organization)
        skus, slugs, digests = repo.existing_unique_values(session, scope_id)
    # value -> line that claimed it (0: a product already in the database)
    claimed: dict[str, dict[str, int]] = {
        "sku": dict.fromkeys(skus, 0),
        "slug": dict.fromkeys(slugs, 0),
        "external_ref": dict.fromkeys(digests, 0),
    }
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
        rows_read = 0
        for line_no, row, position in read_rows(path):
            rows_read += 1
            if progress and rows_read % PROGRESS_EVERY == 0:
                bar.update(task, completed=position, rows=rows_read)
            if isinstance(row, str):
                report.errors.append((line_no, row))
                continue
            try:
                values = _validate(row)
            except ValidationFailed as exc:
                report.errors.append((line_no, _strip_prefix(str(exc.detail))))
                continue
            clash = _claim_unique(line_no, values, claimed)
            if clash:
                report.errors.append((line_no, clash))
                continue
            batch.append((line_no, _row_values(scope_id, values)))
            if len(batch) >= batch_size:
                report.imported += _insert(sessions, batch, report)
                batch = []
        if batch:
            report.imported += _insert(sessions, batch, report)
        bar.update(task, completed=total_bytes, rows=rows_read)
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


def _reader_for(path: Path) -> Callable[[Path], Iterator[RowItem]]:
    """The row reader for the file's type; checked before anything is written."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _csv_rows
    if suffix in JSONL_SUFFIXES:
        return _jsonl_rows
    raise ValueError(
        f"unknown file type {path.suffix or '(no extension)'!r}: use .jsonl, .ndjson, .json or .csv"
    )


def _jsonl_rows(path: Path) -> Iterator[RowItem]:
    position = 0
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            position += len(raw)
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except UnicodeDecodeError:
                yield line_no, "not valid UTF-8", position
                continue
            except ValueError:
                yield line_no, "not valid JSON", position
                continue
            if not isinstance(row, dict):
                yield line_no, "each line must be a JSON object", position
                continue
            if "data" in row:  # a whole API request body
                data = row["data"]
                if not isinstance(data, dict):
                    yield line_no, "data: Input should be a valid dictionary or object", position
                    continue
                if "type" not in data:
                    yield line_no, "data.type: Field required", position
                    continue
                if data["type"] != "product":
                    yield line_no, "data.type: Input should be 'product'", position
                    continue
                row = data.get("attributes")
                if not isinstance(row, dict):
                    yield line_no, "data.attributes: Field required", position
                    continue
            yield line_no, row, position


def _csv_rows(path: Path) -> Iterator[RowItem]:
    with path.open("rb") as raw_handle:
        # surrogateescape: a row with bytes that are not UTF-8 is reported alone, the others still load.
        handle = io.TextIOWrapper(raw_handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(handle)
        header: list[str] | None = None
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, f"not valid CSV: {exc}", raw_handle.tell()
                continue
            if not cells:
                continue
            if header is None:
                header = [name.strip() for name in cells]
                continue
            yield start, _csv_record(header, cells), raw_handle.tell()


def _csv_record(header: list[str], cells: list[str]) -> dict[str, Any] | str:
    if len(cells) > len(header):
        return f"more cells than header columns ({len(cells)} > {len(header)})"
    try:
        "".join(cells).encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8"
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


def _strip_prefix(message: str) -> str:
    return message.removeprefix(API_PREFIX)


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


def _insert(
    sessions: sessionmaker[Session], batch: list[tuple[int, dict[str, Any]]], report: ImportReport
) -> int:
    rows = [row for _, row in batch]
    try:
        with sessions() as session:
            begin_write(session)
            session.execute(insert(PRODUCT_TABLE), rows)
            session.commit()
        return len(rows)
    except (IntegrityError, DataError):
        pass
    # Someone else took a sku/slug/external_ref since we looked, or the database refused a value:
    # insert row by row to find the rows at fault and keep the others.
    imported = 0
    with sessions() as session:
        begin_write(session)
        for line_no, row in batch:
            try:
                with session.begin_nested():
                    session.execute(insert(PRODUCT_TABLE), [row])
                imported += 1
            except IntegrityError as exc:
                report.errors.append((line_no, _integrity_message(exc)))
            except DataError as exc:
                report.errors.append((line_no, f"refused by the database: {_first_line(exc.orig)}"))
        session.commit()
    return imported


def _integrity_message(exc: IntegrityError) -> str:
    message = str(exc.orig)
    for name in UNIQUE_FIELDS:
        if name in message:
            return f"{name}: {NOT_UNIQUE} (another writer took it during the import)"
    return f"refused by the database: {_first_line(exc.orig)}"


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error is not None and str(error).strip() else "error"
