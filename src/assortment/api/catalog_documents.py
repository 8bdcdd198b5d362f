"""Rendering for the catalog service: catalog and release objects, pages of stored documents, ETags."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from assortment.api.jsonapi import page_links
from assortment.db.models import Catalog, Release
from assortment.domain import events
from assortment.domain.formats import timestamp
from assortment.domain.paging import Page
from assortment.domain.publish import release_base
from assortment.domain.releases import ReleaseService

JSON = "application/json"


def catalog_list_meta(page: Page[Any]) -> dict[str, Any]:
    """Catalog-service lists carry the record count and the page numbers (SPEC §0.2, §B-4)."""
    limit = page.paging.limit
    if page.paging.by_cursor:  # SPEC §10.4: no count, no page numbers
        return {"page": {"limit": limit}}
    return {
        "page": {
            "limit": limit,
            "offset": page.paging.offset,
            "current": page.paging.offset // limit + 1,
            "total": (page.total + limit - 1) // limit if page.total else 0,
        },
        "results": {"total": page.total},
    }


def catalog_links(request: Request, page: Page[Any]) -> dict[str, str | None]:
    """Catalog-service paging links: absolute URLs, null when absent, `self` beside `current` (SPEC §0.2)."""
    links = page_links(request, page, catalog_style=True)
    links["self"] = links["current"]
    return links


def document_page(request: Request, page: Page[bytes], *, rebase: tuple[bytes, bytes] | None = None) -> bytes:
    """A list response assembled from stored document bytes, without parsing them."""
    documents = page.items
    if rebase is not None:
        documents = [doc.replace(rebase[0], rebase[1]) for doc in documents]
    tail = orjson.dumps({"links": catalog_links(request, page), "meta": catalog_list_meta(page)})
    return b'{"data":[' + b",".join(documents) + b"]," + tail[1:]


def single_document(document: bytes, *, rebase: tuple[bytes, bytes] | None = None) -> bytes:
    if rebase is not None:
        document = document.replace(rebase[0], rebase[1])
    return b'{"data":' + document + b"}"


def etag_of(body: bytes) -> str:
    # SHA-256, which the processor computes (SHA extensions through OpenSSL), cut to 96 bits: a 60 KB page in
    # ≈ 34 µs against ≈ 65 µs for BLAKE2b, which runs in software.
    return '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


def cacheable(request: Request, service: ReleaseService, body: bytes) -> Response:
    """Release content never changes: send an ETag and answer a matching If-None-Match with 304.

    Prices shown depend on the display currency and, at sale boundaries, on the time: the read cache
    keeps the body only until `valid_until` (when a sale starts or ends).
    """
    if service.valid_until is not None:
        request.state.valid_until = service.valid_until.timestamp()
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": "private, max-age=0, must-revalidate", "Vary": "X-Moltin-Currency"}
    wanted = request.headers.get("if-none-match")
    if wanted and (wanted.strip() == "*" or etag in [tag.strip() for tag in wanted.split(",")]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=JSON, headers=headers)


def render_catalog(catalog: Catalog, release_count: int | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "name": catalog.name,
        "description": catalog.description,
        "hierarchy_ids": list(catalog.hierarchy_ids),
        "enable_price_segmentation": catalog.enable_price_segmentation,
        "created_at": timestamp(catalog.created_at),
        "updated_at": timestamp(catalog.updated_at),
        "owner": catalog.owner,
    }
    if catalog.pricebook_id is not None:
        attributes["pricebook_id"] = str(catalog.pricebook_id)
    if catalog.pricebook_ids is not None:
        attributes["pricebook_ids"] = catalog.pricebook_ids
    if catalog.locales:
        attributes["locales"] = catalog.locales
    releases: dict[str, Any] = {"links": {"related": f"/pcm/catalogs/{catalog.id}/releases"}}
    if release_count is not None:
        releases["meta"] = {"count": release_count}
    return {
        "type": "catalog",
        "id": str(catalog.id),
        "attributes": attributes,
        "relationships": {
            "releases": releases,
            "rules": {"links": {"related": f"/pcm/catalogs/rules?filter=eq(catalog_id,{catalog.id})"}},
        },
        "links": {"self": f"/pcm/catalogs/{catalog.id}"},
    }


def render_release(catalog: Catalog, release: Release) -> dict[str, Any]:
    base = release_base(catalog.id, release.id)
    return {
        "type": "catalog-release",
        "id": str(release.id),
        "attributes": {
            "name": release.name,
            "description": release.description,
            "catalog_id": str(catalog.id),
            "published_at": timestamp(release.published_at) if release.published_at else None,
            "hierarchies": release.hierarchies,
        },
        "relationships": {
            "hierarchies": {"links": {"related": f"{base}/hierarchies"}},
            "products": {"links": {"related": f"{base}/products"}},
            "delta": {"links": {"related": f"{base}/delta"}},
        },
        "meta": {
            "created_at": timestamp(release.created_at),
            "started_at": timestamp(release.started_at),
            "updated_at": timestamp(release.updated_at),
            "release_status": release.status,
            "language": "en",
            "is_full_publish": release.is_full_publish,
            "is_full_delta": release.is_full_delta,
            "total_products": release.total_products,
            "total_nodes": release.total_nodes,
            "percent_completed": 100 if release.status == "PUBLISHED" else 0,
            "owner": release.owner,
            "price_segmentation_enabled": release.price_segmentation_enabled,
            "is_latest": catalog.latest_release_pk == release.pk,  # SPEC §10.2
        },
        "links": {"self": base},
    }


def _release_event(_session: Any, catalog_and_release: tuple[Catalog, Release]) -> dict[str, Any]:
    catalog, release = catalog_and_release
    return {"data": render_release(catalog, release)}


# A release's events carry it as its GET renders it. Registered here rather than with the other renderers in
# api/events.py, so that `assortment catalogs publish` loads this module only, not every router (≈ 0.8 s).
events.register_renderer("catalog-release", _release_event)
