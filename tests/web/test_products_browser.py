"""The workbench in a real browser: signing in, products, roles and escaping (SPEC §13.2, §13.3)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.conftest import Caller, Database
from tests.web.conftest import PASSWORD, Http, People, Watched, screenshot, sign_in


def _product(api: Caller, name: str, sku: str, **extra: str) -> str:
    body = {
        "data": {"type": "product", "attributes": {"name": name, "sku": sku, "commodity_type": "physical", **extra}}
    }
    answer = api.post("/pcm/products", json=body)
    assert answer.status_code == 201, answer.text
    product_id: str = answer.json()["data"]["id"]
    return product_id


def test_signed_out_workbench_sends_people_to_sign_in(web: Watched) -> None:
    web.go("/admin")
    expect(web.page).to_have_url(re.compile(r"/admin/login"))
    expect(web.page.get_by_role("button", name="Sign in")).to_be_visible()


def test_sign_in_wrong_password_and_sign_out(web: Watched, people: People) -> None:
    email = people.create("editor")
    page = web.page
    web.go("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password")
    # an unknown email reads the same
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password")

    sign_in(web, email)
    expect(page.get_by_role("navigation")).to_contain_text("Products")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/admin/login"))
    web.go("/admin/products")
    expect(page).to_have_url(re.compile(r"/admin/login"))


def test_ten_failures_lock_the_email_out_even_with_the_right_password(web: Watched, people: People) -> None:
    email = people.create("editor")
    page = web.page
    web.go("/admin/login")
    for _ in range(10):
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("wrong password, again")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-in attempts")
    expect(page).to_have_url(re.compile(r"/admin/login"))


def test_create_and_edit_a_product_with_a_validation_error(web: Watched, people: People, api: Caller) -> None:
    _product(api, "Existing shirt", "TAKEN-1")
    sign_in(web, people.create("editor"))
    page = web.page
    web.go("/admin/products")
    page.get_by_role("link", name="New product").click()
    page.get_by_label("Name").fill("Blue shirt")
    page.get_by_label("SKU").fill("TAKEN-1")
    page.get_by_label("Slug").fill("blue-shirt")
    page.get_by_label("Description").fill("Cotton, slim fit")
    page.get_by_label("Status").select_option("live")
    page.get_by_label("Commodity type").select_option("physical")
    page.get_by_role("button", name="Save").click()
    # the API's own detail, and the form keeps what was typed
    expect(page.get_by_role("alert")).to_have_text("data.attributes.sku: Must be unique amongst products.")
    expect(page.get_by_label("Name")).to_have_value("Blue shirt")

    page.get_by_label("SKU").fill("BS-1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Blue shirt")).to_be_visible()
    product_id = page.url.split("/admin/products/")[1].split("?")[0]
    stored = api.get(f"/pcm/products/{product_id}").json()["data"]["attributes"]
    assert (stored["name"], stored["sku"], stored["slug"], stored["status"]) == (
        "Blue shirt",
        "BS-1",
        "blue-shirt",
        "live",
    )
    assert stored["description"] == "Cotton, slim fit"

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Slug").fill("not a slug")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("data.attributes.slug")
    assert api.get(f"/pcm/products/{product_id}").json()["data"]["attributes"]["slug"] == "blue-shirt"

    page.get_by_label("Slug").fill("navy-shirt")
    page.get_by_label("Name").fill("Navy shirt")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Navy shirt")).to_be_visible()
    stored = api.get(f"/pcm/products/{product_id}").json()["data"]["attributes"]
    assert (stored["name"], stored["slug"]) == ("Navy shirt", "navy-shirt")


def test_a_product_page_lists_the_nodes_it_is_in(web: Watched, people: People, api: Caller) -> None:
    product_id = _product(api, "Trail runner", "SHOE-TR-1", description="Light trail shoe", status="live")
    hierarchy = api.post("/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "Footwear"}}})
    hierarchy_id = hierarchy.json()["data"]["id"]
    nodes = []
    parent = None
    for name in ("Shoes", "Running", "Trail"):
        body: dict[str, object] = {"type": "node", "attributes": {"name": name}}
        if parent:
            body["relationships"] = {"parent": {"data": {"type": "node", "id": parent}}}
        created = api.post(f"/pcm/hierarchies/{hierarchy_id}/nodes", json={"data": body})
        assert created.status_code == 201, created.text
        parent = created.json()["data"]["id"]
        nodes.append(parent)
    for node_id in (nodes[2], nodes[0]):
        linked = api.post(
            f"/pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/products",
            json={"data": [{"type": "product", "id": product_id}]},
        )
        assert linked.status_code == 201, linked.text
    sign_in(web, people.create("editor"))
    page = web.page
    web.go(f"/admin/products/{product_id}")
    section = page.get_by_role("region", name="Nodes")
    expect(section.get_by_role("link")).to_have_count(2)
    expect(section.get_by_role("link", name="Footwear › Shoes › Running › Trail")).to_have_attribute(
        "href", f"/admin/hierarchies/{hierarchy_id}/nodes/{nodes[2]}"
    )
    screenshot(web, "product-page.png")


def test_search_by_name_or_sku_and_page(web: Watched, people: People, api: Caller) -> None:
    for i in range(30):
        _product(api, f"Sock {i:02d}", f"SOCK-{i:02d}")
    _product(api, "Red scarf", "SCARF-RED")
    sign_in(web, people.create("viewer"))
    page = web.page
    web.go("/admin/products")
    rows = page.locator("#product-results tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("Red scarf")  # newest first
    page.get_by_role("link", name="Next").click()
    expect(rows).to_have_count(6)
    web.go("/admin/products")
    page.get_by_label("Search").fill("scarf-r")  # by SKU, any case; results come as you type
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Red scarf")
    page.get_by_label("Search").fill("sock 1")  # by name
    expect(rows).to_have_count(10)
    page.get_by_label("Search").fill("")
    expect(rows).to_have_count(25)
    screenshot(web, "product-list.png")


def test_delete_a_product_after_confirming(web: Watched, people: People, api: Caller) -> None:
    product_id = _product(api, "Old hat", "HAT-1")
    sign_in(web, people.create("admin"))
    page = web.page
    web.go(f"/admin/products/{product_id}")
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    assert api.get(f"/pcm/products/{product_id}").status_code == 200
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/admin/products$"))
    assert api.get(f"/pcm/products/{product_id}").status_code == 404


def test_a_product_name_with_markup_is_shown_as_text(web: Watched, people: People, api: Caller) -> None:
    name = "<img src=x onerror=alert(1)>"
    product_id = _product(api, name, "XSS-1")
    dialogs: list[str] = []

    def record(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    web.page.on("dialog", record)
    sign_in(web, people.create("editor"))
    page = web.page
    web.go("/admin/products")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    web.go(f"/admin/products/{product_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    assert page.locator("img").count() == 0
    web.go(f"/admin/products/{product_id}/edit")
    expect(page.get_by_label("Name")).to_have_value(name)
    assert page.locator("img").count() == 0
    assert dialogs == []


def test_a_viewer_sees_no_editing_controls_and_a_forged_write_is_refused(
    web: Watched, people: People, api: Caller, http: Http
) -> None:
    product_id = _product(api, "Green cap", "CAP-1")
    email = people.create("viewer")
    sign_in(web, email)
    page = web.page
    web.go("/admin/products")
    expect(page.get_by_role("link", name="Green cap")).to_be_visible()
    assert page.get_by_role("link", name="New product").count() == 0
    web.go(f"/admin/products/{product_id}")
    assert page.get_by_role("link", name="Edit").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0

    csrf = http.sign_in(email)
    forged = http.client.post(
        f"/admin/products/{product_id}",
        data={"name": "Hacked", "commodity_type": "physical", "status": "live", "csrf_token": csrf},
    )
    assert forged.status_code == 403
    deleted = http.client.post(f"/admin/products/{product_id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 403
    created = http.client.post(
        "/admin/products", data={"name": "New", "commodity_type": "physical", "csrf_token": csrf}
    )
    assert created.status_code == 403
    stored = api.get(f"/pcm/products/{product_id}").json()["data"]["attributes"]
    assert stored["name"] == "Green cap"
    assert api.get("/pcm/products").json()["meta"]["results"]["total"] == 1


def test_a_write_without_the_csrf_token_changes_nothing(people: People, api: Caller, http: Http, db: Database) -> None:
    product_id = _product(api, "Plain mug", "MUG-1")
    http.sign_in(people.create("editor"))
    missing = http.client.post(f"/admin/products/{product_id}", data={"name": "Changed", "commodity_type": "physical"})
    wrong = http.client.post(
        f"/admin/products/{product_id}", data={"name": "Changed", "commodity_type": "physical", "csrf_token": "forged"}
    )
    deleted = http.client.post(f"/admin/products/{product_id}/delete")
    assert (missing.status_code, wrong.status_code, deleted.status_code) == (403, 403, 403)
    assert api.get(f"/pcm/products/{product_id}").json()["data"]["attributes"]["name"] == "Plain mug"


def _tab_to(web: Watched, name: str, limit: int = 30) -> None:
    """Press Tab until the focused element is the one named `name` (as a person using a keyboard would)."""
    page = web.page
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; return (e.labels && e.labels[0] ? e.labels[0].innerText"
            " : e.innerText || e.value || '').trim(); }"
        )
        if focused.startswith(name):
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_a_product_can_be_made_with_the_keyboard_alone_and_focus_is_visible(
    web: Watched, people: People, api: Caller
) -> None:
    sign_in(web, people.create("editor"))
    page = web.page
    web.go("/admin/products")
    _tab_to(web, "New product")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")  # the focused control shows it
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/products/new$"))
    _tab_to(web, "Name")
    page.keyboard.type("Keyboard mat")
    _tab_to(web, "SKU")
    page.keyboard.type("KB-MAT")
    _tab_to(web, "Status")
    page.keyboard.press("ArrowDown")  # draft → live
    _tab_to(web, "Save")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Keyboard mat")).to_be_visible()
    found = api.get("/pcm/products", params={"filter": "eq(sku,KB-MAT)"}).json()["data"]
    assert [(p["attributes"]["name"], p["attributes"]["status"]) for p in found] == [("Keyboard mat", "live")]
