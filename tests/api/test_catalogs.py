"""Catalogs: SPEC §4.1 (object, validation, CRUD), §0.2 catalog-service paging."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from assortment.db.models import Catalog
from tests.catalogs import catalog_body, make_catalog, make_hierarchy, publish
from tests.conftest import Caller, Database, Keys
from tests.helpers import ORIGIN, errors_of

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def count_catalogs(db: Database) -> int:
    with db.sessions() as session:
        return session.query(Catalog).count()


def update(api: Caller, catalog_id: str, **attributes: Any) -> Any:
    return api.put(
        f"/pcm/catalogs/{catalog_id}",
        json={"data": {"type": "catalog", "id": catalog_id, "attributes": attributes}},
    )


def pricebooks(count: int) -> list[dict[str, Any]]:
    return [{"id": str(uuid.uuid4()), "priority": i} for i in range(count)]


def test_create_returns_the_catalog_object(api: Caller) -> None:
    first, second = make_hierarchy(api, name="One")["id"], make_hierarchy(api, name="Two")["id"]
    data = make_catalog(api, [second, first], name="Main", description="All of it")
    catalog_id = data["id"]
    uuid.UUID(catalog_id)
    assert data["type"] == "catalog"
    attributes = data["attributes"]
    assert attributes["name"] == "Main"
    assert attributes["description"] == "All of it"
    assert attributes["hierarchy_ids"] == [second, first]  # display order kept
    assert attributes["enable_price_segmentation"] is False
    assert attributes["owner"] == "store"
    assert TIMESTAMP.match(attributes["created_at"]) and TIMESTAMP.match(attributes["updated_at"])
    assert data["relationships"]["releases"]["links"]["related"] == f"/pcm/catalogs/{catalog_id}/releases"
    assert (
        data["relationships"]["rules"]["links"]["related"] == f"/pcm/catalogs/rules?filter=eq(catalog_id,{catalog_id})"
    )
    assert data["links"] == {"self": f"/pcm/catalogs/{catalog_id}"}
    assert api.get(f"/pcm/catalogs/{catalog_id}").json()["data"] == data


def test_description_defaults_to_empty(api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    plain = make_catalog(api, [hid])
    assert plain["attributes"]["description"] == ""
    assert "pricebook_id" not in plain["attributes"]


def test_an_empty_hierarchy_list_is_accepted(api: Caller) -> None:
    assert make_catalog(api, [])["attributes"]["hierarchy_ids"] == []


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"hierarchy_ids": []}, "name"),
        ({"name": "", "hierarchy_ids": []}, "name"),
        ({"name": 5, "hierarchy_ids": []}, "name"),
        ({"name": "x"}, "hierarchy_ids"),
        ({"name": "x", "hierarchy_ids": "abc"}, "hierarchy_ids"),
        ({"name": "x", "hierarchy_ids": [], "pricebook_ids": pricebooks(6)}, "pricebook_ids"),
        ({"name": "x", "hierarchy_ids": [], "pricebook_ids": [{"id": str(uuid.uuid4())}]}, "priority"),
        ({"name": "x", "hierarchy_ids": [], "pricebook_id": "not-a-uuid"}, "pricebook_id"),
    ],
)
def test_invalid_catalogs_are_refused_and_nothing_is_written(
    api: Caller, db: Database, attributes: dict[str, Any], fragment: str
) -> None:
    response = api.post("/pcm/catalogs", json={"data": {"type": "catalog", "attributes": attributes}})
    assert response.status_code == 422, response.text
    errors = errors_of(response)
    assert any(fragment in e.get("detail", "") for e in errors), errors
    assert count_catalogs(db) == 0


def test_pricebook_id_and_pricebook_ids_together_are_refused(api: Caller, db: Database) -> None:
    hid = make_hierarchy(api)["id"]
    body = catalog_body("Both", [hid], pricebook_id=str(uuid.uuid4()), pricebook_ids=pricebooks(1))
    response = api.post("/pcm/catalogs", json=body)
    assert response.status_code == 422
    [error] = errors_of(response)
    assert "pricebook_id" in error["detail"] and "not both" in error["detail"], error
    assert count_catalogs(db) == 0


def test_unknown_hierarchy_ids_are_listed_in_missing_ids(api: Caller, db: Database) -> None:
    known = make_hierarchy(api)["id"]
    unknown = str(uuid.uuid4())
    response = api.post("/pcm/catalogs", json=catalog_body("x", [known, unknown, "not-an-id"]))
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["title"] == "Failed Validation"
    assert sorted(error["meta"]["missing_ids"]) == sorted([unknown, "not-an-id"])
    assert count_catalogs(db) == 0


def test_another_stores_hierarchy_is_unknown(api: Caller, keys: Keys) -> None:
    other = keys.caller(store_id=keys.store("Elsewhere"))
    foreign = make_hierarchy(other)["id"]
    response = api.post("/pcm/catalogs", json=catalog_body("x", [foreign]))
    assert response.status_code == 422
    assert errors_of(response)[0]["meta"]["missing_ids"] == [foreign]


def test_get_unknown_catalog_is_404(api: Caller) -> None:
    for catalog_id in (str(uuid.uuid4()), "not-a-uuid"):
        for response in (
            api.get(f"/pcm/catalogs/{catalog_id}"),
            api.delete(f"/pcm/catalogs/{catalog_id}"),
            update(api, catalog_id, name="x"),
            api.post(f"/pcm/catalogs/{catalog_id}/releases", content=b""),
        ):
            assert response.status_code == 404, response.text
            assert errors_of(response)[0]["title"] == "Not Found"


def test_catalogs_are_private_to_their_store(api: Caller, keys: Keys) -> None:
    catalog_id = make_catalog(api, [])["id"]
    other = keys.caller(store_id=keys.store("Elsewhere"))
    assert other.get(f"/pcm/catalogs/{catalog_id}").status_code == 404
    assert other.get("/pcm/catalogs").json()["meta"]["results"]["total"] == 0


def test_list_is_paginated_in_the_catalog_service_style(api: Caller) -> None:
    created = [make_catalog(api, [], name=f"Cat {i}")["id"] for i in range(5)]
    body = api.get("/pcm/catalogs", params={"page[limit]": "2", "page[offset]": "2"}).json()
    assert [c["id"] for c in body["data"]] == created[2:4]  # creation order
    assert body["meta"] == {
        "page": {"limit": 2, "offset": 2, "current": 2, "total": 3},
        "results": {"total": 5},
    }
    links = body["links"]
    assert links["first"] == f"{ORIGIN}/pcm/catalogs?page[offset]=0&page[limit]=2"
    assert links["last"] == f"{ORIGIN}/pcm/catalogs?page[offset]=4&page[limit]=2"
    assert links["next"] == f"{ORIGIN}/pcm/catalogs?page[offset]=4&page[limit]=2"
    assert links["prev"] == f"{ORIGIN}/pcm/catalogs?page[offset]=0&page[limit]=2"
    assert links["self"] == f"{ORIGIN}/pcm/catalogs?page[offset]=2&page[limit]=2"

    single = api.get("/pcm/catalogs").json()
    assert single["links"]["next"] is None and single["links"]["prev"] is None  # nulls, not omitted
    assert single["links"]["first"] == single["links"]["last"]
    assert single["meta"]["page"] == {"limit": 25, "offset": 0, "current": 1, "total": 1}


def test_empty_list_keeps_its_paging_fields(api: Caller) -> None:
    body = api.get("/pcm/catalogs").json()
    assert body["data"] == []
    assert body["meta"]["results"]["total"] == 0
    assert set(body["meta"]["page"]) == {"limit", "offset", "current", "total"}
    assert body["links"]["first"]


def test_list_filters_on_name(api: Caller) -> None:
    spring = make_catalog(api, [], name="Spring")["id"]
    summer = make_catalog(api, [], name="Summer")["id"]
    make_catalog(api, [], name="Winter")

    def found(expression: str) -> list[str]:
        response = api.get("/pcm/catalogs", params={"filter": expression})
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    assert found("eq(name,Spring)") == [spring]
    assert found("in(name,Spring,Summer)") == [spring, summer]
    assert found("like(name,S*)") == [spring, summer]
    bad = api.get("/pcm/catalogs", params={"filter": "eq(description,x)"})
    assert bad.status_code == 400
    errors_of(bad)


def test_update_is_partial(api: Caller) -> None:
    one, two = make_hierarchy(api, name="One")["id"], make_hierarchy(api, name="Two")["id"]
    data = make_catalog(api, [one], name="Before", description="kept")
    response = update(api, data["id"], name="After", hierarchy_ids=[two, one])
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert attributes["name"] == "After"
    assert attributes["description"] == "kept"
    assert attributes["hierarchy_ids"] == [two, one]
    assert attributes["created_at"] == data["attributes"]["created_at"]
    assert attributes["updated_at"] >= data["attributes"]["updated_at"]
    assert api.get(f"/pcm/catalogs/{data['id']}").json()["data"]["attributes"] == attributes


def test_update_with_empty_attributes_changes_nothing(api: Caller) -> None:
    data = make_catalog(api, [], name="Same")
    response = update(api, data["id"])
    assert response.status_code == 200
    assert response.json()["data"] == data


@pytest.mark.parametrize(
    "attributes",
    [
        {"name": None},
        {"name": ""},
        {"hierarchy_ids": None},
        {"hierarchy_ids": [str(uuid.uuid4())]},
        {"pricebook_id": str(uuid.uuid4()), "pricebook_ids": pricebooks(1)},
        {"pricebook_ids": pricebooks(6)},
    ],
)
def test_invalid_updates_are_refused_and_change_nothing(api: Caller, attributes: dict[str, Any]) -> None:
    hid = make_hierarchy(api)["id"]
    data = make_catalog(api, [hid], name="Stable")
    response = update(api, data["id"], **attributes)
    assert response.status_code == 422, response.text
    errors_of(response)
    assert api.get(f"/pcm/catalogs/{data['id']}").json()["data"] == data


def test_update_reports_unknown_hierarchies_in_missing_ids(api: Caller) -> None:
    data = make_catalog(api, [])
    unknown = str(uuid.uuid4())
    response = update(api, data["id"], hierarchy_ids=[unknown])
    assert response.status_code == 422
    assert errors_of(response)[0]["meta"]["missing_ids"] == [unknown]


def test_update_id_must_match_the_path(api: Caller) -> None:
    data = make_catalog(api, [], name="Mine")
    response = api.put(
        f"/pcm/catalogs/{data['id']}",
        json={"data": {"type": "catalog", "id": str(uuid.uuid4()), "attributes": {"name": "x"}}},
    )
    assert response.status_code == 422
    wrong_type = api.put(
        f"/pcm/catalogs/{data['id']}", json={"data": {"type": "hierarchy", "attributes": {"name": "x"}}}
    )
    assert wrong_type.status_code == 422
    assert api.get(f"/pcm/catalogs/{data['id']}").json()["data"]["attributes"]["name"] == "Mine"


def test_delete_removes_an_unpublished_catalog(api: Caller, db: Database) -> None:
    data = make_catalog(api, [])
    assert api.delete(f"/pcm/catalogs/{data['id']}").status_code == 204
    assert api.get(f"/pcm/catalogs/{data['id']}").status_code == 404
    assert count_catalogs(db) == 0


def test_a_catalog_with_releases_cannot_be_deleted(api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    data = make_catalog(api, [hid])
    publish(api, data["id"])
    refused = api.delete(f"/pcm/catalogs/{data['id']}")
    assert refused.status_code == 422
    errors_of(refused)
    assert api.get(f"/pcm/catalogs/{data['id']}").status_code == 200
    assert api.delete(f"/pcm/catalogs/{data['id']}/releases").status_code == 204
    assert api.delete(f"/pcm/catalogs/{data['id']}").status_code == 204


def test_a_catalog_named_by_a_rule_cannot_be_deleted(api: Caller) -> None:
    data = make_catalog(api, [])
    rule = api.post(
        "/pcm/catalogs/rules",
        json={"data": {"type": "catalog_rule", "attributes": {"name": "r", "catalog_id": data["id"]}}},
    )
    assert rule.status_code == 201, rule.text
    refused = api.delete(f"/pcm/catalogs/{data['id']}")
    assert refused.status_code == 422
    errors_of(refused)
    assert api.delete(f"/pcm/catalogs/rules/{rule.json()['data']['id']}").status_code == 204
    assert api.delete(f"/pcm/catalogs/{data['id']}").status_code == 204


def test_implicit_tokens_cannot_use_catalog_administration(api: Caller, keys: Keys) -> None:
    data = make_catalog(api, [])
    shopper = keys.caller(grant="implicit")
    for response in (
        shopper.get("/pcm/catalogs"),
        shopper.get(f"/pcm/catalogs/{data['id']}"),
        shopper.post("/pcm/catalogs", json=catalog_body("x", [])),
        shopper.put(f"/pcm/catalogs/{data['id']}", json={"data": {"type": "catalog", "attributes": {}}}),
        shopper.delete(f"/pcm/catalogs/{data['id']}"),
        shopper.post(f"/pcm/catalogs/{data['id']}/releases", content=b""),
        shopper.get(f"/pcm/catalogs/{data['id']}/releases"),
        shopper.delete(f"/pcm/catalogs/{data['id']}/releases"),
    ):
        assert response.status_code == 403, (response.request.method, response.request.url, response.text)
        assert errors_of(response)[0]["title"] == "Forbidden"


def test_missing_token_is_401(api: Caller) -> None:
    response = api.client.get("/pcm/catalogs")
    assert response.status_code == 401
    errors_of(response)
