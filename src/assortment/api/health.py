"""`GET /healthz`: no authentication; 200 when the database answers."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.responses import Response

from assortment.api.deps import ContextDep
from assortment.api.responses import json_response

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(context: ContextDep) -> Response:
    with context.sessions() as session:
        session.execute(text("SELECT 1"))
    return json_response({"status": "ok"})
