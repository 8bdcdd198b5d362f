"""A node's children read the fast way (domain/pim_reads.py, issue 17) answer exactly what the service's
general path answers: same nodes in §2.4 order, same documents (breadcrumbs, parent, owner, timestamps), same
totals, and the same refusals."""

from __future__ import annotations

import uuid
from typing import Any

from assortment.api.hierarchies import NodeRenderer
from assortment.api.products import render_product, render_products
from assortment.domain import pim_reads
from assortment.domain.filters import parse_filter
from assortment.domain.hierarchies import HierarchyService
from assortment.domain.paging import Paging
from assortment.domain.products import ProductService
from assortment.domain.tenancy import Principal
from tests.conftest import Caller, Database, Keys
from tests.relationships import attach, make_definition, make_product
from tests.trees import make_hierarchy, make_node


def _principal(caller: Caller) -> Principal:
    return Principal(key_id=uuid.uuid4(), store_id=caller.key.store_id, grant="client_credentials")


def _service_page(db: Database, caller: Caller, hid: str, nid: str, paging: Paging) -> tuple[list[Any], int]:
    with db.sessions() as session:
        service = HierarchyService(session, _principal(caller))
        page = service.list_children(hid, nid, None, paging)
        return NodeRenderer().render_all(service.describe(page.items)), page.total


def _fast_page(db: Database, caller: Caller, hid: str, nid: str, paging: Paging) -> tuple[list[Any], int]:
    with db.sessions() as session:
        page = pim_reads.children(session, _principal(caller), hid, nid, paging)
        return NodeRenderer().render_all(page.items), page.total


def _tree(api: Caller) -> tuple[str, list[str]]:
    """A hierarchy with a chain three deep whose last node has children of every kind: sort orders (with
    ties), none, localized names, slugs, custom attributes, and later updates."""
    hierarchy = make_hierarchy(api, name="Shop", slug="shop", locales={"fr-FR": {"name": "Boutique"}})["id"]
    top = make_node(api, hierarchy, "Top", slug="top", locales={"de-DE": {"name": "Oben", "description": "x"}})
    middle = make_node(api, hierarchy, "Middle", parent=top["id"])
    parent = make_node(api, hierarchy, "Parent", parent=middle["id"], slug="parent")
    for i in range(9):
        attributes: dict[str, Any] = {"description": f"child {i}"} if i % 3 else {}
        if i == 4:
            attributes["locales"] = {"fr-FR": {"name": "Quatre"}}
            attributes["admin_attributes"] = {"note": "four"}
        make_node(
            api,
            hierarchy,
            f"Child {i}",
            parent=parent["id"],
            slug=f"child-{i}" if i % 2 else None,
            sort_order=None if i % 4 == 0 else i % 3,
            **attributes,
        )
    # a later update moves a node up among its equals (updated_at, descending)
    first = api.get(f"/pcm/hierarchies/{hierarchy}/nodes/{parent['id']}/children").json()["data"][-1]["id"]
    body = {"data": {"type": "node", "id": first, "attributes": {"description": "updated"}}}
    assert api.put(f"/pcm/hierarchies/{hierarchy}/nodes/{first}", json=body).status_code == 200
    return hierarchy, [top["id"], middle["id"], parent["id"]]


def test_children_pages_are_the_services(db: Database, api: Caller) -> None:
    hierarchy, chain = _tree(api)
    for nid in chain:
        for limit, offset in ((25, 0), (1, 0), (4, 0), (4, 4), (4, 8), (3, 20)):
            paging = Paging(limit=limit, offset=offset)
            expected = _service_page(db, api, hierarchy, nid, paging)
            assert _fast_page(db, api, hierarchy, nid, paging) == expected, (nid, limit, offset)
    documents, total = _fast_page(db, api, hierarchy, chain[2], Paging(limit=25))
    assert total == 9 and len(documents) == 9
    # the deepest page shows the whole chain: hierarchy, top, middle, parent, the child itself
    crumbs = [crumb["name"] for crumb in documents[0]["meta"]["breadcrumbs"]]
    assert crumbs == ["Shop", "Top", "Middle", "Parent", documents[0]["attributes"]["name"]]
    assert documents[0]["relationships"]["parent"]["data"]["id"] == chain[2]


def test_the_endpoint_answers_with_the_services_documents(db: Database, api: Caller) -> None:
    hierarchy, chain = _tree(api)
    url = f"/pcm/hierarchies/{hierarchy}/nodes/{chain[2]}/children?page[limit]=4&page[offset]=4"
    answer = api.get(url).json()
    expected, total = _service_page(db, api, hierarchy, chain[2], Paging(limit=4, offset=4))
    assert answer["data"] == expected
    assert answer["meta"]["results"]["total"] == total == 9
    assert "page[offset]=8" in answer["links"]["next"]


def test_other_stores_see_nothing_and_refusals_are_the_services(db: Database, api: Caller, keys: Keys) -> None:
    hierarchy, chain = _tree(api)
    other = keys.caller(store_id=keys.store())
    unknown = str(uuid.uuid4())
    cases = [
        (other, hierarchy, chain[0]),  # another store's hierarchy
        (api, unknown, chain[0]),  # no such hierarchy
        (api, hierarchy, unknown),  # no such node
        (api, hierarchy, "not-a-uuid"),
        (api, "not-a-uuid", chain[0]),
    ]
    second = make_hierarchy(api, name="Second")["id"]
    cases.append((api, second, chain[0]))  # a node of another hierarchy
    for caller, hid, nid in cases:
        fast = caller.get(f"/pcm/hierarchies/{hid}/nodes/{nid}/children")
        # a filter sends the read through the service's general path
        general = caller.get(f"/pcm/hierarchies/{hid}/nodes/{nid}/children?filter=eq(name,x)")
        assert fast.status_code == general.status_code == 404, (hid, nid, fast.text)
        assert fast.json()["errors"][0]["detail"] == general.json()["errors"][0]["detail"]


def test_organization_nodes_keep_their_owner(db: Database, keys: Keys) -> None:
    organization = keys.caller(organization=True)
    hierarchy = make_hierarchy(organization, name="Shared")["id"]
    parent = make_node(organization, hierarchy, "Parent")["id"]
    make_node(organization, hierarchy, "Child", parent=parent)
    store = keys.caller(store_id=keys.store())
    for caller in (organization, store):  # a store sees the organization's trees
        documents, total = _fast_page(db, caller, hierarchy, parent, Paging())
        assert (documents, total) == _service_page(db, caller, hierarchy, parent, Paging())
        assert total == 1 and documents[0]["meta"]["owner"] == "organization"


def _service_product(db: Database, caller: Caller, product_id: str) -> dict[str, Any]:
    with db.sessions() as session:
        product = ProductService(session, _principal(caller)).get(product_id)
        return render_products(session, [product])[0]


def _fast_product(db: Database, caller: Caller, product_id: str) -> dict[str, Any]:
    with db.sessions() as session:
        return render_product(*pim_reads.product(session, _principal(caller), product_id))


def test_a_product_is_the_services(db: Database, api: Caller, keys: Keys) -> None:
    full = make_product(
        api,
        name="Full",
        sku="FULL-1",
        slug="full",
        description="every field",
        upc_ean="0123456789012",
        mpn="MPN-1",
        external_ref="ext-1",
        tags=["b", "a"],
        locales={"fr-FR": {"name": "Complet", "description": "tout"}},
        status="live",
    )
    bare = make_product(api, name="Bare")
    for slug in ("CRP_up_sell", "CRP_cross_sell"):  # attached in this order: the slugs keep it
        make_definition(api, slug)
        assert attach(api, full, slug).status_code == 201
    organization = keys.caller(organization=True)
    shared = make_product(organization, name="Shared")
    for caller, product_id in ((api, full), (api, bare), (api, shared), (organization, shared)):
        assert _fast_product(db, caller, product_id) == _service_product(db, caller, product_id)
        assert api.get(f"/pcm/products/{product_id}").json()["data"] == _service_product(db, api, product_id)
    document = _fast_product(db, api, full)
    assert document["meta"]["custom_relationships"] == ["CRP_up_sell", "CRP_cross_sell"]
    assert _fast_product(db, api, shared)["meta"]["owner"] == "organization"


def test_products_not_visible_are_refused_in_the_services_words(db: Database, api: Caller, keys: Keys) -> None:
    product = make_product(api, name="Mine")
    other = keys.caller(store_id=keys.store())
    organization = keys.caller(organization=True)
    for caller, product_id in ((other, product), (organization, product), (api, str(uuid.uuid4())), (api, "x")):
        answer = caller.get(f"/pcm/products/{product_id}")
        assert answer.status_code == 404, answer.text
        assert answer.json()["errors"][0]["detail"] == f"product {product_id} not found"


def test_pages_of_products_are_the_services(db: Database, api: Caller, keys: Keys) -> None:
    organization = keys.caller(organization=True)
    mine = [make_product(api, name=f"Mine {i}", sku=f"M-{i}", tags=[str(i)]) for i in range(7)]
    shared = [make_product(organization, name=f"Shared {i}") for i in range(3)]
    mine += [make_product(api, name=f"Later {i}") for i in range(2)]  # interleaved in time with the shared
    make_definition(api, "CRP_pair")
    make_definition(api, "CRP_more")
    assert attach(api, mine[3], "CRP_more").status_code == 201
    assert attach(api, mine[3], "CRP_pair").status_code == 201
    other = keys.caller(store_id=keys.store())  # sees only the organization's
    for caller, expected_total in ((api, 12), (organization, 3), (other, 3)):
        for limit, offset in ((25, 0), (5, 0), (5, 5), (5, 10), (4, 12), (1, 11)):
            paging = Paging(limit=limit, offset=offset)
            with db.sessions() as session:
                page = pim_reads.products(session, _principal(caller), None, paging)
                fast = ([render_product(*item) for item in page.items], page.total)
            with db.sessions() as session:
                general = ProductService(session, _principal(caller)).list(None, paging)
                assert fast == (render_products(session, general.items), general.total), (limit, offset)
            assert fast[1] == expected_total
        answer = caller.get("/pcm/products?page[limit]=5&page[offset]=5").json()
        with db.sessions() as session:
            general = ProductService(session, _principal(caller)).list(None, Paging(limit=5, offset=5))
            assert answer["data"] == render_products(session, general.items)
        assert answer["meta"]["results"]["total"] == expected_total
    with_slugs = next(d for d in api.get("/pcm/products").json()["data"] if d["id"] == mine[3])
    assert with_slugs["meta"]["custom_relationships"] == ["CRP_more", "CRP_pair"]
    assert {d["id"] for d in api.get("/pcm/products?page[limit]=100").json()["data"]} == set(mine + shared)


FILTERS = (
    "eq(status,live)",
    "like(sku,M-*)",
    "like(sku,M-*):eq(status,live)",
    "ilike(name,mine*)",
    "in(sku,M-1,M-3,M-9)",
    "eq(tags,2)",
    "is_null(sku)",
    "eq(has_nodes,false)",
    "eq(owner,organization)",
    "eq(owner,store)",
    "gt(created_at,2000-01-01T00:00:00Z)",
    "eq(name,nothing at all)",
)


def test_filtered_pages_are_the_services(db: Database, api: Caller, keys: Keys) -> None:
    organization = keys.caller(organization=True)
    mine = [
        make_product(api, name=f"Mine {i}", sku=f"M-{i}", tags=[str(i % 3)], status="live" if i % 2 else "draft")
        for i in range(8)
    ]
    make_product(organization, name="Mine shared", sku="M-9", status="live")
    make_product(api, name="No sku")
    hierarchy = make_hierarchy(api, name="H")["id"]
    node = make_node(api, hierarchy, "N")["id"]
    body = {"data": [{"type": "product", "id": mine[2]}, {"type": "product", "id": mine[5]}]}
    assert api.post(f"/pcm/hierarchies/{hierarchy}/nodes/{node}/relationships/products", json=body).status_code == 201
    make_definition(api, "CRP_pair")
    assert attach(api, mine[5], "CRP_pair").status_code == 201
    for text in FILTERS:
        terms = parse_filter(text)
        for limit, offset in ((25, 0), (2, 1), (3, 3)):
            paging = Paging(limit=limit, offset=offset)
            with db.sessions() as session:
                page = pim_reads.products(session, _principal(api), terms, paging)
                fast = ([render_product(*item) for item in page.items], page.total)
            with db.sessions() as session:
                general = ProductService(session, _principal(api)).list(terms, paging)
                assert fast == (render_products(session, general.items), general.total), (text, limit, offset)
    answer = api.get("/pcm/products?filter=like(sku,M-*):eq(status,live)&page[limit]=2").json()
    assert [d["attributes"]["sku"] for d in answer["data"]] == ["M-1", "M-3"]
    assert answer["meta"]["results"]["total"] == 5  # M-1, M-3, M-5, M-7 and the organization's M-9
    assert "filter=like(sku,M-*):eq(status,live)" in answer["links"]["next"]
