"""Envelopes, errors and headers every endpoint shares (SPEC §0, §6)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from fastapi.testclient import TestClient

from assortment.app import create_app
from assortment.config import Settings
from tests.conftest import Caller, Database
from tests.helpers import errors_of, product_body


def test_unknown_route_is_404_with_the_error_body(api: Caller) -> None:
    response = api.get("/pcm/no-such-thing")
    assert response.status_code == 404
    [error] = errors_of(response)
    assert error["title"] == "Not Found"
    assert error["request_id"] == response.headers["x-request-id"]


def test_wrong_method_is_405_with_the_error_body(api: Caller) -> None:
    response = api.request("PATCH", "/pcm/products")
    assert response.status_code == 405
    [error] = errors_of(response)
    assert error["title"] == "Method Not Allowed"


def test_malformed_json_is_400_and_writes_nothing(api: Caller) -> None:
    response = api.post("/pcm/products", content=b'{"data": {', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["title"] == "Bad Request"
    assert api.get("/pcm/products").json()["meta"]["results"]["total"] == 0


def test_missing_body_is_422(api: Caller) -> None:
    response = api.post("/pcm/products", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    errors_of(response)


def test_validation_errors_name_the_field(api: Caller) -> None:
    response = api.post("/pcm/products", json={"data": {"type": "product", "attributes": {"name": 1}}})
    assert response.status_code == 422
    details = [e["detail"] for e in errors_of(response)]
    assert any(d.startswith("data.attributes.name:") for d in details)
    assert any(d.startswith("data.attributes.commodity_type:") for d in details) or len(details) == 1


def test_oversized_bodies_are_413(db: Database) -> None:
    settings = Settings(database_url=db.settings.database_url, max_body_bytes=2048)
    with TestClient(create_app(settings)) as small:
        big = b'{"data": "' + b"x" * 4096 + b'"}'
        response = small.post("/pcm/products", content=big, headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        errors_of(response)

        def chunks() -> Iterator[bytes]:
            yield b'{"data": "'
            for _ in range(8):
                yield b"x" * 1024
            yield b'"}'

        # No Content-Length: the limit is enforced while the body streams in.
        streamed = small.post("/pcm/products", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        errors_of(streamed)


def test_request_id_is_echoed_or_minted(api: Caller) -> None:
    minted = api.get("/pcm/products")
    uuid.UUID(minted.headers["x-request-id"])
    echoed = api.get("/pcm/products", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    hostile = api.get("/pcm/products", headers={"X-Request-ID": "a b\tc"})
    assert hostile.headers["x-request-id"] != "a b\tc"


def test_unexpected_failures_are_500_with_a_request_id(db: Database) -> None:
    app = create_app(db.settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom")
    assert response.status_code == 500
    [error] = errors_of(response)
    assert error["title"] == "Internal Server Error"
    assert error["request_id"] == response.headers["x-request-id"]
    assert "kaboom" not in response.text


def test_database_down_is_503_not_500(db: Database, api: Caller) -> None:
    if db.name == "sqlite":
        bad_url = "sqlite:////nonexistent-dir/for/sure/x.db"
    else:
        bad_url = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    app = create_app(Settings(database_url=bad_url))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/healthz")
        assert response.status_code == 503
        errors_of(response)
        # Token checks need the signing key, so an authenticated call fails cleanly too.
        listed = test_client.get("/pcm/products", headers=api.headers)
        assert listed.status_code == 503


def test_openapi_document_and_docs_page(db: Database, client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/oauth/access_token", "/pcm/products", "/pcm/products/{product_id}", "/healthz"):
        assert path in paths
    assert set(paths["/pcm/products/{product_id}"]) == {"get", "put", "delete"}
    assert "422" in paths["/pcm/products"]["post"]["responses"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    assert "/openapi.json" in docs.text


def test_single_and_list_envelopes(api: Caller) -> None:
    created = api.post("/pcm/products", json=product_body()).json()
    assert set(created) == {"data"}
    listed = api.get("/pcm/products").json()
    assert set(listed) == {"data", "links", "meta"}


def test_nul_characters_are_refused_not_500(api: Caller) -> None:
    """PostgreSQL cannot store NUL; every way in answers 4xx with the error body."""
    for body in (
        product_body(name="bad\x00name"),
        product_body(tags=["a\x00b"]),
        product_body(locales={"fr-FR": {"name": "x\x00"}}),
    ):
        response = api.post("/pcm/products", json=body)
        assert response.status_code == 422
        errors_of(response)
    for url in (
        "/pcm/products?filter=eq(sku,a%00b)",
        "/pcm/products/abc%00def",
        "/pcm/custom-relationships/x%00y",
    ):
        response = api.get(url)
        assert response.status_code == 400, url
        errors_of(response)
    token = api.client.post("/oauth/access_token", data={"grant_type": "implicit", "client_id": "a\x00b"})
    assert token.status_code == 400
    assert api.get("/pcm/products").json()["meta"]["results"]["total"] == 0
