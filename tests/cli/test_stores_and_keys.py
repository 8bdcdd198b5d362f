"""`assortment stores create` and `assortment keys create`: the operational contract of DESIGN.md."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from assortment.db.models import ApiKey, Store
from assortment.domain import auth
from tests.cli.conftest import Cli


def token_for(client: TestClient, key: dict[str, str]) -> str:
    response = client.post(
        "/oauth/access_token",
        data={
            "grant_type": "client_credentials",
            "client_id": key["client_id"],
            "client_secret": key["client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    assert token
    return token


def test_stores_create_prints_the_new_store_as_json(cli: Cli) -> None:
    result = cli.run("stores", "create", "--name", "  Outlet  ", "--json")

    assert result.code == 0, result.stderr
    document = result.json()
    assert set(document) == {"id", "name"}
    assert document["name"] == "Outlet"
    with cli.db.sessions() as session:
        store = session.get(Store, uuid.UUID(document["id"]))
        assert store is not None
        assert (store.name, store.is_default) == ("Outlet", False)


def test_stores_create_refuses_an_empty_name(cli: Cli) -> None:
    result = cli.run("stores", "create", "--name", "  ", "--json")

    assert result.code == 1
    assert result.stdout == ""
    assert "name can not be empty" in result.stderr


def test_keys_create_belongs_to_the_default_store_by_default(cli: Cli, client: TestClient) -> None:
    result = cli.run("keys", "create", "--name", "ci", "--json")

    assert result.code == 0, result.stderr
    key = result.json()
    assert set(key) == {"client_id", "client_secret", "owner", "store_id"}
    with cli.db.sessions() as session:
        default_store = auth.default_store(session).id
        row = session.scalars(select(ApiKey).where(ApiKey.client_id == key["client_id"])).one()
        assert row.store_id == default_store
        assert key["client_secret"] not in row.secret_hash  # only a digest is kept
    assert key["owner"] == "store"
    assert key["store_id"] == str(default_store)
    token_for(client, key)


def test_keys_create_for_the_organization(cli: Cli, client: TestClient) -> None:
    result = cli.run("keys", "create", "--name", "org", "--organization", "--json")

    assert result.code == 0, result.stderr
    key = result.json()
    assert key["owner"] == "organization"
    assert key["store_id"] is None
    token_for(client, key)


def test_keys_create_for_another_store_and_its_token_sees_that_store(cli: Cli, client: TestClient) -> None:
    store_id = cli.run("stores", "create", "--name", "Second", "--json").json()["id"]

    result = cli.run("keys", "create", "--name", "second", "--store", store_id, "--json")

    assert result.code == 0, result.stderr
    key = result.json()
    assert (key["owner"], key["store_id"]) == ("store", store_id)
    token = token_for(client, key)
    created = client.post(
        "/pcm/products",
        json={"data": {"type": "product", "attributes": {"name": "P", "commodity_type": "physical"}}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["meta"]["owner"] == "store"


def test_a_printed_key_with_a_wrong_secret_gets_no_token(cli: Cli, client: TestClient) -> None:
    key = cli.run("keys", "create", "--name", "ci", "--json").json()

    response = client.post(
        "/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": key["client_id"], "client_secret": "wrong"},
    )

    assert response.status_code == 401


def test_keys_create_refuses_a_store_and_the_organization_together(cli: Cli) -> None:
    store_id = cli.run("stores", "create", "--name", "Second", "--json").json()["id"]

    both = cli.run("keys", "create", "--name", "x", "--store", store_id, "--organization", "--json")
    unknown = cli.run("keys", "create", "--name", "x", "--store", str(uuid.uuid4()), "--json")
    malformed = cli.run("keys", "create", "--name", "x", "--store", "not-a-uuid", "--json")

    assert (both.code, unknown.code, malformed.code) == (1, 1, 1)
    assert both.stdout == unknown.stdout == malformed.stdout == ""
    assert "does not exist" in unknown.stderr
    with cli.db.sessions() as session:
        assert session.scalars(select(ApiKey)).all() == []
