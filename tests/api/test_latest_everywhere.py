"""One `latest` for every process (SPEC §12.4, issue 17): once a publish, a release delete or a restore
(§10.2) has answered, every server process — several workers, several servers on one database — answers
`latest` and the shopper `/catalog` with the new release, read caches on (the default), over fresh
connections and with no pause."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product, publish
from tests.conftest import Caller, Database, Keys
from tests.servers import running_servers

pytestmark = pytest.mark.multiprocess


@pytest.fixture(autouse=True)
def _quiet_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers' stderr is a pipe nobody reads while they run (tests/servers.py): a line logged per request
    would fill it within these thousands of requests and stall the server."""
    monkeypatch.setenv("ASSORTMENT_LOG_LEVEL", "warning")

READS = 100


@dataclass
class Shop:
    catalog: str
    hierarchy: str
    node: str
    release: str


def _shop(api: Caller) -> Shop:
    hierarchy = make_hierarchy(api)["id"]
    node = make_node(api, hierarchy, "Shirts")["id"]
    for i in range(3):
        link(api, hierarchy, node, make_product(api, status="live", sku=f"LATEST-{i}")["id"])
    catalog = make_catalog(api, [hierarchy])["id"]
    return Shop(catalog, hierarchy, node, publish(api, catalog)["id"])


def _token(base: str, caller: Caller) -> str:
    form = {"grant_type": "client_credentials", "client_id": caller.key.client_id}
    form["client_secret"] = caller.key.client_secret
    response = httpx.post(f"{base}/oauth/access_token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _latest_urls(base: str, shop: Shop) -> list[str]:
    """The release `latest` names, a page of the release view the read cache keeps, and the shopper view."""
    latest = f"{base}/pcm/catalogs/{shop.catalog}/releases/latest"
    return [
        latest,
        f"{latest}/nodes/{shop.node}/relationships/products",
        f"{latest}/hierarchies/{shop.hierarchy}/products",
        f"{base}/catalog",
        f"{base}/catalog/nodes/{shop.node}/relationships/products",
    ]


def _seen(response: httpx.Response) -> str:
    """What a response shows of its release: the release's id, or for a page the skus on it (each publish
    below adds a product, so every release's pages differ)."""
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    if isinstance(data, dict):
        release_id: str = data["id"]
        return release_id
    return ",".join(sorted(item["attributes"]["sku"] for item in data))


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _reads_over_fresh_connections(urls: list[str], token: str, reads: int) -> list[tuple[str, str]]:
    """(url, what it showed) for `reads` rounds over every URL, each request on a connection of its own."""
    return [(url, _seen(httpx.get(url, headers=_auth(token), timeout=30))) for _ in range(reads) for url in urls]


def _expected(base: str, token: str, shop: Shop, release: str) -> dict[str, str]:
    """What each URL of `_latest_urls` shows when `latest` is `release` (its pages read by the release's id)."""
    urls = _latest_urls(base, shop)
    by_id = f"{base}/pcm/catalogs/{shop.catalog}/releases/{release}"
    node_page = _seen(httpx.get(f"{by_id}/nodes/{shop.node}/relationships/products", headers=_auth(token)))
    hierarchy_page = _seen(httpx.get(f"{by_id}/hierarchies/{shop.hierarchy}/products", headers=_auth(token)))
    return dict(zip(urls, [release, node_page, hierarchy_page, release, node_page], strict=True))


def _check(seen: list[tuple[str, str]], expected: dict[str, str]) -> None:
    wrong = [(url, got) for url, got in seen if got != expected[url]]
    assert not wrong, f"{len(wrong)} of {len(seen)} reads showed another release: {wrong[:5]}, expected {expected}"


def _new_product(base: str, token: str, shop: Shop) -> None:
    """A product in the node, so that the next release's pages differ from the current one's."""
    number = len(_releases(base, token, shop)) + _product_count(base, token)
    body = {
        "data": {
            "type": "product",
            "attributes": {
                "name": f"product {number}",
                "sku": f"NEW-{number}",
                "commodity_type": "physical",
                "status": "live",
            },
        }
    }
    created = httpx.post(f"{base}/pcm/products", json=body, headers=_auth(token))
    assert created.status_code == 201, created.text
    ref = {"data": [{"type": "product", "id": created.json()["data"]["id"]}]}
    url = f"{base}/pcm/hierarchies/{shop.hierarchy}/nodes/{shop.node}/relationships/products"
    assert httpx.post(url, json=ref, headers=_auth(token)).status_code == 201


def _product_count(base: str, token: str) -> int:
    total: int = httpx.get(f"{base}/pcm/products", headers=_auth(token)).json()["meta"]["results"]["total"]
    return total


def _cycle(base: str, token: str, api_base: str, shop: Shop, *, reads: int) -> None:
    """Warm every process on the current release, then publish / delete through `api_base` and read `latest`
    back from `base` at once."""
    urls = _latest_urls(base, shop)
    _reads_over_fresh_connections(urls, token, 20)  # every worker remembers the current `latest`
    for _ in range(2):
        _new_product(api_base, token, shop)
        published = httpx.post(f"{api_base}/pcm/catalogs/{shop.catalog}/releases", headers=_auth(token), timeout=120)
        assert published.status_code == 201, published.text
        release = published.json()["data"]["id"]
        seen = _reads_over_fresh_connections(urls, token, reads)
        _check(seen, _expected(base, token, shop, release))
    # A delete of the newest release moves `latest` back to the one before.
    previous = _releases(base, token, shop)[1]
    deleted = httpx.delete(f"{api_base}/pcm/catalogs/{shop.catalog}/releases/{release}", headers=_auth(token))
    assert deleted.status_code == 204, deleted.text
    seen = _reads_over_fresh_connections(urls, token, reads)
    _check(seen, _expected(base, token, shop, previous))
    # A restore of the oldest kept release makes it the latest, nothing republished.
    oldest = _releases(base, token, shop)[-1]
    assert oldest != previous
    restored = httpx.post(f"{api_base}/pcm/catalogs/{shop.catalog}/releases/{oldest}/restore", headers=_auth(token))
    assert restored.status_code == 200, restored.text
    seen = _reads_over_fresh_connections(urls, token, reads)
    _check(seen, _expected(base, token, shop, oldest))


def _releases(base: str, token: str, shop: Shop) -> list[str]:
    response = httpx.get(f"{base}/pcm/catalogs/{shop.catalog}/releases", headers=_auth(token), timeout=30)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def test_every_worker_answers_latest_with_the_new_release(db: Database, keys: Keys, api: Caller) -> None:
    shop = _shop(api)
    with running_servers(db.settings.database_url, count=1, workers=2) as [base]:
        token = _token(base, api)
        _cycle(base, token, base, shop, reads=READS)


def test_every_server_answers_latest_with_the_release_another_one_published(
    db: Database, keys: Keys, api: Caller
) -> None:
    shop = _shop(api)
    with running_servers(db.settings.database_url, count=2, workers=1) as [publisher, reader]:
        token = _token(publisher, api)
        _cycle(reader, token, publisher, shop, reads=READS // 2)


def test_one_process_answers_latest_with_the_new_release_at_once(db: Database, keys: Keys, api: Caller) -> None:
    """One worker, one kept-alive connection, no pause between the publish's answer and the reads."""
    shop = _shop(api)
    with running_servers(db.settings.database_url, count=1, workers=1) as [base]:
        token = _token(base, api)
        urls = _latest_urls(base, shop)
        with httpx.Client(headers=_auth(token), timeout=120) as client:
            for _ in range(4):
                for url in urls:
                    assert client.get(url).status_code == 200
                _new_product(base, token, shop)
                release = client.post(f"{base}/pcm/catalogs/{shop.catalog}/releases").json()["data"]["id"]
                seen = [(url, _seen(client.get(url))) for _ in range(3) for url in urls]
                _check(seen, _expected(base, token, shop, release))
            # Back to the oldest kept release, then forward again to the newest.
            releases = _releases(base, token, shop)
            for release in (releases[-1], releases[0]):
                assert client.post(f"{base}/pcm/catalogs/{shop.catalog}/releases/{release}/restore").status_code == 200
                seen = [(url, _seen(client.get(url))) for _ in range(3) for url in urls]
                _check(seen, _expected(base, token, shop, release))


def test_the_test_app_answers_latest_with_the_new_release_at_once(api: Caller) -> None:
    """The same in the test suite's own app (read cache on): publish, then read, no pause."""
    shop = _shop(api)
    latest = f"/pcm/catalogs/{shop.catalog}/releases/latest"
    page = f"{latest}/nodes/{shop.node}/relationships/products"
    for i in range(4):
        assert api.get(page).status_code == 200
        assert api.get("/catalog").status_code == 200
        link(api, shop.hierarchy, shop.node, make_product(api, status="live", sku=f"AGAIN-{i}")["id"])
        release = publish(api, shop.catalog)["id"]
        assert api.get(latest).json()["data"]["id"] == release
        assert f"AGAIN-{i}" in api.get(page).text
        assert api.get("/catalog").json()["data"]["id"] == release
        assert f"AGAIN-{i}" in api.get("/catalog/nodes/" + shop.node + "/relationships/products").text
    # A restore of the oldest kept release: it has none of the products added since.
    oldest = api.get(f"/pcm/catalogs/{shop.catalog}/releases").json()["data"][-1]["id"]
    assert api.post(f"/pcm/catalogs/{shop.catalog}/releases/{oldest}/restore").status_code == 200
    assert api.get(latest).json()["data"]["id"] == oldest
    assert "AGAIN-3" not in api.get(page).text
    assert api.get("/catalog").json()["data"]["id"] == oldest
    assert "AGAIN-3" not in api.get("/catalog/nodes/" + shop.node + "/relationships/products").text
