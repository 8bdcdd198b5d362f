"""`GET /metrics`: Prometheus text exposition (SPEC §12.1). No authentication unless
ASSORTMENT_METRICS_TOKEN is set; then that token as a bearer token, else 401."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from assortment.api.deps import ContextDep
from assortment.errors import Unauthenticated
from assortment.observability import metrics_exposition

router = APIRouter(tags=["operations"])

METRICS_TOKEN_REQUIRED = "a bearer token is needed for /metrics (ASSORTMENT_METRICS_TOKEN)"


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(request: Request, context: ContextDep) -> Response:
    expected = context.settings.metrics_token
    if expected:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise Unauthenticated(METRICS_TOKEN_REQUIRED)
    body, content_type = await run_in_threadpool(metrics_exposition)
    return Response(body, media_type=content_type)
