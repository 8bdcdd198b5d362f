"""JSON:API list envelopes: links and meta for a page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.types import Scope

from assortment.domain.paging import Page

# Characters kept verbatim in links: clients (the JS SDK among them) send filters unencoded.
_SAFE = "()*,:|._-~"

# A Host header worth repeating in a link: a name or an IPv4 or bracketed IPv6 address, and a port.
_HOST = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def base_url(scope: Scope, public_url: str | None) -> str:
    """What absolute links start with: `ASSORTMENT_PUBLIC_URL` when set, else the request's scheme and host.

    The one place that decides it: the catalog service's links (`page_links`) and the read cache's keys
    (a page is kept per base URL, since its links carry it) both ask here. A Host header that is not a
    host name or address with an optional port is not repeated; the address the server answered on is.
    """
    if public_url:
        return public_url
    scheme = str(scope.get("scheme") or "http")
    host = None
    for name, value in scope.get("headers") or ():
        if name == b"host":
            host = value.decode("latin-1")
            break
    if host is None or not _HOST.fullmatch(host):
        server = scope.get("server")
        if not server:
            host = "localhost"
        elif server[1] is None or server[1] == _DEFAULT_PORTS.get(scheme):
            host = str(server[0])
        else:
            host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}"


def page_links(request: Request, page: Page[Any], *, catalog_style: bool = False) -> dict[str, str | None]:
    """The links of a page (SPEC §0.2). PIM lists: paths, absent links left out. Catalog-service lists
    (`catalog_style`): absolute URLs, absent links as null."""
    limit, offset, total = page.paging.limit, page.paging.offset, page.total
    extra = []
    for name, value in request.query_params.multi_items():
        if name in ("page[limit]", "page[offset]", "page[after]"):
            continue
        extra.append(f"{quote(name, safe='[]')}={quote(value, safe=_SAFE)}")
    suffix = "".join("&" + item for item in extra)
    path = request.url.path
    if catalog_style:
        path = base_url(request.scope, request.app.state.context.settings.public_url) + path
    if page.paging.cursors is not None:
        return _cursor_links(page, f"{path}?page[after]=", f"&page[limit]={limit}{suffix}", catalog_style)

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
    if not catalog_style:
        links = {k: v for k, v in links.items() if v is not None}
    return links


def _cursor_links(page: Page[Any], start: str, suffix: str, catalog_style: bool) -> dict[str, str | None]:
    """A page asked for by cursor (SPEC §10.4): `first` from the start (`page[after]=`), `next` after the
    page's last item, or null (left out, in PIM lists) on the last page; no `prev` or `last`."""
    cursors = page.paging.cursors
    assert cursors is not None and page.paging.after is not None
    here = cursors.encode(page.paging.after) if page.paging.after else ""
    links: dict[str, str | None] = {
        "current": start + here + suffix,
        "first": start + suffix,
        "next": None if page.next is None else start + cursors.encode(page.next) + suffix,
    }
    if not catalog_style:
        links = {k: v for k, v in links.items() if v is not None}
    return links


def list_meta(page: Page[Any]) -> dict[str, Any]:
    """A PIM list's meta: the count after filters; a page asked for by cursor has the limit instead."""
    if page.paging.by_cursor:
        return {"page": {"limit": page.paging.limit}}
    return {"results": {"total": page.total}}


def list_document(request: Request, page: Page[Any], data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": data, "links": page_links(request, page), "meta": list_meta(page)}
