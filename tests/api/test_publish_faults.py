"""A server killed in the middle of a publish leaves no partial release behind (SPEC §4.2: a release is written
in one transaction), and the catalog publishes again afterwards."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select, text

from assortment.db.models import (
    Catalog,
    Node,
    NodeProduct,
    Product,
    Release,
    ReleaseNodeProduct,
    ReleaseProduct,
    Store,
)
from assortment.db.types import utcnow
from tests.catalogs import make_catalog, make_hierarchy, make_node
from tests.conftest import Caller, Database, Keys
from tests.servers import running_server_processes

pytestmark = pytest.mark.multiprocess

PRODUCTS = 20_000
NODES = 20


def seed_catalog(api: Caller, db: Database) -> str:
    """A catalog of one hierarchy whose nodes hold PRODUCTS live products, written straight to the database."""
    hid = make_hierarchy(api, name="Big")["id"]
    node_ids = [uuid.UUID(make_node(api, hid, f"Node {i}")["id"]) for i in range(NODES)]
    catalog: str = make_catalog(api, [hid], name="Big")["id"]
    now = utcnow()
    with db.sessions.begin() as session:
        scope = session.scalars(select(Store.id).where(Store.is_default.is_(True))).one()
        rows = [
            {
                "id": uuid.uuid4(),
                "scope_id": scope,
                "name": f"Bulk product {i}",
                "sku": f"BULK-{i}",
                "commodity_type": "physical",
                "status": "live",
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for i in range(PRODUCTS)
        ]
        session.execute(insert(Product), rows)
        node_pks = list(session.scalars(select(Node.pk).where(Node.id.in_(node_ids))))
        product_pks = list(session.scalars(select(Product.pk).where(Product.scope_id == scope)))
        links = [
            {"node_pk": node_pks[i % len(node_pks)], "product_pk": pk, "linked_at": now}
            for i, pk in enumerate(product_pks)
        ]
        session.execute(insert(NodeProduct), links)
    return catalog


def release_counts(db: Database, catalog_id: str) -> dict[str, int]:
    """Rows of the catalog's releases (the release rows of this test can only be that catalog's)."""
    with db.sessions() as session:
        releases = session.scalar(
            select(func.count())
            .select_from(Release)
            .join(Catalog, Catalog.pk == Release.catalog_pk)
            .where(Catalog.id == uuid.UUID(catalog_id))
        )
        return {
            "catalog_release": releases or 0,
            "release_product": session.scalar(select(func.count()).select_from(ReleaseProduct)) or 0,
            "release_node_product": session.scalar(select(func.count()).select_from(ReleaseNodeProduct)) or 0,
        }


def sqlite_wal(db: Database) -> Path:
    database = db.engine.url.database
    assert database
    return Path(database + "-wal")


def truncate_sqlite_wal(db: Database) -> None:
    with db.engine.connect() as connection:
        busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    assert busy == 0
    assert sqlite_wal(db).stat().st_size == 0


def release_mostly_written(db: Database) -> bool:
    """True once another connection is well into writing a release that it has not committed yet."""
    if db.name == "sqlite":
        # Nothing else writes: the write-ahead log grows only with the publish's spilled, uncommitted pages
        # (about 20 MB in all for this catalog).
        return sqlite_wal(db).stat().st_size > 6_000_000
    # Every product row is written (node products come after them), and the transaction is still open.
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() "
        "AND state IN ('active', 'idle in transaction') AND query ~* '^(INSERT INTO|COPY) release_node_product'"
    )
    with db.engine.connect() as connection:
        return bool(connection.scalar(query))


def token(url: str, keys: Keys) -> dict[str, str]:
    key = keys.key()
    response = httpx.post(
        f"{url}/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_publish_killed_half_way_leaves_no_release(api: Caller, db: Database, keys: Keys) -> None:
    catalog = seed_catalog(api, db)
    outcome: dict[str, Any] = {}

    with running_server_processes(db.settings.database_url) as (server,):
        headers = token(server.url, keys)
        if db.name == "sqlite":
            truncate_sqlite_wal(db)

        def publish() -> None:
            try:
                outcome["response"] = httpx.post(
                    f"{server.url}/pcm/catalogs/{catalog}/releases", headers=headers, timeout=120
                )
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=publish)
        thread.start()
        deadline = time.monotonic() + 60
        while not release_mostly_written(db):
            assert thread.is_alive(), f"the publish ended before it could be interrupted: {outcome}"
            assert time.monotonic() < deadline, "the publish never got far into writing its release"
            time.sleep(0.01)
        server.process.kill()
        server.process.wait(timeout=10)
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert "response" not in outcome, outcome["response"].text  # killed before it could answer
        assert isinstance(outcome["error"], httpx.TransportError)

    # Nothing of the release is visible, now or once the dead transaction is gone.
    assert release_counts(db, catalog) == {"catalog_release": 0, "release_product": 0, "release_node_product": 0}

    with running_server_processes(db.settings.database_url) as (server,):
        headers = token(server.url, keys)
        response = httpx.post(f"{server.url}/pcm/catalogs/{catalog}/releases", headers=headers, timeout=120)
        assert response.status_code == 201, response.text
        release = response.json()["data"]
        assert release["meta"]["release_status"] == "PUBLISHED"
        assert release["meta"]["total_products"] == PRODUCTS
        assert release["meta"]["is_full_publish"] is True  # the killed one never existed
        listed = httpx.get(f"{server.url}/pcm/catalogs/{catalog}/releases", headers=headers).json()
        assert [r["id"] for r in listed["data"]] == [release["id"]]
        products = httpx.get(f"{server.url}/pcm/catalogs/{catalog}/releases/latest/products", headers=headers)
        assert products.json()["meta"]["results"]["total"] == PRODUCTS

    assert release_counts(db, catalog) == {
        "catalog_release": 1,
        "release_product": PRODUCTS,
        "release_node_product": PRODUCTS,
    }
