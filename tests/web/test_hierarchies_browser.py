"""Hierarchies in the browser: a tree built through the pages, moves by drag and drop and by the Move
dialog checked through the HTTP API, refused moves, node products, a viewer's read-only tree, and the
keyboard. Each runs on SQLite and PostgreSQL (one served process per database)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Caller
from tests.web.conftest import People, Watched, sign_in

pytestmark = pytest.mark.usefixtures("db")


# --- helpers ------------------------------------------------------------------------------------------------


def tree_item(page: Any, name: str) -> Any:
    return page.get_by_role("tree").get_by_role("treeitem", name=name, exact=True)


def row(page: Any, name: str) -> Any:
    return tree_item(page, name).locator(":scope > .row")


def node_id(page: Any, name: str) -> str:
    found = tree_item(page, name).get_attribute("data-node-id")
    assert found, name
    return str(found)


def node_action(page: Any, name: str, action: str) -> Any:
    """Open a node's action dialog (the actions show when the row is hovered or focused)."""
    target = row(page, name)
    target.hover()
    target.get_by_role("button", name=action, exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    return dialog


def expand(page: Any, name: str) -> None:
    item = tree_item(page, name)
    if item.get_attribute("aria-expanded") == "false":
        item.locator(":scope > .row .twisty").click()
    page.wait_for_function(
        "id => document.getElementById('node-' + id).getAttribute('aria-expanded') === 'true'",
        arg=node_id(page, name),
    )


def add_node(page: Any, name: str, slug: str | None = None, parent: str | None = None) -> None:
    page.get_by_role("button", name="Add node", exact=True).click()
    dialog = page.get_by_role("dialog", name="Add node")
    dialog.get_by_label("Name").fill(name)
    if slug:
        dialog.get_by_label("Slug").fill(slug)
    if parent:
        dialog.get_by_label("Parent").select_option(value=parent)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Add", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Node added."


def drag(page: Any, name: str, onto: str, where: str = "onto") -> None:
    """Drag a node by its handle onto another node's row (the middle), or just above/below it."""
    handle = row(page, name).locator(".drag-handle")
    target = row(page, onto)
    start = handle.bounding_box()
    box = target.bounding_box()
    assert start and box
    fraction = {"onto": 0.5, "before": 0.1, "after": 0.9}[where]
    x, y = box["x"] + box["width"] / 3, box["y"] + box["height"] * fraction
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 10, start["y"] + 10, steps=4)
    page.mouse.move(x, y, steps=12)
    page.wait_for_timeout(50)
    page.mouse.move(x, y + 0.5)
    with page.expect_navigation():
        page.mouse.up()


def children(api: Caller, hierarchy_id: str, node: str | None = None) -> list[str]:
    url = (
        f"/pcm/hierarchies/{hierarchy_id}/children"
        if node is None
        else (f"/pcm/hierarchies/{hierarchy_id}/nodes/{node}/children")
    )
    answer = api.get(url, params={"page[limit]": 100})
    assert answer.status_code == 200, answer.text
    return [n["attributes"]["name"] for n in answer.json()["data"]]


def api_node(api: Caller, hierarchy_id: str, node: str) -> dict[str, Any]:
    answer = api.get(f"/pcm/hierarchies/{hierarchy_id}/nodes/{node}")
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def parent_of(api: Caller, hierarchy_id: str, node: str) -> str | None:
    parent = api_node(api, hierarchy_id, node)["relationships"].get("parent")
    return None if parent is None else str(parent["data"]["id"])


def hierarchy_of(page: Any) -> str:
    found = re.search(r"/admin/hierarchies/([0-9a-f-]{36})", page.url)
    assert found, page.url
    return found.group(1)


def create_hierarchy_in_page(web: Watched, name: str = "Apparel") -> str:
    page = web.page
    web.go("/admin/hierarchies")
    page.get_by_role("link", name="New hierarchy").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Slug").fill(name.lower())
    page.get_by_label("Description").fill("Clothes and shoes")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("tree").or_(page.get_by_text("No nodes yet.")).wait_for()
    return hierarchy_of(page)


def build_tree(web: Watched) -> str:
    """Apparel: Women (Shoes (Boots, Sandals), Dresses), Men (Shirts) — three levels, built in the page."""
    page = web.page
    hierarchy = create_hierarchy_in_page(web)
    add_node(page, "Women", "women")
    add_node(page, "Men", "men")
    add_node(page, "Shoes", "shoes", parent=node_id(page, "Women"))
    add_node(page, "Dresses", "dresses", parent=node_id(page, "Women"))
    add_node(page, "Shirts", "shirts", parent=node_id(page, "Men"))
    add_node(page, "Boots", "boots", parent=node_id(page, "Shoes"))
    add_node(page, "Sandals", "sandals", parent=node_id(page, "Shoes"))
    return hierarchy


def api_ids(api: Caller, hierarchy_id: str) -> dict[str, str]:
    answer = api.get(f"/pcm/hierarchies/{hierarchy_id}/nodes", params={"page[limit]": 100})
    assert answer.status_code == 200, answer.text
    return {n["attributes"]["name"]: n["id"] for n in answer.json()["data"]}


def api_tree(api: Caller, hierarchy_id: str) -> dict[str, list[str]]:
    """Every parent's children in order ("" for the top level), through the API."""
    ids = api_ids(api, hierarchy_id)
    shape = {"": children(api, hierarchy_id)}
    for name, nid in ids.items():
        shape[name] = children(api, hierarchy_id, nid)
    return shape


# --- tests ---------------------------------------------------------------------------------------------------


def test_build_a_three_level_tree(web: Watched, people: People, api: Caller) -> None:
    sign_in(web, people.create("editor"))
    hierarchy = build_tree(web)
    shape = api_tree(api, hierarchy)
    assert sorted(shape[""]) == ["Men", "Women"]
    assert sorted(shape["Women"]) == ["Dresses", "Shoes"]
    assert sorted(shape["Shoes"]) == ["Boots", "Sandals"]
    assert shape["Men"] == ["Shirts"]
    page = web.page
    # The last node added is shown where it is, its ancestors open; the tree's ARIA levels follow.
    assert tree_item(page, "Sandals").get_attribute("aria-level") == "3"
    assert tree_item(page, "Shoes").get_attribute("aria-expanded") == "true"
    assert tree_item(page, "Women").get_attribute("aria-level") == "1"
    # A fresh page shows only the top level; children come when a node is opened.
    web.go(f"/admin/hierarchies/{hierarchy}")
    assert page.get_by_role("treeitem").count() == 2
    expand(page, "Women")
    expand(page, "Shoes")
    assert tree_item(page, "Boots").get_attribute("aria-level") == "3"
    assert tree_item(page, "Boots").get_attribute("aria-setsize") == "2"
