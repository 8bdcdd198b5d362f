"""The workbench's webhooks in a real browser (SPEC §11, §13.2): an admin creates one, sees a delivery to a
local receiver logged and redelivers it; an editor cannot open webhooks (403)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.api.test_webhooks import Receiver, receiver
from tests.conftest import Caller
from tests.trees import make_product
from tests.web.conftest import Http, People, Watched, screenshot, sign_in

__all__ = ["receiver"]  # the fixture, used below


def _reload_until(web: Watched, path: str, text: str, timeout: float = 30) -> None:
    """Reload the page until it shows `text` (deliveries happen in the server's own time)."""
    deadline = time.monotonic() + timeout
    while True:
        web.go(path)
        if text in web.page.content() or time.monotonic() > deadline:
            return
        time.sleep(0.3)


def test_create_a_webhook_see_its_delivery_and_redeliver(
    web: Watched, people: People, api: Caller, receiver: Receiver
) -> None:
    sign_in(web, people.create("admin"))
    page = web.page
    web.go("/admin/products")
    page.get_by_role("navigation").get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name="New webhook").click()
    page.get_by_label("Name").fill("Search indexer")
    page.get_by_label("URL").fill("not a url")
    page.get_by_role("checkbox", name="product.created").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("configuration.url: must be an http or https URL with a host")
    expect(page.get_by_role("checkbox", name="product.created")).to_be_checked()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Secret key").fill("a secret of the receiver")
    page.get_by_label("Enabled").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Webhook created.")
    hook_path = page.url.split(web.base)[1].split("?")[0]
    stored = api.get("/v2/integrations").json()["data"]
    assert [(i["name"], i["observes"], i["enabled"]) for i in stored] == [
        ("Search indexer", ["product.created"], True)
    ]

    product = make_product(api, name="Camp chair", sku="CHAIR-1")["id"]
    bodies = receiver.wait_for(1)
    assert bodies[0]["payload"]["data"]["id"] == product
    _reload_until(web, hook_path, "delivered")
    jobs = page.get_by_role("region", name=re.compile("^Jobs"))
    expect(jobs.get_by_role("row", name=re.compile("product.created"))).to_contain_text("succeeded")
    attempts = page.get_by_role("region", name=re.compile("^Attempts"))
    expect(attempts.locator("tbody tr")).to_have_count(1)
    expect(attempts.locator("tbody tr").first).to_contain_text("delivered")
    expect(attempts.locator("tbody tr").first).to_contain_text("200")
    screenshot(web, "webhook-page.png")

    jobs.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("status")).to_have_text("Sent again shortly.")
    again = receiver.wait_for(2)
    assert again[1]["id"] == again[0]["id"] and again[1]["attempt"] == 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        web.go(hook_path)
        if page.get_by_role("region", name=re.compile("^Attempts")).locator("tbody tr").count() == 2:
            break
        time.sleep(0.3)
    expect(page.get_by_role("region", name=re.compile("^Attempts")).locator("tbody tr")).to_have_count(2)

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Enabled").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Webhook saved.")
    assert api.get("/v2/integrations").json()["data"][0]["enabled"] is False

    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete the webhook Search indexer?")
    dialog.get_by_role("button", name="Cancel").click()
    assert len(api.get("/v2/integrations").json()["data"]) == 1
    page.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Webhook deleted.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    assert api.get("/v2/integrations").json()["data"] == []


def test_an_editor_cannot_open_webhooks(web: Watched, people: People, api: Caller, http: Http) -> None:
    made = api.post(
        "/v2/integrations",
        json={
            "data": {
                "type": "integration",
                "name": "Kept",
                "integration_type": "webhook",
                "enabled": True,
                "observes": ["product.created"],
                "configuration": {"url": "https://example.com/hook"},
            }
        },
    )
    assert made.status_code == 201, made.text
    hook = made.json()["data"]["id"]
    email = people.create("editor")
    sign_in(web, email)
    assert web.page.get_by_role("navigation").get_by_role("link", name="Webhooks").count() == 0

    csrf = http.sign_in(email)
    pages = [http.client.get("/admin/webhooks"), http.client.get(f"/admin/webhooks/{hook}")]
    assert [answer.status_code for answer in pages] == [403, 403]
    assert "only an admin can do this" in pages[0].text
    writes = [
        http.client.post(f"/admin/webhooks/{hook}", data={"name": "Hacked", "url": "https://example.com/x",
                                                          "observes": "product.created", "csrf_token": csrf}),
        http.client.post("/admin/webhooks", data={"name": "New", "url": "https://example.com/y",
                                                  "observes": "product.created", "csrf_token": csrf}),
    ]
    writes.append(http.client.post(f"/admin/webhooks/{hook}/delete", data={"csrf_token": csrf}))
    assert [answer.status_code for answer in writes] == [403, 403, 403]
    assert [i["name"] for i in api.get("/v2/integrations").json()["data"]] == ["Kept"]
