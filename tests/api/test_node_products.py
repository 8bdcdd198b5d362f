"""Node ↔ product links: seed 000, SPEC §2.6 (products of a node), R7 (curated products), §1.3
(`GET /pcm/products/{id}/nodes`, `attach_nodes`, `detach_nodes`), §B-7, §B-8."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from assortment.db.models import NodeProduct
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of
from tests.trees import make_hierarchy, make_node, make_product, node_url, product_links, refs


@pytest.fixture
def hid(api: Caller) -> str:
    return str(make_hierarchy(api, name="Major Appliances")["id"])


@pytest.fixture
def nid(api: Caller, hid: str) -> str:
    return str(make_node(api, hid, "Electric Ranges", slug="Electric-Ranges-MA2", sort_order=1)["id"])


def link(api: Caller, hid: str, nid: str, *product_ids: str) -> Any:
    return api.post(f"{node_url(hid, nid)}/relationships/products", json=refs("product", *product_ids))


def unlink(api: Caller, hid: str, nid: str, *product_ids: str) -> Any:
    return api.delete(f"{node_url(hid, nid)}/relationships/products", json=refs("product", *product_ids))


def curate(api: Caller, hid: str, nid: str, curated: list[str] | None) -> Any:
    data = {"type": "node", "id": nid, "attributes": {"curated_products": curated}}
    return api.put(node_url(hid, nid), json={"data": data})


def curated_of(api: Caller, hid: str, nid: str) -> list[str] | None:
    value: list[str] | None = api.get(node_url(hid, nid)).json()["data"]["attributes"].get("curated_products")
    return value


def products(api: Caller, n: int, **attributes: Any) -> list[str]:
    made = []
    for i in range(n):
        made.append(make_product(api, name=f"P{i}", **attributes)["id"])
        time.sleep(0.001)  # distinct updated_at, so "newest first" is well defined
    return made


def links_in_db(db: Database) -> int:
    with db.sessions() as session:
        return session.query(NodeProduct).count()


def assert_422(response: Any, missing_ids: list[str] | None = None) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    [error] = errors_of(response)
    if missing_ids is not None:
        assert sorted(error["meta"]["missing_ids"]) == sorted(missing_ids)
    return error


def attach(api: Caller, path: str, filter_text: Any, node_ids: Any) -> Any:
    return api.post(f"/pcm/products/{path}", json={"data": {"filter": filter_text, "node_ids": node_ids}})


# --- seed 000: POST relationships/products ------------------------------------------------------------


def test_seed_000_link_returns_201_with_the_node(api: Caller, hid: str, nid: str) -> None:
    node = api.get(node_url(hid, nid)).json()["data"]
    product = make_product(api)["id"]
    response = link(api, hid, nid, product)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["type"] == "node"
    assert data["id"] == nid
    assert data["attributes"] == {"name": "Electric Ranges", "slug": "Electric-Ranges-MA2"}
    assert data["relationships"]["products"]["links"]["related"] == f"/hierarchies/{hid}/nodes/{nid}/products"
    assert data["relationships"]["children"]["links"]["related"] == f"/hierarchies/{hid}/nodes/{nid}/children"
    assert data["meta"]["owner"] == "store"
    assert data["meta"]["sort_order"] == 1
    assert data["meta"]["created_at"] == node["meta"]["created_at"]
    assert product_links(api, hid, nid) == [product]


def test_link_several_and_twice_is_a_no_op(api: Caller, db: Database, hid: str, nid: str) -> None:
    a, b = products(api, 2)
    assert link(api, hid, nid, a, b).status_code == 201
    assert link(api, hid, nid, a).status_code == 201
    assert link(api, hid, nid, b, b, a).status_code == 201
    assert sorted(product_links(api, hid, nid)) == sorted([a, b])
    assert links_in_db(db) == 2


def test_one_product_named_twice_in_one_request_is_linked_once(api: Caller, db: Database, hid: str, nid: str) -> None:
    """UUIDs are case-insensitive: the same product in two spellings is one link (was a 500)."""
    product = make_product(api)["id"]
    response = link(api, hid, nid, product, product.upper())
    assert response.status_code == 201, response.text
    assert product_links(api, hid, nid) == [product]
    assert links_in_db(db) == 1


def test_unknown_products_are_422_and_nothing_is_linked(api: Caller, db: Database, hid: str, nid: str) -> None:
    real = make_product(api)["id"]
    ghost, junk = str(uuid.uuid4()), "junk"
    assert_422(link(api, hid, nid, real, ghost, junk), missing_ids=[ghost, junk])
    assert product_links(api, hid, nid) == []
    assert links_in_db(db) == 0


def test_another_store_product_is_missing(api: Caller, keys: Keys, hid: str, nid: str) -> None:
    stranger = keys.caller(store_id=keys.store("elsewhere"))
    theirs = make_product(stranger)["id"]
    assert_422(link(api, hid, nid, theirs), missing_ids=[theirs])


def test_organization_products_can_be_linked_by_a_store(api: Caller, keys: Keys, hid: str, nid: str) -> None:
    org_product = make_product(keys.caller(organization=True))["id"]
    assert link(api, hid, nid, org_product).status_code == 201
    assert product_links(api, hid, nid) == [org_product]


@pytest.mark.parametrize(
    "body",
    [
        {"data": [{"type": "node", "id": "x"}]},
        {"data": [{"id": "x"}]},
        {"data": {"type": "product", "id": "x"}},
        {"data": [{"type": "product"}]},
        {},
    ],
)
def test_link_body_validation(api: Caller, db: Database, hid: str, nid: str, body: Any) -> None:
    for method in ("POST", "DELETE"):
        response = api.request(method, f"{node_url(hid, nid)}/relationships/products", json=body)
        assert response.status_code == 422, response.text
        errors_of(response)


def test_link_path_ids_unknown_are_404(api: Caller, hid: str, nid: str) -> None:
    product = make_product(api)["id"]
    for response in (
        link(api, hid, str(uuid.uuid4()), product),
        link(api, str(uuid.uuid4()), nid, product),
        unlink(api, hid, str(uuid.uuid4()), product),
        api.get(f"{node_url(hid, str(uuid.uuid4()))}/products"),
    ):
        assert response.status_code == 404
        errors_of(response)


# --- DELETE relationships/products ----------------------------------------------------------------------


def test_unlink_returns_200_with_the_node(api: Caller, db: Database, hid: str, nid: str) -> None:
    a, b, c = products(api, 3)
    assert link(api, hid, nid, a, b, c).status_code == 201
    response = unlink(api, hid, nid, a, c, str(uuid.uuid4()), "junk")  # ids not linked are ignored
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["type"] == "node" and data["id"] == nid
    assert product_links(api, hid, nid) == [b]
    assert unlink(api, hid, nid, a).status_code == 200
    assert product_links(api, hid, nid) == [b]
    # The products themselves survive.
    assert api.get(f"/pcm/products/{a}").status_code == 200
    assert links_in_db(db) == 1


# --- GET node products ------------------------------------------------------------------------------------


def test_products_newest_update_first_and_drafts_included(api: Caller, hid: str, nid: str) -> None:
    draft, live, other = products(api, 1) + products(api, 1, status="live") + products(api, 1)
    unlinked = make_product(api)["id"]
    assert link(api, hid, nid, draft, live, other).status_code == 201
    body = api.get(f"{node_url(hid, nid)}/products").json()
    assert [p["id"] for p in body["data"]] == [other, live, draft]
    assert body["meta"]["results"]["total"] == 3
    assert {p["attributes"]["status"] for p in body["data"]} == {"draft", "live"}
    assert all(p["type"] == "product" for p in body["data"])
    assert all(not p["attributes"].get("curated_product") for p in body["data"])
    assert unlinked not in product_links(api, hid, nid)
    # Updating a product makes it the most recently updated one.
    time.sleep(0.002)
    put = api.put(f"/pcm/products/{draft}", json={"data": {"type": "product", "id": draft, "attributes": {"mpn": "x"}}})
    assert put.status_code == 200
    assert product_links(api, hid, nid) == [draft, other, live]
    # Only direct links: a child node's products are not the parent's.
    child = make_node(api, hid, "Child", parent=nid)["id"]
    assert link(api, hid, child, unlinked).status_code == 201
    assert unlinked not in product_links(api, hid, nid)


def test_curated_products_come_first_in_curated_order(api: Caller, hid: str, nid: str) -> None:
    p = products(api, 6)
    assert link(api, hid, nid, *p).status_code == 201
    response = curate(api, hid, nid, [p[1], p[4], p[0]])
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["curated_products"] == [p[1], p[4], p[0]]
    body = api.get(f"{node_url(hid, nid)}/products").json()
    assert [x["id"] for x in body["data"]] == [p[1], p[4], p[0], p[5], p[3], p[2]]
    assert [x["attributes"].get("curated_product") for x in body["data"]] == [True, True, True, None, None, None]
    assert body["meta"]["results"]["total"] == 6


@pytest.mark.parametrize("limit", [2, 3, 4])
def test_paging_across_the_curated_boundary(api: Caller, hid: str, nid: str, limit: int) -> None:
    p = products(api, 7)
    assert link(api, hid, nid, *p).status_code == 201
    assert curate(api, hid, nid, [p[2], p[5], p[0]]).status_code == 200
    expected = [p[2], p[5], p[0], p[6], p[4], p[3], p[1]]
    seen: list[str] = []
    curated_flags: list[Any] = []
    url: str | None = f"{node_url(hid, nid)}/products?page[limit]={limit}"
    while url:
        body = api.get(url).json()
        assert body["meta"]["results"]["total"] == 7
        assert len(body["data"]) <= limit
        seen += [x["id"] for x in body["data"]]
        curated_flags += [x["attributes"].get("curated_product") for x in body["data"]]
        url = body["links"].get("next")
    assert seen == expected
    assert curated_flags == [True] * 3 + [None] * 4
    for offset in range(9):
        page = api.get(f"{node_url(hid, nid)}/products", params={"page[limit]": "2", "page[offset]": str(offset)})
        assert [x["id"] for x in page.json()["data"]] == expected[offset : offset + 2], offset


# --- R7: curated products ------------------------------------------------------------------------------


def test_r7_at_most_20_curated_products(api: Caller, hid: str, nid: str) -> None:
    p = [make_product(api, name=f"P{i}")["id"] for i in range(21)]
    assert link(api, hid, nid, *p).status_code == 201
    assert_422(curate(api, hid, nid, p))
    assert curated_of(api, hid, nid) is None
    response = curate(api, hid, nid, p[:20])
    assert response.status_code == 200, response.text
    assert curated_of(api, hid, nid) == p[:20]
    # Once at 20, a list of 21 is still refused and the stored list is untouched.
    assert_422(curate(api, hid, nid, list(reversed(p))))
    assert curated_of(api, hid, nid) == p[:20]


def test_r7_curated_ids_are_stored_in_canonical_form(api: Caller, hid: str, nid: str) -> None:
    a, b = products(api, 2)
    assert link(api, hid, nid, a, b).status_code == 201
    response = curate(api, hid, nid, [b.upper(), a])
    assert response.status_code == 200, response.text
    assert curated_of(api, hid, nid) == [b, a]
    assert product_links(api, hid, nid) == [b, a]
    assert unlink(api, hid, nid, b.upper()).status_code == 200
    assert curated_of(api, hid, nid) == [a]


def test_r7_curated_products_must_be_linked(api: Caller, hid: str, nid: str) -> None:
    linked, not_linked = products(api, 2)
    other_node = make_node(api, hid, "Other")["id"]
    assert link(api, hid, nid, linked).status_code == 201
    assert link(api, hid, other_node, not_linked).status_code == 201
    for bad in ([linked, not_linked], [str(uuid.uuid4())], ["junk"]):
        assert_422(curate(api, hid, nid, bad), missing_ids=[i for i in bad if i != linked])
        assert curated_of(api, hid, nid) is None
    assert_422(curate(api, hid, nid, [linked, linked]))
    assert curate(api, hid, nid, [linked]).status_code == 200
    assert curated_of(api, hid, nid) == [linked]


def test_r7_curated_list_can_be_cleared(api: Caller, hid: str, nid: str) -> None:
    a, b = products(api, 2)
    assert link(api, hid, nid, a, b).status_code == 201
    emptied: list[list[str] | None] = [[], None]
    for cleared in emptied:
        assert curate(api, hid, nid, [b, a]).status_code == 200
        response = curate(api, hid, nid, cleared)
        assert response.status_code == 200
        assert "curated_products" not in response.json()["data"]["attributes"]
        assert product_links(api, hid, nid) == [b, a]


def test_r7_a_put_without_curated_products_keeps_them(api: Caller, hid: str, nid: str) -> None:
    a, b = products(api, 2)
    assert link(api, hid, nid, a, b).status_code == 201
    assert curate(api, hid, nid, [a]).status_code == 200
    data = {"type": "node", "id": nid, "attributes": {"description": "x"}}
    assert api.put(node_url(hid, nid), json={"data": data}).status_code == 200
    assert curated_of(api, hid, nid) == [a]


def test_r7_unlinking_removes_a_product_from_the_curated_list(api: Caller, hid: str, nid: str) -> None:
    a, b, c = products(api, 3)
    assert link(api, hid, nid, a, b, c).status_code == 201
    assert curate(api, hid, nid, [c, a, b]).status_code == 200
    response = unlink(api, hid, nid, a)
    assert response.json()["data"]["attributes"]["curated_products"] == [c, b]
    assert curated_of(api, hid, nid) == [c, b]
    assert product_links(api, hid, nid) == [c, b]
    assert unlink(api, hid, nid, c, b).status_code == 200
    assert curated_of(api, hid, nid) is None
    # Linking again does not make it curated again.
    assert link(api, hid, nid, a).status_code == 201
    assert curated_of(api, hid, nid) is None


def test_r7_detach_nodes_removes_a_product_from_the_curated_list(api: Caller, hid: str, nid: str) -> None:
    a, b = products(api, 2)
    other = make_node(api, hid, "Other")["id"]
    for node in (nid, other):
        assert link(api, hid, node, a, b).status_code == 201
        assert curate(api, hid, node, [a, b]).status_code == 200
    response = attach(api, "detach_nodes", f"eq(id,{a})", [nid])
    assert response.status_code == 200, response.text
    assert curated_of(api, hid, nid) == [b]
    assert curated_of(api, hid, other) == [a, b]
    assert attach(api, "detach_nodes", f"eq(id,{b})", [nid]).status_code == 200
    assert curated_of(api, hid, nid) is None


def test_r7_deleting_a_product_removes_it_from_curated_lists(api: Caller, hid: str, nid: str) -> None:
    a, b = products(api, 2)
    other = make_node(api, hid, "Other")["id"]
    for node in (nid, other):
        assert link(api, hid, node, a, b).status_code == 201
    assert curate(api, hid, nid, [b, a]).status_code == 200
    assert curate(api, hid, other, [a]).status_code == 200
    assert api.delete(f"/pcm/products/{a}").status_code == 204
    assert curated_of(api, hid, nid) == [b]
    assert curated_of(api, hid, other) is None
    assert product_links(api, hid, nid) == [b]
    body = api.get(f"{node_url(hid, nid)}/products").json()
    assert [x["attributes"].get("curated_product") for x in body["data"]] == [True]


# --- GET /pcm/products/{id}/nodes ------------------------------------------------------------------------


def test_product_nodes_with_breadcrumbs(api: Caller, hid: str, nid: str) -> None:
    second = make_hierarchy(api, name="Second", slug="second")["id"]
    top = make_node(api, second, "Top")["id"]
    deep = make_node(api, second, "Deep", parent=top, slug="deep")["id"]
    draft = make_product(api)["id"]
    lonely = make_product(api)["id"]
    assert link(api, hid, nid, draft).status_code == 201
    assert link(api, second, deep, draft).status_code == 201
    response = api.get(f"/pcm/products/{draft}/nodes")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["results"]["total"] == 2
    by_id = {n["id"]: n for n in body["data"]}
    assert [n["id"] for n in body["data"]] == [nid, deep]
    assert by_id[deep] == api.get(node_url(second, deep)).json()["data"]
    assert by_id[deep]["meta"]["hierarchy_id"] == second
    assert by_id[deep]["meta"]["breadcrumbs"] == [
        {"id": second, "name": "Second", "slug": "second"},
        {"id": top, "name": "Top"},
        {"id": deep, "name": "Deep", "slug": "deep"},
    ]
    assert by_id[nid]["meta"]["hierarchy_id"] == hid
    assert [c["id"] for c in by_id[nid]["meta"]["breadcrumbs"]] == [hid, nid]
    paged = api.get(f"/pcm/products/{draft}/nodes", params={"page[limit]": "1", "page[offset]": "1"}).json()
    assert [n["id"] for n in paged["data"]] == [deep]
    assert paged["meta"]["results"]["total"] == 2
    assert api.get(f"/pcm/products/{lonely}/nodes").json()["data"] == []


@pytest.mark.parametrize("product_id", [str(uuid.uuid4()), "junk"])
def test_product_nodes_of_an_unknown_product_is_404(api: Caller, product_id: str) -> None:
    response = api.get(f"/pcm/products/{product_id}/nodes")
    assert response.status_code == 404
    errors_of(response)


def test_product_nodes_of_another_store_product_is_404(api: Caller, keys: Keys, hid: str, nid: str) -> None:
    product = make_product(api)["id"]
    assert link(api, hid, nid, product).status_code == 201
    stranger = keys.caller(store_id=keys.store("elsewhere"))
    response = stranger.get(f"/pcm/products/{product}/nodes")
    assert response.status_code == 404
    errors_of(response)
    assert keys.caller(grant="implicit").get(f"/pcm/products/{product}/nodes").status_code == 403


# --- attach_nodes / detach_nodes ------------------------------------------------------------------------


def test_attach_nodes_by_filter(api: Caller, db: Database, hid: str, nid: str) -> None:
    other = make_node(api, hid, "Other")["id"]
    shirts = [make_product(api, name=f"Shirt {i}", sku=f"SH-{i}")["id"] for i in range(3)]
    hat = make_product(api, name="Hat", sku="HAT")["id"]
    ghost = str(uuid.uuid4())
    response = attach(api, "attach_nodes", "like(sku,SH-*)", [nid, other, nid, ghost, "junk"])
    assert response.status_code == 200, response.text
    assert response.json() == {"meta": {"nodes_attached": 2, "nodes_not_found": [ghost, "junk"]}}
    assert sorted(product_links(api, hid, nid)) == sorted(shirts)
    assert sorted(product_links(api, hid, other)) == sorted(shirts)
    assert hat not in product_links(api, hid, nid)
    assert links_in_db(db) == 6
    # Idempotent: attaching again changes nothing and reports the same.
    again = attach(api, "attach_nodes", "like(sku,SH-*)", [nid, other])
    assert again.json() == {"meta": {"nodes_attached": 2, "nodes_not_found": []}}
    assert links_in_db(db) == 6
    # Already linked products are kept; new matches are added.
    assert attach(api, "attach_nodes", "eq(sku,HAT)", [nid]).json()["meta"]["nodes_attached"] == 1
    assert sorted(product_links(api, hid, nid)) == sorted([*shirts, hat])


def test_attach_nodes_counts_a_node_named_in_two_spellings_once(api: Caller, db: Database, nid: str) -> None:
    make_product(api, sku="A")
    for path, counted in (("attach_nodes", "nodes_attached"), ("detach_nodes", "nodes_detached")):
        response = attach(api, path, "eq(sku,A)", [nid, nid.upper()])
        assert response.status_code == 200, response.text
        assert response.json() == {"meta": {counted: 1, "nodes_not_found": []}}
        assert links_in_db(db) == (1 if path == "attach_nodes" else 0)


def test_attach_nodes_counts_nodes_even_when_no_product_matches(api: Caller, db: Database, nid: str) -> None:
    make_product(api, sku="A")
    response = attach(api, "attach_nodes", "eq(sku,NOPE)", [nid])
    assert response.json() == {"meta": {"nodes_attached": 1, "nodes_not_found": []}}
    assert links_in_db(db) == 0


def test_attach_nodes_uses_the_product_filter_table(api: Caller, hid: str, nid: str) -> None:
    live = make_product(api, name="Live", status="live")["id"]
    make_product(api, name="Draft")
    assert attach(api, "attach_nodes", "eq(status,live)", [nid]).status_code == 200
    assert product_links(api, hid, nid) == [live]


def test_attach_nodes_ignores_products_of_other_stores(api: Caller, keys: Keys, hid: str, nid: str) -> None:
    stranger = keys.caller(store_id=keys.store("elsewhere"))
    make_product(stranger, sku="SAME")
    mine = make_product(api, sku="SAME")["id"]
    assert attach(api, "attach_nodes", "eq(sku,SAME)", [nid]).status_code == 200
    assert product_links(api, hid, nid) == [mine]


def test_attach_nodes_cannot_reach_another_store_node(api: Caller, keys: Keys) -> None:
    stranger = keys.caller(store_id=keys.store("elsewhere"))
    their_hid = make_hierarchy(stranger, name="Theirs")["id"]
    their_node = make_node(stranger, their_hid, "Theirs")["id"]
    make_product(api, sku="S")
    response = attach(api, "attach_nodes", "eq(sku,S)", [their_node])
    assert response.json() == {"meta": {"nodes_attached": 0, "nodes_not_found": [their_node]}}
    assert product_links(stranger, their_hid, their_node) == []


def test_detach_nodes_by_filter(api: Caller, db: Database, hid: str, nid: str) -> None:
    other = make_node(api, hid, "Other")["id"]
    a = make_product(api, sku="A-1")["id"]
    b = make_product(api, sku="B-1")["id"]
    for node in (nid, other):
        assert link(api, hid, node, a, b).status_code == 201
    ghost = str(uuid.uuid4())
    response = attach(api, "detach_nodes", "eq(sku,A-1)", [nid, nid, ghost])
    assert response.status_code == 200, response.text
    assert response.json() == {"meta": {"nodes_detached": 1, "nodes_not_found": [ghost]}}
    assert product_links(api, hid, nid) == [b]
    assert sorted(product_links(api, hid, other)) == sorted([a, b])
    # Idempotent.
    again = attach(api, "detach_nodes", "eq(sku,A-1)", [nid])
    assert again.json() == {"meta": {"nodes_detached": 1, "nodes_not_found": []}}
    assert product_links(api, hid, nid) == [b]
    assert links_in_db(db) == 3
    assert api.get(f"/pcm/products/{a}").status_code == 200


@pytest.mark.parametrize("path", ["attach_nodes", "detach_nodes"])
@pytest.mark.parametrize("filter_text", ["eq(colour,red)", "eq(sku", "", "zz(sku,a)", "eq(has_nodes,true)"])
def test_attach_and_detach_with_a_bad_filter_are_400(
    api: Caller, db: Database, nid: str, path: str, filter_text: str
) -> None:
    make_product(api, sku="A")
    response = attach(api, path, filter_text, [nid])
    assert response.status_code == 400, response.text
    [error] = errors_of(response)
    assert error["detail"] == "Could not parse the supplied filter"
    assert links_in_db(db) == 0


@pytest.mark.parametrize("path", ["attach_nodes", "detach_nodes"])
@pytest.mark.parametrize(
    "data",
    [
        {"node_ids": []},
        {"filter": "eq(sku,A)"},
        {"filter": 5, "node_ids": []},
        {"filter": "eq(sku,A)", "node_ids": "x"},
        {"filter": "eq(sku,A)", "node_ids": [5]},
    ],
)
def test_attach_and_detach_with_a_missing_or_wrong_field_are_422(
    api: Caller, db: Database, path: str, data: dict[str, Any]
) -> None:
    response = api.post(f"/pcm/products/{path}", json={"data": data})
    assert response.status_code == 422, response.text
    errors_of(response)
    assert links_in_db(db) == 0
