"""Events: every change writes one row in the transaction that makes it (the transactional outbox, SPEC §11).

`record` is the one way in, called by the domain services after a change. It notes the event on the
session; just before that session's transaction commits (a `before_commit` hook) the rows are written in
it, with one `integration_job` per enabled integration of the entity's owner observing the key. So a change
that rolls back leaves no event, a committed change always has its event, and "enabled at the time of the
change" is decided in that transaction.

Payloads are the resource documents as a GET right after the commit answers them. Rendering lives in the
api layer, which registers a renderer per entity type (`register_renderer`); a route that rendered the
entity for its answer hands that document over (`rendered`), so nothing is rendered twice. Without a
renderer (a CLI process that never imported the api) the payload is `{"data": {"type", "id"}}`; `*.deleted`
carries `{"type", "id"}`.

The feed's order (SPEC §11.4: a reader following cursors never skips an event whose transaction commits
late). Events are ordered by `(txid, pk)`:

- SQLite: writers are serialised (every write transaction holds the one write lock from its first write
  to its commit; the API opens them with BEGIN IMMEDIATE), so the autoincrement `pk` is assigned in commit
  order, `txid` is 0, and everything committed can be handed out.
- PostgreSQL: a sequence is assigned at insert, not at commit, so key 11 can commit (and be read) before key
  10; a reader past 11 would never see 10. Instead each event records its transaction's id
  (`pg_current_xact_id()`), and the feed hands out only events of transactions below a horizon: the
  smallest id of the transactions of this database still running (db/repositories/events.py, `horizon`;
  like `pg_snapshot_xmin` but blind to other databases on the server). Every transaction below it has
  ended, so all of its events are visible at once, and any transaction that commits later has an id at or
  above it; ids only grow, so no event can later appear below a cursor already handed out. No lock is shared
  between writers (a commit-time sequence under a per-database lock would serialise every commit and its
  WAL flush); the price is that a long-running writing transaction in this database holds the feed back
  (never a loss), and the order is that of transaction ids, which is commit order for transactions that do
  not overlap. Webhook deliveries do not wait on it: their jobs are written with the events.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from assortment.db import filters as sql_filters
from assortment.db.models import Event
from assortment.db.repositories import events as repo
from assortment.db.types import utcnow
from assortment.domain.filters import Term
from assortment.domain.parsing import parse_uuid
from assortment.domain.tenancy import Principal
from assortment.errors import BadRequest, NotFound

Renderer = Callable[[Session, Any], dict[str, Any]]
NewRenderer = Callable[[Any], dict[str, Any]]

_RENDERERS: dict[str, Renderer] = {}
_NEW_RENDERERS: dict[str, NewRenderer] = {}

# Upstream's keys and Assortment's own (SPEC §11.2), each `<entity>.created|updated|deleted`.
ENTITY_TYPES = (
    "catalog-release",
    "catalog-rule",
    "currency",
    "integration",
    "product",
    "hierarchy",
    "node",
    "custom-relationship",
    "pricebook",
    "price",
)
OBSERVABLE_KEYS = frozenset(
    f"{entity}.{action}" for entity in ENTITY_TYPES for action in ("created", "updated", "deleted")
)

# session.info: the events recorded in this transaction, and documents the routes rendered meanwhile; and
# the mark of sessions that record nothing (`switch_off`).
_PENDING = "assortment_pending_events"
_RENDERED = "assortment_rendered_documents"
_OFF = "assortment_events_off"


def switch_off(sessions: sessionmaker[Session]) -> None:
    """Sessions of this factory record no events (ASSORTMENT_BENCH_WITHOUT_EVENTS): only for measuring what
    the outbox costs, as it breaks the promise that a committed change has its event."""
    sessions.configure(info={_OFF: True})


def register_renderer(entity_type: str, renderer: Renderer, *, new: NewRenderer | None = None) -> None:
    """The api layer says how a GET renders an entity of this type: `renderer(session, entity)` returns the
    document; `new(entity)`, when given, renders the `data` of one just created (which nothing refers to yet)
    without reading the database, for bulk loads (`record_created`)."""
    _RENDERERS[entity_type] = renderer
    if new is not None:
        _NEW_RENDERERS[entity_type] = new


@dataclass(slots=True)
class _Pending:
    event_id: uuid.UUID
    triggered_by: str
    entity_type: str
    entity: Any
    entity_id: str
    scope_id: uuid.UUID
    actor_type: str
    actor_id: str
    created_at: datetime
    new: bool = False  # an entity this transaction created and nothing refers to yet (record_created)


def new_event_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562: 48 bits of Unix milliseconds, then random bits), so event ids grow with time and
    each insert lands at the right edge of the unique index on them. A random id writes into a random page
    of that index, which PostgreSQL logs as a whole page the first time after each checkpoint (measured: the
    outbox statement took ~0.1 ms more with uuid4 ids, on a table of 200k events)."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | rand & (2**62 - 1)
    return uuid.UUID(int=value)


def record(
    session: Session,
    principal: Principal,
    triggered_by: str,
    entity: Any,
    entity_id: Any,
    scope_id: uuid.UUID,
) -> uuid.UUID:
    """Record the event `triggered_by` (`<entity type>.<action>`) about `entity` in the caller's transaction;
    returns the event's id. The row and the jobs of the integrations observing it are written when the
    transaction commits (in it, just before), with the payload rendered then: the document as a GET right
    after the commit returns it, rendered once even when the route rendered it already (`rendered`)."""
    event_id = new_event_id()
    if _OFF in session.info:
        return event_id
    pending: list[_Pending] = session.info.setdefault(_PENDING, [])
    pending.append(
        _Pending(
            event_id,
            triggered_by,
            triggered_by.rpartition(".")[0],
            entity,
            str(entity_id),
            scope_id,
            principal.actor,
            str(principal.key_id),
            utcnow(),
        )
    )
    return event_id


def record_created(
    session: Session, principal: Principal, entity_type: str, entities: Sequence[tuple[Any, Any]], scope_id: uuid.UUID
) -> None:
    """Record `<entity_type>.created` for each (entity, id) of a bulk load, in the caller's transaction, written
    at its commit with the others (one statement for all on PostgreSQL). Their payloads come from the renderer
    registered for new entities of the type when there is one (it reads nothing from the database), else from
    the usual one."""
    if _OFF in session.info or not entities:
        return
    triggered_by = f"{entity_type}.created"
    actor_type, actor_id, now = principal.actor, str(principal.key_id), utcnow()
    session.info.setdefault(_PENDING, []).extend(
        _Pending(new_event_id(), triggered_by, entity_type, entity, str(entity_id), scope_id, actor_type, actor_id,
                 now, True)
        for entity, entity_id in entities
    )


def rendered(session: Session, entity_type: str, entity: Any, document: dict[str, Any]) -> None:
    """The route rendered `entity` for its answer after its last change: the event can carry that document."""
    if session.info.get(_PENDING):
        session.info.setdefault(_RENDERED, {})[(entity_type, id(entity))] = document


def _payload(session: Session, event: _Pending) -> dict[str, Any]:
    if event.triggered_by.endswith(".deleted"):
        return {"type": event.entity_type, "id": event.entity_id}
    if event.new and (fresh := _NEW_RENDERERS.get(event.entity_type)) is not None:
        return {"data": fresh(event.entity)}
    done = session.info.get(_RENDERED, {}).get((event.entity_type, id(event.entity)))
    if done is not None:
        return {"data": done}
    renderer = _RENDERERS.get(event.entity_type)
    if renderer is None:
        return {"data": {"type": event.entity_type, "id": event.entity_id}}
    return renderer(session, event.entity)


def _to_json(payload: dict[str, Any]) -> str:
    try:
        return orjson.dumps(payload).decode()  # several times faster than json: it runs for every event
    except TypeError:  # a string that is not valid Unicode (a lone surrogate): escaped, as json does
        return json.dumps(payload, separators=(",", ":"))


@sa_event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: list[_Pending] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    rows = [
        repo.NewEvent(
            e.event_id,
            e.triggered_by,
            e.entity_type,
            e.entity_id,
            e.scope_id,
            e.actor_type,
            e.actor_id,
            _to_json(_payload(session, e)),
            e.created_at,
        )
        for e in pending
    ]
    repo.write_events(session.connection(), rows)
    session.info.pop(_RENDERED, None)


@sa_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_RENDERED, None)


# --- the feed (SPEC §11.4) ------------------------------------------------------------------------------

INVALID_CURSOR = "invalid page[after] cursor"


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(txid: int, pk: int, filter_text: str | None) -> str:
    """An opaque cursor naming a feed position and the filter it was issued for."""
    digest = hashlib.sha256((filter_text or "").encode()).hexdigest()[:8]
    raw = f"ev1.{txid}.{pk}.{digest}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, filter_text: str | None) -> tuple[int, int] | None:
    """The position of a cursor this endpoint issued for this filter; `""` is the start; else 400."""
    if cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        tag, txid, pk, digest = raw.split(".")
        valid = tag == "ev1" and txid.isdigit() and pk.isdigit() and txid.isascii() and pk.isascii()
    except (ValueError, UnicodeError):
        valid = False
    if not valid or digest != hashlib.sha256((filter_text or "").encode()).hexdigest()[:8]:
        raise BadRequest(INVALID_CURSOR)
    return int(txid), int(pk)


@dataclass
class EventService:
    session: Session
    principal: Principal

    def feed(self, terms: tuple[Term, ...] | None, filter_text: str | None, after: str, limit: int) -> FeedPage:
        position = decode_cursor(after, filter_text)
        where = None if not terms else sql_filters.compile_filter(terms, repo.EVENT_FILTERS)
        rows = list(repo.feed(self.session, self.principal.scope_id, where, position, limit))
        # The feed has no last page: the next cursor is after the last event handed out, or where this page
        # started when it is empty, so a follower keeps polling the same link until something commits.
        if rows:
            next_cursor = encode_cursor(rows[-1].txid, rows[-1].pk, filter_text)
        else:
            next_cursor = encode_cursor(*(position or (0, 0)), filter_text)
        return FeedPage(rows, next_cursor)

    def recent(self, entity_type: str, entity_id: str, limit: int) -> list[Any]:
        """An entity's latest changes, newest first (a page's `History`)."""
        return list(repo.recent_of_entity(self.session, self.principal.scope_id, entity_type, entity_id, limit))

    def get(self, event_id: str) -> Event:
        parsed = parse_uuid(event_id)
        event = None if parsed is None else repo.get(self.session, self.principal.scope_id, parsed)
        if event is None:
            raise NotFound(f"event {event_id} not found")
        return event


def event_id_of(session: Session, event_pk: int) -> uuid.UUID:
    return session.scalars(select(Event.id).where(Event.pk == event_pk)).one()
