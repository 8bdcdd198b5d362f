"""Hierarchies: SPEC §2.1, §2.5 (CRUD, validation, delete cascade, lists), tenancy (§6)."""

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
    children,
    hierarchy_body,
    make_hierarchy,
    make_node,
    make_product,
    node_url,
    product_links,
    refs,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def count(db: Database, model: Any) -> int:
    with db.sessions() as session:
        return int(session.query(model).count())


def put(api: Caller, hid: str, body_id: str | None = None, **attributes: Any) -> Any:
    data: dict[str, Any] = {"type": "hierarchy", "id": body_id or hid, "attributes": attributes}
    return api.put(f"/pcm/hierarchies/{hid}", json={"data": data})


# --- create and object shape --------------------------------------------------------------------------


def test_create_returns_the_hierarchy_object(api: Caller) -> None:
    data = make_hierarchy(
        api,
        name="Major Appliances",
        description="Free standing appliances",
        slug="Major-Appliances-MA0",
        locales={"fr-FR": {"name": "Électroménager", "description": "Appareils"}},
        admin_attributes={"buyer": "ann"},
        shopper_attributes={"badge": "new"},
    )
    hid = data["id"]
    uuid.UUID(hid)
    assert data["type"] == "hierarchy"
    assert data["attributes"] == {
        "name": "Major Appliances",
        "description": "Free standing appliances",
        "slug": "Major-Appliances-MA0",
        "locales": {"fr-FR": {"name": "Électroménager", "description": "Appareils"}},
        "admin_attributes": {"buyer": "ann"},
        "shopper_attributes": {"badge": "new"},
    }
    assert data["relationships"] == {"children": {"data": [], "links": {"related": f"/hierarchies/{hid}/children"}}}
    meta = data["meta"]
    assert meta["owner"] == "store"
    assert TIMESTAMP.match(meta["created_at"]) and TIMESTAMP.match(meta["updated_at"])
    # A breadcrumb's locales carry the localized name only (the PIM spec allows nothing else there).
    assert meta["breadcrumbs"] == [
        {
            "id": hid,
            "name": "Major Appliances",
            "slug": "Major-Appliances-MA0",
            "locales": {"fr-FR": {"name": "Électroménager"}},
        }
    ]


def test_breadcrumb_locales_carry_names_only(api: Caller) -> None:
    """Hierarchy and node breadcrumbs keep `locales.*.name` only; a locale without a name is left out,
    and the objects' own `locales` keep their descriptions."""
    locales = {"fr-FR": {"name": "Maison", "description": "Tout"}, "de-DE": {"description": "Nur Text"}}
    hierarchy = make_hierarchy(api, name="Home", slug="home", locales=locales)
    assert hierarchy["attributes"]["locales"] == locales
    assert hierarchy["meta"]["breadcrumbs"] == [
        {"id": hierarchy["id"], "name": "Home", "slug": "home", "locales": {"fr-FR": {"name": "Maison"}}}
    ]
    listed = api.get("/pcm/hierarchies").json()["data"]
    assert [h["meta"]["breadcrumbs"] for h in listed] == [hierarchy["meta"]["breadcrumbs"]]
    body = {
        "data": {
            "type": "node",
            "attributes": {"name": "Kitchen", "locales": {"fr-FR": {"name": "Cuisine", "description": "Pots"}}},
        }
    }
    response = api.post(f"/pcm/hierarchies/{hierarchy['id']}/nodes", json=body)
    assert response.status_code == 201, response.text
    node = response.json()["data"]
    assert node["attributes"]["locales"] == {"fr-FR": {"name": "Cuisine", "description": "Pots"}}
    assert node["meta"]["breadcrumbs"] == [
        {"id": hierarchy["id"], "name": "Home", "slug": "home", "locales": {"fr-FR": {"name": "Maison"}}},
        {"id": node["id"], "name": "Kitchen", "locales": {"fr-FR": {"name": "Cuisine"}}},
    ]


def test_unset_attributes_are_omitted(api: Caller) -> None:
    data = make_hierarchy(api, name="Bare")
    assert data["attributes"] == {"name": "Bare"}
    assert data["meta"]["breadcrumbs"] == [{"id": data["id"], "name": "Bare"}]


def test_organization_hierarchy_is_owned_by_the_organization(keys: Keys) -> None:
    org = keys.caller(organization=True)
    data = make_hierarchy(org, name="Org tree")
    assert data["meta"]["owner"] == "organization"


def test_get_returns_what_create_returned(api: Caller) -> None:
    data = make_hierarchy(api, name="Get me", slug="get-me")
    response = api.get(f"/pcm/hierarchies/{data['id']}")
    assert response.status_code == 200
    assert response.json() == {"data": data}


def test_slug_is_not_unique_among_hierarchies(api: Caller) -> None:
    """§B-12: duplicate_job copies the slug, so hierarchy slugs may repeat."""
    make_hierarchy(api, name="One", slug="same")
    make_hierarchy(api, name="Two", slug="same")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": {"type": "hierarchy", "attributes": {}}}, "name"),
        ({"data": {"type": "hierarchy", "attributes": {"name": None}}}, "name"),
        ({"data": {"type": "hierarchy", "attributes": {"name": ""}}}, "name"),
        ({"data": {"type": "hierarchy", "attributes": {"name": 7}}}, "name"),
        ({"data": {"type": "node", "attributes": {"name": "x"}}}, "type"),
        ({"data": {"type": "product", "attributes": {"name": "x"}}}, "type"),
        ({"data": {"attributes": {"name": "x"}}}, "type"),
        ({"data": {"type": "hierarchy"}}, "attributes"),
        (hierarchy_body(slug="has space"), "slug"),
        (hierarchy_body(description=5), "description"),
        (hierarchy_body(locales={"fr-FR": "Nom"}), "locales"),
        (hierarchy_body(admin_attributes={"k": 1}), "admin_attributes"),
        ({"type": "hierarchy"}, "data"),
    ],
)
def test_invalid_hierarchies_are_refused_and_nothing_is_written(api: Caller, body: Any, fragment: str) -> None:
    response = api.post("/pcm/hierarchies", json=body)
    assert response.status_code == 422, response.text
    assert any(fragment in e.get("detail", "") for e in errors_of(response))
    assert api.get("/pcm/hierarchies").json()["meta"]["results"]["total"] == 0


def test_malformed_json_is_400(api: Caller) -> None:
    response = api.post("/pcm/hierarchies", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    errors_of(response)


# --- update -------------------------------------------------------------------------------------------


def test_put_is_a_partial_update(api: Caller) -> None:
    data = make_hierarchy(api, name="Old", description="keep me", slug="old")
    time.sleep(0.002)
    response = put(api, data["id"], name="New")
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert updated["attributes"] == {"name": "New", "description": "keep me", "slug": "old"}
    assert updated["meta"]["breadcrumbs"] == [{"id": data["id"], "name": "New", "slug": "old"}]
    assert updated["meta"]["created_at"] == data["meta"]["created_at"]
    assert updated["meta"]["updated_at"] > data["meta"]["updated_at"]
    assert api.get(f"/pcm/hierarchies/{data['id']}").json()["data"] == updated


def test_put_with_empty_attributes_changes_nothing(api: Caller) -> None:
    data = make_hierarchy(api, name="Same")
    response = put(api, data["id"])
    assert response.status_code == 200
    assert response.json()["data"] == data


def test_put_null_clears_optional_attributes_and_custom_attribute_keys(api: Caller) -> None:
    data = make_hierarchy(api, name="H", description="d", slug="s", admin_attributes={"a": "1", "b": "2"})
    response = put(api, data["id"], description=None, slug=None, admin_attributes={"a": None, "c": "3"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"] == {"name": "H", "admin_attributes": {"b": "2", "c": "3"}}


@pytest.mark.parametrize(
    "attributes",
    [{"name": None}, {"name": ""}, {"name": 3}, {"slug": "bad slug"}],
)
def test_put_validation(api: Caller, attributes: dict[str, Any]) -> None:
    data = make_hierarchy(api, name="Valid")
    response = put(api, data["id"], **attributes)
    assert response.status_code == 422, response.text
    errors_of(response)
    assert api.get(f"/pcm/hierarchies/{data['id']}").json()["data"] == data


def test_put_id_must_match_the_path(api: Caller) -> None:
    data = make_hierarchy(api, name="Mine")
    other = make_hierarchy(api, name="Other")
    for body_id in (other["id"], str(uuid.uuid4()), "x"):
        response = put(api, data["id"], body_id=body_id, name="changed")
        assert response.status_code == 422, response.text
        errors_of(response)
    missing = api.put(
        f"/pcm/hierarchies/{data['id']}", json={"data": {"type": "hierarchy", "attributes": {"name": "c"}}}
    )
    assert missing.status_code == 422
    wrong_type = api.put(
        f"/pcm/hierarchies/{data['id']}",
        json={"data": {"type": "node", "id": data["id"], "attributes": {"name": "c"}}},
    )
    assert wrong_type.status_code == 422
    assert api.get(f"/pcm/hierarchies/{data['id']}").json()["data"] == data
    assert api.get(f"/pcm/hierarchies/{other['id']}").json()["data"] == other


@pytest.mark.parametrize("hid", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_hierarchy_is_404(api: Caller, hid: str) -> None:
    for response in (
        api.get(f"/pcm/hierarchies/{hid}"),
        put(api, hid, name="x"),
        api.delete(f"/pcm/hierarchies/{hid}"),
        api.get(f"/pcm/hierarchies/{hid}/children"),
        api.get(f"/pcm/hierarchies/{hid}/nodes"),
        api.post(f"/pcm/hierarchies/{hid}/nodes", json={"data": {"type": "node", "attributes": {"name": "n"}}}),
        api.post(f"/pcm/hierarchies/{hid}/relationships/children", json=refs("node", str(uuid.uuid4()))),
    ):
        assert response.status_code == 404, response.text
        [error] = errors_of(response)
        assert error["title"] == "Not Found"


# --- delete -------------------------------------------------------------------------------------------


def test_delete_removes_nodes_and_links_but_never_products(api: Caller, db: Database) -> None:
    doomed = make_hierarchy(api, name="Doomed")
    kept = make_hierarchy(api, name="Kept")
    top = make_node(api, doomed["id"], "Top")
    deep = make_node(api, doomed["id"], "Deep", parent=top["id"])
    other = make_node(api, kept["id"], "Other")
    product = make_product(api, name="Survivor")
    for hid, nid in ((doomed["id"], top["id"]), (doomed["id"], deep["id"]), (kept["id"], other["id"])):
        linked = api.post(f"{node_url(hid, nid)}/relationships/products", json=refs("product", product["id"]))
        assert linked.status_code == 201, linked.text
    assert count(db, NodeProduct) == 3

    response = api.delete(f"/pcm/hierarchies/{doomed['id']}")
    assert response.status_code == 204
    assert response.content == b""

    assert api.get(f"/pcm/hierarchies/{doomed['id']}").status_code == 404
    assert api.get(node_url(doomed["id"], top["id"])).status_code == 404
    assert count(db, Node) == 1
    assert count(db, NodeProduct) == 1
    assert count(db, Product) == 1
    assert api.get(f"/pcm/products/{product['id']}").status_code == 200
    product_nodes = api.get(f"/pcm/products/{product['id']}/nodes").json()
    assert [n["id"] for n in product_nodes["data"]] == [other["id"]]
    assert product_links(api, kept["id"], other["id"]) == [product["id"]]
    # Deleting again: the hierarchy is gone.
    assert api.delete(f"/pcm/hierarchies/{doomed['id']}").status_code == 404


# --- lists ----------------------------------------------------------------------------------------------


def test_list_is_in_creation_order_and_pages(api: Caller) -> None:
    created = [make_hierarchy(api, name=f"H{i}", slug=f"h-{i}")["id"] for i in range(5)]
    body = api.get("/pcm/hierarchies").json()
    assert [h["id"] for h in body["data"]] == created
    assert body["meta"]["results"]["total"] == 5
    page = api.get("/pcm/hierarchies", params={"page[limit]": "2", "page[offset]": "2"}).json()
    assert [h["id"] for h in page["data"]] == created[2:4]
    assert page["meta"]["results"]["total"] == 5
    assert page["links"]["next"] == "/pcm/hierarchies?page[offset]=4&page[limit]=2"
    assert page["links"]["prev"] == "/pcm/hierarchies?page[offset]=0&page[limit]=2"
    assert page["links"]["last"] == "/pcm/hierarchies?page[offset]=4&page[limit]=2"
    last = api.get("/pcm/hierarchies", params={"page[limit]": "2", "page[offset]": "4"}).json()
    assert [h["id"] for h in last["data"]] == created[4:]
    assert "next" not in last["links"] or last["links"]["next"] is None


@pytest.mark.parametrize("query", ["page[limit]=0", "page[offset]=-1", "page[limit]=x", "page[offset]=10001"])
def test_bad_paging_is_400(api: Caller, query: str) -> None:
    response = api.get(f"/pcm/hierarchies?{query}")
    assert response.status_code == 400
    errors_of(response)


def test_list_filters(api: Caller, keys: Keys) -> None:
    shoes = make_hierarchy(api, name="Shoes", slug="shoes", description="Feet")
    shirts = make_hierarchy(api, name="Shirts", slug="shirts")
    hats = make_hierarchy(api, name="Hats")
    org = make_hierarchy(keys.caller(organization=True), name="Org shoes", slug="shoes")

    def listed(expression: str) -> list[str]:
        response = api.get("/pcm/hierarchies", params={"filter": expression})
        assert response.status_code == 200, (expression, response.text)
        body = response.json()
        assert body["meta"]["results"]["total"] == len(body["data"])
        return [h["id"] for h in body["data"]]

    assert listed("eq(name,Shoes)") == [shoes["id"]]
    assert listed("eq(name,shoes)") == []
    assert listed("like(name,Sh*)") == [shoes["id"], shirts["id"]]
    assert listed("ilike(name,*SHOES)") == [shoes["id"], org["id"]]
    assert listed("eq(slug,shoes)") == [shoes["id"], org["id"]]
    assert listed("eq(description,Feet)") == [shoes["id"]]
    assert listed(f"eq(id,{hats['id']})") == [hats["id"]]
    assert listed(f"in(id,{hats['id']},{shirts['id']})") == [shirts["id"], hats["id"]]
    assert listed("eq(owner,organization)") == [org["id"]]
    assert listed("eq(owner,store)") == [shoes["id"], shirts["id"], hats["id"]]
    assert listed("eq(slug,shoes):eq(owner,store)") == [shoes["id"]]
    assert listed(f"ge(created_at,{shirts['meta']['created_at']})") == [
        shirts["id"],
        hats["id"],
        org["id"],
    ]
    assert listed("lt(created_at,2000-01-01)") == []


def test_breadcrumb_and_locale_filters(api: Caller) -> None:
    shoes = make_hierarchy(
        api, name="Shoes", slug="shoes", locales={"fr-FR": {"name": "Chaussures", "description": "Les pieds"}}
    )
    make_hierarchy(api, name="Hats", slug="hats", locales={"fr-FR": {"name": "Chapeaux"}})
    refused = []
    for expression in (
        f"eq(breadcrumbs.id,{shoes['id']})",
        f"in(breadcrumbs.id,{shoes['id']})",
        "eq(breadcrumbs.name,Shoes)",
        "like(breadcrumbs.slug,sho*)",
        "eq(locales.fr-FR.name,Chaussures)",
        "like(locales.fr-FR.description,*pieds*)",
    ):
        response = api.get("/pcm/hierarchies", params={"filter": expression})
        if response.status_code != 200 or [h["id"] for h in response.json()["data"]] != [shoes["id"]]:
            refused.append((expression, response.status_code))
    assert refused == []


@pytest.mark.parametrize(
    "expression", ["eq(colour,red)", "gt(name,a)", "eq(name", "in(slug)", "eq(created_at,yesterday)"]
)
def test_bad_list_filter_is_400(api: Caller, expression: str) -> None:
    make_hierarchy(api)
    response = api.get("/pcm/hierarchies", params={"filter": expression})
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["detail"] == "Could not parse the supplied filter"


# --- tenancy --------------------------------------------------------------------------------------------


def test_store_token_cannot_change_an_organization_hierarchy(api: Caller, keys: Keys) -> None:
    org = keys.caller(organization=True)
    hierarchy = make_hierarchy(org, name="Org")
    hid = hierarchy["id"]
    top = make_node(org, hid, "Top")
    other = make_node(org, hid, "Other")
    product = make_product(api)
    # The store can read the organization's hierarchy and its nodes...
    assert api.get(f"/pcm/hierarchies/{hid}").json()["data"] == hierarchy
    assert children(api, hid) == children(org, hid)
    assert [h["id"] for h in api.get("/pcm/hierarchies").json()["data"]] == [hid]
    # ...but every change is refused.
    attempts = [
        put(api, hid, name="mine"),
        api.delete(f"/pcm/hierarchies/{hid}"),
        api.post(f"/pcm/hierarchies/{hid}/nodes", json={"data": {"type": "node", "attributes": {"name": "n"}}}),
        api.post(f"/pcm/hierarchies/{hid}/relationships/children", json=refs("node", top["id"])),
        api.put(
            node_url(hid, top["id"]),
            json={"data": {"type": "node", "id": top["id"], "attributes": {"name": "mine"}}},
        ),
        api.delete(node_url(hid, top["id"])),
        api.post(f"{node_url(hid, top['id'])}/relationships/children", json=refs("node", other["id"])),
        api.put(
            f"{node_url(hid, other['id'])}/relationships/parent",
            json={"data": {"type": "node", "id": top["id"]}},
        ),
        api.delete(f"{node_url(hid, other['id'])}/relationships/parent"),
        api.post(f"{node_url(hid, top['id'])}/relationships/products", json=refs("product", product["id"])),
        api.delete(f"{node_url(hid, top['id'])}/relationships/products", json=refs("product", product["id"])),
        api.post(
            "/pcm/products/attach_nodes",
            json={"data": {"filter": f"eq(id,{product['id']})", "node_ids": [top["id"]]}},
        ),
        api.post(
            "/pcm/products/detach_nodes",
            json={"data": {"filter": f"eq(id,{product['id']})", "node_ids": [top["id"]]}},
        ),
    ]
    for response in attempts:
        assert response.status_code == 403, (response.request.url, response.text)
        [error] = errors_of(response)
        assert error["title"] == "Forbidden"
        assert error["detail"] == "entity owned by organization"
    assert api.get(f"/pcm/hierarchies/{hid}").json()["data"] == hierarchy
    assert children(org, hid) == [other["id"], top["id"]]
    assert product_links(org, hid, top["id"]) == []


def test_organization_token_cannot_see_store_hierarchies(api: Caller, keys: Keys) -> None:
    hid = make_hierarchy(api, name="Store only")["id"]
    org = keys.caller(organization=True)
    assert org.get(f"/pcm/hierarchies/{hid}").status_code == 404
    assert org.get("/pcm/hierarchies").json()["data"] == []


def test_another_store_hierarchy_is_invisible(api: Caller, keys: Keys) -> None:
    hierarchy = make_hierarchy(api, name="Mine")
    hid = hierarchy["id"]
    node = make_node(api, hid, "Node")
    stranger = keys.caller(store_id=keys.store("elsewhere"))
    for response in (
        stranger.get(f"/pcm/hierarchies/{hid}"),
        put(stranger, hid, name="theirs"),
        stranger.delete(f"/pcm/hierarchies/{hid}"),
        stranger.get(f"/pcm/hierarchies/{hid}/children"),
        stranger.get(node_url(hid, node["id"])),
        stranger.delete(node_url(hid, node["id"])),
        stranger.post(f"/pcm/hierarchies/{hid}/nodes", json={"data": {"type": "node", "attributes": {"name": "n"}}}),
    ):
        assert response.status_code == 404, response.text
        errors_of(response)
    assert stranger.get("/pcm/hierarchies").json()["data"] == []
    assert stranger.get("/pcm/hierarchies/nodes").json()["data"] == []
    assert api.get(f"/pcm/hierarchies/{hid}").json()["data"] == hierarchy
    assert children(api, hid) == [node["id"]]


def test_implicit_tokens_are_refused(api: Caller, keys: Keys) -> None:
    hid = make_hierarchy(api, name="H")["id"]
    nid = make_node(api, hid, "N")["id"]
    implicit = keys.caller(grant="implicit")
    for response in (
        implicit.get("/pcm/hierarchies"),
        implicit.get(f"/pcm/hierarchies/{hid}"),
        implicit.get(f"/pcm/hierarchies/{hid}/children"),
        implicit.get(node_url(hid, nid)),
        implicit.get(f"{node_url(hid, nid)}/products"),
        implicit.post("/pcm/hierarchies", json=hierarchy_body()),
        put(implicit, hid, name="x"),
        implicit.delete(f"/pcm/hierarchies/{hid}"),
        implicit.post(f"/pcm/hierarchies/{hid}/nodes", json={"data": {"type": "node", "attributes": {"name": "n"}}}),
    ):
        assert response.status_code == 403, response.text
        errors_of(response)
    assert api.get(f"/pcm/hierarchies/{hid}").status_code == 200
    assert children(api, hid) == [nid]


def test_requests_without_a_token_are_401(client: Any, api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    for response in (client.get("/pcm/hierarchies"), client.get(f"/pcm/hierarchies/{hid}")):
        assert response.status_code == 401
        errors_of(response)


def test_links_inside_pim_documents_answer_as_written(db: Database, api: Caller) -> None:
    """Links leave out `/pcm`, as upstream's do; following one reaches the `/pcm` route it stands for."""
    hierarchy = api.post("/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "Links"}}})
    document = hierarchy.json()["data"]
    node = api.post(
        f"/pcm/hierarchies/{document['id']}/nodes", json={"data": {"type": "node", "attributes": {"name": "Top"}}}
    ).json()["data"]
    product = api.post(
        "/pcm/products",
        json={"data": {"type": "product", "attributes": {"name": "Linked", "commodity_type": "physical"}}},
    ).json()["data"]
    links = [
        document["relationships"]["children"]["links"]["related"],
        node["relationships"]["children"]["links"]["related"],
        node["relationships"]["products"]["links"]["related"],
        product["relationships"]["custom_relationships"]["links"]["self"],
    ]
    assert all(not link.startswith("/pcm") for link in links)
    for link in links:
        followed = api.get(link)
        assert followed.status_code == 200, (link, followed.text)
        assert followed.json() == api.get("/pcm" + link).json()
    assert api.get(links[0]).json()["data"][0]["id"] == node["id"]
    assert api.get(f"/products/{product['id']}").json()["data"]["id"] == product["id"]
