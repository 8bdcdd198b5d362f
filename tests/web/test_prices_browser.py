"""The workbench's price books in a real browser (SPEC §9, §13.2): a book, a price per SKU with currencies,
a tier and a sale, the API's validation messages, and an edit."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.conftest import Caller
from tests.web.conftest import Http, People, Watched, screenshot, sign_in


def test_a_price_book_with_a_price_its_tier_and_a_sale(web: Watched, people: People, api: Caller) -> None:
    sign_in(web, people.create("editor"))
    page = web.page
    web.go("/admin/products")
    page.get_by_role("navigation").get_by_role("link", name="Price books").click()
    page.get_by_role("link", name="New price book").click()
    page.get_by_label("Name").fill("Retail 2027")
    page.get_by_label("Description").fill("Shop prices")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Price book created.")
    book_id = page.url.split("/admin/price-books/")[1].split("?")[0]

    page.get_by_role("link", name="New price").click()
    page.get_by_label("SKU").fill("TENT-2P")
    page.get_by_label("Currencies").fill(json.dumps({"USD": {"includes_tax": False}}))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("data.attributes.currencies.USD.amount: Field required")
    expect(page.get_by_label("SKU")).to_have_value("TENT-2P")
    tiers = {"three_or_more": {"minimum_quantity": 3, "amount": 22900}}
    currencies = {"USD": {"amount": 24900, "includes_tax": False, "tiers": tiers}}
    page.get_by_label("Currencies").fill(json.dumps(currencies))
    page.get_by_label("Sales").fill("{not json")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("data.attributes.sales: is not valid JSON")
    sales = {"spring": {"schedule": {"valid_from": "2027-03-01T00:00:00Z"}, "currencies": {"USD": {"amount": 19900}}}}
    page.get_by_label("Sales").fill(json.dumps(sales))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Price saved.")
    row = page.get_by_role("row", name=re.compile("TENT-2P"))
    expect(row).to_contain_text("$249.00")
    expect(row).to_contain_text("three_or_more: from 3, $229.00")
    expect(row).to_contain_text("spring")
    screenshot(web, "price-book.png")
    stored = api.get(f"/pcm/pricebooks/{book_id}/prices").json()["data"]
    assert [(p["attributes"]["sku"], p["attributes"]["currencies"]["USD"]["amount"]) for p in stored] == [
        ("TENT-2P", 24900)
    ]

    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Currencies").fill(json.dumps({"USD": {"amount": 25900, "includes_tax": True}}))
    page.get_by_label("Sales").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row", name=re.compile("TENT-2P"))).to_contain_text("$259.00")
    attributes = api.get(f"/pcm/pricebooks/{book_id}/prices").json()["data"][0]["attributes"]
    assert attributes["currencies"] == {"USD": {"amount": 25900, "includes_tax": True}}
    assert not attributes.get("sales")


def test_delete_a_price_then_the_book(web: Watched, people: People, api: Caller) -> None:
    book = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": "Outlet"}}})
    assert book.status_code == 201, book.text
    book_id = book.json()["data"]["id"]
    for sku in ("KEEP-1", "DROP-1"):
        body = {"data": {"type": "product-price", "attributes": {"sku": sku, "currencies": {"USD": {"amount": 500}}}}}
        assert api.post(f"/pcm/pricebooks/{book_id}/prices", json=body).status_code == 201
    sign_in(web, people.create("editor"))
    page = web.page
    web.go(f"/admin/price-books/{book_id}")
    row = page.get_by_role("row", name=re.compile("DROP-1"))
    delete = row.get_by_role("button", name="Delete")
    delete.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete the price of DROP-1?")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(delete).to_be_focused()
    delete.click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Price deleted.")
    expect(page.get_by_role("region", name=re.compile("^Prices")).locator("tbody tr")).to_have_count(1)
    assert [p["attributes"]["sku"] for p in api.get(f"/pcm/pricebooks/{book_id}/prices").json()["data"]] == ["KEEP-1"]

    page.locator(".toolbar").get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete the price book Outlet?")
    expect(confirm).to_contain_text("Its 1 price go with it")
    confirm.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Price book deleted.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Price books")
    assert api.get(f"/pcm/pricebooks/{book_id}").status_code == 404


def test_a_viewer_cannot_change_prices(web: Watched, people: People, api: Caller, http: Http) -> None:
    book = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": "Kept"}}})
    assert book.status_code == 201, book.text
    book_id = book.json()["data"]["id"]
    email = people.create("viewer")
    sign_in(web, email)
    web.go(f"/admin/price-books/{book_id}")
    assert web.page.get_by_role("link", name="New price").count() == 0
    csrf = http.sign_in(email)
    refused = [
        http.client.post("/admin/price-books", data={"name": "New", "csrf_token": csrf}),
        http.client.post(f"/admin/price-books/{book_id}", data={"name": "Hacked", "csrf_token": csrf}),
        http.client.post(
            f"/admin/price-books/{book_id}/prices",
            data={"sku": "X", "currencies": '{"USD": {"amount": 1}}', "csrf_token": csrf},
        ),
    ]
    price = api.post(
        f"/pcm/pricebooks/{book_id}/prices",
        json={"data": {"type": "product-price", "attributes": {"sku": "X", "currencies": {"USD": {"amount": 1}}}}},
    ).json()["data"]["id"]
    refused += [
        http.client.post(f"/admin/price-books/{book_id}/prices/{price}/delete", data={"csrf_token": csrf}),
        http.client.post(f"/admin/price-books/{book_id}/delete", data={"csrf_token": csrf}),
    ]
    assert [answer.status_code for answer in refused] == [403, 403, 403, 403, 403]
    assert [b["attributes"]["name"] for b in api.get("/pcm/pricebooks").json()["data"]] == ["Kept"]
    assert len(api.get(f"/pcm/pricebooks/{book_id}/prices").json()["data"]) == 1
