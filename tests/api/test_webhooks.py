"""Webhook delivery (SPEC §11.3) to a real HTTP receiver on loopback: body, headers and signature, retries,
disabled integrations, owners, the age limit, and nothing lost when a server is killed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assortment.app import create_app
from assortment.db.engine import begin_write
from assortment.db.models import Event, IntegrationJob
from assortment.domain import auth, webhooks
from assortment.domain.products import ProductService
from assortment.domain.tenancy import Principal
from assortment.schemas.products import ProductAttributes
from tests.conftest import Caller, Database, Keys
from tests.servers import assortment_executable, free_port, running_server_processes
from tests.trees import make_product

SECRET = "whsec_" + base64.b64encode(b"a signing key of thirty-two bytes").decode()


@dataclass
class Receiver:
    """A webhook receiver: answers each request with the next scripted status (then 200), keeps what came."""

    statuses: list[int] = field(default_factory=list)
    delay_first: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return self.bodies()
            time.sleep(0.05)
        raise AssertionError(f"expected {count} deliveries, got {len(self.received)}: {self.bodies()}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                first = not state.received
                state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = state.statuses.pop(0) if state.statuses else 200
            if first and state.delay_first:
                time.sleep(state.delay_first)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the sender was killed meanwhile (the kill -9 test)
                pass

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def delivering(db: Database) -> Iterator[Keys]:
    """An app on the test database whose delivery loop runs, may call loopback, retries after 0.2 s."""
    settings = db.settings.model_copy(
        update={"webhook_worker": True, "webhook_allow_private_urls": True, "webhook_retry_base_seconds": 0.2}
    )
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            yield Keys(db, client)
    finally:
        app.state.engine.dispose()


def hook(api: Caller, url: str, *, enabled: bool = True, secret: str | None = SECRET, **fields: Any) -> dict[str, Any]:
    configuration = {"url": url} if secret is None else {"url": url, "secret_key": secret}
    data = {
        "type": "integration",
        "name": "receiver",
        "description": "a test receiver",
        "integration_type": "webhook",
        "enabled": enabled,
        "observes": ["product.created", "product.updated"],
        "configuration": configuration,
        **fields,
    }
    response = api.post("/v2/integrations", json={"data": data})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()["data"]
    return made


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A Standard Webhooks receiver's check, written from the spec."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, sig.split(",", 1)[1]) for sig in headers["webhook-signature"].split(" "))


def test_a_delivery_carries_the_event_signed(delivering: Keys, receiver: Receiver) -> None:
    api = delivering.caller()
    integration = hook(api, receiver.url)
    product = make_product(api, name="Shirt", sku="S-1")
    [body] = receiver.wait_for(1)
    headers, raw = receiver.received[0]
    assert verify(SECRET, headers, raw)
    assert not verify(SECRET, headers, raw + b" ")
    assert headers["x-moltin-secret-key"] == SECRET
    assert headers["content-type"] == "application/json"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    event = api.get("/v2/events?filter=eq(triggered_by,product.created)").json()["data"][0]
    assert headers["webhook-id"] == body["id"] == event["id"]
    assert body["triggered_by"] == "product.created" and body["attempt"] == 1
    assert body["integration"] == {
        "id": integration["id"],
        "integration_type": "webhook",
        "name": "receiver",
        "description": "a test receiver",
    }
    assert body["payload"] == {"data": product}
    assert json.loads(body["resources"]) == body["payload"]
    assert SECRET not in raw.decode()
    [log] = wait_logs(api, integration["id"], 1)
    assert log["succeeded"] is True and log["status_code"] == 200 and log["body"] == "ok"


def wait_logs(api: Caller, integration_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        logs: list[dict[str, Any]] = api.get(f"/v2/integrations/{integration_id}/logs").json()["data"]
        if len(logs) >= count or time.monotonic() > deadline:
            return logs
        time.sleep(0.05)


def test_no_secret_no_signature(delivering: Keys, receiver: Receiver) -> None:
    api = delivering.caller()
    hook(api, receiver.url, secret=None)
    make_product(api, name="Shirt", sku="S-1")
    receiver.wait_for(1)
    headers, _ = receiver.received[0]
    assert "webhook-signature" not in headers and "x-moltin-secret-key" not in headers


def test_failures_are_retried_with_the_same_event_id(delivering: Keys, receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    api = delivering.caller()
    integration = hook(api, receiver.url)
    make_product(api, name="Shirt", sku="S-1")
    bodies = receiver.wait_for(3)
    assert [b["attempt"] for b in bodies] == [1, 2, 3]
    assert len({b["id"] for b in bodies}) == 1
    assert all(verify(SECRET, h, raw) for h, raw in receiver.received)
    logs = wait_logs(api, integration["id"], 3)
    assert [(log["attempt"], log["succeeded"], log["status_code"]) for log in logs] == [
        (3, True, 200),
        (2, False, 500),
        (1, False, 500),
    ]
    [job] = api.get(f"/v2/integrations/{integration['id']}/jobs").json()["data"]
    assert job["status"] == "succeeded" and job["attempts"] == 3 and job["event_id"] == bodies[0]["id"]
    time.sleep(0.5)
    assert len(receiver.received) == 3


def test_a_receiver_that_was_down_gets_everything_once_back(delivering: Keys, receiver: Receiver) -> None:
    receiver.statuses = [503] * 6  # the first six requests, whichever jobs they belong to
    api = delivering.caller()
    hook(api, receiver.url)
    made = [make_product(api, name=f"P{i}", sku=f"P-{i}")["id"] for i in range(3)]
    bodies = receiver.wait_for(9)
    assert sorted(b["payload"]["data"]["id"] for b in bodies[6:]) == sorted(made)
    time.sleep(0.5)
    assert len(receiver.received) == 9


def test_disabled_integrations_get_nothing(delivering: Keys, receiver: Receiver) -> None:
    api = delivering.caller()
    off = hook(api, receiver.url + "?off", enabled=False)
    hook(api, receiver.url + "?on")
    make_product(api, name="Shirt", sku="S-1")
    receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.received) == 1
    assert api.get(f"/v2/integrations/{off['id']}/jobs").json()["data"] == []


def test_disabling_stops_pending_jobs(delivering: Keys, receiver: Receiver) -> None:
    receiver.statuses = [500] * 100
    api = delivering.caller()
    integration = hook(api, receiver.url)
    make_product(api, name="Shirt", sku="S-1")
    receiver.wait_for(1)
    changed = api.put(f"/v2/integrations/{integration['id']}", json={"data": {"enabled": False}})
    assert changed.status_code == 200
    time.sleep(0.3)  # an attempt in flight when it was disabled may still land
    count = len(receiver.received)
    time.sleep(1.0)
    assert len(receiver.received) == count
    [job] = api.get(f"/v2/integrations/{integration['id']}/jobs").json()["data"]
    assert job["status"] == "pending"


def test_a_stores_integration_never_sees_another_stores_events(delivering: Keys, receiver: Receiver) -> None:
    a = delivering.caller()
    b = delivering.caller(store_id=delivering.store("B"))
    hook(a, receiver.url + "?a")
    hook(b, receiver.url + "?b")
    theirs = make_product(b, name="B's", sku="B-1")["id"]
    receiver.wait_for(1)
    mine = make_product(a, name="A's", sku="A-1")["id"]
    receiver.wait_for(2)
    time.sleep(0.5)
    assert len(receiver.received) == 2
    seen = {body["payload"]["data"]["id"]: body["integration"]["id"] for body in receiver.bodies()}
    assert set(seen) == {mine, theirs}
    a_hook = a.get("/v2/integrations").json()["data"][0]["id"]
    assert seen[mine] == a_hook and seen[theirs] != a_hook


def test_an_event_too_old_fails_its_job(db: Database, receiver: Receiver) -> None:
    receiver.statuses = [500] * 100
    settings = db.settings.model_copy(
        update={
            "webhook_worker": True,
            "webhook_allow_private_urls": True,
            "webhook_retry_base_seconds": 0.1,
            "webhook_max_age_seconds": 0.5,
        }
    )
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            api = Keys(db, client).caller()
            integration = hook(api, receiver.url)
            make_product(api, name="Shirt", sku="S-1")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                [job] = api.get(f"/v2/integrations/{integration['id']}/jobs").json()["data"]
                if job["status"] == "failed":
                    break
                time.sleep(0.1)
            assert job["status"] == "failed"
            count = len(receiver.received)
            assert count >= 2
            time.sleep(0.5)
            assert len(receiver.received) == count
    finally:
        app.state.engine.dispose()


def test_the_ssrf_guard_is_checked_again_at_delivery(db: Database, receiver: Receiver) -> None:
    """An integration created while loopback targets were allowed is refused by a loop that does not allow
    them: the attempt fails with the reason and nothing is sent."""
    app = create_app(db.settings.model_copy(update={"webhook_allow_private_urls": True}))
    try:
        with TestClient(app) as client:
            api = Keys(db, client).caller()
            integration = hook(api, receiver.url)
            make_product(api, name="Shirt", sku="S-1")
            [claimed] = webhooks.claim_due(db.sessions)
            with httpx.Client() as http:
                outcome = webhooks.deliver(claimed, http, db.settings)  # the shared settings: not allowed
            webhooks.finish(db.sessions, db.settings, [(claimed, outcome)])
            assert outcome.succeeded is False and "loopback" in (outcome.error_detail or "")
            [log] = api.get(f"/v2/integrations/{integration['id']}/logs").json()["data"]
            assert log["succeeded"] is False and log["status_code"] is None and "may not call" in log["error_detail"]
    finally:
        app.state.engine.dispose()
    assert receiver.received == []


def _server_token(database: Database, url: str) -> str:
    with database.sessions.begin() as session:
        key = auth.create_key(session, "killed", store_id=None, organization=False)
    form = {"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret}
    token: str = httpx.post(f"{url}/oauth/access_token", data=form).json()["access_token"]
    return token


def _post(url: str, token: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{url}{path}", json={"data": data}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["data"]
    return created


def test_kill_9_between_commit_and_delivery_loses_nothing(
    db: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server killed with the event committed and not yet sent (its loop off), and one killed while its
    delivery is in flight (the receiver holds the request): the next server delivers both, the second after
    its lease, with the same event id."""
    monkeypatch.setenv("ASSORTMENT_WEBHOOK_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("ASSORTMENT_WEBHOOK_RETRY_BASE_SECONDS", "0.2")
    monkeypatch.setenv("ASSORTMENT_WEBHOOK_LEASE_SECONDS", "2")
    monkeypatch.setenv("ASSORTMENT_WEBHOOK_WORKER", "false")
    hook_data = {
        "type": "integration",
        "name": "receiver",
        "integration_type": "webhook",
        "enabled": True,
        "observes": ["product.created"],
        "configuration": {"url": receiver.url, "secret_key": SECRET},
    }
    url = db.settings.database_url
    with running_server_processes(url) as [server]:
        token = _server_token(db, server.url)
        _post(server.url, token, "/v2/integrations", hook_data)
        first = _post(
            server.url,
            token,
            "/pcm/products",
            {"type": "product", "attributes": {"name": "A", "sku": "A", "commodity_type": "physical"}},
        )
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    assert receiver.received == []
    monkeypatch.setenv("ASSORTMENT_WEBHOOK_WORKER", "true")
    receiver.delay_first = 4.0  # the first delivery is held until its server is dead
    with running_server_processes(url) as [server]:
        bodies = receiver.wait_for(1)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    assert [b["payload"]["data"]["id"] for b in bodies] == [first["id"]]
    with running_server_processes(url) as [server]:
        token = _server_token(db, server.url)
        second = _post(
            server.url,
            token,
            "/pcm/products",
            {"type": "product", "attributes": {"name": "B", "sku": "B", "commodity_type": "physical"}},
        )
        bodies = receiver.wait_for(3, timeout=60)
    by_product: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:
        by_product.setdefault(body["payload"]["data"]["id"], []).append(body)
    assert set(by_product) == {first["id"], second["id"]}
    again = by_product[first["id"]]
    assert [b["attempt"] for b in again] == [1, 2] and again[0]["id"] == again[1]["id"]


def _readme_receiver() -> tuple[str, str]:
    """The receiver example of README's "Webhooks" section, and the secret it names."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("# receiver.py")
    code = readme[start : readme.index("```", start)]
    secret = code.split('SECRET = "', 1)[1].split('"', 1)[0]
    return code, secret


def test_the_readme_receiver_verifies_real_deliveries(delivering: Keys, tmp_path: Path) -> None:
    code, secret = _readme_receiver()
    script = tmp_path / "receiver.py"
    script.write_text(code, encoding="utf-8")
    port = free_port()
    process = subprocess.Popen([sys.executable, str(script), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        api = delivering.caller()
        good = hook(api, f"http://127.0.0.1:{port}/", secret=secret, name="right secret")
        bad = hook(
            api, f"http://127.0.0.1:{port}/", secret="whsec_" + base64.b64encode(b"wrong").decode(), name="wrong"
        )
        make_product(api, name="Shirt", sku="S-1")
        [ok] = wait_logs(api, good["id"], 1)
        [refused] = wait_logs(api, bad["id"], 1)
        assert ok["succeeded"] is True and ok["status_code"] == 204
        assert refused["succeeded"] is False and refused["status_code"] == 401
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    event = api.get("/v2/events?filter=eq(triggered_by,product.created)").json()["data"][0]
    assert f"{event['id']} product.created 1" in output


def test_two_servers_and_a_worker_deliver_a_thousand_events_once_each(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (SQLite is one host's, serialised): every event delivered, none to two loops at once."""
    if db.name != "postgresql":
        pytest.skip("several delivering processes on one database: PostgreSQL")
    spans: list[tuple[str, float, float]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            started = time.monotonic()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            time.sleep(0.002)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with lock:
                spans.append((body["id"], started, time.monotonic()))

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ASSORTMENT_WEBHOOK_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("ASSORTMENT_DATABASE_URL", db.settings.database_url)
    worker = subprocess.Popen([assortment_executable(), "worker"], stderr=subprocess.DEVNULL)
    try:
        with running_server_processes(db.settings.database_url, count=2) as servers:
            token = _server_token(db, servers[0].url)
            data = {
                "type": "integration",
                "name": "many",
                "integration_type": "webhook",
                "enabled": True,
                "observes": ["product.created"],
                "configuration": {"url": f"http://127.0.0.1:{server.server_address[1]}/", "secret_key": SECRET},
            }
            _post(servers[0].url, token, "/v2/integrations", data)
            with db.sessions() as session:
                store = auth.default_store(session).id
            with db.sessions() as session:
                begin_write(session)
                principal = Principal(key_id=uuid.uuid4(), store_id=store, grant="client_credentials")
                service = ProductService(session, principal)
                for i in range(1000):
                    attributes = {"name": f"P{i}", "sku": f"P-{i}", "commodity_type": "physical"}
                    service.create(ProductAttributes.model_validate(attributes))
                session.commit()
            deadline = time.monotonic() + 120
            while len(spans) < 1000 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # anything delivered twice would arrive now
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        server.shutdown()
        server.server_close()
    with db.sessions() as session:
        expected = {str(i) for i in session.scalars(select(Event.id).where(Event.triggered_by == "product.created"))}
        statuses = dict(
            session.execute(select(IntegrationJob.status, func.count()).group_by(IntegrationJob.status)).all()
        )
    delivered = [event_id for event_id, _, _ in spans]
    assert len(expected) == 1000
    assert set(delivered) == expected, f"{len(expected - set(delivered))} events lost"
    assert len(delivered) == 1000, "an event was delivered twice"
    assert statuses == {"succeeded": 1000}


def test_metrics_count_attempts_and_pending_jobs(delivering: Keys, receiver: Receiver) -> None:
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    succeeded = sample("assortment_webhook_deliveries_total", outcome="succeeded")
    failed = sample("assortment_webhook_deliveries_total", outcome="failed")
    receiver.statuses = [500] + [503] * 1000
    api = delivering.caller()
    hook(api, receiver.url)
    make_product(api, name="Shirt", sku="S-1")
    receiver.wait_for(2)
    deadline = time.monotonic() + 10
    while sample("assortment_webhook_pending_jobs") < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sample("assortment_webhook_pending_jobs") == 1
    assert sample("assortment_webhook_deliveries_total", outcome="failed") - failed >= 2
    receiver.statuses = []
    receiver.wait_for(len(receiver.received) + 1)
    deadline = time.monotonic() + 10
    while (
        sample("assortment_webhook_deliveries_total", outcome="succeeded") == succeeded and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert sample("assortment_webhook_deliveries_total", outcome="succeeded") - succeeded == 1
    while sample("assortment_webhook_pending_jobs") > 0 and time.monotonic() < deadline + 10:
        time.sleep(0.1)
    assert sample("assortment_webhook_pending_jobs") == 0
