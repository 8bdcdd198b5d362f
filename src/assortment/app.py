"""Application factory: wires settings, the database, routers, middleware and error handlers."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from assortment import __version__, web
from assortment.api import auth as auth_routes
from assortment.api import (
    catalog_rules,
    catalogs,
    custom_relationships,
    docs,
    health,
    hierarchies,
    jobs,
    prices,
    products,
    shopper,
)
from assortment.api import errors as api_errors
from assortment.api import events as events_routes
from assortment.api import integrations as integrations_routes
from assortment.api import metrics as metrics_routes
from assortment.api.bearer import Tokens
from assortment.api.deps import AppContext
from assortment.api.direct import DirectReads
from assortment.api.fast_reads import FastReads
from assortment.api.middleware import (
    BodySizeLimitMiddleware,
    RejectLoneSurrogatesMiddleware,
    RejectNulMiddleware,
    RequestIdMiddleware,
)
from assortment.api.read_cache import ReleaseViewCache, ReleaseViewCacheMiddleware
from assortment.api.v2 import product_relationships as v2_product_relationships
from assortment.config import Settings
from assortment.db.engine import make_engine, make_session_factory
from assortment.db.release_versions import ReleaseVersions, TurnVersions
from assortment.domain import events
from assortment.domain.releases import LatestReleases
from assortment.observability import (
    TELEMETRY_MARK,
    RequestTelemetry,
    RouteTemplates,
    access_log_for,
    track_pool,
)

log = logging.getLogger("assortment")

DESCRIPTION = """
Assortment is a self-hostable product experience manager. Its PXM dialect follows the Elastic Path
PXM API (JSON:API envelopes, `filter=` expressions, `page[limit]`/`page[offset]` paging); every error
is `{"errors":[{"status","title","detail","request_id","meta"}]}`. Paging links are paths in PIM lists and
absolute URLs in the catalog service's (catalogs, rules, releases, `/catalog`, price books, currencies):
the request's scheme and host, or the server's `ASSORTMENT_PUBLIC_URL`. Every list also pages by cursor:
`page[after]=` starts a walk, `links.next` carries the next cursor (none on the last page), with no total and no
10,000 limit; a cursor is bound to its list, filter and sort (else 400 `invalid page[after] cursor`) and is
not combined with `page[offset]`.

Get a token with `POST /oauth/access_token` (form-encoded `grant_type=client_credentials`, `client_id`,
`client_secret`) and send it as `Authorization: Bearer <token>`.
"""


# Links inside PIM documents leave out `/pcm`, as upstream's do (`/products/{id}/custom-relationships`,
# `/hierarchies/{id}/children`…); those paths answer as the `/pcm` routes they stand for.
PIM_LINK_PREFIXES = ("/products/", "/hierarchies/")


def pim_alias(scope: Scope) -> Scope:
    path: str = scope["path"]
    raw: bytes = scope.get("raw_path") or path.encode()
    return {**scope, "path": "/pcm" + path, "raw_path": b"/pcm" + raw}


class AssortmentApp(FastAPI):
    """FastAPI with the release-view read cache in front of the whole Starlette stack: a cached page is
    answered without entering the framework (the hot read path of the budgets), everything else, and
    every cache miss, goes through it as usual."""

    front: ASGIApp | None = None

    telemetry: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.telemetry is not None and scope["type"] in ("http", "lifespan"):
            await self.telemetry(scope, receive, send)
        else:
            await self.dispatch(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PIM_LINK_PREFIXES):
            scope = pim_alias(scope)
        if self.front is not None and scope["type"] == "http":
            await self.front(scope, receive, send)
        else:
            await self.framework(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        mark = scope.get("state", {}).get(TELEMETRY_MARK)
        if mark is not None:
            mark["entered"] = True
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings)
    app = AssortmentApp(
        title="Assortment",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served below from the package's own copy of Swagger UI (no CDN)
        redoc_url=None,
        openapi_url="/openapi.json",
        # FastAPI's own OpenTelemetry hooks look the providers up in the environment on every request (a
        # seventh of a PIM read's time, issue 17); Assortment exports its own metrics (/metrics) and logs.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        lifespan=integrations_routes.webhook_deliveries,
    )
    sessions = make_session_factory(engine)
    if settings.bench_without_events:
        log.warning("ASSORTMENT_BENCH_WITHOUT_EVENTS is set: changes raise no events (for benchmarks only)")
        events.switch_off(sessions)
    app.state.context = AppContext(settings, sessions)
    app.state.engine = engine
    api_errors.install(app)
    docs.install(app)
    app.include_router(health.router)
    app.include_router(auth_routes.router)
    # Before the products router: /pcm/products/attach_nodes must not be read as a product id.
    app.include_router(hierarchies.router)
    app.include_router(products.router)
    app.include_router(jobs.router)
    app.include_router(custom_relationships.router)
    app.include_router(v2_product_relationships.router)
    app.include_router(catalog_rules.router)  # before /pcm/catalogs/{catalog_id}
    app.include_router(catalogs.view)
    app.include_router(catalogs.router)
    app.include_router(shopper.router)
    app.include_router(prices.router)
    app.include_router(events_routes.router)
    app.include_router(integrations_routes.router)
    web.install(app)
    app.add_middleware(RejectNulMiddleware)
    app.add_middleware(RejectLoneSurrogatesMiddleware)  # inside the size limit: it buffers what passes it
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    app.state.read_cache = ReleaseViewCache(settings.read_cache_bytes)
    app.state.latest_releases = LatestReleases()
    # The storefront's everyday release reads, outside the framework; the read cache in front of them.
    # One cache of verified tokens and one read of catalogs' versions per event-loop turn, for all three.
    tokens = Tokens(app.state.read_cache.tokens, app.state.context.signing_key)
    versions = TurnVersions(ReleaseVersions(engine))
    direct = DirectReads(app.framework, app, tokens, engine, app.state.context.sessions, lambda: app.routes)
    app.front = fast_reads = FastReads(direct, app, tokens, versions)
    if settings.read_cache_bytes:
        app.front = ReleaseViewCacheMiddleware(
            fast_reads, cache=app.state.read_cache, tokens=tokens, versions=versions, public_url=settings.public_url
        )
    app.include_router(metrics_routes.router)
    track_pool(engine)
    cache: ReleaseViewCache = app.state.read_cache
    app.telemetry = RequestTelemetry(
        app.dispatch, RouteTemplates(lambda: app.routes), store_reader(cache), access_log_for(settings.log_format)
    )
    return app


def store_reader(cache: ReleaseViewCache) -> Callable[[Scope], str | None]:
    """The store a request acted for, for its log line: what the routes recorded, else (a page the read
    cache answered) the store of the token the cache verified."""

    def store_of(scope: Scope) -> str | None:
        state = scope.get("state") or {}
        recorded = state.get("store_id")
        if recorded is not None:
            return str(recorded)
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                known = cache.tokens.get(value[7:].strip())
                if known is not None:
                    principal = known[0]
                    return str(principal.store_id) if principal.store_id else "organization"
        return None

    return store_of


def factory() -> FastAPI:
    """Entry point for `uvicorn --factory` (settings from the environment).

    What start-up built (modules, routes, models, schemas: most of the process's objects) lives as long as
    the process, so it is moved out of the cyclic collector's reach (`gc.freeze`): a full collection then
    scans what requests made, not the whole heap. A full collection of the started app took ≈ 290 ms, and
    one such pause held every request in flight (a p99 of hundreds of milliseconds under load)."""
    app = create_app(Settings())
    gc.collect()
    gc.freeze()
    return app
