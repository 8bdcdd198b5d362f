"""Cursor paging on every list endpoint (SPEC §10.4): `page[after]`, `links.next`, no 10,000 limit, stable
under concurrent inserts and deletes, and 400 for a cursor this server did not write for the same list."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from assortment.api.deps import paging
from assortment.api.direct import routes_in_order
from assortment.db.engine import begin_write
from assortment.db.models import Product
from assortment.domain import auth, webhooks
from assortment.domain.catalogs import CatalogService
from assortment.domain.hierarchies import HierarchyService
from assortment.domain.tenancy import Principal
from assortment.schemas.catalogs import CatalogAttributes
from assortment.schemas.hierarchies import NodeAttributes, NodeMeta
from tests.catalogs import curate, link, make_catalog, publish, set_product, view_url
from tests.conftest import Caller, Database
from tests.helpers import errors_of
from tests.relationships import associate, attach, insert_products, make_definition
from tests.trees import make_hierarchy, make_node, make_product

LIMIT = 2
INVALID = "invalid page[after] cursor"


# --- walking a list ------------------------------------------------------------------------------------------


def _relative(url: str) -> str:
    """Catalog-service links are absolute (SPEC §0.2): the test client is given path and query."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _with(path: str, query: str) -> str:
    return path + ("&" if "?" in path else "?") + query


def walk_by_offset(api: Caller, path: str) -> list[str]:
    seen: list[str] = []
    url: str | None = _with(path, f"page[limit]={LIMIT}")
    while url:
        response = api.get(url)
        assert response.status_code == 200, (url, response.text)
        body = response.json()
        seen += [item["id"] for item in body["data"]]
        url = body["links"].get("next")
        url = None if url is None else _relative(url)
    return seen


def walk_by_cursor(api: Caller, path: str, *, catalog_style: bool, limit: int = LIMIT) -> list[str]:
    """Follow `links.next` from `page[after]=`, checking each page's links and meta as §10.4 has them."""
    seen: list[str] = []
    url: str | None = _with(path, f"page[after]=&page[limit]={limit}")
    pages = 0
    while url:
        response = api.get(url)
        assert response.status_code == 200, (url, response.text)
        body = response.json()
        links, meta = body["links"], body["meta"]
        pages += 1
        assert "prev" not in links and "last" not in links, (url, links)
        assert dict(parse_qsl(urlsplit(links["first"]).query, keep_blank_values=True))["page[after]"] == ""
        assert meta["page"]["limit"] == limit and "results" not in meta, (url, meta)
        assert len(body["data"]) <= limit
        seen += [item["id"] for item in body["data"]]
        if catalog_style:
            assert links["first"].startswith("http://testserver/"), links
            assert "next" in links, links  # null on the last page, never left out
        url = links.get("next")
        if url is not None:
            assert len(body["data"]) == limit, (url, body["data"])
            url = _relative(url)
    assert pages == max(1, -(-len(seen) // limit)), (path, pages, len(seen))
    return seen


# --- a store with something in every list -----------------------------------------------------------------------


@dataclass
class World:
    lists: dict[str, bool] = field(default_factory=dict)  # path → catalog-service list (absolute links)
    ids: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, *, catalog_style: bool) -> None:
        self.lists[path] = catalog_style


def _post(api: Caller, url: str, body: Any, status: int = 201) -> dict[str, Any]:
    response = api.post(url, json=body)
    assert response.status_code == status, (url, response.text)
    data: dict[str, Any] = response.json().get("data", {})
    return data


@pytest.fixture
def world(db: Database, api: Caller) -> World:
    w = World()
    # An enabled integration first: every product created below gets a job, then a log.
    hook_body = {
        "type": "integration",
        "name": "index",
        "integration_type": "webhook",
        "enabled": True,
        "observes": ["product.created"],
        "configuration": {"url": "https://93.184.215.14/hook"},
    }
    hook = _post(api, "/v2/integrations", {"data": hook_body})["id"]
    for name in ("second", "third"):
        _post(api, "/v2/integrations", {"data": {**hook_body, "name": name, "enabled": False}})
    products = [make_product(api, name=f"P{i}", sku=f"SKU-{i}", status="live")["id"] for i in range(5)]
    claimed = webhooks.claim_due(db.sessions)
    webhooks.finish(
        db.sessions,
        db.settings,
        [(c, webhooks.Outcome(False, 500, "down", "the receiver answered 500")) for c in claimed],
    )
    redeliver = api.get(f"/v2/integrations/{hook}/jobs").json()["data"][0]["id"]
    assert api.post(f"/v2/integrations/{hook}/jobs/{redeliver}/redeliver").status_code == 202
    webhooks.finish(
        db.sessions,
        db.settings,
        [(c, webhooks.Outcome(False, 500, "again", "500")) for c in webhooks.claim_due(db.sessions)],
    )

    hid = make_hierarchy(api, name="Main")["id"]
    other = make_hierarchy(api, name="Other")["id"]
    make_hierarchy(api, name="Third")
    tops = [make_node(api, hid, f"Top {i}", sort_order=s)["id"] for i, s in enumerate((None, 3, None))]
    parent = tops[0]
    for i, s in enumerate((None, 5, 5, None, 1)):
        make_node(api, hid, f"Child {i}", parent=parent, sort_order=s)
    make_node(api, other, "Other top")
    link(api, hid, parent, *products)
    curate(api, hid, parent, products[3], products[1])
    for top in tops[1:]:
        link(api, hid, top, products[0])

    for slug in ("alpha", "beta", "gamma"):
        make_definition(api, slug)
    assert attach(api, products[0], "alpha", "beta", "gamma").status_code == 201
    associate(api, products[0], "alpha", products[1:], sort_orders={products[2]: 1, products[4]: 1})

    for _ in range(2):
        _post(api, f"/pcm/hierarchies/{hid}/duplicate_job", {"data": {"type": "hierarchy", "attributes": {}}})
    _post(api, f"/pcm/hierarchies/{other}/duplicate_job", {"data": {"type": "hierarchy", "attributes": {}}})

    book = _post(api, "/pcm/pricebooks", {"data": {"type": "pricebook", "attributes": {"name": "Main"}}})["id"]
    for name in ("Second", "Third"):
        _post(api, "/pcm/pricebooks", {"data": {"type": "pricebook", "attributes": {"name": name}}})
    for i in range(3):
        price = {"sku": f"SKU-{i}", "currencies": {"USD": {"amount": 100 + i}}}
        _post(api, f"/pcm/pricebooks/{book}/prices", {"data": {"type": "product-price", "attributes": price}})
    for code in ("EUR", "GBP"):
        currency = {
            "type": "currency",
            "code": code,
            "format": "{price}",
            "decimal_point": ".",
            "thousand_separator": ",",
            "decimal_places": 2,
            "exchange_rate": 1,
            "default": False,
            "enabled": True,
        }
        _post(api, "/v2/currencies", {"data": currency})

    catalog = make_catalog(api, [hid, other], name="Main", pricebook_id=book)["id"]
    make_catalog(api, [other], name="Second")
    make_catalog(api, [hid], name="Third")
    for name in ("r1", "r2", "r3"):
        _post(
            api,
            "/pcm/catalogs/rules",
            {"data": {"type": "catalog_rule", "attributes": {"name": name, "catalog_id": catalog}}},
        )
    publish(api, catalog)
    publish(api, catalog)
    for product in products[:3]:
        set_product(api, product, name="renamed")
    release = publish(api, catalog)["id"]
    w.ids.update(catalog=catalog, release=release, hid=hid, parent=parent, product=products[0], hook=hook)

    pim = [
        "/pcm/products",
        "/pcm/products?filter=like(sku,SKU-*)",
        "/pcm/hierarchies",
        "/pcm/hierarchies/nodes",
        f"/pcm/hierarchies/{hid}/nodes",
        f"/pcm/hierarchies/{hid}/children",
        f"/pcm/hierarchies/{hid}/nodes/{parent}/children",
        f"/pcm/hierarchies/{hid}/nodes/{parent}/products",
        f"/pcm/products/{products[0]}/nodes",
        "/pcm/jobs",
        "/pcm/custom-relationships",
        f"/pcm/products/{products[0]}/custom-relationships",
        f"/pcm/products/{products[0]}/custom-relationships/alpha",
        f"/pcm/products/{products[0]}/custom-relationships/alpha/products",
    ]
    job = api.get(f"/v2/integrations/{hook}/jobs").json()["data"][0]["id"]
    for prefix in ("/v2/integrations", "/integrations"):
        pim += [
            prefix,
            f"{prefix}/logs",
            f"{prefix}/{hook}/logs",
            f"{prefix}/{hook}/jobs",
            f"{prefix}/{hook}/jobs/{redeliver}/logs",
        ]
        pim.append(f"{prefix}/{hook}/jobs/{job}/logs")
    for path in pim:
        w.add(path, catalog_style=False)
    catalog_lists = [
        "/pcm/catalogs",
        "/pcm/catalogs/rules",
        f"/pcm/catalogs/{catalog}/releases",
        f"/pcm/catalogs/{catalog}/releases/{release}/changes",
        "/v2/currencies",
        "/pcm/pricebooks",
        "/pcm/pricebooks/prices",
        f"/pcm/pricebooks/{book}/prices",
    ]
    for base in (view_url(catalog), view_url(catalog, release), "/catalog"):
        catalog_lists += [
            f"{base}/hierarchies",
            f"{base}/hierarchies/{hid}/nodes",
            f"{base}/hierarchies/{hid}/children",
            f"{base}/hierarchies/{hid}/products",
            f"{base}/nodes",
            f"{base}/nodes/{parent}/relationships/children",
            f"{base}/nodes/{parent}/relationships/products",
            f"{base}/products",
            f"{base}/products?filter=in(sku,SKU-0,SKU-2,SKU-3,SKU-4)",
            f"{base}/products/{products[0]}/relationships/CRP_alpha/products",
        ]
        if base != "/catalog":
            catalog_lists.append(f"{base}/hierarchies/{hid}/relationships/products")
    for path in catalog_lists:
        w.add(path, catalog_style=True)
    return w


def test_every_list_walks_by_cursor_as_it_does_by_offset(api: Caller, world: World) -> None:
    several = 0
    for path, catalog_style in world.lists.items():
        by_offset = walk_by_offset(api, path)
        assert by_offset, f"{path} lists nothing: the walk proves nothing"
        assert walk_by_cursor(api, path, catalog_style=catalog_style) == by_offset, path
        several += len(by_offset) > LIMIT
    assert several >= len(world.lists) * 3 // 4  # most lists take several pages


def test_every_paged_route_is_walked(app: Any, world: World) -> None:
    """Each route that pages (depends on `paging`) is among the lists walked above."""
    walked = [urlsplit(path).path for path in world.lists]
    missing = []
    for template, route in routes_in_order(app.routes):
        if "GET" not in (route.methods or ()) or not _depends_on(route, paging):
            continue
        if not any(route.path_regex.match(path) for path in walked):
            missing.append(template)
    assert missing == []


def _depends_on(route: Any, dependency: Any) -> bool:
    pending = [getattr(route, "dependant", None)]
    while pending:
        dependant = pending.pop()
        if dependant is not None:
            if dependant.call is dependency:
                return True
            pending.extend(dependant.dependencies)
    return False


def test_page_sizes_and_the_links_of_a_walk(api: Caller, world: World) -> None:
    body = api.get("/pcm/products?page[after]=&page[limit]=3&filter=like(sku,SKU-*)").json()
    assert [set(body["links"]), body["meta"]] == [{"current", "first", "next"}, {"page": {"limit": 3}}]
    assert body["links"]["first"] == "/pcm/products?page[after]=&page[limit]=3&filter=like(sku,SKU-*)"
    assert body["links"]["next"].startswith("/pcm/products?page[after]=")
    assert body["links"]["next"].endswith("&page[limit]=3&filter=like(sku,SKU-*)")
    last = api.get(_relative(body["links"]["next"])).json()
    assert set(last["links"]) == {"current", "first"} and len(last["data"]) == 2  # PIM: no next at the end
    url = f"/pcm/catalogs/{world.ids['catalog']}/releases/latest/products?page[after]=&page[limit]=100"
    whole = api.get(url).json()
    assert whole["links"]["next"] is None and set(whole["links"]) == {"current", "first", "next", "self"}
    assert whole["links"]["first"] == "http://testserver" + url
    # page[limit] may change along a walk; above 100 it is clamped as by offset
    assert len(api.get(_with(_relative(body["links"]["next"]), "page[limit]=1")).json()["data"]) == 1
    assert api.get("/pcm/products?page[after]=&page[limit]=500").json()["meta"]["page"]["limit"] == 100


def test_an_empty_list_by_cursor(api: Caller) -> None:
    body = api.get("/pcm/products?page[after]=").json()
    assert body["data"] == [] and "next" not in body["links"]
    catalogs = api.get("/pcm/catalogs?page[after]=").json()
    assert catalogs["data"] == [] and catalogs["links"]["next"] is None


# --- refused cursors ------------------------------------------------------------------------------------------------


def _refused(api: Caller, url: str, detail: str = INVALID) -> None:
    response = api.get(url)
    assert response.status_code == 400, (url, response.text)
    assert errors_of(response)[0]["detail"] == detail


def _next_cursor(api: Caller, url: str) -> str:
    response = api.get(url)
    assert response.status_code == 200, response.text
    return str(dict(parse_qsl(urlsplit(response.json()["links"]["next"]).query))["page[after]"])


def test_cursors_of_other_lists_filters_and_forgeries_are_400(api: Caller, world: World) -> None:
    hid, parent, catalog = world.ids["hid"], world.ids["parent"], world.ids["catalog"]
    products = _next_cursor(api, "/pcm/products?page[after]=&page[limit]=2")
    assert api.get(f"/pcm/products?page[after]={products}").status_code == 200
    _refused(api, f"/pcm/hierarchies?page[after]={products}")  # another endpoint
    _refused(api, f"/pcm/hierarchies/nodes?page[after]={products}")
    _refused(api, f"/pcm/products?page[after]={products}&filter=like(sku,SKU-*)")  # another filter
    _refused(api, f"/pcm/products?page[after]={products}&sort=name")  # another sort
    filtered = _next_cursor(api, "/pcm/products?page[after]=&page[limit]=2&filter=like(sku,SKU-*)")
    _refused(api, f"/pcm/products?page[after]={filtered}")
    _refused(api, f"/pcm/products?page[after]={filtered}&filter=like(sku,SKU-1*)")
    children = _next_cursor(api, f"/pcm/hierarchies/{hid}/nodes/{parent}/children?page[after]=&page[limit]=2")
    _refused(api, f"/pcm/hierarchies/{hid}/children?page[after]={children}")  # another node's children
    release = _next_cursor(api, f"{view_url(catalog)}/products?page[after]=&page[limit]=2")
    assert api.get(f"{view_url(catalog)}/products?page[after]={release}").status_code == 200
    _refused(api, f"{view_url(catalog)}/nodes?page[after]={release}")
    _refused(api, f"/catalog/products?page[after]={release}")
    payload, _, mac = products.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "AB") + "." + mac
    for cursor in (forged, payload, payload + ".", "." + mac, "x", "%20", "not.a.cursor", "é", products + "x"):
        _refused(api, f"/pcm/products?page[after]={cursor}")
        _refused(api, f"/pcm/catalogs?page[after]={cursor}")


def test_a_cursor_with_an_offset_is_400(api: Caller, world: World) -> None:
    both = "page[after] and page[offset] can not be used together"
    _refused(api, "/pcm/products?page[after]=&page[offset]=0", both)
    _refused(api, "/pcm/products?page[offset]=2&page[after]=", both)
    cursor = _next_cursor(api, "/pcm/catalogs?page[after]=&page[limit]=1")
    _refused(api, f"/pcm/catalogs?page[after]={cursor}&page[offset]=1", both)
    _refused(api, f"{view_url(world.ids['catalog'])}/products?page[after]=&page[offset]=0", both)
    _refused(api, "/catalog/nodes?page[after]=&page[offset]=5", both)
    _refused(api, "/pcm/products?page[after]=&page[limit]=x", "page[limit] must be an integer")


# --- no 10,000 limit -------------------------------------------------------------------------------------------------


def test_more_than_ten_thousand_products_are_walked_to_the_end(db: Database, api: Caller) -> None:
    with db.sessions() as session:
        store = auth.default_store(session).id
    created = insert_products(db, store, 10_150)  # one timestamp: the id decides the order
    assert api.get("/pcm/products?page[offset]=10001").status_code == 400
    seen = walk_by_cursor(api, "/pcm/products", catalog_style=False, limit=100)
    assert len(seen) == len(set(seen)) == 10_150
    assert seen == sorted(created, key=lambda i: uuid.UUID(i).bytes)


# --- stable under concurrent writers ---------------------------------------------------------------------------------


def _principal(db: Database) -> Principal:
    with db.sessions() as session:
        store = auth.default_store(session).id
    return Principal(key_id=uuid.uuid4(), store_id=store, grant="client_credentials")


def write(db: Database, work: Callable[[Session], Any]) -> Any:
    """One write transaction (taking SQLite's write lock at its start, as requests do)."""
    with db.sessions() as session:
        begin_write(session)
        result = work(session)
        session.commit()
        return result


@dataclass
class Writers:
    """Threads writing other items while a walk goes on; `failures` holds what they raised."""

    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[BaseException] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def run(self, work: Any, times: int) -> None:
        """Call `work` up to `times` times, until the walk ends (a bounded number: a list that grows as fast as
        it is walked would never end)."""

        def loop() -> None:
            try:
                for _ in range(times):
                    if self.stop.is_set():
                        return
                    work()
                    time.sleep(0.005)
            except BaseException as exc:
                self.failures.append(exc)

        thread = threading.Thread(target=loop, daemon=True)
        self.threads.append(thread)
        thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert self.failures == []


@pytest.fixture
def writers() -> Iterator[Writers]:
    running = Writers()
    yield running
    running.stop.set()
    for thread in running.threads:
        thread.join(timeout=60)


def _slow_walk(api: Caller, path: str, limit: int) -> list[str]:
    """A walk that lets the writers run between its pages."""
    seen: list[str] = []
    url: str | None = _with(path, f"page[after]=&page[limit]={limit}")
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["data"]]
        url = body["links"].get("next")
        url = None if url is None else _relative(url)
        time.sleep(0.01)
    return seen


def test_products_that_exist_throughout_a_walk_are_seen_once_while_others_come_and_go(
    db: Database, api: Caller, writers: Writers
) -> None:
    with db.sessions() as session:
        store = auth.default_store(session).id
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(7)

    def rows(count: int, name: str) -> list[dict[str, Any]]:
        # Timestamps spread over an hour, in seconds: many ties, broken by the id.
        return [
            {
                "id": uuid.uuid4(),
                "scope_id": store,
                "name": name,
                "status": "draft",
                "commodity_type": "physical",
                "created_at": start + timedelta(seconds=rng.randrange(3600)),
                "updated_at": start,
                "version": 1,
            }
            for _ in range(count)
        ]

    stable, doomed = rows(300, "stable"), rows(300, "doomed")
    with db.sessions.begin() as session:
        session.execute(insert(Product), stable + doomed)
    doomed_ids = [row["id"] for row in doomed]
    lock = threading.Lock()
    picker = random.Random(11)

    def add() -> None:
        write(db, lambda session: session.execute(insert(Product), rows(3, "new")))

    def remove() -> None:
        with lock:
            if not doomed_ids:
                return
            chosen = [doomed_ids.pop(picker.randrange(len(doomed_ids))) for _ in range(min(3, len(doomed_ids)))]
        write(db, lambda session: session.execute(delete(Product).where(Product.id.in_(chosen))))

    writers.run(add, 100)
    writers.run(remove, 100)
    seen = _slow_walk(api, "/pcm/products", 7)
    writers.join()
    assert len(seen) == len(set(seen))  # nothing twice, new or old
    stable_ids = {str(row["id"]) for row in stable}
    assert stable_ids <= set(seen)  # every product that was there throughout
    with db.sessions() as session:
        order = {str(i): (c, i) for i, c in session.execute(select(Product.id, Product.created_at))}
    kept = [order[i] for i in seen if i in order]
    assert kept == sorted(kept)  # in the list's order
    with db.sessions() as session:
        added = session.scalar(select(func.count()).select_from(Product).where(Product.name == "new"))
    assert len(doomed_ids) < 300 and added  # the writers did write during the walk


def test_node_children_that_exist_throughout_a_walk_are_seen_once_while_siblings_come_and_go(
    db: Database, api: Caller, writers: Writers
) -> None:
    """The §2.4 order (sort_order high to low, NULLs last, then updated_at newest first, then id): siblings are
    added with any sort order, before and after the walk's position, and others deleted."""
    principal = _principal(db)
    hid = make_hierarchy(api, name="Tree")["id"]
    parent = make_node(api, hid, "Parent")["id"]
    rng = random.Random(3)
    counter = iter(range(1_000_000))

    def create(name: str) -> str:
        sort_order = rng.choice([None, None, *range(10)])
        meta = None if sort_order is None else NodeMeta.model_validate({"sort_order": sort_order})
        attributes = NodeAttributes.model_validate({"name": name})
        node = write(
            db, lambda session: HierarchyService(session, principal).create_node(hid, attributes, parent, meta)
        )
        return str(node.id)

    stable = [create(f"stable {i}") for i in range(40)]
    doomed = [create(f"doomed {i}") for i in range(40)]
    lock = threading.Lock()

    def add() -> None:
        create(f"new {next(counter)}")

    def remove() -> None:
        with lock:
            if not doomed:
                return
            chosen = doomed.pop(rng.randrange(len(doomed)))
        write(db, lambda session: HierarchyService(session, principal).delete_node(hid, chosen))

    writers.run(add, 40)
    writers.run(remove, 40)
    seen = _slow_walk(api, f"/pcm/hierarchies/{hid}/nodes/{parent}/children", 3)
    writers.join()
    assert len(seen) == len(set(seen))
    assert set(stable) <= set(seen)
    assert len(doomed) < 40


def test_catalogs_and_release_products_walk_once_while_catalogs_are_written(
    db: Database, api: Caller, world: World, writers: Writers
) -> None:
    """A catalog-service list (catalogs: created_at and id) and a release's products (a release never changes)
    walked while catalogs are created and deleted."""
    stable = [make_catalog(api, [world.ids["hid"]], name=f"stable {i}")["id"] for i in range(12)]
    doomed = [make_catalog(api, [world.ids["hid"]], name=f"doomed {i}")["id"] for i in range(12)]

    principal = _principal(db)
    attributes = CatalogAttributes.model_validate({"name": "new", "hierarchy_ids": [world.ids["hid"]]})

    def churn() -> None:
        def work(session: Session) -> None:
            service = CatalogService(session, principal)
            service.create(attributes)
            if doomed:
                service.delete(doomed.pop())

        write(db, work)

    writers.run(churn, 12)
    seen = _slow_walk(api, "/pcm/catalogs", 2)
    release_products = _slow_walk(api, f"{view_url(world.ids['catalog'])}/products", 2)
    writers.join()
    assert len(seen) == len(set(seen)) and set(stable) <= set(seen)
    assert release_products == walk_by_offset(api, f"{view_url(world.ids['catalog'])}/products")
