"""`/v2/integrations…` and `/integrations…` (SPEC §11.1): HTTP only; the rules are in domain/integrations.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from assortment.api.deps import AdminDep, AppContext, ContextDep, PagingDep, SessionDep
from assortment.api.jsonapi import list_document
from assortment.api.render import timestamp
from assortment.api.responses import json_response, no_content
from assortment.api.schemas_doc import ERRORS
from assortment.db.models import Integration, IntegrationJob, IntegrationLog
from assortment.domain import events
from assortment.domain.integrations import IntegrationService
from assortment.domain.tenancy import Principal, owner_of
from assortment.domain.webhooks import DeliveryLoop
from assortment.schemas.integrations import IntegrationRequest, fields_sent

router = APIRouter(tags=["integrations"])
PREFIXES = ("/v2/integrations", "/integrations")


def render_integration(integration: Integration) -> dict[str, Any]:
    return {
        "type": "integration",
        "id": str(integration.id),
        "name": integration.name,
        "description": integration.description,
        "enabled": integration.enabled,
        "integration_type": integration.integration_type,
        "observes": list(integration.observes),
        "configuration": {"url": integration.url, "secret_key": integration.secret_key},
        "links": {"self": f"/v2/integrations/{integration.id}"},
        "meta": {
            "owner": owner_of(integration.scope_id),
            "timestamps": {
                "created_at": timestamp(integration.created_at),
                "updated_at": timestamp(integration.updated_at),
            },
        },
    }


def render_job(job: IntegrationJob, event_id: Any) -> dict[str, Any]:
    return {
        "type": "integration-job",
        "id": str(job.id),
        "status": job.status,
        "attempts": job.attempts,
        "triggered_by": job.triggered_by,
        "event_id": str(event_id),
        "created_at": timestamp(job.created_at),
        "updated_at": timestamp(job.updated_at),
    }


def render_log(log: IntegrationLog, integration_id: Any, job_id: Any) -> dict[str, Any]:
    return {
        "type": "integration-log",
        "id": str(log.id),
        "succeeded": log.succeeded,
        "attempt": log.attempt,
        "status_code": log.status_code,
        "body": log.body,
        "error_detail": log.error_detail,
        "created_at": timestamp(log.created_at),
        "relationships": {
            "integration": {"data": {"type": "integration", "id": str(integration_id)}},
            "job": {"data": {"type": "integration-job", "id": str(job_id)}},
        },
    }


@asynccontextmanager
async def webhook_deliveries(app: FastAPI) -> AsyncIterator[None]:
    """Every server process delivers webhooks too (SPEC §11.3), unless ASSORTMENT_WEBHOOK_WORKER=false."""
    context: AppContext = app.state.context
    loop = DeliveryLoop(context.settings, context.sessions) if context.settings.webhook_worker else None
    if loop is not None:
        loop.start()
    try:
        yield
    finally:
        if loop is not None:
            await run_in_threadpool(loop.stop)


def _integration_event(_session: Session, integration: Integration) -> dict[str, Any]:
    return {"data": render_integration(integration)}


events.register_renderer("integration", _integration_event)


def _service(session: Session, principal: Principal, context: AppContext) -> IntegrationService:
    return IntegrationService(session, principal, context.settings.webhook_allow_private_urls)


def create_integration(
    body: IntegrationRequest, session: SessionDep, principal: AdminDep, context: ContextDep
) -> Response:
    integration = _service(session, principal, context).create(fields_sent(body.data))
    return json_response({"data": render_integration(integration)}, status_code=201)


def list_integrations(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, context: ContextDep
) -> Response:
    page = _service(session, principal, context).list(paging)
    return json_response(list_document(request, page, [render_integration(i) for i in page.items]))


def list_all_logs(
    request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep, context: ContextDep
) -> Response:
    page = _service(session, principal, context).logs(None, paging)
    return json_response(list_document(request, page, [render_log(*row) for row in page.items]))


def get_integration(integration_id: str, session: SessionDep, principal: AdminDep, context: ContextDep) -> Response:
    integration = _service(session, principal, context).get(integration_id)
    return json_response({"data": render_integration(integration)})


def update_integration(
    integration_id: str, body: IntegrationRequest, session: SessionDep, principal: AdminDep, context: ContextDep
) -> Response:
    integration = _service(session, principal, context).update(integration_id, fields_sent(body.data))
    return json_response({"data": render_integration(integration)})


def delete_integration(integration_id: str, session: SessionDep, principal: AdminDep, context: ContextDep) -> Response:
    _service(session, principal, context).delete(integration_id)
    return no_content()


def list_logs(
    integration_id: str,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
    context: ContextDep,
) -> Response:
    page = _service(session, principal, context).logs(integration_id, paging)
    return json_response(list_document(request, page, [render_log(*row) for row in page.items]))


def list_jobs(
    integration_id: str,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
    context: ContextDep,
) -> Response:
    page = _service(session, principal, context).jobs(integration_id, paging)
    return json_response(list_document(request, page, [render_job(*row) for row in page.items]))


def list_job_logs(
    integration_id: str,
    integration_job_id: str,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    paging: PagingDep,
    context: ContextDep,
) -> Response:
    page = _service(session, principal, context).logs(integration_id, paging, integration_job_id)
    return json_response(list_document(request, page, [render_log(*row) for row in page.items]))


def redeliver(
    integration_id: str, integration_job_id: str, session: SessionDep, principal: AdminDep, context: ContextDep
) -> Response:
    service = _service(session, principal, context)
    job = service.redeliver(integration_id, integration_job_id)
    event_id = events.event_id_of(session, job.event_pk)
    return json_response({"data": render_job(job, event_id)}, status_code=202)


for _prefix in PREFIXES:
    _spec: dict[str, Any] = {"include_in_schema": _prefix == PREFIXES[0], "responses": ERRORS}
    router.add_api_route(_prefix, create_integration, methods=["POST"], status_code=201, **_spec)
    router.add_api_route(_prefix, list_integrations, methods=["GET"], **_spec)
    router.add_api_route(f"{_prefix}/logs", list_all_logs, methods=["GET"], **_spec)
    router.add_api_route(f"{_prefix}/{{integration_id}}", get_integration, methods=["GET"], **_spec)
    router.add_api_route(f"{_prefix}/{{integration_id}}", update_integration, methods=["PUT"], **_spec)
    router.add_api_route(
        f"{_prefix}/{{integration_id}}", delete_integration, methods=["DELETE"], status_code=204, **_spec
    )
    router.add_api_route(f"{_prefix}/{{integration_id}}/logs", list_logs, methods=["GET"], **_spec)
    router.add_api_route(f"{_prefix}/{{integration_id}}/jobs", list_jobs, methods=["GET"], **_spec)
    router.add_api_route(
        f"{_prefix}/{{integration_id}}/jobs/{{integration_job_id}}/logs", list_job_logs, methods=["GET"], **_spec
    )
    router.add_api_route(
        f"{_prefix}/{{integration_id}}/jobs/{{integration_job_id}}/redeliver",
        redeliver,
        methods=["POST"],
        status_code=202,
        **_spec,
    )
