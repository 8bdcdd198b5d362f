"""The fast read path of the release view.

A release never changes, so a rendered release-view response can be kept and served again without
touching the database or the router: this pure ASGI middleware answers a GET under
`/pcm/catalogs/{cid}/releases/{rid}/(hierarchies|nodes|products)…` from memory when it has seen it
before, after checking the bearer token (with a small cache of verified tokens).

What it needs to know and does not compute itself comes from the normal route: the route records
which release a request resolved to and the catalog's `release_version` it read
(`scope["state"]["release_id"]`, `["release_version"]`), and the middleware keeps the 200 body it
produced under (release id, path, query, display currency, the base URL its paging links start with),
and what the release reference of the path (`latest`, or an id) resolved to, for the caller's scopes,
at that version.

One `latest` for every process (SPEC §12.4): every write that changes a catalog's releases (publish,
release deletes) raises `catalog.release_version` in its own transaction, and a remembered resolution is
used only while the catalog's current version, read from the database after the request arrived, is still
the one it was made at. The version is read at most once per turn of the event loop (`TurnVersions.current`): the
requests that arrived before one turn share its lookup, made after all of them arrived, so a write that
answered before a request came in is always seen, in every process, at the cost of one indexed lookup per
turn.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assortment.api.bearer import Tokens
from assortment.api.catalog_documents import etag_of
from assortment.api.jsonapi import base_url
from assortment.api.middleware import REQUEST_ID_HEADER, request_id_for
from assortment.db.release_versions import TurnVersions
from assortment.domain.tenancy import Principal

VIEW_PATH = re.compile(r"^/pcm/catalogs/([^/]+)/releases/([^/]+)/(?:hierarchies|nodes|products)(?:/|$)")
MAX_TOKENS = 10_000


@dataclass
class CachedPage:
    body: bytes
    etag: bytes
    valid_until: float | None = None  # epoch seconds; prices on the page change then


class ReleaseViewCache:
    """Bounded, least-recently-used store of rendered pages, by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.pages: OrderedDict[tuple[Any, ...], CachedPage] = OrderedDict()
        # (catalog id as sent, release reference as sent, scopes) → (release id, catalog release_version)
        self.aliases: dict[tuple[Any, ...], tuple[str, int]] = {}
        self.tokens: dict[bytes, tuple[Principal, int]] = {}

    def get(self, key: tuple[Any, ...]) -> CachedPage | None:
        page = self.pages.get(key)
        if page is None:
            return None
        if page.valid_until is not None and page.valid_until <= time.time():
            del self.pages[key]
            self.size -= len(page.body)
            return None
        self.pages.move_to_end(key)
        return page

    def put(self, key: tuple[Any, ...], body: bytes, valid_until: float | None = None) -> None:
        if len(body) > self.max_bytes // 8 or key in self.pages:
            return
        self.pages[key] = CachedPage(body, etag_of(body).encode(), valid_until)
        self.size += len(body)
        while self.size > self.max_bytes and self.pages:
            _, evicted = self.pages.popitem(last=False)
            self.size -= len(evicted.body)


class ReleaseViewCacheMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        cache: ReleaseViewCache,
        tokens: Tokens,
        versions: TurnVersions,
        public_url: str | None = None,
    ) -> None:
        self.app = app
        self.public_url = public_url  # ASSORTMENT_PUBLIC_URL: links on every page start with it
        self.cache = cache
        self.tokens = tokens  # shared with the fast read path (`cache.tokens` underneath)
        self.versions = versions  # catalogs' versions, read at most once per turn of the event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        match = VIEW_PATH.match(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        # The first value of a repeated header, as the app reads it (Starlette's `headers.get`): a later
        # one here would file a page rendered for one currency under another currency's key.
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        principal = self.tokens.principal(headers.get(b"authorization"))
        if principal is None:  # let the app answer (401 and friends) the usual way
            await self.app(scope, receive, send)
            return
        catalog_id, release_ref = match.group(1), match.group(2)
        scopes = principal.visible_scopes
        currency = (headers.get(b"x-moltin-currency") or headers.get(b"ep-currency") or b"").lower()
        alias = (catalog_id, release_ref, scopes)
        # Paging links are absolute (SPEC §0.2): a page rendered for one host must not answer another's.
        base = base_url(scope, self.public_url)
        release_id = await self._release_id(alias)
        if release_id is not None:
            page = self.cache.get((release_id, path, scope.get("query_string", b""), currency, base))
            if page is not None:
                await _send_page(send, page, headers.get(b"if-none-match"), headers.get(REQUEST_ID_HEADER))
                return
        await self._render_and_keep(scope, receive, send, alias, path, currency, base)

    async def _release_id(self, alias: tuple[Any, ...]) -> str | None:
        """The release the path's reference stands for now (None: ask the app)."""
        entry = self.cache.aliases.get(alias)
        if entry is None:
            return None
        try:
            catalog_uuid = uuid.UUID(alias[0])
        except ValueError:
            return None
        return entry[0] if self.versions.current(catalog_uuid) == entry[1] else None

    async def _render_and_keep(
        self, scope: Scope, receive: Receive, send: Send, alias: tuple[Any, ...], path: str, currency: bytes, base: str
    ) -> None:
        status = 0
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200:
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        state = scope.get("state", {})
        release_id, version = state.get("release_id"), state.get("release_version")
        if status not in (200, 304) or not release_id or version is None:
            self.cache.aliases.pop(alias, None)  # the app no longer answers as the entry says
            return
        if len(self.cache.aliases) >= MAX_TOKENS:
            self.cache.aliases.clear()
        self.cache.aliases[alias] = (release_id, version)
        if status == 200:
            key = (release_id, path, scope.get("query_string", b""), currency, base)
            self.cache.put(key, b"".join(chunks), state.get("valid_until"))


async def _send_page(send: Send, page: CachedPage, if_none_match: bytes | None, sent_id: bytes | None) -> None:
    request_id = request_id_for(sent_id).encode()
    if if_none_match and (if_none_match.strip() == b"*" or page.etag in if_none_match):
        await send(
            {
                "type": "http.response.start",
                "status": 304,
                "headers": [(b"etag", page.etag), (b"vary", b"X-Moltin-Currency"), (b"x-request-id", request_id)],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(page.body)).encode()),
                (b"etag", page.etag),
                (b"cache-control", b"private, max-age=0, must-revalidate"),
                (b"vary", b"X-Moltin-Currency"),
                (b"x-request-id", request_id),
            ],
        }
    )
    await send({"type": "http.response.body", "body": page.body})
