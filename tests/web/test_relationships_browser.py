"""The workbench's custom relationships in a real browser (SPEC §3, §13.2; seeds 002 and 004): definitions,
`Add related products` with the partial-success report, removing, the limits shown before they bite, and
the v2 view's status and sort order."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from assortment.domain.relationship_rules import TARGET_AT_LIMIT
from tests.conftest import Caller
from tests.web.conftest import Http, People, Watched, screenshot, sign_in


def _product(api: Caller, name: str, sku: str) -> str:
    body = {"data": {"type": "product", "attributes": {"name": name, "sku": sku, "commodity_type": "physical"}}}
    answer = api.post("/pcm/products", json=body)
    assert answer.status_code == 201, answer.text
    product_id: str = answer.json()["data"]["id"]
    return product_id


def _definition(api: Caller, name: str, slug: str, *, bi_directional: bool = False) -> str:
    body = {
        "data": {
            "type": "custom-relationship",
            "attributes": {"name": name, "slug": slug, "bi_directional": bi_directional},
        }
    }
    answer = api.post("/pcm/custom-relationships", json=body)
    assert answer.status_code == 201, answer.text
    created: str = answer.json()["data"]["attributes"]["slug"]
    return created


def _related_ids(api: Caller, product_id: str, slug: str) -> list[str]:
    answer = api.get(f"/pcm/products/{product_id}/custom-relationships/{slug}")
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["data"]]


def test_create_a_custom_relationship_with_the_api_s_messages(web: Watched, people: People, api: Caller) -> None:
    _definition(api, "Taken", "taken")
    sign_in(web, people.create("editor"))
    page = web.page
    web.go("/admin/products")
    page.get_by_role("navigation").get_by_role("link", name="Custom relationships").click()
    page.get_by_role("link", name="New custom relationship").click()
    page.get_by_label("Name").fill("Goes well with")
    page.get_by_label("Slug").fill("taken")
    page.get_by_label("Description").fill("Accessories a shopper may want too")
    page.get_by_label("Bi-directional").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text(
        "data.attributes.slug: CRP_taken is already used by another custom relationship"
    )
    expect(page.get_by_label("Name")).to_have_value("Goes well with")
    expect(page.get_by_label("Bi-directional")).to_be_checked()
    page.get_by_label("Slug").fill("goes-with")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Custom relationship created.")
    row = page.get_by_role("row", name=re.compile("Goes well with"))
    expect(row).to_contain_text("CRP_goes-with")
    expect(row).to_contain_text("yes")
    stored = api.get("/pcm/custom-relationships/CRP_goes-with").json()["data"]["attributes"]
    assert (stored["name"], stored["bi_directional"], stored["description"]) == (
        "Goes well with",
        True,
        "Accessories a shopper may want too",
    )


def test_associate_three_products_and_see_the_one_refused(web: Watched, people: People, api: Caller) -> None:
    slug = _definition(api, "Accessories", "accessories")
    source = _product(api, "Trail runner", "SHOE-1")
    socks = _product(api, "Wool socks", "SOCK-1")
    laces = _product(api, "Spare laces", "LACE-1")
    full = _product(api, "Shoe bag", "BAG-1")
    others = [_definition(api, f"Other {i}", f"other-{i}") for i in range(5)]
    attached = api.post(
        f"/pcm/products/{full}/custom-relationships",
        json={"data": [{"type": "custom-relationship", "slug": s} for s in others]},
    )
    assert attached.status_code == 201, attached.text

    sign_in(web, people.create("editor"))
    page = web.page
    web.go(f"/admin/products/{source}")
    related = page.get_by_role("region", name="Related products")
    expect(related).to_contain_text("Carries 0 of 5 custom relationships")
    related.get_by_role("button", name="Add related products").click()
    dialog = page.get_by_role("dialog", name="Add related products to Trail runner")
    dialog.get_by_label("Relationship").select_option(label="Accessories (CRP_accessories): not carried yet")
    search = dialog.get_by_label("Search")
    for text, name in (("sock", "Wool socks"), ("LACE", "Spare laces"), ("bag", "Shoe bag")):
        search.fill(text)
        found = dialog.locator("[data-picker-found]")
        expect(found.get_by_role("checkbox")).to_have_count(1)
        if name == "Shoe bag":  # the limit it would hit, said before it bites
            expect(found).to_contain_text("carries 5 of 5 relationships")
        found.get_by_role("checkbox", name=name).check()
    chosen = dialog.get_by_role("group", name="Chosen")
    expect(chosen.get_by_role("checkbox", checked=True)).to_have_count(3)
    # every product found moved up: the results say so rather than stand as an empty box
    expect(dialog.locator("[data-picker-found]")).to_have_text("Every product found is chosen; search for others.")
    screenshot(web, "relationship-editor.png")
    dialog.get_by_role("button", name="Add").click()

    report = page.get_by_role("region", name=re.compile("Added under Accessories"))
    expect(report.get_by_role("heading", level=3)).to_have_text("Added under Accessories: 2 associated, 1 refused")
    expect(report.locator(".associated li")).to_have_text(["Wool socks", "Spare laces"])
    expect(report.locator(".refused li")).to_have_text([f"Shoe bag: {TARGET_AT_LIMIT}"])
    screenshot(web, "relationship-report.png")
    assert _related_ids(api, source, slug) == [socks, laces]
    group = page.locator(".related-group", has=page.get_by_role("heading", name=re.compile("Accessories")))
    expect(group).to_contain_text("2 of 2,000 associated; room for 1,998 more")
    expect(related).to_contain_text("Carries 1 of 5 custom relationships")

    group.get_by_role("row", name=re.compile("Wool socks")).get_by_role("button", name="Remove").click()
    confirm = page.get_by_role("dialog", name="Remove Wool socks from Accessories?")
    confirm.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_have_text("Related product removed.")
    assert _related_ids(api, source, slug) == [laces]


def test_a_product_at_five_relationships_is_offered_only_those_it_carries(
    web: Watched, people: People, api: Caller
) -> None:
    source = _product(api, "Tent", "TENT-1")
    slugs = [_definition(api, f"Kind {i}", f"kind-{i}") for i in range(6)]
    attached = api.post(
        f"/pcm/products/{source}/custom-relationships",
        json={"data": [{"type": "custom-relationship", "slug": s} for s in slugs[:5]]},
    )
    assert attached.status_code == 201, attached.text
    sign_in(web, people.create("editor"))
    page = web.page
    web.go(f"/admin/products/{source}")
    page.get_by_role("button", name="Add related products").click()
    select = page.get_by_role("dialog").get_by_label("Relationship")
    expect(select.locator("option", has_text="Kind 0")).to_be_enabled()
    expect(select.locator("option", has_text="Kind 5")).to_be_disabled()
    expect(select.locator("option", has_text="Kind 5")).to_contain_text("already carries 5 relationships")


def test_the_v2_view_edits_status_and_sort_order(web: Watched, people: People, api: Caller) -> None:
    slug = _definition(api, "Spare parts", "spares")
    parent = _product(api, "Stove", "STOVE-1")
    child = _product(api, "Burner", "BURNER-1")
    associated = api.post(
        f"/pcm/products/{parent}/custom-relationships/{slug}",
        json={"data": [{"type": "product", "id": child, "attributes": {"sort_order": 3}}]},
    )
    assert associated.status_code == 201, associated.text
    link_id = api.get("/api/v2/product_relationships").json()["entries"][0]["id"]

    sign_in(web, people.create("editor"))
    page = web.page
    web.go(f"/admin/products/{child}")
    section = page.get_by_role("region", name="Product relationships (v2)")
    row = section.get_by_role("row", name=re.compile("Spare parts"))
    expect(row).to_contain_text("Stove")
    expect(row).to_contain_text("this product")
    row.get_by_label("Sort order").fill("two")
    row.get_by_role("button", name=f"Save product relationship {link_id}").click()
    expect(page.get_by_role("alert")).to_have_text("product_relationship[sort_order]: must be an Integer")
    assert api.get(f"/api/v2/product_relationships/{link_id}").json()["sort_order"] == 3

    section = page.get_by_role("region", name="Product relationships (v2)")
    row = section.get_by_role("row", name=re.compile("Spare parts"))
    row.get_by_label("Status").select_option("inactive")
    row.get_by_label("Sort order").fill("7")
    row.get_by_role("button", name=f"Save product relationship {link_id}").click()
    expect(page.get_by_role("status")).to_have_text("Product relationship saved.")
    stored = api.get(f"/api/v2/product_relationships/{link_id}").json()
    assert (stored["status"], stored["sort_order"]) == ("inactive", 7)
    # inactive: gone from the PXM list, still in the v2 table
    assert _related_ids(api, parent, slug) == []
    web.go(f"/admin/products/{parent}")
    expect(page.get_by_role("region", name="Product relationships (v2)").get_by_role("combobox")).to_have_value(
        "inactive"
    )
    expect(page.locator(".related-group")).to_contain_text("1 inactive")


def test_a_viewer_sees_relationships_but_no_controls_and_a_forged_write_is_refused(
    web: Watched, people: People, api: Caller, http: Http
) -> None:
    slug = _definition(api, "Bundles", "bundles")
    source = _product(api, "Kettle", "KETTLE-1")
    target = _product(api, "Mug", "MUG-1")
    assert api.post(
        f"/pcm/products/{source}/custom-relationships/{slug}", json={"data": [{"type": "product", "id": target}]}
    ).status_code == 201
    email = people.create("viewer")
    sign_in(web, email)
    page = web.page
    web.go(f"/admin/products/{source}")
    expect(page.get_by_role("region", name="Related products")).to_contain_text("Mug")
    assert page.get_by_role("button", name="Add related products").count() == 0
    assert page.get_by_role("button", name="Remove").count() == 0
    assert page.get_by_role("button", name=re.compile("Save product relationship")).count() == 0
    web.go("/admin/custom-relationships")
    assert page.get_by_role("link", name="New custom relationship").count() == 0

    csrf = http.sign_in(email)
    refused = [
        http.client.post(f"/admin/products/{source}/related/remove", data={"relationship": slug, "product": target,
                                                                           "csrf_token": csrf}),
        http.client.post(f"/admin/products/{source}/related", data={"relationship": slug, "product": source,
                                                                    "csrf_token": csrf}),
        http.client.post("/admin/custom-relationships", data={"name": "X", "slug": "x", "csrf_token": csrf}),
        http.client.post(f"/admin/custom-relationships/{slug}/delete", data={"csrf_token": csrf}),
    ]
    assert [answer.status_code for answer in refused] == [403, 403, 403, 403]
    assert _related_ids(api, source, slug) == [target]
    assert api.get("/pcm/custom-relationships").json()["meta"]["results"]["total"] == 1
