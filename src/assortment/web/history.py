"""A product's and a node's `History` (SPEC §13.2): their latest changes from the event feed (§11.4) —
who (a user's email, or an API key), when, what, and which fields changed.

An event's payload is the entity's document as a GET answered it right after the change, so what an update
changed is what differs between its payload and the one of the entity's event before it: the members of
`attributes` (`name`, `sku`, …) and of `relationships` (`parent`, …), timestamps aside. Unknown (None) when
the event before it is no longer kept (retention), or a payload carries no document (a change made by a
command-line process)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from assortment.db.repositories import events as events_repo
from assortment.domain import users
from assortment.domain.events import EventService
from assortment.domain.users import SignedIn

SHOWN = 10
TIMESTAMPS = frozenset({"created_at", "updated_at"})


@dataclass(frozen=True, slots=True)
class Change:
    when: datetime
    who: str
    what: str
    fields: list[str] | None = None  # of an update: what changed (None: not known)


def recent(session: Session, user: SignedIn, entity_type: str, entity_id: str) -> list[Change]:
    rows = EventService(session, user.principal).recent(entity_type, entity_id, SHOWN + 1)
    emails = users.emails_by_id(session, [row.actor_id for row in rows[:SHOWN] if row.actor_type == "user"])
    documents = events_repo.payloads(session, [row.pk for row in rows])
    shown = []
    for index, row in enumerate(rows[:SHOWN]):
        fields = None
        if row.triggered_by.endswith(".updated") and index + 1 < len(rows):
            fields = changed_fields(documents.get(rows[index + 1].pk), documents.get(row.pk))
        shown.append(Change(row.created_at, _who(row.actor_type, row.actor_id, emails), row.triggered_by, fields))
    return shown


def changed_fields(before: Any, after: Any) -> list[str] | None:
    """The members of `attributes` and `relationships` whose values differ between two payloads, sorted;
    None when either carries no document."""
    old, new = _document(before), _document(after)
    if old is None or new is None:
        return None
    names: set[str] = set()
    for member in ("attributes", "relationships"):
        a, b = old.get(member) or {}, new.get(member) or {}
        names |= {key for key in a.keys() | b.keys() if key not in TIMESTAMPS and a.get(key) != b.get(key)}
    return sorted(names)


def _document(payload: Any) -> dict[str, Any] | None:
    data = payload.get("data") if isinstance(payload, dict) else None
    return data if isinstance(data, dict) and "attributes" in data else None


def _who(actor_type: str, actor_id: str, emails: dict[str, str]) -> str:
    if actor_type == "user":
        return emails.get(actor_id, "a deleted user")
    return f"API key {actor_id[:8]}"
