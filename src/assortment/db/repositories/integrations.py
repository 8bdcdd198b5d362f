"""SQL of integrations, their jobs and logs, and of the delivery loop's claims (SPEC §11)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from assortment.db.models import Event, Integration, IntegrationJob, IntegrationLog
from assortment.db.repositories.common import keyset_page
from assortment.domain.paging import Page, Paging


def get(session: Session, scopes: Sequence[uuid.UUID], integration_id: uuid.UUID) -> Integration | None:
    return session.scalars(
        select(Integration).where(Integration.id == integration_id, Integration.scope_id.in_(scopes))
    ).first()


def list_integrations(session: Session, scopes: Sequence[uuid.UUID], paging: Paging) -> Page[Integration]:
    where = Integration.scope_id.in_(scopes)
    if paging.by_cursor:
        return keyset_page(session, select(Integration).where(where), (Integration.created_at, Integration.id), paging)
    limit, offset = paging.limit, paging.offset
    items = session.scalars(
        select(Integration).where(where).order_by(Integration.created_at, Integration.id).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(Integration).where(where)) or 0
    return Page(list(items), total, paging)


def list_jobs(session: Session, integration_pk: int, paging: Paging) -> Page[Any]:
    """Newest first: (job, event id)."""
    where = IntegrationJob.integration_pk == integration_pk
    if paging.by_cursor:
        query = select(IntegrationJob, Event.id).join(Event, Event.pk == IntegrationJob.event_pk).where(where)
        return keyset_page(session, query, (IntegrationJob.pk.desc(),), paging, scalars=False)
    limit, offset = paging.limit, paging.offset
    rows = session.execute(
        select(IntegrationJob, Event.id)
        .join(Event, Event.pk == IntegrationJob.event_pk)
        .where(where)
        .order_by(IntegrationJob.pk.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(IntegrationJob).where(where)) or 0
    return Page(list(rows), total, paging)


def get_job(session: Session, integration_pk: int, job_id: uuid.UUID) -> IntegrationJob | None:
    return session.scalars(
        select(IntegrationJob).where(IntegrationJob.id == job_id, IntegrationJob.integration_pk == integration_pk)
    ).first()


def list_logs(
    session: Session,
    scopes: Sequence[uuid.UUID],
    paging: Paging,
    *,
    integration_pk: int | None = None,
    job_pk: int | None = None,
) -> Page[Any]:
    """Newest first: (log, integration id, job id)."""
    query = (
        select(IntegrationLog, Integration.id, IntegrationJob.id)
        .join(Integration, Integration.pk == IntegrationLog.integration_pk)
        .join(IntegrationJob, IntegrationJob.pk == IntegrationLog.job_pk)
        .where(Integration.scope_id.in_(scopes))
    )
    count = (
        select(func.count())
        .select_from(IntegrationLog)
        .join(Integration, Integration.pk == IntegrationLog.integration_pk)
        .where(Integration.scope_id.in_(scopes))
    )
    if integration_pk is not None:
        query = query.where(IntegrationLog.integration_pk == integration_pk)
        count = count.where(IntegrationLog.integration_pk == integration_pk)
    if job_pk is not None:
        query = query.where(IntegrationLog.job_pk == job_pk)
        count = count.where(IntegrationLog.job_pk == job_pk)
    if paging.by_cursor:
        return keyset_page(session, query, (IntegrationLog.pk.desc(),), paging, scalars=False)
    rows = session.execute(query.order_by(IntegrationLog.pk.desc()).limit(paging.limit).offset(paging.offset)).all()
    return Page(list(rows), session.scalar(count) or 0, paging)


# --- delivery -----------------------------------------------------------------------------------------


def due_job_pks(session: Session, now: datetime, limit: int, *, lock: bool) -> list[int]:
    """Pending jobs of enabled integrations whose time has come, oldest first. With `lock` (PostgreSQL)
    the rows are locked, skipping those another loop is claiming."""
    query = (
        select(IntegrationJob.pk)
        .join(Integration, Integration.pk == IntegrationJob.integration_pk)
        .where(
            IntegrationJob.status == "pending",
            IntegrationJob.next_attempt_at <= now,
            Integration.enabled.is_(True),
        )
        .order_by(IntegrationJob.next_attempt_at, IntegrationJob.pk)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=IntegrationJob)
    return list(session.scalars(query))


def claim(session: Session, pks: Sequence[int], lease_until: datetime, now: datetime) -> None:
    session.execute(
        update(IntegrationJob)
        .where(IntegrationJob.pk.in_(pks))
        .values(attempts=IntegrationJob.attempts + 1, next_attempt_at=lease_until, updated_at=now)
    )


def without_waiting_for_the_disk(session: Session) -> None:
    """PostgreSQL: this transaction's commit returns before its WAL is on disk (`synchronous_commit = off`,
    for this transaction only). For the delivery loop's own bookkeeping (claims, outcomes, logs): should the
    database server crash within the next fraction of a second, a lost claim makes the job due again and a
    lost outcome gets the event delivered again, which at-least-once allows; nothing an API change wrote is
    affected. Under load a commit's flush took as long as the rest of the claim."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def claimed(session: Session, pks: Sequence[int]) -> list[Any]:
    """What delivering claimed jobs needs, as plain rows (loading three entities per job cost more)."""
    return list(
        session.execute(
            select(
                IntegrationJob.pk.label("job_pk"),
                IntegrationJob.integration_pk,
                IntegrationJob.attempts,
                Event.id.label("event_id"),
                Event.created_at.label("event_created_at"),
                Event.triggered_by,
                Event.payload,
                Integration.id.label("integration_id"),
                Integration.integration_type,
                Integration.name,
                Integration.description,
                Integration.url,
                Integration.secret_key,
            )
            .join(Event, Event.pk == IntegrationJob.event_pk)
            .join(Integration, Integration.pk == IntegrationJob.integration_pk)
            .where(IntegrationJob.pk.in_(pks))
        ).all()
    )


def pending_count(session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(IntegrationJob).where(IntegrationJob.status == "pending")) or 0
    )
