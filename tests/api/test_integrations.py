"""The Integrations API (SPEC §11.1): shape, validation, the SSRF guard, ownership, jobs, logs, redelivery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assortment.app import create_app
from assortment.domain import webhooks
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of
from tests.trees import make_product

PUBLIC_URL = "https://93.184.215.14/hook"


def body(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "integration",
        "name": "Search index",
        "integration_type": "webhook",
        "observes": ["product.created", "catalog-release.created"],
        "configuration": {"url": PUBLIC_URL, "secret_key": "s3cret"},
    }
    data.update(fields)
    return {"data": data}


def create(api: Caller, prefix: str = "/v2/integrations", **fields: Any) -> dict[str, Any]:
    response = api.post(prefix, json=body(**fields))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def detail(response: Any, status: int = 422) -> str:
    assert response.status_code == status, response.text
    text: str = errors_of(response)[0].get("detail", "")
    return text


def test_create_get_list_update_delete(api: Caller) -> None:
    made = create(api, description="reindex on change")
    assert made["type"] == "integration"
    assert made["name"] == "Search index" and made["description"] == "reindex on change"
    assert made["enabled"] is False and made["integration_type"] == "webhook"
    assert made["observes"] == ["product.created", "catalog-release.created"]
    assert made["configuration"] == {"url": PUBLIC_URL, "secret_key": "s3cret"}
    assert made["links"]["self"] == f"/v2/integrations/{made['id']}"
    assert set(made["meta"]["timestamps"]) == {"created_at", "updated_at"}
    assert "attributes" not in made
    iid = made["id"]
    for prefix in ("/v2/integrations", "/integrations"):
        assert api.get(f"{prefix}/{iid}").json()["data"] == made
        listed = api.get(prefix).json()
        assert [i["id"] for i in listed["data"]] == [iid] and listed["meta"]["results"]["total"] == 1
    changed = api.put(f"/integrations/{iid}", json={"data": {"type": "integration", "enabled": True}})
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["enabled"] is True and data["name"] == "Search index" and data["observes"] == made["observes"]
    moved = api.put(f"/v2/integrations/{iid}", json={"data": {"configuration": {"url": "http://93.184.215.15/x"}}})
    assert moved.json()["data"]["configuration"] == {"url": "http://93.184.215.15/x", "secret_key": "s3cret"}
    assert api.delete(f"/v2/integrations/{iid}").status_code == 204
    assert api.get(f"/v2/integrations/{iid}").status_code == 404
    assert api.delete(f"/v2/integrations/{iid}").status_code == 404
    keys = [
        e["attributes"]["triggered_by"] for e in api.get("/v2/events?filter=eq(entity_type,integration)").json()["data"]
    ]
    assert keys == ["integration.created", "integration.updated", "integration.updated", "integration.deleted"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"observes": ["product.created", "order.paid"]}, "order.paid"),
        ({"observes": []}, "observes"),
        ({"observes": [f"product.{a}" for a in ("created", "updated", "deleted")] * 7}, "observes"),
        ({"integration_type": "aws_sqs"}, "integration type 'aws_sqs' is not supported"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"configuration": {"url": "ftp://93.184.215.14/x"}}, "http or https"),
        ({"configuration": {"url": "http:///nohost"}}, "http or https"),
        ({"configuration": {"url": "https://93.184.215.14:99999/x"}}, "http or https"),
        ({"configuration": {"url": "https://93.184.215.14/" + "x" * 2048}}, "2048"),
        ({"configuration": {}}, "configuration.url"),
        ({"configuration": {"url": PUBLIC_URL, "secret_key": "k" * 256}}, "secret_key"),
        ({"enabled": "yes"}, ""),
        ({"observes": "product.created"}, ""),
    ],
)
def test_invalid_bodies_are_422(api: Caller, fields: dict[str, Any], expected: str) -> None:
    assert expected in detail(api.post("/v2/integrations", json=body(**fields)))
    assert api.get("/v2/integrations").json()["data"] == []


def test_required_fields(api: Caller) -> None:
    for missing in ("name", "integration_type", "observes", "configuration"):
        data = body()["data"]
        del data[missing]
        assert "Field required" in detail(api.post("/v2/integrations", json={"data": data}))
    bad = api.post("/v2/integrations", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    made = create(api)
    assert "can not be null" in detail(api.put(f"/v2/integrations/{made['id']}", json={"data": {"observes": None}}))
    assert "order.paid" in detail(
        api.put(f"/v2/integrations/{made['id']}", json={"data": {"observes": ["order.paid"]}})
    )


REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://192.168.1.1/hook",
    "http://172.16.0.1/hook",
    "http://[fd00::1]/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook",
]
NEVER = {
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
    "http://0.0.0.0/hook",
}


@pytest.mark.parametrize("url", REFUSED)
def test_the_ssrf_guard_refuses_internal_targets(api: Caller, url: str) -> None:
    assert "may not call" in detail(api.post("/v2/integrations", json=body(configuration={"url": url})))
    made = create(api)
    refused = api.put(f"/v2/integrations/{made['id']}", json={"data": {"configuration": {"url": url}}})
    assert "may not call" in detail(refused)


@pytest.fixture
def private_api(db: Database) -> Iterator[Caller]:
    settings = db.settings.model_copy(update={"webhook_allow_private_urls": True})
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            yield Keys(db, client).caller()
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize("url", REFUSED)
def test_allowing_private_urls_never_allows_link_local(private_api: Caller, url: str) -> None:
    response = private_api.post("/v2/integrations", json=body(configuration={"url": url}))
    if url in NEVER:
        assert "may not call" in detail(response)
    else:
        assert response.status_code == 201, response.text


def test_owners_see_their_own_and_stores_read_the_organizations(keys: Keys, api: Caller) -> None:
    other = keys.caller(store_id=keys.store("B"))
    organization = keys.caller(organization=True)
    mine = create(api, name="mine")["id"]
    theirs = create(other, name="theirs")["id"]
    org = create(organization, name="org")["id"]
    assert {i["id"] for i in api.get("/v2/integrations").json()["data"]} == {mine, org}
    assert {i["id"] for i in other.get("/v2/integrations").json()["data"]} == {theirs, org}
    assert {i["id"] for i in organization.get("/v2/integrations").json()["data"]} == {org}
    assert api.get(f"/v2/integrations/{theirs}").status_code == 404
    assert api.put(f"/v2/integrations/{theirs}", json={"data": {"enabled": True}}).status_code == 404
    assert api.get(f"/v2/integrations/{org}").status_code == 200
    assert detail(api.put(f"/v2/integrations/{org}", json={"data": {"enabled": True}}), 403) == (
        "entity owned by organization"
    )
    assert api.delete(f"/v2/integrations/{org}").status_code == 403
    assert keys.caller(grant="implicit").get("/v2/integrations").status_code == 403


def test_jobs_logs_and_redelivery(db: Database, api: Caller) -> None:
    hook = create(api, enabled=True)
    idle = create(api, name="disabled", enabled=False)
    product = make_product(api, name="P", sku="P-1")["id"]
    jobs = api.get(f"/v2/integrations/{hook['id']}/jobs").json()
    [job] = jobs["data"]
    event = api.get("/v2/events?filter=eq(triggered_by,product.created)").json()["data"][0]
    assert job["type"] == "integration-job" and job["status"] == "pending" and job["attempts"] == 0
    assert job["triggered_by"] == "product.created" and job["event_id"] == event["id"]
    assert event["attributes"]["entity_id"] == product
    assert api.get(f"/v2/integrations/{idle['id']}/jobs").json()["data"] == []  # disabled at the change
    # One attempt, through the delivery code's claim and finish (nothing sent: the outcome is given).
    claimed = webhooks.claim_due(db.sessions)
    assert [c.attempt for c in claimed] == [1]
    webhooks.finish(
        db.sessions, db.settings, [(claimed[0], webhooks.Outcome(False, 500, "down", "the receiver answered 500"))]
    )
    [log] = api.get(f"/v2/integrations/{hook['id']}/logs").json()["data"]
    assert log["type"] == "integration-log" and log["succeeded"] is False and log["attempt"] == 1
    assert log["status_code"] == 500 and log["body"] == "down"
    assert log["relationships"]["job"]["data"] == {"type": "integration-job", "id": job["id"]}
    assert log["relationships"]["integration"]["data"] == {"type": "integration", "id": hook["id"]}
    assert api.get("/v2/integrations/logs").json()["data"] == [log]
    assert api.get(f"/v2/integrations/{hook['id']}/jobs/{job['id']}/logs").json()["data"] == [log]
    assert webhooks.claim_due(db.sessions) == []  # the retry is not due yet
    redelivered = api.post(f"/v2/integrations/{hook['id']}/jobs/{job['id']}/redeliver")
    assert redelivered.status_code == 202, redelivered.text
    assert redelivered.json()["data"]["status"] == "pending"
    assert [c.attempt for c in webhooks.claim_due(db.sessions)] == [2]
    assert api.post(f"/v2/integrations/{hook['id']}/jobs/{idle['id']}/redeliver").status_code == 404
    assert api.get(f"/v2/integrations/{idle['id']}/jobs/{job['id']}/logs").status_code == 404
