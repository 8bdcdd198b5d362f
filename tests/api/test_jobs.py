"""Hierarchy duplication jobs (SPEC §2.5) and the jobs endpoints."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller
from tests.helpers import errors_of, product_body


def make_tree(api: Caller) -> dict[str, Any]:
    hierarchy = api.post(
        "/pcm/hierarchies",
        json={
            "data": {
                "type": "hierarchy",
                "attributes": {"name": "Shoes", "slug": "shoes", "description": "d"},
            }
        },
    ).json()["data"]
    hid = hierarchy["id"]

    def node(name: str, parent: str | None = None, sort_order: int | None = None) -> str:
        data: dict[str, Any] = {"type": "node", "attributes": {"name": name, "slug": name.lower()}}
        if parent:
            data["relationships"] = {"parent": {"data": {"type": "node", "id": parent}}}
        if sort_order is not None:
            data["meta"] = {"sort_order": sort_order}
        response = api.post(f"/pcm/hierarchies/{hid}/nodes", json={"data": data})
        assert response.status_code == 201, response.text
        node_id: str = response.json()["data"]["id"]
        return node_id

    women = node("Women", sort_order=5)
    boots = node("Boots", women)
    product = api.post("/pcm/products", json=product_body(sku="BOOT-1")).json()["data"]["id"]
    assert (
        api.post(
            f"/pcm/hierarchies/{hid}/nodes/{boots}/relationships/products",
            json={"data": [{"type": "product", "id": product}]},
        ).status_code
        == 201
    )
    assert (
        api.put(
            f"/pcm/hierarchies/{hid}/nodes/{boots}",
            json={"data": {"type": "node", "id": boots, "attributes": {"curated_products": [product]}}},
        ).status_code
        == 200
    )
    return {"hid": hid, "women": women, "boots": boots, "product": product}


def duplicate(api: Caller, hid: str, **attributes: Any) -> Any:
    return api.post(
        f"/pcm/hierarchies/{hid}/duplicate_job",
        json={"data": {"type": "hierarchy", "attributes": attributes}},
    )


def tree_of(api: Caller, hid: str) -> list[tuple[str, str | None, str | None, int | None]]:
    nodes = api.get(f"/pcm/hierarchies/{hid}/nodes").json()["data"]
    by_id = {n["id"]: n for n in nodes}
    rows = []
    for n in nodes:
        parent = n["relationships"].get("parent")
        parent_name = by_id[parent["data"]["id"]]["attributes"]["name"] if parent else None
        rows.append(
            (n["attributes"]["name"], n["attributes"].get("slug"), parent_name, n["meta"].get("sort_order"))
        )
    return sorted(rows, key=str)


def test_duplicate_copies_the_tree_without_products(api: Caller) -> None:
    tree = make_tree(api)
    response = duplicate(api, tree["hid"], name="Shoes copy", description="copied")
    assert response.status_code == 201
    job = response.json()["data"]
    assert job["type"] == "pim-job"
    assert job["attributes"]["type"] == "hierarchy-duplicate"
    assert job["attributes"]["status"] == "success"
    assert job["meta"]["copied_from"] == tree["hid"]
    new_hid = job["meta"]["hierarchy_id"]

    copy = api.get(f"/pcm/hierarchies/{new_hid}").json()["data"]
    assert copy["attributes"]["name"] == "Shoes copy"
    assert copy["attributes"]["description"] == "copied"
    assert copy["attributes"]["slug"] == "shoes"
    assert tree_of(api, new_hid) == tree_of(api, tree["hid"])

    copied_boots = next(
        n
        for n in api.get(f"/pcm/hierarchies/{new_hid}/nodes").json()["data"]
        if n["attributes"]["name"] == "Boots"
    )
    assert copied_boots["id"] != tree["boots"]
    assert "curated_products" not in copied_boots["attributes"]
    products = api.get(f"/pcm/hierarchies/{new_hid}/nodes/{copied_boots['id']}/products").json()
    assert products["meta"]["results"]["total"] == 0
    # The original is untouched.
    assert (
        api.get(f"/pcm/hierarchies/{tree['hid']}/nodes/{tree['boots']}/products").json()["meta"]["results"][
            "total"
        ]
        == 1
    )


def test_duplicate_with_products_copies_links_and_curation(api: Caller) -> None:
    tree = make_tree(api)
    job = duplicate(api, tree["hid"], name="With products", include_products=True).json()["data"]
    new_hid = job["meta"]["hierarchy_id"]
    boots = next(
        n
        for n in api.get(f"/pcm/hierarchies/{new_hid}/nodes").json()["data"]
        if n["attributes"]["name"] == "Boots"
    )
    assert boots["attributes"]["curated_products"] == [tree["product"]]
    listed = api.get(f"/pcm/hierarchies/{new_hid}/nodes/{boots['id']}/products").json()["data"]
    assert [p["id"] for p in listed] == [tree["product"]]
    nodes_of_product = api.get(f"/pcm/products/{tree['product']}/nodes").json()
    assert nodes_of_product["meta"]["results"]["total"] == 2


def test_jobs_are_listed_and_fetched(api: Caller) -> None:
    tree = make_tree(api)
    job = duplicate(api, tree["hid"], name="Again").json()["data"]
    fetched = api.get(f"/pcm/jobs/{job['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["data"] == job
    listed = api.get("/pcm/jobs").json()
    assert [j["id"] for j in listed["data"]] == [job["id"]]
    assert api.get("/pcm/jobs/00000000-0000-0000-0000-000000000001").status_code == 404


def test_duplicate_validation(api: Caller) -> None:
    tree = make_tree(api)
    assert duplicate(api, "00000000-0000-0000-0000-000000000001", name="x").status_code == 404
    too_long = duplicate(api, tree["hid"], name="x" * 1001)
    assert too_long.status_code == 422
    errors_of(too_long)
    assert duplicate(api, tree["hid"], include_products="yes").status_code == 422
    assert api.get("/pcm/hierarchies").json()["meta"]["results"]["total"] == 1
