"""Hot reads called directly (api/direct.py, issue 17): every route in `DIRECT` answers as the framework
does, byte for byte and header for header; refusals and errors are still the framework's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assortment.api.direct import DIRECT, DirectReads, direct_routes
from assortment.api.fast_reads import FastReads
from assortment.app import AssortmentApp, create_app
from assortment.config import Settings
from tests.api.test_fast_reads import layer_of, priced_shop, stable_headers
from tests.api.test_release_prices import Shop, shop
from tests.catalogs import make_node, view_url
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of

__all__ = ["shop"]  # the fixture, used by the tests below


@dataclass
class Cold:
    admin: Caller
    shopper: Caller
    direct: DirectReads
    fast: FastReads  # in front of the direct reads: made to forget, so that they reach `direct`


@pytest.fixture
def cold(db: Database, api: Caller, keys: Keys) -> Iterator[Cold]:
    app = create_app(Settings(database_url=db.settings.database_url, secret_key=None, read_cache_bytes=0))
    assert isinstance(app, AssortmentApp)
    shopper = keys.caller(grant="implicit")
    try:
        with TestClient(app) as client:
            admin, shopper_caller = Caller(client, api.token, api.key), Caller(client, shopper.token, shopper.key)
            yield Cold(admin, shopper_caller, layer_of(app, DirectReads), layer_of(app, FastReads))
    finally:
        app.state.engine.dispose()


def framework_then_direct(cold: Cold, caller: Caller, url: str, headers: dict[str, str] | None = None) -> Any:
    """The framework's answer (the direct table emptied for one request), then the direct one; returns
    the direct one after checking that it is the framework's."""
    table = cold.direct.table
    cold.direct.table = []
    cold.fast.resolved.clear()
    try:
        slow = caller.get(url, headers=headers or {})
    finally:
        cold.direct.table = table
    answered = cold.direct.answered
    cold.fast.resolved.clear()
    fast = caller.get(url, headers=headers or {})
    assert cold.direct.answered == answered + 1, f"{url} was not answered directly"
    assert fast.status_code == slow.status_code, url
    assert fast.content == slow.content, url
    assert stable_headers(fast) == stable_headers(slow), url
    return fast


def test_every_direct_route_is_in_the_table(cold: Cold) -> None:
    """A renamed endpoint or a new parameter must not silently send a hot read back to the framework."""
    app_routes = cold.admin.client.app.routes  # type: ignore[attr-defined]
    assert {route.endpoint for route in direct_routes(app_routes)} == set(DIRECT)


def test_direct_answers_are_the_frameworks(shop: Shop, cold: Cold) -> None:
    catalog, _ = priced_shop(shop)
    child = make_node(shop.api, shop.hierarchy, "Child", parent=shop.node)["id"]
    release = cold.admin.get(view_url(catalog)).json()["data"]["id"]
    product = shop.products["range"]
    admin_reads = [
        "/pcm/products",
        "/pcm/products?page[limit]=3&page[offset]=2",
        "/pcm/products?filter=like(sku,plain-1*)",
        "/pcm/products?filter=eq(status,live)&page[limit]=2",
        f"/pcm/products/{product}",
        f"/pcm/hierarchies/{shop.hierarchy}/nodes/{shop.node}",
        f"/pcm/hierarchies/{shop.hierarchy}/children",
        f"/pcm/hierarchies/{shop.hierarchy}/nodes/{shop.node}/children",
        f"{view_url(catalog, release)}/hierarchies/{shop.hierarchy}",
        f"{view_url(catalog, release)}/nodes/{shop.node}",
        f"{view_url(catalog)}/nodes/{shop.node}/relationships/children",
        f"{view_url(catalog)}/nodes/{shop.node}/relationships/products?filter=eq(sku,blue-shirt)",
        f"{view_url(catalog, release)}/products/{product}?include=nothing",
    ]
    for url in admin_reads:
        framework_then_direct(cold, cold.admin, url)
    shopper_reads = [
        "/catalog",
        f"/catalog/hierarchies/{shop.hierarchy}",
        f"/catalog/nodes/{shop.node}",
        f"/catalog/nodes/{shop.node}/relationships/children",
        f"/catalog/nodes/{shop.node}/relationships/products",
        f"/catalog/nodes/{shop.node}/relationships/products?page[limit]=4&page[offset]=4",
        f"/catalog/products/{product}",
    ]
    for url in shopper_reads:
        for caller in (cold.admin, cold.shopper):
            framework_then_direct(cold, caller, url)
            framework_then_direct(cold, caller, url, {"X-Moltin-Currency": "GBP"})
    assert child


def test_a_matching_etag_gets_304_directly(shop: Shop, cold: Cold) -> None:
    priced_shop(shop)
    url = f"/catalog/nodes/{shop.node}/relationships/products"
    etag = cold.shopper.get(url).headers["etag"]
    response = framework_then_direct(cold, cold.shopper, url, {"If-None-Match": etag})
    assert response.status_code == 304


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/pcm/products/00000000-0000-4000-8000-000000000000", 404),
        ("/pcm/products/not-an-id", 404),
        ("/pcm/products?page[limit]=x", 400),
        ("/pcm/products?filter=eq(nothing,1)", 400),
        ("/catalog/products/00000000-0000-4000-8000-000000000000", 404),
    ],
)
def test_errors_are_the_frameworks(shop: Shop, cold: Cold, url: str, status: int) -> None:
    priced_shop(shop)
    answered = cold.direct.answered
    response = cold.admin.get(url)
    assert response.status_code == status, response.text
    assert errors_of(response)[0]["status"] == str(status)
    assert cold.direct.answered == answered


def test_an_implicit_token_on_an_admin_read_is_refused_by_the_framework(shop: Shop, cold: Cold) -> None:
    priced_shop(shop)
    answered = cold.direct.answered
    response = cold.shopper.get("/pcm/products")
    assert response.status_code == 403
    assert errors_of(response)[0]["status"] == "403"
    response = cold.admin.get("/pcm/products", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert cold.direct.answered == answered


def test_a_product_made_after_a_read_is_in_the_next_read(shop: Shop, cold: Cold) -> None:
    priced_shop(shop)
    before = cold.admin.get("/pcm/products").json()["meta"]["results"]["total"]
    product = shop.product("new", "new-sku")
    listed = cold.admin.get("/pcm/products?page[limit]=100").json()
    assert listed["meta"]["results"]["total"] == before + 1
    assert product in [item["id"] for item in listed["data"]]
    assert cold.admin.get(f"/pcm/products/{product}").json()["data"]["attributes"]["sku"] == "new-sku"
