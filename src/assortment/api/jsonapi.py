"""JSON:API list envelopes: links and meta for a page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from assortment.domain.paging import Page

# Characters kept verbatim in links: clients (the JS SDK among them) send filters unencoded.
_SAFE = "()*,:|._-~"


def page_links(request: Request, page: Page[Any], *, with_nulls: bool = False) -> dict[str, str | None]:
    limit, offset, total = page.paging.limit, page.paging.offset, page.total
    extra = []
    for name, value in request.query_params.multi_items():
        if name in ("page[limit]", "page[offset]"):
            continue
        extra.append(f"{quote(name, safe='[]')}={quote(value, safe=_SAFE)}")
    suffix = "".join("&" + item for item in extra)
    path = request.url.path

    def link(at: int) -> str:
        return f"{path}?page[offset]={at}&page[limit]={limit}{suffix}"

    last_offset = 0 if total == 0 else ((total - 1) // limit) * limit
    links: dict[str, str | None] = {
        "current": link(offset),
        "first": link(0),
        "last": link(last_offset),
        "next": link(offset + limit) if offset + limit < total else None,
        "prev": link(max(offset - limit, 0)) if offset > 0 else None,
    }
    if not with_nulls:
        links = {k: v for k, v in links.items() if v is not None}
    return links


def list_document(request: Request, page: Page[Any], data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": data, "links": page_links(request, page), "meta": {"results": {"total": page.total}}}
