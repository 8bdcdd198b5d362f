"""Hot read routes called directly, without FastAPI's routing and dependency machinery (issue 17).

A PIM read or a shopper read through FastAPI spends most of its time around the endpoint: routing through
nested routers, solving dependencies, a round trip to the thread pool for the endpoint and another for
the session's end. For the reads listed in `DIRECT` this dispatcher calls the very endpoint function the
route would call, with the arguments FastAPI would give it, built here by name:

- path parameters from the route's own path pattern (an earlier GET route that matches the same path
  wins, as in the router);
- `request`, `session` (a read-only session on a connection of the dispatcher's own, ended before the
  response is sent), `principal` (a verified bearer token; an implicit token on an admin route is left to
  the framework's 403), `paging` and `terms` (the dependencies' own parsers), `shopper` (the route's
  own `shopper_release`).

It runs on the event loop (these reads are a few indexed queries), or, when a `filter` is given (a filter
may scan), on a few threads of its own; each thread reads on a connection it keeps (on PostgreSQL in
autocommit: no BEGIN and ROLLBACK round trips). Only a 200 is sent from here; any
exception, any other status, any parameter it cannot build, and the framework answers the request from
the start as usual, so errors keep their exact shape. The answers are the framework's by construction
(the same function) and checked against it in tests/api/test_direct.py.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assortment.api import catalogs, hierarchies, products, shopper
from assortment.api.bearer import Tokens
from assortment.api.deps import admin_principal, check_admin, filter_terms, paging, route_depends_on
from assortment.api.middleware import REQUEST_ID_HEADER, has_nul, request_id_for
from assortment.domain.tenancy import Principal

# The endpoints called directly: the reads of the budgets (PIM product list and product, node children;
# the shopper's node products and product) and their neighbours, all a few indexed queries each.
DIRECT: frozenset[Callable[..., Any]] = frozenset(
    {
        products.list_products,
        products.get_product,
        hierarchies.get_node,
        hierarchies.list_top_level_nodes,
        hierarchies.list_node_children,
        shopper.get_catalog_release,
        shopper.hierarchy,
        shopper.node,
        shopper.node_children,
        shopper.node_products,
        shopper.product,
        catalogs.view_hierarchy,
        catalogs.view_node,
        catalogs.view_node_children,
        catalogs.view_node_products,
        catalogs.view_product,
    }
)
BUILT = frozenset({"request", "session", "principal", "paging", "terms", "shopper"})
# Threads answering filtered reads (a filter may scan, so not on the event loop): few, so that a burst of
# them does not turn into dozens of threads taking turns at the interpreter lock, each on a cold connection
# (SQLite reads are work for this process's processor); a few more on PostgreSQL, whose reads are mostly
# waits for the server, during which the lock is free.
FILTERED_THREADS = {"sqlite": 2, "postgresql": 6}


class NotHere(Exception):
    """The framework answers this request."""


@dataclass(frozen=True)
class DirectRoute:
    regex: re.Pattern[str]
    endpoint: Callable[..., Any]
    parameters: tuple[str, ...]
    admin: bool
    earlier: tuple[re.Pattern[str], ...]  # GET routes before it in the router's order


def routes_in_order(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path template, route) of every route, included routers flattened, in the router's order."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from routes_in_order(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
        elif isinstance(route, Route):
            yield prefix + route.path, route


def direct_routes(routes: list[Any]) -> list[DirectRoute]:
    table: list[DirectRoute] = []
    earlier: list[re.Pattern[str]] = []
    for template, route in routes_in_order(routes):
        if "GET" not in (route.methods or ()):
            continue
        regex, _, _ = compile_path(template)
        endpoint = getattr(route, "endpoint", None)
        if endpoint in DIRECT and not inspect.iscoroutinefunction(endpoint):
            names = tuple(inspect.signature(endpoint).parameters)
            path_names = set(regex.groupindex)
            if all(name in BUILT or name in path_names for name in names):
                admin = route_depends_on(route, admin_principal)
                table.append(DirectRoute(regex, endpoint, names, admin, tuple(earlier)))
        earlier.append(regex)
    return table


class DirectReads:
    def __init__(
        self,
        app: ASGIApp,
        owner: Any,
        tokens: Tokens,
        engine: Engine,
        sessions: sessionmaker[Session],
        routes: Callable[[], list[Any]],
    ) -> None:
        self.app = app
        self.owner = owner  # the application, as `request.app` names it to the endpoints
        self.tokens = tokens
        self.engine = engine
        self.sessions = sessions
        self.routes = routes
        self.table: list[DirectRoute] | None = None
        # A connection per thread that reads here (the event loop's, the filtered reads' threads), kept.
        self.connections: dict[int, Connection] = {}
        self.answered = 0  # requests answered here (the tests read it)
        threads = FILTERED_THREADS.get(engine.dialect.name, 2)
        if engine.dialect.name != "sqlite":  # each keeps a connection: at most half the pool's (pool_size of 2×)
            threads = min(threads, max(1, getattr(engine.pool, "size", lambda: threads)()))
        self.filtered = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="filtered-read")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or has_nul(scope):  # the framework refuses NUL
            await self.app(scope, receive, send)
            return
        if self.table is None:
            self.table = direct_routes(self.routes())
        path: str = scope["path"]
        for route in self.table:
            match = route.regex.match(path)
            if match is not None:
                if any(regex.match(path) for regex in route.earlier):
                    break
                response = await self._call(scope, route, match)
                if response is not None:
                    self.answered += 1
                    await response(scope, receive, _with_request_id(send, scope))
                    return
                break
        await self.app(scope, receive, send)

    async def _call(self, scope: Scope, route: DirectRoute, match: re.Match[str]) -> Response | None:
        principal = self._principal(scope, route)
        if principal is None:
            return None
        scope = {**scope, "app": self.owner}
        scope.setdefault("state", {})
        request = Request(scope)
        try:
            arguments: dict[str, Any] = {}
            for name in route.parameters:
                if name == "paging":
                    arguments[name] = await paging(request)
                elif name == "terms":
                    arguments[name] = await filter_terms(request)
            if arguments.get("terms"):  # a filter may scan: off the event loop
                loop = asyncio.get_running_loop()
                run = partial(self._run, request, route, match, principal, arguments)
                return await loop.run_in_executor(self.filtered, run)
            return self._run(request, route, match, principal, arguments)
        except Exception:  # refused or failed here: the framework answers, with its errors
            return None

    def _principal(self, scope: Scope, route: DirectRoute) -> Principal | None:
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        principal = self.tokens.principal(header)
        if principal is None:
            return None
        if route.admin:
            try:
                check_admin(principal)
            except Exception:
                return None
        state = scope.setdefault("state", {})
        state["store_id"] = str(principal.store_id) if principal.store_id else "organization"
        return principal

    def _run(
        self,
        request: Request,
        route: DirectRoute,
        match: re.Match[str],
        principal: Principal,
        arguments: dict[str, Any],
    ) -> Response | None:
        session = self.sessions(bind=self._connection())
        try:
            for name in route.parameters:
                if name == "request":
                    arguments[name] = request
                elif name == "session":
                    arguments[name] = session
                elif name == "principal":
                    arguments[name] = principal
                elif name == "shopper":
                    arguments[name] = shopper.shopper_release(request, session, principal)
                elif name not in arguments:
                    arguments[name] = match.group(name)
            response: Response = route.endpoint(**arguments)
        except Exception:
            self._drop_connection_if_broken()
            raise
        finally:
            session.close()
        return response if response.status_code in (200, 304) else None

    def _connection(self) -> Connection:
        """The calling thread's connection (each thread reads on its own, one request at a time)."""
        thread = threading.get_ident()
        connection = self.connections.get(thread)
        if connection is None or connection.closed or connection.invalidated:
            connection = self.engine.connect()
            if connection.dialect.name == "postgresql":
                # Reads in READ COMMITTED see a snapshot per statement, transaction or not: without one, a
                # read saves the BEGIN and ROLLBACK round trips (a product by id: four round trips → two).
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            self.connections[thread] = connection
        return connection

    def _drop_connection_if_broken(self) -> None:
        thread = threading.get_ident()
        connection = self.connections.get(thread)
        if connection is not None and connection.invalidated:
            connection.close()
            del self.connections[thread]


def _with_request_id(send: Send, scope: Scope) -> Send:
    """The X-Request-Id header, as RequestIdMiddleware adds it to the framework's answers."""
    request_id = request_id_for(dict(scope["headers"]).get(REQUEST_ID_HEADER)).encode()

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
            headers.append((REQUEST_ID_HEADER, request_id))
            message = {**message, "headers": headers}
        await send(message)

    return sending
