"""`assortment check [--json]` (SPEC §12.3): a database built through the API is clean; each invariant
broken on purpose with direct SQL is reported, and only it.

The unique indexes and foreign keys forbid some of these states, so those cases switch them off for the
corruption (and put them back before the test's tables are emptied).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Index, delete, func, insert, select, update

from assortment.db.models import (
    Association,
    Base,
    Catalog,
    CustomRelationship,
    Node,
    NodeProduct,
    Product,
    ProductCount,
    ProductCountDelta,
    ProductRelationshipSlot,
    Release,
    ReleaseDigest,
    ReleaseNodeProduct,
    ReleaseProduct,
    ReleaseRelated,
)
from assortment.db.types import utcnow
from assortment.domain.integrity import CHECKS, find_cycles
from tests.catalogs import curate, link, make_catalog, make_hierarchy, make_node, publish
from tests.cli.conftest import Cli
from tests.conftest import Caller, Database
from tests.relationships import associate, insert_products, make_definition, make_product, seed_associations


@dataclass
class World:
    """A small store built through the API: two hierarchies, linked and curated products, a bi-directional
    and a one-way relationship with associations, a published catalog."""

    hierarchy: str
    other_hierarchy: str
    kitchen: str  # top-level node of `hierarchy`, with children pots and pans
    garden: str
    pots: str
    pans: str
    elsewhere: str  # top-level node of `other_hierarchy`
    products: list[str]  # p0, p1 linked to kitchen (p0 curated); p2 not linked
    release: str


@pytest.fixture
def world(api: Caller) -> World:
    home = make_hierarchy(api, name="Home", slug="home")["id"]
    other = make_hierarchy(api, name="Other", slug="other")["id"]
    kitchen = make_node(api, home, "Kitchen", slug="kitchen")["id"]
    garden = make_node(api, home, "Garden", slug="garden")["id"]
    pots = make_node(api, home, "Pots", slug="pots", parent=kitchen)["id"]
    pans = make_node(api, home, "Pans", slug="pans", parent=kitchen)["id"]
    elsewhere = make_node(api, other, "Elsewhere", slug="elsewhere")["id"]
    products = [make_product(api, name=f"P{i}", sku=f"P-{i}", status="live") for i in range(3)]
    link(api, home, kitchen, products[0], products[1])
    curate(api, home, kitchen, products[0])
    make_definition(api, "CRP_pair", bi_directional=True)
    make_definition(api, "CRP_upsell")
    assert associate(api, products[0], "CRP_pair", [products[1]])["associated_products"] == [products[1]]
    assert associate(api, products[0], "CRP_upsell", [products[2]])["associated_products"] == [products[2]]
    catalog = make_catalog(api, [home])["id"]
    release = publish(api, catalog)["id"]
    return World(home, other, kitchen, garden, pots, pans, elsewhere, products, release)


def findings(cli: Cli) -> list[tuple[str, str, str]]:
    result = cli.run("check", "--json")
    report = result.json()
    assert set(report) == {"ok", "problems"}, report
    assert report["ok"] is (result.code == 0) is (not report["problems"]), (result, report)
    assert result.code in (0, 1), result
    for problem in report["problems"]:
        assert set(problem) == {"check", "entity_type", "entity_id", "detail"}, problem
        assert problem["check"] in CHECKS and problem["detail"], problem
    return [(p["check"], p["entity_type"], p["entity_id"]) for p in report["problems"]]


def detail(cli: Cli) -> str:
    problems = cli.run("check", "--json").json()["problems"]
    assert len(problems) == 1, problems
    text: str = problems[0]["detail"]
    return text


def pk(db: Database, model: Any, entity_id: str) -> int:
    with db.sessions() as session:
        found = session.scalar(select(model.pk).where(model.id == uuid.UUID(entity_id)))
    assert isinstance(found, int)
    return found


def relationship_pk(db: Database, slug: str) -> int:
    with db.sessions() as session:
        found = session.scalar(select(CustomRelationship.pk).where(CustomRelationship.slug == slug))
    assert isinstance(found, int)
    return found


def execute(db: Database, *statements: Any) -> None:
    with db.sessions.begin() as session:
        for statement in statements:
            session.execute(statement)


@contextmanager
def without_index(db: Database, name: str) -> Iterator[None]:
    """Drop one of node's unique indexes for the block; the block must undo its duplicates before leaving."""
    (index,) = [i for i in Base.metadata.tables["node"].indexes if i.name == name]
    assert isinstance(index, Index)
    # One connection for both: it saw its own DROP, whatever snapshot another pooled connection keeps.
    with db.engine.connect() as connection:
        with connection.begin():
            index.drop(connection)
        try:
            yield
        finally:
            with connection.begin():
                index.create(connection)


def insert_orphan_link(db: Database, node_pk: int, product_pk: int) -> None:
    """Link a node to a product row that does not exist, with the foreign key checks off for that write."""
    if db.name == "sqlite":
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")  # autocommit mode: outside any transaction, so it holds
            cursor.execute(
                "INSERT INTO node_product (node_pk, product_pk, linked_at) VALUES (?, ?, ?)",
                (node_pk, product_pk, "2026-01-01 00:00:00.000000"),
            )
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            raw.close()
    else:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FK triggers
            connection.execute(insert(NodeProduct).values(node_pk=node_pk, product_pk=product_pk, linked_at=utcnow()))


# --- a clean database ---------------------------------------------------------------------------------


def test_a_database_built_through_the_api_is_clean(cli: Cli, world: World) -> None:
    result = cli.run("check", "--json")
    assert result.code == 0, result
    assert result.json() == {"ok": True, "problems": []}
    human = cli.run("check")
    assert human.code == 0 and human.stdout == "", human
    assert "ok: no problems found" in human.stderr


def test_an_empty_database_is_clean(cli: Cli) -> None:
    assert findings(cli) == []


def test_human_output_one_line_per_problem(cli: Cli, db: Database, world: World) -> None:
    execute(db, update(Release).values(total_nodes=Release.total_nodes + 1))
    result = cli.run("check")
    assert result.code == 1, result
    (line,) = result.stdout.splitlines()
    assert line.split("\t")[:3] == ["release_counts", "catalog_release", world.release]
    assert "1 problems found" in result.stderr


# --- one broken invariant at a time -------------------------------------------------------------------


def test_node_whose_parent_is_in_another_hierarchy(cli: Cli, db: Database, world: World) -> None:
    execute(db, update(Node).where(Node.id == uuid.UUID(world.elsewhere)).values(parent_pk=pk(db, Node, world.kitchen)))
    assert findings(cli) == [("node_parent_in_other_hierarchy", "node", world.elsewhere)]
    assert world.other_hierarchy in detail(cli) and world.hierarchy in detail(cli)


def test_cycle(cli: Cli, db: Database, world: World) -> None:
    execute(db, update(Node).where(Node.id == uuid.UUID(world.kitchen)).values(parent_pk=pk(db, Node, world.pots)))
    assert findings(cli) == [("node_cycle", "node", world.kitchen)]
    assert detail(cli) == f"parents form a cycle: {world.kitchen} → {world.pots} → {world.kitchen}"


def test_node_that_is_its_own_parent(cli: Cli, db: Database, world: World) -> None:
    execute(db, update(Node).where(Node.id == uuid.UUID(world.pans)).values(parent_pk=pk(db, Node, world.pans)))
    assert findings(cli) == [("node_cycle", "node", world.pans)]


def test_duplicate_top_level_names(cli: Cli, db: Database, world: World) -> None:
    garden = update(Node).where(Node.id == uuid.UUID(world.garden))
    with without_index(db, "uq_node_top_name"):
        execute(db, garden.values(name="Kitchen"))
        try:
            assert findings(cli) == [("duplicate_sibling_name", "hierarchy", world.hierarchy)]
            assert detail(cli) == f"2 top-level nodes have the name 'Kitchen': {world.kitchen}, {world.garden}"
        finally:
            execute(db, garden.values(name="Garden"))


def test_duplicate_child_slugs(cli: Cli, db: Database, world: World) -> None:
    pans = update(Node).where(Node.id == uuid.UUID(world.pans))
    with without_index(db, "uq_node_parent_slug"):
        execute(db, pans.values(slug="pots"))
        try:
            assert findings(cli) == [("duplicate_sibling_slug", "node", world.kitchen)]
            assert detail(cli) == f"2 children have the slug 'pots': {world.pots}, {world.pans}"
        finally:
            execute(db, pans.values(slug="pans"))


def test_more_than_twenty_curated_products(cli: Cli, db: Database, world: World, api: Caller) -> None:
    scope = api.key.store_id
    assert scope is not None
    extra = insert_products(db, scope, 21)
    garden = pk(db, Node, world.garden)
    now = utcnow()
    execute(
        db,
        insert(NodeProduct).values(
            [{"node_pk": garden, "product_pk": pk(db, Product, p), "linked_at": now} for p in extra]
        ),
        update(Node).where(Node.pk == garden).values(curated_products=extra),
    )
    assert findings(cli) == [("too_many_curated_products", "node", world.garden)]
    assert detail(cli) == "21 curated products, at most 20 allowed"


def test_curated_product_not_linked(cli: Cli, db: Database, world: World) -> None:
    curated = [world.products[0], world.products[2]]
    execute(db, update(Node).where(Node.id == uuid.UUID(world.kitchen)).values(curated_products=curated))
    assert findings(cli) == [("curated_product_not_linked", "node", world.kitchen)]
    assert detail(cli) == f"curated products not linked to the node: {world.products[2]}"


def test_more_than_five_custom_relationships(cli: Cli, db: Database, world: World, api: Caller) -> None:
    product = make_product(api, name="Busy")
    slugs = [f"CRP_r{i}" for i in range(6)]
    for slug in slugs:
        make_definition(api, slug)
    now = utcnow()
    rows = [
        {"product_pk": pk(db, Product, product), "relationship_pk": relationship_pk(db, s), "attached_at": now}
        for s in slugs
    ]
    execute(db, insert(ProductRelationshipSlot).values(rows))
    assert findings(cli) == [("too_many_custom_relationships", "product", product)]
    assert detail(cli) == "6 custom relationships attached, at most 5 allowed"


def test_more_than_2000_associations(cli: Cli, db: Database, world: World, api: Caller) -> None:
    make_definition(api, "CRP_bulk")
    seed_associations(db, world.products[2], "CRP_bulk", 2001)
    assert findings(cli) == [("too_many_associations", "product", world.products[2])]
    assert detail(cli) == "2001 associations under 'CRP_bulk', at most 2000 allowed"


def test_bi_directional_association_without_reverse(cli: Cli, db: Database, world: World) -> None:
    pair = relationship_pk(db, "CRP_pair")
    p0, p1 = pk(db, Product, world.products[0]), pk(db, Product, world.products[1])
    with db.sessions() as session:
        forward = session.scalar(
            select(Association.pk).where(
                Association.source_pk == p0, Association.target_pk == p1, Association.relationship_pk == pair
            )
        )
    execute(
        db,
        delete(Association).where(
            Association.source_pk == p1, Association.target_pk == p0, Association.relationship_pk == pair
        ),
    )
    assert findings(cli) == [("association_without_reverse", "association", str(forward))]


def test_association_whose_source_does_not_carry_the_relationship(cli: Cli, db: Database, world: World) -> None:
    upsell, p0 = relationship_pk(db, "CRP_upsell"), pk(db, Product, world.products[0])
    execute(
        db,
        delete(ProductRelationshipSlot).where(
            ProductRelationshipSlot.product_pk == p0, ProductRelationshipSlot.relationship_pk == upsell
        ),
    )
    with db.sessions() as session:
        edge = session.scalar(select(Association.pk).where(Association.relationship_pk == upsell))
    assert findings(cli) == [("association_not_attached", "association", str(edge))]


def test_product_associated_with_itself(cli: Cli, db: Database, world: World) -> None:
    p0, now = pk(db, Product, world.products[0]), utcnow()
    row = {"source_pk": p0, "target_pk": p0, "relationship_pk": relationship_pk(db, "CRP_upsell")}
    execute(db, insert(Association).values(**row, status="active", created_at=now, updated_at=now))
    with db.sessions() as session:
        edge = session.scalar(select(Association.pk).where(Association.source_pk == p0, Association.target_pk == p0))
    assert findings(cli) == [("association_with_itself", "association", str(edge))]


def test_row_whose_foreign_key_names_nothing(cli: Cli, db: Database, world: World) -> None:
    kitchen = pk(db, Node, world.kitchen)
    insert_orphan_link(db, kitchen, 987654321)
    assert findings(cli) == [("missing_row", "node_product", f"{kitchen}/987654321")]
    assert detail(cli) == "node_product.product_pk = 987654321 names no product.pk"


def test_release_row_naming_a_product_the_release_does_not_hold(cli: Cli, db: Database, world: World) -> None:
    release = pk(db, Release, world.release)
    with db.sessions() as session:
        source = session.scalars(select(ReleaseProduct.product_id).where(ReleaseProduct.release_pk == release)).first()
    stranger = uuid.uuid4()
    row = {"release_pk": release, "source_id": source, "slug": "CRP_upsell", "position": 99, "target_id": stranger}
    execute(db, insert(ReleaseRelated).values(**row))
    assert findings(cli) == [("missing_row", "catalog_release", world.release)]
    assert detail(cli) == f"release_related.target_id = {stranger} names no release_product.product_id of the release"


@pytest.mark.parametrize("model", [ReleaseProduct, ReleaseNodeProduct, ReleaseRelated, ReleaseDigest])
def test_release_row_whose_release_does_not_exist(cli: Cli, db: Database, world: World, model: Any) -> None:
    """The big release tables have no foreign key to their release (models.py): check looks for them."""
    release = pk(db, Release, world.release)
    table = model.__table__
    with db.sessions() as session:
        row = session.execute(select(table).where(table.c.release_pk == release).limit(1)).mappings().one()
    execute(db, insert(table).values({**row, "release_pk": 987654321}))
    key = "/".join(str(row[column.name]) for column in table.primary_key.columns if column.name != "release_pk")
    assert findings(cli) == [("missing_row", table.name, f"987654321/{key}")]
    assert detail(cli) == f"{table.name}.release_pk = 987654321 names no catalog_release.pk"


def test_release_whose_counts_disagree_with_its_rows(cli: Cli, db: Database, world: World) -> None:
    execute(db, update(Release).values(total_products=Release.total_products + 2))
    assert findings(cli) == [("release_counts", "catalog_release", world.release)]
    assert detail(cli) == "total_products is 4 but it holds 2 products"


def test_catalog_whose_latest_is_not_one_of_its_releases(cli: Cli, db: Database, world: World) -> None:
    release = pk(db, Release, world.release)
    with db.sessions() as session:
        catalog = session.scalar(select(Catalog.id).where(Catalog.latest_release_pk == release))
    execute(db, update(Catalog).values(latest_release_pk=release + 1000))
    assert findings(cli) == [("latest_release", "catalog", str(catalog))]
    assert detail(cli) == f"catalog.latest_release_pk = {release + 1000} names no release of the catalog"
    execute(db, update(Catalog).values(latest_release_pk=None))
    assert detail(cli) == "the catalog has releases but names none as its latest"


def test_product_count_that_disagrees_with_the_products(cli: Cli, db: Database, world: World) -> None:
    with db.sessions() as session:
        scope_id, owned = session.execute(select(Product.scope_id, func.count()).group_by(Product.scope_id)).one()
    execute(db, update(ProductCount).values(products=ProductCount.products + 3))
    assert findings(cli) == [("product_count", "scope", str(scope_id))]
    assert detail(cli) == f"product_count says {owned + 3} but the scope owns {owned}"
    # The count is the folded count plus the deltas not folded yet (PostgreSQL's, migration cc89063b9cfe).
    execute(db, insert(ProductCountDelta).values(scope_id=scope_id, products=-3))
    assert findings(cli) == []
    execute(db, insert(ProductCountDelta).values(scope_id=scope_id, products=-1))
    assert detail(cli) == f"product_count says {owned - 1} but the scope owns {owned}"
    stray = uuid.uuid4()
    execute(db, delete(ProductCountDelta), insert(ProductCountDelta).values(scope_id=stray, products=2))
    assert sorted(findings(cli)) == sorted([("product_count", "scope", str(s)) for s in (scope_id, stray)])


def test_every_check_has_a_case() -> None:
    """The cases above cover CHECKS (keep this list in step when a check is added)."""
    covered = {
        "node_parent_in_other_hierarchy",
        "node_cycle",
        "duplicate_sibling_name",
        "duplicate_sibling_slug",
        "too_many_curated_products",
        "curated_product_not_linked",
        "too_many_custom_relationships",
        "too_many_associations",
        "association_without_reverse",
        "association_not_attached",
        "association_with_itself",
        "missing_row",
        "release_counts",
        "latest_release",
        "product_count",
    }
    assert covered == set(CHECKS)


# --- the cycle finder ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parents", "cycles"),
    [
        ({}, []),
        ({2: 1, 3: 2}, []),
        ({1: 1}, [[1]]),
        ({1: 2, 2: 1}, [[1, 2]]),
        ({3: 1, 1: 2, 2: 3, 4: 3, 5: 4}, [[1, 2, 3]]),  # 4 and 5 hang below the cycle
        ({5: 6, 6: 5, 1: 2, 2: 1}, [[5, 6], [1, 2]]),
    ],
)
def test_find_cycles(parents: dict[int, int], cycles: list[list[int]]) -> None:
    assert find_cycles(parents) == cycles
