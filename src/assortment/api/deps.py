"""Request-scoped dependencies: the unit of work, the caller, paging and filters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from assortment.config import Settings
from assortment.db.engine import begin_write
from assortment.domain import auth
from assortment.domain.filters import Term, parse_filter
from assortment.domain.paging import Paging
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


ContextDep = Annotated[AppContext, Depends(app_context)]


def unit_of_work(
    request: Request, context: ContextDep, caller: Annotated[Principal, Depends(any_principal)]
) -> Iterator[Session]:
    """One transaction per request, committed when the endpoint returns, rolled back if it raises.

    The caller is authenticated, and authorised for the route, first: a refused request never opens a
    (write) transaction, and the signing key can be created on a fresh database without waiting on this
    request's own write lock."""
    if _route_needs(request, admin_principal):
        admin_principal(caller)
    session = context.sessions()
    try:
        if request.method not in READ_METHODS:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
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


def any_principal(request: Request, context: ContextDep) -> Principal:
    """Any valid token: client-credentials or implicit (catalog views)."""
    return auth.verify_token(_bearer_token(request), context.signing_key())


def admin_principal(principal: Annotated[Principal, Depends(any_principal)]) -> Principal:
    """Administration endpoints: implicit (storefront) tokens are read-only and catalog-view only."""
    if principal.grant != "client_credentials":
        raise Forbidden("implicit tokens can only read the catalog views")
    return principal


AdminDep = Annotated[Principal, Depends(admin_principal)]
ShopperDep = Annotated[Principal, Depends(any_principal)]


_CALLS = "_assortment_dependency_calls"  # where a route keeps the set, computed on its first request


def _route_needs(request: Request, dependency: Any) -> bool:
    """Whether the matched route depends on `dependency`, directly or through other dependencies."""
    route = request.scope.get("route")
    if route is None:
        return False
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


def authenticate_for_route(request: Request) -> None:
    """Raise what the matched route's own authentication would (401, or 403 for an implicit token on an
    admin route), for the answers given before its dependencies run: FastAPI parses a declared JSON body
    first, and a body that is not JSON must not be answered ahead of the credentials (§6)."""
    if _route_needs(request, any_principal):
        principal = any_principal(request, app_context(request))
        if _route_needs(request, admin_principal):
            admin_principal(principal)


def paging(request: Request) -> Paging:
    params = request.query_params
    return Paging.parse(params.get("page[limit]"), params.get("page[offset]"))


PagingDep = Annotated[Paging, Depends(paging)]


def filter_terms(request: Request) -> tuple[Term, ...] | None:
    raw = request.query_params.get("filter")
    return None if raw is None else parse_filter(raw)


FilterDep = Annotated[tuple[Term, ...] | None, Depends(filter_terms)]
