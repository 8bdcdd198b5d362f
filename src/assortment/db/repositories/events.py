"""SQL of the event feed (SPEC §11.4); the order and why it is safe are explained in domain/events.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, delete, select, text, tuple_
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
    if where is not None:
        query = query.where(where)
    if session.get_bind().dialect.name != "postgresql":
        # Writers are serialised: the key alone is commit order (txid may hold the ids of a PostgreSQL
        # database the rows were copied from).
        if after is not None:
            query = query.where(Event.pk > after[1])
        return session.execute(query.order_by(Event.pk).limit(limit)).all()
    query = query.where(Event.txid < horizon(session))
    if after is not None:
        query = query.where(tuple_(Event.txid, Event.pk) > tuple_(*after))
    return session.execute(query.order_by(Event.txid, Event.pk).limit(limit)).all()


def recent_of_entity(
    session: Session, scope_id: uuid.UUID, entity_type: str, entity_id: str, limit: int
) -> Sequence[Any]:
    """An entity's latest events, newest first (committed ones: this reads what the session sees)."""
    query = select(*_LISTED).where(
        Event.scope_id == scope_id, Event.entity_type == entity_type, Event.entity_id == entity_id
    )
    return session.execute(query.order_by(Event.pk.desc()).limit(limit)).all()


def payloads(session: Session, event_pks: Sequence[int]) -> dict[int, Any]:
    """{event pk: its payload} of those events (a page's history compares consecutive ones)."""
    if not event_pks:
        return {}
    return dict(session.execute(select(Event.pk, Event.payload).where(Event.pk.in_(list(event_pks)))).tuples().all())


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


def delete_older_than(session: Session, before: datetime, limit: int) -> int:
    """Delete up to `limit` of the oldest events created before `before` (their jobs and logs go with them)."""
    doomed = select(Event.pk).where(Event.created_at < before).order_by(Event.created_at).limit(limit)
    pks = list(session.scalars(doomed))
    if pks:
        session.execute(delete(Event).where(Event.pk.in_(pks)))
    return len(pks)


def get(session: Session, scope_id: uuid.UUID, event_id: uuid.UUID) -> Event | None:
    return session.scalars(select(Event).where(Event.id == event_id, Event.scope_id == scope_id)).first()


# --- writing (the outbox) -----------------------------------------------------------------------------------
# Every commit with a change runs these, so they go straight to the driver: SQLAlchemy's statement and type
# handling cost more than the statements themselves (a product update is ~4 ms in all).


class NewEvent(NamedTuple):
    id: uuid.UUID
    triggered_by: str
    entity_type: str
    entity_id: str
    scope_id: uuid.UUID
    actor_type: str
    actor_id: str
    payload: str  # JSON
    created_at: datetime


def write_events(connection: Connection, events: Sequence[NewEvent]) -> None:
    """Insert the events, in order, and a pending job for each enabled integration of the event's scope that
    observes its key, in the connection's transaction."""
    if not events:
        return
    cursor = connection.connection.cursor()  # the driver's own: this runs at every commit with a change
    try:
        if connection.dialect.name != "postgresql":
            _write_sqlite(cursor, events)
        elif len(events) == 1:  # a change through the API, most of the time: one statement, one round trip
            cursor.execute(_PG_WRITE, tuple(events[0]))
        else:
            # psycopg sends the inserts in a pipeline (no round trip each), then the jobs of all of them.
            cursor.executemany(_PG_EVENT, [tuple(event) for event in events])
            cursor.execute(_PG_JOBS, ([event.id for event in events],))
    finally:
        cursor.close()


_PG_EVENT = (
    "INSERT INTO event (id, txid, triggered_by, entity_type, entity_id, scope_id, actor_type, actor_id, payload,"
    " created_at) VALUES (%s, pg_current_xact_id()::text::bigint, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
)
_PG_JOB_COLUMNS = (
    "INSERT INTO integration_job (id, integration_pk, event_pk, triggered_by, status, attempts, next_attempt_at,"
    " created_at, updated_at) SELECT gen_random_uuid(), i.pk, e.pk, e.triggered_by, 'pending', 0, e.created_at,"
    " e.created_at, e.created_at"
)
_PG_OBSERVERS = "JOIN integration i ON i.scope_id = e.scope_id AND i.enabled AND i.observes ? e.triggered_by"
# One event with its jobs, in one statement.
_PG_WRITE = (
    f"WITH e AS ({_PG_EVENT} RETURNING pk, scope_id, triggered_by, created_at) {_PG_JOB_COLUMNS} FROM e"
    f" {_PG_OBSERVERS}"
)
# The jobs of events just inserted, by their ids.
_PG_JOBS = f"{_PG_JOB_COLUMNS} FROM event e {_PG_OBSERVERS} WHERE e.id = ANY(%s::uuid[]) ORDER BY e.pk"
_SQLITE_EVENT = (
    "INSERT INTO event (id, txid, triggered_by, entity_type, entity_id, scope_id, actor_type, actor_id,"
    " payload, created_at) VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_JOB = (
    "INSERT INTO integration_job (id, integration_pk, event_pk, triggered_by, status, attempts,"
    " next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)"
)
_SQLITE_OBSERVERS = "SELECT pk, observes FROM integration WHERE scope_id = ? AND enabled = 1"


def _sqlite_time(value: datetime) -> str:
    """As SQLAlchemy stores UTCDateTime on SQLite: naive UTC text."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_row(event: NewEvent) -> tuple[Any, ...]:
    # Uuid columns hold 32 hex digits on SQLite.
    return (
        event.id.hex,
        event.triggered_by,
        event.entity_type,
        event.entity_id,
        event.scope_id.hex,
        event.actor_type,
        event.actor_id,
        event.payload,
        _sqlite_time(event.created_at),
    )


def _write_sqlite(cursor: Any, events: Sequence[NewEvent]) -> None:
    """The scopes' enabled integrations are read once; events no integration observes go in one executemany,
    the others one by one (their jobs need the event's key)."""
    observers: dict[uuid.UUID, list[tuple[int, list[str]]]] = {}
    for scope_id in {event.scope_id for event in events}:
        found = cursor.execute(_SQLITE_OBSERVERS, (scope_id.hex,)).fetchall()
        observers[scope_id] = [(pk, json.loads(observes)) for pk, observes in found]
    if not any(observers.values()):
        cursor.executemany(_SQLITE_EVENT, [_sqlite_row(event) for event in events])
        return
    for event in events:
        row = _sqlite_row(event)
        cursor.execute(_SQLITE_EVENT, row)
        watching = [pk for pk, observes in observers[event.scope_id] if event.triggered_by in observes]
        if watching:
            at = row[-1]
            cursor.executemany(
                _SQLITE_JOB,
                [(uuid.uuid4().hex, pk, cursor.lastrowid, event.triggered_by, at, at, at) for pk in watching],
            )
