"""Associating products under a custom relationship: seed 002, SPEC §3.4, §1.3 (delete), §B-16–19."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of
from tests.relationships import (
    AT_2000,
    AT_FIVE,
    NOT_FOUND,
    SELF,
    associate,
    attach,
    count_edges,
    count_slots,
    dissociate,
    insert_products,
    items,
    make_definition,
    make_product,
    refs,
    related_ids,
    seed_associations,
    slugs_of,
    stored_edges,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ORG_OWNED = "entity owned by organization"


def path(product_id: str, slug: str) -> str:
    return f"/pcm/products/{product_id}/custom-relationships/{slug}"


def listing(api: Caller, product_id: str, slug: str, **params: str) -> dict[str, Any]:
    response = api.get(path(product_id, slug), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def full_products(api: Caller, product_id: str, slug: str, **params: str) -> dict[str, Any]:
    response = api.get(path(product_id, slug) + "/products", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def fill_slugs(api: Caller, product_id: str, count: int, prefix: str = "filler") -> None:
    """Attach `count` throwaway relationships to a product."""
    for i in range(count):
        make_definition(api, f"{prefix}{i}")
    assert attach(api, product_id, *(f"{prefix}{i}" for i in range(count))).status_code == 201


@pytest.fixture
def rel(api: Caller) -> str:
    make_definition(api, "related")
    return "CRP_related"


@pytest.fixture
def bi(api: Caller) -> str:
    make_definition(api, "pair", bi_directional=True)
    return "CRP_pair"


# --- seed 002 ---


def test_seed_002_example(api: Caller, db: Database, rel: str) -> None:
    """Two associated, one missing, two at the five limit and one past 2000, reported in request order."""
    source = make_product(api)
    bulk = insert_products(db, api.key.store_id or uuid.uuid4(), 1998)
    first = associate(api, source, rel, bulk)
    assert first["associated_products"] == bulk
    assert first["products_not_associated"] == []

    ok1, ok2, five1, five2, full = (make_product(api) for _ in range(5))
    fill_slugs(api, five1, 5, "a")
    fill_slugs(api, five2, 5, "b")
    missing = str(uuid.uuid4())
    meta = associate(api, source, rel, [ok1, missing, five1, ok2, five2, full])
    assert meta["associated_products"] == [ok1, ok2]
    assert meta["products_not_associated"] == [
        {"ID": missing, "Details": NOT_FOUND},
        {"ID": five1, "Details": AT_FIVE},
        {"ID": five2, "Details": AT_FIVE},
        {"ID": full, "Details": AT_2000},
    ]
    assert meta["owner"] == "store"
    assert TIMESTAMP.match(meta["timestamps"]["created_at"])
    assert meta["timestamps"]["created_at"] == meta["timestamps"]["updated_at"]
    assert count_edges(db, source) == 2000
    # Refused targets got nothing: no edge and no slug.
    assert slugs_of(api, full) == []
    assert len(slugs_of(api, five1)) == 5
    assert related_ids(api, source, rel) == [*bulk, ok1, ok2]


def test_the_2000th_is_accepted_and_the_2001st_refused(api: Caller, db: Database, rel: str) -> None:
    source = make_product(api)
    bulk = insert_products(db, api.key.store_id or uuid.uuid4(), 2001)
    meta = associate(api, source, rel, bulk)
    assert meta["associated_products"] == bulk[:2000]
    assert meta["products_not_associated"] == [{"ID": bulk[2000], "Details": AT_2000}]
    assert count_edges(db, source) == 2000
    # At the limit, re-sending associated products still succeeds (and changes their sort order).
    again = associate(api, source, rel, [bulk[5], bulk[2000]], sort_orders={bulk[5]: 1})
    assert again["associated_products"] == [bulk[5]]
    assert again["products_not_associated"] == [{"ID": bulk[2000], "Details": AT_2000}]
    assert listing(api, source, rel, **{"page[limit]": "1"})["data"] == [
        {"type": "product", "id": bulk[5], "attributes": {"sort_order": 1}}
    ]
    # Removing one makes room for exactly one.
    assert dissociate(api, source, rel, [bulk[0]]).status_code == 204
    meta = associate(api, source, rel, [bulk[2000], bulk[0]])
    assert meta["associated_products"] == [bulk[2000]]
    assert meta["products_not_associated"] == [{"ID": bulk[0], "Details": AT_2000}]
    assert count_edges(db, source) == 2000


def test_the_limit_is_per_relationship(api: Caller, db: Database, rel: str) -> None:
    make_definition(api, "other")
    source, other = make_product(api), make_product(api)
    seed_associations(db, source, rel, 2000)
    assert associate(api, source, rel, [other])["products_not_associated"] == [{"ID": other, "Details": AT_2000}]
    assert associate(api, source, "CRP_other", [other])["associated_products"] == [other]


def test_bi_directional_refuses_a_target_whose_own_list_is_full(api: Caller, db: Database, bi: str) -> None:
    source, target = make_product(api), make_product(api)
    bulk = insert_products(db, api.key.store_id or uuid.uuid4(), 2000)
    assert len(associate(api, target, bi, bulk)["associated_products"]) == 2000
    meta = associate(api, source, bi, [target])
    assert meta["associated_products"] == []
    assert meta["products_not_associated"] == [{"ID": target, "Details": AT_2000}]
    assert related_ids(api, source, bi) == []
    assert count_edges(db, target) == 2000
    # A product the full one already lists can still be (re-)associated from its side.
    assert associate(api, bulk[0], bi, [target])["associated_products"] == [target]
    assert count_edges(db, target) == 2000


def test_the_slug_is_attached_automatically(api: Caller, rel: str) -> None:
    source, target = make_product(api), make_product(api)
    meta = associate(api, source, rel, [target])
    assert meta["associated_products"] == [target]
    assert meta["products_not_associated"] == []
    assert slugs_of(api, source) == [rel]
    assert slugs_of(api, target) == [rel]
    links = api.get(f"/pcm/products/{source}").json()["data"]["relationships"]["custom_relationships"]["links"]
    assert links[rel] == f"/products/{source}/custom-relationships/{rel}/products"


def test_a_source_with_five_other_relationships_is_refused(api: Caller, db: Database, rel: str) -> None:
    source, target = make_product(api), make_product(api)
    fill_slugs(api, source, 5)
    response = api.post(path(source, rel), json=items([target]))
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["detail"] == AT_FIVE
    assert count_edges(db) == 0
    assert slugs_of(api, target) == []
    assert rel not in slugs_of(api, source)


def test_a_source_with_the_slug_among_five_is_fine(api: Caller, rel: str) -> None:
    source, target = make_product(api), make_product(api)
    fill_slugs(api, source, 4)
    assert attach(api, source, rel).status_code == 201
    assert associate(api, source, rel, [target])["associated_products"] == [target]


def test_targets_at_five_unless_they_carry_the_slug(api: Caller, rel: str) -> None:
    source, full, carrying, four = make_product(api), make_product(api), make_product(api), make_product(api)
    fill_slugs(api, full, 5, "f")
    fill_slugs(api, carrying, 4, "c")
    assert attach(api, carrying, rel).status_code == 201
    fill_slugs(api, four, 4, "g")
    meta = associate(api, source, rel, [full, carrying, four])
    assert meta["associated_products"] == [carrying, four]
    assert meta["products_not_associated"] == [{"ID": full, "Details": AT_FIVE}]
    assert rel in slugs_of(api, four)
    assert len(slugs_of(api, four)) == 5
    assert rel not in slugs_of(api, full)


def test_targets_at_five_in_bi_directional_mode(api: Caller, bi: str) -> None:
    source, full = make_product(api), make_product(api)
    fill_slugs(api, full, 5)
    meta = associate(api, source, bi, [full])
    assert meta["products_not_associated"] == [{"ID": full, "Details": AT_FIVE}]
    assert related_ids(api, full, bi) == []


def test_every_item_failing_is_still_201(api: Caller, db: Database, rel: str) -> None:
    source = make_product(api)
    ghosts = [str(uuid.uuid4()), "not-a-uuid", source]
    meta = associate(api, source, rel, ghosts)
    assert meta["associated_products"] == []
    assert meta["products_not_associated"] == [
        {"ID": ghosts[0], "Details": NOT_FOUND},
        {"ID": "not-a-uuid", "Details": NOT_FOUND},
        {"ID": source, "Details": SELF},
    ]
    assert count_edges(db) == 0


def test_append_never_overwrites(api: Caller, rel: str) -> None:
    source, a, b, c = (make_product(api) for _ in range(4))
    assert associate(api, source, rel, [a])["associated_products"] == [a]
    assert associate(api, source, rel, [b, c])["associated_products"] == [b, c]
    assert associate(api, source, rel, [a])["associated_products"] == [a]
    assert related_ids(api, source, rel) == [a, b, c]


def test_repeated_ids_are_associated_once(api: Caller, db: Database, rel: str) -> None:
    source, a, b = (make_product(api) for _ in range(3))
    ghost = str(uuid.uuid4())
    meta = associate(api, source, rel, [a, b, a, ghost, a, ghost])
    assert meta["associated_products"] == [a, b]
    assert meta["products_not_associated"] == [{"ID": ghost, "Details": NOT_FOUND}]
    assert count_edges(db) == 2


def test_two_spellings_of_one_id_are_one_product(api: Caller, db: Database, rel: str) -> None:
    source, a = make_product(api), make_product(api)
    meta = associate(api, source, rel, [a, a.upper()])
    assert meta["products_not_associated"] == []
    assert set(meta["associated_products"]) == {a, a.upper()}
    assert related_ids(api, source, rel) == [a]
    assert count_edges(db) == 1
    # The source in another spelling is still itself.
    assert associate(api, source, rel, [source.upper()])["products_not_associated"] == [
        {"ID": source.upper(), "Details": SELF}
    ]


def test_another_stores_products_cannot_be_found(api: Caller, keys: Keys, db: Database, rel: str) -> None:
    source = make_product(api)
    theirs = make_product(keys.caller(store_id=keys.store("Other")))
    meta = associate(api, source, rel, [theirs])
    assert meta["products_not_associated"] == [{"ID": theirs, "Details": NOT_FOUND}]
    assert count_edges(db) == 0
    assert count_slots(db, theirs) == 0


# --- request-level failures ---


def test_unknown_product_or_slug_is_404(api: Caller, db: Database, rel: str) -> None:
    source, target = make_product(api), make_product(api)
    for product_id, slug in ((str(uuid.uuid4()), rel), ("not-a-uuid", rel), (source, "CRP_nothing")):
        for response in (
            api.post(path(product_id, slug), json=items([target])),
            dissociate(api, product_id, slug, [target]),
            api.get(path(product_id, slug)),
            api.get(path(product_id, slug) + "/products"),
        ):
            assert response.status_code == 404, (product_id, slug, response.text)
            errors_of(response)
    assert count_edges(db) == 0
    assert count_slots(db) == 0


BAD_ITEMS: list[Any] = [
    {"type": "custom-relationship", "id": "ID"},
    {"id": "ID"},
    {"type": "product"},
    {"type": "product", "id": 5},
    {"type": "product", "id": None},
    {"type": "product", "id": "ID", "attributes": {"sort_order": "1"}},
    {"type": "product", "id": "ID", "attributes": {"sort_order": 1.5}},
    {"type": "product", "id": "ID", "attributes": {"sort_order": 2**40}},
    "ID",
]


@pytest.mark.parametrize("bad", BAD_ITEMS)
def test_a_malformed_item_fails_the_whole_request(api: Caller, db: Database, rel: str, bad: Any) -> None:
    source, target, other = make_product(api), make_product(api), make_product(api)
    bad = {k: (other if v == "ID" else v) for k, v in bad.items()} if isinstance(bad, dict) else other
    response = api.post(path(source, rel), json={"data": [{"type": "product", "id": target}, bad]})
    assert response.status_code == 422, response.text
    errors_of(response)
    assert count_edges(db) == 0
    assert count_slots(db) == 0


@pytest.mark.parametrize("body", [{"data": []}, {"data": {"type": "product", "id": "x"}}, {"data": None}, {}, []])
def test_a_malformed_body_is_422(api: Caller, db: Database, rel: str, body: Any) -> None:
    source = make_product(api)
    response = api.post(path(source, rel), json=body)
    assert response.status_code == 422, response.text
    errors_of(response)
    assert count_slots(db) == 0


# --- sort order and listing ---


def test_listing_orders_by_sort_order_then_association_order(api: Caller, rel: str) -> None:
    source = make_product(api)
    p = [make_product(api) for _ in range(6)]
    associate(api, source, rel, [p[0], p[1], p[2]], sort_orders={p[1]: 10, p[2]: -5})
    associate(api, source, rel, [p[3], p[4], p[5]], sort_orders={p[3]: 10, p[5]: 0})
    body = listing(api, source, rel)
    assert body["data"] == [
        {"type": "product", "id": p[2], "attributes": {"sort_order": -5}},
        {"type": "product", "id": p[5], "attributes": {"sort_order": 0}},
        {"type": "product", "id": p[1], "attributes": {"sort_order": 10}},
        {"type": "product", "id": p[3], "attributes": {"sort_order": 10}},
        {"type": "product", "id": p[0]},
        {"type": "product", "id": p[4]},
    ]
    assert body["meta"]["results"]["total"] == 6
    page = listing(api, source, rel, **{"page[limit]": "2", "page[offset]": "2"})
    assert [item["id"] for item in page["data"]] == [p[1], p[3]]
    assert page["links"]["next"] == f"{path(source, rel)}?page[offset]=4&page[limit]=2"
    assert page["links"]["prev"] == f"{path(source, rel)}?page[offset]=0&page[limit]=2"
    assert page["meta"]["results"]["total"] == 6


def test_products_listing_has_full_products_in_the_same_order(api: Caller, rel: str) -> None:
    source = make_product(api)
    a = make_product(api, sku="A")
    b = make_product(api, sku="B", status="live")
    c = make_product(api, sku="C")
    associate(api, source, rel, [a, b, c], sort_orders={c: 1, b: 2})
    body = full_products(api, source, rel)
    assert [item["id"] for item in body["data"]] == [c, b, a]
    assert body["meta"]["results"]["total"] == 3
    for item in body["data"]:
        assert item == api.get(f"/pcm/products/{item['id']}").json()["data"]
    assert body["data"][0]["meta"]["custom_relationships"] == [rel]
    page = full_products(api, source, rel, **{"page[limit]": "1", "page[offset]": "1"})
    assert [item["id"] for item in page["data"]] == [b]


def test_resending_updates_the_sort_order_only_when_sent(api: Caller, rel: str) -> None:
    source, a, b = make_product(api), make_product(api), make_product(api)
    associate(api, source, rel, [a, b], sort_orders={a: 5, b: 6})
    # Key absent: kept.
    assert associate(api, source, rel, [a])["associated_products"] == [a]
    assert listing(api, source, rel)["data"][0] == {"type": "product", "id": a, "attributes": {"sort_order": 5}}
    # Key present: changed.
    associate(api, source, rel, [a], sort_orders={a: 9})
    assert [i["id"] for i in listing(api, source, rel)["data"]] == [b, a]
    # Null: cleared, and the product moves after the sorted ones.
    associate(api, source, rel, [b], sort_orders={b: None})
    assert listing(api, source, rel)["data"] == [
        {"type": "product", "id": a, "attributes": {"sort_order": 9}},
        {"type": "product", "id": b},
    ]


def test_empty_listings(api: Caller, rel: str) -> None:
    product = make_product(api)
    for body in (listing(api, product, rel), full_products(api, product, rel)):
        assert body["data"] == []
        assert body["meta"]["results"]["total"] == 0
    assert attach(api, product, rel).status_code == 201
    assert listing(api, product, rel)["data"] == []


# --- direction ---


def test_uni_directional_is_one_way(api: Caller, db: Database, rel: str) -> None:
    a, b = make_product(api), make_product(api)
    associate(api, a, rel, [b])
    assert related_ids(api, a, rel) == [b]
    assert related_ids(api, b, rel) == []
    assert stored_edges(db) == {(a, b)}
    assert dissociate(api, b, rel, [a]).status_code == 204
    assert related_ids(api, a, rel) == [b]


def test_bi_directional_records_both_sides(api: Caller, db: Database, bi: str) -> None:
    a, b, c = make_product(api), make_product(api), make_product(api)
    associate(api, a, bi, [b, c], sort_orders={b: 3})
    assert related_ids(api, a, bi) == [b, c]
    assert related_ids(api, b, bi) == [a]
    assert related_ids(api, c, bi) == [a]
    assert stored_edges(db, bi) == {(a, b), (b, a), (a, c), (c, a)}
    assert slugs_of(api, b) == [bi]
    # From the other side it is already there: counted as associated, nothing doubled.
    assert associate(api, b, bi, [a])["associated_products"] == [a]
    assert count_edges(db) == 4


def test_dissociating_either_side_removes_both(api: Caller, db: Database, bi: str) -> None:
    a, b, c = make_product(api), make_product(api), make_product(api)
    associate(api, a, bi, [b, c])
    assert dissociate(api, b, bi, [a]).status_code == 204
    assert stored_edges(db) == {(a, c), (c, a)}
    assert related_ids(api, a, bi) == [c]
    assert dissociate(api, a, bi, [c]).status_code == 204
    assert stored_edges(db) == set()
    # The slugs stay attached.
    assert slugs_of(api, a) == slugs_of(api, b) == slugs_of(api, c) == [bi]


def test_both_sides_agree_after_a_mix_of_changes(api: Caller, db: Database, bi: str) -> None:
    products = [make_product(api) for _ in range(5)]
    for i, p in enumerate(products[:-1]):
        associate(api, p, bi, products[i + 1 : i + 4])
    dissociate(api, products[2], bi, [products[0], products[4]])
    dissociate(api, products[1], bi, [products[3]])
    edges = stored_edges(db, bi)
    assert edges == {(t, s) for s, t in edges}
    for p in products:
        assert set(related_ids(api, p, bi)) == {t for s, t in edges if s == p}


# --- dissociating ---


def test_dissociate(api: Caller, rel: str) -> None:
    source, a, b, c = (make_product(api) for _ in range(4))
    associate(api, source, rel, [a, b, c])
    response = dissociate(api, source, rel, [b, str(uuid.uuid4()), "junk", source])
    assert response.status_code == 204
    assert related_ids(api, source, rel) == [a, c]
    # Unlinked ids are ignored; the slug stays attached to everyone.
    assert dissociate(api, source, rel, [b]).status_code == 204
    assert slugs_of(api, source) == slugs_of(api, b) == [rel]
    assert dissociate(api, source, rel, []).status_code == 204
    assert related_ids(api, source, rel) == [a, c]


def test_dissociate_leaves_other_relationships_alone(api: Caller, db: Database, rel: str) -> None:
    make_definition(api, "other", bi_directional=True)
    source, a = make_product(api), make_product(api)
    associate(api, source, rel, [a])
    associate(api, source, "CRP_other", [a])
    assert dissociate(api, source, rel, [a]).status_code == 204
    assert related_ids(api, source, "CRP_other") == [a]
    assert related_ids(api, a, "CRP_other") == [source]
    assert count_edges(db) == 2


def test_detaching_a_slug_drops_its_associations(api: Caller, db: Database, rel: str, bi: str) -> None:
    a, b, c = make_product(api), make_product(api), make_product(api)
    associate(api, a, rel, [b])
    associate(api, c, rel, [a])
    associate(api, a, bi, [b, c])
    response = api.delete(f"/pcm/products/{a}/custom-relationships", json=refs([bi]))
    assert response.status_code == 204
    # a's bi-directional links are gone in both directions; the uni-directional ones stay.
    assert stored_edges(db) == {(a, b), (c, a)}
    assert related_ids(api, b, bi) == []
    assert slugs_of(api, a) == [rel]
    assert api.delete(f"/pcm/products/{a}/custom-relationships", json=refs([rel])).status_code == 204
    # a's own list goes; what others list under their own attachment is theirs.
    assert stored_edges(db) == {(c, a)}


# --- deleting a product ---


def test_deleting_a_product_removes_its_associations_both_ways(api: Caller, db: Database, rel: str, bi: str) -> None:
    a, b, c = make_product(api), make_product(api), make_product(api)
    associate(api, a, rel, [b, c])
    associate(api, b, rel, [a])
    associate(api, a, bi, [b, c])
    assert api.delete(f"/pcm/products/{b}").status_code == 204
    assert stored_edges(db) == {(a, c), (c, a)}
    assert related_ids(api, a, rel) == [c]
    assert related_ids(api, a, bi) == [c]
    assert [p["id"] for p in full_products(api, a, rel)["data"]] == [c]
    assert api.delete(f"/pcm/products/{a}").status_code == 204
    assert stored_edges(db) == set()
    assert count_slots(db, a) == count_slots(db, b) == 0
    assert related_ids(api, c, bi) == []
    assert slugs_of(api, c) == [rel, bi]
    # The definitions are free once nothing carries them.
    assert api.delete(f"/pcm/products/{c}").status_code == 204
    assert count_slots(db) == 0
    assert api.delete(f"/pcm/custom-relationships/{rel}").status_code == 204
    assert api.delete(f"/pcm/custom-relationships/{bi}").status_code == 204


def test_a_deleted_target_frees_room_under_the_limit(api: Caller, db: Database, rel: str) -> None:
    source, extra = make_product(api), make_product(api)
    seeded = seed_associations(db, source, rel, 2000)
    assert associate(api, source, rel, [extra])["products_not_associated"] == [{"ID": extra, "Details": AT_2000}]
    assert api.delete(f"/pcm/products/{seeded[7]}").status_code == 204
    assert associate(api, source, rel, [extra])["associated_products"] == [extra]
    assert count_edges(db, source) == 2000


# --- tenancy ---


def test_store_tokens_cannot_change_organization_products(api: Caller, keys: Keys, db: Database) -> None:
    org = keys.caller(organization=True)
    make_definition(org, "shared")
    org_source, org_target = make_product(org), make_product(org)
    associate(org, org_source, "CRP_shared", [org_target])
    mine = make_product(api)
    for response in (
        api.post(path(org_source, "CRP_shared"), json=items([mine])),
        dissociate(api, org_source, "CRP_shared", [org_target]),
    ):
        assert response.status_code == 403
        [error] = errors_of(response)
        assert error["title"] == "Forbidden"
        assert error["detail"] == ORG_OWNED
    assert stored_edges(db) == {(org_source, org_target)}
    # Reading is allowed.
    assert related_ids(api, org_source, "CRP_shared") == [org_target]
    assert [p["id"] for p in full_products(api, org_source, "CRP_shared")["data"]] == [org_target]


def test_organization_tokens_see_no_store_products(api: Caller, keys: Keys, db: Database) -> None:
    org = keys.caller(organization=True)
    make_definition(org, "shared")
    org_source = make_product(org)
    mine = make_product(api)
    meta = associate(org, org_source, "CRP_shared", [mine])
    assert meta["owner"] == "organization"
    assert meta["products_not_associated"] == [{"ID": mine, "Details": NOT_FOUND}]
    assert org.post(path(mine, "CRP_shared"), json=items([org_source])).status_code == 404
    assert count_edges(db) == 0


def test_another_stores_products_are_404(api: Caller, keys: Keys, db: Database, rel: str) -> None:
    other = keys.caller(store_id=keys.store("Other"))
    make_definition(other, "related")
    theirs, their_target = make_product(other), make_product(other)
    associate(other, theirs, rel, [their_target])
    mine = make_product(api)
    for response in (
        api.post(path(theirs, rel), json=items([mine])),
        dissociate(api, theirs, rel, [their_target]),
        api.get(path(theirs, rel)),
        api.get(path(theirs, rel) + "/products"),
    ):
        assert response.status_code == 404
        errors_of(response)
    assert stored_edges(db) == {(theirs, their_target)}


def test_implicit_tokens_are_403(api: Caller, keys: Keys, db: Database, rel: str) -> None:
    source, target = make_product(api), make_product(api)
    associate(api, source, rel, [target])
    implicit = keys.caller(grant="implicit")
    for response in (
        implicit.post(path(source, rel), json=items([source])),
        dissociate(implicit, source, rel, [target]),
        implicit.get(path(source, rel)),
        implicit.get(path(source, rel) + "/products"),
    ):
        assert response.status_code == 403
        assert errors_of(response)[0]["title"] == "Forbidden"
    assert stored_edges(db) == {(source, target)}


def test_a_stores_relationship_on_an_organization_target_stays_with_the_store(
    api: Caller, keys: Keys, rel: str
) -> None:
    """A store may target an organization product, but never attaches its relationship to it: the
    organization product's slots and attached list stay the organization's, for every caller."""
    org = keys.caller(organization=True)
    org_product = make_product(org)
    source = make_product(api)
    assert associate(api, source, rel, [org_product])["associated_products"] == [org_product]

    def attached(caller: Caller) -> list[str]:
        response = caller.get(f"/pcm/products/{org_product}/custom-relationships")
        assert response.status_code == 200, response.text
        assert response.json()["meta"]["results"]["total"] == len(response.json()["data"])
        return [d["attributes"]["slug"] for d in response.json()["data"]]

    assert attached(api) == []
    assert attached(org) == []
    assert attached(keys.caller(store_id=keys.store("Other"))) == []
    listed = api.get(f"/pcm/products/{source}/custom-relationships/{rel}").json()["data"]
    assert [item["id"] for item in listed] == [org_product]
