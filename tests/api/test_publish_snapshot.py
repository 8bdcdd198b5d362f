"""A release is one snapshot of the catalog (SPEC §4.2): what other requests commit while it is being written
is not in it, in part or in whole, and is in the next one.

The changes are made at a fixed point inside the publish (its progress callback, after the tree was read
and before the links, products and prices are), so the test does not depend on timing. On PostgreSQL they
commit at once, and only the publish's snapshot keeps them out: in READ COMMITTED the links read next would
already miss the deleted, drafted and unlinked products, and a sku renamed between reading a product and
reading its price would leave it unpriced. On SQLite they wait for the publish's write lock and commit after it.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import orjson
from sqlalchemy import select

from assortment.db.engine import in_snapshot
from assortment.db.models import Release, ReleaseNodeProduct, ReleaseProduct
from assortment.domain import auth
from assortment.domain.publish import publish, publish_lock_name
from assortment.domain.tenancy import Principal
from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product
from tests.conftest import Caller, Database


def _price(api: Caller, book: str, sku: str, amount: int) -> None:
    body = {"data": {"type": "product-price", "attributes": {"sku": sku, "currencies": {"USD": {"amount": amount}}}}}
    response = api.post(f"/pcm/pricebooks/{book}/prices", json=body)
    assert response.status_code == 201, response.text


def _released(db: Database, release_id: uuid.UUID) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The release's products by name (sku, price) and the names its node lists, in order."""
    with db.sessions() as session:
        pk = session.scalars(select(Release.pk).where(Release.id == release_id)).one()
        products = {
            name: {"id": str(pid), "sku": sku, "price": orjson.loads(price) if price else None}
            for pid, name, sku, price in session.execute(
                select(ReleaseProduct.product_id, ReleaseProduct.name, ReleaseProduct.sku, ReleaseProduct.price).where(
                    ReleaseProduct.release_pk == pk
                )
            )
        }
        name_of = {entry["id"]: name for name, entry in products.items()}
        listed = [
            name_of[str(pid)]
            for pid in session.scalars(
                select(ReleaseNodeProduct.product_id)
                .where(ReleaseNodeProduct.release_pk == pk)
                .order_by(ReleaseNodeProduct.node_id, ReleaseNodeProduct.position)
            )
        ]
    return products, listed


def test_what_commits_during_a_publish_is_in_the_next_release(api: Caller, db: Database) -> None:
    hid = make_hierarchy(api, name="Snapshot")["id"]
    nid = make_node(api, hid, "Shelf")["id"]
    ids = {
        name: make_product(api, name=name, sku=f"SKU-{name}", status="live")["id"]
        for name in ("renamed", "deleted", "drafted", "unlinked", "kept")
    }
    link(api, hid, nid, *ids.values())
    book = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": "Prices"}}})
    assert book.status_code == 201, book.text
    book_id = book.json()["data"]["id"]
    _price(api, book_id, "SKU-renamed", 1_000)
    _price(api, book_id, "SKU-kept", 2_000)
    catalog = make_catalog(api, [hid], name="Snapshot", pricebook_id=book_id)["id"]

    def change() -> None:
        body = {"data": {"type": "product", "id": ids["renamed"], "attributes": {"sku": "SKU-renamed-2"}}}
        assert api.put(f"/pcm/products/{ids['renamed']}", json=body).status_code == 200
        assert api.delete(f"/pcm/products/{ids['deleted']}").status_code == 204
        body = {"data": {"type": "product", "id": ids["drafted"], "attributes": {"status": "draft"}}}
        assert api.put(f"/pcm/products/{ids['drafted']}", json=body).status_code == 200
        unlink = {"data": [{"type": "product", "id": ids["unlinked"]}]}
        response = api.delete(f"/pcm/hierarchies/{hid}/nodes/{nid}/relationships/products", json=unlink)
        assert response.status_code == 200, response.text
        _price(api, book_id, "SKU-renamed-2", 3_000)

    waiting: list[threading.Thread] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "nodes" or waiting:
            return
        thread = threading.Thread(target=change)
        waiting.append(thread)
        thread.start()
        if db.name == "postgresql":  # nothing blocks these writes: they commit before the publish goes on
            thread.join(timeout=30)
            assert not thread.is_alive()

    with db.sessions() as session:
        store_id = auth.default_store(session).id
    principal = Principal(key_id=uuid.UUID(int=0), store_id=store_id, grant="client_credentials")
    release = in_snapshot(
        db.sessions, publish_lock_name(catalog), lambda session: publish(session, principal, catalog, progress=progress)
    )
    assert waiting, "the publish never reported its progress"
    waiting[0].join(timeout=30)
    assert not waiting[0].is_alive()

    # The first release is the catalog as it was when the publish began: all five, priced by their old skus.
    products, listed = _released(db, release.id)
    assert sorted(products) == ["deleted", "drafted", "kept", "renamed", "unlinked"]
    assert sorted(listed) == sorted(products)
    assert products["renamed"]["sku"] == "SKU-renamed"
    assert products["renamed"]["price"]["currencies"]["USD"]["amount"] == 1_000
    assert products["kept"]["price"]["currencies"]["USD"]["amount"] == 2_000
    assert products["deleted"]["price"] is None

    # The next one has every change, and the new sku's price.
    response = api.post(f"/pcm/catalogs/{catalog}/releases", content=b"")
    assert response.status_code == 201, response.text
    products, listed = _released(db, uuid.UUID(response.json()["data"]["id"]))
    assert sorted(products) == ["kept", "renamed"]
    assert sorted(listed) == ["kept", "renamed"]
    assert products["renamed"]["sku"] == "SKU-renamed-2"
    assert products["renamed"]["price"]["currencies"]["USD"]["amount"] == 3_000


def test_a_publish_that_loses_a_race_for_a_row_runs_again(api: Caller, db: Database) -> None:
    """Retention deletes the oldest release; if a request deleted it after the publish's snapshot began, the
    publish cannot delete it again from that snapshot (PostgreSQL: a serialization failure) and is run
    again on a new one, rather than answering 500."""
    hid = make_hierarchy(api, name="Retained")["id"]
    nid = make_node(api, hid, "Shelf")["id"]
    link(api, hid, nid, make_product(api, name="One", sku="ONE", status="live")["id"])
    catalog = make_catalog(api, [hid], name="Retained")["id"]
    oldest = None
    for _ in range(3):
        response = api.post(f"/pcm/catalogs/{catalog}/releases", content=b"")
        assert response.status_code == 201, response.text
        oldest = oldest or response.json()["data"]["id"]
    stages: list[str] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "nodes" and not stages:
            stages.append(stage)
            thread = threading.Thread(
                target=lambda: stages.append(str(api.delete(f"/pcm/catalogs/{catalog}/releases/{oldest}").status_code))
            )
            thread.start()
            if db.name == "postgresql":
                thread.join(timeout=30)

    with db.sessions() as session:
        store_id = auth.default_store(session).id
    principal = Principal(key_id=uuid.UUID(int=0), store_id=store_id, grant="client_credentials")
    release = in_snapshot(
        db.sessions, publish_lock_name(catalog), lambda session: publish(session, principal, catalog, progress=progress)
    )
    for _ in range(300):
        if len(stages) == 2:
            break
        threading.Event().wait(0.1)
    # The delete answered (204, or 404 on SQLite where it waited for the publish, whose retention got there first).
    assert stages[1] in {"204", "404"}, stages
    listed = api.get(f"/pcm/catalogs/{catalog}/releases").json()["data"]
    assert [r["id"] for r in listed].count(str(release.id)) == 1
    assert oldest not in {r["id"] for r in listed}
    assert len(listed) == 3
