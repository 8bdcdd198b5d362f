"""Restoring a kept release (SPEC §10.2): `latest`, `latestPublished` and the shopper view follow at once,
`meta.is_latest`, retention and deletes around a restored release, the next publish's base, the event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from assortment.db.models import Release
from tests.api.test_events import feed, keys_of, payload
from tests.catalogs import ids, link, make_catalog, make_hierarchy, make_node, make_product, publish, view
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of


@dataclass
class Shop:
    catalog: str
    hierarchy: str
    node: str


def _shop(api: Caller) -> Shop:
    hierarchy = make_hierarchy(api)["id"]
    node = make_node(api, hierarchy, "Shirts")["id"]
    return Shop(make_catalog(api, [hierarchy])["id"], hierarchy, node)


def _publish_with_one_more_product(api: Caller, shop: Shop, sku: str) -> str:
    """A release whose node shows one product more than the one before (so that every release's pages differ)."""
    link(api, shop.hierarchy, shop.node, make_product(api, status="live", sku=sku)["id"])
    release: str = publish(api, shop.catalog)["id"]
    return release


def _releases_url(shop: Shop) -> str:
    return f"/pcm/catalogs/{shop.catalog}/releases"


def _restore(api: Caller, shop: Shop, release: str) -> Any:
    return api.post(f"{_releases_url(shop)}/{release}/restore")


def _skus(api: Caller, url: str) -> list[str]:
    return sorted(item["attributes"]["sku"] for item in view(api, url)["data"])


def _latest_of(api: Caller, shop: Shop) -> dict[str, str]:
    """What each way of naming the latest release shows: its id (or, for pages, the skus on them)."""
    latest = f"{_releases_url(shop)}/latest"
    return {
        "latest": view(api, latest)["data"]["id"],
        "latestPublished": view(api, f"{_releases_url(shop)}/latestPublished")["data"]["id"],
        "catalog": view(api, "/catalog")["data"]["id"],
        "latest products": ",".join(_skus(api, f"{latest}/nodes/{shop.node}/relationships/products")),
        "catalog products": ",".join(_skus(api, f"/catalog/nodes/{shop.node}/relationships/products")),
    }


def _as_latest(api: Caller, shop: Shop, release: str) -> dict[str, str]:
    products = ",".join(_skus(api, f"{_releases_url(shop)}/{release}/nodes/{shop.node}/relationships/products"))
    return {
        "latest": release,
        "latestPublished": release,
        "catalog": release,
        "latest products": products,
        "catalog products": products,
    }


def _is_latest(api: Caller, shop: Shop) -> dict[str, bool]:
    return {r["id"]: r["meta"]["is_latest"] for r in view(api, _releases_url(shop))["data"]}


def test_restore_makes_a_kept_release_the_latest_everywhere_at_once(api: Caller) -> None:
    shop = _shop(api)
    first, second, third = (_publish_with_one_more_product(api, shop, f"R-{i}") for i in range(3))
    before = _latest_of(api, shop)  # every view read (and kept by the read cache) before the restore
    assert before == _as_latest(api, shop, third)

    response = _restore(api, shop, first)
    assert response.status_code == 200, response.text
    restored = response.json()["data"]
    assert restored["type"] == "catalog-release" and restored["id"] == first
    assert restored["meta"]["is_latest"] is True
    assert restored == view(api, f"{_releases_url(shop)}/{first}")["data"]
    assert _latest_of(api, shop) == _as_latest(api, shop, first)
    # Nothing was republished: the releases are the same three, newest published first.
    assert ids(view(api, _releases_url(shop))) == [third, second, first]
    assert _is_latest(api, shop) == {first: True, second: False, third: False}

    # Restoring another one, by any spelling of the catalog's releases, moves `latest` again.
    assert _restore(api, shop, second).status_code == 200
    assert _latest_of(api, shop) == _as_latest(api, shop, second)
    # Restoring the latest release changes nothing.
    again = api.post(f"{_releases_url(shop)}/latest/restore")
    assert again.status_code == 200 and again.json()["data"]["id"] == second
    assert _is_latest(api, shop) == {first: False, second: True, third: False}


def test_every_release_object_says_whether_it_is_the_latest(api: Caller) -> None:
    shop = _shop(api)
    first = publish(api, shop.catalog)
    assert first["meta"]["is_latest"] is True
    second = publish(api, shop.catalog)
    assert second["meta"]["is_latest"] is True
    assert view(api, f"{_releases_url(shop)}/{first['id']}")["data"]["meta"]["is_latest"] is False
    assert view(api, f"{_releases_url(shop)}/latest")["data"]["meta"]["is_latest"] is True
    assert view(api, "/catalog")["data"]["meta"]["is_latest"] is True
    assert _is_latest(api, shop) == {first["id"]: False, second["id"]: True}


def test_restore_of_an_unknown_release_is_404(api: Caller, keys: Keys) -> None:
    shop = _shop(api)
    other = make_catalog(api, [shop.hierarchy], name="Other")["id"]
    elsewhere = publish(api, other)["id"]
    release = publish(api, shop.catalog)["id"]
    for url in (
        f"{_releases_url(shop)}/{uuid.uuid4()}/restore",
        f"{_releases_url(shop)}/not-an-id/restore",
        f"{_releases_url(shop)}/{elsewhere}/restore",  # a release of another catalog
        f"/pcm/catalogs/{uuid.uuid4()}/releases/{release}/restore",
        f"/pcm/catalogs/{other}/releases/{release}/restore",
    ):
        response = api.post(url)
        assert response.status_code == 404, url
        assert errors_of(response)[0]["title"] == "Not Found"
    # Another store sees neither the catalog nor its releases.
    stranger = keys.caller(store_id=keys.store("Elsewhere"))
    assert stranger.post(f"{_releases_url(shop)}/{release}/restore").status_code == 404
    # A catalog without releases has no `latest` to restore.
    empty = make_catalog(api, [shop.hierarchy], name="Empty")["id"]
    assert api.post(f"/pcm/catalogs/{empty}/releases/latest/restore").status_code == 404


def test_restore_of_a_release_that_is_not_published_is_422(api: Caller, db: Database) -> None:
    shop = _shop(api)
    failed = publish(api, shop.catalog)["id"]
    latest = publish(api, shop.catalog)["id"]
    with db.sessions.begin() as session:
        session.execute(update(Release).where(Release.id == uuid.UUID(failed)).values(status="FAILED"))
    response = _restore(api, shop, failed)
    assert response.status_code == 422, response.text
    [error] = errors_of(response)
    assert error["title"] == "Failed Validation"
    assert failed in error["detail"] and "FAILED" in error["detail"]
    assert view(api, f"{_releases_url(shop)}/latest")["data"]["id"] == latest


def test_restore_needs_an_admin_token(api: Caller, keys: Keys) -> None:
    shop = _shop(api)
    first = publish(api, shop.catalog)["id"]
    second = publish(api, shop.catalog)["id"]
    shopper = keys.caller(grant="implicit")
    response = shopper.post(f"{_releases_url(shop)}/{first}/restore")
    assert response.status_code == 403
    assert errors_of(response)[0]["title"] == "Forbidden"
    unknown_token = {"Authorization": "Bearer nope"}
    assert api.post(f"{_releases_url(shop)}/{first}/restore", headers=unknown_token).status_code == 401
    assert view(api, f"{_releases_url(shop)}/latest")["data"]["id"] == second


def test_deleting_the_restored_latest_makes_the_most_recently_published_one_latest(api: Caller) -> None:
    shop = _shop(api)
    first, second, third = (_publish_with_one_more_product(api, shop, f"D-{i}") for i in range(3))
    assert _restore(api, shop, first).status_code == 200
    # Deleting a release that is not the latest leaves `latest` alone.
    assert api.delete(f"{_releases_url(shop)}/{second}").status_code == 204
    assert _latest_of(api, shop) == _as_latest(api, shop, first)
    # Deleting the latest: the most recently published release left becomes the latest (not the previous latest).
    _publish_with_one_more_product(api, shop, "D-3")
    fourth = ids(view(api, _releases_url(shop)))[0]
    assert _restore(api, shop, third).status_code == 200
    assert _restore(api, shop, first).status_code == 200
    assert api.delete(f"{_releases_url(shop)}/latest").status_code == 204
    assert _latest_of(api, shop) == _as_latest(api, shop, fourth)
    assert _is_latest(api, shop) == {fourth: True, third: False}


def test_the_next_publish_is_latest_and_based_on_the_restored_release(api: Caller) -> None:
    """Its delta is against the restored release, and retention keeps that one (the latest until then)."""
    shop = _shop(api)
    products = [make_product(api, status="live", sku=f"B-{i}")["id"] for i in range(3)]
    releases = []
    for product in products:  # each release holds one product more than the one before
        link(api, shop.hierarchy, shop.node, product)
        releases.append(publish(api, shop.catalog)["id"])
    first, second, third = releases
    assert _restore(api, shop, first).status_code == 200

    fourth = publish(api, shop.catalog)
    assert fourth["meta"]["is_latest"] is True
    assert _latest_of(api, shop) == _as_latest(api, shop, fourth["id"])
    # Three kept: the new one, the restored one it was based on, and the most recently published other one.
    assert ids(view(api, _releases_url(shop))) == [fourth["id"], third, first]
    assert _is_latest(api, shop) == {fourth["id"]: True, third: False, first: False}
    assert api.get(f"{_releases_url(shop)}/{second}").status_code == 404
    # Against the restored release (one product), the two products linked since are new.
    delta = view(api, fourth["relationships"]["delta"]["links"]["related"])["data"]
    assert sorted(e["id"] for e in delta if e["delta_type"] == "createupdate") == sorted(products[1:])
    assert [e for e in delta if e["delta_type"] == "delete"] == []


def test_a_restore_records_a_catalog_release_updated_event(api: Caller) -> None:
    shop = _shop(api)
    first = publish(api, shop.catalog)["id"]
    second = publish(api, shop.catalog)["id"]
    restored = _restore(api, shop, first).json()
    events = feed(api, filter="eq(entity_type,catalog-release)")
    assert keys_of(events) == [
        ("catalog-release.created", first),
        ("catalog-release.created", second),
        ("catalog-release.updated", first),
    ]
    assert payload(api, events[-1]) == restored
    assert restored["data"]["meta"]["is_latest"] is True
    # Restoring the latest again, or a refused restore, raises nothing.
    assert _restore(api, shop, first).status_code == 200
    assert _restore(api, shop, str(uuid.uuid4())).status_code == 404
    assert len(feed(api, filter="eq(entity_type,catalog-release)")) == 3
