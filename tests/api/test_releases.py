"""Publishing and releases: SPEC §4.2, §4.4 (bread crumbs), §B-11, §B-13, §B-24, §B-27; release deltas;
`assortment catalogs publish`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from assortment.db.models import Release, ReleaseNode, ReleaseNodeProduct, ReleaseProduct, ReleaseRelated
from assortment.db.repositories import releases as repo
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
    unlink,
    view,
    view_url,
)
from tests.cli.conftest import Cli
from tests.conftest import Caller, Database, Keys
from tests.helpers import ORIGIN, errors_of
from tests.relationships import associate, make_definition

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ALL = {"page[limit]": "100"}


@pytest.fixture
def uncached(db: Database, api: Caller) -> Iterator[Caller]:
    with uncached_caller(db.settings.database_url, api) as caller:
        yield caller


def live(api: Caller, **attributes: Any) -> str:
    product_id: str = make_product(api, status="live", **attributes)["id"]
    return product_id


def draft(api: Caller, **attributes: Any) -> str:
    product_id: str = make_product(api, **attributes)["id"]
    return product_id


def product_ids(api: Caller, catalog_id: str, release: str = "latest") -> set[str]:
    body = view(api, f"{view_url(catalog_id, release)}/products", **ALL)
    return set(ids(body))


def product_doc(api: Caller, catalog_id: str, product_id: str, release: str = "latest") -> dict[str, Any]:
    data: dict[str, Any] = view(api, f"{view_url(catalog_id, release)}/products/{product_id}")["data"]
    return data


def release_rows(db: Database, release_id: str | None = None) -> dict[str, int]:
    """How many rows the release tables hold (for one release, or all)."""
    counts = {}
    with db.sessions() as session:
        release_pks = None
        if release_id is not None:
            release_pks = list(session.scalars(select(Release.pk).where(Release.id == uuid.UUID(release_id))))
        columns: list[Any] = [
            Release.pk,
            ReleaseProduct.release_pk,
            ReleaseNode.release_pk,
            ReleaseNodeProduct.release_pk,
            ReleaseRelated.release_pk,
        ]
        for column in columns:
            query = select(func.count()).select_from(column.table)
            if release_pks is not None:
                query = query.where(column.in_(release_pks))
            counts[column.table.name] = session.scalar(query) or 0
    return counts


# --- publishing ---------------------------------------------------------------------------------------


def test_a_new_release_is_planned_as_the_release_it_is(api: Caller, db: Database) -> None:
    """Planner statistics are part of the publish: PostgreSQL analyzes the release tables in the publishing
    transaction, so the planner knows the newest release's rows from its first read. (Statistics taken
    before the release existed estimate it at one row, and a 100k-product node page was planned as nested
    loops over the whole release: a second per page.) SQLite plans by its indexes: a page fetches each
    product row by its key."""
    hierarchy = make_hierarchy(api, name="Stats")["id"]
    node = make_node(api, hierarchy, "All")["id"]
    for n in range(40):
        link(api, hierarchy, node, make_product(api, name=f"P{n}", status="live")["id"])
    catalog = make_catalog(api, [hierarchy])["id"]
    publish(api, catalog)
    publish(api, catalog)
    with db.engine.connect() as conn:
        newest = conn.execute(select(func.max(Release.pk))).scalar_one()
        if db.engine.dialect.name == "postgresql":
            for table in ("release_product", "release_node_product"):
                plan = conn.exec_driver_sql(
                    f"EXPLAIN (FORMAT JSON) SELECT * FROM {table} WHERE release_pk = %s", (newest,)
                ).scalar_one()
                assert plan[0]["Plan"]["Plan Rows"] >= 20, (table, plan)  # 40 rows, not "none"
        else:
            statement = repo.FAST_NODE_PRODUCTS_COUNTED.qmark
            node_hex = uuid.UUID(node).hex
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, (newest, node_hex, newest, node_hex, 25, 0))
            details = [row[-1] for row in rows if "release_product " in row[-1] + " "]
            assert details and all("product_id=?" in detail for detail in details), details


def test_publish_with_an_empty_body_returns_the_release(api: Caller) -> None:
    hid = make_hierarchy(api, name="Shop")["id"]
    nid = make_node(api, hid, "Shoes")["id"]
    link(api, hid, nid, live(api), live(api), draft(api))
    catalog = make_catalog(api, [hid], name="Main", description="Everything")
    release = publish(api, catalog["id"])

    rid = release["id"]
    uuid.UUID(rid)
    base = f"/pcm/catalogs/{catalog['id']}/releases/{rid}"
    assert release["type"] == "catalog-release"
    attributes = release["attributes"]
    assert attributes["name"] == "Main"
    assert attributes["description"] == "Everything"
    assert attributes["catalog_id"] == catalog["id"]
    assert TIMESTAMP.match(attributes["published_at"])
    assert [h["id"] for h in attributes["hierarchies"]] == [hid]
    assert release["relationships"]["hierarchies"]["links"]["related"] == f"{base}/hierarchies"
    assert release["relationships"]["products"]["links"]["related"] == f"{base}/products"
    assert release["relationships"]["delta"]["links"]["related"] == f"{base}/delta"
    meta = release["meta"]
    assert meta["release_status"] == "PUBLISHED"
    assert meta["percent_completed"] == 100
    assert meta["is_full_publish"] is True and meta["is_full_delta"] is True
    assert meta["total_products"] == 2
    assert meta["total_nodes"] == 1
    assert meta["owner"] == "store"
    for name in ("created_at", "started_at", "updated_at"):
        assert TIMESTAMP.match(meta[name]), name
    assert release["links"]["self"] == base
    # A later publish is not a full one.
    again = publish(api, catalog["id"])["meta"]
    assert again["is_full_publish"] is False and again["is_full_delta"] is False


@pytest.mark.parametrize("body", [{}, {"data": {}}, {"data": {"export_full_delta": False}}])
def test_publish_accepts_the_optional_body(api: Caller, body: dict[str, Any]) -> None:
    catalog = make_catalog(api, [make_hierarchy(api)["id"]])
    assert publish(api, catalog["id"], body)["meta"]["release_status"] == "PUBLISHED"


def test_publish_refuses_a_malformed_body_and_writes_nothing(api: Caller, db: Database) -> None:
    catalog = make_catalog(api, [make_hierarchy(api)["id"]])
    url = f"/pcm/catalogs/{catalog['id']}/releases"
    wrong_type = api.post(url, json={"data": {"export_full_delta": "yes"}})
    assert wrong_type.status_code == 422, wrong_type.text
    errors_of(wrong_type)
    broken = api.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400, broken.text
    errors_of(broken)
    assert release_rows(db)["catalog_release"] == 0


def test_only_live_products_linked_to_the_catalogs_hierarchies_are_published(api: Caller) -> None:
    shop = make_hierarchy(api, name="Shop")["id"]
    other = make_hierarchy(api, name="Other")["id"]
    shoes = make_node(api, shop, "Shoes")["id"]
    boots = make_node(api, shop, "Boots", parent=shoes)["id"]
    elsewhere = make_node(api, other, "Elsewhere")["id"]
    top_level, deep, both = live(api, sku="top"), live(api, sku="deep"), live(api, sku="both")
    hidden_draft = draft(api, sku="draft")
    only_other = live(api, sku="other")
    unlinked = live(api, sku="unlinked")
    link(api, shop, shoes, top_level, both, hidden_draft)
    link(api, shop, boots, deep)
    link(api, other, elsewhere, both, only_other)
    catalog = make_catalog(api, [shop])
    release = publish(api, catalog["id"])

    assert product_ids(api, catalog["id"]) == {top_level, deep, both}
    assert release["meta"]["total_products"] == 3
    for excluded in (hidden_draft, only_other, unlinked):
        response = api.get(f"{view_url(catalog['id'])}/products/{excluded}")
        assert response.status_code == 404
        errors_of(response)
    # Links to nodes of other hierarchies do not show in the release.
    assert product_doc(api, catalog["id"], both)["meta"]["bread_crumb_nodes"] == [shoes]
    assert set(product_doc(api, catalog["id"], both)["meta"]["bread_crumbs"]) == {shoes}
    # Nor do the other hierarchy's nodes.
    nodes = view(api, f"{view_url(catalog['id'])}/nodes", **ALL)
    assert set(ids(nodes)) == {shoes, boots}


def test_a_product_in_several_catalog_hierarchies_is_published_once(api: Caller) -> None:
    first, second = make_hierarchy(api, name="First")["id"], make_hierarchy(api, name="Second")["id"]
    a, b = make_node(api, first, "A")["id"], make_node(api, second, "B")["id"]
    product = live(api)
    link(api, first, a, product)
    link(api, second, b, product)
    catalog = make_catalog(api, [second, first])
    assert publish(api, catalog["id"])["meta"]["total_products"] == 1
    body = view(api, f"{view_url(catalog['id'])}/products")
    assert ids(body) == [product]
    assert body["meta"]["results"]["total"] == 1
    document = body["data"][0]
    assert document["meta"]["bread_crumb_nodes"] == [b, a]  # b linked later
    assert document["meta"]["bread_crumbs"] == {a: [first], b: [second]}


def test_hierarchies_follow_the_catalog_order(api: Caller) -> None:
    one, two, three = (make_hierarchy(api, name=name)["id"] for name in ("One", "Two", "Three"))
    catalog = make_catalog(api, [three, one, two])
    release = publish(api, catalog["id"])
    assert [h["id"] for h in release["attributes"]["hierarchies"]] == [three, one, two]
    assert [h["name"] for h in release["attributes"]["hierarchies"]] == ["Three", "One", "Two"]
    assert ids(view(api, f"{view_url(catalog['id'])}/hierarchies")) == [three, one, two]


def test_bread_crumbs_of_the_worked_example(api: Caller) -> None:
    """§4.4: linked to N2 (H>N1>N2) and later to N3 (H>N3) → [N3, N2], {N2: [H, N1], N3: [H]}."""
    h = make_hierarchy(api, name="H")["id"]
    n1 = make_node(api, h, "N1")["id"]
    n2 = make_node(api, h, "N2", parent=n1)["id"]
    n3 = make_node(api, h, "N3")["id"]
    forward, backward = live(api, sku="forward"), live(api, sku="backward")
    link(api, h, n2, forward)
    link(api, h, n3, backward)
    link(api, h, n3, forward)
    link(api, h, n2, backward)
    catalog = make_catalog(api, [h])
    publish(api, catalog["id"])

    meta = product_doc(api, catalog["id"], forward)["meta"]
    assert meta["bread_crumb_nodes"] == [n3, n2]
    assert meta["bread_crumbs"] == {n2: [h, n1], n3: [h]}
    # The order is the linking order, not the tree's.
    meta = product_doc(api, catalog["id"], backward)["meta"]
    assert meta["bread_crumb_nodes"] == [n2, n3]
    assert meta["bread_crumbs"] == {n2: [h, n1], n3: [h]}


def test_bread_crumbs_keep_the_ten_levels_nearest_the_root(api: Caller) -> None:
    h = make_hierarchy(api, name="Deep")["id"]
    chain: list[str] = []
    for depth in range(12):
        chain.append(make_node(api, h, f"L{depth}", parent=chain[-1] if chain else None)["id"])
    deepest, shallow = live(api, sku="deepest"), live(api, sku="shallow")
    link(api, h, chain[-1], deepest)
    link(api, h, chain[8], shallow)
    catalog = make_catalog(api, [h])
    publish(api, catalog["id"])

    crumbs = product_doc(api, catalog["id"], deepest)["meta"]["bread_crumbs"]
    assert crumbs == {chain[-1]: [h, *chain[:9]]}  # 12 ancestors, the 10 nearest the root kept
    crumbs = product_doc(api, catalog["id"], shallow)["meta"]["bread_crumbs"]
    assert crumbs == {chain[8]: [h, *chain[:8]]}  # exactly 9: all kept


def test_product_document_of_a_release(api: Caller) -> None:
    """§4.4: the PIM attributes under their catalog names, and the catalog's meta (prices aside)."""
    h = make_hierarchy(api)["id"]
    nid = make_node(api, h, "Node")["id"]
    product = make_product(
        api,
        status="live",
        name="Blue shirt",
        description="Cotton",
        slug="blue-shirt",
        sku="BS-1",
        upc_ean="0123456",
        mpn="mfn1",
        external_ref="ext-1",
        tags=["shirts"],
        commodity_type="physical",
    )
    link(api, h, nid, product["id"])
    catalog = make_catalog(api, [h])
    release = publish(api, catalog["id"])
    document = product_doc(api, catalog["id"], product["id"])
    assert document["type"] == "product"
    assert document["id"] == product["id"]
    attributes = document["attributes"]
    for name, value in {
        "name": "Blue shirt",
        "description": "Cotton",
        "slug": "blue-shirt",
        "sku": "BS-1",
        "status": "live",
        "commodity_type": "physical",
        "upc_ean": "0123456",
        "manufacturer_part_num": "mfn1",
        "external_ref": "ext-1",
        "tags": ["shirts"],
        "base_product": False,
        "created_at": product["meta"]["created_at"],
        "updated_at": product["meta"]["updated_at"],
        "published_at": release["attributes"]["published_at"],
    }.items():
        assert attributes[name] == value, name
    assert "mpn" not in attributes
    assert "curated_product" not in attributes
    meta = document["meta"]
    assert meta["catalog_id"] == catalog["id"]
    assert meta["catalog_source"] == "pim"
    assert meta["product_types"] == ["standard"]
    assert meta["bread_crumb_nodes"] == [nid]
    assert meta["bread_crumbs"] == {nid: [h]}


def test_curated_products_that_are_not_published_leave_the_curated_list(api: Caller) -> None:
    h = make_hierarchy(api)["id"]
    nid = make_node(api, h, "Node")["id"]
    shown, hidden = live(api), draft(api)
    link(api, h, nid, shown, hidden)
    curate(api, h, nid, hidden, shown)
    catalog = make_catalog(api, [h])
    publish(api, catalog["id"])
    node = view(api, f"{view_url(catalog['id'])}/nodes/{nid}")["data"]
    assert node["attributes"]["curated_products"] == [shown]


def test_associations_whose_both_ends_are_published(api: Caller) -> None:
    h = make_hierarchy(api)["id"]
    nid = make_node(api, h, "Node")["id"]
    other = make_hierarchy(api, name="Other")["id"]
    other_node = make_node(api, other, "Outside")["id"]
    source, first, second, sorted_first = live(api), live(api), live(api), live(api)
    hidden_draft, outside = draft(api), live(api)
    link(api, h, nid, source, first, second, sorted_first, hidden_draft)
    link(api, other, other_node, outside)
    make_definition(api, "related")
    meta = associate(
        api,
        source,
        "CRP_related",
        [first, hidden_draft, outside, second, sorted_first],
        sort_orders={sorted_first: 1},
    )
    assert len(meta["associated_products"]) == 5
    catalog = make_catalog(api, [h])
    release = publish(api, catalog["id"])

    url = f"{view_url(catalog['id'])}/products/{source}/relationships/CRP_related/products"
    body = view(api, url)
    assert ids(body) == [sorted_first, first, second]  # sort_order first, then association order
    assert body["meta"]["results"]["total"] == 3
    document = product_doc(api, catalog["id"], source, release["id"])
    assert document["meta"]["custom_relationships"] == ["CRP_related"]
    assert document["relationships"]["custom_relationships"]["links"]["CRP_related"] == (
        f"/pcm/catalogs/{catalog['id']}/releases/{release['id']}/products/{source}/relationships/CRP_related/products"
    )
    # The targets have no associations of their own.
    assert view(api, f"{view_url(catalog['id'])}/products/{first}/relationships/CRP_related/products")["data"] == []
    missing = api.get(f"{view_url(catalog['id'])}/products/{hidden_draft}/relationships/CRP_related/products")
    assert missing.status_code == 404


# --- immutability ------------------------------------------------------------------------------------------


def release_bodies(caller: Caller, catalog_id: str, release_id: str, urls: list[str]) -> dict[str, bytes]:
    base = view_url(catalog_id, release_id)
    bodies = {}
    for url in urls:
        response = caller.get(base + url)
        assert response.status_code == 200, (url, response.text)
        bodies[url] = response.content
    return bodies


def test_a_release_does_not_change_when_the_pim_does(api: Caller, uncached: Caller) -> None:
    h = make_hierarchy(api, name="Shop")["id"]
    shoes = make_node(api, h, "Shoes", sort_order=1)["id"]
    boots = make_node(api, h, "Boots", parent=shoes)["id"]
    hats = make_node(api, h, "Hats")["id"]
    renamed, drafted, unlinked, deleted, target = (live(api, sku=f"s{i}") for i in range(5))
    link(api, h, shoes, renamed, drafted, unlinked, deleted)
    link(api, h, boots, target)
    curate(api, h, shoes, unlinked, renamed)
    make_definition(api, "related")
    associate(api, renamed, "CRP_related", [target])
    catalog = make_catalog(api, [h], name="Before")
    release = publish(api, catalog["id"])
    urls = [
        "/hierarchies",
        f"/hierarchies/{h}",
        f"/hierarchies/{h}/children",
        f"/hierarchies/{h}/nodes",
        f"/hierarchies/{h}/products",
        "/nodes",
        f"/nodes/{shoes}",
        f"/nodes/{boots}",
        f"/nodes/{shoes}/relationships/children",
        f"/nodes/{shoes}/relationships/products",
        "/products",
        *(f"/products/{p}" for p in (renamed, drafted, unlinked, deleted, target)),
        f"/products/{renamed}/relationships/CRP_related/products",
    ]
    before = release_bodies(uncached, catalog["id"], release["id"], urls)
    before_release = uncached.get(f"/pcm/catalogs/{catalog['id']}/releases/{release['id']}").json()

    set_product(api, renamed, name="Renamed", sku="changed")
    set_product(api, drafted, status="draft")
    unlink(api, h, shoes, unlinked)
    assert api.delete(f"/pcm/products/{deleted}").status_code == 204
    assert (
        api.delete(
            f"/pcm/products/{renamed}/custom-relationships/CRP_related",
            json={"data": [{"type": "product", "id": target}]},
        ).status_code
        == 204
    )
    assert (
        api.put(
            f"/pcm/hierarchies/{h}/nodes/{hats}",
            json={"data": {"type": "node", "id": hats, "attributes": {"name": "Caps"}, "meta": {"sort_order": 9}}},
        ).status_code
        == 200
    )
    assert api.delete(f"/pcm/hierarchies/{h}/nodes/{boots}").status_code == 204
    assert (
        api.put(
            f"/pcm/catalogs/{catalog['id']}",
            json={"data": {"type": "catalog", "attributes": {"name": "After", "hierarchy_ids": []}}},
        ).status_code
        == 200
    )
    assert api.delete(f"/pcm/hierarchies/{h}").status_code == 204

    assert release_bodies(uncached, catalog["id"], release["id"], urls) == before
    assert release_bodies(api, catalog["id"], release["id"], urls) == before
    assert uncached.get(f"/pcm/catalogs/{catalog['id']}/releases/{release['id']}").json() == before_release


# --- the release list, aliases and retention ------------------------------------------------------------


def test_releases_are_listed_newest_first(api: Caller) -> None:
    catalog = make_catalog(api, [make_hierarchy(api)["id"]])
    published = [publish(api, catalog["id"])["id"] for _ in range(3)]
    body = view(api, f"/pcm/catalogs/{catalog['id']}/releases")
    assert ids(body) == published[::-1]
    assert body["meta"]["results"]["total"] == 3
    assert body["meta"]["page"] == {"limit": 25, "offset": 0, "current": 1, "total": 1}
    assert body["links"]["next"] is None and body["links"]["prev"] is None
    paged = view(api, f"/pcm/catalogs/{catalog['id']}/releases", **{"page[limit]": "1", "page[offset]": "1"})
    assert ids(paged) == [published[1]]
    assert paged["meta"]["page"] == {"limit": 1, "offset": 1, "current": 2, "total": 3}
    assert paged["links"]["next"] == f"{ORIGIN}/pcm/catalogs/{catalog['id']}/releases?page[offset]=2&page[limit]=1"
    assert paged["links"]["prev"] == f"{ORIGIN}/pcm/catalogs/{catalog['id']}/releases?page[offset]=0&page[limit]=1"
    for rid in published:
        fetched = view(api, f"/pcm/catalogs/{catalog['id']}/releases/{rid}")["data"]
        assert fetched["id"] == rid
        assert fetched == next(r for r in body["data"] if r["id"] == rid)


def test_latest_and_latest_published_name_the_newest_release(api: Caller) -> None:
    catalog = make_catalog(api, [make_hierarchy(api)["id"]])
    first = publish(api, catalog["id"])["id"]
    second = publish(api, catalog["id"])["id"]
    for alias in ("latest", "latestPublished"):
        response = api.get(f"/pcm/catalogs/{catalog['id']}/releases/{alias}")
        assert response.status_code == 200
        assert response.json()["data"]["id"] == second
        hierarchies = view(api, f"{view_url(catalog['id'], alias)}/hierarchies")
        assert hierarchies["data"][0]["relationships"]["nodes"]["links"]["related"].startswith(
            f"/pcm/catalogs/{catalog['id']}/releases/{second}/"
        )
    # Deleting the latest makes the previous one the latest.
    assert api.delete(f"/pcm/catalogs/{catalog['id']}/releases/{second}").status_code == 204
    assert api.get(f"/pcm/catalogs/{catalog['id']}/releases/{second}").status_code == 404
    for alias in ("latest", "latestPublished"):
        assert api.get(f"/pcm/catalogs/{catalog['id']}/releases/{alias}").json()["data"]["id"] == first
    # `latest` itself may be deleted.
    assert api.delete(f"/pcm/catalogs/{catalog['id']}/releases/latest").status_code == 204
    assert api.get(f"/pcm/catalogs/{catalog['id']}/releases/{first}").status_code == 404


def test_no_release_is_404(api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [hid])
    base = f"/pcm/catalogs/{catalog['id']}/releases"
    for url in (
        f"{base}/latest",
        f"{base}/latestPublished",
        f"{base}/{uuid.uuid4()}",
        f"{base}/not-an-id",
        f"{base}/latest/hierarchies",
        f"{base}/latest/products",
        f"{base}/latest/nodes",
        f"{base}/latest/hierarchies/{hid}",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert errors_of(response)[0]["title"] == "Not Found"
    assert api.delete(f"{base}/latest").status_code == 404
    assert api.delete(f"{base}/{uuid.uuid4()}").status_code == 404
    assert view(api, base)["data"] == []
    assert api.delete(base).status_code == 204  # nothing to delete is fine


def test_a_release_of_another_catalog_is_404(api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    one, two = make_catalog(api, [hid], name="One"), make_catalog(api, [hid], name="Two")
    release = publish(api, one["id"])["id"]
    assert api.get(f"/pcm/catalogs/{two['id']}/releases/{release}").status_code == 404
    assert api.get(f"/pcm/catalogs/{two['id']}/releases/{release}/hierarchies").status_code == 404
    assert api.delete(f"/pcm/catalogs/{two['id']}/releases/{release}").status_code == 404
    assert api.get(f"/pcm/catalogs/{one['id']}/releases/{release}").status_code == 200


def test_releases_are_private_to_their_store(api: Caller, keys: Keys) -> None:
    hid = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [hid])
    release = publish(api, catalog["id"])["id"]
    other = keys.caller(store_id=keys.store("Elsewhere"))
    for url in (
        f"/pcm/catalogs/{catalog['id']}/releases",
        f"/pcm/catalogs/{catalog['id']}/releases/{release}",
        f"/pcm/catalogs/{catalog['id']}/releases/latest/hierarchies",
        f"/pcm/catalogs/{catalog['id']}/releases/{release}/hierarchies/{hid}",
    ):
        assert other.get(url).status_code == 404, url
    assert other.post(f"/pcm/catalogs/{catalog['id']}/releases", content=b"").status_code == 404


def test_delete_all_releases(api: Caller, db: Database) -> None:
    hid = make_hierarchy(api)["id"]
    nid = make_node(api, hid, "Node")["id"]
    link(api, hid, nid, live(api))
    catalog = make_catalog(api, [hid])
    other = make_catalog(api, [hid], name="Kept")
    for _ in range(2):
        publish(api, catalog["id"])
    kept = publish(api, other["id"])["id"]
    assert api.delete(f"/pcm/catalogs/{catalog['id']}/releases").status_code == 204
    assert view(api, f"/pcm/catalogs/{catalog['id']}/releases")["data"] == []
    assert api.get(f"/pcm/catalogs/{catalog['id']}/releases/latest").status_code == 404
    assert release_rows(db) == release_rows(db, kept)  # only the other catalog's release is left
    assert api.get(f"/pcm/catalogs/{other['id']}/releases/latest").json()["data"]["id"] == kept


def test_retention_keeps_the_current_release_and_two_before_it(api: Caller, db: Database) -> None:
    hid = make_hierarchy(api)["id"]
    nid = make_node(api, hid, "Node")["id"]
    link(api, hid, nid, live(api))
    catalog = make_catalog(api, [hid])
    published = [publish(api, catalog["id"])["id"] for _ in range(3)]
    assert ids(view(api, f"/pcm/catalogs/{catalog['id']}/releases")) == published[::-1]
    oldest_rows = release_rows(db, published[0])
    assert oldest_rows["release_product"] == 1 and oldest_rows["release_node"] == 1

    fourth = publish(api, catalog["id"])["id"]
    assert ids(view(api, f"/pcm/catalogs/{catalog['id']}/releases")) == [fourth, *published[:0:-1]]
    assert api.get(f"/pcm/catalogs/{catalog['id']}/releases/{published[0]}").status_code == 404
    assert api.get(f"/pcm/catalogs/{catalog['id']}/releases/{published[0]}/products").status_code == 404
    assert set(release_rows(db, published[0]).values()) == {0}  # its rows are gone too
    assert release_rows(db)["catalog_release"] == 3


def test_publishing_a_catalog_naming_a_deleted_hierarchy_is_refused(api: Caller, db: Database) -> None:
    kept, gone = make_hierarchy(api, name="Kept")["id"], make_hierarchy(api, name="Gone")["id"]
    catalog = make_catalog(api, [kept, gone])
    assert api.delete(f"/pcm/hierarchies/{gone}").status_code == 204
    # The catalog keeps listing the id.
    assert api.get(f"/pcm/catalogs/{catalog['id']}").json()["data"]["attributes"]["hierarchy_ids"] == [kept, gone]
    response = api.post(f"/pcm/catalogs/{catalog['id']}/releases", content=b"")
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["meta"]["missing_ids"] == [gone]
    assert release_rows(db)["catalog_release"] == 0
    # Fixing the catalog makes it publishable again.
    assert (
        api.put(
            f"/pcm/catalogs/{catalog['id']}",
            json={"data": {"type": "catalog", "attributes": {"hierarchy_ids": [kept]}}},
        ).status_code
        == 200
    )
    publish(api, catalog["id"])


def test_catalog_changes_affect_only_future_releases(api: Caller) -> None:
    one, two = make_hierarchy(api, name="One")["id"], make_hierarchy(api, name="Two")["id"]
    catalog = make_catalog(api, [one], name="First name")
    first = publish(api, catalog["id"])["id"]
    assert (
        api.put(
            f"/pcm/catalogs/{catalog['id']}",
            json={"data": {"type": "catalog", "attributes": {"name": "Second name", "hierarchy_ids": [two, one]}}},
        ).status_code
        == 200
    )
    assert view(api, f"/pcm/catalogs/{catalog['id']}/releases/{first}")["data"]["attributes"]["name"] == "First name"
    assert ids(view(api, f"{view_url(catalog['id'], first)}/hierarchies")) == [one]
    second = publish(api, catalog["id"])
    assert second["attributes"]["name"] == "Second name"
    assert ids(view(api, f"{view_url(catalog['id'], second['id'])}/hierarchies")) == [two, one]


# --- deltas ------------------------------------------------------------------------------------------------


def delta_of(api: Caller, catalog_id: str, release: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    url = release["relationships"]["delta"]["links"]["related"]
    entries = view(api, url)["data"]
    keyed = {(e["delta_type"], e["id"]): e for e in entries}
    assert len(keyed) == len(entries), entries
    for entry in entries:
        assert entry["type"] == "product"
    return keyed


def test_release_deltas(api: Caller) -> None:
    h = make_hierarchy(api)["id"]
    nid = make_node(api, h, "Node")["id"]
    changed, unchanged, drafted, removed = (live(api, sku=f"p{i}") for i in range(4))
    link(api, h, nid, changed, unchanged, drafted, removed)
    catalog = make_catalog(api, [h])
    first = publish(api, catalog["id"])
    assert set(delta_of(api, catalog["id"], first)) == {
        ("createupdate", p) for p in (changed, unchanged, drafted, removed)
    }

    added = live(api, sku="new")
    link(api, h, nid, added)
    set_product(api, changed, name="Changed")
    set_product(api, drafted, status="draft")
    unlink(api, h, nid, removed)
    second = publish(api, catalog["id"])
    assert set(delta_of(api, catalog["id"], second)) == {
        ("createupdate", changed),
        ("createupdate", added),
        ("delete", drafted),
        ("delete", removed),
    }
    # Nothing changed: an empty delta. The first release keeps its own.
    third = publish(api, catalog["id"])
    assert delta_of(api, catalog["id"], third) == {}
    assert len(delta_of(api, catalog["id"], first)) == 4
    # A product rendered again (linked to another node: its bread crumbs changed) without a new version of
    # its own is not in the delta; one gone and one back, the count of products unchanged, are.
    other = make_node(api, h, "Other")["id"]
    link(api, h, other, unchanged)
    set_product(api, changed, status="draft")
    set_product(api, drafted, status="live")
    fourth = publish(api, catalog["id"])
    assert set(delta_of(api, catalog["id"], fourth)) == {("delete", changed), ("createupdate", drafted)}
    # A full delta lists every product.
    full = publish(api, catalog["id"], {"data": {"export_full_delta": True}})
    assert full["meta"]["is_full_delta"] is True and full["meta"]["is_full_publish"] is False
    assert set(delta_of(api, catalog["id"], full)) == {("createupdate", p) for p in (unchanged, added, drafted)}


def test_delta_of_an_unknown_release_is_404(api: Caller) -> None:
    catalog = make_catalog(api, [make_hierarchy(api)["id"]])
    assert api.get(f"/pcm/catalogs/{catalog['id']}/releases/{uuid.uuid4()}/delta").status_code == 404


# --- the command line ------------------------------------------------------------------------------------


def normalised(body: bytes, release_id: str, published_at: str) -> bytes:
    return body.replace(release_id.encode(), b"RID").replace(published_at.encode(), b"PUBLISHED_AT")


def test_cli_publish_makes_the_same_release_as_the_api(api: Caller, db: Database, uncached: Caller) -> None:
    h = make_hierarchy(api, name="Shop")["id"]
    shoes = make_node(api, h, "Shoes", sort_order=2)["id"]
    boots = make_node(api, h, "Boots", parent=shoes)["id"]
    make_node(api, h, "Hats")
    products = [live(api, sku=f"c{i}") for i in range(4)]
    link(api, h, shoes, *products[:3])
    link(api, h, boots, products[2], products[3], draft(api))
    curate(api, h, shoes, products[1])
    make_definition(api, "related")
    associate(api, products[0], "CRP_related", [products[3]])
    catalog = make_catalog(api, [h], name="Both ways")
    by_api = publish(api, catalog["id"])

    result = Cli(db).run("catalogs", "publish", catalog["id"], "--json", "--quiet")
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["catalog_id"] == catalog["id"]
    assert summary["total_products"] == 4 and summary["total_nodes"] == 3
    by_cli = api.get(f"/pcm/catalogs/{catalog['id']}/releases/latest").json()["data"]
    assert by_cli["id"] == summary["id"] != by_api["id"]
    assert by_cli["meta"]["release_status"] == "PUBLISHED"
    assert by_cli["meta"]["is_full_publish"] is False
    assert ids(view(api, f"/pcm/catalogs/{catalog['id']}/releases")) == [by_cli["id"], by_api["id"]]
    assert delta_of(api, catalog["id"], by_cli) == {}

    urls = [
        "/hierarchies",
        f"/hierarchies/{h}/children",
        f"/hierarchies/{h}/products",
        "/nodes",
        f"/nodes/{shoes}/relationships/children",
        f"/nodes/{shoes}/relationships/products",
        f"/nodes/{boots}/relationships/products",
        "/products",
        f"/products/{products[0]}/relationships/CRP_related/products",
    ]
    from_api = release_bodies(uncached, catalog["id"], by_api["id"], urls)
    from_cli = release_bodies(uncached, catalog["id"], by_cli["id"], urls)
    for url in urls:
        assert normalised(from_cli[url], by_cli["id"], by_cli["attributes"]["published_at"]) == normalised(
            from_api[url], by_api["id"], by_api["attributes"]["published_at"]
        ), url


def test_cli_publish_reports_failures(api: Caller, db: Database) -> None:
    cli = Cli(db)
    unknown = cli.run("catalogs", "publish", str(uuid.uuid4()), "--quiet")
    assert unknown.code == 1
    assert "not found" in unknown.stderr
    gone = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [gone])
    assert api.delete(f"/pcm/hierarchies/{gone}").status_code == 204
    refused = cli.run("catalogs", "publish", catalog["id"], "--json", "--quiet")
    assert refused.code == 1
    assert refused.stdout == ""
    assert release_rows(db)["catalog_release"] == 0
