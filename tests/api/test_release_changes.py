"""What changed between two releases (SPEC §10.1): `GET /pcm/catalogs/{cid}/releases/{rid}/changes`,
and `assortment catalogs changes`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from assortment.db.models import Release, ReleaseChange, ReleaseComparison, ReleaseDigest
from assortment.domain import release_digests
from tests.api.test_release_prices import add_price, base, make_book, set_price
from tests.catalogs import (
    curate,
    link,
    make_catalog,
    make_hierarchy,
    make_node,
    make_product,
    publish,
    set_product,
    unlink,
)
from tests.cli.conftest import Cli
from tests.conftest import Caller, Database, Keys
from tests.helpers import ORIGIN, errors_of
from tests.relationships import associate, make_definition
from tests.trees import node_url, refs

ALL = {"page[limit]": "100"}


@dataclass
class Shop:
    """Hierarchy `Shop` with top-level nodes Clothes (child: Shirts) and Shoes; products in the nodes, priced
    in one price book, two of them related; a catalog over it."""

    api: Caller
    hierarchy: str
    nodes: dict[str, str]
    products: dict[str, str]
    prices: dict[str, str]
    book: str
    catalog: str
    releases: list[str] = field(default_factory=list)

    def publish(self) -> str:
        release: str = publish(self.api, self.catalog)["id"]
        self.releases.append(release)
        return release

    def url(self, release: str = "latest") -> str:
        return f"/pcm/catalogs/{self.catalog}/releases/{release}/changes"


@pytest.fixture
def shop(api: Caller) -> Shop:
    hierarchy = make_hierarchy(api, name="Shop", slug="shop")["id"]
    clothes = make_node(api, hierarchy, "Clothes", slug="clothes")["id"]
    shirts = make_node(api, hierarchy, "Shirts", slug="shirts", parent=clothes)["id"]
    shoes = make_node(api, hierarchy, "Shoes", slug="shoes")["id"]
    book = make_book(api, "Prices")
    products, prices = {}, {}
    for key, node in (("tee", shirts), ("polo", shirts), ("boot", shoes), ("sandal", shoes), ("scarf", clothes)):
        products[key] = make_product(api, name=key.title(), sku=key.upper(), status="live")["id"]
        link(api, hierarchy, node, products[key])
        prices[key] = add_price(api, book, key.upper(), {"USD": base(1000)})
    make_definition(api, "CRP_goes_with")
    associate(api, products["boot"], "CRP_goes_with", [products["sandal"]])
    catalog = make_catalog(api, [hierarchy], pricebook_id=book)["id"]
    return Shop(api, hierarchy, {"clothes": clothes, "shirts": shirts, "shoes": shoes}, products, prices, book, catalog)


def changes(api: Caller, url: str, **params: str) -> dict[str, Any]:
    response = api.get(url, params={**ALL, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    for entry in body["data"]:
        attributes = entry["attributes"]
        assert entry["type"] == "release-change"
        assert entry["id"] == f"{attributes['entity_type']}:{attributes['entity_id']}"
        assert attributes["fields"] == sorted(attributes["fields"])
        if attributes["change"] != "updated":
            assert attributes["fields"] == []
    return body


def entries(body: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """{entity id: (change, fields)}."""
    return {e["attributes"]["entity_id"]: (e["attributes"]["change"], e["attributes"]["fields"]) for e in body["data"]}


def keys(body: dict[str, Any]) -> list[str]:
    return [e["id"] for e in body["data"]]


def edit(shop: Shop) -> dict[str, str]:
    """A round of edits after the first release: renames, a price, a move, a product added and one gone."""
    api, h = shop.api, shop.hierarchy
    set_product(api, shop.products["tee"], name="Tee shirt")  # renamed
    set_price(api, shop.book, shop.prices["polo"], currencies={"USD": base(1250)})  # repriced
    # Shirts moves from Clothes to Shoes: its products' bread crumbs change with it.
    shoes, shirts = shop.nodes["shoes"], shop.nodes["shirts"]
    response = api.post(f"{node_url(h, shoes)}/relationships/children", json=refs("node", shirts))
    assert response.status_code in (200, 204), response.text
    added = make_product(api, name="Belt", sku="BELT", status="live")["id"]
    link(api, h, shop.nodes["clothes"], added)
    unlink(api, h, shop.nodes["shoes"], shop.products["sandal"])  # gone from the release
    return {"added": added}


def test_changes_between_two_releases(shop: Shop) -> None:
    first = shop.publish()
    made = edit(shop)
    second = shop.publish()
    body = changes(shop.api, shop.url(second))
    p, n = shop.products, shop.nodes
    assert entries(body) == {
        # Clothes lost its child Shirts and gained the belt; Shoes gained Shirts and lost the sandal.
        n["clothes"]: ("updated", ["children", "products"]),
        n["shoes"]: ("updated", ["children", "products"]),
        n["shirts"]: ("updated", ["parent", "updated_at"]),
        p["tee"]: ("updated", ["breadcrumbs", "name", "updated_at"]),
        p["polo"]: ("updated", ["breadcrumbs", "price"]),
        made["added"]: ("created", []),
        p["sandal"]: ("deleted", []),
        # The boot's related sandal left the release with it.
        p["boot"]: ("updated", ["relationships"]),
    }
    # Order: hierarchies, nodes, products, each by id.
    expected_order = sorted(
        (e["attributes"]["entity_type"] != "node", e["attributes"]["entity_id"]) for e in body["data"]
    )
    assert [(e["attributes"]["entity_type"] != "node", e["attributes"]["entity_id"]) for e in body["data"]] == (
        expected_order
    )
    assert body["meta"]["counts"] == {"created": 1, "updated": 6, "deleted": 1}
    assert body["meta"]["results"]["total"] == 8
    assert body["meta"]["since"] == first
    # `latest` is the second release; `since` named explicitly gives the same.
    assert changes(shop.api, shop.url("latest"))["data"] == body["data"]
    assert changes(shop.api, shop.url(second), since=first)["data"] == body["data"]
    # The other way round: what was created is deleted, and the reverse.
    backwards = entries(changes(shop.api, shop.url(first), since=second))
    assert backwards[made["added"]] == ("deleted", [])
    assert backwards[p["sandal"]] == ("created", [])
    assert backwards[p["tee"]] == ("updated", ["breadcrumbs", "name", "updated_at"])
    # A release against itself: nothing.
    same = changes(shop.api, shop.url(second), since=second)
    assert same["data"] == [] and same["meta"]["counts"] == {"created": 0, "updated": 0, "deleted": 0}


def test_renaming_things_the_documents_show(shop: Shop) -> None:
    shop.publish()
    api, h = shop.api, shop.hierarchy
    renamed = api.put(
        node_url(h, shop.nodes["clothes"]),
        json={"data": {"type": "node", "id": shop.nodes["clothes"], "attributes": {"name": "Apparel"}}},
    )
    assert renamed.status_code == 200, renamed.text
    hierarchy = api.put(
        f"/pcm/hierarchies/{h}",
        json={"data": {"type": "hierarchy", "id": h, "attributes": {"description": "Everything"}}},
    )
    assert hierarchy.status_code == 200, hierarchy.text
    second = shop.publish()
    found = entries(changes(shop.api, shop.url(second)))
    # Top-level nodes without sort order are shown newest-updated first (§2.4): renamed, Clothes comes first.
    assert found[h] == ("updated", ["children", "description", "updated_at"])
    assert found[shop.nodes["clothes"]] == ("updated", ["name", "updated_at"])
    # Shirts sits under Clothes: its bread crumbs name the renamed ancestor (and the hierarchy is only described).
    assert found[shop.nodes["shirts"]] == ("updated", ["breadcrumbs"])
    assert shop.nodes["shoes"] not in found
    # Products' own documents name node ids only: a rename of a node changes none of them.
    assert not set(found) & set(shop.products.values())


def test_child_order_and_curated_products(shop: Shop) -> None:
    shop.publish()
    api, h, n = shop.api, shop.hierarchy, shop.nodes
    make_node(api, h, "Hats", slug="hats", parent=n["clothes"])  # Clothes has two children now
    curate(api, h, n["shoes"], shop.products["sandal"])
    second = shop.publish()
    found = entries(changes(shop.api, shop.url(second)))
    hats = next(i for i, (change, _) in found.items() if change == "created")
    assert found[n["clothes"]] == ("updated", ["children"])
    assert found[n["shoes"]] == ("updated", ["curated_products", "products", "updated_at"])
    assert found[hats] == ("created", [])
    assert set(found) == {n["clothes"], n["shoes"], hats}


def test_filters_and_counts(shop: Shop) -> None:
    shop.publish()
    made = edit(shop)
    second = shop.publish()
    url, p = shop.url(second), shop.products
    created = changes(shop.api, url, filter="eq(change,created)")
    assert entries(created) == {made["added"]: ("created", [])}
    assert created["meta"]["counts"] == {"created": 1, "updated": 0, "deleted": 0}
    nodes = changes(shop.api, url, filter="eq(entity_type,node)")
    assert {e["attributes"]["entity_type"] for e in nodes["data"]} == {"node"}
    assert nodes["meta"]["counts"] == {"created": 0, "updated": 3, "deleted": 0}
    chosen = changes(shop.api, url, filter=f"in(entity_id,{p['tee']},{p['sandal']},{uuid.uuid4()},not-an-id)")
    assert set(entries(chosen)) == {p["tee"], p["sandal"]}
    both = changes(shop.api, url, filter="eq(entity_type,product):eq(change,updated)")
    assert set(entries(both)) == {p["tee"], p["polo"], p["boot"]}
    either = changes(shop.api, url, filter="(eq(change,created)|eq(change,deleted))")
    assert set(entries(either)) == {made["added"], p["sandal"]}
    assert changes(shop.api, url, filter="eq(entity_type,hierarchy)")["data"] == []
    for bad in ("eq(name,x)", "like(change,*d)", "gt(entity_id,1)", "eq(change"):
        response = shop.api.get(url, params={"filter": bad})
        assert response.status_code == 400, bad
        assert errors_of(response)[0]["detail"] == "Could not parse the supplied filter"


def test_pages(shop: Shop) -> None:
    shop.publish()
    edit(shop)
    second = shop.publish()
    url = shop.url(second)
    whole = keys(changes(shop.api, url))
    pages = []
    for offset in range(0, len(whole), 3):
        response = shop.api.get(url, params={"page[limit]": "3", "page[offset]": str(offset)})
        assert response.status_code == 200
        body = response.json()
        assert body["meta"]["page"] == {"limit": 3, "offset": offset, "current": offset // 3 + 1, "total": 3}
        assert body["meta"]["results"]["total"] == 8
        assert body["meta"]["counts"] == {"created": 1, "updated": 6, "deleted": 1}
        pages += keys(body)
    assert pages == whole
    first_page = shop.api.get(url, params={"page[limit]": "3"}).json()
    assert first_page["links"]["next"] == f"{ORIGIN}{url}?page[offset]=3&page[limit]=3"
    assert first_page["links"]["prev"] is None
    assert shop.api.get(url, params={"page[offset]": "-1"}).status_code == 400


def test_the_first_release_has_everything_created(shop: Shop) -> None:
    first = shop.publish()
    body = changes(shop.api, shop.url(first))
    assert body["meta"]["since"] is None
    assert body["meta"]["counts"] == {"created": 1 + 3 + 5, "updated": 0, "deleted": 0}
    assert [e["attributes"]["entity_type"] for e in body["data"]] == ["hierarchy"] + ["node"] * 3 + ["product"] * 5


def test_the_default_base_follows_restores_and_deletes(shop: Shop) -> None:
    first = shop.publish()
    set_product(shop.api, shop.products["tee"], name="Second")
    second = shop.publish()
    set_product(shop.api, shop.products["tee"], name="Third")
    assert shop.api.post(f"/pcm/catalogs/{shop.catalog}/releases/{first}/restore").status_code == 200
    third = shop.publish()  # built while the first release was the latest: based on it
    assert changes(shop.api, shop.url(third))["meta"]["since"] == first
    assert changes(shop.api, shop.url(second))["meta"]["since"] == first
    # Its base deleted, a release falls back to the kept release published just before it.
    assert shop.api.delete(f"/pcm/catalogs/{shop.catalog}/releases/{first}").status_code == 204
    assert changes(shop.api, shop.url(third))["meta"]["since"] == second
    assert changes(shop.api, shop.url(second))["meta"]["since"] is None  # nothing before it is kept
    assert changes(shop.api, shop.url(third), since="latest")["data"] == []


def test_unknown_catalog_or_release_is_404_and_a_since_that_is_not_kept_422(shop: Shop, api: Caller) -> None:
    first = shop.publish()
    second = shop.publish()
    other = make_catalog(api, [shop.hierarchy], name="Other")["id"]
    elsewhere = publish(api, other)["id"]
    for url in (
        f"/pcm/catalogs/{uuid.uuid4()}/releases/{first}/changes",
        f"/pcm/catalogs/{shop.catalog}/releases/{uuid.uuid4()}/changes",
        f"/pcm/catalogs/{shop.catalog}/releases/not-an-id/changes",
        f"/pcm/catalogs/{shop.catalog}/releases/{elsewhere}/changes",
        f"/pcm/catalogs/{other}/releases/{first}/changes",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert errors_of(response)[0]["title"] == "Not Found"
    empty = make_catalog(api, [shop.hierarchy], name="Empty")["id"]
    assert api.get(f"/pcm/catalogs/{empty}/releases/latest/changes").status_code == 404
    assert api.delete(f"/pcm/catalogs/{shop.catalog}/releases/{first}").status_code == 204
    for since in (str(uuid.uuid4()), "not-an-id", elsewhere, first):
        response = api.get(shop.url(second), params={"since": since})
        assert response.status_code == 422, since
        [error] = errors_of(response)
        assert error["title"] == "Failed Validation"
        assert since in error["detail"]


def test_changes_need_an_admin_token(shop: Shop, keys: Keys) -> None:
    release = shop.publish()
    response = keys.caller(grant="implicit").get(shop.url(release))
    assert response.status_code == 403
    assert errors_of(response)[0]["title"] == "Forbidden"
    assert shop.api.get(shop.url(release), headers={"Authorization": "Bearer nope"}).status_code == 401
    assert keys.caller(store_id=keys.store("Elsewhere")).get(shop.url(release)).status_code == 404


def test_digests_stored_at_publish_are_those_of_the_stored_release(shop: Shop, db: Database) -> None:
    """Publish computes each entity's digest from what it writes; `release_digests.from_rows` from the rows
    written: the two must agree, or releases published before digests existed would compare wrongly."""
    api, h = shop.api, shop.hierarchy
    associate(api, shop.products["boot"], "CRP_goes_with", [shop.products["tee"], shop.products["scarf"]])
    curate(api, h, shop.nodes["shirts"], shop.products["polo"])
    release_id = shop.publish()
    with db.sessions() as session:
        release = session.query(Release).filter(Release.id == uuid.UUID(release_id)).one()
        every_type = ("hierarchy", "node", "product")
        computed = release_digests.from_rows(session, uuid.UUID(shop.catalog), release, every_type)
        rows = session.query(ReleaseDigest).filter(ReleaseDigest.release_pk == release.pk).all()
    for entity_type in every_type:
        stored = {row.entity_id: row.digest for row in rows if row.entity_type == entity_type}
        assert stored == computed.of(entity_type), entity_type
    assert len(computed.of("product")) == 5 and len(computed.of("node")) == 3


def test_releases_without_digests_compare_the_same(shop: Shop, db: Database) -> None:
    """Releases published before digests were stored (no release_digest rows) are compared from their documents."""
    shop.publish()
    edit(shop)
    second = shop.publish()
    stored = changes(shop.api, shop.url(second))
    with db.sessions.begin() as session:
        session.execute(delete(ReleaseDigest))
        session.execute(delete(ReleaseComparison))  # else the comparison kept above answers
    assert changes(shop.api, shop.url(second)) == stored
    # One side with digests, the other without.
    set_product(shop.api, shop.products["boot"], name="Boots")
    third = shop.publish()
    assert entries(changes(shop.api, shop.url(third), since=second))[shop.products["boot"]] == (
        "updated",
        ["name", "updated_at"],
    )


# --- comparisons kept ---------------------------------------------------------------------------------------


def kept(db: Database) -> list[tuple[int, ...]]:
    """(release pk, base pk, created, updated, deleted) of every comparison kept."""
    with db.sessions() as session:
        rows = session.execute(
            select(
                ReleaseComparison.release_pk,
                ReleaseComparison.base_pk,
                ReleaseComparison.created,
                ReleaseComparison.updated,
                ReleaseComparison.deleted,
            ).order_by(ReleaseComparison.release_pk, ReleaseComparison.base_pk)
        ).all()
    return [tuple(row) for row in rows]


def change_rows(db: Database) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(ReleaseChange)) or 0


def forget(db: Database) -> None:
    with db.sessions.begin() as session:
        session.execute(delete(ReleaseComparison))


def test_a_comparison_is_kept_and_answers_as_one_found_again(shop: Shop, db: Database) -> None:
    """Two releases never change: the first comparison of a pair keeps its changes, later ones read them. Every
    answer (filters, pages, counts) is the one a comparison from scratch gives."""
    first = shop.publish()
    edit(shop)
    second = shop.publish()
    url = shop.url(second)
    assert kept(db) == []
    # A filter on the entity type compares those entities only: nothing kept.
    nodes = changes(shop.api, url, filter="eq(entity_type,node)")
    assert kept(db) == []
    fresh = changes(shop.api, url)
    assert [row[2:] for row in kept(db)] == [(1, 6, 1)] and change_rows(db) == 8
    queries: list[dict[str, str]] = [
        {},
        {"filter": "eq(entity_type,node)"},
        {"filter": "eq(entity_type,product):eq(change,updated)"},
        {"filter": "(eq(change,created)|eq(change,deleted))"},
        {"filter": f"in(entity_id,{shop.products['tee']},{shop.products['sandal']})"},
        {"page[limit]": "3", "page[offset]": "3"},
        {"page[limit]": "3", "page[after]": ""},
        {"since": first},
    ]
    from_kept = [changes(shop.api, url, **query) for query in queries]
    assert from_kept[0] == fresh and from_kept[1] == nodes
    forget(db)
    found_again = []
    for query in queries:
        found_again.append(changes(shop.api, url, **query))
        forget(db)
    assert from_kept == found_again
    # The kept rows are what later comparisons read.
    changes(shop.api, url)
    with db.sessions.begin() as session:
        session.execute(delete(ReleaseChange).where(ReleaseChange.entity_id == uuid.UUID(shop.products["tee"])))
    assert shop.products["tee"] not in entries(changes(shop.api, url))
    # The other way round is another pair; a release against itself and the first release keep nothing.
    forget(db)
    changes(shop.api, shop.url(first), since=second)
    changes(shop.api, url, since=second)
    changes(shop.api, shop.url(first))
    assert [row[2:] for row in kept(db)] == [(1, 6, 1)]


def kept_fields(db: Database) -> dict[str, str | None]:
    """{entity id: fields kept (JSON) or None} of every change kept."""
    with db.sessions() as session:
        rows = session.execute(select(ReleaseChange.entity_id, ReleaseChange.fields)).all()
    return {str(entity_id): fields for entity_id, fields in rows}


def test_the_fields_of_a_change_are_kept_when_first_shown(shop: Shop, db: Database) -> None:
    """Naming what differs compares both releases' documents: the first time an updated change is answered,
    its fields are kept with it, and later answers read them. Only the changes of the page answered are
    named; created and deleted ones name none."""
    shop.publish()
    edit(shop)
    second = shop.publish()
    url = shop.url(second)
    fresh = changes(shop.api, url)
    updated = {i for i, (change, _) in entries(fresh).items() if change == "updated"}
    first_page = changes(shop.api, url, **{"page[limit]": "3"})  # kept by the answer above, named by this one
    forget(db)
    assert changes(shop.api, url, **{"page[limit]": "3"}) == first_page  # keeps the comparison, names 3
    named = {i for i, fields in kept_fields(db).items() if fields is not None}
    assert named == {i for i in keys_of(first_page) if i in updated} and named
    assert changes(shop.api, url) == fresh  # names the others
    assert {i for i, fields in kept_fields(db).items() if fields is not None} == updated
    assert all(kept_fields(db)[i] is None for i in entries(fresh) if i not in updated)
    # Later answers read the kept fields (here made up, to tell them from fields found again).
    tee = shop.products["tee"]
    assert entries(fresh)[tee] == ("updated", ["breadcrumbs", "name", "updated_at"])
    with db.sessions.begin() as session:
        session.execute(
            update(ReleaseChange).where(ReleaseChange.entity_id == uuid.UUID(tee)).values(fields='["kept"]')
        )
    assert entries(changes(shop.api, url))[tee] == ("updated", ["kept"])
    assert entries(changes(shop.api, url, filter=f"eq(entity_type,product):in(entity_id,{tee})"))[tee] == (
        "updated",
        ["kept"],
    )
    # A comparison not kept names its changes every time; so does one kept before fields were.
    forget(db)
    assert changes(shop.api, url, filter="eq(entity_type,product)")["data"] == [
        e for e in fresh["data"] if e["attributes"]["entity_type"] == "product"
    ]
    assert kept(db) == []
    changes(shop.api, url)
    with db.sessions.begin() as session:
        session.execute(update(ReleaseChange).values(fields=None))
    assert changes(shop.api, url) == fresh
    assert {i for i, fields in kept_fields(db).items() if fields is not None} == updated


def test_fields_are_answered_without_waiting_for_a_busy_writer(shop: Shop, db: Database) -> None:
    """Keeping the fields found waits a moment for the write lock, as keeping a comparison does: while
    another transaction holds it, the answer names the fields all the same and keeps none."""
    shop.publish()
    edit(shop)
    second = shop.publish()
    url = shop.url(second)
    fresh = changes(shop.api, url)
    with db.sessions.begin() as session:
        session.execute(update(ReleaseChange).values(fields=None))
    holder = db.sessions()
    try:
        holder.connection(execution_options={"assortment_sqlite_immediate": True})
        holder.execute(update(ReleaseChange).values(fields=None))  # every change row locked, uncommitted
        assert changes(shop.api, url) == fresh
    finally:
        holder.rollback()
        holder.close()
    assert set(kept_fields(db).values()) == {None}
    assert changes(shop.api, url) == fresh
    assert len([f for f in kept_fields(db).values() if f is not None]) == 6


def keys_of(body: dict[str, Any]) -> list[str]:
    return [e["attributes"]["entity_id"] for e in body["data"]]


def test_kept_comparisons_go_with_either_release(shop: Shop, db: Database) -> None:
    first = shop.publish()
    set_product(shop.api, shop.products["tee"], name="Second")
    second = shop.publish()
    set_product(shop.api, shop.products["tee"], name="Third")
    third = shop.publish()
    changes(shop.api, shop.url(second))  # second since first
    changes(shop.api, shop.url(third))  # third since second
    changes(shop.api, shop.url(third), since=first)
    assert len(kept(db)) == 3 and change_rows(db) == 3
    assert shop.api.delete(f"/pcm/catalogs/{shop.catalog}/releases/{first}").status_code == 204
    assert len(kept(db)) == 1 and change_rows(db) == 1  # third since second
    assert shop.api.delete(f"/pcm/catalogs/{shop.catalog}/releases/{third}").status_code == 204
    assert kept(db) == [] and change_rows(db) == 0
    assert entries(changes(shop.api, shop.url(second), since=second)) == {}


def test_a_comparison_answers_without_waiting_for_a_busy_writer(shop: Shop, db: Database) -> None:
    """Keeping a comparison waits a moment for the write lock, not the busy timeout: while another transaction
    writes (here: keeps the same pair, uncommitted), the comparison is answered, found from scratch, not kept."""
    shop.publish()
    edit(shop)
    second = shop.publish()
    with db.sessions() as session:
        releases = session.scalars(select(Release.pk).order_by(Release.pk)).all()
    holder = db.sessions()
    try:
        holder.connection(execution_options={"assortment_sqlite_immediate": True})
        holder.add(ReleaseComparison(release_pk=releases[1], base_pk=releases[0], created=0, updated=0, deleted=0))
        holder.flush()
        body = changes(shop.api, shop.url(second))
        assert body["meta"]["counts"] == {"created": 1, "updated": 6, "deleted": 1}
    finally:
        holder.rollback()
        holder.close()
    assert kept(db) == []
    assert changes(shop.api, shop.url(second)) == body
    assert [row[2:] for row in kept(db)] == [(1, 6, 1)]


# --- the command line ------------------------------------------------------------------------------------


def test_cli_prints_the_changes(shop: Shop, db: Database) -> None:
    cli = Cli(db)
    first = shop.publish()
    made = edit(shop)
    second = shop.publish()
    body = changes(shop.api, shop.url(second))
    result = cli.run("catalogs", "changes", shop.catalog, "--json")
    assert result.code == 0, result.stderr
    printed = result.json()
    assert printed["data"] == body["data"]
    assert printed["meta"]["counts"] == body["meta"]["counts"]
    assert printed["meta"]["since"] == first and printed["meta"]["release"] == second
    # Named releases, either way round.
    result = cli.run("catalogs", "changes", shop.catalog, "--release", first, "--since", second, "--json")
    assert result.code == 0, result.stderr
    assert {e["attributes"]["entity_id"]: e["attributes"]["change"] for e in result.json()["data"]}[made["added"]] == (
        "deleted"
    )
    # A table: one line per change, then the counts.
    table = cli.run("catalogs", "changes", shop.catalog)
    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    tee = next(line for line in lines if shop.products["tee"] in line)
    assert tee.split() == ["updated", "product", shop.products["tee"], "breadcrumbs,name,updated_at"]
    assert "1 created, 6 updated, 1 deleted" in table.stdout + table.stderr
    # Errors: exit 1 with the API's message.
    missing = cli.run("catalogs", "changes", str(uuid.uuid4()))
    assert missing.code == 1 and "not found" in missing.stderr
    wrong = cli.run("catalogs", "changes", shop.catalog, "--since", str(uuid.uuid4()))
    assert wrong.code == 1 and "is not a kept release" in wrong.stderr
