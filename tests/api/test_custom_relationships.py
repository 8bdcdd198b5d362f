"""Custom relationship definitions and their attachment to products: SPEC §3.1–3.3, §B-14/15."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from assortment.db.models import CustomRelationship
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of
from tests.relationships import (
    AT_FIVE,
    associate,
    attach,
    count_slots,
    definition_body,
    make_definition,
    make_product,
    refs,
    slugs_of,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ORG_OWNED = "entity owned by organization"


def count_definitions(db: Database) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(CustomRelationship)) or 0


def update(api: Caller, path_slug: str, body_id: str | None, **attributes: Any) -> Any:
    data: dict[str, Any] = {"type": "custom-relationship", "attributes": attributes}
    if body_id is not None:
        data["id"] = body_id
    return api.put(f"/pcm/custom-relationships/{path_slug}", json={"data": data})


def listed(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["attributes"]["slug"] for item in response.json()["data"]]


# --- definitions: create ---


def test_create_returns_the_definition_object(api: Caller) -> None:
    response = api.post("/pcm/custom-relationships", json=definition_body("related", name="Related"))
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["type"] == "custom-relationship"
    uuid.UUID(data["id"])
    assert data["attributes"] == {"name": "Related", "slug": "CRP_related", "bi_directional": False}
    assert data["meta"]["owner"] == "store"
    timestamps = data["meta"]["timestamps"]
    assert set(timestamps) == {"created_at", "updated_at"}
    assert TIMESTAMP.match(timestamps["created_at"])
    assert timestamps["created_at"] == timestamps["updated_at"]
    assert "created_at" not in data["meta"]


def test_create_keeps_every_optional_attribute(api: Caller) -> None:
    data = make_definition(
        api,
        "CRP_upsell",
        name="Up-sell",
        description="Better ones",
        sort_order=-3,
        external_name="You may also like",
        external_description="Shown under the product",
        bi_directional=True,
    )
    assert data["attributes"] == {
        "name": "Up-sell",
        "slug": "CRP_upsell",
        "description": "Better ones",
        "sort_order": -3,
        "external_name": "You may also like",
        "external_description": "Shown under the product",
        "bi_directional": True,
    }
    assert api.get("/pcm/custom-relationships/CRP_upsell").json()["data"] == data


@pytest.mark.parametrize(
    ("slug", "stored"),
    [("related", "CRP_related"), ("CRP_related", "CRP_related"), ("crp_x", "CRP_crp_x"), ("a.b-c_d", "CRP_a.b-c_d")],
)
def test_the_prefix_is_added_when_missing(api: Caller, slug: str, stored: str) -> None:
    assert make_definition(api, slug)["attributes"]["slug"] == stored
    assert api.get(f"/pcm/custom-relationships/{stored}").status_code == 200


@pytest.mark.parametrize(("first", "second"), [("same", "CRP_same"), ("CRP_same", "same"), ("same", "same")])
def test_slugs_are_unique_after_prefixing(api: Caller, db: Database, first: str, second: str) -> None:
    make_definition(api, first)
    response = api.post("/pcm/custom-relationships", json=definition_body(second))
    assert response.status_code == 422, response.text
    [error] = errors_of(response)
    assert "CRP_same" in error["detail"]
    assert count_definitions(db) == 1


def test_slug_uniqueness_is_case_sensitive(api: Caller) -> None:
    make_definition(api, "Same")
    make_definition(api, "same")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": {"type": "custom-relationship", "attributes": {"slug": "a"}}}, "name"),
        ({"data": {"type": "custom-relationship", "attributes": {"name": "", "slug": "a"}}}, "name"),
        ({"data": {"type": "custom-relationship", "attributes": {"name": "A"}}}, "slug"),
        (definition_body("has space"), "slug"),
        (definition_body("a/b"), "slug"),
        (definition_body("ünï"), "slug"),
        (definition_body(""), "slug"),
        (definition_body("a", bi_directional="yes"), "bi_directional"),
        (definition_body("a", sort_order="1"), "sort_order"),
        (definition_body("a", sort_order=1.5), "sort_order"),
        ({"data": {"type": "product", "attributes": {"name": "A", "slug": "a"}}}, "type"),
        ({"data": {"attributes": {"name": "A", "slug": "a"}}}, "type"),
        ({"data": {"type": "custom-relationship"}}, "attributes"),
        ({}, "data"),
    ],
)
def test_invalid_definitions_are_refused(api: Caller, db: Database, body: Any, fragment: str) -> None:
    response = api.post("/pcm/custom-relationships", json=body)
    assert response.status_code == 422, response.text
    assert any(fragment in e["detail"] for e in errors_of(response))
    assert count_definitions(db) == 0


# --- definitions: read ---


def test_get_unknown_is_404(api: Caller) -> None:
    response = api.get("/pcm/custom-relationships/CRP_nothing")
    assert response.status_code == 404
    [error] = errors_of(response)
    assert error["title"] == "Not Found"


def test_list_in_creation_order_with_total_and_links(api: Caller) -> None:
    for slug in ("c", "a", "b"):
        make_definition(api, slug)
    response = api.get("/pcm/custom-relationships")
    assert listed(response) == ["CRP_c", "CRP_a", "CRP_b"]
    assert response.json()["meta"]["results"]["total"] == 3
    second = api.get("/pcm/custom-relationships", params={"page[limit]": "1", "page[offset]": "1"})
    assert listed(second) == ["CRP_a"]
    links = second.json()["links"]
    assert links["next"] == "/pcm/custom-relationships?page[offset]=2&page[limit]=1"
    assert links["prev"] == "/pcm/custom-relationships?page[offset]=0&page[limit]=1"
    assert second.json()["meta"]["results"]["total"] == 3


def test_list_filters(api: Caller, keys: Keys) -> None:
    for slug in ("a", "b", "c"):
        make_definition(api, slug)
    make_definition(keys.caller(organization=True), "org")
    assert listed(api.get("/pcm/custom-relationships", params={"filter": "eq(slug,CRP_b)"})) == ["CRP_b"]
    assert listed(api.get("/pcm/custom-relationships", params={"filter": "in(slug,CRP_a,CRP_c)"})) == [
        "CRP_a",
        "CRP_c",
    ]
    assert listed(api.get("/pcm/custom-relationships", params={"filter": "eq(owner,organization)"})) == ["CRP_org"]
    assert listed(api.get("/pcm/custom-relationships", params={"filter": "eq(owner,store)"})) == [
        "CRP_a",
        "CRP_b",
        "CRP_c",
    ]
    bad = api.get("/pcm/custom-relationships", params={"filter": "eq(name,x)"})
    assert bad.status_code == 400
    assert errors_of(bad)[0]["detail"] == "Could not parse the supplied filter"


# --- definitions: update ---


def test_update_is_partial_and_moves_updated_at(api: Caller) -> None:
    created = make_definition(api, "rel", description="d", external_name="e", sort_order=2)
    time.sleep(0.002)
    response = update(api, "CRP_rel", created["id"], name="Renamed")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["attributes"] == {**created["attributes"], "name": "Renamed"}
    assert data["meta"]["timestamps"]["created_at"] == created["meta"]["timestamps"]["created_at"]
    assert data["meta"]["timestamps"]["updated_at"] > created["meta"]["timestamps"]["updated_at"]
    assert api.get("/pcm/custom-relationships/CRP_rel").json()["data"] == data


def test_update_sets_and_null_clears_optional_attributes(api: Caller) -> None:
    created = make_definition(api, "rel", description="d", external_name="e", external_description="x", sort_order=2)
    set_response = update(
        api, "CRP_rel", created["id"], external_name="New", external_description="Newer", sort_order=7
    )
    assert set_response.status_code == 200
    attributes = set_response.json()["data"]["attributes"]
    assert (attributes["external_name"], attributes["external_description"], attributes["sort_order"]) == (
        "New",
        "Newer",
        7,
    )
    response = update(api, "CRP_rel", created["id"], external_name=None, external_description=None, sort_order=None)
    assert response.status_code == 200
    assert response.json()["data"]["attributes"] == {
        "name": created["attributes"]["name"],
        "slug": "CRP_rel",
        "description": "d",
        "bi_directional": False,
    }


@pytest.mark.parametrize("field", ["name", "bi_directional"])
def test_required_attributes_cannot_be_nulled(api: Caller, field: str) -> None:
    created = make_definition(api, "rel")
    response = update(api, "CRP_rel", created["id"], **{field: None})
    assert response.status_code == 422
    assert api.get("/pcm/custom-relationships/CRP_rel").json()["data"] == created


def test_the_slug_is_immutable(api: Caller) -> None:
    created = make_definition(api, "rel")
    assert update(api, "CRP_rel", created["id"], slug="CRP_rel").status_code == 200
    assert update(api, "CRP_rel", created["id"], slug="rel").status_code == 200
    response = update(api, "CRP_rel", created["id"], slug="other")
    assert response.status_code == 422
    assert api.get("/pcm/custom-relationships/CRP_rel").status_code == 200
    assert api.get("/pcm/custom-relationships/CRP_other").status_code == 404


def test_update_needs_the_id_of_the_path(api: Caller) -> None:
    created = make_definition(api, "rel")
    make_definition(api, "other")
    assert update(api, "CRP_rel", None, name="x").status_code == 422
    assert update(api, "CRP_rel", str(uuid.uuid4()), name="x").status_code == 422
    other_id = api.get("/pcm/custom-relationships/CRP_other").json()["data"]["id"]
    assert update(api, "CRP_rel", other_id, name="x").status_code == 422
    assert api.get("/pcm/custom-relationships/CRP_rel").json()["data"] == created


def test_update_unknown_is_404(api: Caller) -> None:
    response = update(api, "CRP_none", str(uuid.uuid4()), name="x")
    assert response.status_code == 404
    errors_of(response)


def test_bi_directional_changes_only_while_nothing_is_associated(api: Caller) -> None:
    created = make_definition(api, "rel")
    a, b = make_product(api), make_product(api)
    # Attached but not associated: still free to change.
    assert attach(api, a, "CRP_rel").status_code == 201
    assert update(api, "CRP_rel", created["id"], bi_directional=True).status_code == 200
    assert update(api, "CRP_rel", created["id"], bi_directional=False).status_code == 200
    associate(api, a, "CRP_rel", [b])
    response = update(api, "CRP_rel", created["id"], bi_directional=True)
    assert response.status_code == 422
    assert "bi_directional" in errors_of(response)[0]["detail"]
    assert api.get("/pcm/custom-relationships/CRP_rel").json()["data"]["attributes"]["bi_directional"] is False
    # Sending the current value is not a change.
    assert update(api, "CRP_rel", created["id"], bi_directional=False).status_code == 200


# --- definitions: delete ---


def test_delete(api: Caller, db: Database) -> None:
    make_definition(api, "rel")
    assert api.delete("/pcm/custom-relationships/CRP_rel").status_code == 204
    assert api.get("/pcm/custom-relationships/CRP_rel").status_code == 404
    assert count_definitions(db) == 0
    assert api.delete("/pcm/custom-relationships/CRP_rel").status_code == 404
    # The slug is free again.
    make_definition(api, "rel")


def test_a_definition_in_use_cannot_be_deleted(api: Caller) -> None:
    make_definition(api, "rel")
    product = make_product(api)
    assert attach(api, product, "CRP_rel").status_code == 201
    response = api.delete("/pcm/custom-relationships/CRP_rel")
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["detail"] == "custom relationship is in use"
    assert api.get("/pcm/custom-relationships/CRP_rel").status_code == 200
    assert slugs_of(api, product) == ["CRP_rel"]
    assert api.delete(f"/pcm/products/{product}/custom-relationships", json=refs(["CRP_rel"])).status_code == 204
    assert api.delete("/pcm/custom-relationships/CRP_rel").status_code == 204


def test_a_definition_used_only_by_a_target_cannot_be_deleted(api: Caller) -> None:
    """Associating attaches the slug to the target too; detaching it from the source leaves it in use."""
    make_definition(api, "rel")
    a, b = make_product(api), make_product(api)
    associate(api, a, "CRP_rel", [b])
    assert api.delete(f"/pcm/products/{a}/custom-relationships", json=refs(["CRP_rel"])).status_code == 204
    assert slugs_of(api, b) == ["CRP_rel"]
    assert api.delete("/pcm/custom-relationships/CRP_rel").status_code == 400
    assert api.delete(f"/pcm/products/{b}/custom-relationships", json=refs(["CRP_rel"])).status_code == 204
    assert api.delete("/pcm/custom-relationships/CRP_rel").status_code == 204


# --- definitions: tenancy ---


def test_store_tokens_read_but_never_change_organization_definitions(api: Caller, keys: Keys) -> None:
    org = keys.caller(organization=True)
    created = make_definition(org, "shared")
    assert created["meta"]["owner"] == "organization"
    assert api.get("/pcm/custom-relationships/CRP_shared").json()["data"] == created
    for response in (
        update(api, "CRP_shared", created["id"], name="mine"),
        api.delete("/pcm/custom-relationships/CRP_shared"),
    ):
        assert response.status_code == 403
        [error] = errors_of(response)
        assert error["detail"] == ORG_OWNED
    assert org.get("/pcm/custom-relationships/CRP_shared").json()["data"] == created


def test_another_stores_definitions_are_invisible(api: Caller, keys: Keys) -> None:
    other = keys.caller(store_id=keys.store("Other"))
    created = make_definition(other, "theirs")
    assert api.get("/pcm/custom-relationships/CRP_theirs").status_code == 404
    assert update(api, "CRP_theirs", created["id"], name="x").status_code == 404
    assert api.delete("/pcm/custom-relationships/CRP_theirs").status_code == 404
    assert listed(api.get("/pcm/custom-relationships")) == []
    # Each store has its own slugs.
    make_definition(api, "theirs")
    assert other.get("/pcm/custom-relationships/CRP_theirs").json()["data"]["id"] == created["id"]


def test_implicit_tokens_are_refused(api: Caller, keys: Keys) -> None:
    created = make_definition(api, "rel")
    implicit = keys.caller(grant="implicit")
    for response in (
        implicit.get("/pcm/custom-relationships"),
        implicit.get("/pcm/custom-relationships/CRP_rel"),
        implicit.post("/pcm/custom-relationships", json=definition_body("x")),
        update(implicit, "CRP_rel", created["id"], name="x"),
        implicit.delete("/pcm/custom-relationships/CRP_rel"),
    ):
        assert response.status_code == 403
        errors_of(response)


def test_no_token_is_401(api: Caller) -> None:
    response = api.client.get("/pcm/custom-relationships")
    assert response.status_code == 401
    errors_of(response)


# --- attaching to a product ---


def test_attach_returns_the_attached_definitions(api: Caller) -> None:
    a = make_definition(api, "a")
    b = make_definition(api, "b")
    product = make_product(api)
    response = attach(api, product, "b", "CRP_a")
    assert response.status_code == 201, response.text
    body = response.json()
    assert {d["id"] for d in body["data"]} == {a["id"], b["id"]}
    assert body["data"][0]["type"] == "custom-relationship"
    assert body["meta"]["results"]["total"] == 2
    assert "first" in body["links"]


def test_the_product_object_shows_its_relationships(api: Caller) -> None:
    for slug in ("one", "two"):
        make_definition(api, slug)
    product = make_product(api)
    before = api.get(f"/pcm/products/{product}").json()["data"]
    assert before["meta"]["custom_relationships"] == []
    assert before["relationships"]["custom_relationships"] == {
        "data": [],
        "links": {"self": f"/products/{product}/custom-relationships"},
    }
    assert attach(api, product, "one").status_code == 201
    assert attach(api, product, "two").status_code == 201
    data = api.get(f"/pcm/products/{product}").json()["data"]
    assert data["meta"]["custom_relationships"] == ["CRP_one", "CRP_two"]
    assert data["relationships"]["custom_relationships"]["links"] == {
        "self": f"/products/{product}/custom-relationships",
        "CRP_one": f"/products/{product}/custom-relationships/CRP_one/products",
        "CRP_two": f"/products/{product}/custom-relationships/CRP_two/products",
    }
    # Lists render the same.
    [listed_product] = api.get("/pcm/products").json()["data"]
    assert listed_product == data


def test_reattaching_is_a_no_op(api: Caller, db: Database) -> None:
    make_definition(api, "one")
    product = make_product(api)
    assert attach(api, product, "one").status_code == 201
    response = attach(api, product, "CRP_one", "one")
    assert response.status_code == 201
    assert [d["attributes"]["slug"] for d in response.json()["data"]] == ["CRP_one"]
    assert count_slots(db, product) == 1


def test_list_attached(api: Caller) -> None:
    for slug in ("one", "two", "three"):
        make_definition(api, slug)
    product = make_product(api)
    for slug in ("two", "one", "three"):
        assert attach(api, product, slug).status_code == 201
    response = api.get(f"/pcm/products/{product}/custom-relationships")
    assert listed(response) == ["CRP_two", "CRP_one", "CRP_three"]
    assert response.json()["meta"]["results"]["total"] == 3
    page = api.get(f"/pcm/products/{product}/custom-relationships", params={"page[limit]": "2"})
    assert listed(page) == ["CRP_two", "CRP_one"]
    assert page.json()["links"]["next"].endswith("page[offset]=2&page[limit]=2")
    empty = make_product(api)
    assert listed(api.get(f"/pcm/products/{empty}/custom-relationships")) == []


def test_five_relationships_at_most(api: Caller, db: Database) -> None:
    for i in range(7):
        make_definition(api, f"r{i}")
    product = make_product(api)
    assert attach(api, product, "r0", "r1", "r2", "r3", "r4").status_code == 201
    assert count_slots(db, product) == 5
    response = attach(api, product, "r5")
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["detail"] == AT_FIVE
    # Re-attaching what is already there is still fine at the limit.
    assert attach(api, product, "r0", "r4").status_code == 201
    # An attached slug in the request does not make room for a new one.
    assert attach(api, product, "r0", "r5").status_code == 422
    assert sorted(slugs_of(api, product)) == ["CRP_r0", "CRP_r1", "CRP_r2", "CRP_r3", "CRP_r4"]


def test_a_request_that_would_exceed_five_attaches_nothing(api: Caller, db: Database) -> None:
    for i in range(6):
        make_definition(api, f"r{i}")
    product = make_product(api)
    assert attach(api, product, "r0", "r1", "r2").status_code == 201
    assert attach(api, product, "r3", "r4", "r5").status_code == 422
    assert slugs_of(api, product) == ["CRP_r0", "CRP_r1", "CRP_r2"]
    fresh = make_product(api)
    assert attach(api, fresh, "r0", "r1", "r2", "r3", "r4", "r5").status_code == 422
    assert count_slots(db, fresh) == 0
    # The same slug six times is one slug.
    assert attach(api, fresh, *(["r5"] * 6)).status_code == 201
    assert slugs_of(api, fresh) == ["CRP_r5"]


def test_unknown_slugs_attach_nothing(api: Caller, db: Database) -> None:
    make_definition(api, "known")
    product = make_product(api)
    response = attach(api, product, "known", "missing", "CRP_gone")
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["meta"]["missing_ids"] == ["CRP_missing", "CRP_gone"]
    assert count_slots(db) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"data": []},
        {"data": [{"type": "product", "slug": "CRP_x"}]},
        {"data": [{"type": "custom-relationship"}]},
        {"data": [{"slug": "CRP_x"}]},
        {"data": {"type": "custom-relationship", "slug": "CRP_x"}},
        {},
    ],
)
def test_malformed_attach_bodies_are_422(api: Caller, db: Database, body: Any) -> None:
    make_definition(api, "x")
    product = make_product(api)
    response = api.post(f"/pcm/products/{product}/custom-relationships", json=body)
    assert response.status_code == 422, response.text
    errors_of(response)
    assert count_slots(db) == 0


@pytest.mark.parametrize("product_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_attach_to_an_unknown_product_is_404(api: Caller, product_id: str) -> None:
    make_definition(api, "x")
    for response in (
        attach(api, product_id, "x"),
        api.get(f"/pcm/products/{product_id}/custom-relationships"),
        api.delete(f"/pcm/products/{product_id}/custom-relationships", json=refs(["x"])),
    ):
        assert response.status_code == 404
        errors_of(response)


def test_detach(api: Caller) -> None:
    for slug in ("one", "two", "three"):
        make_definition(api, slug)
    product = make_product(api)
    assert attach(api, product, "one", "two", "three").status_code == 201
    response = api.delete(f"/pcm/products/{product}/custom-relationships", json=refs(["two", "CRP_one"]))
    assert response.status_code == 204
    assert slugs_of(api, product) == ["CRP_three"]
    # Slugs that are not attached (or do not exist) are ignored.
    assert api.delete(f"/pcm/products/{product}/custom-relationships", json=refs(["one", "nowhere"])).status_code == 204
    assert slugs_of(api, product) == ["CRP_three"]
    # Detaching frees a place under the limit.
    for i in range(4):
        make_definition(api, f"more{i}")
    assert attach(api, product, "more0", "more1", "more2", "more3").status_code == 201


def test_organization_definitions_attach_to_store_products(api: Caller, keys: Keys) -> None:
    make_definition(keys.caller(organization=True), "shared")
    product = make_product(api)
    assert attach(api, product, "shared").status_code == 201
    assert slugs_of(api, product) == ["CRP_shared"]


def test_another_stores_definitions_cannot_be_attached(api: Caller, keys: Keys) -> None:
    make_definition(keys.caller(store_id=keys.store("Other")), "theirs")
    product = make_product(api)
    response = attach(api, product, "theirs")
    assert response.status_code == 422
    assert errors_of(response)[0]["meta"]["missing_ids"] == ["CRP_theirs"]


def test_attachment_tenancy(api: Caller, keys: Keys, db: Database) -> None:
    make_definition(api, "mine")
    org = keys.caller(organization=True)
    make_definition(org, "mine")
    org_product = make_product(org)
    for response in (
        attach(api, org_product, "mine"),
        api.delete(f"/pcm/products/{org_product}/custom-relationships", json=refs(["mine"])),
    ):
        assert response.status_code == 403
        [error] = errors_of(response)
        assert error["detail"] == ORG_OWNED
    assert count_slots(db) == 0
    # Reading is allowed.
    assert api.get(f"/pcm/products/{org_product}/custom-relationships").status_code == 200

    other_product = make_product(keys.caller(store_id=keys.store("Other")))
    for response in (
        attach(api, other_product, "mine"),
        api.get(f"/pcm/products/{other_product}/custom-relationships"),
        api.delete(f"/pcm/products/{other_product}/custom-relationships", json=refs(["mine"])),
    ):
        assert response.status_code == 404

    mine = make_product(api)
    implicit = keys.caller(grant="implicit")
    for response in (
        attach(implicit, mine, "mine"),
        implicit.get(f"/pcm/products/{mine}/custom-relationships"),
        implicit.delete(f"/pcm/products/{mine}/custom-relationships", json=refs(["mine"])),
    ):
        assert response.status_code == 403
    assert count_slots(db) == 0
