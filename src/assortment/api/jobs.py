"""`POST /pcm/hierarchies/{id}/duplicate_job`, `GET /pcm/jobs[/{id}]`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from assortment.api.deps import AdminDep, PagingDep, SessionDep
from assortment.api.errors import request_id_of
from assortment.api.jsonapi import list_document
from assortment.api.render import timestamp
from assortment.api.responses import json_response
from assortment.api.schemas_doc import ERRORS
from assortment.db.models import Job
from assortment.domain.jobs import JobService
from assortment.schemas.hierarchies import DuplicateRequest

router = APIRouter(tags=["jobs"])


def render_job(job: Job) -> dict[str, Any]:
    meta: dict[str, Any] = {"x_request_id": job.request_id}
    meta.update(job.meta or {})
    return {
        "type": "pim-job",
        "id": str(job.id),
        "attributes": {
            "type": job.type,
            "status": job.status,
            "created_at": timestamp(job.created_at),
            "updated_at": timestamp(job.updated_at),
            "started_at": timestamp(job.started_at) if job.started_at else None,
            "completed_at": timestamp(job.completed_at) if job.completed_at else None,
        },
        "meta": meta,
    }


@router.post("/pcm/hierarchies/{hierarchy_id}/duplicate_job", status_code=201, responses=ERRORS)
def duplicate_hierarchy(
    hierarchy_id: str, body: DuplicateRequest, request: Request, session: SessionDep, principal: AdminDep
) -> Response:
    job = JobService(session, principal).duplicate_hierarchy(
        hierarchy_id, body.data.attributes, request_id_of(request)
    )
    return json_response({"data": render_job(job)}, status_code=201)


@router.get("/pcm/jobs", responses=ERRORS)
def list_jobs(request: Request, session: SessionDep, principal: AdminDep, paging: PagingDep) -> Response:
    page = JobService(session, principal).list(paging)
    return json_response(list_document(request, page, [render_job(j) for j in page.items]))


@router.get("/pcm/jobs/{job_id}", responses=ERRORS)
def get_job(job_id: str, session: SessionDep, principal: AdminDep) -> Response:
    return json_response({"data": render_job(JobService(session, principal).get(job_id))})
