"""`assortment catalogs publish`: the command publishes as POST /pcm/catalogs/{id}/releases does, and its
`catalog-release.created` event carries the release as its GET renders it (the command loads only the
release renderer, not every router: tests/cli/conftest.py runs the real console script)."""

from __future__ import annotations

from tests.api.test_events import feed, keys_of, payload
from tests.catalogs import link, make_catalog
from tests.cli.conftest import Cli
from tests.conftest import Caller
from tests.trees import make_hierarchy, make_node, make_product


def test_the_publish_command_raises_its_event_with_the_release_document(cli: Cli, api: Caller) -> None:
    hierarchy = make_hierarchy(api, name="Home", slug="home")["id"]
    kitchen = make_node(api, hierarchy, "Kitchen", slug="kitchen")["id"]
    pans = [make_product(api, name=f"Pan {i}", sku=f"PAN-{i}", status="live")["id"] for i in range(2)]
    link(api, hierarchy, kitchen, *pans)
    catalog = make_catalog(api, [hierarchy])["id"]

    result = cli.run("catalogs", "publish", catalog, "--quiet", "--json")
    assert result.code == 0, result.stderr
    summary = result.json()
    assert (summary["catalog_id"], summary["total_products"], summary["total_nodes"]) == (catalog, 2, 1)

    created = feed(api, filter="eq(triggered_by,catalog-release.created)")
    assert keys_of(created) == [("catalog-release.created", summary["id"])]
    shown = api.get(f"/pcm/catalogs/{catalog}/releases/{summary['id']}")
    assert shown.status_code == 200, shown.text
    assert payload(api, created[0]) == {"data": shown.json()["data"]}
