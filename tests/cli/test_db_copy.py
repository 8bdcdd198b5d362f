"""`assortment db copy --to URL [--json]` (SPEC §12.3): every row into an empty database of the other
kind and back, row for row; a target holding data is refused with exit 2 and left as it was; the copy,
served, answers every list as the original does, and the original's keys and tokens work on it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from assortment.config import Settings
from assortment.db.copy import tables
from assortment.db.engine import make_engine
from assortment.domain import users
from tests.api.test_pricebooks import make_book, make_price
from tests.cli.conftest import Cli, Result, assortment_command
from tests.cli.test_check import World, world
from tests.conftest import Caller, Database, _create_pg_database, _drop_pg_database
from tests.helpers import ORIGIN
from tests.servers import running_servers

__all__ = ["world"]  # the fixture, shared with the check tests

NewDatabase = Callable[[str], str]


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[NewDatabase]:
    """Make an empty (unmigrated) database of a kind, "sqlite" or "postgresql"; return its URL."""
    made: list[str] = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f'copy-{len(list(tmp_path.iterdir()))}.db'}"
        try:
            name, url = _create_pg_database()
        except Exception as exc:  # the PostgreSQL half of the run is skipped the same way
            pytest.skip(f"PostgreSQL unreachable: {exc}")
        made.append(name)
        return url

    yield make
    for name in made:
        _drop_pg_database(name)


def other(kind: str) -> str:
    return "postgresql" if kind == "sqlite" else "sqlite"


def copy(url_from: str, url_to: str, *extra: str) -> Result:
    """`assortment db copy` with `url_from` as the configured database."""
    env = {**os.environ, "ASSORTMENT_DATABASE_URL": url_from}
    env.pop("ASSORTMENT_SECRET_KEY", None)
    done = subprocess.run(
        [assortment_command(), "db", "copy", "--to", url_to, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as Python values, in primary key order."""
    engine = make_engine(Settings(database_url=url))
    try:
        with engine.connect() as connection:
            found = {}
            for table in tables():
                rows = [dict(row) for row in connection.execute(select(table)).mappings()]
                keys = [column.name for column in table.primary_key.columns]
                found[table.name] = sorted(rows, key=lambda row: tuple(str(row[k]) for k in keys))
            return found
    finally:
        engine.dispose()


@pytest.fixture
def full(world: World, api: Caller, db: Database) -> World:
    """The check tests' world plus prices, a duplicated hierarchy (a job), a moved node and a workbench user."""
    book = make_book(api)["id"]
    make_price(api, book, sku="P-0")
    body = {"data": {"type": "hierarchy", "attributes": {"name": "Home copy"}}}
    response = api.post(f"/pcm/hierarchies/{world.hierarchy}/duplicate_job", json=body)
    assert response.status_code == 201, response.text
    # A node under a node made after it: the copy writes parents first, not in creation order.
    moved = api.put(
        f"/pcm/hierarchies/{world.hierarchy}/nodes/{world.garden}/relationships/parent",
        json={"data": {"type": "node", "id": world.pans}},
    )
    assert moved.status_code == 204, moved.text
    with db.sessions.begin() as session:
        users.create_user(session, "ann@example.com", "editor", "a long enough password", store_id=api.key.store_id)
    return world


def test_to_the_other_kind_and_back_row_for_row(cli: Cli, db: Database, full: World, new_database: NewDatabase) -> None:
    original = dump(db.settings.database_url)
    assert original["instance_secret"], "the signing key exists once a token was issued"
    there, back = new_database(other(db.name)), new_database(db.name)

    result = cli.run("db", "copy", "--to", there, "--json")
    assert result.code == 0, result
    report = result.json()
    assert report["ok"] is True
    assert report["rows"] == sum(len(rows) for rows in original.values())
    assert report["tables"] == {name: {"source": len(rows), "target": len(rows)} for name, rows in original.items()}
    assert "row counts match" in result.stderr

    result = copy(there, back, "--quiet")
    assert result.code == 0, result
    assert dump(there) == original
    assert dump(back) == original


def test_a_target_with_data_is_refused_and_left_as_it_was(
    cli: Cli, db: Database, world: World, new_database: NewDatabase
) -> None:
    target = new_database(other(db.name))
    assert cli.run("db", "copy", "--to", target, "--quiet").code == 0
    before = dump(target)
    result = cli.run("db", "copy", "--to", target, "--json")
    assert result.code == 2, result
    assert result.stdout == ""
    assert "holds data" in result.stderr and "nothing was written" in result.stderr
    assert dump(target) == before


def test_the_configured_database_itself_is_refused(cli: Cli, db: Database, world: World) -> None:
    before = dump(db.settings.database_url)
    result = cli.run("db", "copy", "--to", db.settings.database_url)
    assert result.code == 2, result
    assert dump(db.settings.database_url) == before


def test_an_empty_database_copies(cli: Cli, db: Database, new_database: NewDatabase) -> None:
    target = new_database(other(db.name))
    result = cli.run("db", "copy", "--to", target, "--json")
    assert result.code == 0, result
    assert result.json()["tables"]["store"] == {"source": 1, "target": 1}  # the default store, the source's
    assert dump(target)["store"] == dump(db.settings.database_url)["store"]


def list_urls(world: World, api: Caller) -> list[str]:
    catalog = api.get("/pcm/catalogs").json()["data"][0]["id"]
    release = f"/pcm/catalogs/{catalog}/releases/{world.release}"
    product = world.products[0]
    book = api.get("/pcm/pricebooks").json()["data"][0]["id"]
    return [
        "/pcm/products",
        "/pcm/products?filter=eq(sku,P-1)",
        f"/pcm/products/{product}",
        f"/pcm/products/{product}/nodes",
        f"/pcm/products/{product}/custom-relationships",
        f"/pcm/products/{product}/custom-relationships/CRP_pair",
        f"/pcm/products/{product}/custom-relationships/CRP_upsell/products",
        "/pcm/hierarchies",
        "/pcm/hierarchies/nodes",
        f"/pcm/hierarchies/{world.hierarchy}/nodes",
        f"/pcm/hierarchies/{world.hierarchy}/children",
        f"/pcm/hierarchies/{world.hierarchy}/nodes/{world.kitchen}/children",
        f"/pcm/hierarchies/{world.hierarchy}/nodes/{world.kitchen}/products",
        "/pcm/custom-relationships",
        "/pcm/jobs",
        "/pcm/catalogs",
        "/pcm/catalogs/rules",
        f"/pcm/catalogs/{catalog}/releases",
        f"{release}/delta",
        f"{release}/hierarchies",
        f"{release}/nodes",
        f"{release}/products",
        f"{release}/nodes/{world.kitchen}/relationships/products",
        f"/pcm/catalogs/{catalog}/releases/latest/products",
        "/catalog/products",
        "/pcm/pricebooks",
        f"/pcm/pricebooks/{book}/prices",
        "/v2/currencies",
        "/api/v2/product_relationships",
        "/api/v2/relationships",
    ]


def test_the_served_copy_answers_as_the_original(
    cli: Cli, db: Database, full: World, api: Caller, new_database: NewDatabase
) -> None:
    # Read first: some reads write (a store's default currency is made on its first listing).
    urls = list_urls(full, api)
    original = {url: api.get(url) for url in urls}
    assert all(r.status_code == 200 for r in original.values()), {u: r.text for u, r in original.items()}
    target = new_database(other(db.name))
    assert cli.run("db", "copy", "--to", target, "--quiet").code == 0
    with running_servers(target, count=1) as (base,), httpx.Client(base_url=base, timeout=30) as copy_client:
        # The original's key gets a token from the copy, and the original's token is good there.
        form = {
            "grant_type": "client_credentials",
            "client_id": api.key.client_id,
            "client_secret": api.key.client_secret,
        }
        issued = copy_client.post("/oauth/access_token", data=form)
        assert issued.status_code == 200, issued.text
        for token in (issued.json()["access_token"], api.token):
            headers = {"Authorization": f"Bearer {token}"}
            for url in urls:
                answer = copy_client.get(url, headers=headers)
                assert answer.status_code == 200, (url, answer.text)
                # Catalog-service paging links are absolute: the copy's carry its own address.
                assert json.loads(answer.text.replace(f'"{base}/', f'"{ORIGIN}/')) == original[url].json(), url
        # New rows get fresh keys on the copy (PostgreSQL sequences were moved past the copied ones).
        headers = {"Authorization": f"Bearer {api.token}"}
        created = copy_client.post(
            "/pcm/products",
            headers=headers,
            json={"data": {"type": "product", "attributes": {"name": "New", "commodity_type": "physical"}}},
        )
        assert created.status_code == 201, created.text
        hierarchy = copy_client.post(
            "/pcm/hierarchies", headers=headers, json={"data": {"type": "hierarchy", "attributes": {"name": "N"}}}
        )
        assert hierarchy.status_code == 201, hierarchy.text
