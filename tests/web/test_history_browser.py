"""A product's and a node's `History` in a real browser (SPEC §13.2, §11.4): who changed it, when, what."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import Caller
from tests.trees import make_hierarchy, make_node, make_product
from tests.web.conftest import People, Watched, sign_in


def test_a_product_s_history_names_the_person_and_the_key(web: Watched, people: People, api: Caller) -> None:
    product = make_product(api, name="Lantern", sku="LANTERN-1")["id"]
    email = people.create("editor")
    sign_in(web, email)
    page = web.page
    web.go(f"/admin/products/{product}/edit")
    page.get_by_label("Name").fill("Storm lantern")
    page.get_by_role("button", name="Save").click()
    history = page.get_by_role("region", name="History")
    rows = history.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(email)
    expect(rows.nth(0)).to_contain_text("product.updated")
    expect(rows.nth(1)).to_contain_text("API key")
    expect(rows.nth(1)).to_contain_text("product.created")
    # which fields an update changed: what differs from the document of the change before (timestamps aside)
    expect(rows.nth(0).locator(".badge.field")).to_have_text(["name"])
    web.go(f"/admin/products/{product}/edit")
    page.get_by_label("SKU").fill("LANTERN-2")
    page.get_by_label("Description").fill("Burns all night")
    page.get_by_role("button", name="Save").click()
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator(".badge.field")).to_have_text(["description", "sku"])
    expect(rows.nth(1).locator(".badge.field")).to_have_text(["name"])


def test_a_node_s_history(web: Watched, people: People, api: Caller) -> None:
    hierarchy = make_hierarchy(api, name="Garden")["id"]
    node = make_node(api, hierarchy, "Tools")["id"]
    sign_in(web, people.create("viewer"))
    web.go(f"/admin/hierarchies/{hierarchy}/nodes/{node}")
    rows = web.page.get_by_role("region", name="History").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("node.created")
