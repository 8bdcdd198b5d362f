"""Workbench webhooks (SPEC §11, §13.2), for admins only: integrations (create, edit, enable), each with
its jobs and attempt logs and `Redeliver`. Every change goes through IntegrationService with the API's
request model, so the checks (observable keys, the URL and the private-address rule) and their texts are
the API's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRouter
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from assortment.domain import events, users
from assortment.domain.integrations import IntegrationService
from assortment.domain.paging import Paging
from assortment.domain.users import SignedIn
from assortment.schemas.integrations import IntegrationRequest, fields_sent
from assortment.web.core import (
    PAGE_SIZE,
    FormDep,
    UserDep,
    WebForbidden,
    WebRoute,
    check_csrf,
    context_of,
    form_text,
    reading,
    render,
    submit,
)

router = APIRouter(prefix="/admin/webhooks", include_in_schema=False, route_class=WebRoute)

DONE = {
    "created": "Webhook created.",
    "saved": "Webhook saved.",
    "redelivered": "Sent again shortly.",
    "deleted": "Webhook deleted.",
}
SHOWN = 25  # jobs and attempt logs listed on an integration's page
KEYS = sorted(events.OBSERVABLE_KEYS)


def admin_reader(user: UserDep) -> SignedIn:
    if not user.is_admin:
        raise WebForbidden(users.NEEDS_ADMIN, user)
    return user


def admin_writer(request: Request, user: UserDep, form: FormDep) -> SignedIn:
    """Session, then CSRF, then role."""
    check_csrf(request, user, form)
    if not user.is_admin:
        raise WebForbidden(users.NEEDS_ADMIN, user)
    return user


AdminReader = Annotated[SignedIn, Depends(admin_reader)]
AdminWriter = Annotated[SignedIn, Depends(admin_writer)]


def _service(request: Request, session: Any, user: SignedIn) -> IntegrationService:
    return IntegrationService(session, user.principal, context_of(request).settings.webhook_allow_private_urls)


@router.get("")
def webhook_list(request: Request, user: AdminReader) -> Response:
    with reading(request) as session:
        found = _service(request, session, user).list(Paging(PAGE_SIZE, 0))
    return render(
        request,
        "webhooks/list.html",
        user=user,
        title="Webhooks",
        integrations=found.items,
        total=found.total,
        notice=DONE.get(request.query_params.get("done", "")),
    )


@router.get("/new")
def new_webhook(request: Request, user: AdminReader) -> Response:
    return _form(request, user, None, {"observes": [], "enabled": True}, [], 200)


def _form(
    request: Request,
    user: SignedIn,
    integration_id: str | None,
    values: dict[str, Any],
    errors: list[str],
    status_code: int,
) -> Response:
    return render(
        request,
        "webhooks/form.html",
        user=user,
        status_code=status_code,
        title="Edit webhook" if integration_id else "New webhook",
        integration_id=integration_id,
        values=values,
        keys=KEYS,
        errors=errors,
    )


def _data(form: FormData, *, creating: bool) -> dict[str, Any]:
    """The integration as the API's body: a blank secret key is left out (kept, when editing)."""
    configuration: dict[str, Any] = {"url": form_text(form, "url")}
    secret = form_text(form, "secret_key")
    if secret:
        configuration["secret_key"] = secret
    data: dict[str, Any] = {
        "type": "integration",
        "name": form_text(form, "name"),
        "enabled": form.get("enabled") == "on",
        "observes": [v for v in form.getlist("observes") if isinstance(v, str)],
        "configuration": configuration,
    }
    description = str(form.get("description") or "").strip()
    if description or not creating:
        data["description"] = description or None
    if creating:
        data["integration_type"] = "webhook"
    return data


def _values(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": data["name"],
        "description": data.get("description"),
        "url": data["configuration"]["url"],
        "observes": data["observes"],
        "enabled": data["enabled"],
    }


@router.post("")
def create_webhook(request: Request, user: AdminWriter, form: FormDep) -> Response:
    data = _data(form, creating=True)

    def work(session: Session) -> object:
        body = IntegrationRequest.model_validate({"data": data})
        return _service(request, session, user).create(fields_sent(body.data)).id

    return submit(
        request,
        user,
        work,
        lambda created: f"/admin/webhooks/{created}?done=created",
        lambda errors, status: _form(request, user, None, _values(data), errors, status),
    )


@router.post("/{integration_id}/delete")
def delete_webhook(request: Request, integration_id: str, user: AdminWriter) -> Response:
    """As `DELETE /v2/integrations/{id}`: its jobs and attempt logs go with it."""
    return submit(
        request,
        user,
        lambda session: _service(request, session, user).delete(integration_id),
        "/admin/webhooks?done=deleted",
        lambda errors, status: _page(request, user, integration_id, errors, status),
    )


@router.get("/{integration_id}")
def webhook_page(request: Request, integration_id: str, user: AdminReader) -> Response:
    return _page(request, user, integration_id, [], 200)


def _page(request: Request, user: SignedIn, integration_id: str, errors: list[str], status_code: int) -> Response:
    with reading(request) as session:
        service = _service(request, session, user)
        integration = service.get(integration_id)
        jobs = service.jobs(integration_id, Paging(SHOWN, 0))
        logs = service.logs(integration_id, Paging(SHOWN, 0))
    return render(
        request,
        "webhooks/page.html",
        user=user,
        status_code=status_code,
        errors=errors,
        title=integration.name,
        integration=integration,
        jobs=jobs.items,
        jobs_total=jobs.total,
        logs=logs.items,
        logs_total=logs.total,
        notice=None if errors else DONE.get(request.query_params.get("done", "")),
    )


@router.get("/{integration_id}/edit")
def edit_webhook(request: Request, integration_id: str, user: AdminReader) -> Response:
    with reading(request) as session:
        integration = _service(request, session, user).get(integration_id)
    values = {
        "name": integration.name,
        "description": integration.description,
        "url": integration.url,
        "observes": list(integration.observes),
        "enabled": integration.enabled,
        "has_secret": bool(integration.secret_key),
    }
    return _form(request, user, str(integration.id), values, [], 200)


@router.post("/{integration_id}")
def update_webhook(request: Request, integration_id: str, user: AdminWriter, form: FormDep) -> Response:
    data = _data(form, creating=False)

    def work(session: Session) -> object:
        body = IntegrationRequest.model_validate({"data": data})
        return _service(request, session, user).update(integration_id, fields_sent(body.data)).id

    return submit(
        request,
        user,
        work,
        lambda updated: f"/admin/webhooks/{updated}?done=saved",
        lambda errors, status: _form(request, user, integration_id, _values(data), errors, status),
    )


@router.post("/{integration_id}/jobs/{job_id}/redeliver")
def redeliver(request: Request, integration_id: str, job_id: str, user: AdminWriter) -> Response:
    """As the API's `…/jobs/{job_id}/redeliver`: an unknown integration or job, the not-found
    page; refused, the API's words on an error page."""
    return submit(
        request,
        user,
        lambda session: _service(request, session, user).redeliver(integration_id, job_id),
        f"/admin/webhooks/{integration_id}?done=redelivered",
        lambda errors, status: render(
            request, "error.html", user=user, status_code=status, title="Not sent", message=errors[0]
        ),
    )
