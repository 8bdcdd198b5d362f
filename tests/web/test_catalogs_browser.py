"""The workbench's catalogs and releases in a real browser (SPEC §4, §10, §13.2): create a catalog with the
API's messages, publish and see the new release, browse it as a shopper sees it (bread crumbs, prices,
currency switch), compare two releases after a rename, make the older one latest."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect

from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product, publish, set_product
from tests.conftest import Caller
from tests.web.conftest import Http, People, Watched, screenshot, sign_in


def _shop(api: Caller) -> dict[str, Any]:
    """A hierarchy Outdoor › Shoes › Trail with two live products priced in USD and EUR, one draft."""
    hierarchy = make_hierarchy(api, name="Outdoor")["id"]
    shoes = make_node(api, hierarchy, "Shoes")["id"]
    trail = make_node(api, hierarchy, "Trail", parent=shoes)["id"]
    runner = make_product(api, name="Trail runner", sku="TR-1", status="live")["id"]
    boot = make_product(api, name="Hiking boot", sku="HB-1", status="live")["id"]
    draft = make_product(api, name="Secret prototype", sku="SP-1", status="draft")["id"]
    link(api, hierarchy, trail, runner, boot, draft)
    euro = {
        "code": "EUR",
        "format": "€{price}",
        "decimal_point": ",",
        "thousand_separator": ".",
        "decimal_places": 2,
        "exchange_rate": 0.92,
        "default": False,
        "enabled": True,
    }
    assert api.post("/v2/currencies", json={"data": {"type": "currency", **euro}}).status_code == 201
    book = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": "Retail"}}})
    assert book.status_code == 201, book.text
    book_id = book.json()["data"]["id"]
    for sku, usd, eur in (("TR-1", 12900, 11900), ("HB-1", 15000, 13900)):
        price = {"sku": sku, "currencies": {"USD": {"amount": usd}, "EUR": {"amount": eur}}}
        body = {"data": {"type": "product-price", "attributes": price}}
        made = api.post(f"/pcm/pricebooks/{book_id}/prices", json=body)
        assert made.status_code == 201, made.text
    return {"hierarchy": hierarchy, "shoes": shoes, "trail": trail, "runner": runner, "boot": boot, "book": book_id}


def _latest_id(api: Caller, catalog_id: str) -> str:
    answer = api.get(f"/pcm/catalogs/{catalog_id}/releases/latest")
    assert answer.status_code == 200, answer.text
    latest: str = answer.json()["data"]["id"]
    return latest


def test_create_a_catalog_and_publish_it(web: Watched, people: People, api: Caller) -> None:
    shop = _shop(api)
    sign_in(web, people.create("editor"))
    page = web.page
    web.go("/admin/products")
    page.get_by_role("navigation").get_by_role("link", name="Catalogs").click()
    page.get_by_role("link", name="New catalog").click()
    page.get_by_label("Name", exact=True).fill("Spring shop")
    page.get_by_role("checkbox", name="Outdoor").check()
    page.get_by_label("Price book 1", exact=True).select_option(label="Retail")
    page.get_by_label("Description", exact=True).fill("What shoppers see this spring")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Spring shop")
    catalog_id = page.url.split("/admin/catalogs/")[1].split("?")[0]
    stored = api.get(f"/pcm/catalogs/{catalog_id}").json()["data"]["attributes"]
    assert (stored["hierarchy_ids"], stored["pricebook_id"]) == ([shop["hierarchy"]], shop["book"])
    # the price book by its name, a link to it
    details = page.get_by_role("region", name="Details")
    expect(details.get_by_role("link", name="Retail")).to_have_attribute("href", f"/admin/price-books/{shop['book']}")
    expect(page.get_by_role("region", name="Releases")).to_contain_text("Not published yet")

    page.get_by_role("button", name="Publish").click()
    expect(page).to_have_url(re.compile(r"done=published"))
    expect(page.get_by_role("status")).to_have_text("Published: the new release is latest.")
    rows = page.get_by_role("region", name="Releases").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Latest")
    expect(rows.first).to_contain_text("2")  # live products only: the draft stays out
    release = _latest_id(api, catalog_id)
    assert api.get(f"/pcm/catalogs/{catalog_id}/releases/{release}").json()["data"]["meta"]["total_products"] == 2
    screenshot(web, "catalog-page.png")


def test_browse_a_release_as_a_shopper_sees_it(web: Watched, people: People, api: Caller) -> None:
    shop = _shop(api)
    catalog_id = make_catalog(api, [shop["hierarchy"]], name="Spring shop", pricebook_id=shop["book"])["id"]
    release = publish(api, catalog_id)["id"]
    sign_in(web, people.create("viewer"))
    page = web.page
    web.go(f"/admin/catalogs/{catalog_id}")
    page.get_by_role("row", name=re.compile("Latest")).get_by_role("link", name="Browse").click()
    expect(page).to_have_url(re.compile(f"/admin/catalogs/{catalog_id}/releases/{release}"))
    expect(page.get_by_role("navigation", name="Hierarchies").get_by_role("link", name="Outdoor")).to_have_attribute(
        "aria-current", "page"
    )
    listing = page.get_by_role("region", name=re.compile("^Products"))
    expect(listing).to_contain_text("Pick a node to see its products")
    listing.get_by_role("link", name="list every product of this hierarchy").click()
    expect(page.get_by_role("region", name=re.compile("^Products")).locator("tbody tr")).to_have_count(2)
    page.get_by_role("region", name="Top nodes").get_by_role("link", name="Shoes").click()
    page.get_by_role("region", name="Inside Shoes").get_by_role("link", name="Trail").click()
    crumbs = page.get_by_role("navigation", name="Bread crumbs")
    expect(crumbs).to_have_text(re.compile(r"Outdoor\s*›\s*Shoes\s*›\s*Trail"))
    products = page.get_by_role("region", name=re.compile("^Products"))
    expect(products.locator("tbody tr")).to_have_count(2)
    expect(products).not_to_contain_text("Secret prototype")
    expect(products.get_by_role("row", name=re.compile("Trail runner"))).to_contain_text("$129.00")
    page.get_by_label("Currency").select_option("EUR")
    expect(products.get_by_role("row", name=re.compile("Trail runner"))).to_contain_text("€119,00")
    expect(page.get_by_role("navigation", name="Bread crumbs")).to_contain_text("Trail")
    screenshot(web, "release-browse.png")
    crumbs = page.get_by_role("navigation", name="Bread crumbs")
    crumbs.get_by_role("link", name="Shoes").click()
    expect(page.get_by_role("region", name="Inside Shoes")).to_be_visible()


def test_compare_after_a_rename_and_make_the_older_release_latest(
    web: Watched, people: People, api: Caller
) -> None:
    shop = _shop(api)
    catalog_id = make_catalog(api, [shop["hierarchy"]], name="Spring shop", pricebook_id=shop["book"])["id"]
    first = publish(api, catalog_id)["id"]
    set_product(api, shop["runner"], name="Trail runner II")
    second = publish(api, catalog_id)["id"]
    assert _latest_id(api, catalog_id) == second

    sign_in(web, people.create("editor"))
    page = web.page
    web.go(f"/admin/catalogs/{catalog_id}")
    rows = page.get_by_role("region", name="Releases").locator("tbody tr")
    expect(rows).to_have_count(2)
    rows.first.get_by_role("link", name="Compare").click()
    updated = page.get_by_role("region", name=re.compile("^Updated"))
    row = updated.get_by_role("row", name=re.compile("Trail runner II"))
    expect(row).to_contain_text("product")
    expect(row).to_contain_text("name")
    expect(page.get_by_role("region", name=re.compile("^Created"))).to_contain_text("None.")
    expect(page.get_by_role("region", name=re.compile("^Deleted"))).to_contain_text("None.")
    expect(page.get_by_label("Since")).to_have_value("")  # the release before, by default
    screenshot(web, "release-compare.png")

    web.go(f"/admin/catalogs/{catalog_id}")
    older = page.get_by_role("region", name="Releases").locator("tbody tr").nth(1)
    older.get_by_role("button", name="Make latest").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Make the release of")
    dialog.get_by_role("button", name="Cancel").click()
    assert _latest_id(api, catalog_id) == second
    older.get_by_role("button", name="Make latest").click()
    page.get_by_role("dialog").get_by_role("button", name="Make latest").click()
    expect(page.get_by_role("status")).to_have_text("The release is latest now.")
    assert _latest_id(api, catalog_id) == first
    rows = page.get_by_role("region", name="Releases").locator("tbody tr")
    expect(rows.nth(1)).to_contain_text("Latest")
    expect(rows.nth(0)).not_to_contain_text("Latest")


def test_a_refused_compare_and_a_viewer_s_forged_writes(
    web: Watched, people: People, api: Caller, http: Http
) -> None:
    shop = _shop(api)
    catalog_id = make_catalog(api, [shop["hierarchy"]], name="Spring shop")["id"]
    first = publish(api, catalog_id)["id"]
    second = publish(api, catalog_id)["id"]
    email = people.create("viewer")
    sign_in(web, email)
    page = web.page
    web.go(f"/admin/catalogs/{catalog_id}/releases/{second}/compare?since=not-a-release")
    detail = f"since: not-a-release is not a kept release of catalog {catalog_id}"
    expect(page.get_by_role("alert")).to_have_text(detail)
    web.go(f"/admin/catalogs/{catalog_id}")
    assert page.get_by_role("button", name="Publish").count() == 0
    assert page.get_by_role("button", name="Make latest").count() == 0
    assert page.get_by_role("link", name="Edit").count() == 0

    csrf = http.sign_in(email)
    refused = [
        http.client.post(f"/admin/catalogs/{catalog_id}/publish", data={"csrf_token": csrf}),
        http.client.post(f"/admin/catalogs/{catalog_id}/releases/{first}/restore", data={"csrf_token": csrf}),
        http.client.post(f"/admin/catalogs/{catalog_id}", data={"name": "Hacked", "csrf_token": csrf}),
        http.client.post("/admin/catalogs", data={"name": "New", "hierarchy": shop["hierarchy"], "csrf_token": csrf}),
    ]
    assert [answer.status_code for answer in refused] == [403, 403, 403, 403]
    assert _latest_id(api, catalog_id) == second
    assert api.get(f"/pcm/catalogs/{catalog_id}/releases").json()["meta"]["results"]["total"] == 2
    assert api.get(f"/pcm/catalogs/{catalog_id}").json()["data"]["attributes"]["name"] == "Spring shop"


def test_publish_streams_its_progress_then_where_to_go(people: People, api: Caller, http: Http) -> None:
    """What the page's script reads while a publish runs: JSON lines of (stage, done, total), then the URL;
    a refused publish ends with the API's detail."""
    shop = _shop(api)
    catalog_id = make_catalog(api, [shop["hierarchy"]], name="Spring shop", pricebook_id=shop["book"])["id"]
    csrf = http.sign_in(people.create("editor"))
    answer = http.client.post(
        f"/admin/catalogs/{catalog_id}/publish", data={"csrf_token": csrf}, headers={"X-Publish-Progress": "stream"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines() if line]
    stages = [line for line in lines if "stage" in line]
    assert {line["stage"] for line in stages} >= {"products", "nodes"}
    assert [line["done"] for line in stages if line["stage"] == "products"][-1] == 2
    assert lines[-1] == {"url": f"/admin/catalogs/{catalog_id}?done=published"}
    assert api.get(f"/pcm/catalogs/{catalog_id}/releases").json()["meta"]["results"]["total"] == 1

    # a catalog of a hierarchy deleted since: the publish is refused with the API's words
    gone = make_hierarchy(api, name="Short-lived")["id"]
    other = make_catalog(api, [gone], name="Doomed")["id"]
    assert api.delete(f"/pcm/hierarchies/{gone}").status_code == 204
    refused = http.client.post(
        f"/admin/catalogs/{other}/publish", data={"csrf_token": csrf}, headers={"X-Publish-Progress": "stream"}
    )
    last = json.loads(refused.text.splitlines()[-1])
    api_answer = api.post(f"/pcm/catalogs/{other}/releases", content=b"")
    assert last == {"error": api_answer.json()["errors"][0]["detail"]}


def _book(api: Caller, name: str) -> str:
    answer = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": name}}})
    assert answer.status_code == 201, answer.text
    book_id: str = answer.json()["data"]["id"]
    return book_id


def test_several_price_books_with_priorities_and_locales(web: Watched, people: People, api: Caller) -> None:
    shop = _shop(api)
    sale = _book(api, "Sale")
    sign_in(web, people.create("editor"))
    page = web.page
    web.go("/admin/catalogs/new")
    page.get_by_label("Name", exact=True).fill("Two books")
    page.get_by_role("checkbox", name="Outdoor").check()
    page.get_by_label("Price book 1", exact=True).select_option(label="Retail")
    page.get_by_label("Priority 1", exact=True).fill("1")
    page.get_by_label("Price book 2", exact=True).select_option(label="Sale")
    page.get_by_role("button", name="Save").click()
    # two books, one without a priority: the API's own message, and what was typed kept
    expect(page.get_by_role("alert")).to_contain_text("data.attributes.pricebook_ids.1.priority")
    expect(page.get_by_label("Price book 2", exact=True)).to_have_value(sale)
    expect(page.get_by_label("Priority 1", exact=True)).to_have_value("1")
    page.get_by_label("Priority 2", exact=True).fill("10")
    page.get_by_label("Locale 1", exact=True).fill("fr-FR")
    page.get_by_label("Name in locale 1", exact=True).fill("Deux livres")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Catalog created.")
    catalog_id = page.url.split("/admin/catalogs/")[1].split("?")[0]
    stored = api.get(f"/pcm/catalogs/{catalog_id}").json()["data"]["attributes"]
    assert stored["pricebook_ids"] == [{"id": shop["book"], "priority": 1}, {"id": sale, "priority": 10}]
    assert stored["locales"] == {"fr-FR": {"name": "Deux livres"}}
    details = page.get_by_role("region", name="Details")
    # highest priority first, as publish stacks them
    expect(details.locator("ol li").filter(has_text="priority")).to_have_text(
        [re.compile(r"Sale\s*· priority 10"), re.compile(r"Retail\s*· priority 1")]
    )
    expect(details).to_contain_text("fr-FR: Deux livres")

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Price book 1", exact=True)).to_have_value(sale)
    expect(page.get_by_label("Priority 1", exact=True)).to_have_value("10")
    expect(page.get_by_label("Locale 1", exact=True)).to_have_value("fr-FR")
    # down to one book, no locale: `pricebook_id`, and the locales cleared
    page.get_by_label("Price book 1", exact=True).select_option("")
    page.get_by_label("Priority 2", exact=True).fill("")
    page.get_by_label("Locale 1", exact=True).fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Catalog saved.")
    stored = api.get(f"/pcm/catalogs/{catalog_id}").json()["data"]["attributes"]
    assert (stored["pricebook_id"], stored.get("pricebook_ids"), stored.get("locales")) == (shop["book"], None, None)
    page.set_viewport_size({"width": 1024, "height": 860})
    page.get_by_role("link", name="Edit").click()
    screenshot(web, "catalog-form.png")


def test_delete_releases_then_the_catalog(web: Watched, people: People, api: Caller) -> None:
    shop = _shop(api)
    catalog_id = make_catalog(api, [shop["hierarchy"]], name="Short season", pricebook_id=shop["book"])["id"]
    first = publish(api, catalog_id)["id"]
    second = publish(api, catalog_id)["id"]
    sign_in(web, people.create("editor"))
    page = web.page
    web.go(f"/admin/catalogs/{catalog_id}")
    # refused while it has releases, in the API's words
    toolbar_delete = page.locator(".toolbar").get_by_role("button", name="Delete")
    toolbar_delete.focus()
    page.keyboard.press("Enter")  # from the keyboard: the dialog opens, Escape closes it, focus comes back
    dialog = page.get_by_role("dialog", name="Delete the catalog Short season?")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(toolbar_delete).to_be_focused()
    toolbar_delete.click()
    dialog.get_by_role("button", name="Delete").click()
    detail = api.delete(f"/pcm/catalogs/{catalog_id}").json()["errors"][0]["detail"]
    expect(page.get_by_role("alert")).to_have_text(detail)
    # the latest release deleted: the one before is latest
    rows = page.get_by_role("region", name="Releases").locator("tbody tr")
    rows.filter(has=page.locator(".badge", has_text="Latest")).get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name=re.compile("Delete the release of")).get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Release deleted.")
    assert _latest_id(api, catalog_id) == first
    assert api.get(f"/pcm/catalogs/{catalog_id}/releases/{second}").status_code == 404
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Latest")
    rows.first.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name=re.compile("Delete the release of")).get_by_role("button", name="Delete").click()
    expect(page.get_by_role("region", name="Releases")).to_contain_text("Not published yet")
    page.locator(".toolbar").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete the catalog Short season?").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Catalog deleted.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalogs")
    assert api.get(f"/pcm/catalogs/{catalog_id}").status_code == 404


def test_a_viewer_cannot_delete_and_a_form_without_its_token_changes_nothing(
    web: Watched, people: People, api: Caller, http: Http, server: str
) -> None:
    shop = _shop(api)
    catalog_id = make_catalog(api, [shop["hierarchy"]], name="Kept")["id"]
    release = publish(api, catalog_id)["id"]
    viewer = people.create("viewer")
    sign_in(web, viewer)
    web.go(f"/admin/catalogs/{catalog_id}")
    assert web.page.get_by_role("button", name="Delete").count() == 0
    csrf = http.sign_in(viewer)
    refused = [
        http.client.post(f"/admin/catalogs/{catalog_id}/delete", data={"csrf_token": csrf}),
        http.client.post(f"/admin/catalogs/{catalog_id}/releases/{release}/delete", data={"csrf_token": csrf}),
    ]
    assert [answer.status_code for answer in refused] == [403, 403]
    editor = Http(server)
    try:
        editor.sign_in(people.create("editor"))
        forged = editor.client.post(f"/admin/catalogs/{catalog_id}/releases/{release}/delete", data={})
        assert forged.status_code == 403
    finally:
        editor.client.close()
    assert _latest_id(api, catalog_id) == release
