from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Database


def test_healthz_answers_without_a_token(db: Database, client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]
