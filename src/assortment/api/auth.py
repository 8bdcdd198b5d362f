"""`POST /oauth/access_token` (form-encoded, as the PXM clients send it)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from assortment.api.deps import ContextDep
from assortment.api.responses import json_response
from assortment.api.schemas_doc import ERRORS
from assortment.domain import auth
from assortment.domain.tenancy import Grant
from assortment.errors import BadRequest, ValidationFailed

router = APIRouter(tags=["authentication"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires: int
    expires_in: int
    identifier: Literal["client_credentials", "implicit"]


TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "client_id"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials", "implicit"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/oauth/access_token",
    responses={200: {"model": TokenResponse}, **ERRORS},
    openapi_extra=TOKEN_FORM,
)
async def access_token(request: Request, context: ContextDep) -> Response:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            payload = await request.json()
            if not isinstance(payload, dict):
                raise BadRequest("the body must be a JSON object")
            form = {k: v for k, v in payload.items() if isinstance(v, str)}
        else:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    except ValueError as exc:
        raise BadRequest("the body could not be parsed") from exc
    if any("\x00" in value for value in form.values()):
        raise BadRequest("form values must not contain NUL characters")
    grant_type = form.get("grant_type")
    client_id = form.get("client_id")
    grant: Grant
    if grant_type == "client_credentials":
        grant = "client_credentials"
    elif grant_type == "implicit":
        grant = "implicit"
    else:
        raise ValidationFailed("grant_type must be client_credentials or implicit")
    if not client_id:
        raise ValidationFailed("client_id can not be empty")
    secret = form.get("client_secret")
    if grant == "client_credentials" and not secret:
        raise ValidationFailed("client_secret can not be empty for the client_credentials grant")
    token = await _issue(context, grant, client_id, secret if grant == "client_credentials" else None)
    return json_response(
        {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires": token.expires,
            "expires_in": token.expires_in,
            "identifier": token.identifier,
        }
    )


async def _issue(context: ContextDep, grant: Grant, client_id: str, secret: str | None) -> auth.IssuedToken:
    def work() -> auth.IssuedToken:
        signing_key = context.signing_key()
        with context.sessions() as session:
            key = auth.authenticate_key(session, client_id, secret)
        return auth.issue_token(key, grant, signing_key, context.settings.token_ttl_seconds)

    return await run_in_threadpool(work)
