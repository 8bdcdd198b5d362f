"""Hierarchies in the browser: a tree built through the pages, moves by drag and drop and by the Move
dialog checked through the HTTP API, refused moves, node products, a viewer's read-only tree, and the
keyboard. Each runs on SQLite and PostgreSQL (one served process per database)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Caller
from tests.helpers import product_body
from tests.web.conftest import People, Watched, screenshot, sign_in

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
    drag_from(page, row(page, name).locator(".drag-handle"), row(page, onto), where)


def drag_from(page: Any, handle: Any, target: Any, where: str) -> None:
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


def test_drag_and_drop_reparents_and_reorders(web: Watched, people: People, api: Caller) -> None:
    sign_in(web, people.create("editor"))
    hierarchy = build_tree(web)
    page = web.page
    ids = api_ids(api, hierarchy)
    assert children(api, hierarchy) == ["Men", "Women"]  # no sort orders: most recently updated first

    # Onto a node: re-parent under it.
    expand(page, "Men")
    drag(page, "Shirts", onto="Women")
    assert parent_of(api, hierarchy, ids["Shirts"]) == ids["Women"]
    assert page.get_by_role("status").inner_text() == "Node moved."
    assert tree_item(page, "Shirts").get_attribute("aria-level") == "2"
    assert children(api, hierarchy, ids["Women"]) == ["Shirts", "Dresses", "Shoes"]

    # Between siblings: lands exactly where dropped.
    expand(page, "Women")
    drag(page, "Shoes", onto="Shirts", where="before")
    assert children(api, hierarchy, ids["Women"]) == ["Shoes", "Shirts", "Dresses"]
    drag(page, "Dresses", onto="Shoes", where="after")
    assert children(api, hierarchy, ids["Women"]) == ["Shoes", "Dresses", "Shirts"]
    drag(page, "Shoes", onto="Shirts", where="after")
    assert children(api, hierarchy, ids["Women"]) == ["Dresses", "Shirts", "Shoes"]
    # The page shows the order the API returns.
    shown = [li.get_attribute("data-node-id") for li in tree_item(page, "Women").locator(":scope > ul > li").all()]
    assert shown == [ids["Dresses"], ids["Shirts"], ids["Shoes"]]

    # Into another parent at a position: from the third level to the top level, after Men.
    expand(page, "Shoes")
    drag(page, "Boots", onto="Men", where="after")
    assert parent_of(api, hierarchy, ids["Boots"]) is None
    assert children(api, hierarchy) == ["Men", "Boots", "Women"]
    assert children(api, hierarchy, ids["Shoes"]) == ["Sandals"]


def test_move_dialog(web: Watched, people: People, api: Caller) -> None:
    sign_in(web, people.create("editor"))
    hierarchy = build_tree(web)
    page = web.page
    ids = api_ids(api, hierarchy)

    dialog = node_action(page, "Sandals", "Move")
    select = dialog.get_by_label("New parent")
    assert select.locator("option").first.inner_text() == "(top level)"
    select.select_option(value=ids["Men"])
    with page.expect_navigation():
        dialog.get_by_role("button", name="Move", exact=True).click()
    assert parent_of(api, hierarchy, ids["Sandals"]) == ids["Men"]
    assert tree_item(page, "Sandals").get_attribute("aria-level") == "2"

    dialog = node_action(page, "Sandals", "Move")
    dialog.get_by_label("New parent").select_option(label="(top level)")
    with page.expect_navigation():
        dialog.get_by_role("button", name="Move", exact=True).click()
    assert parent_of(api, hierarchy, ids["Sandals"]) is None
    assert sorted(children(api, hierarchy)) == ["Men", "Sandals", "Women"]


def test_refused_moves_show_the_api_detail_and_change_nothing(web: Watched, people: People, api: Caller) -> None:
    sign_in(web, people.create("editor"))
    hierarchy = build_tree(web)
    page = web.page
    ids = api_ids(api, hierarchy)
    add_node(page, "Shoes", "mens-shoes", parent=ids["Men"])
    mens_shoes = api_children_ids(api, hierarchy, ids["Men"])["Shoes"]
    before = api_tree(api, hierarchy)
    cycle = "a node cannot become a child of itself or of one of its descendants"

    # A cycle, by the dialog.
    dialog = node_action(page, "Women", "Move")
    dialog.get_by_label("New parent").select_option(value=ids["Shoes"])
    dialog.get_by_role("button", name="Move", exact=True).click()
    assert page.get_by_role("alert").inner_text() == cycle
    assert api_tree(api, hierarchy) == before

    # A cycle, by drag and drop (the tree on the refusal page is the unchanged one).
    expand(page, "Women")
    expand_id(page, ids["Shoes"])
    drag(page, "Women", onto="Boots")
    assert page.get_by_role("alert").inner_text() == cycle
    assert api_tree(api, hierarchy) == before
    assert tree_item(page, "Women").get_attribute("aria-level") == "1"

    # A duplicate sibling name: Men's "Shoes" into Women, which has a "Shoes".
    expand(page, "Men")
    mens_row = page.locator(f'li[data-node-id="{mens_shoes}"] > .row')
    mens_row.hover()
    mens_row.get_by_role("button", name="Move", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New parent").select_option(value=ids["Women"])
    dialog.get_by_role("button", name="Move", exact=True).click()
    assert page.get_by_role("alert").inner_text() == (
        "name 'Shoes' is already used by a sibling node; names must be unique among siblings"
    )
    assert api_tree(api, hierarchy) == before
    # … and by dropping it between Women's children.
    expand(page, "Women")
    drag(page, "Men", onto="Dresses", where="after")  # Men's name is free under Women: allowed
    assert parent_of(api, hierarchy, ids["Men"]) == ids["Women"]
    before = api_tree(api, hierarchy)
    expand_id(page, ids["Men"])
    handle = page.locator(f'li[data-node-id="{mens_shoes}"] > .row .drag-handle')
    drag_from(page, handle, row(page, "Dresses"), "before")
    assert "is already used by a sibling node" in page.get_by_role("alert").inner_text()
    assert api_tree(api, hierarchy) == before


def expand_id(page: Any, nid: str) -> None:
    item = page.locator(f'li[data-node-id="{nid}"]')
    if item.get_attribute("aria-expanded") == "false":
        item.locator(":scope > .row .twisty").click()
    page.wait_for_function(
        "id => document.getElementById('node-' + id).getAttribute('aria-expanded') === 'true'", arg=nid
    )


def api_children_ids(api: Caller, hierarchy_id: str, parent: str) -> dict[str, str]:
    answer = api.get(f"/pcm/hierarchies/{hierarchy_id}/nodes/{parent}/children")
    assert answer.status_code == 200, answer.text
    return {n["attributes"]["name"]: n["id"] for n in answer.json()["data"]}


def make_products(api: Caller, *names: str) -> dict[str, str]:
    made = {}
    for index, name in enumerate(names):
        sku = f"SKU-{index:03d}-{name.split()[0].upper()}"
        answer = api.post("/pcm/products", json=product_body(name=name, sku=sku, status="live"))
        assert answer.status_code == 201, answer.text
        made[name] = answer.json()["data"]["id"]
    return made


def node_product_names(api: Caller, hierarchy_id: str, node: str) -> list[str]:
    answer = api.get(f"/pcm/hierarchies/{hierarchy_id}/nodes/{node}/products")
    assert answer.status_code == 200, answer.text
    return [p["attributes"]["name"] for p in answer.json()["data"]]


def test_add_several_products_to_a_node_remove_and_curate(web: Watched, people: People, api: Caller) -> None:
    products = make_products(
        api, "Trail boot", "Chelsea boot", "Summer sandal", "Linen dress", "Oxford shirt", "Wool scarf"
    )
    sign_in(web, people.create("editor"))
    hierarchy = build_tree(web)
    page = web.page
    ids = api_ids(api, hierarchy)
    tree_item(page, "Boots").locator(":scope > .row a.name").click()
    page.get_by_role("heading", name="Boots").wait_for()
    crumbs = page.get_by_role("navigation", name="Breadcrumbs")
    assert crumbs.get_by_role("link").all_inner_texts() == ["Hierarchies", "Apparel", "Women", "Shoes"]

    page.get_by_role("button", name="Add products").click()
    dialog = page.get_by_role("dialog", name=re.compile("Add products"))
    dialog.get_by_label("Search").fill("boot")
    dialog.get_by_role("checkbox", name="Summer sandal").wait_for(state="detached")
    dialog.get_by_role("checkbox", name="Trail boot").check()
    dialog.get_by_role("checkbox", name="Chelsea boot").check()
    dialog.get_by_label("Search").fill("SKU-002")  # by SKU; what was ticked stays chosen
    dialog.get_by_role("checkbox", name="Trail boot").wait_for()
    dialog.get_by_role("checkbox", name="Summer sandal").check()
    assert dialog.get_by_role("checkbox", checked=True).count() == 3
    with page.expect_navigation():
        dialog.get_by_role("button", name="Add", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Products added."
    assert sorted(node_product_names(api, hierarchy, ids["Boots"])) == ["Chelsea boot", "Summer sandal", "Trail boot"]

    # Curated products come first, in the curated order.
    table = page.get_by_role("table")
    table.get_by_role("row", name=re.compile("Summer sandal")).get_by_role("button", name="Curate").click()
    table.get_by_role("row", name=re.compile("Trail boot")).get_by_role("button", name="Curate").click()
    assert node_product_names(api, hierarchy, ids["Boots"])[:2] == ["Summer sandal", "Trail boot"]
    page.get_by_role("button", name="Move Trail boot up").click()
    assert node_product_names(api, hierarchy, ids["Boots"])[:2] == ["Trail boot", "Summer sandal"]
    assert api_node(api, hierarchy, ids["Boots"])["attributes"]["curated_products"] == [
        products["Trail boot"],
        products["Summer sandal"],
    ]
    screenshot(web, "node-products.png")

    # Remove, confirmed in a dialog.
    table.get_by_role("row", name=re.compile("Chelsea boot")).get_by_role("button", name="Remove").click()
    with page.expect_navigation():
        page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    assert page.get_by_role("status").inner_text() == "Product removed."
    assert sorted(node_product_names(api, hierarchy, ids["Boots"])) == ["Summer sandal", "Trail boot"]

    # The tree with three levels open, for the README.
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="Apparel").click()
    expand(page, "Men")
    tree_item(page, "Boots").focus()
    page.mouse.move(5, 700)
    screenshot(web, "hierarchy-tree.png")


def test_a_viewer_sees_no_editing_controls(web: Watched, people: People, api: Caller) -> None:
    made = api.post("/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "Garden"}}})
    hierarchy = made.json()["data"]["id"]
    top = api.post(
        f"/pcm/hierarchies/{hierarchy}/nodes", json={"data": {"type": "node", "attributes": {"name": "Tools"}}}
    ).json()["data"]["id"]
    child = {
        "type": "node",
        "attributes": {"name": "Spades"},
        "relationships": {"parent": {"data": {"type": "node", "id": top}}},
    }
    spades = api.post(f"/pcm/hierarchies/{hierarchy}/nodes", json={"data": child}).json()["data"]["id"]
    product = make_products(api, "Steel spade")["Steel spade"]
    linked = api.post(
        f"/pcm/hierarchies/{hierarchy}/nodes/{spades}/relationships/products",
        json={"data": [{"type": "product", "id": product}]},
    )
    assert linked.status_code == 201, linked.text

    sign_in(web, people.create("viewer"))
    page = web.page
    web.go("/admin/hierarchies")
    page.get_by_role("link", name="Garden").wait_for()
    for name in ("New hierarchy", "Duplicate", "Delete"):
        assert page.get_by_role("link", name=name).count() + page.get_by_role("button", name=name).count() == 0
    page.get_by_role("link", name="Garden").click()
    expand(page, "Tools")
    assert tree_item(page, "Spades").get_attribute("aria-level") == "2"
    row(page, "Spades").hover()
    for name in ("Add node", "Rename", "Move", "Delete"):
        assert page.get_by_role("button", name=name).count() == 0
    assert page.locator(".drag-handle").count() == 0
    tree_item(page, "Spades").locator(":scope > .row a.name").click()
    page.get_by_role("link", name="Steel spade").wait_for()
    for name in ("Add products", "Remove", "Curate"):
        assert page.get_by_role("button", name=name).count() == 0
    assert page.locator("form[method=post]").count() == 1  # Sign out only


def test_keyboard_navigation(web: Watched, people: People, api: Caller) -> None:
    sign_in(web, people.create("editor"))
    hierarchy = build_tree(web)
    page = web.page
    web.go(f"/admin/hierarchies/{hierarchy}")

    def focused() -> str:
        name = page.evaluate("document.activeElement.dataset.name || document.activeElement.textContent")
        return str(name).strip()

    tree = page.get_by_role("tree")
    first = tree.get_by_role("treeitem").first
    assert first.get_attribute("tabindex") == "0"  # one tab stop for the whole tree
    assert tree.locator('[role="treeitem"][tabindex="0"]').count() == 1
    first.focus()
    assert focused() == "Men"
    page.keyboard.press("ArrowDown")
    assert focused() == "Women"
    page.keyboard.press("ArrowRight")  # opens Women (children load)
    page.wait_for_function("() => document.activeElement.getAttribute('aria-expanded') === 'true'")
    page.keyboard.press("ArrowRight")  # to its first child
    assert focused() == "Dresses"
    assert tree_item(page, "Dresses").get_attribute("tabindex") == "0"
    assert tree_item(page, "Women").get_attribute("tabindex") == "-1"
    page.keyboard.press("ArrowDown")
    assert focused() == "Shoes"
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.activeElement.getAttribute('aria-expanded') === 'true'")
    page.keyboard.press("End")  # the last item shown: Shoes' children are Sandals, then Boots
    assert focused() == "Boots"
    page.keyboard.press("ArrowLeft")  # to the parent
    assert focused() == "Shoes"
    page.keyboard.press("ArrowLeft")  # closes it
    assert tree_item(page, "Shoes").get_attribute("aria-expanded") == "false"
    assert tree_item(page, "Boots").is_hidden()
    page.keyboard.press("ArrowUp")
    assert focused() == "Dresses"
    page.keyboard.press("Home")
    assert focused() == "Men"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # opens the node's page
    page.get_by_role("heading", name="Women").wait_for()
    assert page.url.endswith(f"/admin/hierarchies/{hierarchy}/nodes/{node_ids_from_api(api, hierarchy)['Women']}")


def node_ids_from_api(api: Caller, hierarchy_id: str) -> dict[str, str]:
    return api_ids(api, hierarchy_id)


def test_rename_and_delete_nodes_duplicate_and_delete_a_hierarchy(web: Watched, people: People, api: Caller) -> None:
    sign_in(web, people.create("editor"))
    hierarchy = build_tree(web)
    page = web.page
    ids = api_ids(api, hierarchy)

    dialog = node_action(page, "Dresses", "Rename")
    assert dialog.get_by_label("Name").input_value() == "Dresses"
    dialog.get_by_label("Name").fill("Gowns")
    dialog.get_by_label("Slug").fill("gowns")
    with page.expect_navigation():
        dialog.get_by_role("button", name="Rename", exact=True).click()
    assert api_node(api, hierarchy, ids["Dresses"])["attributes"]["slug"] == "gowns"
    assert tree_item(page, "Gowns").is_visible()

    dialog = node_action(page, "Shoes", "Delete")
    with page.expect_navigation():
        dialog.get_by_role("button", name="Delete", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Node deleted."
    assert sorted(api_ids(api, hierarchy)) == ["Gowns", "Men", "Shirts", "Women"]

    web.go("/admin/hierarchies")
    page.get_by_role("row", name=re.compile("Apparel")).get_by_role("button", name="Duplicate").click()
    dialog = page.get_by_role("dialog", name="Duplicate Apparel")
    dialog.get_by_label("Name").fill("Apparel 2027")
    with page.expect_navigation():
        dialog.get_by_role("button", name="Duplicate", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Hierarchy duplicated."
    copy = hierarchy_of(page)
    assert copy != hierarchy
    assert sorted(api_ids(api, copy)) == ["Gowns", "Men", "Shirts", "Women"]

    web.go("/admin/hierarchies")
    page.get_by_role("row", name=re.compile("Apparel 2027")).get_by_role("button", name="Delete").click()
    with page.expect_navigation():
        page.get_by_role("dialog", name=re.compile("Delete Apparel 2027")).get_by_role("button", name="Delete").click()
    assert api.get(f"/pcm/hierarchies/{copy}").status_code == 404
    assert api.get(f"/pcm/hierarchies/{hierarchy}").status_code == 200
    assert page.get_by_role("row", name=re.compile("Apparel")).count() == 1
