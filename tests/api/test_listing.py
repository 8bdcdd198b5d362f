"""Paging, links and the filter grammar on `GET /pcm/products` (SPEC §0.2, §0.3, §1.3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller, Keys
from tests.helpers import errors_of, product_body


def seed(api: Caller, count: int, **extra: Any) -> list[dict[str, Any]]:
    created = []
    for i in range(count):
        response = api.post(
            "/pcm/products", json=product_body(name=f"Product {i:02d}", sku=f"SKU-{i:02d}", **extra)
        )
        assert response.status_code == 201
        created.append(response.json()["data"])
    return created


def ids(response: Any) -> list[str]:
    return [item["id"] for item in response.json()["data"]]


def test_default_page_and_order(api: Caller) -> None:
    created = seed(api, 30)
    response = api.get("/pcm/products")
    assert response.status_code == 200
    body = response.json()
    assert ids(response) == [p["id"] for p in created[:25]]
    assert body["meta"]["results"]["total"] == 30
    links = body["links"]
    assert links["first"] == "/pcm/products?page[offset]=0&page[limit]=25"
    assert links["last"] == "/pcm/products?page[offset]=25&page[limit]=25"
    assert links["next"] == "/pcm/products?page[offset]=25&page[limit]=25"
    assert "prev" not in links


def test_paging_walks_every_item_once(api: Caller) -> None:
    created = seed(api, 7)
    seen = []
    url = "/pcm/products?page[limit]=3"
    pages = 0
    while url:
        body = api.get(url).json()
        seen += [p["id"] for p in body["data"]]
        url = body["links"].get("next")
        pages += 1
    assert seen == [p["id"] for p in created]
    assert pages == 3


def test_middle_page_links(api: Caller) -> None:
    seed(api, 7)
    body = api.get("/pcm/products?page[limit]=3&page[offset]=3").json()
    assert body["links"]["prev"] == "/pcm/products?page[offset]=0&page[limit]=3"
    assert body["links"]["next"] == "/pcm/products?page[offset]=6&page[limit]=3"
    assert body["links"]["last"] == "/pcm/products?page[offset]=6&page[limit]=3"
    assert body["links"]["current"] == "/pcm/products?page[offset]=3&page[limit]=3"


def test_links_keep_the_filter(api: Caller) -> None:
    seed(api, 4)
    body = api.get("/pcm/products?page[limit]=2&filter=like(sku,SKU-*)").json()
    assert body["links"]["next"] == "/pcm/products?page[offset]=2&page[limit]=2&filter=like(sku,SKU-*)"


def test_empty_list(api: Caller) -> None:
    body = api.get("/pcm/products").json()
    assert body["data"] == []
    assert body["meta"]["results"]["total"] == 0
    assert body["links"]["first"] == body["links"]["last"]


def test_limit_above_100_is_clamped(api: Caller) -> None:
    seed(api, 2)
    body = api.get("/pcm/products?page[limit]=500").json()
    assert body["links"]["first"].endswith("page[limit]=100")


@pytest.mark.parametrize(
    "query",
    [
        "page[limit]=0",
        "page[limit]=-1",
        "page[limit]=abc",
        "page[offset]=-1",
        "page[offset]=10001",
        "page[offset]=1.5",
        "page[limit]=",
    ],
)
def test_bad_paging_is_400(api: Caller, query: str) -> None:
    response = api.get(f"/pcm/products?{query}")
    assert response.status_code == 400
    errors_of(response)


def filtered(api: Caller, expression: str) -> Any:
    return api.get("/pcm/products", params={"filter": expression})


def test_eq_in_and_like(api: Caller) -> None:
    created = seed(api, 5)
    assert ids(filtered(api, "eq(sku,SKU-03)")) == [created[3]["id"]]
    assert ids(filtered(api, "in(sku,SKU-01,SKU-04)")) == [created[1]["id"], created[4]["id"]]
    assert len(ids(filtered(api, "like(sku,SKU-*)"))) == 5
    assert ids(filtered(api, "like(name,*04)")) == [created[4]["id"]]
    assert ids(filtered(api, "like(name,*uct 02*)")) == [created[2]["id"]]
    assert ids(filtered(api, f"eq(id,{created[0]['id']})")) == [created[0]["id"]]


def test_like_is_case_sensitive_and_ilike_is_not(api: Caller) -> None:
    seed(api, 2)
    assert ids(filtered(api, "like(sku,sku-*)")) == []
    assert len(ids(filtered(api, "ilike(sku,sku-*)"))) == 2


def test_like_treats_sql_wildcards_literally(api: Caller) -> None:
    api.post("/pcm/products", json=product_body(sku="A_1"))
    api.post("/pcm/products", json=product_body(sku="AB1"))
    api.post("/pcm/products", json=product_body(sku="A%2"))
    assert [p["attributes"]["sku"] for p in filtered(api, "like(sku,A_*)").json()["data"]] == ["A_1"]
    assert [p["attributes"]["sku"] for p in filtered(api, "like(sku,A%*)").json()["data"]] == ["A%2"]


def test_and_with_colon_and_or_groups(api: Caller) -> None:
    api.post("/pcm/products", json=product_body(sku="L1", status="live"))
    api.post("/pcm/products", json=product_body(sku="L2", status="live"))
    api.post("/pcm/products", json=product_body(sku="D1", status="draft"))
    assert len(ids(filtered(api, "eq(status,live)"))) == 2
    assert len(ids(filtered(api, "eq(status,live):eq(sku,L2)"))) == 1
    assert len(ids(filtered(api, "eq(status,draft):eq(sku,L2)"))) == 0
    assert len(ids(filtered(api, "(eq(sku,L1)|eq(sku,D1))"))) == 2


def test_tags_filters(api: Caller) -> None:
    api.post("/pcm/products", json=product_body(sku="T1", tags=["red", "summer"]))
    api.post("/pcm/products", json=product_body(sku="T2", tags=["blue"]))
    api.post("/pcm/products", json=product_body(sku="T3"))

    def skus(expression: str) -> list[str]:
        return sorted(p["attributes"]["sku"] for p in filtered(api, expression).json()["data"])

    assert skus("eq(tags,red)") == ["T1"]
    assert skus("in(tags,blue,summer)") == ["T1", "T2"]
    assert skus("like(tags,sum*)") == ["T1"]
    assert skus("ilike(tags,BL*)") == ["T2"]


def test_date_comparisons(api: Caller) -> None:
    created = seed(api, 3)
    middle = created[1]["meta"]["created_at"]
    after = ids(filtered(api, f"ge(created_at,{middle})"))
    assert created[0]["id"] not in after
    assert created[1]["id"] in after and created[2]["id"] in after
    assert len(ids(filtered(api, "gt(created_at,2000-01-01)"))) == 3
    assert ids(filtered(api, "lt(updated_at,946684800000)")) == []


def test_manufacturer_part_num_and_is_null(api: Caller) -> None:
    api.post("/pcm/products", json=product_body(sku="M1", mpn="MPN-9"))
    api.post("/pcm/products", json=product_body(sku="M2"))
    assert [
        p["attributes"]["sku"] for p in filtered(api, "eq(manufacturer_part_num,MPN-9)").json()["data"]
    ] == ["M1"]
    assert [
        p["attributes"]["sku"] for p in filtered(api, "is_null(manufacturer_part_num)").json()["data"]
    ] == ["M2"]


def test_quoted_values_may_hold_commas_and_parentheses(api: Caller) -> None:
    api.post("/pcm/products", json=product_body(name="Shirt, blue (large)", sku="Q1"))
    assert len(ids(filtered(api, 'eq(name,"Shirt, blue (large)")'))) == 1


def test_product_types_is_always_standard(api: Caller) -> None:
    seed(api, 2)
    assert len(ids(filtered(api, "eq(product_types,standard)"))) == 2
    assert ids(filtered(api, "eq(product_types,parent)")) == []


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "eq(sku)",
        "eq(sku,a,b)",
        "eq(sku,a",
        "eq sku a",
        "unknown(sku,a)",
        "eq(not_a_field,a)",
        "gt(sku,a)",
        "eq(id,not-a-uuid)",
        "gt(created_at,yesterday)",
        "eq(sku,a)::eq(sku,b)",
        "eq(sku,a);drop table product",
        '(eq(sku,a)|eq(sku,"b)',
        "in(sku)",
        ":".join(f"eq(sku,{i})" for i in range(11)),
        "eq(sku," + "x" * 9000 + ")",
    ],
)
def test_unparseable_filters_are_400(api: Caller, expression: str) -> None:
    response = filtered(api, expression)
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["detail"] == "Could not parse the supplied filter"


def test_has_nodes_false_finds_products_in_no_node(api: Caller) -> None:
    linked, loose = seed(api, 2)
    hierarchy = api.post(
        "/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "H"}}}
    )
    hid = hierarchy.json()["data"]["id"]
    node = api.post(
        f"/pcm/hierarchies/{hid}/nodes", json={"data": {"type": "node", "attributes": {"name": "N"}}}
    )
    nid = node.json()["data"]["id"]
    api.post(
        f"/pcm/hierarchies/{hid}/nodes/{nid}/relationships/products",
        json={"data": [{"type": "product", "id": linked["id"]}]},
    )
    assert ids(filtered(api, "eq(has_nodes,false)")) == [loose["id"]]
    assert filtered(api, "eq(has_nodes,true)").status_code == 400


def test_owner_filter(api: Caller, keys: Keys) -> None:
    org = keys.caller(organization=True)
    org.post("/pcm/products", json=product_body(sku="ORG"))
    api.post("/pcm/products", json=product_body(sku="MINE"))
    assert [p["attributes"]["sku"] for p in filtered(api, "eq(owner,organization)").json()["data"]] == ["ORG"]
    assert [p["attributes"]["sku"] for p in filtered(api, "eq(owner,store)").json()["data"]] == ["MINE"]
