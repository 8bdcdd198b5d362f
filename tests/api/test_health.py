from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Database


def test_healthz_answers_without_a_token(db: Database, client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_the_api_reference_is_served_without_internet_access(client: TestClient) -> None:
    """/docs names only the server's own copy of Swagger UI, and that copy is served (no CDN)."""
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by this server"
        assert client.get(asset).status_code == 200, asset
    assert "cdn" not in page.text.lower()
    assert client.get("/docs/oauth2-redirect").status_code == 200
