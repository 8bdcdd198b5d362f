"""The storefront's everyday release reads, answered outside the framework (issue 17).

A page of a node's products and a product by id are most of a storefront's traffic, and most of them miss
the read cache (thousands of distinct pages, emptied by every publish). Through FastAPI such a read spends
more time in routing, dependencies, the thread pool and a session than in its two indexed queries; here a
pure ASGI handler answers it:

- only `GET …/releases/{rid}/nodes/{nid}/relationships/products` and `GET …/releases/{rid}/products/{pid}`
  with no query but `page[limit]`/`page[offset]` (valid ones) and a bearer token this process has verified;
- the release the path names is one the framework resolved before for the same catalog reference and
  scopes, at the catalog's current `release_version` (read at most once per turn of the event loop, as the
  read cache does: SPEC §12.4), so `latest` moves in every process as soon as a publish, restore or delete
  has answered;
- the rows come from the repositories' own fixed statements on a connection of the process's own
  (`ReleaseVersions.fetch`), and the page is assembled by the functions the routes use (`RowRenderer`,
  `document_page`), so the answer is the framework's, byte for byte (tests/api/test_fast_reads.py).

Everything else — another query parameter, an unknown token, a release not resolved yet, a node or product
not in the release, any error — goes to the framework, which answers it as always (and teaches this path
the release it resolved).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assortment.api.catalog_documents import document_page, etag_of, single_document
from assortment.api.middleware import REQUEST_ID_HEADER, request_id_for
from assortment.db.release_versions import TurnVersions
from assortment.db.repositories import releases as repo
from assortment.db.types import utcnow
from assortment.domain import auth
from assortment.domain.paging import Page, Paging
from assortment.domain.release_render import RowRenderer
from assortment.domain.releases import display_currency
from assortment.domain.tenancy import Principal
from assortment.errors import DomainError, Unauthenticated

RELEASE = r"^/pcm/catalogs/([^/]+)/releases/([^/]+)"
NODE_PRODUCTS = re.compile(RELEASE + r"/nodes/([^/]+)/relationships/products$")
PRODUCT = re.compile(RELEASE + r"/products/([^/]+)$")
PAGING_KEYS = frozenset({"page[limit]", "page[offset]"})
MAX_ALIASES = 10_000
MAX_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class Resolved:
    """What the framework resolved a (catalog, release reference, scopes) to, at a catalog version."""

    catalog_id: uuid.UUID
    release: Any  # the detached, never-changed Release the route used
    version: int


class Tokens:
    """Bearer tokens this process has verified, shared with the read cache (`ReleaseViewCache.tokens`,
    which the access log also reads to name the store of a request answered outside the framework)."""

    def __init__(self, known: dict[bytes, tuple[Principal, int]], signing_key: Callable[[], str]) -> None:
        self.known = known
        self.signing_key = signing_key

    def principal(self, header: bytes | None) -> Principal | None:
        if not header or header[:7].lower() != b"bearer ":
            return None
        token = header[7:].strip()
        cached = self.known.get(token)
        if cached is not None:
            return cached[0] if cached[1] > time.time() else None
        try:
            principal, expires = auth.decode_token(token.decode("latin-1"), self.signing_key())
        except Unauthenticated:
            return None
        if len(self.known) >= MAX_TOKENS:
            self.known.clear()
        self.known[token] = (principal, expires)
        return principal


class FastReads:
    def __init__(self, app: ASGIApp, owner: Any, tokens: Tokens, versions: TurnVersions) -> None:
        self.app = app
        self.owner = owner  # the application, as `request.app` names it to the rendering
        self.tokens = tokens
        self.versions = versions
        self.resolved: dict[tuple[Any, ...], Resolved] = {}
        self.answered = 0  # requests this path answered (the tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        match = NODE_PRODUCTS.match(path) or PRODUCT.match(path)
        answer = None if match is None else self._answer(scope, match)
        if answer is None:
            await self._learn(scope, receive, send, match)
            return
        self.answered += 1
        await send_document(send, *answer)

    def _answer(self, scope: Scope, match: re.Match[str]) -> tuple[bytes, bytes | None, bytes | None] | None:
        """(body, If-None-Match, X-Request-Id sent) when this path can answer; None: the framework answers."""
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        principal = self.tokens.principal(headers.get(b"authorization"))
        if principal is None:
            return None
        is_list = match.re is NODE_PRODUCTS
        query: bytes = scope.get("query_string", b"")
        paging = _paging(query) if is_list else None
        if (paging is None) if is_list else bool(query):
            return None
        entry = self.resolved.get((match.group(1), match.group(2), principal.visible_scopes))
        if entry is None:
            return None
        release = entry.release
        try:
            if self.versions.current(entry.catalog_id) != entry.version:
                return None
            entity = uuid.UUID(match.group(3))
        except ValueError:
            return None
        currency = (headers.get(b"x-moltin-currency") or headers.get(b"ep-currency") or b"").decode("latin-1")
        now = utcnow()
        renderer = RowRenderer(display_currency(release, currency or None), now)
        try:
            if paging is not None:
                body = self._node_products(scope, release, entity, paging, renderer)
            else:
                body = self._product(release, entity, renderer)
        except Exception:  # a database that went away: the framework reports it the usual way
            return None
        if body is None:
            return None
        state = scope.setdefault("state", {})
        state["release_id"] = str(release.id)
        state["release_version"] = entry.version
        if renderer.valid_until is not None:
            state["valid_until"] = renderer.valid_until.timestamp()
        return body, headers.get(b"if-none-match"), dict(scope["headers"]).get(REQUEST_ID_HEADER)

    def _node_products(
        self, scope: Scope, release: Any, node_id: uuid.UUID, paging: Paging, renderer: RowRenderer
    ) -> bytes | None:
        found = self.versions.fetch(repo.FAST_NODE_PRODUCT_COUNT, release.pk, node_id)
        if not found:
            return None
        total = int(found[0][0])
        rows = self.versions.fetch(repo.FAST_NODE_PRODUCTS_PAGE, release.pk, node_id, paging.limit, paging.offset)
        if not rows and paging.offset < total:  # the release went away in between
            return None
        items = renderer.rows([(row[0], row[1], bool(row[2])) for row in rows])
        return document_page(Request({**scope, "app": self.owner}), Page(items, total, paging))

    def _product(self, release: Any, product_id: uuid.UUID, renderer: RowRenderer) -> bytes | None:
        rows = self.versions.fetch(repo.FAST_PRODUCT_ROW, release.pk, product_id)
        if not rows:
            return None
        return single_document(renderer.row(rows[0][0], rows[0][1], False))

    async def _learn(self, scope: Scope, receive: Receive, send: Send, match: re.Match[str] | None) -> None:
        """Let the framework answer; remember the release it resolved for this reference and scopes."""
        await self.app(scope, receive, send)
        if match is None:
            return
        state = scope.get("state") or {}
        ref, version, scopes = state.get("release_ref"), state.get("release_version"), state.get("scopes")
        if ref is None or version is None or scopes is None:
            return
        if len(self.resolved) >= MAX_ALIASES:
            self.resolved.clear()
        self.resolved[(match.group(1), match.group(2), scopes)] = Resolved(ref.catalog.id, ref.release, version)


def _paging(query: bytes) -> Paging | None:
    """The page a list asks for; None when the query holds anything this path leaves to the framework
    (a filter, another parameter, a value the framework refuses)."""
    if not query:
        return Paging()
    try:
        pairs = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True, strict_parsing=True))
    except ValueError:
        return None
    if not pairs.keys() <= PAGING_KEYS:
        return None
    try:
        return Paging.parse(pairs.get("page[limit]"), pairs.get("page[offset]"))
    except DomainError:
        return None


async def send_document(send: Send, body: bytes, if_none_match: bytes | None, sent_id: bytes | None) -> None:
    """A release document as `cacheable` answers it: an ETag, and 304 for a matching If-None-Match."""
    etag = etag_of(body).encode()
    common = [
        (b"etag", etag),
        (b"cache-control", b"private, max-age=0, must-revalidate"),
        (b"vary", b"X-Moltin-Currency"),
    ]
    request_id = (b"x-request-id", request_id_for(sent_id).encode())
    if if_none_match and (if_none_match.strip() == b"*" or etag in [t.strip() for t in if_none_match.split(b",")]):
        start: Message = {"type": "http.response.start", "status": 304, "headers": [*common, request_id]}
        await send(start)
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [
        *common,
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
        request_id,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
