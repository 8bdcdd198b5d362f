"""The official Elastic Path JavaScript SDK (`@elasticpath/js-sdk`, pinned in tests/sdk/package.json) drives a
whole flow against a real server, configured with nothing but our host: see tests/sdk/flow.mjs.

Needs `node` and `npm`; without them the test is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
