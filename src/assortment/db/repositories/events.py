"""SQL of the event feed (SPEC §11.4); the order and why it is safe are explained in domain/events.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select, text, tuple_
from sqlalchemy.orm import Session

from assortment.db.filters import FilterField, Kind, allow
from assortment.db.models import Event

EVENT_FILTERS: dict[str, FilterField] = {
    "triggered_by": allow(Event.triggered_by, Kind.STRING, "eq"),
    "entity_type": allow(Event.entity_type, Kind.STRING, "eq"),
    "entity_id": allow(Event.entity_id, Kind.STRING, "eq"),
    "created_at": allow(Event.created_at, Kind.DATETIME, "gt"),
}

# PostgreSQL: the next transaction id of this statement's snapshot, and the ids of the transactions of this
# database running while it is read (32-bit, without their epoch).
_RUNNING = text(
    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,"
    " array_agg(backend_xid::text::bigint) FILTER (WHERE backend_xid IS NOT NULL)"
    " FROM pg_stat_activity WHERE datname = current_database()"
)

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
        query = query.where(Event.txid < horizon(session))
    if after is not None:
        query = query.where(tuple_(Event.txid, Event.pk) > tuple_(*after))
    if where is not None:
        query = query.where(where)
    return session.execute(query.order_by(Event.txid, Event.pk).limit(limit)).all()


def horizon(session: Session) -> int:
    """PostgreSQL: a transaction id below which every transaction that could write events here has ended.

    One statement takes a snapshot (its xmax: no transaction that starts later gets a smaller id) and then
    reads which transactions of this database are running (their ids, full-width from the epoch). The
    answer is the smallest of them. Any smaller id belongs to a transaction that had ended by that read,
    so the feed query, a later statement with a later snapshot, sees all of its events. Only this
    database's transactions count: pg_snapshot_xmin would let a long transaction in any database of the
    server hold the feed back."""
    next_xid, running = session.execute(_RUNNING).one()
    epoch = next_xid >> 32
    smallest = next_xid
    for xid in running or ():
        full = (epoch << 32) | xid
        if full >= next_xid:  # assigned before the epoch turned
            full -= 1 << 32
        smallest = min(smallest, full)
    return int(smallest)


def get(session: Session, scope_id: uuid.UUID, event_id: uuid.UUID) -> Event | None:
    return session.scalars(select(Event).where(Event.id == event_id, Event.scope_id == scope_id)).first()
