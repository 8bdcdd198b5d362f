"""Webhook delivery (SPEC §11.3): claim due jobs with a lease, POST, log every attempt, retry with backoff.

A job is claimed by raising its `attempts` and moving its `next_attempt_at` a lease (60 s) ahead, in one
short write transaction (PostgreSQL: the due rows are read `FOR UPDATE SKIP LOCKED`, so loops in any number
of processes never claim the same job; SQLite: write transactions are serialised). If the process dies
while delivering, the job simply becomes due again when its lease runs out. The outcome is written in a
second transaction, only if the job is still at the claimed attempt (a loop whose lease ran out does not
overwrite a newer attempt's result). Events are written with their jobs in the changes' own transactions
(domain/events.py), so a crash at any moment loses nothing: at least once; receivers de-duplicate by id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session, sessionmaker

from assortment.config import Settings
from assortment.db.engine import begin_write
from assortment.db.models import IntegrationJob, IntegrationLog
from assortment.db.repositories import events as event_repo
from assortment.db.repositories import integrations as repo
from assortment.db.types import utcnow
from assortment.domain.integrations import check_target
from assortment.observability import WEBHOOK_DELIVERIES, WEBHOOK_PENDING

log = logging.getLogger("assortment.webhooks")

LEASE_SECONDS = 60
TIMEOUT_SECONDS = 10
MAX_DELAY_SECONDS = 600
BATCH = 32
POLL_SECONDS = 0.2
RESPONSE_BODY_KEPT = 1024
PENDING_EVERY_SECONDS = 2.0
PURGE_EVERY_SECONDS = 600.0
PURGE_BATCH = 5000


@dataclass(frozen=True)
class Claimed:
    job_pk: int
    integration_pk: int
    attempt: int
    event_id: uuid.UUID
    event_created_at: datetime
    triggered_by: str
    payload: Any
    integration_id: uuid.UUID
    integration_type: str
    name: str
    description: str | None
    url: str
    secret_key: str | None


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    status_code: int | None = None
    body: str | None = None
    error_detail: str | None = None


# --- what is sent -------------------------------------------------------------------------------------------


def body_of(job: Claimed) -> bytes:
    document = {
        "id": str(job.event_id),
        "triggered_by": job.triggered_by,
        "attempt": job.attempt,
        "integration": {
            "id": str(job.integration_id),
            "integration_type": job.integration_type,
            "name": job.name,
            "description": job.description,
        },
        "payload": job.payload,
        "resources": json.dumps(job.payload, separators=(",", ":")),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signing_key(secret: str) -> bytes:
    """Standard Webhooks: the base64 after `whsec_`, else the secret's UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except ValueError:
            pass
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_of(job: Claimed, body: bytes, now: int) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "Assortment-Webhooks"}
    if job.secret_key:
        headers["X-Moltin-Secret-Key"] = job.secret_key
        message_id = str(job.event_id)
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = str(now)
        headers["webhook-signature"] = signature(job.secret_key, message_id, now, body)
    else:
        headers["webhook-id"] = str(job.event_id)
        headers["webhook-timestamp"] = str(now)
    return headers


def next_delay(settings: Settings, attempt: int) -> float:
    """After failed attempt n: base × 2^(n-1), ±20 %, at most 10 minutes."""
    delay = settings.webhook_retry_base_seconds * 2 ** min(attempt - 1, 30)
    return float(min(delay * random.uniform(0.8, 1.2), MAX_DELAY_SECONDS))


# --- claim, deliver, finish ---------------------------------------------------------------------------------


def claim_due(
    sessions: sessionmaker[Session], limit: int = BATCH, lease_seconds: float = LEASE_SECONDS, *, peek: bool = True
) -> list[Claimed]:
    """Claim up to `limit` due jobs. With `peek`, a read first, so that nothing due takes no write lock (a
    loop that has just found work skips it: there is most likely more)."""
    now = utcnow()
    if peek:
        with sessions() as session:
            if not repo.due_job_pks(session, now, 1, lock=False):
                return []
    with sessions() as session:
        begin_write(session)
        repo.without_waiting_for_the_disk(session)
        postgres = session.get_bind().dialect.name == "postgresql"
        pks = repo.due_job_pks(session, now, limit, lock=postgres)
        if not pks:
            session.rollback()
            return []
        repo.claim(session, pks, now + timedelta(seconds=lease_seconds), now)
        claimed = [
            Claimed(
                job_pk=row.job_pk,
                integration_pk=row.integration_pk,
                attempt=row.attempts,
                event_id=row.event_id,
                event_created_at=row.event_created_at,
                triggered_by=row.triggered_by,
                payload=row.payload,
                integration_id=row.integration_id,
                integration_type=row.integration_type,
                name=row.name,
                description=row.description,
                url=row.url,
                secret_key=row.secret_key,
            )
            for row in repo.claimed(session, pks)
        ]
        session.commit()
    return claimed


def deliver(job: Claimed, client: httpx.Client, settings: Settings) -> Outcome:
    refused = check_target(job.url, settings.webhook_allow_private_urls)
    if refused is not None:
        return Outcome(False, error_detail=refused)
    body = body_of(job)
    try:
        response = client.post(
            job.url, content=body, headers=headers_of(job, body, int(time.time())), timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        return Outcome(False, error_detail=f"{type(exc).__name__}: {exc}"[:RESPONSE_BODY_KEPT])
    text = response.content[:RESPONSE_BODY_KEPT].decode("utf-8", errors="replace")
    ok = 200 <= response.status_code < 300
    return Outcome(ok, response.status_code, text, None if ok else f"the receiver answered {response.status_code}")


# The outcome is written only if the job is still at the attempt this loop claimed (see the module's doc).
_JOBS: Table = IntegrationJob.__table__  # type: ignore[assignment]
_STILL_CLAIMED = update(_JOBS).where(
    _JOBS.c.pk == bindparam("b_pk"), _JOBS.c.attempts == bindparam("b_attempt"), _JOBS.c.status == "pending"
)


def finish(sessions: sessionmaker[Session], settings: Settings, results: list[tuple[Claimed, Outcome]]) -> None:
    now = utcnow()
    with sessions() as session:
        begin_write(session)
        repo.without_waiting_for_the_disk(session)
        session.execute(
            insert(IntegrationLog),
            [
                {
                    "id": uuid.uuid4(),
                    "integration_pk": job.integration_pk,
                    "job_pk": job.job_pk,
                    "succeeded": outcome.succeeded,
                    "attempt": job.attempt,
                    "status_code": outcome.status_code,
                    "body": outcome.body,
                    "error_detail": outcome.error_detail,
                    "created_at": now,
                }
                for job, outcome in results
            ],
        )
        # One executemany per kind of outcome (pipelined on PostgreSQL), not a statement per job: a turn's
        # write is most of what a delivery loop does besides waiting for receivers.
        done: dict[str, list[dict[str, Any]]] = {"succeeded": [], "failed": [], "retry": []}
        for job, outcome in results:
            key = {"b_pk": job.job_pk, "b_attempt": job.attempt}
            if outcome.succeeded:
                done["succeeded"].append(key)
            elif (now - job.event_created_at).total_seconds() >= settings.webhook_max_age_seconds:
                done["failed"].append(key)
            else:
                retry_at = now + timedelta(seconds=next_delay(settings, job.attempt))
                done["retry"].append({**key, "b_next": retry_at})
        for kind, keys in done.items():
            if not keys:
                continue
            values: dict[str, Any] = {"updated_at": now}
            if kind == "retry":
                values["next_attempt_at"] = bindparam("b_next")
            else:
                values["status"] = kind
            session.connection().execute(_STILL_CLAIMED.values(values), keys)
        session.commit()
    for _job, outcome in results:
        WEBHOOK_DELIVERIES.labels("succeeded" if outcome.succeeded else "failed").inc()


def purge_old_events(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Delete the events older than ASSORTMENT_EVENT_RETENTION_DAYS (SPEC §11.4), in short transactions."""
    before = utcnow() - timedelta(days=settings.event_retention_days)
    deleted = 0
    while True:
        with sessions() as session:
            begin_write(session)
            count = event_repo.delete_older_than(session, before, PURGE_BATCH)
            session.commit()
        deleted += count
        if count < PURGE_BATCH:
            return deleted


class DeliveryLoop:
    """Delivers due jobs until stopped: a thread in every `serve` process, the whole of `assortment worker`."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], *, poll_seconds: float = POLL_SECONDS):
        self.settings = settings
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook")
        self._pending_at = 0.0
        self._purged_at = time.monotonic() - PURGE_EVERY_SECONDS * random.random()  # not all at once

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="webhook-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def run(self) -> None:
        busy = False
        with httpx.Client(follow_redirects=False) as client:
            while not self.stopping.is_set():
                try:
                    busy = self.run_once(client, busy=busy)
                except Exception:  # the database away for a moment: try again on the next turn
                    log.exception("webhook delivery turn failed")
                    busy = False
                if not busy:
                    self.stopping.wait(self.poll_seconds)

    def run_once(self, client: httpx.Client, *, busy: bool = False) -> bool:
        """One turn: claim what is due, deliver it, record the outcomes. True when it found work (`busy`: the
        last turn did)."""
        if time.monotonic() - self._pending_at >= PENDING_EVERY_SECONDS:
            self._pending_at = time.monotonic()
            with self.sessions() as session:
                WEBHOOK_PENDING.set(repo.pending_count(session))
        if time.monotonic() - self._purged_at >= PURGE_EVERY_SECONDS:
            self._purged_at = time.monotonic()
            purge_old_events(self.sessions, self.settings)
        claimed = claim_due(self.sessions, lease_seconds=self.settings.webhook_lease_seconds, peek=not busy)
        if not claimed:
            return False
        outcomes = list(self._pool.map(lambda job: deliver(job, client, self.settings), claimed))
        finish(self.sessions, self.settings, list(zip(claimed, outcomes, strict=True)))
        return True
