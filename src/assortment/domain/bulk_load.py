"""Bulk loads from JSON lines or CSV, shared by the product and price imports.

Every row is checked like the API checks a request body; bad rows are reported by line number and the
good ones are inserted in batches, one transaction per batch. When a batch is refused (another writer
took a unique value meanwhile, or the database rejects a value), it is retried row by row so only the
rows at fault are left out.

Input formats:
- JSON lines (`.jsonl`, `.ndjson`, `.json`): one object per line, either the attributes themselves or a
  whole API request body `{"data": {"type": ..., "attributes": {...}}}`.
- CSV (`.csv`, UTF-8, optional BOM): a header row, then one row per record; each import says how a
  record's cells become attributes.
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

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlalchemy import Table, insert
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from assortment.db.engine import begin_write
from assortment.db.models import ORGANIZATION_SCOPE
from assortment.domain.tenancy import Principal
from assortment.errors import ValidationFailed

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
# Attribute errors are reported without the request-body prefix the API uses (rows are attributes).
API_PREFIX = "data.attributes."
PROGRESS_EVERY = 1000

# (line number, the row or an error message, bytes read so far)
RowItem = tuple[int, dict[str, Any] | str, int]


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class LoadSpec:
    """What one kind of import does with its rows."""

    resource_type: str  # the `data.type` of whole-request-body lines
    table: Table
    csv_record: Callable[[list[str], list[str]], dict[str, Any] | str]
    validate: Callable[[dict[str, Any]], dict[str, Any]]  # raises ValidationFailed
    claim: Callable[[int, dict[str, Any]], str | None]  # the unique value a row takes, or why it cannot
    to_row: Callable[[dict[str, Any]], dict[str, Any]]
    integrity_message: Callable[[IntegrityError], str]
    # Called with the rows a batch inserted, in its transaction before it commits (their events).
    inserted: Callable[[Session, list[dict[str, Any]]], None] | None = None


def bulk_principal(scope_id: uuid.UUID) -> Principal:
    """Who the events of a bulk load name: the command line acts as a key of the target's owner, with the
    nil id (as `assortment catalogs publish` does)."""
    store_id = None if scope_id == ORGANIZATION_SCOPE else scope_id
    return Principal(key_id=uuid.UUID(int=0), store_id=store_id, grant="client_credentials")


def check_file_type(path: Path) -> None:
    """Refuse a file type we cannot read, before anything is read or written."""
    if path.suffix.lower() in (*CSV_SUFFIXES, *JSONL_SUFFIXES):
        return
    raise ValueError(f"unknown file type {path.suffix or '(no extension)'!r}: use .jsonl, .ndjson, .json or .csv")


def load_file(
    sessions: sessionmaker[Session],
    path: Path,
    spec: LoadSpec,
    *,
    batch_size: int = 5000,
    progress: bool = True,
    console: Console | None = None,
) -> ImportReport:
    started = time.perf_counter()
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    check_file_type(path)
    is_csv = path.suffix.lower() in CSV_SUFFIXES
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
        rows = csv_rows(path, spec.csv_record) if is_csv else jsonl_rows(path, spec.resource_type)
        for line_no, row, position in rows:
            rows_read += 1
            if progress and rows_read % PROGRESS_EVERY == 0:
                bar.update(task, completed=position, rows=rows_read)
            if isinstance(row, str):
                report.errors.append((line_no, row))
                continue
            try:
                values = spec.validate(row)
            except ValidationFailed as exc:
                report.errors.append((line_no, str(exc.detail).removeprefix(API_PREFIX)))
                continue
            clash = spec.claim(line_no, values)
            if clash:
                report.errors.append((line_no, clash))
                continue
            batch.append((line_no, spec.to_row(values)))
            if len(batch) >= batch_size:
                report.imported += _insert(sessions, spec, batch, report)
                batch = []
        if batch:
            report.imported += _insert(sessions, spec, batch, report)
        bar.update(task, completed=total_bytes, rows=rows_read)
    report.errors.sort()
    report.seconds = time.perf_counter() - started
    return report


def jsonl_rows(path: Path, resource_type: str) -> Iterator[RowItem]:
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
                if data["type"] != resource_type:
                    yield line_no, f"data.type: Input should be '{resource_type}'", position
                    continue
                row = data.get("attributes")
                if not isinstance(row, dict):
                    yield line_no, "data.attributes: Field required", position
                    continue
            yield line_no, row, position


def csv_rows(path: Path, record: Callable[[list[str], list[str]], dict[str, Any] | str]) -> Iterator[RowItem]:
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
            if len(cells) > len(header):
                yield start, f"more cells than header columns ({len(cells)} > {len(header)})", raw_handle.tell()
                continue
            try:
                "".join(cells).encode("utf-8")
            except UnicodeEncodeError:
                yield start, "not valid UTF-8", raw_handle.tell()
                continue
            yield start, record(header, cells), raw_handle.tell()


def _insert(
    sessions: sessionmaker[Session], spec: LoadSpec, batch: list[tuple[int, dict[str, Any]]], report: ImportReport
) -> int:
    rows = [row for _, row in batch]
    try:
        with sessions() as session:
            begin_write(session)
            session.execute(insert(spec.table), rows)
            if spec.inserted is not None:
                spec.inserted(session, rows)
            session.commit()
        return len(rows)
    except (IntegrityError, DataError):
        pass
    inserted = []
    with sessions() as session:
        begin_write(session)
        for line_no, row in batch:
            try:
                with session.begin_nested():
                    session.execute(insert(spec.table), [row])
                inserted.append(row)
            except IntegrityError as exc:
                report.errors.append((line_no, spec.integrity_message(exc)))
            except DataError as exc:
                report.errors.append((line_no, f"refused by the database: {first_line(exc.orig)}"))
        if spec.inserted is not None:
            spec.inserted(session, inserted)
        session.commit()
    return len(inserted)


def first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error is not None and str(error).strip() else "error"
