"""Request-scoped dependencies: the unit of work, the caller, paging and filters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from assortment.config import Settings
from assortment.db.engine import begin_write
from assortment.domain import auth
from assortment.domain.filters import Term, parse_filter
from assortment.domain.paging import Cursors, Paging
from assortment.domain.tenancy import Principal
from assortment.errors import Forbidden, Unauthenticated

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AppContext:
    """What the app shares between requests: settings, the session factory and the signing key."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self._signing_key: str | None = None

    def signing_key(self) -> str:
        if self._signing_key is None:
            with self.sessions.begin() as session:
                self._signing_key = auth.load_signing_key(session, self.settings.secret_key)
        return self._signing_key


def app_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


# The dependencies that only compute (no I/O but the signing key's one-time load) are `async def`: FastAPI
# runs a plain `def` dependency in the thread pool, a round trip through another thread per dependency and
# per request (a fifth of an uncached read's time, issue 17).
async def _app_context(request: Request) -> AppContext:
    return app_context(request)


ContextDep = Annotated[AppContext, Depends(_app_context)]


async def unit_of_work(
    request: Request, context: ContextDep, caller: Annotated[Principal, Depends(any_principal)]
) -> AsyncIterator[Session]:
    """One transaction per request, committed when the endpoint returns, rolled back if it raises.

    The caller is authenticated, and authorised for the route, first: a refused request never opens a
    (write) transaction, and the signing key can be created on a fresh database without waiting on this
    request's own write lock. A session connects on its first statement, so a read opens it on the event
    loop for free; whatever waits on the database (a writer's BEGIN IMMEDIATE, the commit, giving the
    connection back) runs in the thread pool, the end shielded from cancellation so the connection always
    goes back to the pool."""
    if _route_needs(request, admin_principal):
        check_admin(caller)
    session = context.sessions()
    try:
        if request.method not in READ_METHODS:
            await run_in_threadpool(begin_write, session)
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_roll_back_and_close, session)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _roll_back_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(unit_of_work, scope="function")]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated(auth.INVALID_TOKEN)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(auth.INVALID_TOKEN)
    return token.strip()


def principal_of(request: Request, context: AppContext) -> Principal:
    """Any valid token: client-credentials or implicit (catalog views). The store it acts for is noted
    for the request's log line."""
    principal = auth.verify_token(_bearer_token(request), context.signing_key())
    request.state.store_id = str(principal.store_id) if principal.store_id else "organization"
    return principal


def check_admin(principal: Principal) -> Principal:
    """Administration endpoints: implicit (storefront) tokens are read-only and catalog-view only."""
    if principal.grant != "client_credentials":
        raise Forbidden("implicit tokens can only read the catalog views")
    return principal


async def any_principal(request: Request, context: ContextDep) -> Principal:
    return principal_of(request, context)


async def admin_principal(principal: Annotated[Principal, Depends(any_principal)]) -> Principal:
    return check_admin(principal)


AdminDep = Annotated[Principal, Depends(admin_principal)]
ShopperDep = Annotated[Principal, Depends(any_principal)]


_CALLS = "_assortment_dependency_calls"  # where a route keeps the set, computed on its first request


def route_depends_on(route: Any, dependency: Any) -> bool:
    """Whether a route depends on `dependency`, directly or through other dependencies."""
    calls: frozenset[Any] | None = getattr(route, _CALLS, None)
    if calls is None:
        found: set[Any] = set()
        pending = [getattr(route, "dependant", None)]
        while pending:
            dependant = pending.pop()
            if dependant is not None:
                found.add(dependant.call)
                pending.extend(dependant.dependencies)
        calls = frozenset(found)
        setattr(route, _CALLS, calls)
    return dependency in calls


def _route_needs(request: Request, dependency: Any) -> bool:
    """Whether the matched route depends on `dependency`."""
    route = request.scope.get("route")
    return route is not None and route_depends_on(route, dependency)


def authenticate_for_route(request: Request) -> None:
    """Raise what the matched route's own authentication would (401, or 403 for an implicit token on an
    admin route), for the answers given before its dependencies run: FastAPI parses a declared JSON body
    first, and a body that is not JSON must not be answered ahead of the credentials (§6)."""
    if _route_needs(request, any_principal):
        principal = principal_of(request, app_context(request))
        if _route_needs(request, admin_principal):
            check_admin(principal)


async def paging(request: Request) -> Paging:
    """The page a list is asked for: by offset, or by cursor (`page[after]`, SPEC §10.4), the cursors signed
    with the server's key and bound to this path and query."""
    params = request.query_params
    after = params.get("page[after]")
    cursors = None
    if after is not None:
        secret = app_context(request).signing_key()
        cursors = Cursors.for_request(secret, request.url.path, params.multi_items())
    return Paging.parse(params.get("page[limit]"), params.get("page[offset]"), after, cursors)


PagingDep = Annotated[Paging, Depends(paging)]


async def filter_terms(request: Request) -> tuple[Term, ...] | None:
    raw = request.query_params.get("filter")
    return None if raw is None else parse_filter(raw)


FilterDep = Annotated[tuple[Term, ...] | None, Depends(filter_terms)]
