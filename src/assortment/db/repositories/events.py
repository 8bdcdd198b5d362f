"""SQL of the event feed (SPEC §11.4); the order and why it is safe are explained in domain/events.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, literal_column, select, tuple_
from sqlalchemy.orm import Session

from assortment.db.filters import FilterField, Kind, allow
from assortment.db.models import Event

EVENT_FILTERS: dict[str, FilterField] = {
    "triggered_by": allow(Event.triggered_by, Kind.STRING, "eq"),
    "entity_type": allow(Event.entity_type, Kind.STRING, "eq"),
    "entity_id": allow(Event.entity_id, Kind.STRING, "eq"),
    "created_at": allow(Event.created_at, Kind.DATETIME, "gt"),
}

# The oldest transaction still running anywhere: every transaction below it has ended (PostgreSQL).
_PG_HORIZON = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", BigInteger)

# What the list shows (the payload only on GET /v2/events/{id}).
_LISTED = (
    Event.pk,
    Event.txid,
    Event.id,
    Event.triggered_by,
    Event.entity_type,
    Event.entity_id,
    Event.created_at,
    Event.actor_type,
    Event.actor_id,
)


def feed(
    session: Session,
    scope_id: uuid.UUID,
    where: ColumnElement[bool] | None,
    after: tuple[int, int] | None,
    limit: int,
) -> Sequence[Any]:
    """The scope's events in feed order after the cursor position (txid, pk), at most `limit`."""
    query = select(*_LISTED).where(Event.scope_id == scope_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.where(Event.txid < _PG_HORIZON)
    if after is not None:
        query = query.where(tuple_(Event.txid, Event.pk) > tuple_(*after))
    if where is not None:
        query = query.where(where)
    return session.execute(query.order_by(Event.txid, Event.pk).limit(limit)).all()


def get(session: Session, scope_id: uuid.UUID, event_id: uuid.UUID) -> Event | None:
    return session.scalars(select(Event).where(Event.id == event_id, Event.scope_id == scope_id)).first()
