"""Catalog-service paging links are absolute URLs (SPEC §0.2): the request's scheme and host, or
ASSORTMENT_PUBLIC_URL when it is set; PIM lists keep paths. Pages the read cache keeps are kept per base
URL, so one rendered for one host never answers another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from assortment.api.jsonapi import base_url
from assortment.app import create_app
from assortment.config import Settings
from tests.api.test_pricebooks import make_book, make_price
from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product, publish, view_url
from tests.cli.conftest import Cli
from tests.conftest import Caller, Database
from tests.helpers import ORIGIN

PUBLIC_URL = "https://shop.example.com/api"
LINK_NAMES = ("current", "first", "last", "next", "prev", "self")


@pytest.fixture
def world(api: Caller) -> dict[str, str]:
    """A catalog of one hierarchy with a node holding two live products, published; a price book."""
    hierarchy = make_hierarchy(api)["id"]
    node = make_node(api, hierarchy, "Shirts")["id"]
    products = [make_product(api, status="live", sku=f"ABS-{i}")["id"] for i in range(2)]
    link(api, hierarchy, node, *products)
    catalog = make_catalog(api, [hierarchy])["id"]
    rule = api.post(
        "/pcm/catalogs/rules",
        json={"data": {"type": "catalog_rule", "attributes": {"name": "Everyone", "catalog_id": catalog}}},
    )
    assert rule.status_code == 201, rule.text
    publish(api, catalog)
    book = make_book(api)["id"]
    make_price(api, book, "ABS-0")
    return {"catalog": catalog, "hierarchy": hierarchy, "node": node, "book": book}


def catalog_service_lists(world: dict[str, str]) -> list[str]:
    release = view_url(world["catalog"])
    return [
        "/pcm/catalogs",
        "/pcm/catalogs/rules",
        f"/pcm/catalogs/{world['catalog']}/releases",
        f"{release}/hierarchies",
        f"{release}/hierarchies/{world['hierarchy']}/children",
        f"{release}/hierarchies/{world['hierarchy']}/products",
        f"{release}/nodes",
        f"{release}/nodes/{world['node']}/relationships/products",
        f"{release}/products",
        "/catalog/hierarchies",
        "/catalog/nodes",
        "/catalog/products",
        "/pcm/pricebooks",
        "/pcm/pricebooks/prices",
        f"/pcm/pricebooks/{world['book']}/prices",
        "/v2/currencies",
    ]


PIM_LISTS = ["/pcm/products", "/pcm/hierarchies", "/pcm/custom-relationships", "/pcm/jobs", "/v2/integrations"]


def paging_links(caller: Caller, url: str, **headers: str) -> dict[str, Any]:
    response = caller.get(url, params={"page[limit]": "1"}, headers=headers)
    assert response.status_code == 200, (url, response.text)
    links: dict[str, Any] = response.json()["links"]
    return {name: value for name, value in links.items() if name in LINK_NAMES}


def test_catalog_service_lists_link_with_absolute_urls(api: Caller, world: dict[str, str]) -> None:
    for url in catalog_service_lists(world):
        links = paging_links(api, url)
        path = url.split("?")[0]
        assert links["first"] == f"{ORIGIN}{path}?page[offset]=0&page[limit]=1", url
        for name, value in links.items():
            assert value is None or value.startswith(f"{ORIGIN}{path}?page[offset]="), (url, name, value)
        follow = links["last"]
        assert api.get(follow).status_code == 200, follow  # a link leads where it says


def test_pim_lists_keep_paths(api: Caller, world: dict[str, str]) -> None:
    for url in PIM_LISTS:
        links = paging_links(api, url)
        assert links["first"] == f"{url}?page[offset]=0&page[limit]=1", url
        assert all(value.startswith(f"{url}?") for value in links.values()), (url, links)


def test_links_carry_the_scheme_and_host_of_the_request(api: Caller, world: dict[str, str]) -> None:
    url = f"{view_url(world['catalog'])}/products"
    over_tls = api.get(f"https://testserver{url}").json()["links"]
    assert over_tls["first"] == f"https://testserver{url}?page[offset]=0&page[limit]=25"
    elsewhere = paging_links(api, "/pcm/catalogs", host="shop.example.org:8443")
    assert elsewhere["first"] == "http://shop.example.org:8443/pcm/catalogs?page[offset]=0&page[limit]=1"


@pytest.mark.parametrize("host", ["evil.example/x?", "a b", "h@st", "x\"y", ""])
def test_a_host_header_that_is_not_a_host_is_not_repeated(api: Caller, world: dict[str, str], host: str) -> None:
    links = paging_links(api, "/pcm/catalogs", host=host)
    assert links["first"] == f"{ORIGIN}/pcm/catalogs?page[offset]=0&page[limit]=1"


def test_base_url_without_a_host_header_is_the_servers_address() -> None:
    scope: dict[str, Any] = {"scheme": "https", "headers": [], "server": ("10.0.0.5", 443)}
    assert base_url(scope, None) == "https://10.0.0.5"
    assert base_url({**scope, "server": ("10.0.0.5", 8443)}, None) == "https://10.0.0.5:8443"
    assert base_url({**scope, "headers": [(b"host", b"[::1]:8000")]}, None) == "https://[::1]:8000"
    assert base_url({**scope, "headers": [(b"host", b"a.example")]}, PUBLIC_URL) == PUBLIC_URL


def test_the_read_cache_keeps_a_page_per_host(api: Caller, world: dict[str, str]) -> None:
    """The same release page asked for under two hosts, twice each (the second answer from the cache): each
    host gets its own links."""
    cache = api.client.app.state.read_cache  # type: ignore[attr-defined]
    url = f"{view_url(world['catalog'])}/nodes/{world['node']}/relationships/products"
    bodies: dict[str, bytes] = {}
    for _ in range(2):
        for host in ("shop-a.example", "shop-b.example:8080"):
            response = api.get(url, params={"page[limit]": "1"}, headers={"Host": host})
            assert response.status_code == 200, response.text
            links = response.json()["links"]
            assert links["next"] == f"http://{host}{url}?page[offset]=1&page[limit]=1", (host, links)
            assert links["self"] == f"http://{host}{url}?page[offset]=0&page[limit]=1", (host, links)
            bodies.setdefault(host, response.content)
            assert response.content == bodies[host]
    kept = [key for key in cache.pages if key[1] == url]
    assert len(kept) == 2, kept  # one page per host, both answered from memory the second time


@pytest.fixture
def public(db: Database, api: Caller) -> Iterator[Caller]:
    """The same caller on an app with ASSORTMENT_PUBLIC_URL set."""
    app = create_app(Settings(database_url=db.settings.database_url, secret_key=None, public_url=PUBLIC_URL + "/"))
    try:
        with TestClient(app) as client:
            yield Caller(client, api.token, api.key)
    finally:
        app.state.engine.dispose()


def test_the_public_url_replaces_scheme_and_host(public: Caller, world: dict[str, str]) -> None:
    for url in catalog_service_lists(world):
        for host in ("testserver", "internal:8000"):
            links = paging_links(public, url, host=host)
            assert links["first"] == f"{PUBLIC_URL}{url}?page[offset]=0&page[limit]=1", (url, host)
    for url in PIM_LISTS:
        assert paging_links(public, url)["first"] == f"{url}?page[offset]=0&page[limit]=1"
    # One kept page serves every host: they all get the same links.
    cache = public.client.app.state.read_cache  # type: ignore[attr-defined]
    release_page = f"{view_url(world['catalog'])}/products"
    assert len([key for key in cache.pages if key[1] == release_page]) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("https://shop.example.com/", "https://shop.example.com"),
        ("http://10.1.2.3:8080/assortment//", "http://10.1.2.3:8080/assortment"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ("", None),
    ],
)
def test_public_url_values_taken(value: str, expected: str | None) -> None:
    assert Settings(public_url=value).public_url == expected


@pytest.mark.parametrize(
    "value",
    [
        "shop.example.com",
        "ftp://shop.example.com",
        "https://",
        "https:///path",
        "https://shop.example.com?x=1",
        "https://shop.example.com/?",
        "https://shop.example.com#top",
        "https://user:secret@shop.example.com",
        "https://shop.example.com:99999",
        "https://shop.example.com:port",
        "https://shop example.com",
    ],
)
def test_public_url_values_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url=value)


def test_a_bad_public_url_stops_the_commands_with_a_message(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSORTMENT_PUBLIC_URL", "https://user:secret@shop.example.com/?x")
    for command in (("check",), ("serve", "--port", "1")):
        result = Cli(db).run(*command, timeout=60)
        assert result.code == 2, result
        assert result.stderr.startswith("error: invalid setting ASSORTMENT_PUBLIC_URL: "), result
        assert "Traceback" not in result.stderr and "secret" not in result.stderr, result
