"""Products: SPEC §1.1–1.3."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from assortment.db.models import Product
from tests.conftest import Caller, Database
from tests.helpers import errors_of, product_body

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def create(api: Caller, **attributes: Any) -> dict[str, Any]:
    response = api.post("/pcm/products", json=product_body(**attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def count_products(db: Database) -> int:
    with db.sessions() as session:
        return session.query(Product).count()


def update(api: Caller, product_id: str, **attributes: Any) -> Any:
    return api.put(
        f"/pcm/products/{product_id}",
        json={"data": {"type": "product", "id": product_id, "attributes": attributes}},
    )


def test_create_returns_the_product_object(api: Caller) -> None:
    data = create(
        api,
        name="Blue shirt",
        description="Cotton",
        slug="blue-shirt",
        sku="BS-1",
        status="live",
        commodity_type="physical",
        upc_ean="0123456",
        mpn="mfn1",
        external_ref="ext-1",
        tags=["shirts", "blue"],
        locales={"fr-FR": {"name": "Chemise bleue", "description": "Coton"}},
    )
    assert data["type"] == "product"
    uuid.UUID(data["id"])
    assert data["attributes"] == {
        "name": "Blue shirt",
        "description": "Cotton",
        "slug": "blue-shirt",
        "sku": "BS-1",
        "status": "live",
        "commodity_type": "physical",
        "upc_ean": "0123456",
        "mpn": "mfn1",
        "external_ref": "ext-1",
        "tags": ["shirts", "blue"],
        "locales": {"fr-FR": {"name": "Chemise bleue", "description": "Coton"}},
    }
    meta = data["meta"]
    assert meta["owner"] == "store"
    assert meta["product_types"] == ["standard"]
    assert TIMESTAMP.match(meta["created_at"]) and TIMESTAMP.match(meta["updated_at"])
    assert (
        data["relationships"]["custom_relationships"]["links"]["self"]
        == f"/products/{data['id']}/custom-relationships"
    )
    assert data["relationships"]["main_image"] == {"data": None}


def test_defaults_and_unset_attributes_are_omitted(api: Caller) -> None:
    data = create(api, name="Plain", commodity_type="digital")
    assert data["attributes"] == {"name": "Plain", "commodity_type": "digital", "status": "draft"}


def test_get_returns_what_create_returned(api: Caller) -> None:
    data = create(api, sku="G-1")
    response = api.get(f"/pcm/products/{data['id']}")
    assert response.status_code == 200
    assert response.json()["data"] == data


@pytest.mark.parametrize("product_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_product_is_404(api: Caller, product_id: str) -> None:
    for response in (
        api.get(f"/pcm/products/{product_id}"),
        api.delete(f"/pcm/products/{product_id}"),
        update(api, product_id, name="x"),
    ):
        assert response.status_code == 404
        [error] = errors_of(response)
        assert error["title"] == "Not Found"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": {"type": "product", "attributes": {"commodity_type": "physical"}}}, "name"),
        ({"data": {"type": "product", "attributes": {"name": "", "commodity_type": "physical"}}}, "name"),
        ({"data": {"type": "product", "attributes": {"name": 5, "commodity_type": "physical"}}}, "name"),
        ({"data": {"type": "product", "attributes": {"name": "x"}}}, "commodity_type"),
        (
            {"data": {"type": "product", "attributes": {"name": "x", "commodity_type": "liquid"}}},
            "commodity_type",
        ),
        (product_body(status="published"), "status"),
        (product_body(status=None), "status"),
        (product_body(slug="has space"), "slug"),
        (product_body(slug="ünïcode"), "slug"),
        (product_body(sku=""), "sku"),
        (product_body(sku=12), "sku"),
        (product_body(sku="x" * 256), "sku"),
        (product_body(external_ref="x" * 2049), "external_ref"),
        (product_body(tags=["two words"]), "tags"),
        (product_body(tags=["a,b"]), "tags"),
        (product_body(tags=["x" * 256]), "tags"),
        (product_body(tags=[f"t{i}" for i in range(21)]), "tags"),
        (product_body(tags="single"), "tags"),
        (product_body(locales={"fr-FR": {"description": "no name"}}), "locales"),
        (product_body(locales={"fr-FR": "Chemise"}), "locales"),
        (product_body(locales={"not a code": {"name": "x"}}), "locales"),
        (product_body(upc_ean=["x"]), "upc_ean"),
        ({"data": {"type": "hierarchy", "attributes": {"name": "x", "commodity_type": "physical"}}}, "type"),
        ({"data": {"attributes": {"name": "x", "commodity_type": "physical"}}}, "type"),
        ({"data": {"type": "product"}}, "attributes"),
        ({"type": "product"}, "data"),
        ({"data": []}, "data"),
        ([], "body"),
    ],
)
def test_invalid_products_are_refused_and_nothing_is_written(
    api: Caller, db: Database, body: Any, fragment: str
) -> None:
    response = api.post("/pcm/products", json=body)
    assert response.status_code == 422, response.text
    errors = errors_of(response)
    assert any(fragment in e["detail"] for e in errors), errors
    assert count_products(db) == 0


@pytest.mark.parametrize("field", ["sku", "slug", "external_ref"])
def test_unique_fields_on_create(api: Caller, db: Database, field: str) -> None:
    create(api, **{field: "same-value"})
    response = api.post("/pcm/products", json=product_body(**{field: "same-value"}))
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["detail"] == f"data.attributes.{field}: Must be unique amongst products."
    assert count_products(db) == 1


@pytest.mark.parametrize("field", ["sku", "slug", "external_ref"])
def test_unique_fields_on_update(api: Caller, field: str) -> None:
    create(api, **{field: "taken"})
    other = create(api, **{field: "free"})
    response = update(api, other["id"], **{field: "taken"})
    assert response.status_code == 422
    assert api.get(f"/pcm/products/{other['id']}").json()["data"]["attributes"][field] == "free"
    # Keeping one's own value is not a clash.
    assert update(api, other["id"], **{field: "free"}).status_code == 200


def test_uniqueness_is_case_sensitive_and_ignores_absent_values(api: Caller) -> None:
    create(api, sku="ABC")
    create(api, sku="abc")
    create(api)
    create(api)


def test_long_external_ref_is_unique_too(api: Caller) -> None:
    long_ref = "é" * 2048
    create(api, external_ref=long_ref)
    assert api.post("/pcm/products", json=product_body(external_ref=long_ref)).status_code == 422
    found = api.get("/pcm/products", params={"filter": f'eq(external_ref,"{long_ref}")'})
    assert found.json()["meta"]["results"]["total"] == 1


def test_partial_update_changes_only_what_is_sent(api: Caller) -> None:
    data = create(api, sku="P-1", description="old", tags=["a"])
    response = update(api, data["id"], description="new")
    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["description"] == "new"
    assert attributes["sku"] == "P-1"
    assert attributes["tags"] == ["a"]
    assert response.json()["data"]["meta"]["updated_at"] >= data["meta"]["updated_at"]
    assert response.json()["data"]["meta"]["created_at"] == data["meta"]["created_at"]


def test_empty_attributes_change_nothing(api: Caller) -> None:
    data = create(api, sku="E-1")
    response = update(api, data["id"])
    assert response.status_code == 200
    assert response.json()["data"] == data


def test_null_clears_optional_attributes_but_not_required_ones(api: Caller) -> None:
    data = create(api, sku="N-1", description="text")
    response = update(api, data["id"], sku=None, description=None)
    assert response.status_code == 200
    assert "sku" not in response.json()["data"]["attributes"]
    assert "description" not in response.json()["data"]["attributes"]
    for field in ("name", "commodity_type", "status"):
        refused = update(api, data["id"], **{field: None})
        assert refused.status_code == 422, field
    assert api.get(f"/pcm/products/{data['id']}").json()["data"]["attributes"]["name"] == "A product"


def test_update_id_must_match_the_path(api: Caller) -> None:
    data = create(api)
    response = api.put(
        f"/pcm/products/{data['id']}",
        json={"data": {"type": "product", "id": str(uuid.uuid4()), "attributes": {"name": "x"}}},
    )
    assert response.status_code == 422
    missing_id = api.put(
        f"/pcm/products/{data['id']}", json={"data": {"type": "product", "attributes": {"name": "x"}}}
    )
    assert missing_id.status_code == 422
    assert api.get(f"/pcm/products/{data['id']}").json()["data"]["attributes"]["name"] == "A product"


def test_update_validates_like_create(api: Caller) -> None:
    data = create(api)
    assert update(api, data["id"], slug="bad slug").status_code == 422
    assert update(api, data["id"], status="gone").status_code == 422


def test_delete_removes_the_product(api: Caller, db: Database) -> None:
    data = create(api)
    assert api.delete(f"/pcm/products/{data['id']}").status_code == 204
    assert api.get(f"/pcm/products/{data['id']}").status_code == 404
    assert count_products(db) == 0


def test_delete_accepts_a_json_body_and_content_type(api: Caller) -> None:
    """The JS SDK sends Content-Type: application/json on every call, and bodies on DELETE."""
    data = create(api)
    response = api.request(
        "DELETE",
        f"/pcm/products/{data['id']}",
        content=b'{"data": []}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 204
    assert api.get("/pcm/products", headers={"Content-Type": "application/json"}).status_code == 200


def test_integer_surrogate_ids_are_assigned(api: Caller, db: Database) -> None:
    first = create(api, sku="S-1")
    second = create(api, sku="S-2")
    with db.sessions() as session:
        pks = {p.id: p.pk for p in session.query(Product)}
    assert pks[uuid.UUID(first["id"])] < pks[uuid.UUID(second["id"])]
