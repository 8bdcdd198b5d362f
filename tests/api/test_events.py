"""Events from every change and the event feed (SPEC §11.2, §11.4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from assortment.db.models import Event
from assortment.db.types import utcnow
from assortment.domain import webhooks
from tests.catalogs import link, make_catalog, publish
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of, product_body
from tests.relationships import associate, dissociate, make_definition
from tests.trees import make_hierarchy, make_node, make_product, node_url, refs


def feed(api: Caller, **params: str) -> list[dict[str, Any]]:
    """Every event the caller sees, following links.next until a page is empty."""
    seen: list[dict[str, Any]] = []
    url: str | None = "/v2/events?page[after]="
    query = "".join(f"&{k}={v}" for k, v in params.items())
    url = f"{url}{query}"
    while url is not None:
        response = api.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(body["data"])
        url = body["links"]["next"] if body["data"] else None
    return seen


def keys_of(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["attributes"]["triggered_by"], e["attributes"]["entity_id"]) for e in events]


def payload(api: Caller, event: dict[str, Any]) -> Any:
    response = api.get(f"/v2/events/{event['id']}")
    assert response.status_code == 200, response.text
    return response.json()["data"]["attributes"]["payload"]


def test_product_changes_raise_events_carrying_the_documents(api: Caller) -> None:
    product = make_product(api, name="Shirt", sku="S-1")
    pid = product["id"]
    updated = api.put(
        f"/pcm/products/{pid}", json={"data": {"type": "product", "id": pid, "attributes": {"name": "T"}}}
    )
    assert updated.status_code == 200
    assert api.delete(f"/pcm/products/{pid}").status_code == 204
    events = feed(api)
    assert keys_of(events) == [("product.created", pid), ("product.updated", pid), ("product.deleted", pid)]
    assert payload(api, events[0]) == {"data": product}
    assert payload(api, events[1]) == updated.json()
    assert payload(api, events[2]) == {"type": "product", "id": pid}
    first = events[0]["attributes"]
    assert first["entity_type"] == "product"
    assert first["actor"]["type"] == "key" and len(first["actor"]["id"]) == 36


def test_a_failed_request_raises_nothing(api: Caller) -> None:
    make_product(api, name="Shirt", sku="S-1")
    clash = api.post("/pcm/products", json=product_body(name="Other", sku="S-1"))
    assert clash.status_code == 422
    assert [k for k, _ in keys_of(feed(api))] == ["product.created"]


def test_tree_changes_raise_hierarchy_and_node_events(api: Caller) -> None:
    hierarchy = make_hierarchy(api, name="H")
    hid = hierarchy["id"]
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B")["id"]
    moved = api.put(f"{node_url(hid, b)}/relationships/parent", json={"data": {"type": "node", "id": a}})
    assert moved.status_code in (200, 204), moved.text
    product = make_product(api, name="P", sku="P-1")["id"]
    link(api, hid, a, product)
    assert api.delete(node_url(hid, b)).status_code == 204
    assert api.delete(f"/pcm/hierarchies/{hid}").status_code == 204
    assert keys_of(feed(api)) == [
        ("hierarchy.created", hid),
        ("node.created", a),
        ("node.created", b),
        ("node.updated", b),
        ("product.created", product),
        ("node.updated", a),
        ("node.deleted", b),
        ("hierarchy.deleted", hid),
    ]
    events = feed(api, filter=f"eq(entity_id,{a})")
    assert keys_of(events) == [("node.created", a), ("node.updated", a)]
    node_doc = payload(api, events[0])["data"]
    assert node_doc["type"] == "node" and node_doc["meta"]["hierarchy_id"] == hid


def test_child_order_raises_node_updated_per_child(api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B")["id"]
    c = make_node(api, hid, "C")["id"]
    response = api.post(f"{node_url(hid, a)}/relationships/children", json=refs("node", b, c))
    assert response.status_code in (200, 204), response.text
    assert keys_of(feed(api, filter="eq(triggered_by,node.updated)")) == [("node.updated", b), ("node.updated", c)]


def test_a_publish_records_one_event_and_deleting_the_release_another(api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [hid])
    release = publish(api, catalog["id"])
    events = feed(api, filter="eq(entity_type,catalog-release)")
    assert keys_of(events) == [("catalog-release.created", release["id"])]
    assert payload(api, events[0]) == {"data": release}
    gone = api.delete(f"/pcm/catalogs/{catalog['id']}/releases/{release['id']}")
    assert gone.status_code == 204
    assert keys_of(feed(api, filter="eq(entity_type,catalog-release)"))[-1] == (
        "catalog-release.deleted",
        release["id"],
    )


def test_deleting_all_releases_records_each_deleted_release(api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [hid])
    published = [publish(api, catalog["id"])["id"] for _ in range(3)]
    other = make_catalog(api, [hid], name="Other")
    kept = publish(api, other["id"])["id"]

    gone = api.delete(f"/pcm/catalogs/{catalog['id']}/releases")

    assert gone.status_code == 204
    deleted = feed(api, filter="eq(triggered_by,catalog-release.deleted)")
    assert keys_of(deleted) == [("catalog-release.deleted", release_id) for release_id in published]
    assert payload(api, deleted[0]) == {"type": "catalog-release", "id": published[0]}
    # Nothing is left to delete: a second time raises nothing; the other catalog's release is untouched.
    assert api.delete(f"/pcm/catalogs/{catalog['id']}/releases").status_code == 204
    assert len(feed(api, filter="eq(triggered_by,catalog-release.deleted)")) == 3
    assert kept not in {e["attributes"]["entity_id"] for e in deleted}


def test_releases_that_retention_deletes_are_recorded_as_deleted(api: Caller) -> None:
    """A publish keeps three releases (SPEC §4.2); each one it deletes is a deleted release (§11.2)."""
    hid = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [hid])
    published = [publish(api, catalog["id"])["id"] for _ in range(5)]
    deleted = feed(api, filter="eq(triggered_by,catalog-release.deleted)")
    assert keys_of(deleted) == [("catalog-release.deleted", release_id) for release_id in published[:2]]
    created = feed(api, filter="eq(triggered_by,catalog-release.created)")
    assert keys_of(created) == [("catalog-release.created", release_id) for release_id in published]


def test_a_refused_delete_of_all_releases_records_nothing(api: Caller, keys: Keys) -> None:
    hid = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [hid])
    publish(api, catalog["id"])
    stranger = keys.caller(store_id=keys.store())

    assert stranger.delete(f"/pcm/catalogs/{catalog['id']}/releases").status_code == 404

    assert feed(api, filter="eq(triggered_by,catalog-release.deleted)") == []


def test_the_feed_pages_by_cursor_and_refuses_what_it_did_not_issue(api: Caller) -> None:
    made = [make_product(api, name=f"P{i}", sku=f"P-{i}")["id"] for i in range(7)]
    first = api.get("/v2/events?page[limit]=3")
    assert first.status_code == 200
    body = first.json()
    assert [e["attributes"]["entity_id"] for e in body["data"]] == made[:3]
    assert "page[after]=" in body["links"]["first"]
    assert [e["attributes"]["entity_id"] for e in feed(api, **{"page[limit]": "2"})] == made
    for bad in ("nonsense", "ZXYx", body["links"]["next"].split("page[after]=")[1].split("&")[0] + "A"):
        response = api.get(f"/v2/events?page[after]={bad}")
        assert response.status_code == 400, bad
        assert errors_of(response)[0]["detail"] == "invalid page[after] cursor"
    # A cursor issued for another filter is not valid for this one.
    cursor = body["links"]["next"].split("page[after]=")[1].split("&")[0]
    other = api.get(f"/v2/events?page[after]={cursor}&filter=eq(entity_type,product)")
    assert other.status_code == 400
    assert api.get("/v2/events?page[offset]=2").status_code == 400
    assert api.get("/v2/events?filter=eq(name,x)").status_code == 400
    assert api.get("/v2/events?filter=gt(created_at,2020-01-01)").status_code == 200
    # The last page still names where to go on: a follower polls it until something commits.
    last = api.get(f"/v2/events?page[after]={cursor}&page[limit]=100").json()
    tail = last["links"]["next"]
    assert api.get(tail).json()["data"] == []
    newer = make_product(api, name="New", sku="N-1")["id"]
    assert [e["attributes"]["entity_id"] for e in api.get(tail).json()["data"]] == [newer]


def test_events_belong_to_their_owner(keys: Keys, api: Caller) -> None:
    other = keys.caller(store_id=keys.store("B"))
    organization = keys.caller(organization=True)
    mine = make_product(api, name="Mine", sku="M")["id"]
    theirs = make_product(other, name="Theirs", sku="T")["id"]
    org = make_product(organization, name="Org", sku="O")["id"]
    assert [e for _, e in keys_of(feed(api))] == [mine]
    assert [e for _, e in keys_of(feed(other))] == [theirs]
    assert [e for _, e in keys_of(feed(organization))] == [org]
    their_event = feed(other)[0]["id"]
    assert api.get(f"/v2/events/{their_event}").status_code == 404
    assert api.get("/v2/events/not-an-id").status_code == 404
    implicit = keys.caller(grant="implicit")
    assert implicit.get("/v2/events").status_code == 403


def test_events_older_than_the_retention_are_purged(db: Database, api: Caller) -> None:
    old = make_product(api, name="Old", sku="O-1")["id"]
    new = make_product(api, name="New", sku="N-1")["id"]
    with db.sessions.begin() as session:
        session.execute(update(Event).where(Event.entity_id == old).values(created_at=utcnow() - timedelta(days=31)))
    assert webhooks.purge_old_events(db.sessions, db.settings) == 1
    assert [e["attributes"]["entity_id"] for e in feed(api)] == [new]
    assert webhooks.purge_old_events(db.sessions, db.settings) == 0


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _last_payload(api: Caller, entity_id: str) -> tuple[str, Any]:
    [*_, event] = feed(api, filter=f"eq(entity_id,{entity_id})")
    return event["attributes"]["triggered_by"], payload(api, event)


def test_relationships_rules_currencies_pricebooks_and_prices_raise_events(api: Caller) -> None:
    source = make_product(api, name="S", sku="S-1")["id"]
    target = make_product(api, name="T", sku="T-1")["id"]
    definition = make_definition(api, "pairs", bi_directional=True)
    slug = definition["attributes"]["slug"]
    assert _last_payload(api, definition["id"]) == ("custom-relationship.created", {"data": definition})
    associate(api, source, slug, [target])
    for product in (source, target):  # the target gained the reverse association
        key, document = _last_payload(api, product)
        assert (key, document) == ("product.updated", api.get(f"/pcm/products/{product}").json())
    assert dissociate(api, source, slug, [target]).status_code in (200, 204)
    assert _last_payload(api, target)[0] == "product.updated"

    hid = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [hid])
    rule = _created(
        api.post(
            "/pcm/catalogs/rules",
            json={"data": {"type": "catalog_rule", "attributes": {"name": "r", "catalog_id": catalog["id"]}}},
        )
    )
    assert _last_payload(api, rule["id"]) == ("catalog-rule.created", {"data": rule})
    assert api.delete(f"/pcm/catalogs/rules/{rule['id']}").status_code == 204
    assert _last_payload(api, rule["id"]) == ("catalog-rule.deleted", {"type": "catalog-rule", "id": rule["id"]})

    made_book = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": "b"}}})
    book = _created(made_book)
    assert _last_payload(api, book["id"]) == ("pricebook.created", made_book.json())  # {data, links}, as its GET
    made_price = api.post(
        f"/pcm/pricebooks/{book['id']}/prices",
        json={"data": {"type": "product-price", "attributes": {"sku": "S-1", "currencies": {"USD": {"amount": 5}}}}},
    )
    price = _created(made_price)
    assert _last_payload(api, price["id"]) == ("price.created", made_price.json())
    currency = {
        "type": "currency",
        "code": "EUR",
        "format": "€{price}",
        "decimal_point": ",",
        "thousand_separator": ".",
        "decimal_places": 2,
        "exchange_rate": 1,
        "default": False,
        "enabled": True,
    }
    made = _created(api.post("/v2/currencies", json={"data": currency}))
    assert _last_payload(api, made["id"]) == ("currency.created", {"data": made})


def test_a_duplicate_job_raises_hierarchy_created_and_node_created_per_node(api: Caller) -> None:
    hid = make_hierarchy(api, name="Original")["id"]
    parent = make_node(api, hid, "A")["id"]
    make_node(api, hid, "B", parent=parent)
    job = api.post(
        f"/pcm/hierarchies/{hid}/duplicate_job", json={"data": {"type": "hierarchy", "attributes": {"name": "Copy"}}}
    )
    assert job.status_code == 201, job.text
    copy = api.get(f"/pcm/jobs/{job.json()['data']['id']}").json()["data"]["meta"]["hierarchy_id"]
    copied = [e["id"] for e in api.get(f"/pcm/hierarchies/{copy}/nodes").json()["data"]]
    events = feed(api)[-3:]
    assert keys_of(events)[0] == ("hierarchy.created", copy)
    assert sorted(keys_of(events)[1:]) == sorted(("node.created", n) for n in copied)
    assert payload(api, events[0]) == api.get(f"/pcm/hierarchies/{copy}").json()
    node_event = events[1]
    node_id = node_event["attributes"]["entity_id"]
    assert payload(api, node_event) == api.get(f"/pcm/hierarchies/{copy}/nodes/{node_id}").json()


def test_v2_link_changes_raise_product_updated_for_the_parent(db: Database, api: Caller) -> None:
    from tests.api.test_v2_product_relationships import by_ids, create, make_kind
    from tests.api.test_v2_product_relationships import make_product as make_v2_product

    parent = make_v2_product(api, db, "Parent", "PA")
    child = make_v2_product(api, db, "Child", "CH")
    kind = make_kind(api, db, "CRP_v2pairs")
    link = create(api, by_ids(kind, parent, child))
    assert keys_of(feed(api, filter=f"eq(entity_id,{parent.id})"))[-1] == ("product.updated", parent.id)
    link_id = link["product_relationship"]["id"] if "product_relationship" in link else link["id"]
    changed = api.put(f"/api/v2/product_relationships/{link_id}", json={"product_relationship": {"sort_order": 3}})
    assert changed.status_code == 200, changed.text
    updates = [k for k in keys_of(feed(api, filter=f"eq(entity_id,{parent.id})")) if k[0] == "product.updated"]
    assert len(updates) == 2
    assert api.delete(f"/api/v2/product_relationships/{link_id}").status_code in (200, 204)
    updates = [k for k in keys_of(feed(api, filter=f"eq(entity_id,{parent.id})")) if k[0] == "product.updated"]
    assert len(updates) == 3


def test_sqlite_follows_the_key_even_after_rows_copied_from_postgresql(db: Database, api: Caller) -> None:
    """`db copy` from PostgreSQL brings transaction ids along; on SQLite the key alone orders the feed, so a
    follower past a copied event still sees what is written afterwards."""
    if db.name != "sqlite":
        pytest.skip("SQLite's order")
    copied = make_product(api, name="Copied", sku="C-1")["id"]
    with db.sessions.begin() as session:
        session.execute(update(Event).where(Event.entity_id == copied).values(txid=2**40))
    page = api.get("/v2/events").json()
    assert [e["attributes"]["entity_id"] for e in page["data"]] == [copied]
    later = make_product(api, name="Later", sku="L-1")["id"]
    assert [e["attributes"]["entity_id"] for e in api.get(page["links"]["next"]).json()["data"]] == [later]
