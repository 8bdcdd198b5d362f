"""Builders and views for the hierarchy and node tests (SPEC §2)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller
from tests.helpers import product_body


def hierarchy_body(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "hierarchy", "attributes": {"name": "Catalogue", **attributes}}}


def make_hierarchy(api: Caller, **attributes: Any) -> dict[str, Any]:
    response = api.post("/pcm/hierarchies", json=hierarchy_body(**attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def node_body(
    name: str, *, parent: str | None = None, meta: dict[str, Any] | None = None, **attributes: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "node", "attributes": {"name": name, **attributes}}
    if parent is not None:
        data["relationships"] = {"parent": {"data": {"type": "node", "id": parent}}}
    if meta is not None:
        data["meta"] = meta
    return {"data": data}


def make_node(
    api: Caller,
    hid: str,
    name: str,
    *,
    parent: str | None = None,
    sort_order: int | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    meta = None if sort_order is None else {"sort_order": sort_order}
    response = api.post(f"/pcm/hierarchies/{hid}/nodes", json=node_body(name, parent=parent, meta=meta, **attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def make_product(api: Caller, **attributes: Any) -> dict[str, Any]:
    response = api.post("/pcm/products", json=product_body(**attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def refs(kind: str, *ids: str, sort_orders: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `{data: [{type, id, meta?}]}` body; `sort_orders` maps ids to their `meta.sort_order`."""
    items: list[dict[str, Any]] = []
    for item_id in ids:
        item: dict[str, Any] = {"type": kind, "id": item_id}
        if sort_orders and item_id in sort_orders:
            item["meta"] = {"sort_order": sort_orders[item_id]}
        items.append(item)
    return {"data": items}


def node_url(hid: str, nid: str) -> str:
    return f"/pcm/hierarchies/{hid}/nodes/{nid}"


def ids_of(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def children(api: Caller, hid: str, nid: str | None = None) -> list[str]:
    """The ids of a node's (or, without `nid`, the hierarchy's) children, in listed order."""
    url = f"/pcm/hierarchies/{hid}/children" if nid is None else f"{node_url(hid, nid)}/children"
    return ids_of(api.get(url, params={"page[limit]": "100"}))


def all_nodes(api: Caller, hid: str) -> list[dict[str, Any]]:
    response = api.get(f"/pcm/hierarchies/{hid}/nodes", params={"page[limit]": "100"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["results"]["total"] <= 100
    nodes: list[dict[str, Any]] = body["data"]
    return nodes


def parent_of(node: dict[str, Any]) -> str | None:
    parent = node["relationships"].get("parent")
    return None if parent is None else str(parent["data"]["id"])


def snapshot(api: Caller, hid: str) -> dict[str, Any]:
    """Everything a refused request must leave alone: every node object, and every child order."""
    nodes = all_nodes(api, hid)
    orders = {hid: children(api, hid)}
    for node in nodes:
        orders[node["id"]] = children(api, hid, node["id"])
    return {"nodes": nodes, "children": orders}


def product_links(api: Caller, hid: str, nid: str) -> list[str]:
    return ids_of(api.get(f"{node_url(hid, nid)}/products", params={"page[limit]": "100"}))
