"""A product's and a node's `History` (SPEC §13.2): their latest changes from the event feed (§11.4) —
who (a user's email, or an API key), when, what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from assortment.domain import users
from assortment.domain.events import EventService
from assortment.domain.users import SignedIn

SHOWN = 10


@dataclass(frozen=True, slots=True)
class Change:
    when: datetime
    who: str
    what: str


def recent(session: Session, user: SignedIn, entity_type: str, entity_id: str) -> list[Change]:
    rows = EventService(session, user.principal).recent(entity_type, entity_id, SHOWN)
    emails = users.emails_by_id(session, [row.actor_id for row in rows if row.actor_type == "user"])
    return [Change(row.created_at, _who(row.actor_type, row.actor_id, emails), row.triggered_by) for row in rows]


def _who(actor_type: str, actor_id: str, emails: dict[str, str]) -> str:
    if actor_type == "user":
        return emails.get(actor_id, "a deleted user")
    return f"API key {actor_id[:8]}"
