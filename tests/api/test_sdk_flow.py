"""The official Elastic Path JavaScript SDK (`@elasticpath/js-sdk`, pinned in tests/sdk/package.json) drives a
whole flow against a real server, configured with nothing but our host: see tests/sdk/flow.mjs; and its
Integrations calls, with a webhook delivered to a receiver on loopback: tests/sdk/integrations.mjs.

Needs `node` and `npm`; without them the test is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Database, Keys
from tests.servers import running_servers

pytestmark = pytest.mark.multiprocess

SDK_DIR = Path(__file__).resolve().parents[1] / "sdk"
SDK_PACKAGE = "@elasticpath/js-sdk"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "node and npm are needed to run the JavaScript SDK flow"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return node, npm


def _pinned_version() -> str:
    package = json.loads((SDK_DIR / "package.json").read_text())
    version: str = package["dependencies"][SDK_PACKAGE]
    return version


def _install(npm: str) -> None:
    if (SDK_DIR / "node_modules" / SDK_PACKAGE / "package.json").exists():
        return
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=SDK_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"


def _summary(stdout: str) -> dict[str, Any]:
    # The SDK logs "Token status: …" lines with console.info; the summary is the last line.
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "flow.mjs printed nothing"
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def test_the_javascript_sdk_drives_a_whole_flow(db: Database, keys: Keys) -> None:
    node, npm = _tools()
    _install(npm)
    key = keys.key()
    with running_servers(db.settings.database_url, count=1) as (url,):
        env = {
            **os.environ,
            "ASSORTMENT_URL": url,
            "ASSORTMENT_CLIENT_ID": key.client_id,
            "ASSORTMENT_CLIENT_SECRET": key.client_secret,
        }
        result = subprocess.run(
            [node, str(SDK_DIR / "flow.mjs")],
            cwd=SDK_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, f"flow.mjs failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    summary = _summary(result.stdout)

    assert summary["ok"] is True
    assert summary["sdk_version"] == _pinned_version()
    for step in (
        "authenticate",
        "node children (relationships/children)",
        "attach products to Summer (relationships/products)",
        "curate Summer",
        "create custom relationship",
        "associate the scarf with the shirt",
        "create catalog",
        "publish (POST releases, no body)",
        "node products of the latest release",
        "related products in the latest release (EP.request.send)",
        "shopper catalog: related products",
    ):
        assert step in summary["steps"], step
    # Curated products first and marked, then the rest; every entry has its bread crumbs.
    products = summary["node_products"]
    assert [p["sku"].split("-")[1] for p in products] == ["HAT", "SHIRT", "SHORTS"]
    assert [p["curated"] for p in products] == [True, True, False]
    assert all(len(p["bread_crumbs"]) == 2 for p in products)
    # One token for the whole flow (the SDK trusts `expires`), and no request failed.
    assert summary["token_requests"] == 1
    assert not [entry for entry in summary["requests"] if int(entry.rsplit(" ", 1)[1]) >= 400]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook receiver on loopback answering 200: (its URL, the bodies it got)."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0")))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        server.shutdown()
        server.server_close()


def test_the_javascript_sdk_manages_integrations_and_reads_their_jobs_and_logs(
    db: Database, keys: Keys, receiver: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    node, npm = _tools()
    _install(npm)
    url, received = receiver
    key = keys.key()
    monkeypatch.setenv("ASSORTMENT_WEBHOOK_ALLOW_PRIVATE_URLS", "true")  # the receiver is on loopback
    with running_servers(db.settings.database_url, count=1) as (server,):
        env = {
            **os.environ,
            "ASSORTMENT_URL": server,
            "ASSORTMENT_CLIENT_ID": key.client_id,
            "ASSORTMENT_CLIENT_SECRET": key.client_secret,
            "ASSORTMENT_RECEIVER_URL": url,
        }
        result = subprocess.run(
            [node, str(SDK_DIR / "integrations.mjs")],
            cwd=SDK_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert result.returncode == 0, f"integrations.mjs failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    summary = _summary(result.stdout)

    assert summary["ok"] is True
    assert summary["sdk_version"] == _pinned_version()
    assert summary["steps"] == [
        "authenticate",
        "create integration",
        "list integrations",
        "get integration",
        "update integration (only the fields sent change)",
        "create a product (the integration observes product.created)",
        "integration jobs (GetJobs)",
        "integration logs (GetLogs)",
        "logs of a job (GetAllLogsForJob)",
        "all the caller's logs (GetAllLogs)",
        "delete integration",
    ]
    # The SDK called the paths it documents, under /v2.
    paths = {entry.split(" ")[1].split("?")[0] for entry in summary["requests"]}
    integration = summary["integration_id"]
    job = summary["job"]
    assert {
        "/v2/integrations",
        f"/v2/integrations/{integration}",
        f"/v2/integrations/{integration}/jobs",
        f"/v2/integrations/{integration}/logs",
        f"/v2/integrations/{integration}/jobs/{job['id']}/logs",
        "/v2/integrations/logs",
    } <= paths
    # What the receiver got is the job's event: the product, created.
    assert [(body["id"], body["triggered_by"]) for body in received] == [(job["event_id"], "product.created")]
    assert received[0]["payload"]["data"]["id"] == summary["product_id"]
    assert received[0]["integration"]["id"] == integration
