"""An incremental release is indistinguishable from a release published from scratch (SPEC §10.3).

Each example builds a small catalog (two hierarchies, a few nodes in a tree, products linked to them, a
price book of two books stacked, a curated node, custom relationships with associations) and publishes it.
Then, twice: a random sequence of edits through the API — products renamed, repriced, re-skued, linked,
unlinked, drafted, deleted or created; prices created, changed or deleted; nodes renamed, moved or curated;
a hierarchy renamed; associations made and removed — and a publish of the same catalog, which copies the
rows of the products whose inputs did not change from the release before (counted: the examples must copy
some). After the second round a new catalog over the same hierarchies and price books is published from
scratch, and every release-view endpoint of the two releases is compared, document by document: the same
status and the same bytes once each release's own catalog id, release id and `published_at` are named
alike.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from assortment.db.engine import in_snapshot
from assortment.domain import auth
from assortment.domain.publish import publish, publish_lock_name
from assortment.domain.tenancy import Principal
from tests.catalogs import curate, link, make_catalog, make_hierarchy, make_node, make_product, set_product, unlink
from tests.conftest import Caller, Database, empty_tables
from tests.properties import machine_settings
from tests.relationships import associate, attach, make_definition
from tests.trees import node_url

SLUGS = ("CRP_one", "CRP_two")
PRODUCTS = 7
NODES = 5  # per hierarchy: n0, n1 under n0, n2 under n1, n3, n4 under n3 (top-level n0 and n3)
PARENTS = (None, 0, 1, None, 3)
REQUEST_ID = re.compile(r',"request_id":"[^"]*"')


class World:
    """The catalog of one example, built through the API."""

    def __init__(self, api: Caller) -> None:
        self.api = api
        self.hierarchies = [make_hierarchy(api, name=f"H{h}", slug=f"h{h}")["id"] for h in range(2)]
        self.nodes: list[tuple[str, str]] = []  # (hierarchy id, node id)
        for hid in self.hierarchies:
            made: list[str] = []
            for n, parent in enumerate(PARENTS):
                parent_id = None if parent is None else made[parent]
                made.append(make_node(self.api, hid, f"N{n}", parent=parent_id, slug=f"{hid[:4]}-n{n}")["id"])
            self.nodes += [(hid, nid) for nid in made]
        self.books = [self._book(f"Book {b}") for b in range(2)]
        self.prices: dict[tuple[int, str], str] = {}  # (book, sku) → price id
        self.products: list[str] = []
        self.serial = 0
        for _ in range(PRODUCTS):
            self.new_product()
        for slug in SLUGS:
            make_definition(api, slug)
        for i, pid in enumerate(self.products):
            link(api, *self.nodes[i % len(self.nodes)], pid)
            if i % 2:
                link(api, *self.nodes[(i * 3 + 1) % len(self.nodes)], pid)
            self.price(i % 2, f"SKU-{i}", 100 + i)
        self.price(1, "SKU-0", 999)  # priced in both books: the first of the stack wins
        attach(api, self.products[0], *SLUGS)
        associate(api, self.products[0], SLUGS[0], self.products[1:4])
        associate(api, self.products[0], SLUGS[1], self.products[4:6], sort_orders={self.products[5]: 1})
        curate(api, *self.nodes[0], self.products[0])
        stack = [{"id": self.books[0], "priority": 2}, {"id": self.books[1], "priority": 1}]
        self.catalog = make_catalog(api, self.hierarchies, name="Incremental", pricebook_ids=stack)["id"]

    def _book(self, name: str) -> str:
        response = self.api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": name}}})
        assert response.status_code == 201, response.text
        book: str = response.json()["data"]["id"]
        return book

    def new_product(self) -> str:
        i = self.serial
        self.serial += 1
        sku = f"SKU-{i}" if _sku_free(self.api, f"SKU-{i}") else f"SKU-NEW-{i}"  # another may have taken it
        pid = str(make_product(self.api, name=f"P{i}", sku=sku, slug=f"p-{i}", status="live")["id"])
        self.products.append(pid)
        return pid

    def price(self, book: int, sku: str, amount: int) -> None:
        attributes = {"sku": sku, "currencies": {"USD": {"amount": amount}}}
        body: dict[str, Any] = {"data": {"type": "product-price", "attributes": attributes}}
        key = (book, sku)
        if key in self.prices:
            body["data"]["id"] = self.prices[key]
            url = f"/pcm/pricebooks/{self.books[book]}/prices/{self.prices[key]}"
            response = self.api.put(url, json=body)
            assert response.status_code == 200, response.text
            return
        response = self.api.post(f"/pcm/pricebooks/{self.books[book]}/prices", json=body)
        assert response.status_code == 201, response.text
        self.prices[key] = response.json()["data"]["id"]

    def unprice(self, book: int, sku: str) -> None:
        price_id = self.prices.pop((book, sku), None)
        if price_id is not None:
            response = self.api.delete(f"/pcm/pricebooks/{self.books[book]}/prices/{price_id}")
            assert response.status_code == 204, response.text


# --- edits: (kind, a, b) drawn at random, applied leniently (an edit that makes no sense is skipped) --------

EDITS = (
    "rename",
    "describe",
    "sku",
    "draft",
    "live",
    "delete",
    "create",
    "link",
    "unlink",
    "price",
    "new_price",
    "unprice",
    "rename_node",
    "move_node",
    "curate",
    "rename_hierarchy",
    "associate",
    "dissociate",
    "attach",
)
PER_ROUND = 7


@st.composite
def edits(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """PER_ROUND edits of distinct kinds (so that every example moves, renames, relinks and reprices
    something, whatever Hypothesis prefers to draw), in a random order, each with two random numbers."""
    kinds = draw(st.permutations(EDITS))[:PER_ROUND]
    numbers = draw(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=PER_ROUND, max_size=PER_ROUND))
    return [(kind, a, b) for kind, (a, b) in zip(kinds, numbers, strict=True)]


def apply(world: World, kind: str, a: int, b: int) -> None:
    api = world.api
    products = world.products
    pid = products[a % len(products)] if products else None
    node = world.nodes[b % len(world.nodes)]
    n = a % 1000
    if kind == "create":
        link(api, *node, world.new_product())
    elif pid is None:
        return
    elif kind == "rename":
        set_product(api, pid, name=f"Renamed {n}-{b}")
    elif kind == "describe":
        set_product(api, pid, description=f"Description {b}")
    elif kind == "sku":
        set_product(api, pid, sku=f"SKU-{b % 9}") if _sku_free(api, f"SKU-{b % 9}") else None
    elif kind in ("draft", "live"):
        set_product(api, pid, status=kind)
    elif kind == "delete":
        assert api.delete(f"/pcm/products/{pid}").status_code == 204
        products.remove(pid)
    elif kind == "link":
        link(api, *node, pid)
    elif kind == "unlink":
        unlink(api, *node, pid)
    elif kind == "price":  # an existing price changes
        book, sku = sorted(world.prices)[a % len(world.prices)] if world.prices else (0, "SKU-0")
        world.price(book, sku, 100 + a * 7 + b)
    elif kind == "new_price":
        world.price(b % 2, f"SKU-{a % 9}", 100 + a * 7 + b)
    elif kind == "unprice":
        world.unprice(b % 2, f"SKU-{a % 9}")
    elif kind == "rename_node":
        hid, nid = node
        body = {"data": {"type": "node", "id": nid, "attributes": {"name": f"Node {a}"}}}
        assert api.put(node_url(hid, nid), json=body).status_code == 200
    elif kind == "move_node":
        hid, nid = node
        siblings = [other for h, other in world.nodes if h == hid and other != nid]
        target = siblings[a % len(siblings)]
        if a % 3 == 0:
            api.delete(f"{node_url(hid, nid)}/relationships/parent")  # to the top level
        else:  # refused when the target is inside the node's own subtree; then nothing moves
            api.put(f"{node_url(hid, nid)}/relationships/parent", json={"data": {"type": "node", "id": target}})
    elif kind == "curate":
        hid, nid = node  # refused when one of them is not linked to the node
        wanted = products[a % len(products) : a % len(products) + 2]
        body = {"data": {"type": "node", "id": nid, "attributes": {"curated_products": wanted}}}
        assert api.put(node_url(hid, nid), json=body).status_code in (200, 422)
    elif kind == "rename_hierarchy":
        hid = world.hierarchies[a % 2]
        body = {"data": {"type": "hierarchy", "id": hid, "attributes": {"name": f"Hierarchy {b}"}}}
        assert api.put(f"/pcm/hierarchies/{hid}", json=body).status_code == 200
    elif kind == "attach":
        attach(api, pid, SLUGS[b % 2])
    elif kind == "associate":
        targets = [t for t in products[b % len(products) : b % len(products) + 2] if t != pid]
        if targets:
            response = api.post(
                f"/pcm/products/{pid}/custom-relationships/{SLUGS[a % 2]}",
                json={"data": [{"type": "product", "id": t} for t in targets]},
            )
            assert response.status_code in (201, 422), response.text
    elif kind == "dissociate":
        target = products[b % len(products)]
        api.delete(
            f"/pcm/products/{pid}/custom-relationships/{SLUGS[a % 2]}",
            json={"data": [{"type": "product", "id": target}]},
        )


def _sku_free(api: Caller, sku: str) -> bool:
    response = api.get("/pcm/products", params={"filter": f"eq(sku,{sku})"})
    assert response.status_code == 200, response.text
    return not response.json()["data"]


# --- comparing two releases through the release view -------------------------------------------------------


def release_view(api: Caller, catalog: str, release: dict[str, Any], world: World) -> dict[str, Any]:
    """Every release-view answer for the release (URL → (status, body)), with the release's own catalog id,
    release id and published_at named alike."""
    base = f"/pcm/catalogs/{catalog}/releases/{release['id']}"
    published_at = release["attributes"]["published_at"]
    assert published_at

    def neutral(text: str) -> Any:
        text = text.replace(catalog, "CATALOG").replace(release["id"], "RELEASE")
        text = text.replace(f'"published_at":"{published_at}"', '"published_at":"NOW"')
        text = REQUEST_ID.sub("", text)  # errors name their request
        return orjson.loads(text)

    answers: dict[str, Any] = {}

    def get(path: str) -> Any:
        response = api.get(base + path, params={"page[limit]": "100"})
        answers[path] = (response.status_code, neutral(response.text))
        return answers[path][1]

    get("/hierarchies")
    get("/nodes")
    get("/products")
    for hid in world.hierarchies:
        for suffix in ("", "/nodes", "/children", "/products"):
            get(f"/hierarchies/{hid}{suffix}")
    for _, nid in world.nodes:
        for suffix in ("", "/relationships/children", "/relationships/products"):
            get(f"/nodes/{nid}{suffix}")
    ids = {item["id"] for item in get("/products")["data"]} | set(world.products)
    for pid in sorted(ids):
        get(f"/products/{pid}")
        for slug in SLUGS:
            get(f"/products/{pid}/relationships/{slug}/products")
    return answers


def publish_here(db: Database, store_id: uuid.UUID, catalog: str) -> tuple[str, int]:
    """Publish with the domain function (as the endpoint does), returning the release id and how many
    product rows it copied from the release before (its first progress report on products)."""
    principal = Principal(key_id=uuid.UUID(int=0), store_id=store_id, grant="client_credentials")
    copied: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "products" and not copied:
            copied.append(done)

    release = in_snapshot(
        db.sessions, publish_lock_name(catalog), lambda session: publish(session, principal, catalog, progress=progress)
    )
    return str(release.id), copied[0] if copied else 0


def test_incremental_release_is_a_release_from_scratch(api: Caller, db: Database) -> None:
    with db.sessions() as session:
        store_id = auth.default_store(session).id
    copies: list[int] = []

    @given(rounds=st.lists(edits(), min_size=2, max_size=2))
    @machine_settings(examples=12)
    def check(rounds: list[list[tuple[str, int, int]]]) -> None:
        empty_tables(db)
        world = World(api)
        publish_here(db, store_id, world.catalog)
        for edits in rounds:
            for kind, a, b in edits:
                apply(world, kind, a, b)
            release_id, copied = publish_here(db, store_id, world.catalog)
            copies.append(copied)
        incremental = _release(api, world.catalog, release_id)
        fresh_catalog = make_catalog(
            api,
            world.hierarchies,
            name="Incremental",
            pricebook_ids=[{"id": world.books[0], "priority": 2}, {"id": world.books[1], "priority": 1}],
        )["id"]
        fresh = api.post(f"/pcm/catalogs/{fresh_catalog}/releases", content=b"")
        assert fresh.status_code == 201, fresh.text
        mine = release_view(api, world.catalog, incremental, world)
        theirs = release_view(api, fresh_catalog, fresh.json()["data"], world)
        assert mine.keys() == theirs.keys()
        for path, answer in mine.items():
            assert answer == theirs[path], path

    check()
    assert sum(1 for c in copies if c) >= len(copies) // 2, f"too few publishes copied rows: {copies}"


def _release(api: Caller, catalog: str, release_id: str) -> dict[str, Any]:
    response = api.get(f"/pcm/catalogs/{catalog}/releases/{release_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
