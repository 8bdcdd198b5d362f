"""Builders and views for the catalog, release and shopper tests (SPEC §4, §5, seed 003)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from assortment.app import create_app
from assortment.config import Settings
from tests.conftest import Caller
from tests.trees import make_hierarchy, make_node, make_product, node_url, refs

__all__ = [
    "catalog_body",
    "curate",
    "ids",
    "link",
    "make_catalog",
    "make_hierarchy",
    "make_node",
    "make_product",
    "publish",
    "set_product",
    "uncached_caller",
    "unlink",
    "view",
    "view_url",
]


def catalog_body(name: str = "Catalog", hierarchy_ids: list[str] | None = None, **attributes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"name": name, **attributes}
    if hierarchy_ids is not None:
        values["hierarchy_ids"] = hierarchy_ids
    return {"data": {"type": "catalog", "attributes": values}}


def make_catalog(api: Caller, hierarchy_ids: list[str], name: str = "Catalog", **attributes: Any) -> dict[str, Any]:
    response = api.post("/pcm/catalogs", json=catalog_body(name, hierarchy_ids, **attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def publish(api: Caller, catalog_id: str, body: Any = None) -> dict[str, Any]:
    """Publish with an empty body (as the JS SDK does) unless one is given; return the release."""
    if body is None:
        response = api.post(f"/pcm/catalogs/{catalog_id}/releases", content=b"")
    else:
        response = api.post(f"/pcm/catalogs/{catalog_id}/releases", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def link(api: Caller, hid: str, nid: str, *product_ids: str) -> None:
    response = api.post(f"{node_url(hid, nid)}/relationships/products", json=refs("product", *product_ids))
    assert response.status_code == 201, response.text


def unlink(api: Caller, hid: str, nid: str, *product_ids: str) -> None:
    response = api.delete(f"{node_url(hid, nid)}/relationships/products", json=refs("product", *product_ids))
    assert response.status_code == 200, response.text


def curate(api: Caller, hid: str, nid: str, *product_ids: str) -> None:
    body = {"data": {"type": "node", "id": nid, "attributes": {"curated_products": list(product_ids)}}}
    response = api.put(node_url(hid, nid), json=body)
    assert response.status_code == 200, response.text


def set_product(api: Caller, product_id: str, **attributes: Any) -> None:
    body = {"data": {"type": "product", "id": product_id, "attributes": attributes}}
    response = api.put(f"/pcm/products/{product_id}", json=body)
    assert response.status_code == 200, response.text


def view_url(catalog_id: str, release: str = "latest") -> str:
    return f"/pcm/catalogs/{catalog_id}/releases/{release}"


def view(api: Caller, url: str, **params: str) -> dict[str, Any]:
    """GET a release-view (or shopper) URL, expecting 200; return the parsed body."""
    response = api.get(url, params=params or None)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


@contextmanager
def uncached_caller(database_url: str, caller: Caller) -> Iterator[Caller]:
    """The same caller on a second app without the in-memory read cache: every read hits the database."""
    app = create_app(Settings(database_url=database_url, secret_key=None, read_cache_bytes=0))
    try:
        with TestClient(app) as client:
            yield Caller(client, caller.token, caller.key)
    finally:
        app.state.engine.dispose()
