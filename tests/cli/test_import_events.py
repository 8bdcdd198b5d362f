"""Bulk imports raise their events (SPEC §11.2): `product.created` per product and `price.created` per price
that a batch committed, in the batch's own transaction, with the jobs of the integrations observing them, and
nothing for the rows left out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assortment.db.repositories import products as product_repo
from assortment.domain.price_import import import_prices
from assortment.domain.product_import import import_products
from tests.api.test_events import feed, keys_of, payload
from tests.cli.conftest import Cli, write_jsonl
from tests.conftest import Caller, Database, Keys


def good(sku: str, **attributes: Any) -> dict[str, Any]:
    return {"name": f"Product {sku}", "commodity_type": "physical", "sku": sku, **attributes}


def product_ids(api: Caller) -> dict[str, str]:
    response = api.get("/pcm/products?page[limit]=100")
    assert response.status_code == 200, response.text
    return {p["attributes"]["sku"]: p["id"] for p in response.json()["data"]}


def observe(api: Caller, *keys: str) -> str:
    data = {
        "type": "integration",
        "name": "import watcher",
        "integration_type": "webhook",
        "enabled": True,
        "observes": list(keys),
        "configuration": {"url": "https://hooks.example.com/import"},
    }
    response = api.post("/v2/integrations", json={"data": data})
    assert response.status_code == 201, response.text
    integration_id: str = response.json()["data"]["id"]
    return integration_id


def jobs_of(api: Caller, integration_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v2/integrations/{integration_id}/jobs?page[limit]=100")
    assert response.status_code == 200, response.text
    jobs: list[dict[str, Any]] = response.json()["data"]
    return jobs


def test_the_import_command_raises_product_created_per_imported_product(cli: Cli, api: Caller, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            good("A", tags=["x"], locales={"fr-FR": {"name": "Produit A"}}, status="live"),
            good("BAD", commodity_type="nope"),
            good("B", description="second"),
            good("A"),  # a duplicate of line 1: left out
        ],
    )

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 2, result.stderr  # bad rows were reported
    ids = product_ids(api)
    events = feed(api)
    assert keys_of(events) == [("product.created", ids["A"]), ("product.created", ids["B"])]
    for event in events:
        document = api.get(f"/pcm/products/{event['attributes']['entity_id']}").json()
        assert payload(api, event) == document  # the document of the product's GET
    assert events[0]["attributes"]["actor"] == {"type": "key", "id": "00000000-0000-0000-0000-000000000000"}


def test_imported_products_get_jobs_of_the_integrations_observing_them(
    db: Database, api: Caller, keys: Keys, tmp_path: Path
) -> None:
    watching = observe(api, "product.created")
    observe(api, "product.updated")
    elsewhere = keys.caller(store_id=keys.store())
    other_store = observe(elsewhere, "product.created")
    path = write_jsonl(tmp_path / "p.jsonl", [good(f"S-{i}") for i in range(7)])

    report = import_products(db.sessions, path, batch_size=3, progress=False)

    assert (report.imported, report.errors) == (7, [])
    jobs = jobs_of(api, watching)
    assert len(jobs) == 7
    assert {job["triggered_by"] for job in jobs} == {"product.created"}
    event_ids = {e["id"] for e in feed(api, filter="eq(entity_type,product)")}
    assert {job["event_id"] for job in jobs} == event_ids
    assert jobs_of(elsewhere, other_store) == []


def test_rows_a_batch_left_out_raise_nothing(
    db: Database, api: Caller, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch refused by the database is loaded row by row: only the rows that went in have events."""
    taken = api.post("/pcm/products", json={"data": {"type": "product", "attributes": good("RACE")}})
    assert taken.status_code == 201
    monkeypatch.setattr(product_repo, "existing_unique_values", lambda session, scope: (set(), set(), set()))
    path = write_jsonl(tmp_path / "p.jsonl", [good("FIRST"), good("RACE"), good("LAST"), good("NEXT")])

    report = import_products(db.sessions, path, batch_size=3, progress=False)

    assert report.imported == 3
    ids = product_ids(api)
    assert keys_of(feed(api)) == [
        ("product.created", ids["RACE"]),  # the API's
        ("product.created", ids["FIRST"]),
        ("product.created", ids["LAST"]),
        ("product.created", ids["NEXT"]),
    ]


def test_the_price_import_raises_price_created_per_imported_price(
    db: Database, cli: Cli, api: Caller, tmp_path: Path
) -> None:
    book = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": "Main"}}})
    assert book.status_code == 201, book.text
    book_id = book.json()["data"]["id"]
    watching = observe(api, "price.created")
    rows: list[dict[str, Any] | str] = [
        {"sku": "P-1", "currencies": {"USD": {"amount": 100}}, "external_ref": "erp:1"},
        {"sku": "P-2", "currencies": {"USD": {"amount": -1}}},  # refused
        {"sku": "P-3", "currencies": {"USD": {"amount": 300}}, "sales": None},
    ]
    path = write_jsonl(tmp_path / "prices.jsonl", rows)

    result = cli.run("prices", "import", path, "--pricebook", book_id, "--quiet")

    assert result.code == 2, result.stderr
    listed = api.get(f"/pcm/pricebooks/{book_id}/prices").json()["data"]
    by_sku = {price["attributes"]["sku"]: price for price in listed}
    events = feed(api, filter="eq(entity_type,price)")
    assert keys_of(events) == [("price.created", by_sku["P-1"]["id"]), ("price.created", by_sku["P-3"]["id"])]
    for event in events:
        price_id = event["attributes"]["entity_id"]
        document = api.get(f"/pcm/pricebooks/{book_id}/prices/{price_id}").json()
        assert payload(api, event) == document
    assert len(jobs_of(api, watching)) == 2

    again = import_prices(db.sessions, path, book_id, progress=False)  # every row is a duplicate now
    assert again.imported == 0
    assert len(feed(api, filter="eq(entity_type,price)")) == 2
