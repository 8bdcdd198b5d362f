"""Nodes: SPEC §2.2 (object), §2.3 (rules R1–R6), §2.4 (child order), §2.6 (endpoints), seed 001."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from assortment.db.models import Node, NodeProduct, Product
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of
from tests.trees import (
    all_nodes,
    children,
    ids_of,
    make_hierarchy,
    make_node,
    make_product,
    node_body,
    node_url,
    parent_of,
    refs,
    snapshot,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def hid(api: Caller) -> str:
    return str(make_hierarchy(api, name="Major Appliances", slug="major-appliances")["id"])


def count(db: Database, model: Any) -> int:
    with db.sessions() as session:
        return int(session.query(model).count())


def put_node(api: Caller, hid: str, nid: str, meta: dict[str, Any] | None = None, **attributes: Any) -> Any:
    data: dict[str, Any] = {"type": "node", "id": nid, "attributes": attributes}
    if meta is not None:
        data["meta"] = meta
    return api.put(node_url(hid, nid), json={"data": data})


def set_children(api: Caller, hid: str, parent: str | None, *ids: str, **sort_orders: Any) -> Any:
    """POST relationships/children on a node, or on the hierarchy when `parent` is None."""
    url = f"/pcm/hierarchies/{hid}" if parent is None else node_url(hid, parent)
    return api.post(f"{url}/relationships/children", json=refs("node", *ids, sort_orders=sort_orders))


def put_parent(api: Caller, hid: str, nid: str, parent: str) -> Any:
    return api.put(f"{node_url(hid, nid)}/relationships/parent", json={"data": {"type": "node", "id": parent}})


def assert_422(response: Any, missing_ids: list[str] | None = None) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    [error] = errors_of(response)
    assert error["title"] == "Failed Validation"
    if missing_ids is not None:
        assert sorted(error["meta"]["missing_ids"]) == sorted(missing_ids)
    return error


def crumbs(node: dict[str, Any]) -> list[str]:
    return [c["name"] for c in node["meta"]["breadcrumbs"]]


# --- create and the node object (§2.2) ----------------------------------------------------------------


def test_top_level_node_object(api: Caller, hid: str) -> None:
    data = make_node(
        api,
        hid,
        "Ranges",
        slug="ranges",
        description="Stoves",
        locales={"fr-FR": {"name": "Cuisinières"}},
        admin_attributes={"buyer": "ann"},
        shopper_attributes={"badge": "hot"},
    )
    nid = data["id"]
    uuid.UUID(nid)
    assert data["type"] == "node"
    assert data["attributes"] == {
        "name": "Ranges",
        "slug": "ranges",
        "description": "Stoves",
        "locales": {"fr-FR": {"name": "Cuisinières"}},
        "admin_attributes": {"buyer": "ann"},
        "shopper_attributes": {"badge": "hot"},
    }
    base = f"/hierarchies/{hid}/nodes/{nid}"
    # No parent relationship for a top-level node (§B-23).
    assert data["relationships"] == {
        "children": {"data": [], "links": {"related": f"{base}/children"}},
        "products": {"data": [], "links": {"related": f"{base}/products"}},
    }
    meta = data["meta"]
    assert set(meta) == {"created_at", "updated_at", "owner", "parent_name", "hierarchy_id", "breadcrumbs"}
    assert meta["owner"] == "store"
    assert meta["parent_name"] == "Major Appliances"
    assert meta["hierarchy_id"] == hid
    assert TIMESTAMP.match(meta["created_at"]) and TIMESTAMP.match(meta["updated_at"])
    assert meta["breadcrumbs"] == [
        {"id": hid, "name": "Major Appliances", "slug": "major-appliances"},
        {"id": nid, "name": "Ranges", "slug": "ranges", "locales": {"fr-FR": {"name": "Cuisinières"}}},
    ]
    assert api.get(node_url(hid, nid)).json() == {"data": data}


def test_child_node_object_and_breadcrumbs(api: Caller, hid: str) -> None:
    top = make_node(api, hid, "Ranges", slug="ranges")
    mid = make_node(api, hid, "Electric", parent=top["id"], sort_order=3)
    leaf = make_node(api, hid, "Induction", parent=mid["id"], slug="induction", sort_order=-2)
    assert leaf["relationships"]["parent"] == {"data": {"type": "node", "id": mid["id"]}}
    assert mid["relationships"]["parent"] == {"data": {"type": "node", "id": top["id"]}}
    assert leaf["meta"]["parent_name"] == "Electric"
    assert mid["meta"]["parent_name"] == "Ranges"
    assert leaf["meta"]["hierarchy_id"] == hid
    assert leaf["meta"]["sort_order"] == -2
    assert mid["meta"]["sort_order"] == 3
    assert leaf["meta"]["breadcrumbs"] == [
        {"id": hid, "name": "Major Appliances", "slug": "major-appliances"},
        {"id": top["id"], "name": "Ranges", "slug": "ranges"},
        {"id": mid["id"], "name": "Electric"},
        {"id": leaf["id"], "name": "Induction", "slug": "induction"},
    ]
    assert api.get(node_url(hid, leaf["id"])).json()["data"] == leaf
    assert children(api, hid) == [top["id"]]
    assert children(api, hid, top["id"]) == [mid["id"]]
    assert children(api, hid, mid["id"]) == [leaf["id"]]


def test_zero_sort_order_is_kept(api: Caller, hid: str) -> None:
    assert make_node(api, hid, "Zero", sort_order=0)["meta"]["sort_order"] == 0


def test_renaming_a_parent_or_the_hierarchy_shows_in_children(api: Caller, hid: str) -> None:
    top = make_node(api, hid, "Top")
    child = make_node(api, hid, "Child", parent=top["id"])
    assert put_node(api, hid, top["id"], name="Renamed").status_code == 200
    hierarchy_put = api.put(
        f"/pcm/hierarchies/{hid}", json={"data": {"type": "hierarchy", "id": hid, "attributes": {"name": "HH"}}}
    )
    assert hierarchy_put.status_code == 200
    got = api.get(node_url(hid, child["id"])).json()["data"]
    assert got["meta"]["parent_name"] == "Renamed"
    assert crumbs(got) == ["HH", "Renamed", "Child"]
    assert api.get(node_url(hid, top["id"])).json()["data"]["meta"]["parent_name"] == "HH"


def test_deep_trees_are_allowed(api: Caller, hid: str) -> None:
    """R6: no PIM depth limit."""
    parent = None
    for depth in range(12):
        parent = make_node(api, hid, f"Level {depth}", parent=parent)["id"]
    assert parent is not None
    deepest = api.get(node_url(hid, parent)).json()["data"]
    assert deepest["meta"]["breadcrumbs"][0]["id"] == hid
    assert deepest["meta"]["parent_name"] == "Level 10"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"type": "node", "attributes": {}}, "name"),
        ({"type": "node", "attributes": {"name": None}}, "name"),
        ({"type": "node", "attributes": {"name": ""}}, "name"),
        ({"type": "node", "attributes": {"name": ["x"]}}, "name"),
        ({"type": "hierarchy", "attributes": {"name": "x"}}, "type"),
        ({"attributes": {"name": "x"}}, "type"),
        ({"type": "node"}, "attributes"),
        ({"type": "node", "attributes": {"name": "x", "slug": "a b"}}, "slug"),
        ({"type": "node", "attributes": {"name": "x"}, "meta": {"sort_order": "high"}}, "sort_order"),
        ({"type": "node", "attributes": {"name": "x"}, "meta": {"sort_order": 1.5}}, "sort_order"),
        ({"type": "node", "attributes": {"name": "x"}, "meta": {"sort_order": 2**40}}, "sort_order"),
        (
            {"type": "node", "attributes": {"name": "x"}, "relationships": {"parent": {"data": {"id": "y"}}}},
            "type",
        ),
    ],
)
def test_invalid_nodes_are_refused(api: Caller, db: Database, hid: str, data: Any, fragment: str) -> None:
    response = api.post(f"/pcm/hierarchies/{hid}/nodes", json={"data": data})
    assert response.status_code == 422, response.text
    assert any(fragment in e.get("detail", "") for e in errors_of(response))
    assert count(db, Node) == 0


def test_create_with_curated_products_is_refused(api: Caller, db: Database, hid: str) -> None:
    """R7 / §2.6: a new node has no products yet, so it cannot curate any."""
    product = make_product(api)
    response = api.post(f"/pcm/hierarchies/{hid}/nodes", json=node_body("Curated", curated_products=[product["id"]]))
    assert_422(response)
    assert count(db, Node) == 0


def test_create_under_an_unknown_or_foreign_parent(api: Caller, db: Database, hid: str) -> None:
    """R2/R5: the parent is a body reference → 422 with meta.missing_ids."""
    other = make_hierarchy(api, name="Other")["id"]
    foreign = make_node(api, other, "Foreign")["id"]
    for parent in (foreign, str(uuid.uuid4()), hid, "nope"):
        response = api.post(f"/pcm/hierarchies/{hid}/nodes", json=node_body("Orphan", parent=parent))
        assert_422(response, missing_ids=[parent])
    assert children(api, hid) == []
    assert count(db, Node) == 1


def test_list_nodes_of_a_hierarchy(api: Caller, hid: str) -> None:
    other = make_hierarchy(api, name="Other")["id"]
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B", parent=a)["id"]
    c = make_node(api, hid, "C", parent=b)["id"]
    d = make_node(api, other, "D")["id"]
    assert [n["id"] for n in all_nodes(api, hid)] == [a, b, c]
    page = api.get(f"/pcm/hierarchies/{hid}/nodes", params={"page[limit]": "2", "page[offset]": "1"}).json()
    assert [n["id"] for n in page["data"]] == [b, c]
    assert page["meta"]["results"]["total"] == 3
    everything = api.get("/pcm/hierarchies/nodes").json()
    assert [n["id"] for n in everything["data"]] == [a, b, c, d]
    assert {n["type"] for n in everything["data"]} == {"node"}
    mixed = api.get("/pcm/hierarchies/nodes", params={"include_hierarchies": "true"}).json()["data"]
    assert {(x["type"], x["id"]) for x in mixed if x["type"] == "hierarchy"} == {
        ("hierarchy", hid),
        ("hierarchy", other),
    }


def test_node_list_filters(api: Caller, hid: str) -> None:
    other = make_hierarchy(api, name="Other")["id"]
    a = make_node(api, hid, "Alpha", slug="alpha", description="first")["id"]
    b = make_node(api, hid, "Beta", parent=a)["id"]
    c = make_node(api, hid, "Gamma", parent=a, slug="gamma")["id"]
    d = make_node(api, other, "Alpha", slug="alpha")["id"]

    def listed(url: str, expression: str) -> list[str]:
        response = api.get(url, params={"filter": expression})
        assert response.status_code == 200, (expression, response.text)
        return [n["id"] for n in response.json()["data"]]

    every = "/pcm/hierarchies/nodes"
    assert listed(every, "eq(name,Alpha)") == [a, d]
    assert listed(every, f"eq(hierarchy_id,{other})") == [d]
    assert listed(every, f"eq(parent_id,{a})") == [b, c]
    assert listed(every, f"eq(parent_id,{hid})") == [a]
    assert listed(every, "eq(has_children,true)") == [a]
    assert listed(every, "eq(has_children,false)") == [b, c, d]
    assert listed(every, "like(name,*a)") == [a, b, c, d]
    assert listed(every, "ilike(name,alp*)") == [a, d]
    assert listed(every, "eq(slug,gamma)") == [c]
    assert listed(every, "eq(description,first)") == [a]
    assert listed(every, f"in(id,{b},{d})") == [b, d]
    assert listed(f"/pcm/hierarchies/{hid}/nodes", "eq(name,Alpha)") == [a]
    assert listed(f"{node_url(hid, a)}/children", "eq(name,Gamma)") == [c]
    assert listed(f"/pcm/hierarchies/{hid}/children", "eq(name,Beta)") == []
    assert api.get(every, params={"filter": "eq(colour,red)"}).status_code == 400


def test_node_breadcrumb_and_locale_filters(api: Caller, hid: str) -> None:
    top = make_node(api, hid, "Top", slug="top", locales={"fr-FR": {"name": "Haut"}})["id"]
    child = make_node(api, hid, "Child", parent=top)["id"]
    other = make_node(api, hid, "Other")["id"]
    make_node(api, make_hierarchy(api, name="Elsewhere")["id"], "Top", slug="topper")
    refused = []
    for expression, expected in (
        (f"eq(breadcrumbs.id,{top})", [top, child]),
        (f"in(breadcrumbs.id,{hid})", [top, child, other]),
        ("eq(breadcrumbs.name,Top)", [top, child]),
        ("like(breadcrumbs.slug,top*)", [top, child]),
        ("eq(breadcrumbs.locales.fr-FR.name,Haut)", [top, child]),
        ("eq(locales.fr-FR.name,Haut)", [top]),
        ("ilike(locales.fr-FR.name,haut)", [top]),
    ):
        response = api.get(f"/pcm/hierarchies/{hid}/nodes", params={"filter": expression})
        if response.status_code != 200 or [n["id"] for n in response.json()["data"]] != expected:
            refused.append((expression, response.status_code))
    assert refused == []


def test_get_node_of_another_hierarchy_is_404(api: Caller, hid: str) -> None:
    other = make_hierarchy(api, name="Other")["id"]
    nid = make_node(api, other, "Elsewhere")["id"]
    mine = make_node(api, hid, "Mine")["id"]
    for response in (
        api.get(node_url(hid, nid)),
        put_node(api, hid, nid, name="x"),
        api.delete(node_url(hid, nid)),
        api.get(f"{node_url(hid, nid)}/children"),
        api.get(f"{node_url(hid, nid)}/products"),
        set_children(api, hid, nid, mine),
        put_parent(api, hid, nid, mine),
        api.delete(f"{node_url(hid, nid)}/relationships/parent"),
        api.post(f"{node_url(hid, nid)}/relationships/products", json=refs("product", str(uuid.uuid4()))),
        api.get(node_url(hid, str(uuid.uuid4()))),
        api.get(node_url(hid, "not-a-uuid")),
    ):
        assert response.status_code == 404, (response.request.url, response.text)
        [error] = errors_of(response)
        assert error["title"] == "Not Found"
    assert api.get(node_url(other, nid)).status_code == 200
    assert parent_of(api.get(node_url(hid, mine)).json()["data"]) is None


# --- update -------------------------------------------------------------------------------------------


def test_put_is_a_partial_update(api: Caller, hid: str) -> None:
    node = make_node(api, hid, "Old", slug="old", description="keep", sort_order=4)
    time.sleep(0.002)
    response = put_node(api, hid, node["id"], name="New")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["attributes"] == {"name": "New", "slug": "old", "description": "keep"}
    assert data["meta"]["sort_order"] == 4
    assert data["meta"]["created_at"] == node["meta"]["created_at"]
    assert data["meta"]["updated_at"] > node["meta"]["updated_at"]
    assert crumbs(data) == ["Major Appliances", "New"]
    assert api.get(node_url(hid, node["id"])).json()["data"] == data


def test_put_with_nothing_to_change_changes_nothing(api: Caller, hid: str) -> None:
    node = make_node(api, hid, "Same", sort_order=1)
    response = put_node(api, hid, node["id"])
    assert response.status_code == 200
    assert response.json()["data"] == node


def test_put_sort_order_sets_and_null_clears_it(api: Caller, hid: str) -> None:
    node = make_node(api, hid, "Sorted")
    assert "sort_order" not in node["meta"]
    set_to_7 = put_node(api, hid, node["id"], meta={"sort_order": 7})
    assert set_to_7.json()["data"]["meta"]["sort_order"] == 7
    # A PUT without meta.sort_order keeps it...
    assert put_node(api, hid, node["id"], description="d").json()["data"]["meta"]["sort_order"] == 7
    assert put_node(api, hid, node["id"], meta={}).json()["data"]["meta"]["sort_order"] == 7
    # ...and null clears it: the member disappears.
    cleared = put_node(api, hid, node["id"], meta={"sort_order": None})
    assert cleared.status_code == 200
    assert "sort_order" not in cleared.json()["data"]["meta"]
    assert "sort_order" not in api.get(node_url(hid, node["id"])).json()["data"]["meta"]


def test_put_null_clears_optional_attributes(api: Caller, hid: str) -> None:
    node = make_node(api, hid, "N", slug="n", description="d", shopper_attributes={"a": "1", "b": "2"})
    response = put_node(api, hid, node["id"], slug=None, description=None, shopper_attributes={"a": None})
    assert response.status_code == 200
    assert response.json()["data"]["attributes"] == {"name": "N", "shopper_attributes": {"b": "2"}}


@pytest.mark.parametrize(
    ("attributes", "meta"),
    [
        ({"name": None}, None),
        ({"name": ""}, None),
        ({"slug": "no spaces allowed"}, None),
        ({}, {"sort_order": "1"}),
    ],
)
def test_put_validation(api: Caller, hid: str, attributes: dict[str, Any], meta: Any) -> None:
    node = make_node(api, hid, "Valid", slug="valid")
    assert_422(put_node(api, hid, node["id"], meta=meta, **attributes))
    assert api.get(node_url(hid, node["id"])).json()["data"] == node


def test_put_id_must_match_the_path(api: Caller, hid: str) -> None:
    node = make_node(api, hid, "Mine")
    other = make_node(api, hid, "Other")
    data = {"type": "node", "id": other["id"], "attributes": {"name": "x"}}
    assert_422(api.put(node_url(hid, node["id"]), json={"data": data}))
    no_id = {"type": "node", "attributes": {"name": "x"}}
    assert api.put(node_url(hid, node["id"]), json={"data": no_id}).status_code == 422
    wrong_type = {"type": "hierarchy", "id": node["id"], "attributes": {"name": "x"}}
    assert api.put(node_url(hid, node["id"]), json={"data": wrong_type}).status_code == 422
    assert api.get(node_url(hid, node["id"])).json()["data"] == node
    assert api.get(node_url(hid, other["id"])).json()["data"] == other


# --- delete ---------------------------------------------------------------------------------------------


def test_delete_removes_the_subtree_and_its_links(api: Caller, db: Database, hid: str) -> None:
    top = make_node(api, hid, "Top")["id"]
    doomed = make_node(api, hid, "Doomed", parent=top)["id"]
    child = make_node(api, hid, "Child", parent=doomed)["id"]
    grandchild = make_node(api, hid, "Grandchild", parent=child)["id"]
    sibling = make_node(api, hid, "Sibling", parent=top)["id"]
    product = make_product(api)["id"]
    for nid in (doomed, child, grandchild, sibling):
        linked = api.post(f"{node_url(hid, nid)}/relationships/products", json=refs("product", product))
        assert linked.status_code == 201
    response = api.delete(node_url(hid, doomed))
    assert response.status_code == 204
    assert response.content == b""
    for nid in (doomed, child, grandchild):
        assert api.get(node_url(hid, nid)).status_code == 404
    assert [n["id"] for n in all_nodes(api, hid)] == [top, sibling]
    assert children(api, hid, top) == [sibling]
    assert count(db, NodeProduct) == 1
    assert count(db, Product) == 1
    nodes_of_product = api.get(f"/pcm/products/{product}/nodes").json()["data"]
    assert [n["id"] for n in nodes_of_product] == [sibling]
    assert api.delete(node_url(hid, doomed)).status_code == 404
    # The freed name can be used again under the same parent.
    make_node(api, hid, "Doomed", parent=top)


# --- R1: sibling uniqueness ---------------------------------------------------------------------------


@pytest.mark.parametrize("clash", ["name", "slug"])
def test_r1_create_clash_among_top_level_nodes(api: Caller, hid: str, clash: str) -> None:
    make_node(api, hid, "Ranges", slug="ranges")
    before = snapshot(api, hid)
    body = node_body("Ranges", slug="other") if clash == "name" else node_body("Other", slug="ranges")
    error = assert_422(api.post(f"/pcm/hierarchies/{hid}/nodes", json=body))
    assert clash in error["detail"]
    assert snapshot(api, hid) == before


@pytest.mark.parametrize("clash", ["name", "slug"])
def test_r1_create_clash_under_a_parent(api: Caller, hid: str, clash: str) -> None:
    top = make_node(api, hid, "Top")["id"]
    make_node(api, hid, "Ranges", slug="ranges", parent=top)
    before = snapshot(api, hid)
    body = (
        node_body("Ranges", slug="other", parent=top)
        if clash == "name"
        else node_body("Other", slug="ranges", parent=top)
    )
    error = assert_422(api.post(f"/pcm/hierarchies/{hid}/nodes", json=body))
    assert clash in error["detail"]
    assert snapshot(api, hid) == before


def test_r1_same_name_and_slug_elsewhere_is_fine(api: Caller, hid: str) -> None:
    top = make_node(api, hid, "Ranges", slug="ranges")["id"]
    other_top = make_node(api, hid, "Other", slug="other")["id"]
    make_node(api, hid, "Ranges", slug="ranges", parent=top)
    make_node(api, hid, "Ranges", slug="ranges", parent=other_top)
    other_hierarchy = make_hierarchy(api, name="Second")["id"]
    make_node(api, other_hierarchy, "Ranges", slug="ranges")
    # Nodes without a slug never clash on slug.
    make_node(api, hid, "No slug 1")
    make_node(api, hid, "No slug 2")


def test_r1_comparison_is_case_sensitive(api: Caller, hid: str) -> None:
    make_node(api, hid, "Ranges", slug="ranges")
    make_node(api, hid, "RANGES", slug="Ranges")
    make_node(api, hid, "ranges", slug="RANGES")


@pytest.mark.parametrize("clash", ["name", "slug"])
def test_r1_rename_and_reslug(api: Caller, hid: str, clash: str) -> None:
    make_node(api, hid, "Taken", slug="taken")
    mine = make_node(api, hid, "Mine", slug="mine")
    before = snapshot(api, hid)
    attributes: dict[str, Any] = {"name": "Taken"} if clash == "name" else {"slug": "taken"}
    error = assert_422(put_node(api, hid, mine["id"], **attributes))
    assert clash in error["detail"]
    assert snapshot(api, hid) == before
    # Keeping one's own name and slug is not a clash; changing case is not one either.
    assert put_node(api, hid, mine["id"], name="Mine", slug="mine").status_code == 200
    assert put_node(api, hid, mine["id"], name="TAKEN", slug="Taken").status_code == 200


def test_r1_rename_under_a_parent(api: Caller, hid: str) -> None:
    top = make_node(api, hid, "Top")["id"]
    make_node(api, hid, "Taken", parent=top)
    mine = make_node(api, hid, "Mine", parent=top)["id"]
    make_node(api, hid, "Cousin")  # a top-level "Cousin" does not block a child "Cousin"
    assert_422(put_node(api, hid, mine, name="Taken"))
    assert put_node(api, hid, mine, name="Cousin").status_code == 200


@pytest.mark.parametrize("clash", ["name", "slug"])
def test_r1_move_with_node_children(api: Caller, hid: str, clash: str) -> None:
    target = make_node(api, hid, "Target")["id"]
    make_node(api, hid, "Resident", slug="resident", parent=target)
    mover = (
        make_node(api, hid, "Resident", slug="mover")
        if clash == "name"
        else make_node(api, hid, "Mover", slug="resident")
    )["id"]
    before = snapshot(api, hid)
    error = assert_422(set_children(api, hid, target, mover))
    assert clash in error["detail"]
    assert snapshot(api, hid) == before


@pytest.mark.parametrize("clash", ["name", "slug"])
def test_r1_duplicates_inside_one_request(api: Caller, hid: str, clash: str) -> None:
    target = make_node(api, hid, "Target")["id"]
    first = make_node(api, hid, "First", slug="first")["id"]
    second_parent = make_node(api, hid, "Holder")["id"]
    second = (
        make_node(api, hid, "First", slug="second", parent=second_parent)
        if clash == "name"
        else make_node(api, hid, "Second", slug="first", parent=second_parent)
    )["id"]
    before = snapshot(api, hid)
    error = assert_422(set_children(api, hid, target, first, second))
    assert clash in error["detail"]
    assert snapshot(api, hid) == before
    # The same two nodes one by one: the second move is the clash.
    assert set_children(api, hid, target, first).status_code == 200
    assert_422(set_children(api, hid, target, second))


def test_r1_hierarchy_children_duplicates_inside_one_request(api: Caller, hid: str) -> None:
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B")["id"]
    one = make_node(api, hid, "Twin", parent=a)["id"]
    two = make_node(api, hid, "Twin", parent=b)["id"]
    before = snapshot(api, hid)
    assert_422(set_children(api, hid, None, one, two))
    assert snapshot(api, hid) == before


@pytest.mark.parametrize("clash", ["name", "slug"])
def test_r1_move_to_top_level_with_hierarchy_children(api: Caller, hid: str, clash: str) -> None:
    make_node(api, hid, "Resident", slug="resident")
    holder = make_node(api, hid, "Holder")["id"]
    mover = (
        make_node(api, hid, "Resident", slug="x", parent=holder)
        if clash == "name"
        else make_node(api, hid, "Mover", slug="resident", parent=holder)
    )["id"]
    before = snapshot(api, hid)
    error = assert_422(set_children(api, hid, None, mover))
    assert clash in error["detail"]
    assert snapshot(api, hid) == before


@pytest.mark.parametrize("clash", ["name", "slug"])
def test_r1_put_parent(api: Caller, hid: str, clash: str) -> None:
    target = make_node(api, hid, "Target")["id"]
    make_node(api, hid, "Resident", slug="resident", parent=target)
    mover = (
        make_node(api, hid, "Resident", slug="m") if clash == "name" else make_node(api, hid, "Mover", slug="resident")
    )["id"]
    before = snapshot(api, hid)
    assert clash in assert_422(put_parent(api, hid, mover, target))["detail"]
    assert snapshot(api, hid) == before


@pytest.mark.parametrize("clash", ["name", "slug"])
def test_r1_delete_parent_to_root(api: Caller, hid: str, clash: str) -> None:
    make_node(api, hid, "Resident", slug="resident")
    holder = make_node(api, hid, "Holder")["id"]
    mover = (
        make_node(api, hid, "Resident", slug="m", parent=holder)
        if clash == "name"
        else make_node(api, hid, "Mover", slug="resident", parent=holder)
    )["id"]
    before = snapshot(api, hid)
    assert clash in assert_422(api.delete(f"{node_url(hid, mover)}/relationships/parent"))["detail"]
    assert snapshot(api, hid) == before


def test_r1_relisting_a_node_under_its_own_parent_is_no_clash(api: Caller, hid: str) -> None:
    top = make_node(api, hid, "Top")["id"]
    child = make_node(api, hid, "Child", slug="child", parent=top)["id"]
    assert set_children(api, hid, top, child).status_code == 200
    assert set_children(api, hid, top, child, child).status_code == 200
    assert put_parent(api, hid, child, top).status_code == 204
    assert set_children(api, hid, None, top).status_code == 200
    assert children(api, hid, top) == [child]


# --- R2, R3, R4, R5 -----------------------------------------------------------------------------------


def test_r2_children_from_another_hierarchy(api: Caller, hid: str) -> None:
    other = make_hierarchy(api, name="Other")["id"]
    foreign = make_node(api, other, "Foreign")["id"]
    parent = make_node(api, hid, "Parent")["id"]
    local = make_node(api, hid, "Local")["id"]
    before, before_other = snapshot(api, hid), snapshot(api, other)
    assert_422(set_children(api, hid, parent, local, foreign), missing_ids=[foreign])
    assert_422(set_children(api, hid, None, foreign), missing_ids=[foreign])
    assert_422(put_parent(api, hid, local, foreign), missing_ids=[foreign])
    # A node of another hierarchy cannot be pulled in through the other hierarchy's path either.
    assert_422(set_children(api, other, foreign, local), missing_ids=[local])
    assert snapshot(api, hid) == before
    assert snapshot(api, other) == before_other


def test_r3_a_node_is_not_its_own_parent(api: Caller, hid: str) -> None:
    node = make_node(api, hid, "Self")["id"]
    other = make_node(api, hid, "Other")["id"]
    before = snapshot(api, hid)
    assert_422(set_children(api, hid, node, node))
    assert_422(set_children(api, hid, node, other, node))
    assert_422(put_parent(api, hid, node, node))
    assert_422(set_children(api, hid, node, node.upper()))
    assert snapshot(api, hid) == before


def test_r4_no_cycles(api: Caller, hid: str) -> None:
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B", parent=a)["id"]
    c = make_node(api, hid, "C", parent=b)["id"]
    d = make_node(api, hid, "D", parent=c)["id"]
    free = make_node(api, hid, "Free")["id"]
    before = snapshot(api, hid)
    # Direct: A under its child B.
    assert_422(put_parent(api, hid, a, b))
    assert_422(set_children(api, hid, b, a))
    # Deep: A under its great-grandchild D; B under D.
    assert_422(put_parent(api, hid, a, d))
    assert_422(set_children(api, hid, d, a))
    assert_422(set_children(api, hid, d, b))
    assert_422(set_children(api, hid, d, free, b))
    assert snapshot(api, hid) == before
    # Moving down a branch that is not an ancestor is fine.
    assert put_parent(api, hid, free, d).status_code == 204
    assert set_children(api, hid, a, d).status_code == 200
    assert children(api, hid, a) == [d, b]


def test_r5_unknown_body_ids_are_422_with_missing_ids(api: Caller, hid: str) -> None:
    parent = make_node(api, hid, "Parent")["id"]
    child = make_node(api, hid, "Child")["id"]
    ghost, junk = str(uuid.uuid4()), "not-a-uuid"
    before = snapshot(api, hid)
    assert_422(set_children(api, hid, parent, child, ghost, junk), missing_ids=[ghost, junk])
    assert_422(set_children(api, hid, None, ghost), missing_ids=[ghost])
    assert_422(put_parent(api, hid, child, ghost), missing_ids=[ghost])
    assert snapshot(api, hid) == before


def test_r5_unknown_path_ids_are_404(api: Caller, hid: str) -> None:
    node = make_node(api, hid, "Node")["id"]
    ghost = str(uuid.uuid4())
    for response in (
        set_children(api, hid, ghost, node),
        put_parent(api, hid, ghost, node),
        api.delete(f"{node_url(hid, ghost)}/relationships/parent"),
        set_children(api, ghost, None, node),
        set_children(api, ghost, node, node),
    ):
        assert response.status_code == 404, response.text
        errors_of(response)


@pytest.mark.parametrize(
    "body",
    [
        {"data": []},
        {"data": [{"type": "product", "id": "x"}]},
        {"data": [{"id": "x"}]},
        {"data": {"type": "node", "id": "x"}},
        {"data": [{"type": "node"}]},
        {"data": [{"type": "node", "id": "x", "meta": {"sort_order": "1"}}]},
    ],
)
def test_children_body_validation(api: Caller, hid: str, body: Any) -> None:
    parent = make_node(api, hid, "Parent")["id"]
    response = api.post(f"{node_url(hid, parent)}/relationships/children", json=body)
    assert response.status_code == 422, response.text
    errors_of(response)


def test_parent_body_validation(api: Caller, hid: str) -> None:
    node = make_node(api, hid, "Node")["id"]
    other = make_node(api, hid, "Other")["id"]
    for body in ({"data": {"id": other}}, {"data": {"type": "product", "id": other}}, {"data": [other]}, {}):
        response = api.put(f"{node_url(hid, node)}/relationships/parent", json=body)
        assert response.status_code == 422, response.text
    assert children(api, hid, other) == []


# --- successful moves -----------------------------------------------------------------------------------


def test_node_children_moves_and_returns_the_parent(api: Caller, hid: str) -> None:
    parent = make_node(api, hid, "Parent")
    a = make_node(api, hid, "A")["id"]
    holder = make_node(api, hid, "Holder")["id"]
    b = make_node(api, hid, "B", parent=holder)["id"]
    response = set_children(api, hid, parent["id"], a, b)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["type"] == "node" and data["id"] == parent["id"]
    assert data["attributes"] == parent["attributes"]
    assert sorted(children(api, hid, parent["id"])) == sorted([a, b])
    assert children(api, hid, holder) == []
    moved = api.get(node_url(hid, b)).json()["data"]
    assert parent_of(moved) == parent["id"]
    assert moved["meta"]["parent_name"] == "Parent"
    assert crumbs(moved) == ["Major Appliances", "Parent", "B"]


def test_hierarchy_children_makes_top_level_and_returns_the_hierarchy(api: Caller, hid: str) -> None:
    top = make_node(api, hid, "Top")["id"]
    child = make_node(api, hid, "Child", parent=top)["id"]
    response = set_children(api, hid, None, child)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["type"] == "hierarchy" and data["id"] == hid
    assert data == api.get(f"/pcm/hierarchies/{hid}").json()["data"]
    moved = api.get(node_url(hid, child)).json()["data"]
    assert "parent" not in moved["relationships"]
    assert moved["meta"]["parent_name"] == "Major Appliances"
    assert sorted(children(api, hid)) == sorted([top, child])


def test_put_and_delete_parent(api: Caller, hid: str) -> None:
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B")["id"]
    response = put_parent(api, hid, b, a)
    assert response.status_code == 204
    assert response.content == b""
    assert parent_of(api.get(node_url(hid, b)).json()["data"]) == a
    assert children(api, hid) == [a]
    cleared = api.delete(f"{node_url(hid, b)}/relationships/parent")
    assert cleared.status_code == 204
    assert parent_of(api.get(node_url(hid, b)).json()["data"]) is None
    assert sorted(children(api, hid)) == sorted([a, b])
    # Already top-level: a no-op that changes nothing.
    before = snapshot(api, hid)
    assert api.delete(f"{node_url(hid, b)}/relationships/parent").status_code == 204
    assert snapshot(api, hid) == before


def test_moving_a_subtree_keeps_it_whole(api: Caller, hid: str) -> None:
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B", parent=a)["id"]
    c = make_node(api, hid, "C", parent=b)["id"]
    z = make_node(api, hid, "Z")["id"]
    assert put_parent(api, hid, b, z).status_code == 204
    assert children(api, hid, b) == [c]
    assert crumbs(api.get(node_url(hid, c)).json()["data"]) == ["Major Appliances", "Z", "B", "C"]


# --- §2.4 child order (seed 001) -------------------------------------------------------------------------


def make_siblings(api: Caller, hid: str, parent: str | None, orders: list[int | None]) -> list[str]:
    return [make_node(api, hid, f"N{i}", parent=parent, sort_order=order)["id"] for i, order in enumerate(orders)]


@pytest.mark.parametrize("under_node", [False, True])
def test_highest_sort_order_first(api: Caller, hid: str, under_node: bool) -> None:
    parent = make_node(api, hid, "Parent")["id"] if under_node else None
    n = make_siblings(api, hid, parent, [2, 3, 1])
    assert children(api, hid, parent) == [n[1], n[0], n[2]]


@pytest.mark.parametrize("under_node", [False, True])
def test_without_sort_order_newest_update_first(api: Caller, hid: str, under_node: bool) -> None:
    parent = make_node(api, hid, "Parent")["id"] if under_node else None
    n = make_siblings(api, hid, parent, [None, None, None])
    assert children(api, hid, parent) == [n[2], n[1], n[0]]
    # Updating a node makes it the most recently updated one.
    assert put_node(api, hid, n[0], description="touched").status_code == 200
    assert children(api, hid, parent) == [n[0], n[2], n[1]]


@pytest.mark.parametrize("under_node", [False, True])
def test_sorted_nodes_come_before_unsorted_ones(api: Caller, hid: str, under_node: bool) -> None:
    parent = make_node(api, hid, "Parent")["id"] if under_node else None
    n = make_siblings(api, hid, parent, [None, 1, None, 5, -3, 0, None])
    # Sorted: 5, 1, 0, -3 (zero and negatives still count as set); then unsorted newest first.
    assert children(api, hid, parent) == [n[3], n[1], n[5], n[4], n[6], n[2], n[0]]


def test_equal_sort_orders_newest_update_first(api: Caller, hid: str) -> None:
    n = make_siblings(api, hid, None, [2, 2, 2])
    assert children(api, hid) == [n[2], n[1], n[0]]
    assert put_node(api, hid, n[0], description="touched").status_code == 200
    assert children(api, hid) == [n[0], n[2], n[1]]


def test_clearing_sort_order_moves_a_node_among_the_unsorted(api: Caller, hid: str) -> None:
    n = make_siblings(api, hid, None, [None, 9, None])
    assert children(api, hid) == [n[1], n[2], n[0]]
    assert put_node(api, hid, n[1], meta={"sort_order": None}).status_code == 200
    assert children(api, hid) == [n[1], n[2], n[0]]  # unsorted now, but the newest update
    assert put_node(api, hid, n[0], description="touched").status_code == 200
    assert children(api, hid) == [n[0], n[1], n[2]]


def test_seed_001_relationship_with_sort_order_overwrites_the_stored_one(api: Caller, hid: str) -> None:
    """Seed 001: create Node A with a sort_order, then relate it to Node B with a sort_order → overwritten."""
    node_b = make_node(api, hid, "Node B")["id"]
    node_a = make_node(api, hid, "Node A", sort_order=5)["id"]
    response = set_children(api, hid, node_b, node_a, **{node_a: 1})
    assert response.status_code == 200
    assert api.get(node_url(hid, node_a)).json()["data"]["meta"]["sort_order"] == 1
    # Also when the node is updated (not created) with a sort_order first, and on hierarchy children.
    assert put_node(api, hid, node_a, meta={"sort_order": 8}).status_code == 200
    assert set_children(api, hid, None, node_a, **{node_a: -4}).status_code == 200
    assert api.get(node_url(hid, node_a)).json()["data"]["meta"]["sort_order"] == -4
    # A sort_order of null in the item clears it.
    assert set_children(api, hid, node_b, node_a, **{node_a: None}).status_code == 200
    assert "sort_order" not in api.get(node_url(hid, node_a)).json()["data"]["meta"]


def test_seed_001_relationship_without_sort_order_keeps_the_stored_one(api: Caller, hid: str) -> None:
    """Seed 001: create/update Node A, then relate it to Node B without a sort_order → not overwritten."""
    node_b = make_node(api, hid, "Node B")["id"]
    node_a = make_node(api, hid, "Node A", sort_order=5)["id"]
    assert set_children(api, hid, node_b, node_a).status_code == 200
    assert api.get(node_url(hid, node_a)).json()["data"]["meta"]["sort_order"] == 5
    assert put_node(api, hid, node_a, meta={"sort_order": 6}).status_code == 200
    item_with_empty_meta = {"data": [{"type": "node", "id": node_a, "meta": {}}]}
    response = api.post(f"/pcm/hierarchies/{hid}/relationships/children", json=item_with_empty_meta)
    assert response.status_code == 200
    assert api.get(node_url(hid, node_a)).json()["data"]["meta"]["sort_order"] == 6
    assert put_parent(api, hid, node_a, node_b).status_code == 204
    assert api.get(node_url(hid, node_a)).json()["data"]["meta"]["sort_order"] == 6


def test_mixed_request_overwrites_only_items_with_a_sort_order(api: Caller, hid: str) -> None:
    parent = make_node(api, hid, "Parent")["id"]
    x = make_node(api, hid, "X", sort_order=10)["id"]
    y = make_node(api, hid, "Y", sort_order=20)["id"]
    z = make_node(api, hid, "Z")["id"]
    assert set_children(api, hid, parent, x, y, z, **{x: 30, z: 25}).status_code == 200
    orders = {n: api.get(node_url(hid, n)).json()["data"]["meta"].get("sort_order") for n in (x, y, z)}
    assert orders == {x: 30, y: 20, z: 25}
    assert children(api, hid, parent) == [x, z, y]


@pytest.mark.parametrize("how", ["node children", "hierarchy children", "put parent", "delete parent"])
def test_moving_bumps_updated_at_so_an_unsorted_node_goes_first(api: Caller, hid: str, how: str) -> None:
    top = make_node(api, hid, "Top")["id"]
    holder = make_node(api, hid, "Holder")["id"]
    parent = None if how in ("hierarchy children", "delete parent") else top
    existing = make_siblings(api, hid, parent, [None, None])
    mover = make_node(api, hid, "Mover", parent=holder)
    time.sleep(0.002)
    siblings_before = children(api, hid, parent)
    if how == "node children":
        assert set_children(api, hid, top, mover["id"]).status_code == 200
    elif how == "hierarchy children":
        assert set_children(api, hid, None, mover["id"]).status_code == 200
    elif how == "put parent":
        assert put_parent(api, hid, mover["id"], top).status_code == 204
    else:
        assert api.delete(f"{node_url(hid, mover['id'])}/relationships/parent").status_code == 204
    moved = api.get(node_url(hid, mover["id"])).json()["data"]
    assert moved["meta"]["updated_at"] > mover["meta"]["updated_at"]
    assert children(api, hid, parent) == [mover["id"], *siblings_before]
    assert set(existing) <= set(siblings_before)


def test_refused_move_does_not_bump_updated_at(api: Caller, hid: str) -> None:
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B", parent=a)["id"]
    c = make_node(api, hid, "C")["id"]
    before = snapshot(api, hid)
    time.sleep(0.002)
    assert_422(set_children(api, hid, b, c, a))  # c alone would be fine; a makes a cycle
    assert snapshot(api, hid) == before


@pytest.mark.parametrize("under_node", [False, True])
def test_child_order_holds_across_pages(api: Caller, hid: str, under_node: bool) -> None:
    parent = make_node(api, hid, "Parent")["id"] if under_node else None
    n = make_siblings(api, hid, parent, [None, 3, None, 7, None, 0, -1])
    expected = [n[3], n[1], n[5], n[6], n[4], n[2], n[0]]
    url = f"/pcm/hierarchies/{hid}/children" if parent is None else f"{node_url(hid, parent)}/children"
    seen: list[str] = []
    next_url: str | None = f"{url}?page[limit]=3"
    pages = 0
    while next_url:
        body = api.get(next_url).json()
        assert body["meta"]["results"]["total"] == 7
        seen += [x["id"] for x in body["data"]]
        next_url = body["links"].get("next")
        pages += 1
    assert seen == expected
    assert pages == 3
    middle = api.get(url, params={"page[limit]": "2", "page[offset]": "3"})
    assert ids_of(middle) == expected[3:5]


def test_nodes_moved_together_are_ordered_by_id_after_sort_order(api: Caller, hid: str) -> None:
    """§2.4 step 3: one request gives its nodes one updated_at; ties are then broken by id."""
    parent = make_node(api, hid, "Parent")["id"]
    n = make_siblings(api, hid, None, [None, 3, None, 3, None])
    assert set_children(api, hid, parent, *n).status_code == 200
    stamps = {api.get(node_url(hid, x)).json()["data"]["meta"]["updated_at"] for x in n}
    assert len(stamps) == 1
    assert children(api, hid, parent) == [*sorted([n[1], n[3]]), *sorted([n[0], n[2], n[4]])]


def test_children_of_an_empty_parent(api: Caller, hid: str) -> None:
    leaf = make_node(api, hid, "Leaf")["id"]
    body = api.get(f"{node_url(hid, leaf)}/children").json()
    assert body["data"] == []
    assert body["meta"]["results"]["total"] == 0
    assert ids_of(api.get(f"/pcm/hierarchies/{make_hierarchy(api, name='Empty')['id']}/children")) == []


def test_organization_node_is_owned_by_the_organization(keys: Keys) -> None:
    org = keys.caller(organization=True)
    hid = make_hierarchy(org, name="Org")["id"]
    assert make_node(org, hid, "Org node")["meta"]["owner"] == "organization"
