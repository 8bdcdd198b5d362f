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
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assortment.api.bearer import Tokens
from assortment.api.catalog_documents import document_page, etag_of, single_document
from assortment.api.middleware import REQUEST_ID_HEADER, has_nul, request_id_for
from assortment.db.models import CatalogRule
from assortment.db.release_versions import TurnVersions
from assortment.db.repositories import releases as repo
from assortment.db.repositories import storefront
from assortment.db.types import utcnow
from assortment.domain.catalog_rules import ShopperContext, choose_rule
from assortment.domain.paging import Page, Paging
from assortment.domain.publish import release_base
from assortment.domain.release_render import RowRenderer
from assortment.domain.releases import display_currency
from assortment.domain.tenancy import Principal
from assortment.errors import DomainError

RELEASE = r"^/pcm/catalogs/([^/]+)/releases/([^/]+)"
NODE_PRODUCTS = re.compile(RELEASE + r"/nodes/([^/]+)/relationships/products$")
PRODUCT = re.compile(RELEASE + r"/products/([^/]+)$")
SHOPPER_NODE_PRODUCTS = re.compile(r"^/catalog/nodes/([^/]+)/relationships/products$")
SHOPPER_PRODUCT = re.compile(r"^/catalog/products/([^/]+)$")
PATTERNS = (NODE_PRODUCTS, PRODUCT, SHOPPER_NODE_PRODUCTS, SHOPPER_PRODUCT)
LISTS = frozenset({NODE_PRODUCTS, SHOPPER_NODE_PRODUCTS})
SHOPPER = frozenset({SHOPPER_NODE_PRODUCTS, SHOPPER_PRODUCT})
PAGING_KEYS = frozenset({"page[limit]", "page[offset]"})
MAX_ALIASES = 10_000
SHOPPER_KEY = "shopper"
RULE_FIELDS = ("channels", "tags", "customer_ids", "account_ids", "account_tag_ids", "schedules")


@dataclass(frozen=True, slots=True)
class Resolved:
    """What the framework resolved a (catalog, release reference, scopes) to, at a catalog version."""

    catalog_id: uuid.UUID
    release: Any  # the detached, never-changed Release the route used
    version: int


# (release, catalog release_version, the shopper view's rebase of links) a request reads.
Found = tuple[Any, int, tuple[bytes, bytes] | None]


def _json(value: Any) -> Any:
    """A JSON column's value as the ORM gives it: SQLite's driver returns the text, psycopg decodes JSONB."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


class FastReads:
    def __init__(self, app: ASGIApp, owner: Any, tokens: Tokens, versions: TurnVersions) -> None:
        self.app = app
        self.owner = owner  # the application, as `request.app` names it to the rendering
        self.tokens = tokens
        self.versions = versions
        self.resolved: dict[tuple[Any, ...], Resolved] = {}
        self.answered = 0  # requests this path answered (the tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or has_nul(scope):  # the framework refuses NUL
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        match = next((m for m in (pattern.match(path) for pattern in PATTERNS) if m is not None), None)
        answer = None if match is None else await self._answer(scope, match)
        if answer is None:
            await self._learn(scope, receive, send, match)
            return
        self.answered += 1
        await send_document(send, *answer)

    async def _answer(
        self, scope: Scope, match: re.Match[str]
    ) -> tuple[bytes, bytes | None, bytes | None] | None:
        """(body, If-None-Match, X-Request-Id sent) when this path can answer; None: the framework answers."""
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        principal = self.tokens.principal(headers.get(b"authorization"))
        if principal is None:
            return None
        is_list = match.re in LISTS
        query: bytes = scope.get("query_string", b"")
        paging = _paging(query) if is_list else None
        if (paging is None) if is_list else bool(query):
            return None
        try:
            entity = uuid.UUID(match.groups()[-1])
            if match.re in SHOPPER:
                found = await self._shopper_release(principal, headers)
            else:
                found = await self._release(match, principal)
        except Exception:  # not an id, or a database that went away: the framework answers
            return None
        if found is None:
            return None
        release, version, rebase = found
        currency = (headers.get(b"x-moltin-currency") or headers.get(b"ep-currency") or b"").decode("latin-1")
        now = utcnow()
        renderer = RowRenderer(display_currency(release, currency or None), now)
        try:
            if paging is not None:
                body = await self._node_products(scope, release, entity, paging, renderer, rebase)
            else:
                body = await self._product(release, entity, renderer, rebase)
        except Exception:  # a database that went away: the framework reports it the usual way
            return None
        if body is None:
            return None
        state = scope.setdefault("state", {})
        state["release_id"] = str(release.id)
        state["release_version"] = version
        if renderer.valid_until is not None:
            state["valid_until"] = renderer.valid_until.timestamp()
        return body, headers.get(b"if-none-match"), dict(scope["headers"]).get(REQUEST_ID_HEADER)

    async def _release(self, match: re.Match[str], principal: Principal) -> Found | None:
        """The release a release-view path names, as the framework resolved it at the catalog's current
        version (read at most once per turn of the event loop)."""
        entry = self.resolved.get((match.group(1), match.group(2), principal.visible_scopes))
        if entry is None or await self.versions.current_awaited(entry.catalog_id) != entry.version:
            return None
        return entry.release, entry.version, None

    async def _shopper_release(self, principal: Principal, headers: dict[bytes, bytes]) -> Found | None:
        """The release the shopper `/catalog` shows this caller (SPEC §5): the rules chosen by the domain's
        own `choose_rule` over the rules read now, then the latest release of that catalog, as the
        framework resolved it at the catalog's version read now."""

        def header(name: bytes) -> str | None:
            value = headers.get(name)
            return None if value is None else value.decode("latin-1")

        context = ShopperContext(
            channel=header(b"ep-channel"),
            tag=header(b"ep-context-tag"),
            customer_id=header(b"x-moltin-customer-id"),
            account_id=header(b"ep-account-id"),
        )
        scopes = principal.visible_scopes
        pair = (scopes[0], scopes[-1])
        found = await self.versions.rows_now(storefront.SHOPPER_CATALOGS, *pair, *pair)
        rules = [
            CatalogRule(
                pk=row[2],
                catalog_pk=row[3],
                **{name: _json(value) for name, value in zip(RULE_FIELDS, row[4:10], strict=True)},
            )
            for row in found
            if row[0] == 0
        ]
        chosen = choose_rule(rules, context, utcnow())
        picked: tuple[Any, ...] | None
        if chosen is not None:
            picked = next(row for row in found if row[0] == 0 and row[2] == chosen.pk)
        else:
            picked = next((row for row in found if row[0] == 1), None)
        if picked is None:
            return None
        raw_id, version = picked[10], picked[11]
        catalog_id = raw_id if isinstance(raw_id, uuid.UUID) else uuid.UUID(hex=raw_id)
        entry = self.resolved.get((SHOPPER_KEY, catalog_id))
        if entry is None or entry.version != version:
            return None
        rebase = (release_base(catalog_id, entry.release.id).encode(), b"/catalog")
        return entry.release, version, rebase

    async def _node_products(
        self,
        scope: Scope,
        release: Any,
        node_id: uuid.UUID,
        paging: Paging,
        renderer: RowRenderer,
        rebase: tuple[bytes, bytes] | None,
    ) -> bytes | None:
        rows = await self.versions.fetch_awaited(
            repo.FAST_NODE_PRODUCTS_COUNTED, release.pk, node_id, release.pk, node_id, paging.limit, paging.offset
        )
        if rows:
            total = int(rows[0][4])
        else:
            found = await self.versions.fetch_awaited(repo.FAST_NODE_PRODUCT_COUNT, release.pk, node_id)
            if not found:
                return None
            total = int(found[0][0])
            if paging.offset < total:  # the release went away in between
                return None
        items = renderer.rows([(row[0], row[1], bool(row[2]), row[3]) for row in rows])
        return document_page(Request({**scope, "app": self.owner}), Page(items, total, paging), rebase=rebase)

    async def _product(
        self, release: Any, product_id: uuid.UUID, renderer: RowRenderer, rebase: tuple[bytes, bytes] | None
    ) -> bytes | None:
        rows = await self.versions.fetch_awaited(repo.FAST_PRODUCT_ROW, release.pk, product_id)
        if not rows:
            return None
        return single_document(renderer.row(rows[0][0], rows[0][1], False, rows[0][2]), rebase=rebase)

    async def _learn(self, scope: Scope, receive: Receive, send: Send, match: re.Match[str] | None) -> None:
        """Let the framework answer; after a success, remember the release it resolved (for this reference
        and scopes; for the shopper view, as the latest of the catalog the rules chose)."""
        if match is None:
            await self.app(scope, receive, send)
            return
        status = 0

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watching)
        state = scope.get("state") or {}
        catalog_id, release = state.get("catalog_uuid"), state.get("release")
        version, scopes = state.get("release_version"), state.get("scopes")
        if status not in (200, 304) or catalog_id is None or release is None or version is None:
            return
        if len(self.resolved) >= MAX_ALIASES:
            self.resolved.clear()
        if match.re in SHOPPER:  # the shopper's catalog is chosen anew on every request; its latest is kept
            self.resolved[(SHOPPER_KEY, catalog_id)] = Resolved(catalog_id, release, version)
        elif scopes is not None:
            self.resolved[(match.group(1), match.group(2), scopes)] = Resolved(catalog_id, release, version)


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
