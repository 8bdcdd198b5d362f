"""Faults from outside the service: a server killed with SIGKILL in the middle of bulk associations, and the
PostgreSQL server crashing and coming back under load while the service keeps running.

1. A request's associations are written in one transaction (SPEC §3.4, DESIGN "Correctness under
   concurrency"): a server killed while it writes leaves each of its requests wholly stored or not at all,
   bi-directional pairs whole, limits intact, and the next server carries on from there.
2. While the database is down every request fails fast and cleanly (503 in the `{"errors": [...]}` body,
   SPEC §0.4; `/healthz` 503 instead of 200, per the operational contract), and once it is back the
   connection pools recover on their own, with no acknowledged write lost. This runs on a private,
   throwaway PostgreSQL cluster: the shared server other test runs use is never touched.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from assortment.config import Settings
from assortment.db.engine import make_engine, make_session_factory
from assortment.db.migrate import upgrade
from assortment.db.models import CustomRelationship, Product, ProductRelationshipSlot
from assortment.domain import auth
from tests.conftest import Caller, Database, Keys, _in_ci
from tests.relationships import AT_2000, insert_products, items, make_definition, stored_edges
from tests.servers import ServerProcess, assortment_executable, free_port, running_server_processes

pytestmark = pytest.mark.multiprocess

# --- 1. SIGKILL during bulk associations ---------------------------------------------------------------

SLUG = "CRP_paired"
REQUESTS = 3  # one per source product: one alone, then the others at once
ITEMS = 5000  # the most one association request may carry (a longer `data` is refused with 422)
STORED = 2000  # of which one source keeps at most this many under one slug (SPEC §8); the rest are refused


@dataclass
class BulkRequest:
    source: str
    targets: list[str]
    response: httpx.Response | None = None
    error: Exception | None = None

    @property
    def path(self) -> str:
        return f"/pcm/products/{self.source}/custom-relationships/{SLUG}"

    def check_answer(self, response: httpx.Response) -> None:
        """The answer of seed 002 for ITEMS fresh targets: the first STORED associated, the others refused."""
        assert response.status_code == 201, response.text
        meta = response.json()["meta"]
        assert meta["associated_products"] == self.targets[:STORED]
        assert meta["products_not_associated"] == [{"ID": t, "Details": AT_2000} for t in self.targets[STORED:]]


def token_headers(url: str, keys: Keys) -> dict[str, str]:
    key = keys.key()
    form = {"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret}
    response = httpx.post(f"{url}/oauth/access_token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def writing_transaction_open(db: Database) -> bool:
    """Whether another connection (the frozen server) holds a write transaction open on the database.

    SQLite: it holds the write lock (taken with BEGIN IMMEDIATE when a write request starts).
    PostgreSQL: its transaction has begun inserting (relationship slots, then associations) and is not
    committing."""
    if db.name == "sqlite":
        path = db.engine.url.database
        assert path
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return True
            raise
        else:
            probe.execute("ROLLBACK")
            return False
        finally:
            probe.close()
    query = text(
        "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
        "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.query !~* '^\\s*commit' "
        "AND l.relation IN ('association'::regclass, 'product_custom_relationship'::regclass) "
        "AND l.mode = 'RowExclusiveLock' AND l.granted"
    )
    with db.engine.connect() as connection:
        return bool(connection.scalar(query))


def freeze_while_writing(server: ServerProcess, db: Database, threads: list[threading.Thread]) -> bool:
    """Stop the server (SIGSTOP) again and again until it is caught with a write transaction open, and leave
    it stopped then; in between, let it run on for a few milliseconds. False when every request was answered
    first."""
    pid = server.process.pid
    deadline = time.monotonic() + 40
    attempt = 0
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        try:
            # Let the database take in what the server had sent: a COMMIT on its way is then seen (or done).
            time.sleep(0.02)
            if writing_transaction_open(db):
                return True
        except BaseException:
            os.kill(pid, signal.SIGCONT)
            raise
        os.kill(pid, signal.SIGCONT)
        attempt += 1
        time.sleep(0.005 * (attempt % 7))
    return False


def wait_for_dead_transactions(db: Database) -> None:
    """PostgreSQL ends the killed server's sessions (rolling back their transactions) when it notices their
    sockets closed; wait for that, so that what is checked next is final."""
    if db.name != "postgresql":
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND xact_start IS NOT NULL"
    )
    deadline = time.monotonic() + 20
    with db.engine.connect() as connection:
        while connection.scalar(query):
            assert time.monotonic() < deadline, "the killed server's transactions never ended"
            time.sleep(0.05)
            connection.rollback()


def carrying_slug(db: Database) -> set[str]:
    query = (
        select(Product.id)
        .join(ProductRelationshipSlot, ProductRelationshipSlot.product_pk == Product.pk)
        .join(CustomRelationship, CustomRelationship.pk == ProductRelationshipSlot.relationship_pk)
        .where(CustomRelationship.slug == SLUG)
    )
    with db.sessions() as session:
        return {str(pid) for pid in session.scalars(query)}


def check_limits(db: Database) -> None:
    """No product carries more than 5 relationships, none has more than 2000 associations under one."""
    slots = "SELECT max(n) FROM (SELECT count(*) AS n FROM product_custom_relationship GROUP BY product_pk) x"
    edges = "SELECT max(n) FROM (SELECT count(*) AS n FROM association GROUP BY source_pk, relationship_pk) x"
    with db.engine.connect() as connection:
        assert (connection.scalar(text(slots)) or 0) <= 5
        assert (connection.scalar(text(edges)) or 0) <= STORED


def stored_share(db: Database, requests: list[BulkRequest]) -> list[bool]:
    """For each request: whether it is stored whole (True) or not at all (False); anything in between fails.

    Whole: the source → first STORED targets, each pair in both directions (bi-directional), the slug on the
    source and on exactly those targets. Nothing else of the request: no refused target touched."""
    edges = stored_edges(db, SLUG)
    carrying = carrying_slug(db)
    check_limits(db)
    assert {(t, s) for s, t in edges} == edges, "a bi-directional pair is missing one side"
    outcome = []
    for request in requests:
        forward = {t for s, t in edges if s == request.source}
        expected = set(request.targets[:STORED])
        assert forward in (set(), expected), f"{len(forward)} of {STORED} associations stored"
        assert (request.source in carrying) == bool(forward), "the source's slug and its associations disagree"
        assert carrying & set(request.targets) == forward, "targets carry the slug without their associations"
        outcome.append(bool(forward))
    mine = {r.source for r in requests} | {t for r in requests for t in r.targets}
    assert {p for pair in edges for p in pair} <= mine
    return outcome


def test_bulk_associations_killed_while_writing_are_all_or_nothing(api: Caller, db: Database, keys: Keys) -> None:
    make_definition(api, "paired", bi_directional=True)
    scope = api.key.store_id
    assert scope is not None
    sources = insert_products(db, scope, REQUESTS, "source")
    requests = [BulkRequest(s, insert_products(db, scope, ITEMS, f"target of {i}")) for i, s in enumerate(sources)]
    first, *parallel = requests

    with running_server_processes(db.settings.database_url) as (server,):
        headers = token_headers(server.url, keys)

        def send(request: BulkRequest) -> None:
            try:
                request.response = httpx.post(
                    server.url + request.path, json=items(request.targets), headers=headers, timeout=120
                )
            except httpx.HTTPError as exc:
                request.error = exc

        began = time.monotonic()
        send(first)  # committed and answered before the kill: must survive it
        took = time.monotonic() - began
        threads = [threading.Thread(target=send, args=(r,)) for r in parallel]
        for thread in threads:
            thread.start()
        # Aim past the reading half of a request (SQLite runs them one after the other, PostgreSQL side by side).
        time.sleep(0.6 * took)
        caught = freeze_while_writing(server, db, threads)
        server.process.kill()
        server.process.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=30)
            assert not thread.is_alive()
        assert caught, "every request was answered before the server could be caught writing"

    answered = [r for r in requests if r.response is not None]
    cut = [r for r in requests if r.response is None]
    assert first in answered
    assert cut, "the kill interrupted no request"
    for request in answered:
        assert request.response is not None
        request.check_answer(request.response)
    for request in cut:
        assert isinstance(request.error, httpx.TransportError), request.error

    wait_for_dead_transactions(db)
    stored = dict(zip((r.source for r in requests), stored_share(db, requests), strict=True))
    assert all(stored[r.source] for r in answered), "an answered request is not stored"
    # The request the server was caught writing left nothing behind.
    assert not all(stored[r.source] for r in cut), "every interrupted request was stored anyway"

    # A new server takes over: the interrupted requests, sent again (at once), now go through.
    with running_server_processes(db.settings.database_url) as (server,):
        with ThreadPoolExecutor(max_workers=len(cut)) as pool:
            responses = list(
                pool.map(
                    lambda r: httpx.post(server.url + r.path, json=items(r.targets), headers=headers, timeout=60),
                    cut,
                )
            )
        for request, response in zip(cut, responses, strict=True):
            request.check_answer(response)
        listed = httpx.get(server.url + first.path, params={"page[limit]": "1"}, headers=headers, timeout=30)
        assert listed.status_code == 200, listed.text
        assert listed.json()["meta"]["results"]["total"] == STORED

    assert stored_share(db, requests) == [True] * REQUESTS


# --- 2. PostgreSQL crashes and restarts under load -----------------------------------------------------

DOWN_SECONDS = 2.5
RECOVERY_SECONDS = 3.0  # requests must succeed again this long after PostgreSQL accepts connections
REQUEST_TIMEOUT = 15.0  # the client gives up: a hang
SLOWEST_ANSWER = 8.0  # the longest any answer may take, outage or not (generous: the machine may be busy)


def postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl (newest installed version), if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of its own in a temporary directory, on a free port."""

    bin: Path
    root: Path
    port: int
    owner: pwd.struct_passwd | None  # the OS user running it, when we are root (PostgreSQL refuses root)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / tool), *args]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner.pw_name, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False)
        assert done.returncode == 0, f"{tool} failed: {done.stdout}\n{done.stderr}\n{self.log_tail()}"

    def log_tail(self) -> str:
        log = self.root / "postgres.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self.run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "postgres.log"),
            "-w",
            "-t",
            "30",
            "-o",
            options,
        )

    def stop(self, mode: str) -> None:
        self.run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "30")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """initdb + start; always stopped and removed afterwards. Skips when PostgreSQL is not installed
    (fails under CI=true)."""
    directory = postgres_bin()
    owner = None
    problem = None
    if directory is None:
        problem = "PostgreSQL server binaries (initdb, pg_ctl) not found"
    elif os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            problem = "running as root and there is no `postgres` OS user to run a private cluster"
        if not shutil.which("runuser"):
            problem = "running as root and runuser is missing"
    if problem or directory is None:
        if _in_ci():
            pytest.fail(problem or "no PostgreSQL")
        pytest.skip(problem or "no PostgreSQL")
    root = Path(tempfile.mkdtemp(prefix="assortment-pg-"))
    cluster = PrivateCluster(directory, root, free_port(), owner)
    try:
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        cluster.run(
            "initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"
        )
        cluster.start()
        yield cluster
    finally:
        pid = cluster.postmaster_pid()
        if pid is not None:
            with contextlib.suppress(Exception):
                cluster.stop("immediate")
            if cluster.postmaster_pid() is not None:  # still there: the postmaster this test started
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def servers_logging_to(database_url: str, count: int, log_dir: Path) -> Iterator[list[str]]:
    """Server processes whose output goes to files: during an outage every failed request logs a warning,
    more than an unread pipe holds."""
    env = {**os.environ, "ASSORTMENT_DATABASE_URL": database_url}
    started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for i in range(count):
            port = free_port()
            log = log_dir / f"server-{i}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [assortment_executable(), "serve", "--port", str(port)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((f"http://127.0.0.1:{port}", process, log))
        for url, process, log in started:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, f"server exited: {log.read_text(errors='replace')[-2000:]}"
                assert time.monotonic() < deadline, f"server at {url} did not become ready"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                time.sleep(0.1)
        yield [url for url, _, _ in started]
    finally:
        for _, process, _ in started:
            if process.poll() is None:
                process.terminate()
        for _, process, _ in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Call:
    kind: str
    server: int
    started: float
    ended: float
    status: int | None = None
    body: Any = None
    retry_after: str | None = None
    error: str | None = None
    sku: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)


@dataclass
class Load:
    """Client threads cycling over the servers: create a product, read one back, get a token, health."""

    urls: list[str]
    key: dict[str, str]
    headers: dict[str, str]
    calls: list[Call] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # sku → product id, for every 201
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, worker: int) -> None:
        kinds = ("write", "read", "health", "write", "token")
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            n = 0
            while not self.stop.is_set():
                kind = kinds[n % len(kinds)]
                server = (n + worker) % len(self.urls)
                self.calls.append(self.call(client, kind, server, f"W{worker}-{n}"))
                n += 1
                time.sleep(0.01)

    def call(self, client: httpx.Client, kind: str, server: int, tag: str) -> Call:
        url = self.urls[server]
        started = time.monotonic()
        call = Call(kind, server, started, started)
        try:
            if kind == "write":
                call.sku = f"FAULT-{tag}"
                body = {
                    "data": {
                        "type": "product",
                        "attributes": {"name": tag, "sku": call.sku, "commodity_type": "physical"},
                    }
                }
                response = client.post(f"{url}/pcm/products", json=body, headers=self.headers)
            elif kind == "read":
                with self.lock:
                    known = next(reversed(self.acknowledged.values()), None)
                response = client.get(
                    f"{url}/pcm/products/{known}" if known else f"{url}/pcm/products", headers=self.headers
                )
            elif kind == "token":
                response = client.post(f"{url}/oauth/access_token", data=self.key)
            else:
                response = client.get(f"{url}/healthz")
            call.status = response.status_code
            call.retry_after = response.headers.get("retry-after")
            try:
                call.body = response.json()
            except ValueError:
                call.body = response.text
            if kind == "write" and response.status_code == 201 and call.sku:
                with self.lock:
                    self.acknowledged[call.sku] = call.body["data"]["id"]
        except httpx.HTTPError as exc:
            call.error = repr(exc)
        call.ended = time.monotonic()
        return call


def check_unavailable(call: Call) -> None:
    assert call.status == 503, call
    assert isinstance(call.body, dict), call
    assert set(call.body) == {"errors"}, call
    [error] = call.body["errors"]
    assert error["status"] == "503", call
    assert error["title"] == "Service Unavailable", call
    assert error.get("request_id"), call
    assert call.retry_after is not None and call.retry_after.isdigit(), call


def test_postgresql_restart_under_load(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    wanted = [x.strip() for x in str(request.config.getoption("--databases")).split(",")]
    if "postgresql" not in wanted:
        pytest.skip("postgresql not selected with --databases")
    with private_cluster() as cluster:
        settings = Settings(database_url=cluster.url)
        upgrade(settings)  # `assortment db upgrade`
        engine = make_engine(settings)
        try:
            with make_session_factory(engine).begin() as session:
                key = auth.create_key(session, "faults")
        finally:
            engine.dispose()
        form = {"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret}
        with servers_logging_to(cluster.url, 2, tmp_path) as urls:
            issued = httpx.post(f"{urls[0]}/oauth/access_token", data=form, timeout=30)
            assert issued.status_code == 200, issued.text
            load = Load(urls, form, {"Authorization": f"Bearer {issued.json()['access_token']}"})
            workers = [threading.Thread(target=load.run, args=(i,)) for i in range(3)]
            for worker in workers:
                worker.start()
            try:
                time.sleep(1.5)
                stopping = time.monotonic()
                cluster.stop("immediate")
                down = time.monotonic()
                time.sleep(DOWN_SECONDS)
                starting = time.monotonic()
                cluster.start()
                up = time.monotonic()
                time.sleep(RECOVERY_SECONDS + 1.5)
            finally:
                load.stop.set()
                for worker in workers:
                    worker.join(timeout=REQUEST_TIMEOUT + 5)
            assert not any(w.is_alive() for w in workers)
            calls = sorted(load.calls, key=lambda c: c.started)

            # Never a hang, a dropped connection or a 500: a success or a clean 503.
            for call in calls:
                assert call.error is None, call
                assert call.ended - call.started < SLOWEST_ANSWER, call
                if not call.ok:
                    check_unavailable(call)
            # Before the crash everything works; while PostgreSQL is down nothing does, health included.
            assert all(c.ok for c in calls if c.ended < stopping)
            outage = [c for c in calls if c.started > down and c.ended < starting]
            assert all(c.status == 503 for c in outage)
            assert {(c.kind, c.server) for c in outage} == {
                (k, s) for k in ("write", "read", "health", "token") for s in range(len(urls))
            }
            # Soon after it is back, every server answers everything again (stale pooled connections replaced).
            recovered = [c for c in calls if c.started > up + RECOVERY_SECONDS]
            assert recovered
            assert all(c.ok for c in recovered), [c for c in recovered if not c.ok][:3]
            assert {c.server for c in recovered} == set(range(len(urls)))

            # A restart between two requests leaves every pooled connection stale: they are replaced (pre-ping),
            # the first request after it does not fail.
            cluster.stop("immediate")
            cluster.start()
            with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
                for server in range(len(urls)):
                    for kind in ("read", "write", "token", "health"):
                        call = load.call(client, kind, server, f"after-{server}")
                        assert call.ok, call

            # No acknowledged write was lost in the crashes.
            acknowledged = dict(load.acknowledged)
            assert [c for c in calls if c.kind == "write" and c.ok and c.ended < stopping]
            assert len(acknowledged) == len([c for c in calls if c.kind == "write" and c.ok]) + len(urls)
        engine = make_engine(settings)
        try:
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT sku, id FROM product WHERE sku LIKE 'FAULT-%'")).all()
        finally:
            engine.dispose()
        stored = {str(sku): str(product_id) for sku, product_id in rows}
        assert {sku: stored.get(sku) for sku in acknowledged} == acknowledged
