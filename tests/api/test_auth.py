"""Tokens and tenancy (SPEC §6)."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from assortment.db.engine import SQLITE_IMMEDIATE
from assortment.db.models import ApiKey
from assortment.domain import auth
from tests.conftest import Database, Keys
from tests.helpers import errors_of, product_body


def test_client_credentials_token_has_the_documented_fields(keys: Keys, client: TestClient) -> None:
    key = keys.key()
    before = int(time.time())
    response = client.post(
        "/oauth/access_token",
        data={
            "grant_type": "client_credentials",
            "client_id": key.client_id,
            "client_secret": key.client_secret,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires", "expires_in", "identifier"}
    assert body["token_type"] == "Bearer"
    assert body["identifier"] == "client_credentials"
    assert body["expires_in"] == 3600
    # `expires` is an absolute epoch time, not a duration.
    assert before + 3600 <= body["expires"] <= int(time.time()) + 3600


def test_implicit_token_needs_only_the_client_id(keys: Keys, client: TestClient) -> None:
    key = keys.key()
    response = client.post("/oauth/access_token", data={"grant_type": "implicit", "client_id": key.client_id})
    assert response.status_code == 200
    assert response.json()["identifier"] == "implicit"


def test_many_tokens_of_one_key_are_valid_at_once(keys: Keys, client: TestClient) -> None:
    key = keys.key()
    tokens = [keys.token(key) for _ in range(3)]
    assert len(set(tokens)) == 3
    for token in tokens:
        assert client.get("/pcm/products", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"grant_type": "client_credentials", "client_id": "nope", "client_secret": "nope"}, 401),
        ({"grant_type": "implicit", "client_id": "nope"}, 401),
        ({"grant_type": "password", "client_id": "x", "client_secret": "y"}, 422),
        ({"client_id": "x", "client_secret": "y"}, 422),
        ({"grant_type": "client_credentials"}, 422),
    ],
)
def test_bad_token_requests(db: Database, client: TestClient, form: dict[str, str], status: int) -> None:
    response = client.post("/oauth/access_token", data=form)
    assert response.status_code == status
    errors_of(response)


def test_wrong_secret_is_refused(keys: Keys, client: TestClient) -> None:
    key = keys.key()
    response = client.post(
        "/oauth/access_token",
        data={
            "grant_type": "client_credentials",
            "client_id": key.client_id,
            "client_secret": "x" + key.client_secret,
        },
    )
    assert response.status_code == 401


def test_secrets_are_stored_hashed(keys: Keys, db: Database) -> None:
    key = keys.key()
    with db.sessions() as session:
        row = session.query(ApiKey).filter_by(client_id=key.client_id).one()
    assert key.client_secret not in row.secret_hash
    assert row.secret_hash == auth.hash_secret(key.client_secret)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Basic abc", "Bearer not-a-jwt", "Token token=abc"],
)
def test_missing_or_malformed_tokens_get_401(db: Database, client: TestClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/pcm/products", headers=headers)
    assert response.status_code == 401
    [error] = errors_of(response)
    assert error["detail"] == "Unable to validate access token"
    assert response.headers["www-authenticate"] == "Bearer"


def test_tampered_token_gets_401(keys: Keys, client: TestClient) -> None:
    token = keys.token(keys.key())
    header, payload, signature = token.split(".")
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "sto": None},
        "guessed-signing-key-of-a-decent-length-0123456789",
        algorithm="HS256",
    )
    for bad in (
        f"{header}.{payload}.{signature[:-2]}xx",
        forged,
        f"{forged.split('.')[0]}.{payload}.{signature}x",
    ):
        assert client.get("/pcm/products", headers={"Authorization": f"Bearer {bad}"}).status_code == 401


def test_expired_token_gets_401(keys: Keys, client: TestClient, db: Database) -> None:
    key = keys.key()
    with db.sessions() as session:
        api_key = session.query(ApiKey).filter_by(client_id=key.client_id).one()
        signing_key = auth.load_signing_key(session, None)
    expired = auth.issue_token(api_key, "client_credentials", signing_key, ttl_seconds=-10)
    response = client.get("/pcm/products", headers={"Authorization": f"Bearer {expired.access_token}"})
    assert response.status_code == 401


def test_tokens_signed_by_one_process_are_accepted_by_another(keys: Keys, db: Database) -> None:
    """The signing key lives in the database, so a second app on the same database accepts tokens."""
    from assortment.app import create_app

    token = keys.token(keys.key())
    with TestClient(create_app(db.settings)) as other:
        assert other.get("/pcm/products", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_implicit_tokens_are_refused_on_admin_endpoints(keys: Keys) -> None:
    shopper = keys.caller(grant="implicit")
    assert shopper.get("/pcm/products").status_code == 403
    response = shopper.post("/pcm/products", json=product_body())
    assert response.status_code == 403
    errors_of(response)


def test_a_store_never_sees_another_stores_products(keys: Keys) -> None:
    mine = keys.caller()
    theirs = keys.caller(store_id=keys.store("Other"))
    created = mine.post("/pcm/products", json=product_body(sku="MINE-1")).json()["data"]
    assert theirs.get(f"/pcm/products/{created['id']}").status_code == 404
    assert (
        theirs.put(
            f"/pcm/products/{created['id']}",
            json={"data": {"type": "product", "id": created["id"], "attributes": {"name": "x"}}},
        ).status_code
        == 404
    )
    assert theirs.delete(f"/pcm/products/{created['id']}").status_code == 404
    assert theirs.get("/pcm/products").json()["meta"]["results"]["total"] == 0
    # Uniqueness is per store: the other store may use the same sku.
    assert theirs.post("/pcm/products", json=product_body(sku="MINE-1")).status_code == 201


def test_store_reads_organization_products_but_cannot_change_them(keys: Keys) -> None:
    org = keys.caller(organization=True)
    store = keys.caller()
    created = org.post("/pcm/products", json=product_body(sku="ORG-1")).json()["data"]
    assert created["meta"]["owner"] == "organization"

    seen = store.get(f"/pcm/products/{created['id']}")
    assert seen.status_code == 200
    assert seen.json()["data"]["meta"]["owner"] == "organization"
    assert store.get("/pcm/products?filter=eq(sku,ORG-1)").json()["meta"]["results"]["total"] == 1

    update = store.put(
        f"/pcm/products/{created['id']}",
        json={"data": {"type": "product", "id": created["id"], "attributes": {"name": "Renamed"}}},
    )
    assert update.status_code == 403
    [error] = errors_of(update)
    assert error["detail"] == "entity owned by organization"
    delete = store.delete(f"/pcm/products/{created['id']}")
    assert delete.status_code == 403
    assert org.get(f"/pcm/products/{created['id']}").json()["data"]["attributes"]["name"] == "A product"


def test_organization_does_not_see_store_products(keys: Keys) -> None:
    org = keys.caller(organization=True)
    store = keys.caller()
    created = store.post("/pcm/products", json=product_body()).json()["data"]
    assert created["meta"]["owner"] == "store"
    assert org.get(f"/pcm/products/{created['id']}").status_code == 404


def test_a_refused_write_never_waits_for_the_write_lock(keys: Keys, db: Database) -> None:
    """An implicit token on an admin write is refused before the request opens its write transaction: on
    SQLite, with another writer holding the database, it still gets its 403 at once (not a 503 after the
    busy timeout), and a storefront token can never take the write lock."""
    shopper = keys.caller(grant="implicit")
    admin = keys.caller()
    with db.engine.connect() as holder:
        holder = holder.execution_options(**{SQLITE_IMMEDIATE: True})  # BEGIN IMMEDIATE on SQLite
        holder.begin()
        holder.exec_driver_sql("SELECT 1")
        started = time.monotonic()
        response = shopper.post("/pcm/products", json=product_body())
        waited = time.monotonic() - started
        holder.rollback()
    assert response.status_code == 403, response.text
    [error] = errors_of(response)
    assert error["title"] == "Forbidden"
    assert waited < 2.0, f"the refusal waited {waited:.1f} s for the write lock"
    # And the same write with an admin token goes through once the lock is free.
    assert admin.post("/pcm/products", json=product_body()).status_code == 201
