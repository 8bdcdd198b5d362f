"""The fast read path of the release view (api/fast_reads.py, issue 17): the answers it gives are the
framework's, byte for byte and header for header; what it does not know it leaves to the framework; and
`latest` moves the moment a publish has answered, with no pause, in the process that serves the reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from assortment.api.fast_reads import FastReads
from assortment.app import AssortmentApp, create_app
from assortment.config import Settings
from assortment.db.models import ReleaseProduct
from tests.api.test_release_prices import Shop, add_price, base, make_book, seed_catalog, shop
from tests.api.test_shopper_catalog import make_rule
from tests.catalogs import curate, make_catalog, publish, set_product, view_url
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of

__all__ = ["shop"]  # the fixture, used by the tests below

VARYING = {"x-request-id", "date"}
T = TypeVar("T")


@dataclass
class Cold:
    """Callers on an app without the read cache, and that app's fast path."""

    admin: Caller
    shopper: Caller
    fast: FastReads


@pytest.fixture
def cold(db: Database, api: Caller, keys: Keys) -> Iterator[Cold]:
    app = create_app(Settings(database_url=db.settings.database_url, secret_key=None, read_cache_bytes=0))
    assert isinstance(app, AssortmentApp)
    fast = layer_of(app, FastReads)
    shopper = keys.caller(grant="implicit")
    try:
        with TestClient(app) as client:
            yield Cold(Caller(client, api.token, api.key), Caller(client, shopper.token, shopper.key), fast)
    finally:
        app.state.engine.dispose()


def layer_of(app: AssortmentApp, kind: type[T]) -> T:
    """The handler of that kind among those in front of the framework (each wraps the next as `.app`)."""
    layer: Any = app.front
    while not isinstance(layer, kind):
        layer = layer.app
    return layer


def stable_headers(response: Any) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in VARYING}


def framework_then_fast(cold: Cold, caller: Caller, url: str, headers: dict[str, str]) -> tuple[Any, Any]:
    """The same read answered by the framework (the fast path forgot every release first), then by the
    fast path (which learnt the release from that answer)."""
    cold.fast.resolved.clear()
    answered = cold.fast.answered
    slow = caller.get(url, headers=headers)
    assert cold.fast.answered == answered
    fast = caller.get(url, headers=headers)
    assert cold.fast.answered == answered + 1, f"{url} was not answered by the fast path"
    return slow, fast


def priced_shop(shop: Shop) -> tuple[str, str]:
    """Seed 003's priced products, plus enough plain ones in the node for three pages of 5; one curated."""
    seed = seed_catalog(shop)
    book = make_book(shop.api, "Plain")
    for n in range(11):
        product_id = shop.product(f"plain-{n}", f"plain-{n}")
        if n % 3 == 0:
            add_price(shop.api, book, f"plain-{n}", {"USD": base(1000 + n, min_5=900), "JPY": base(n * 100_000)})
        if n == 4:
            set_product(shop.api, product_id, description='quotes " and } and ,"meta":{ in text')
    curate(shop.api, shop.hierarchy, shop.node, shop.products["plain-2"], shop.products["range"])
    catalog = make_catalog(
        shop.api,
        [shop.hierarchy],
        pricebook_ids=[{"id": seed.regular, "priority": 1}, {"id": seed.seasonal, "priority": 10}],
    )["id"]
    publish(shop.api, catalog)
    publish(shop.api, seed.catalog)
    return catalog, seed.catalog


def test_fast_answers_are_the_frameworks_byte_for_byte(shop: Shop, cold: Cold) -> None:
    catalog, _ = priced_shop(shop)
    release = cold.admin.get(view_url(catalog)).json()["data"]["id"]
    node_products = f"/nodes/{shop.node}/relationships/products"
    reads: list[tuple[str, dict[str, str]]] = []
    for reference in ("latest", "latestPublished", release):
        base_url = view_url(catalog, reference)
        reads += [
            (base_url + node_products, {}),
            (base_url + node_products + "?page[limit]=5&page[offset]=5", {}),
            (base_url + node_products + "?page%5Boffset%5D=10&page%5Blimit%5D=5", {"X-Moltin-Currency": "JPY"}),
            (base_url + node_products + "?page[offset]=1000", {}),
            (base_url + node_products + "?page[limit]=500", {"EP-Currency": "gbp"}),
        ]
        reads += [(f"{base_url}/products/{product_id}", {}) for product_id in shop.products.values()]
        reads += [(f"{base_url}/products/{shop.products['range']}", {"X-Moltin-Currency": "CAD"})]
    shopper_node = f"/catalog/nodes/{shop.node}/relationships/products"
    reads += [
        (shopper_node, {}),
        (shopper_node + "?page[limit]=5&page[offset]=5", {"X-Moltin-Currency": "JPY", "EP-Channel": "web"}),
        (shopper_node + "?page[offset]=500", {}),
        (f"/catalog/products/{shop.products['range']}", {"EP-Currency": "CAD"}),
        (f"/catalog/products/{shop.products['plain-3']}", {"EP-Context-Tag": "x", "X-Moltin-Customer-Id": "c"}),
    ]
    for url, headers in reads:
        for caller in (cold.admin, cold.shopper):
            slow, fast = framework_then_fast(cold, caller, url, headers)
            assert slow.status_code == 200, slow.text
            assert fast.content == slow.content, url
            assert stable_headers(fast) == stable_headers(slow), url


def test_the_shoppers_catalog_follows_the_rules_at_once(shop: Shop, cold: Cold) -> None:
    """The fast path chooses the shopper's catalog from the rules as they are when the request comes in:
    a rule made, changed or deleted applies to the very next read (SPEC §5)."""
    catalog, older = priced_shop(shop)  # `older` was made first: the one shown with no rule
    url = f"/catalog/products/{shop.products['range']}"

    def catalog_seen(headers: dict[str, str]) -> str:
        response = cold.shopper.get(url, headers=headers)
        assert response.status_code == 200, response.text
        seen: str = response.json()["data"]["meta"]["catalog_id"]
        return seen

    web = {"EP-Channel": "web"}
    for _ in range(2):  # the second read is the fast path's
        assert catalog_seen(web) == older
    answered = cold.fast.answered
    rule = make_rule(cold.admin, catalog, channels=["web"])
    assert catalog_seen(web) == catalog
    assert catalog_seen(web) == catalog
    assert catalog_seen({}) == older
    assert catalog_seen({"EP-Channel": "app"}) == older
    body = {"data": {"type": "catalog_rule", "id": rule["id"], "attributes": {"channels": ["app"]}}}
    assert cold.admin.put(f"/pcm/catalogs/rules/{rule['id']}", json=body).status_code == 200
    assert catalog_seen(web) == older
    assert catalog_seen({"EP-Channel": "app"}) == catalog
    assert cold.admin.delete(f"/pcm/catalogs/rules/{rule['id']}").status_code == 204
    assert catalog_seen({"EP-Channel": "app"}) == older
    assert cold.fast.answered > answered


def test_stored_product_documents_end_with_meta_after_attributes_and_relationships(shop: Shop, db: Database) -> None:
    """The order the fast rendering splices into (domain/release_render.py): publish writes every product
    document as type, id, attributes, relationships, meta."""
    priced_shop(shop)
    with db.sessions() as session:
        documents = session.scalars(select(ReleaseProduct.document)).all()
    assert documents
    for document in documents:
        assert list(orjson.loads(document)) == ["type", "id", "attributes", "relationships", "meta"]


def test_an_etag_that_matches_gets_304_from_the_fast_path_too(shop: Shop, cold: Cold) -> None:
    catalog, _ = priced_shop(shop)
    url = f"{view_url(catalog)}/nodes/{shop.node}/relationships/products?page[limit]=3"
    etag = cold.admin.get(url).headers["etag"]
    for sent in (etag, f'"other", {etag}', "*"):
        slow, fast = framework_then_fast(cold, cold.admin, url, {"If-None-Match": sent})
        assert slow.status_code == fast.status_code == 304
        assert fast.content == b""
        assert stable_headers(fast) == stable_headers(slow)
    slow, fast = framework_then_fast(cold, cold.admin, url, {"If-None-Match": '"other"'})
    assert slow.status_code == fast.status_code == 200


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?page[limit]=0", 400),
        ("?page[offset]=²", 400),
        ("?page[offset]=10001", 400),
        ("?filter=eq(sku,blue-shirt)", 200),
        ("?page[limit]=2&include=x", 200),
    ],
)
def test_what_the_fast_path_does_not_know_the_framework_answers(
    shop: Shop, cold: Cold, query: str, status: int
) -> None:
    catalog, _ = priced_shop(shop)
    url = f"{view_url(catalog)}/nodes/{shop.node}/relationships/products"
    assert cold.admin.get(url).status_code == 200  # learnt
    answered = cold.fast.answered
    response = cold.admin.get(url + query)
    assert response.status_code == status, response.text
    assert cold.fast.answered == answered
    if status == 400:
        assert errors_of(response)[0]["status"] == "400"


def test_unknown_nodes_products_and_tokens_get_the_frameworks_errors(shop: Shop, cold: Cold) -> None:
    catalog, _ = priced_shop(shop)
    latest = view_url(catalog)
    assert cold.admin.get(f"{latest}/nodes/{shop.node}/relationships/products").status_code == 200
    answered = cold.fast.answered
    missing = "00000000-0000-4000-8000-000000000000"
    for url in (f"{latest}/nodes/{missing}/relationships/products", f"{latest}/products/{missing}"):
        response = cold.admin.get(url)
        assert response.status_code == 404, response.text
        assert errors_of(response)[0]["status"] == "404"
    for url in (f"{latest}/nodes/not-an-id/relationships/products", f"{latest}/products/not-an-id"):
        assert cold.admin.get(url).status_code == 404
    response = cold.admin.get(f"{latest}/products/{missing}", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert cold.fast.answered == answered


def test_latest_moves_at_once_after_a_publish(shop: Shop, cold: Cold) -> None:
    """No pause between the publish answering and the next read (SPEC §12.4), in the process that reads."""
    catalog, _ = priced_shop(shop)
    url = f"{view_url(catalog)}/products/{shop.products['plain-1']}"
    for _ in range(2):
        assert cold.admin.get(url).json()["data"]["attributes"]["name"] == "plain-1"
    answered = cold.fast.answered
    for round_number in range(5):
        set_product(cold.admin, shop.products["plain-1"], name=f"renamed {round_number}")
        publish(cold.admin, catalog)
        response = cold.admin.get(url)
        assert response.json()["data"]["attributes"]["name"] == f"renamed {round_number}"
        response = cold.admin.get(url)  # the fast path again, on the new release
        assert response.json()["data"]["attributes"]["name"] == f"renamed {round_number}"
    assert cold.fast.answered > answered


def test_a_linked_product_shows_on_the_next_release_page(shop: Shop, cold: Cold) -> None:
    catalog, _ = priced_shop(shop)
    url = f"{view_url(catalog)}/nodes/{shop.node}/relationships/products?page[limit]=100"
    before = cold.admin.get(url).json()
    assert cold.admin.get(url).json() == before
    product_id = shop.product("late", "late")  # linked to the node
    publish(shop.api, catalog)
    after = cold.admin.get(url).json()
    assert after["meta"]["results"]["total"] == before["meta"]["results"]["total"] + 1
    assert product_id in [item["id"] for item in after["data"]]
