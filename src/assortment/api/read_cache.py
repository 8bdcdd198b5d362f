"""The fast read path of the release view.

A release never changes, so a rendered release-view response can be kept and served again without
touching the database or the router: this pure ASGI middleware answers a GET under
`/pcm/catalogs/{cid}/releases/{rid}/(hierarchies|nodes|products)…` from memory when it has seen it
before, after checking the bearer token (with a small cache of verified tokens).

What it needs to know and does not compute itself comes from the normal route: the route records
which release a request resolved to (`scope["state"]["release_id"]`), and the middleware keeps the
200 body it produced under (release id, path, query, display currency). The alias `latest` is resolved
from a per-process table that expires after `ALIAS_TTL` seconds (and is cleared when this process
publishes), so another process's publish is seen within that time, plus the time the app takes to
answer one request: an expired entry is refreshed by a single request going through the app, while the
requests that arrive meanwhile are still answered from it. Were they all sent to the app, every
`ALIAS_TTL` a busy page would be rendered by every connection at once, stalling the process.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assortment.api.catalog_documents import etag_of
from assortment.api.middleware import REQUEST_ID_HEADER, request_id_for
from assortment.domain import auth
from assortment.domain.tenancy import Principal
from assortment.errors import Unauthenticated

VIEW_PATH = re.compile(r"^/pcm/catalogs/([^/]+)/releases/([^/]+)/(?:hierarchies|nodes|products)(?:/|$)")
ALIAS_TTL = 1.0
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
        self.aliases: dict[tuple[Any, ...], tuple[str, float]] = {}
        self.refreshing: set[tuple[Any, ...]] = set()  # expired aliases a request is asking the app about
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

    def forget_aliases(self) -> None:
        self.aliases.clear()


class ReleaseViewCacheMiddleware:
    def __init__(self, app: ASGIApp, cache: ReleaseViewCache, signing_key: Any) -> None:
        self.app = app
        self.cache = cache
        self.signing_key = signing_key  # a callable returning the key (loaded lazily from the database)

    def _principal(self, header: bytes | None) -> Principal | None:
        if not header or header[:7].lower() != b"bearer ":
            return None
        token = header[7:].strip()
        cached = self.cache.tokens.get(token)
        now = time.time()
        if cached is not None:
            return cached[0] if cached[1] > now else None
        try:
            principal, expires = auth.decode_token(token.decode("latin-1"), self.signing_key())
        except Unauthenticated:
            return None
        if len(self.cache.tokens) >= MAX_TOKENS:
            self.cache.tokens.clear()
        self.cache.tokens[token] = (principal, expires)
        return principal

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
        principal = self._principal(headers.get(b"authorization"))
        if principal is None:  # let the app answer (401 and friends) the usual way
            await self.app(scope, receive, send)
            return
        catalog_id, release_ref = match.group(1), match.group(2)
        scopes = principal.visible_scopes
        currency = headers.get(b"x-moltin-currency") or headers.get(b"ep-currency") or b""
        alias = (catalog_id, release_ref, scopes)
        release_id, refresh = self._release_id(alias)
        page = None
        if release_id is not None:
            page = self.cache.get((release_id, path, scope.get("query_string", b""), currency.lower()))
        if page is not None:
            await _send_page(send, page, headers.get(b"if-none-match"), headers.get(REQUEST_ID_HEADER))
            return
        if not refresh:
            await self._render_and_keep(scope, receive, send, alias, path, currency.lower())
            return
        self.cache.refreshing.add(alias)
        try:
            await self._render_and_keep(scope, receive, send, alias, path, currency.lower(), refresh=True)
        finally:
            self.cache.refreshing.discard(alias)

    def _release_id(self, alias: tuple[Any, ...]) -> tuple[str | None, bool]:
        """The release the alias stands for (None: ask the app), and whether this request is to refresh
        an expired entry. While one request does, the others keep the entry's release."""
        entry = self.cache.aliases.get(alias)
        if entry is None:
            return None, False
        if entry[1] >= time.monotonic() or alias in self.cache.refreshing:
            return entry[0], False
        return None, True

    async def _render_and_keep(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        alias: tuple[Any, ...],
        path: str,
        currency: bytes,
        *,
        refresh: bool = False,
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
        release_id = state.get("release_id")
        if refresh and release_id and status == 304:  # resolved, nothing to keep: the entry holds
            self.cache.aliases[alias] = (release_id, time.monotonic() + ALIAS_TTL)
            return
        if status != 200 or not release_id:
            if refresh:  # the app no longer answers as the entry says: stop answering from it
                self.cache.aliases.pop(alias, None)
            return
        self.cache.aliases[alias] = (release_id, time.monotonic() + ALIAS_TTL)
        key = (release_id, path, scope.get("query_string", b""), currency)
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
