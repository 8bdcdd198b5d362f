"""The feed under concurrent writers (SPEC §11.4): a reader following the cursor sees every committed
event exactly once, including events whose transactions commit late."""

from __future__ import annotations

import random
import threading
import time
import uuid

from sqlalchemy import select

from assortment.db.engine import begin_write
from assortment.db.models import Event
from assortment.domain import auth
from assortment.domain.events import EventService
from assortment.domain.products import ProductService
from assortment.domain.tenancy import Principal
from assortment.schemas.products import ProductAttributes
from tests.conftest import Caller, Database

WRITERS = 4
WRITES_EACH = 30
# On PostgreSQL the feed waits for every older transaction of the whole server (other databases' too, e.g.
# another test run's long publish) before handing out newer events: a follower may have to poll a while.
DRAIN_SECONDS = 120


def _principal(db: Database) -> Principal:
    with db.sessions() as session:
        store = auth.default_store(session).id
    return Principal(key_id=uuid.uuid4(), store_id=store, grant="client_credentials")


def _create(db: Database, principal: Principal, sku: str, hold: float) -> None:
    """One product in its own transaction, kept open `hold` seconds after its event was written."""
    with db.sessions() as session:
        begin_write(session)
        ProductService(session, principal).create(
            ProductAttributes.model_validate({"name": sku, "sku": sku, "commodity_type": "physical"})
        )
        time.sleep(hold)
        session.commit()


def _read(db: Database, principal: Principal, cursor: str) -> tuple[list[str], str]:
    with db.sessions() as session:
        page = EventService(session, principal).feed(None, None, cursor, 7)
    return [str(row.id) for row in page.items], page.next_cursor or cursor


def test_a_follower_sees_every_event_once_while_writers_commit(db: Database) -> None:
    principal = _principal(db)
    rng = random.Random(1234)
    holds = [[rng.choice((0.0, 0.0, 0.001, 0.01, 0.05)) for _ in range(WRITES_EACH)] for _ in range(WRITERS)]
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i, hold in enumerate(holds[n]):
                _create(db, principal, f"W{n}-{i}", hold)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    seen: list[str] = []
    cursor = ""
    while any(t.is_alive() for t in threads):
        ids, cursor = _read(db, principal, cursor)
        seen.extend(ids)
    for thread in threads:
        thread.join()
    assert not failures, failures
    with db.sessions() as session:
        committed = [str(i) for i in session.scalars(select(Event.id))]
    deadline = time.monotonic() + DRAIN_SECONDS
    while len(seen) < len(committed) and time.monotonic() < deadline:  # what committed last
        ids, cursor = _read(db, principal, cursor)
        seen.extend(ids)
        if not ids:
            time.sleep(0.05)
    assert len(committed) == WRITERS * WRITES_EACH
    assert len(seen) == len(set(seen)), "an event was handed out twice"
    assert set(seen) == set(committed), f"{len(set(committed) - set(seen))} events were skipped"


def test_an_event_of_a_transaction_still_open_holds_back_later_ones(db: Database, api: Caller) -> None:
    """PostgreSQL: the late transaction's event comes first when it commits, and nothing after it is
    handed out before (SQLite has one writer at a time: a later transaction cannot commit first)."""
    principal = _principal(db)
    if db.name != "postgresql":
        _create(db, principal, "ONLY", 0)
        assert len(_read(db, principal, "")[0]) == 1
        return
    late = db.sessions()
    ProductService(late, principal).create(
        ProductAttributes.model_validate({"name": "late", "sku": "LATE", "commodity_type": "physical"})
    )
    try:
        _create(db, principal, "EARLY", 0)
        ids, cursor = _read(db, principal, "")
        assert ids == []  # the open transaction is older: what follows it waits
        late.commit()
    finally:
        late.close()
    ids = []
    deadline = time.monotonic() + DRAIN_SECONDS
    while len(ids) < 2 and time.monotonic() < deadline:
        more, cursor = _read(db, principal, cursor)
        ids.extend(more)
    assert len(ids) == 2
    # Through HTTP too: links.next of the last page names where to go on.
    page = api.get("/v2/events?page[limit]=1").json()
    following = api.get(page["links"]["next"]).json()
    assert [e["id"] for e in page["data"] + following["data"]] == ids
