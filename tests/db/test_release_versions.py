"""The release versions the read cache checks `latest` against (SPEC §12.4): read on a connection of their
own, they follow every publish and release delete at once, and survive a broken connection."""

from __future__ import annotations

import uuid

from assortment.db.release_versions import ReleaseVersions
from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product, publish
from tests.conftest import Caller, Database


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
