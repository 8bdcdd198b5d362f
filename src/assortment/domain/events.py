"""Events: every change writes one row in the transaction that makes it (the transactional outbox, SPEC §11).

`record` is the one way in. It is called by the domain services after the change is flushed, in the same
session, so a change that rolls back leaves no event and a committed change always has its event. The
same call creates one `integration_job` per enabled integration of the entity's owner that observes the
key, so "enabled at the time of the change" is decided in that transaction too.

Payloads are the resource documents as their GET answers them. Rendering lives in the api layer, which
registers a renderer per entity type (`register_renderer`); without one (e.g. a CLI process that never
imported the api) the payload is the bare `{"data": {"type", "id"}}`. `*.deleted` carries `{"type", "id"}`.

The feed's order (SPEC §11.4: a reader following cursors never skips an event whose transaction commits
late). Events are ordered by `(txid, pk)`:

- SQLite: writers are serialised (every write transaction holds the one write lock from its first write
  to its commit; the API opens them with BEGIN IMMEDIATE), so the autoincrement `pk` is assigned in commit
  order, `txid` is 0, and everything committed can be handed out.
- PostgreSQL: a sequence is assigned at insert, not at commit, so key 11 can commit (and be read) before key
  10; a reader past 11 would never see 10. Instead each event records its transaction's id
  (`pg_current_xact_id()`), and the feed hands out only events of transactions below
  `pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still running. Every transaction below
  that xmin has ended, so all of its events are visible at once, and any transaction that commits later has
  an id at or above it; ids only grow, so no event can later appear below a cursor already handed out.
  No lock is shared between writers (a commit-time sequence under a per-database lock would serialise
  every write); the price is that a long-running transaction holds the feed back (never a loss) — any
  transaction with an id on the whole server, other databases' included, since ids and snapshots are
  server-wide — and the order is that of transaction ids, which is commit order for transactions that do
  not overlap. Webhook deliveries do not wait on this: their jobs are written with the events.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, insert, literal_column, select
from sqlalchemy.orm import Session

from assortment.db import filters as sql_filters
from assortment.db.models import Event, Integration, IntegrationJob
from assortment.db.repositories import events as repo
from assortment.db.types import utcnow
from assortment.domain.filters import Term
from assortment.domain.parsing import parse_uuid
from assortment.domain.tenancy import Principal
from assortment.errors import BadRequest, NotFound

Renderer = Callable[[Session, Any], dict[str, Any]]

_RENDERERS: dict[str, Renderer] = {}

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

_INTEGRATIONS = "assortment_event_integrations"  # session.info: enabled integrations per scope, this transaction

# The writing transaction's id as a bigint (xid8 has no direct cast).
_PG_TXID = literal_column("pg_current_xact_id()::text::bigint", BigInteger)


def register_renderer(entity_type: str, renderer: Renderer) -> None:
    """The api layer says how a GET renders an entity of this type: `renderer(session, entity)`."""
    _RENDERERS[entity_type] = renderer


def record(
    session: Session,
    principal: Principal,
    triggered_by: str,
    entity: Any,
    entity_id: Any,
    scope_id: uuid.UUID,
) -> uuid.UUID:
    """Write the event `triggered_by` (`<entity type>.<action>`) about `entity` and the jobs of the
    integrations that observe it, in the caller's transaction; returns the event's id."""
    entity_type, _, action = triggered_by.rpartition(".")
    if action == "deleted":
        payload: dict[str, Any] = {"type": entity_type, "id": str(entity_id)}
    else:
        renderer = _RENDERERS.get(entity_type)
        payload = (
            renderer(session, entity) if renderer is not None else {"data": {"type": entity_type, "id": str(entity_id)}}
        )
    event_id = uuid.uuid4()
    now = utcnow()
    values: dict[str, Any] = {
        "id": event_id,
        "triggered_by": triggered_by,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "scope_id": scope_id,
        "actor_type": principal.actor,
        "actor_id": str(principal.key_id),
        "payload": payload,
        "created_at": now,
        "txid": _PG_TXID if session.get_bind().dialect.name == "postgresql" else 0,
    }
    observers = [pk for pk, observes in _enabled_integrations(session, scope_id) if triggered_by in observes]
    if not observers:
        session.execute(insert(Event).values(values))
        return event_id
    event_pk = session.execute(insert(Event).values(values).returning(Event.pk)).scalar_one()
    session.execute(
        insert(IntegrationJob),
        [
            {
                "id": uuid.uuid4(),
                "integration_pk": pk,
                "event_pk": event_pk,
                "triggered_by": triggered_by,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for pk in observers
        ],
    )
    return event_id


def forget_integrations(session: Session) -> None:
    """Integrations changed in this transaction: read them again for the next event."""
    session.info.pop(_INTEGRATIONS, None)


def _enabled_integrations(session: Session, scope_id: uuid.UUID) -> list[tuple[int, list[str]]]:
    transaction = session.get_transaction()
    kept = session.info.get(_INTEGRATIONS)
    if kept is None or kept[0] is not transaction:
        kept = session.info[_INTEGRATIONS] = (transaction, {})
    cache: dict[uuid.UUID, list[tuple[int, list[str]]]] = kept[1]
    found = cache.get(scope_id)
    if found is None:
        rows = session.execute(
            select(Integration.pk, Integration.observes).where(
                Integration.scope_id == scope_id, Integration.enabled.is_(True)
            )
        )
        found = cache[scope_id] = [(pk, list(observes or ())) for pk, observes in rows]
    return found


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

    def get(self, event_id: str) -> Event:
        parsed = parse_uuid(event_id)
        event = None if parsed is None else repo.get(self.session, self.principal.scope_id, parsed)
        if event is None:
            raise NotFound(f"event {event_id} not found")
        return event


def event_id_of(session: Session, event_pk: int) -> uuid.UUID:
    return session.scalars(select(Event.id).where(Event.pk == event_pk)).one()
