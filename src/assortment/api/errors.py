"""One table from domain errors to HTTP statuses, and the error body every failure uses."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from assortment import errors
from assortment.api.deps import authenticate_for_route
from assortment.api.responses import json_response
from assortment.db.repositories.common import is_contention

log = logging.getLogger("assortment.api")

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Failed Validation",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

STATUS_OF: list[tuple[type[errors.DomainError], int]] = [
    (errors.BadRequest, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.ValidationFailed, 422),
]

INTERNAL_ERROR_DETAIL = "There was an internal server error, you can report with your request id."
DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable, try again shortly."
RETRY_AFTER_SECONDS = "1"


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def error_object(
    status: int,
    detail: str | None = None,
    *,
    request_id: str | None = None,
    meta: dict[str, Any] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": str(status), "title": title or TITLES.get(status, "Error")}
    if detail:
        body["detail"] = detail
    if request_id:
        body["request_id"] = request_id
    if meta:
        body["meta"] = meta
    return body


def error_response(
    request: Request | None,
    status: int,
    detail: str | None = None,
    *,
    meta: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    objects: list[dict[str, Any]] | None = None,
    title: str | None = None,
) -> Response:
    request_id = request_id_of(request) if request is not None else None
    if objects is None:
        objects = [error_object(status, detail, request_id=request_id, meta=meta, title=title)]
    return json_response({"errors": objects}, status_code=status, headers=headers)


def status_for(exc: errors.DomainError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 500


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def domain_error(request: Request, exc: errors.DomainError) -> Response:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error_response(request, status, exc.detail, meta=exc.meta, headers=headers, title=exc.title)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = exc.errors()
        request_id = request_id_of(request)
        if any(p.get("type") == "json_invalid" for p in problems):
            # Parsed before the route's dependencies ran: the caller's 401/403 comes first (§6).
            # (in the thread pool: checking a token may read the signing key from the database)
            try:
                await run_in_threadpool(authenticate_for_route, request)
            except errors.DomainError as refused:
                return await domain_error(request, refused)
            except OperationalError as failed:
                return await database_unavailable(request, failed)
            return error_response(request, 400, "Request body is not valid JSON")
        objects = [
            error_object(422, detail, request_id=request_id)
            for detail in errors.describe_validation_problems(problems)
        ]
        return error_response(request, 422, objects=objects)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if exc.status_code not in (404, 405) else None
        if exc.status_code == 405:
            detail = f"method {request.method} is not allowed on this path"
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, detail, headers=headers)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> Response:
        if is_contention(exc) and getattr(exc.orig, "sqlstate", None):  # PostgreSQL lost a race: retry
            return error_response(request, 409, errors.WRITE_CONFLICT)
        if getattr(exc, "connection_invalidated", False) or _is_connect_error(exc):
            log.warning("database unavailable: %s", exc.orig)
            # A database that restarts or fails over is usually back within seconds.
            return error_response(
                request, 503, DATABASE_UNAVAILABLE_DETAIL, headers={"Retry-After": RETRY_AFTER_SECONDS}
            )
        return _internal(request, exc)


def _is_connect_error(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in (
            "connection",
            "could not connect",
            "server closed",
            "terminating",
            "unable to open database",
            "database is locked",
            "timeout",
        )
    )


def _internal(request: Request, exc: Exception) -> Response:
    log.error("unexpected error (request %s)", request_id_of(request), exc_info=exc)
    return error_response(request, 500, INTERNAL_ERROR_DETAIL)


def internal_error_body(request_id: str) -> bytes:
    """The 500 body, for the outermost middleware (which catches what no handler did)."""
    return orjson.dumps({"errors": [error_object(500, INTERNAL_ERROR_DETAIL, request_id=request_id)]})
