"""The release versions the read cache checks `latest` against (SPEC §12.4): read on a connection of their
own, they follow every publish and release delete at once, and survive a broken connection."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from assortment.db.release_versions import ReleaseVersions, TurnVersions
from assortment.db.repositories.common import DriverSQL
from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product, publish
from tests.conftest import Caller, Database
from tests.loops import run


def test_versions_follow_publishes_and_deletes(db: Database, api: Caller) -> None:
    hierarchy = make_hierarchy(api)["id"]
    node = make_node(api, hierarchy, "Shirts")["id"]
    link(api, hierarchy, node, make_product(api, status="live")["id"])
    catalog = make_catalog(api, [hierarchy])["id"]
    versions = ReleaseVersions(db.engine)
    try:
        catalog_id = uuid.UUID(catalog)
        assert versions.read([catalog_id]) == {catalog_id: 0}
        publish(api, catalog)
        assert versions.read([catalog_id]) == {catalog_id: 1}
        release = publish(api, catalog)["id"]
        assert versions.read([catalog_id]) == {catalog_id: 2}
        assert api.delete(f"/pcm/catalogs/{catalog}/releases/{release}").status_code == 204
        assert versions.read([catalog_id]) == {catalog_id: 3}
        assert api.delete(f"/pcm/catalogs/{catalog}/releases").status_code == 204
        assert versions.read([catalog_id, uuid.uuid4()]) == {catalog_id: 4}  # an unknown catalog: absent
        versions.close()  # a lost connection is opened again by the next read
        assert versions.read([catalog_id]) == {catalog_id: 4}
    finally:
        versions.close()


class CountingVersions(ReleaseVersions):
    """Counts the reads that reach the database."""

    reads = 0

    async def fetch_awaited(self, statement: DriverSQL, *params: Any) -> list[tuple[Any, ...]]:
        self.reads += 1
        return await super().fetch_awaited(statement, *params)


def test_a_turn_reads_a_version_once_and_the_next_turn_reads_it_anew(db: Database, api: Caller) -> None:
    hierarchy = make_hierarchy(api)["id"]
    link(api, hierarchy, make_node(api, hierarchy, "Shirts")["id"], make_product(api, status="live")["id"])
    catalog = make_catalog(api, [hierarchy])["id"]
    catalog_id = uuid.UUID(catalog)
    counting = CountingVersions(db.engine)
    turns = TurnVersions(counting)

    async def scenario() -> tuple[list[int | None], int | None, int | None, int]:
        together = await asyncio.gather(*(turns.current_awaited(catalog_id) for _ in range(5)))
        reads_then = counting.reads
        publish(api, catalog)  # answered before the next turn's requests arrive
        await asyncio.sleep(0)
        after = await turns.current_awaited(catalog_id)
        unknown = await turns.current_awaited(uuid.uuid4())
        return list(together), after, unknown, reads_then

    try:
        together, after, unknown, reads_then = run(scenario())
    finally:
        counting.close()
    assert together == [0] * 5
    assert reads_then == 1  # five requests of one turn, one read
    assert after == 1  # the next turn sees the publish
    assert unknown is None


def test_a_failed_read_fails_every_request_waiting_for_it_and_is_tried_again(db: Database) -> None:
    counting = CountingVersions(db.engine)
    turns = TurnVersions(counting)
    broken = DriverSQL("SELECT release_version FROM no_such_table WHERE id = %s")
    key = uuid.uuid4()

    async def scenario() -> list[str]:
        outcomes = await asyncio.gather(*(turns.rows_now(broken, key) for _ in range(3)), return_exceptions=True)
        again = await asyncio.gather(turns.rows_now(broken, key), return_exceptions=True)
        return [type(outcome).__name__ for outcome in [*outcomes, *again]]

    try:
        names = run(scenario())
    finally:
        counting.close()
    assert len(names) == 4 and all(name != "list" for name in names)
    if db.name == "postgresql":  # the read is awaited: the two later requests of the turn wait for it
        assert names[1:3] == ["ReadFailed", "ReadFailed"]
        assert counting.reads == 2  # the failed read is not kept: the next turn reads again
    else:  # SQLite reads at once: each request read, and failed, before the next began
        assert counting.reads == 4
