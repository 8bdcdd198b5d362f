"""What operators see (SPEC §12.1, §12.2): `/metrics` in Prometheus text, summed over the workers of
`assortment serve --workers 2`, with route templates as labels and an optional token; one log line per
request, as JSON with ASSORTMENT_LOG_FORMAT=json, never carrying a token, a secret or a password."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from assortment.app import create_app
from assortment.config import Settings
from assortment.domain import auth, users
from tests.catalogs import catalog_body, make_catalog, make_hierarchy, make_node, make_product, publish
from tests.conftest import Caller, Database
from tests.servers import running_server_processes
from tests.trees import hierarchy_body

REQUIRED = {
    "assortment_http_requests",
    "assortment_http_request_duration_seconds",
    "assortment_release_cache_hits",
    "assortment_release_cache_misses",
    "assortment_publish_duration_seconds",
    "assortment_webhook_deliveries",
    "assortment_webhook_pending_jobs",
    "assortment_db_pool_connections_in_use",
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value}, read with prometheus-client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def requests_total(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], route: str, status: str) -> float:
    return found.get(("assortment_http_requests_total", (("method", "GET"), ("route", route), ("status", status))), 0.0)


def test_metrics_name_route_templates_and_count_cache_hits_and_publishes(
    db: Database, client: TestClient, api: Caller
) -> None:
    before = samples(client.get("/metrics").text)
    product = make_product(api, name="Counted", status="live")
    for _ in range(3):
        assert api.get(f"/pcm/products/{product['id']}").status_code == 200
    assert client.get(f"/no/such/path/{uuid.uuid4()}").status_code == 404
    hierarchy = make_hierarchy(api)
    make_node(api, hierarchy["id"], "Top")
    catalog = make_catalog(api, [hierarchy["id"]])
    publish(api, catalog["id"])
    view = f"/pcm/catalogs/{catalog['id']}/releases/latest/hierarchies"
    assert api.get(view).status_code == 200  # rendered: a miss
    assert api.get(view).status_code == 200  # from the read cache: a hit
    page = client.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = samples(page.text)
    assert families(page.text) >= REQUIRED
    assert (
        requests_total(after, "/pcm/products/{product_id}", "200")
        - requests_total(before, "/pcm/products/{product_id}", "200")
        == 3
    )
    assert requests_total(after, "unmatched", "404") - requests_total(before, "unmatched", "404") == 1
    assert not any(product["id"] in dict(labels).get("route", "") for _, labels in after)  # no raw paths

    def delta(name: str) -> float:
        return after.get((name, ()), 0.0) - before.get((name, ()), 0.0)

    # Exact hits and misses are checked against a real server below (the in-process client runs each
    # request on a thread of its own, where the read cache may have to ask the app).
    assert delta("assortment_release_cache_misses_total") + delta("assortment_release_cache_hits_total") == 2
    assert delta("assortment_release_cache_misses_total") >= 1
    assert delta("assortment_publish_duration_seconds_count") == 1
    route = "/pcm/catalogs/{catalog_id}/releases/{release_id}/hierarchies"
    assert requests_total(after, route, "200") - requests_total(before, route, "200") == 2
    duration = ("assortment_http_request_duration_seconds_count", (("method", "GET"), ("route", route)))
    assert after[duration] - before.get(duration, 0.0) == 2


def test_a_metrics_token_protects_the_exposition(database: Database) -> None:
    settings = Settings(database_url=database.settings.database_url, metrics_token="scrape-me-please")
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            assert client.get("/metrics").status_code == 401
            assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
            refused = client.get("/metrics", headers={"Authorization": "Bearer wrong"}).json()
            assert refused["errors"][0]["status"] == "401"
            allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
            assert allowed.status_code == 200
            assert "assortment_http_requests_total" in allowed.text
    finally:
        app.state.engine.dispose()


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSORTMENT_LOG_FORMAT", "json")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


@pytest.mark.multiprocess
@pytest.mark.usefixtures("json_logs")
def test_two_workers_sum_their_metrics_and_log_every_request_as_json_without_secrets(db: Database) -> None:
    with db.sessions.begin() as session:
        key = auth.create_key(session, "ops")
        users.create_user(session, "ops@example.com", "viewer", "a password nobody may log")
    with running_server_processes(db.settings.database_url, count=1, workers=2) as (server,):
        form = {"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret}
        token = httpx.post(f"{server.url}/oauth/access_token", data=form).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        reads = 120

        def read(_: int) -> int:  # a new connection each time, eight at once: both workers answer some
            return httpx.get(f"{server.url}/pcm/products", headers=headers).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(read, range(reads))) == {200}
        with httpx.Client(base_url=server.url) as browser:
            page = browser.get("/admin/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            signed = browser.post(
                "/admin/login",
                data={"email": "ops@example.com", "password": "a password nobody may log", "csrf_token": csrf[1]},
            )
            assert signed.status_code == 303
        with httpx.Client(base_url=server.url, headers=headers) as one_worker:  # one connection, one worker
            hierarchy = one_worker.post("/pcm/hierarchies", json=hierarchy_body(name="Ops")).json()["data"]["id"]
            catalog = one_worker.post("/pcm/catalogs", json=catalog_body("Ops", [hierarchy])).json()["data"]["id"]
            assert one_worker.post(f"/pcm/catalogs/{catalog}/releases").status_code == 201
            view = f"/pcm/catalogs/{catalog}/releases/latest/hierarchies"
            assert one_worker.get(view).status_code == 200  # rendered
            assert one_worker.get(view).status_code == 200  # from that worker's read cache
        deadline = time.monotonic() + 5  # each worker hands its figures over every 0.2 s

        def handed_over(found: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> bool:
            # every figure asserted below, not only the first: the worker that served the last requests
            # may hand its figures over a turn after the other
            return requests_total(found, "/pcm/products", "200") >= reads and all(
                found.get((name, ()), 0) >= 1
                for name in (
                    "assortment_release_cache_misses_total",
                    "assortment_release_cache_hits_total",
                    "assortment_publish_duration_seconds_count",
                )
            )

        while not handed_over(samples(httpx.get(f"{server.url}/metrics").text)):
            assert time.monotonic() < deadline, "the workers' figures never added up"
            time.sleep(0.1)
        for _ in range(10):
            scraped = httpx.get(f"{server.url}/metrics")
            found = samples(scraped.text)
            assert requests_total(found, "/pcm/products", "200") == reads  # the sum over both workers
            assert found[("assortment_release_cache_misses_total", ())] == 1
            assert found[("assortment_release_cache_hits_total", ())] == 1
            assert found[("assortment_publish_duration_seconds_count", ())] == 1
        server.process.terminate()
        server.process.wait(timeout=20)
        log = server.output()
    lines = [line for line in log.splitlines() if line.strip()]
    documents = []
    for line in lines:
        if line.startswith("{"):
            documents.append(json.loads(line))
    assert documents, log[:2000]
    for document in documents:
        assert {"ts", "level", "msg"} <= set(document)
    requests = [d for d in documents if d.get("route") == "/pcm/products"]
    assert len(requests) == reads
    for entry in requests:
        assert entry["method"] == "GET" and entry["status"] == 200 and entry["path"] == "/pcm/products"
        assert entry["duration_ms"] >= 0 and entry["request_id"]
        assert entry["store_id"] == str(key.store_id)
    assert len({entry["pid"] for entry in requests}) == 2  # both workers answered, and were summed above
    assert any(d.get("route") == "/admin/login" and d.get("status") == 303 for d in documents)
    for secret in (token, key.client_secret, "a password nobody may log"):
        assert secret not in log


def test_serve_refuses_a_log_format_it_does_not_know(database: Database) -> None:
    done = subprocess.run(
        [str(_assortment()), "serve", "--port", "1"],
        env={"ASSORTMENT_DATABASE_URL": database.settings.database_url, "ASSORTMENT_LOG_FORMAT": "xml", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "error: invalid setting ASSORTMENT_LOG_FORMAT" in done.stderr
    assert "Traceback" not in done.stderr


def _assortment() -> str:
    from tests.servers import assortment_executable

    return assortment_executable()


def test_the_served_app_keeps_start_up_out_of_the_collector(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """`assortment serve`'s app factory freezes what start-up built, so a full collection scans only what
    requests made (a collection of the whole started app paused every request in flight for ≈ 290 ms)."""
    import gc

    from assortment.app import factory

    monkeypatch.setenv("ASSORTMENT_DATABASE_URL", db.settings.database_url)
    gc.unfreeze()
    try:
        app = factory()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, frozen  # the modules, routes and models of the app, not a handful
        # the app's own objects are among them: the collector no longer sees who refers to its router
        assert gc.get_referrers(app.router) == []
    finally:
        gc.unfreeze()
