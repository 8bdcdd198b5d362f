"""The per-scope product counts behind an unfiltered product list's total (issue 17, migration e5b7c3d9f104):
whatever writes products — the API, an import, a rejected batch, writers in parallel — the list's
`meta.results.total` is the number of products the caller sees, and `assortment check` finds nothing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import update

from assortment.db.models import Product
from assortment.domain.integrity import check_database
from assortment.domain.product_import import import_products
from tests.cli.conftest import write_jsonl
from tests.conftest import Caller, Database, Keys
from tests.helpers import product_body


def total(caller: Caller, query: str = "") -> int:
    response = caller.get("/pcm/products" + query)
    assert response.status_code == 200, response.text
    value: int = response.json()["meta"]["results"]["total"]
    return value


def create(caller: Caller, sku: str) -> str:
    response = caller.post("/pcm/products", json=product_body(sku=sku))
    assert response.status_code == 201, response.text
    product_id: str = response.json()["data"]["id"]
    return product_id


def assert_clean(db: Database) -> None:
    with db.sessions() as session:
        assert [p for p in check_database(session) if p.check == "product_count"] == []


def test_totals_follow_creates_and_deletes_in_each_scope(db: Database, api: Caller, keys: Keys) -> None:
    other = keys.caller(store_id=keys.store("Other"))
    organization = keys.caller(organization=True)
    assert (total(api), total(organization)) == (0, 0)
    mine = [create(api, f"MINE-{n}") for n in range(4)]
    create(other, "OTHER-1")
    shared = [create(organization, f"ORG-{n}") for n in range(2)]
    assert total(api) == 6  # its own four and the organization's two
    assert total(other) == 3
    assert total(organization) == 2
    assert total(api, "?page[limit]=2&page[offset]=2") == 6
    assert total(api, "?page[limit]=2&page[offset]=50") == 6  # a page past the end still has the total
    assert api.delete(f"/pcm/products/{mine[0]}").status_code == 204
    assert organization.delete(f"/pcm/products/{shared[0]}").status_code == 204
    assert (total(api), total(other), total(organization)) == (4, 2, 1)
    assert total(api, "?filter=like(sku,MINE-*)") == 3  # a filter still counts its matches
    assert_clean(db)


def test_a_product_moved_to_another_scope_counts_there(db: Database, api: Caller, keys: Keys) -> None:
    """No endpoint moves a product between scopes; the triggers count a move all the same."""
    other_store = keys.store("Other")
    other = keys.caller(store_id=other_store)
    moved = create(api, "MOVED")
    create(api, "STAYS")
    with db.sessions.begin() as session:
        session.execute(update(Product).where(Product.id == uuid.UUID(moved)).values(scope_id=other_store))
    assert (total(api), total(other)) == (1, 1)
    assert_clean(db)


def test_a_refused_create_counts_nothing(db: Database, api: Caller) -> None:
    create(api, "ONCE")
    assert api.post("/pcm/products", json=product_body(sku="ONCE")).status_code == 422  # the sku is taken
    assert total(api) == 1
    assert_clean(db)


def test_imports_count_what_they_load(db: Database, api: Caller, tmp_path: Path) -> None:
    create(api, "TAKEN")
    rows = [{"name": f"Imported {n}", "commodity_type": "physical", "sku": f"IMP-{n}"} for n in range(7)]
    rows.insert(4, {"name": "Clash", "commodity_type": "physical", "sku": "TAKEN"})
    report = import_products(db.sessions, write_jsonl(tmp_path / "p.jsonl", rows), batch_size=3, progress=False)
    assert report.imported == 7
    assert total(api) == 8
    assert_clean(db)


def test_parallel_writers_leave_the_right_total(db: Database, api: Caller) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda n: create(api, f"PAR-{n}"), range(40)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda pid: api.delete(f"/pcm/products/{pid}").status_code, created[:15]))
    assert statuses == [204] * 15
    assert total(api) == 25
    assert_clean(db)
