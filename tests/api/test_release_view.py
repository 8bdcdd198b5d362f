"""The release view under /pcm/catalogs/{cid}/releases/{rid}: SPEC §4.3, §0.2, seed 003, §B-4, §B-5, §B-25;
ETags and 304s."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update

from assortment.db.models import ReleaseHierarchy, ReleaseProduct
from assortment.db.repositories.releases import pack_positions, unpack_positions
from tests.catalogs import (
    curate,
    ids,
    link,
    make_catalog,
    make_hierarchy,
    make_node,
    make_product,
    publish,
    set_product,
    uncached_caller,
    view,
    view_url,
)
from tests.conftest import Caller, Database, Keys
from tests.helpers import ORIGIN, errors_of
from tests.relationships import associate, make_definition

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ALL = {"page[limit]": "100"}


@dataclass
class Shop:
    """A published catalog of two hierarchies.

    Shop (slug shop): top-level A (sort 1), B (sort 5), C, D, E (sort 5); C is changed after D is created
    and B (curated) after E, so the §2.4 order is B, E, A, C, D. B's children: B1 (sort 0), B2 (sort -1), B3,
    B4 (sort 2) → B4, B1, B2, B3; B1 has a child B1a. Extra (slug extra): top-level X.
    Products p1…p5 live in B (p2 updated last; curated [p3, p1]), a draft in B too; p6 live in B1a and X;
    p7 live in X only.
    """

    catalog: str
    release: str
    shop: str
    extra: str
    nodes: dict[str, str]
    products: dict[str, str]
    published_at: str

    @property
    def base(self) -> str:
        return view_url(self.catalog)


def build_shop(api: Caller) -> Shop:
    shop = make_hierarchy(api, name="Shop", slug="shop", description="The shop")["id"]
    extra = make_hierarchy(api, name="Extra", slug="extra")["id"]
    nodes: dict[str, str] = {}

    def node(name: str, hid: str = shop, parent: str | None = None, sort_order: int | None = None) -> None:
        nodes[name] = make_node(
            api,
            hid,
            name,
            slug=name.lower(),
            parent=nodes[parent] if parent else None,
            sort_order=sort_order,
        )["id"]

    node("A", sort_order=1)
    node("B", sort_order=5)
    node("C")
    node("D")
    node("E", sort_order=5)
    node("B1", parent="B", sort_order=0)
    node("B2", parent="B", sort_order=-1)
    node("B3", parent="B")
    node("B4", parent="B", sort_order=2)
    node("B1a", parent="B1")
    node("X", hid=extra)
    rename = {"data": {"type": "node", "id": nodes["C"], "attributes": {"description": "touched"}}}
    assert api.put(f"/pcm/hierarchies/{shop}/nodes/{nodes['C']}", json=rename).status_code == 200

    products: dict[str, str] = {}
    specs: dict[str, dict[str, Any]] = {
        "p1": {"sku": "SKU-1", "name": "One", "slug": "one", "tags": ["red"], "mpn": "M1", "upc_ean": "U1"},
        "p2": {"sku": "SKU-2", "name": "Two", "slug": "two", "tags": ["red", "blue"]},
        "p3": {"sku": "SKU-3", "name": "Three", "slug": "three", "tags": ["blue"]},
        "p4": {"sku": "SKU-4", "name": "Four", "slug": "four"},
        "p5": {"sku": "SKU-5", "name": "Five", "slug": "five"},
        "p6": {"sku": "SKU-6", "name": "Six", "slug": "six"},
        "p7": {"sku": "SKU-7", "name": "Seven", "slug": "seven"},
    }
    for key, attributes in specs.items():
        products[key] = make_product(api, status="live", **attributes)["id"]
    products["draft"] = make_product(api, sku="SKU-D", name="Draft")["id"]
    link(api, shop, nodes["B"], *(products[k] for k in ("p1", "p2", "p3", "p4", "p5", "draft")))
    link(api, shop, nodes["B1a"], products["p6"])
    link(api, extra, nodes["X"], products["p6"], products["p7"])
    curate(api, shop, nodes["B"], products["p3"], products["p1"])
    set_product(api, products["p2"], description="updated last")
    catalog = make_catalog(api, [shop, extra])["id"]
    release = publish(api, catalog)
    return Shop(catalog, release["id"], shop, extra, nodes, products, release["attributes"]["published_at"])


@pytest.fixture
def shop(api: Caller) -> Shop:
    return build_shop(api)


def names(body: dict[str, Any]) -> list[str]:
    return [item["attributes"]["name"] for item in body["data"]]


def filtered(api: Caller, url: str, expression: str) -> list[str]:
    return names(view(api, url, filter=expression, **ALL))


# --- hierarchies ---------------------------------------------------------------------------------------


def test_hierarchies_in_catalog_order_with_filters(api: Caller, shop: Shop) -> None:
    url = f"{shop.base}/hierarchies"
    body = view(api, url)
    assert ids(body) == [shop.shop, shop.extra]
    assert body["meta"]["results"]["total"] == 2
    assert filtered(api, url, "eq(name,Extra)") == ["Extra"]
    assert filtered(api, url, "eq(slug,shop)") == ["Shop"]
    assert filtered(api, url, f"in(id,{shop.extra},{shop.shop})") == ["Shop", "Extra"]
    assert filtered(api, url, "eq(name,Nothing)") == []


def test_hierarchy_document(api: Caller, shop: Shop) -> None:
    data = view(api, f"{shop.base}/hierarchies/{shop.shop}")["data"]
    assert data["type"] == "hierarchy"
    assert data["id"] == shop.shop
    attributes = data["attributes"]
    assert {k: attributes[k] for k in ("name", "description", "slug", "published_at")} == {
        "name": "Shop",
        "description": "The shop",
        "slug": "shop",
        "published_at": shop.published_at,
    }
    assert TIMESTAMP.match(attributes["created_at"]) and TIMESTAMP.match(attributes["updated_at"])
    prefix = f"/pcm/catalogs/{shop.catalog}/releases/{shop.release}/hierarchies/{shop.shop}"
    assert data["relationships"]["children"]["links"]["related"] == f"{prefix}/children"
    assert data["relationships"]["nodes"]["links"]["related"] == f"{prefix}/nodes"
    assert data["relationships"]["products"]["links"]["related"] == f"{prefix}/products"
    assert data["meta"]["breadcrumbs"] == [{"id": shop.shop, "name": "Shop", "slug": "shop"}]
    assert data["meta"]["has_children"] is True
    # The same document in the list.
    assert view(api, f"{shop.base}/hierarchies")["data"][0] == data


def test_a_hierarchy_without_nodes_has_no_children(api: Caller) -> None:
    empty = make_hierarchy(api, name="Empty")["id"]
    catalog = make_catalog(api, [empty])["id"]
    publish(api, catalog)
    data = view(api, f"{view_url(catalog)}/hierarchies/{empty}")["data"]
    assert data["meta"]["has_children"] is False
    assert view(api, f"{view_url(catalog)}/hierarchies/{empty}/children")["data"] == []


def test_unknown_ids_in_the_path_are_404(api: Caller, shop: Shop) -> None:
    unknown = str(uuid.uuid4())
    draft = shop.products["draft"]
    for url in (
        f"/hierarchies/{unknown}",
        "/hierarchies/not-an-id",
        f"/hierarchies/{shop.nodes['A']}",
        f"/hierarchies/{unknown}/nodes",
        f"/hierarchies/{unknown}/children",
        f"/hierarchies/{unknown}/products",
        f"/hierarchies/{unknown}/relationships/products",
        f"/nodes/{unknown}",
        f"/nodes/{shop.shop}",
        "/nodes/not-an-id",
        f"/nodes/{unknown}/relationships/children",
        f"/nodes/{unknown}/relationships/products",
        f"/products/{unknown}",
        f"/products/{draft}",
        "/products/not-an-id",
        f"/products/{draft}/relationships/CRP_x/products",
    ):
        response = api.get(shop.base + url)
        assert response.status_code == 404, url
        assert errors_of(response)[0]["title"] == "Not Found"
    assert api.get(f"/pcm/catalogs/{uuid.uuid4()}/releases/latest/hierarchies").status_code == 404
    assert api.get(f"/pcm/catalogs/{shop.catalog}/releases/{unknown}/hierarchies").status_code == 404


# --- nodes -----------------------------------------------------------------------------------------------


def test_hierarchy_children_follow_the_child_order(api: Caller, shop: Shop) -> None:
    url = f"{shop.base}/hierarchies/{shop.shop}/children"
    assert names(view(api, url)) == ["B", "E", "A", "C", "D"]
    # The PIM agrees (nothing changed since the publish).
    assert ids(view(api, url)) == ids(view(api, f"/pcm/hierarchies/{shop.shop}/children"))
    assert names(view(api, f"{shop.base}/hierarchies/{shop.extra}/children")) == ["X"]
    assert filtered(api, url, "eq(slug,b)") == ["B"]
    assert filtered(api, url, "eq(name,B1)") == []  # not top-level
    assert filtered(api, url, f"in(id,{shop.nodes['A']},{shop.nodes['E']},{shop.nodes['B1']})") == ["E", "A"]


def test_node_children_follow_the_child_order(api: Caller, shop: Shop) -> None:
    url = f"{shop.base}/nodes/{shop.nodes['B']}/relationships/children"
    body = view(api, url)
    assert names(body) == ["B4", "B1", "B2", "B3"]
    assert ids(body) == ids(view(api, f"/pcm/hierarchies/{shop.shop}/nodes/{shop.nodes['B']}/children"))
    assert body["meta"]["results"]["total"] == 4
    assert filtered(api, url, "eq(name,B2)") == ["B2"]
    assert filtered(api, url, f"in(id,{shop.nodes['B3']},{shop.nodes['B4']})") == ["B4", "B3"]
    assert view(api, f"{shop.base}/nodes/{shop.nodes['B1a']}/relationships/children")["data"] == []


def test_children_are_paged(api: Caller, shop: Shop) -> None:
    url = f"{shop.base}/hierarchies/{shop.shop}/children"
    body = view(api, url, **{"page[limit]": "2", "page[offset]": "2"})
    assert names(body) == ["A", "C"]
    assert body["meta"] == {"page": {"limit": 2, "offset": 2, "current": 2, "total": 3}, "results": {"total": 5}}
    assert body["links"]["next"] == f"{ORIGIN}{url}?page[offset]=4&page[limit]=2"
    assert body["links"]["prev"] == f"{ORIGIN}{url}?page[offset]=0&page[limit]=2"
    assert body["links"]["last"] == f"{ORIGIN}{url}?page[offset]=4&page[limit]=2"


def test_hierarchy_nodes_and_all_nodes(api: Caller, shop: Shop) -> None:
    everything = view(api, f"{shop.base}/nodes", **ALL)
    assert set(names(everything)) == {"A", "B", "C", "D", "E", "B1", "B2", "B3", "B4", "B1a", "X"}
    assert everything["meta"]["results"]["total"] == 11
    of_shop = view(api, f"{shop.base}/hierarchies/{shop.shop}/nodes", **ALL)
    assert set(names(of_shop)) == set(names(everything)) - {"X"}
    assert names(view(api, f"{shop.base}/hierarchies/{shop.extra}/nodes")) == ["X"]
    for url in (f"{shop.base}/nodes", f"{shop.base}/hierarchies/{shop.shop}/nodes"):
        assert filtered(api, url, "eq(name,B1a)") == ["B1a"]
        assert filtered(api, url, "eq(slug,b2)") == ["B2"]
        assert set(filtered(api, url, f"in(id,{shop.nodes['A']},{shop.nodes['B3']})")) == {"A", "B3"}
    # in(id,…) does not follow the order of its arguments.
    url = f"{shop.base}/nodes"
    forward = filtered(api, url, f"in(id,{shop.nodes['A']},{shop.nodes['B3']},{shop.nodes['C']})")
    backward = filtered(api, url, f"in(id,{shop.nodes['C']},{shop.nodes['B3']},{shop.nodes['A']})")
    assert forward == backward


def test_node_documents(api: Caller, shop: Shop) -> None:
    prefix = f"/pcm/catalogs/{shop.catalog}/releases/{shop.release}"
    top = view(api, f"{shop.base}/nodes/{shop.nodes['B']}")["data"]
    assert top["type"] == "node"
    assert top["id"] == shop.nodes["B"]
    attributes = top["attributes"]
    assert attributes["name"] == "B" and attributes["slug"] == "b"
    assert attributes["curated_products"] == [shop.products["p3"], shop.products["p1"]]
    assert attributes["published_at"] == shop.published_at
    assert TIMESTAMP.match(attributes["created_at"]) and TIMESTAMP.match(attributes["updated_at"])
    relationships = top["relationships"]
    # §4.3, §B-23: a top-level node's parent is the hierarchy.
    assert relationships["parent"]["data"] == {"type": "node", "id": shop.shop}
    assert relationships["hierarchy"]["data"] == {"type": "hierarchy", "id": shop.shop}
    assert relationships["children"]["links"]["related"] == f"{prefix}/nodes/{shop.nodes['B']}/relationships/children"
    assert relationships["products"]["links"]["related"] == f"{prefix}/nodes/{shop.nodes['B']}/relationships/products"
    assert top["meta"]["breadcrumbs"] == [
        {"id": shop.shop, "name": "Shop", "slug": "shop"},
        {"id": shop.nodes["B"], "name": "B", "slug": "b"},
    ]
    assert top["meta"]["has_children"] is True

    deep = view(api, f"{shop.base}/nodes/{shop.nodes['B1a']}")["data"]
    assert deep["relationships"]["parent"]["data"] == {"type": "node", "id": shop.nodes["B1"]}
    assert deep["relationships"]["parent"]["links"]["related"] == f"{prefix}/nodes/{shop.nodes['B1']}"
    assert deep["relationships"]["hierarchy"]["data"] == {"type": "hierarchy", "id": shop.shop}
    assert [crumb["name"] for crumb in deep["meta"]["breadcrumbs"]] == ["Shop", "B", "B1", "B1a"]
    assert deep["meta"]["has_children"] is False
    assert "curated_products" not in deep["attributes"]
    # The same documents in the lists.
    listed = {n["id"]: n for n in view(api, f"{shop.base}/nodes", **ALL)["data"]}
    assert listed[shop.nodes["B"]] == top and listed[shop.nodes["B1a"]] == deep


# --- products -------------------------------------------------------------------------------------------


def test_node_products_seed_003(api: Caller, shop: Shop) -> None:
    """Live products only; curated first (marked), then most recently updated first."""
    p = shop.products
    url = f"{shop.base}/nodes/{shop.nodes['B']}/relationships/products"
    body = view(api, url)
    assert ids(body) == [p["p3"], p["p1"], p["p2"], p["p5"], p["p4"]]
    assert [item["attributes"].get("curated_product") for item in body["data"]] == [True, True, None, None, None]
    assert all(item["attributes"]["status"] == "live" for item in body["data"])
    assert body["meta"]["results"]["total"] == 5
    for item in body["data"]:
        assert item["type"] == "product"
        assert item["meta"]["catalog_id"] == shop.catalog
        assert item["meta"]["catalog_source"] == "pim"
        assert item["meta"]["bread_crumb_nodes"] == [shop.nodes["B"]]
        assert item["meta"]["bread_crumbs"] == {shop.nodes["B"]: [shop.shop]}
    # The flag is only on the node's list, not on the product itself.
    assert "curated_product" not in view(api, f"{shop.base}/products/{p['p3']}")["data"]["attributes"]
    # Products of a node are direct links only (§B-25).
    assert view(api, f"{shop.base}/nodes/{shop.nodes['B1']}/relationships/products")["data"] == []
    assert ids(view(api, f"{shop.base}/nodes/{shop.nodes['B1a']}/relationships/products")) == [p["p6"]]


def test_node_products_are_paged_like_seed_003(api: Caller, shop: Shop) -> None:
    p = shop.products
    path = f"/pcm/catalogs/{shop.catalog}/releases/latest/nodes/{shop.nodes['B']}/relationships/products"
    pages = []
    for offset in (0, 2, 4):
        body = view(api, path, **{"page[limit]": "2", "page[offset]": str(offset)})
        pages.append(ids(body))
        assert body["meta"]["results"]["total"] == 5
        assert body["meta"]["page"] == {"limit": 2, "offset": offset, "current": offset // 2 + 1, "total": 3}
        links = body["links"]
        assert links["first"] == f"{ORIGIN}{path}?page[offset]=0&page[limit]=2"
        assert links["last"] == f"{ORIGIN}{path}?page[offset]=4&page[limit]=2"
        assert links["self"] == f"{ORIGIN}{path}?page[offset]={offset}&page[limit]=2"
        assert links["next"] == (f"{ORIGIN}{path}?page[offset]={offset + 2}&page[limit]=2" if offset < 4 else None)
        assert links["prev"] == (f"{ORIGIN}{path}?page[offset]={offset - 2}&page[limit]=2" if offset else None)
    assert pages == [[p["p3"], p["p1"]], [p["p2"], p["p5"]], [p["p4"]]]
    # Curated entries keep their flag on any page.
    second = view(api, path, **{"page[limit]": "1", "page[offset]": "1"})["data"]
    assert [item["attributes"].get("curated_product") for item in second] == [True]
    beyond = view(api, path, **{"page[offset]": "10"})
    assert beyond["data"] == [] and beyond["meta"]["results"]["total"] == 5
    assert api.get(path, params={"page[limit]": "0"}).status_code == 400
    assert api.get(path, params={"page[offset]": "-1"}).status_code == 400
    assert api.get(path, params={"page[offset]": "10001"}).status_code == 400
    clamped = view(api, path, **{"page[limit]": "1000"})
    assert clamped["meta"]["page"]["limit"] == 100


def test_node_product_filters(api: Caller, shop: Shop) -> None:
    url = f"{shop.base}/nodes/{shop.nodes['B']}/relationships/products"
    assert filtered(api, url, "eq(tags,red)") == ["One", "Two"]  # curated One first
    paged = view(api, url, filter="eq(tags,red)", **{"page[limit]": "1"})
    assert paged["meta"]["results"]["total"] == 2
    assert paged["links"]["next"] == f"{ORIGIN}{url}?page[offset]=1&page[limit]=1&filter=eq(tags,red)"
    assert filtered(api, url, "in(sku,SKU-4,SKU-3)") == ["Three", "Four"]
    curated = view(api, url, filter="eq(sku,SKU-1)")["data"]
    assert curated[0]["attributes"]["curated_product"] is True


def test_products_are_listed_newest_first(api: Caller, shop: Shop) -> None:
    p = shop.products
    body = view(api, f"{shop.base}/products", **ALL)
    assert ids(body) == [p["p2"], p["p7"], p["p6"], p["p5"], p["p4"], p["p3"], p["p1"]]
    assert body["meta"]["results"]["total"] == 7
    updated = [item["attributes"]["updated_at"] for item in body["data"]]
    assert updated == sorted(updated, reverse=True)
    assert all("curated_product" not in item["attributes"] for item in body["data"])


PRODUCT_FILTERS: list[tuple[str, list[str]]] = [
    ("eq(name,Three)", ["Three"]),
    ("eq(sku,SKU-1)", ["One"]),
    ("eq(slug,five)", ["Five"]),
    ("eq(manufacturer_part_num,M1)", ["One"]),
    ("eq(upc_ean,U1)", ["One"]),
    ("eq(tags,blue)", ["Two", "Three"]),
    ("eq(product_types,standard)", ["Two", "Seven", "Six", "Five", "Four", "Three", "One"]),
    ("eq(product_types,bundle)", []),
    ("in(name,One,Seven)", ["Seven", "One"]),
    ("in(sku,SKU-3,SKU-2,SKU-D)", ["Two", "Three"]),
    ("in(slug,one,two)", ["Two", "One"]),
    ("in(manufacturer_part_num,M1,M2)", ["One"]),
    ("in(upc_ean,U1)", ["One"]),
    ("in(tags,red,blue)", ["Two", "Three", "One"]),
    ("in(product_types,standard)", ["Two", "Seven", "Six", "Five", "Four", "Three", "One"]),
    ("eq(tags,red):eq(tags,blue)", ["Two"]),
    ("eq(sku,SKU-D)", []),  # the draft is not in the release
]


def test_product_filters(api: Caller, shop: Shop) -> None:
    for expression, expected in PRODUCT_FILTERS:
        assert filtered(api, f"{shop.base}/products", expression) == expected, expression


def test_product_in_id_filter(api: Caller, shop: Shop) -> None:
    p = shop.products
    found = ids(view(api, f"{shop.base}/products", filter=f"in(id,{p['p1']},{p['p2']},{p['draft']})"))
    assert found == [p["p2"], p["p1"]]


BAD_FILTERS = ["like(name,O*)", "eq(status,live)", "eq(description,x)", "gt(updated_at,2020-01-01)", "eq(name"]


def test_filters_outside_the_table_are_400(api: Caller, shop: Shop) -> None:
    for expression in BAD_FILTERS:
        for url in (
            f"{shop.base}/products",
            f"{shop.base}/nodes/{shop.nodes['B']}/relationships/products",
            f"{shop.base}/hierarchies/{shop.shop}/products",
        ):
            response = api.get(url, params={"filter": expression})
            assert response.status_code == 400, (url, expression, response.text)
            assert errors_of(response)[0]["title"] == "Bad Request"
    for url in (f"{shop.base}/nodes", f"{shop.base}/hierarchies", f"{shop.base}/hierarchies/{shop.shop}/children"):
        response = api.get(url, params={"filter": "like(name,B*)"})
        assert response.status_code == 400, url


def test_hierarchy_products_are_the_distinct_products_of_its_nodes(api: Caller, shop: Shop) -> None:
    p = shop.products
    for suffix in ("products", "relationships/products"):
        url = f"{shop.base}/hierarchies/{shop.shop}/{suffix}"
        body = view(api, url, **ALL)
        assert ids(body) == [p["p2"], p["p6"], p["p5"], p["p4"], p["p3"], p["p1"]]
        assert body["meta"]["results"]["total"] == 6
        assert filtered(api, url, "eq(sku,SKU-6)") == ["Six"]
    assert ids(view(api, f"{shop.base}/hierarchies/{shop.extra}/products")) == [p["p7"], p["p6"]]
    paged = view(api, f"{shop.base}/hierarchies/{shop.shop}/products", **{"page[limit]": "4", "page[offset]": "4"})
    assert ids(paged) == [p["p3"], p["p1"]]
    assert paged["meta"]["page"] == {"limit": 4, "offset": 4, "current": 2, "total": 2}


def test_hierarchy_products_are_kept_at_publish_and_read_as_found_from_the_links(
    db: Database, uncached: Caller, shop: Shop
) -> None:
    """Publish keeps every hierarchy's distinct products, as their positions in the release's product order:
    unfiltered pages by offset read a slice of those. A release published before they were kept (NULL) finds
    them from the node links, with the same answers; so do filtered and cursor pages."""
    p = shop.products
    with db.sessions() as session:
        kept = {
            str(hierarchy): unpack_positions(positions or b"")
            for hierarchy, positions in session.execute(
                select(ReleaseHierarchy.hierarchy_id, ReleaseHierarchy.product_positions)
            )
        }
        position_of = {
            str(product): position
            for product, position in session.execute(select(ReleaseProduct.product_id, ReleaseProduct.position))
        }
    in_order = [p["p2"], p["p6"], p["p5"], p["p4"], p["p3"], p["p1"]]
    assert kept == {
        shop.shop: [position_of[i] for i in in_order],
        shop.extra: [position_of[p["p7"]], position_of[p["p6"]]],
    }
    queries: list[tuple[str, dict[str, str]]] = []
    for hierarchy in (shop.shop, shop.extra):
        url = f"{shop.base}/hierarchies/{hierarchy}/products"
        queries += [
            (url, {}),
            (url, ALL),
            (url, {"page[limit]": "4", "page[offset]": "4"}),
            (url, {"page[limit]": "2", "page[offset]": "6"}),  # past the end
            (url, {"page[limit]": "2", "page[after]": ""}),
            (url, {"filter": "eq(tags,red)"}),
            (f"{shop.base}/hierarchies/{hierarchy}/relationships/products", {"page[limit]": "3"}),
        ]

    def answers() -> list[tuple[int, Any]]:
        return [(r.status_code, r.json()) for r in (uncached.get(url, params=params) for url, params in queries)]

    from_kept = answers()
    assert [ids(body) for _, body in from_kept[:2]] == [in_order, in_order]
    assert from_kept[3][1]["data"] == [] and from_kept[3][1]["meta"]["results"]["total"] == 6
    # The pages read what was kept (one product left out here, to tell it from products found from the links).
    without_five = pack_positions([position_of[i] for i in in_order if i != p["p5"]])
    with db.sessions.begin() as session:
        session.execute(
            update(ReleaseHierarchy)
            .where(ReleaseHierarchy.hierarchy_id == uuid.UUID(shop.shop))
            .values(product_positions=without_five)
        )
    changed = uncached.get(queries[1][0], params=ALL).json()
    assert ids(changed) == [i for i in in_order if i != p["p5"]] and changed["meta"]["results"]["total"] == 5
    # A release published before: nothing kept.
    with db.sessions.begin() as session:
        session.execute(update(ReleaseHierarchy).values(product_positions=None))
    assert answers() == from_kept


def test_product_bread_crumbs_span_the_catalogs_hierarchies(api: Caller, shop: Shop) -> None:
    six = view(api, f"{shop.base}/products/{shop.products['p6']}")["data"]
    assert six["meta"]["bread_crumb_nodes"] == [shop.nodes["X"], shop.nodes["B1a"]]  # X linked later
    assert six["meta"]["bread_crumbs"] == {
        shop.nodes["B1a"]: [shop.shop, shop.nodes["B"], shop.nodes["B1"]],
        shop.nodes["X"]: [shop.extra],
    }


def test_related_products_are_paged_and_filtered(api: Caller) -> None:
    h = make_hierarchy(api)["id"]
    nid = make_node(api, h, "Node")["id"]
    source = make_product(api, status="live", sku="source")["id"]
    targets = [make_product(api, status="live", sku=f"t{i}")["id"] for i in range(3)]
    link(api, h, nid, source, *targets)
    make_definition(api, "related")
    associate(api, source, "CRP_related", targets)
    catalog = make_catalog(api, [h])["id"]
    publish(api, catalog)
    url = f"{view_url(catalog)}/products/{source}/relationships/CRP_related/products"
    body = view(api, url, **{"page[limit]": "2"})
    assert ids(body) == targets[:2]
    assert body["meta"]["results"]["total"] == 3
    assert body["links"]["next"] == f"{ORIGIN}{url}?page[offset]=2&page[limit]=2"
    assert ids(view(api, url, filter="eq(sku,t2)")) == [targets[2]]
    assert view(api, f"{view_url(catalog)}/products/{source}/relationships/CRP_other/products")["data"] == []


# --- caching: ETags, 304, identical bodies ------------------------------------------------------------


@pytest.fixture
def uncached(db: Database, api: Caller) -> Iterator[Caller]:
    with uncached_caller(db.settings.database_url, api) as caller:
        yield caller


def view_urls(shop: Shop) -> list[str]:
    base = shop.base
    return [
        f"{base}/hierarchies",
        f"{base}/hierarchies/{shop.shop}",
        f"{base}/hierarchies/{shop.shop}/nodes",
        f"{base}/hierarchies/{shop.shop}/children",
        f"{base}/hierarchies/{shop.shop}/products",
        f"{base}/hierarchies/{shop.shop}/relationships/products",
        f"{base}/nodes",
        f"{base}/nodes/{shop.nodes['B']}",
        f"{base}/nodes/{shop.nodes['B']}/relationships/children",
        f"{base}/nodes/{shop.nodes['B']}/relationships/products",
        f"{base}/nodes/{shop.nodes['B']}/relationships/products?page[limit]=2&page[offset]=2",
        f"{base}/products",
        f"{base}/products?filter=eq(tags,red)",
        f"{base}/products/{shop.products['p1']}",
        f"/pcm/catalogs/{shop.catalog}/releases/{shop.release}/products",
    ]


@pytest.mark.parametrize("cache", ["cached", "uncached"])
def test_etags_and_304(api: Caller, uncached: Caller, shop: Shop, cache: str) -> None:
    caller = api if cache == "cached" else uncached
    for url in view_urls(shop):
        first = caller.get(url)
        assert first.status_code == 200, url
        etag = first.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"')
        for _ in range(2):
            again = caller.get(url)
            assert again.status_code == 200
            assert again.content == first.content, url
            assert again.headers["ETag"] == etag
            assert again.headers["content-type"].startswith("application/json")
        not_modified = caller.get(url, headers={"If-None-Match": etag})
        assert not_modified.status_code == 304, url
        assert not_modified.content == b""
        assert not_modified.headers["ETag"] == etag
        listed = caller.get(url, headers={"If-None-Match": f'"other", {etag}'})
        assert listed.status_code == 304, url
        stale = caller.get(url, headers={"If-None-Match": '"something-else"'})
        assert stale.status_code == 200
        assert stale.content == first.content


def test_cached_and_uncached_reads_agree(api: Caller, uncached: Caller, shop: Shop) -> None:
    for url in view_urls(shop):
        warm = api.get(url)
        warm = api.get(url)
        cold = uncached.get(url)
        assert warm.status_code == cold.status_code == 200, url
        assert warm.content == cold.content, url
        assert warm.headers["ETag"] == cold.headers["ETag"], url


def test_different_pages_have_different_etags(api: Caller, shop: Shop) -> None:
    url = f"{shop.base}/nodes/{shop.nodes['B']}/relationships/products"
    first = api.get(url, params={"page[limit]": "2"})
    second = api.get(url, params={"page[limit]": "2", "page[offset]": "2"})
    assert first.headers["ETag"] != second.headers["ETag"]
    assert (
        api.get(url, params={"page[limit]": "2"}, headers={"If-None-Match": second.headers["ETag"]}).status_code == 200
    )


def test_latest_follows_a_new_publish_despite_the_cache(api: Caller, shop: Shop) -> None:
    url = f"{shop.base}/hierarchies/{shop.shop}/products"
    before = api.get(url)
    assert before.status_code == 200
    api.get(url)
    newcomer = make_product(api, status="live", sku="NEW")["id"]
    link(api, shop.shop, shop.nodes["A"], newcomer)
    publish(api, shop.catalog)
    after = api.get(url)
    assert newcomer in ids(after.json())
    assert api.get(url, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200
    # The old release still answers by its id.
    old = api.get(f"/pcm/catalogs/{shop.catalog}/releases/{shop.release}/hierarchies/{shop.shop}/products")
    assert newcomer not in ids(old.json())


def test_a_deleted_release_is_not_served_from_the_cache(api: Caller, shop: Shop) -> None:
    url = f"/pcm/catalogs/{shop.catalog}/releases/{shop.release}/products"
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200
    assert api.delete(f"/pcm/catalogs/{shop.catalog}/releases/{shop.release}").status_code == 204
    assert api.get(url).status_code == 404
    assert api.get(f"{shop.base}/products").status_code == 404


# --- who may read ---------------------------------------------------------------------------------------


def test_implicit_tokens_read_the_release_view(api: Caller, keys: Keys, shop: Shop) -> None:
    shopper = keys.caller(grant="implicit")
    for url in view_urls(shop):
        response = shopper.get(url)
        assert response.status_code == 200, url
        assert response.content == api.get(url).content
    release = shopper.get(f"/pcm/catalogs/{shop.catalog}/releases/latest")
    assert release.status_code == 200
    assert release.json()["data"]["id"] == shop.release
    assert shopper.get(f"{shop.base}/products/{shop.products['draft']}").status_code == 404
    for response in (
        shopper.delete(f"/pcm/catalogs/{shop.catalog}/releases/{shop.release}"),
        shopper.get(f"/pcm/catalogs/{shop.catalog}/releases/{shop.release}/delta"),
        shopper.post(f"{shop.base}/products", json={}),
    ):
        assert response.status_code in (403, 405), response.text


def test_the_view_needs_a_valid_token(api: Caller, shop: Shop) -> None:
    url = f"{shop.base}/products"
    assert api.get(url).status_code == 200
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = api.client.get(url, headers=headers)
        assert response.status_code == 401, headers
        errors_of(response)


def test_another_store_cannot_read_the_view(api: Caller, keys: Keys, shop: Shop) -> None:
    other = keys.caller(store_id=keys.store("Elsewhere"))
    for url in view_urls(shop):
        api.get(url)  # warm the cache first
        assert other.get(url).status_code == 404, url


def test_cached_pages_echo_the_callers_request_id(api: Caller) -> None:
    hid = make_hierarchy(api, name="Echo")["id"]
    catalog = make_catalog(api, [hid])
    publish(api, catalog["id"])
    url = f"{view_url(catalog['id'])}/hierarchies"
    assert api.get(url).status_code == 200  # rendered, then kept
    again = api.get(url, headers={"X-Request-ID": "trace-42"})
    assert again.status_code == 200
    assert again.headers["x-request-id"] == "trace-42"
