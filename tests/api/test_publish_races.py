"""Publishes racing edits, and parallel updates of one product, across two server processes (issue 8, item 3).

A release is a snapshot taken in one transaction (SPEC §4.2): whatever the editors do while it is written, each
release is internally consistent (its node lists name only its own products and nodes, its tree has no cycle,
every product carries a name some request wrote) and it never changes afterwards. Product updates are
optimistic (a version column): a stale write is refused with 409, never merged or lost.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from assortment.db.models import Product, Release, ReleaseNode, ReleaseNodeProduct, ReleaseProduct
from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product
from tests.conftest import Caller, Database, Keys
from tests.servers import running_servers

pytestmark = pytest.mark.multiprocess

PRODUCTS = 12
PUBLISHES = 6
EDIT_ROUNDS = 12
OK_OR_REFUSED = {200, 201, 204, 409, 422}


@pytest.fixture(scope="module")
def urls(database: Database) -> Iterator[list[str]]:
    with running_servers(database.settings.database_url, count=2) as started:
        yield started


def _client(url: str, keys: Keys) -> httpx.Client:
    key = keys.key()
    response = httpx.post(
        f"{url}/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret},
    )
    assert response.status_code == 200, response.text
    return httpx.Client(headers={"Authorization": f"Bearer {response.json()['access_token']}"}, timeout=60)


def _check(response: httpx.Response) -> httpx.Response:
    """Every answer is a success or a refusal with the error body; never a 5xx."""
    assert response.status_code in OK_OR_REFUSED, (response.status_code, response.text)
    if response.status_code >= 400:
        [error] = response.json()["errors"]
        assert error["status"] == str(response.status_code)
        assert error["title"] and error["detail"]
    return response


def _release_state(db: Database, release_id: str) -> dict[str, Any]:
    with db.sessions() as session:
        release = session.scalars(select(Release).where(Release.id == uuid.UUID(release_id))).one()
        products = {
            pid: name
            for pid, name in session.execute(
                select(ReleaseProduct.product_id, ReleaseProduct.name).where(ReleaseProduct.release_pk == release.pk)
            )
        }
        documents = [
            orjson.loads(doc)
            for doc in session.scalars(select(ReleaseProduct.document).where(ReleaseProduct.release_pk == release.pk))
        ]
        nodes = {
            nid: parent
            for nid, parent in session.execute(
                select(ReleaseNode.node_id, ReleaseNode.parent_id).where(ReleaseNode.release_pk == release.pk)
            )
        }
        listed = list(
            session.execute(
                select(ReleaseNodeProduct.node_id, ReleaseNodeProduct.product_id).where(
                    ReleaseNodeProduct.release_pk == release.pk
                )
            )
        )
        return {
            "total_products": release.total_products,
            "total_nodes": release.total_nodes,
            "products": products,
            "documents": documents,
            "nodes": nodes,
            "listed": listed,
        }


def test_publishes_racing_edits_make_consistent_immutable_releases(
    db: Database, keys: Keys, api: Caller, urls: list[str]
) -> None:
    hid = make_hierarchy(api, name="Raced")["id"]
    a = make_node(api, hid, "A")["id"]
    b = make_node(api, hid, "B")["id"]
    c = make_node(api, hid, "C", parent=a)["id"]
    products = [make_product(api, name=f"P{i}-v0", sku=f"RACE-{i}")["id"] for i in range(PRODUCTS)]
    for i, pid in enumerate(products):
        link(api, hid, (a, b, c)[i % 3], pid)
    catalog = make_catalog(api, [hid], name="Raced")["id"]
    written_names = {f"P{i}-v0" for i in range(PRODUCTS)}
    names_lock = threading.Lock()
    clients = [_client(url, keys) for url in urls]
    node_base = f"/pcm/hierarchies/{hid}/nodes"
    releases: list[str] = []

    def publisher(worker: int) -> None:
        for k in range(PUBLISHES // 2):
            client = clients[(worker + k) % 2]
            response = _check(client.post(f"{urls[(worker + k) % 2]}/pcm/catalogs/{catalog}/releases", content=b""))
            assert response.status_code == 201, response.text
            releases.append(response.json()["data"]["id"])

    def editor(worker: int) -> None:
        client, url = clients[worker % 2], urls[worker % 2]
        for k in range(EDIT_ROUNDS):
            i = (worker * 5 + k) % PRODUCTS
            name = f"P{i}-w{worker}-{k}"
            with names_lock:
                written_names.add(name)
            body = {"data": {"type": "product", "id": products[i], "attributes": {"name": name}}}
            _check(client.put(f"{url}/pcm/products/{products[i]}", json=body))
            # C moves between A and B; B tries to go under C (a cycle once C is under B: refused).
            parent = (a, b)[k % 2]
            _check(
                client.put(f"{url}{node_base}/{c}/relationships/parent", json={"data": {"type": "node", "id": parent}})
            )
            _check(client.put(f"{url}{node_base}/{b}/relationships/parent", json={"data": {"type": "node", "id": c}}))
            _check(client.delete(f"{url}{node_base}/{b}/relationships/parent"))
            # Links come and go.
            target = (a, b, c)[k % 3]
            refs = {"data": [{"type": "product", "id": products[(i + 1) % PRODUCTS]}]}
            _check(client.post(f"{url}{node_base}/{target}/relationships/products", json=refs))
            if k % 2:
                _check(client.request("DELETE", f"{url}{node_base}/{target}/relationships/products", json=refs))

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(publisher, w) for w in range(2)] + [pool.submit(editor, w) for w in range(4)]
        for future in futures:
            future.result()
    assert len(releases) == PUBLISHES

    # The catalog keeps its latest releases (SPEC §4.2 retention); each one kept is a consistent snapshot.
    kept = [rid for rid in releases if api.get(f"/pcm/catalogs/{catalog}/releases/{rid}").status_code == 200]
    assert kept, "no release survived retention"
    pages_before = {}
    for rid in kept:
        state = _release_state(db, rid)
        assert state["total_products"] == len(state["products"])
        assert state["total_nodes"] == len(state["nodes"]) == 3
        # Node lists name only the release's own nodes and products.
        for node_id, product_id in state["listed"]:
            assert node_id in state["nodes"]
            assert product_id in state["products"]
        # The tree is a tree: parents are nodes of the release, and walking up always ends.
        for start in state["nodes"]:
            seen, current = set(), start
            while current is not None:
                assert current not in seen, f"cycle in release {rid}"
                seen.add(current)
                current = state["nodes"][current]
                assert current is None or current in state["nodes"]
        # Names are ones a request wrote, never a mix; the document agrees with its row.
        assert set(state["products"].values()) <= written_names
        for document in state["documents"]:
            assert document["attributes"]["name"] == state["products"][uuid.UUID(document["id"])]
        pages_before[rid] = api.get(f"/pcm/catalogs/{catalog}/releases/{rid}/products?page[limit]=100").json()

    # More edits after publishing change nothing in the releases already made.
    for i, pid in enumerate(products):
        body = {"data": {"type": "product", "id": pid, "attributes": {"name": f"P{i}-after"}}}
        assert api.put(f"/pcm/products/{pid}", json=body).status_code == 200
    api.delete(f"{node_base}/{c}/relationships/parent")
    for rid, before in pages_before.items():
        after = api.get(f"/pcm/catalogs/{catalog}/releases/{rid}/products?page[limit]=100").json()
        assert after["data"] == before["data"]
    for client in clients:
        client.close()


def test_parallel_updates_lose_no_update(db: Database, keys: Keys, api: Caller, urls: list[str]) -> None:
    """Each accepted update bumps the product's version once; a stale one is a 409, so no write is lost."""
    pid = make_product(api, name="Contended", sku="CONTENDED")["id"]
    clients = [_client(url, keys) for url in urls]

    def update(i: int) -> tuple[int, str, str]:
        field, value = ("name", f"name-{i}") if i % 2 else ("description", f"description-{i}")
        body = {"data": {"type": "product", "id": pid, "attributes": {field: value}}}
        response = _check(clients[i % 2].put(f"{urls[i % 2]}/pcm/products/{pid}", json=body))
        return response.status_code, field, value

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(update, range(40)))
    statuses = Counter(status for status, _, _ in results)
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= 1
    final = api.get(f"/pcm/products/{pid}").json()["data"]
    # Every stored field holds a value an accepted request wrote (or the original description, if no
    # description update was accepted).
    accepted = {(field, value) for status, field, value in results if status == 200}
    names = {value for field, value in accepted if field == "name"}
    assert final["attributes"]["name"] in (names or {"Contended"})
    descriptions = {value for field, value in accepted if field == "description"}
    if descriptions:
        assert final["attributes"]["description"] in descriptions
    # The version counts the accepted writes exactly: none was applied on a stale read and then overwritten.
    with db.sessions() as session:
        version = session.scalars(select(Product.version).where(Product.id == uuid.UUID(pid))).one()
    assert version == 1 + statuses[200]
    for client in clients:
        client.close()
