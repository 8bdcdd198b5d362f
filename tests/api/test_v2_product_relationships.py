"""The v2 `product_relationship` dialect: seed 004, SPEC §7.1–7.2 and §B-28.

A product_relationship is one association row of the PXM custom relationships (source = parent,
target = child), addressed by integer ids or by codes (relationship code = slug without `CRP_`,
product code = sku). Every PXM rule applies with seed 002's wording.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from assortment.db.models import Association, CustomRelationship, Product, ProductRelationshipSlot
from assortment.db.types import utcnow
from tests.catalogs import link as link_products
from tests.catalogs import make_catalog, make_hierarchy, make_node, publish, view, view_url
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of, product_body
from tests.trees import make_product as make_tree_product

LINKS = "/api/v2/product_relationships"

# Seed 002's texts.
AT_FIVE = (
    "product already has 5 custom relationships, cannot associate more as it has reached the limit of 5 "
    "custom relationships"
)
AT_2000 = "exceeded maximum allowed associations (2000). Please review and try again"
SELF = "cannot associate a product with itself"


# --- builders ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prod:
    id: str  # the PXM uuid
    pk: int  # the v2 integer id
    sku: str | None
    name: str

    def view(self) -> dict[str, Any]:
        return {"id": self.pk, "code": self.sku, "name": self.name}


@dataclass(frozen=True)
class Kind:
    id: str
    pk: int
    slug: str
    code: str
    name: str

    def view(self) -> dict[str, Any]:
        return {"id": self.pk, "name": self.name, "code": self.code}


def make_product(api: Caller, db: Database, name: str, sku: str | None = None) -> Prod:
    attributes = {"name": name} if sku is None else {"name": name, "sku": sku}
    response = api.post("/pcm/products", json=product_body(**attributes))
    assert response.status_code == 201, response.text
    product_id = response.json()["data"]["id"]
    with db.sessions() as session:
        pk = session.scalar(select(Product.pk).where(Product.id == uuid.UUID(product_id)))
    assert isinstance(pk, int)
    return Prod(product_id, pk, sku, name)


def make_kind(api: Caller, db: Database, code: str, name: str | None = None, *, bi: bool = False) -> Kind:
    """A relationship type, made in the PXM dialect (a custom relationship definition)."""
    name = name or f"Name of {code}"
    attributes: dict[str, Any] = {"name": name, "slug": code}
    if bi:
        attributes["bi_directional"] = True
    body = {"data": {"type": "custom-relationship", "attributes": attributes}}
    response = api.post("/pcm/custom-relationships", json=body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    with db.sessions() as session:
        pk = session.scalar(select(CustomRelationship.pk).where(CustomRelationship.id == uuid.UUID(data["id"])))
    assert isinstance(pk, int)
    return Kind(data["id"], pk, data["attributes"]["slug"], code.removeprefix("CRP_"), name)


def wrap(**fields: Any) -> dict[str, Any]:
    return {"product_relationship": fields}


def by_ids(kind: Kind, parent: Prod, child: Prod, **extra: Any) -> dict[str, Any]:
    return wrap(relationship_id=kind.pk, parent_product_id=parent.pk, child_product_id=child.pk, **extra)


def create(api: Caller, body: Any) -> dict[str, Any]:
    response = api.post(LINKS, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def entries(api: Caller, **params: Any) -> list[dict[str, Any]]:
    response = api.get(LINKS, params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["entries"]
    return found


def triples(api: Caller, **params: Any) -> set[tuple[int, int, int]]:
    """(relationship id, parent id, child id) of every listed link."""
    return {
        (e["relationship"]["id"], e["parent_product"]["id"], e["child_product"]["id"]) for e in entries(api, **params)
    }


def pxm_related(api: Caller, product: Prod, kind: Kind) -> list[str]:
    response = api.get(f"/pcm/products/{product.id}/custom-relationships/{kind.slug}")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def pxm_related_products(api: Caller, product: Prod, kind: Kind) -> list[str]:
    response = api.get(f"/pcm/products/{product.id}/custom-relationships/{kind.slug}/products")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def pxm_slugs(api: Caller, product: Prod) -> list[str]:
    response = api.get(f"/pcm/products/{product.id}")
    assert response.status_code == 200, response.text
    slugs: list[str] = response.json()["data"]["meta"].get("custom_relationships", [])
    return slugs


def count_links(db: Database) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(Association)) or 0


def count_slots(db: Database) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(ProductRelationshipSlot)) or 0


def insert_products(db: Database, scope_id: uuid.UUID, count: int, prefix: str) -> list[int]:
    """Products written straight to the database (fast); their integer ids in creation order."""
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "scope_id": scope_id,
            "name": f"{prefix} {i}",
            "status": "draft",
            "commodity_type": "physical",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(count)
    ]
    with db.sessions.begin() as session:
        session.execute(insert(Product), rows)
        return list(session.scalars(select(Product.pk).where(Product.name.like(f"{prefix} %")).order_by(Product.pk)))


def fill_links(db: Database, source_pk: int, kind: Kind, target_pks: list[int]) -> None:
    """Associations written straight to the database, with the slug attached to every product."""
    now = utcnow()
    with db.sessions.begin() as session:
        has = session.scalar(
            select(func.count())
            .select_from(ProductRelationshipSlot)
            .where(ProductRelationshipSlot.product_pk == source_pk, ProductRelationshipSlot.relationship_pk == kind.pk)
        )
        slots = [{"product_pk": pk, "relationship_pk": kind.pk, "attached_at": now} for pk in target_pks]
        if not has:
            slots.append({"product_pk": source_pk, "relationship_pk": kind.pk, "attached_at": now})
        session.execute(insert(ProductRelationshipSlot), slots)
        session.execute(
            insert(Association),
            [
                {
                    "source_pk": source_pk,
                    "relationship_pk": kind.pk,
                    "target_pk": pk,
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for pk in target_pks
            ],
        )


@pytest.fixture
def world(api: Caller, db: Database) -> tuple[Kind, Prod, Prod]:
    kind = make_kind(api, db, "relationship_1", "My Relationship 1")
    parent = make_product(api, db, "Product 1", "product_code_1")
    child = make_product(api, db, "Product 2", "product_code_2")
    return kind, parent, child


SEED_KEYS = {"id", "sort_order", "status", "relationship", "parent_product", "child_product"}


def check_shape(link: dict[str, Any], kind: Kind, parent: Prod, child: Prod) -> None:
    assert set(link) >= SEED_KEYS, link
    assert isinstance(link["id"], int) and not isinstance(link["id"], bool)
    assert link["relationship"] == kind.view()
    assert link["parent_product"] == parent.view()
    assert link["child_product"] == child.view()
    for key in ("relationship", "parent_product", "child_product"):
        assert isinstance(link[key]["id"], int)


# --- create (seed 004) -------------------------------------------------------------------------------


def test_create_by_ids_answers_201_with_the_seed_shape(
    api: Caller, db: Database, world: tuple[Kind, Prod, Prod]
) -> None:
    kind, parent, child = world
    response = api.post(LINKS, json=by_ids(kind, parent, child, status="active", sort_order=1))
    assert response.status_code == 201, response.text
    link = response.json()
    check_shape(link, kind, parent, child)
    assert link["relationship"] == {"id": kind.pk, "name": "My Relationship 1", "code": "relationship_1"}
    assert link["parent_product"] == {"id": parent.pk, "code": "product_code_1", "name": "Product 1"}
    assert link["sort_order"] == 1
    assert link["status"] == "active"
    with db.sessions() as session:
        row = session.scalars(select(Association)).one()
    assert (row.pk, row.source_pk, row.relationship_pk, row.target_pk) == (
        link["id"],
        parent.pk,
        kind.pk,
        child.pk,
    )


def test_create_by_codes_maps_code_to_slug_and_sku(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    assert kind.slug == "CRP_relationship_1"
    link = create(
        api,
        wrap(
            status="active",
            sort_order=2,
            relationship_code="relationship_1",
            parent_product_code="product_code_1",
            child_product_code="product_code_2",
        ),
    )
    check_shape(link, kind, parent, child)
    assert link["sort_order"] == 2
    assert link["status"] == "active"
    assert triples(api) == {(kind.pk, parent.pk, child.pk)}


def test_create_with_ids_and_codes_that_agree(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    link = create(
        api,
        by_ids(
            kind,
            parent,
            child,
            relationship_code=kind.code,
            parent_product_code=parent.sku,
            child_product_code=child.sku,
        ),
    )
    check_shape(link, kind, parent, child)


def test_create_mixes_ids_and_codes_per_field(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    link = create(api, wrap(relationship_code=kind.code, parent_product_id=parent.pk, child_product_code=child.sku))
    check_shape(link, kind, parent, child)


def test_a_prefixed_code_names_the_same_relationship(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    link = create(api, wrap(relationship_code=kind.slug, parent_product_id=parent.pk, child_product_id=child.pk))
    assert link["relationship"] == kind.view()


def test_defaults_status_active_and_no_sort_order(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    link = create(api, by_ids(kind, parent, child))
    assert link["status"] == "active"
    assert link["sort_order"] is None


def test_every_field_accepts_nil(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    link = create(
        api,
        by_ids(
            kind,
            parent,
            child,
            relationship_code=None,
            parent_product_code=None,
            child_product_code=None,
            status=None,
            sort_order=None,
        ),
    )
    check_shape(link, kind, parent, child)
    assert link["status"] == "active"
    assert link["sort_order"] is None
    # ...and with the ids nil, the codes are used
    other = create(
        api,
        wrap(
            relationship_id=None,
            relationship_code=kind.code,
            parent_product_id=None,
            parent_product_code=child.sku,
            child_product_id=None,
            child_product_code=parent.sku,
        ),
    )
    check_shape(other, kind, child, parent)


def test_create_inactive(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    link = create(api, by_ids(kind, parent, child, status="inactive", sort_order=-3))
    assert link["status"] == "inactive"
    assert link["sort_order"] == -3
    assert entries(api)[0]["status"] == "inactive"


ROLES = [
    ("relationship_id", "relationship_code"),
    ("parent_product_id", "parent_product_code"),
    ("child_product_id", "child_product_code"),
]


@pytest.fixture
def spare(api: Caller, db: Database) -> tuple[Kind, Prod]:
    """A second relationship type and a third product, for disagreeing references."""
    return make_kind(api, db, "other_kind"), make_product(api, db, "Product 3", "product_code_3")


def _ids_and_codes(kind: Kind, parent: Prod, child: Prod) -> dict[str, Any]:
    return {
        "relationship_id": kind.pk,
        "relationship_code": kind.code,
        "parent_product_id": parent.pk,
        "parent_product_code": parent.sku,
        "child_product_id": child.pk,
        "child_product_code": child.sku,
    }


@pytest.mark.parametrize(("id_field", "code_field"), ROLES)
def test_id_and_code_that_disagree_are_422(
    api: Caller,
    db: Database,
    world: tuple[Kind, Prod, Prod],
    spare: tuple[Kind, Prod],
    id_field: str,
    code_field: str,
) -> None:
    kind, parent, child = world
    other_kind, third = spare
    fields = _ids_and_codes(kind, parent, child)
    fields[code_field] = other_kind.code if code_field == "relationship_code" else third.sku
    response = api.post(LINKS, json=wrap(**fields))
    assert response.status_code == 422, response.text
    errors_of(response)
    # the other way round too: the id names something else than the code
    fields = _ids_and_codes(kind, parent, child)
    fields[id_field] = other_kind.pk if id_field == "relationship_id" else third.pk
    response = api.post(LINKS, json=wrap(**fields))
    assert response.status_code == 422, response.text
    assert count_links(db) == 0
    assert count_slots(db) == 0


@pytest.mark.parametrize(("id_field", "code_field"), ROLES)
def test_neither_id_nor_code_is_422(
    api: Caller, db: Database, world: tuple[Kind, Prod, Prod], id_field: str, code_field: str
) -> None:
    kind, parent, child = world
    for missing in ({}, {id_field: None, code_field: None}):
        fields = _ids_and_codes(kind, parent, child)
        del fields[id_field], fields[code_field]
        fields.update(missing)
        response = api.post(LINKS, json=wrap(**fields))
        assert response.status_code == 422, response.text
        [error] = errors_of(response)
        assert error["title"] == "Failed Validation"
        assert id_field.removesuffix("_id") in error["detail"]
    assert count_links(db) == 0


@pytest.mark.parametrize(("id_field", "code_field"), ROLES)
def test_references_not_found_are_422(
    api: Caller, db: Database, world: tuple[Kind, Prod, Prod], id_field: str, code_field: str
) -> None:
    kind, parent, child = world
    for field, value in ((id_field, 999_999), (code_field, "no_such_code")):
        fields = by_ids(kind, parent, child)["product_relationship"]
        fields.pop(id_field)
        fields[field] = value
        response = api.post(LINKS, json=wrap(**fields))
        assert response.status_code == 422, response.text
        [error] = errors_of(response)
        assert "not found" in error["detail"]
    # a product without a sku is never found by an empty code
    fields = by_ids(kind, parent, child)["product_relationship"]
    fields.pop(id_field)
    fields[code_field] = ""
    assert api.post(LINKS, json=wrap(**fields)).status_code == 422
    assert count_links(db) == 0


def test_a_product_without_sku_has_a_nil_code(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, _ = world
    nameless = make_product(api, db, "No sku")
    link = create(api, wrap(relationship_id=kind.pk, parent_product_id=parent.pk, child_product_id=nameless.pk))
    assert link["child_product"] == {"id": nameless.pk, "code": None, "name": "No sku"}


def test_duplicates_are_422_however_they_are_named(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    first = create(api, by_ids(kind, parent, child, sort_order=1))
    for body in (
        by_ids(kind, parent, child, sort_order=5),
        wrap(relationship_code=kind.code, parent_product_code=parent.sku, child_product_code=child.sku),
        by_ids(kind, parent, child, status="inactive"),
    ):
        response = api.post(LINKS, json=body)
        assert response.status_code == 422, response.text
        [error] = errors_of(response)
        assert "already exists" in error["detail"]
    [only] = entries(api)
    assert only == first  # unchanged: neither sort order nor status moved
    # the reverse direction and another type are different links
    create(api, by_ids(kind, child, parent))
    create(api, by_ids(make_kind(api, db, "second"), parent, child))
    assert count_links(db) == 3


def test_a_link_made_in_pxm_is_a_duplicate_in_v2(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    response = api.post(
        f"/pcm/products/{parent.id}/custom-relationships/{kind.slug}",
        json={"data": [{"type": "product", "id": child.id}]},
    )
    assert response.status_code == 201, response.text
    assert api.post(LINKS, json=by_ids(kind, parent, child)).status_code == 422


# --- body validation ---------------------------------------------------------------------------------

VALID = {"relationship_id": 0, "parent_product_id": 0, "child_product_id": 0}  # filled in by the test


BAD_WRAPPERS: list[Any] = [
    None,  # no body at all
    {},
    [],
    "text",
    {"product_relationship": None},
    {"product_relationship": "x"},
    {"product_relationship": []},
    {"product_relationship": 5},
    {"relationship": {}},
]

BAD_VALUES: list[tuple[str, Any]] = [
    *[(f, v) for f, _ in ROLES for v in ("1", True, False, 1.5, 2.0, [1], {"id": 1})],
    *[(f, v) for _, f in ROLES for v in (1, True, 1.5, ["x"], {"code": "x"}, "a\x00b")],
    *[("status", v) for v in ("deleted", "Active", "", 1, True, ["active"])],
    *[("sort_order", v) for v in ("1", 1.5, 1.0, True, [1])],
]


def test_the_wrapper_must_be_a_hash(api: Caller, db: Database) -> None:
    for body in BAD_WRAPPERS:
        response = api.post(LINKS, json=body) if body is not None else api.post(LINKS)
        assert response.status_code == 422, (body, response.text)
        [error] = errors_of(response)
        assert "product_relationship" in error["detail"]
    assert count_links(db) == 0


def test_typed_fields(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    """Ids integers (not strings, booleans or floats), codes strings, status active/inactive, sort_order
    an integer: anything else is 422 naming the field, and nothing is written."""
    kind, parent, child = world
    for field, value in BAD_VALUES:
        body = by_ids(kind, parent, child)
        body["product_relationship"][field] = value
        response = api.post(LINKS, json=body)
        assert response.status_code == 422, (field, value, response.text)
        [error] = errors_of(response)
        assert field in error["detail"], (field, value, error)
    assert count_links(db) == 0
    assert count_slots(db) == 0


def test_integer_ids_that_cannot_exist_are_422_not_500(
    api: Caller, db: Database, world: tuple[Kind, Prod, Prod]
) -> None:
    kind, parent, child = world
    for value in (0, -1, 2**31, 2**63, 10**30):
        body = by_ids(kind, parent, child)
        body["product_relationship"]["child_product_id"] = value
        assert api.post(LINKS, json=body).status_code == 422
    for value in (2**31, -(2**31) - 5, 10**30):
        assert api.post(LINKS, json=by_ids(kind, parent, child, sort_order=value)).status_code == 422
    assert count_links(db) == 0


def test_malformed_json_is_refused(api: Caller, db: Database) -> None:
    response = api.post(LINKS, content=b'{"product_relationship": {', headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    errors_of(response)
    assert count_links(db) == 0


def test_unknown_fields_are_ignored(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    link = create(api, by_ids(kind, parent, child, colour="blue"))
    check_shape(link, kind, parent, child)


# --- PXM limits (seed 002 wording), atomically -------------------------------------------------------


def test_self_link_is_422(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, _ = world
    response = api.post(LINKS, json=by_ids(kind, parent, parent))
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["detail"] == SELF
    assert count_links(db) == 0
    assert pxm_slugs(api, parent) == []  # nothing attached either


def _five_kinds(api: Caller, db: Database) -> list[Kind]:
    return [make_kind(api, db, f"kind_{i}") for i in range(5)]


def test_parent_already_at_five_relationship_types(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    kinds = _five_kinds(api, db)
    others = [make_product(api, db, f"Other {i}") for i in range(5)]
    for k, other in zip(kinds, others, strict=True):
        create(api, by_ids(k, parent, other))
    before = count_links(db)
    response = api.post(LINKS, json=by_ids(kind, parent, child))
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["detail"] == AT_FIVE
    assert count_links(db) == before
    assert kind.slug not in pxm_slugs(api, parent)
    assert pxm_slugs(api, child) == []
    # a type the parent already carries is fine
    create(api, by_ids(kinds[0], parent, child))


def test_child_already_at_five_relationship_types(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    kinds = _five_kinds(api, db)
    for k in kinds:
        create(api, by_ids(k, child, make_product(api, db, f"For {k.code}")))
    before = count_links(db)
    response = api.post(LINKS, json=by_ids(kind, parent, child))
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["detail"] == AT_FIVE
    assert count_links(db) == before
    assert pxm_slugs(api, parent) == []  # the parent did not get the type attached
    # the child already carries kinds[0]: linking under it is fine
    create(api, by_ids(kinds[0], parent, child))


def test_two_thousand_children_per_type(api: Caller, db: Database, keys: Keys) -> None:
    kind = make_kind(api, db, "many")
    parent = make_product(api, db, "Parent", "P")
    child = make_product(api, db, "Child", "C")
    store_id = api.key.store_id
    assert store_id is not None
    fill_links(db, parent.pk, kind, insert_products(db, store_id, 1999, "bulk"))
    create(api, by_ids(kind, parent, child))  # the 2000th
    extra = make_product(api, db, "One too many", "X")
    response = api.post(LINKS, json=by_ids(kind, parent, extra))
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["detail"] == AT_2000
    assert count_links(db) == 2000
    assert pxm_slugs(api, extra) == []
    # another type, or another parent, is not limited
    create(api, by_ids(make_kind(api, db, "few"), parent, extra))
    create(api, by_ids(kind, child, extra))


def test_two_thousand_limit_on_the_reverse_side_of_a_bi_directional_type(api: Caller, db: Database) -> None:
    kind = make_kind(api, db, "pair", bi=True)
    parent = make_product(api, db, "Parent", "P")
    child = make_product(api, db, "Child", "C")
    store_id = api.key.store_id
    assert store_id is not None
    fill_links(db, child.pk, kind, insert_products(db, store_id, 2000, "bulk"))
    before = count_links(db)
    response = api.post(LINKS, json=by_ids(kind, parent, child))
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["detail"] == AT_2000
    assert count_links(db) == before


def test_inactive_links_count_toward_the_limits(api: Caller, db: Database) -> None:
    kinds = _five_kinds(api, db)
    parent = make_product(api, db, "Parent", "P")
    for k in kinds:
        create(api, by_ids(k, parent, make_product(api, db, f"For {k.code}"), status="inactive"))
    sixth = make_kind(api, db, "sixth")
    response = api.post(LINKS, json=by_ids(sixth, parent, make_product(api, db, "Last")))
    assert response.status_code == 422
    assert errors_of(response)[0]["detail"] == AT_FIVE


# --- list ----------------------------------------------------------------------------------------------


def _many_links(api: Caller, db: Database, count: int) -> tuple[Kind, Prod, list[int]]:
    kind = make_kind(api, db, "bulk_kind")
    parent = make_product(api, db, "Parent", "P")
    store_id = api.key.store_id
    assert store_id is not None
    children = insert_products(db, store_id, count, "child")
    with db.sessions() as session:
        ids = [str(i) for i in session.scalars(select(Product.id).where(Product.pk.in_(children)))]
    response = api.post(
        f"/pcm/products/{parent.id}/custom-relationships/{kind.slug}",
        json={"data": [{"type": "product", "id": i} for i in ids]},
    )
    assert response.status_code == 201, response.text
    assert len(response.json()["meta"]["associated_products"]) == count
    return kind, parent, children


def test_list_pages_default_to_fifty(api: Caller, db: Database) -> None:
    _, _, children = _many_links(api, db, 55)
    response = api.get(LINKS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"page", "per_page", "total_pages", "total_entries", "entries"}
    assert (body["page"], body["per_page"], body["total_pages"], body["total_entries"]) == (1, 50, 2, 55)
    assert len(body["entries"]) == 50
    second = api.get(LINKS, params={"page": 2}).json()
    assert (second["page"], second["per_page"], second["total_pages"], second["total_entries"]) == (2, 50, 2, 55)
    assert len(second["entries"]) == 5
    listed = [e["child_product"]["id"] for e in body["entries"] + second["entries"]]
    assert sorted(listed) == sorted(children)
    beyond = api.get(LINKS, params={"page": 3}).json()
    assert beyond["entries"] == [] and beyond["total_entries"] == 55


def test_list_per_page(api: Caller, db: Database) -> None:
    _many_links(api, db, 45)
    seen: list[int] = []
    for page in (1, 2, 3):
        body = api.get(LINKS, params={"page": page, "per_page": 20}).json()
        assert (body["page"], body["per_page"], body["total_pages"], body["total_entries"]) == (page, 20, 3, 45)
        seen += [e["id"] for e in body["entries"]]
    assert len(seen) == 45 == len(set(seen))


def test_empty_list(api: Caller) -> None:
    body = api.get(LINKS).json()
    assert body == {"page": 1, "per_page": 50, "total_pages": 0, "total_entries": 0, "entries": []}


def test_bad_list_parameters_are_422(api: Caller) -> None:
    for params in (
        {"page": "0"},
        {"page": "-1"},
        {"page": "x"},
        {"per_page": "0"},
        {"per_page": "1.5"},
        {"status": "deleted"},
        {"id": "abc"},
        {"id": "-1"},
        {"created_time_from": "yesterday"},
        {"created_time_to": "2016-13-40"},
        {"updated_time_from": "soon"},
        {"updated_time_to": "x"},
    ):
        response = api.get(LINKS, params=params)
        assert response.status_code == 422, (params, response.text)
        errors_of(response)


def test_list_entries_have_the_seed_shape(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    made = create(api, by_ids(kind, parent, child, sort_order=4))
    [listed] = entries(api)
    assert listed == made
    check_shape(listed, kind, parent, child)


def test_filter_by_id_and_status(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    third = make_product(api, db, "Third", "T")
    a = create(api, by_ids(kind, parent, child))
    b = create(api, by_ids(kind, parent, third, status="inactive"))
    c = create(api, by_ids(kind, child, third))
    assert [e["id"] for e in entries(api, id=b["id"])] == [b["id"]]
    assert entries(api, id=999_999) == []
    assert sorted(e["id"] for e in entries(api, status="active")) == sorted([a["id"], c["id"]])
    assert [e["id"] for e in entries(api, status="inactive")] == [b["id"]]
    assert entries(api, id=b["id"], status="active") == []
    assert api.get(LINKS, params={"id": b["id"]}).json()["total_entries"] == 1
    assert sorted(e["id"] for e in entries(api, id=f"{a['id']},{c['id']}")) == sorted([a["id"], c["id"]])


def _stamp(db: Database, pk: int, created: datetime, updated: datetime) -> None:
    with db.sessions.begin() as session:
        session.execute(update(Association).where(Association.pk == pk).values(created_at=created, updated_at=updated))


def test_filter_by_created_and_updated_time(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    third = make_product(api, db, "Third", "T")
    links = [
        create(api, by_ids(kind, parent, child)),
        create(api, by_ids(kind, parent, third)),
        create(api, by_ids(kind, child, third)),
    ]
    ids = [link["id"] for link in links]
    for i, pk in enumerate(ids):
        _stamp(db, pk, datetime(2016 + i, 5, 30, 5, 13, 26, tzinfo=UTC), datetime(2020 - i, 1, 1, tzinfo=UTC))

    def listed(**params: str) -> list[int]:
        return sorted(e["id"] for e in entries(api, **params))

    assert listed(created_time_from="2017-05-30T05:13:26Z") == ids[1:]  # bounds are inclusive
    assert listed(created_time_to="2017-05-30T05:13:26Z") == ids[:2]
    assert listed(created_time_from="2016-06-01T00:00:00Z", created_time_to="2017-12-31T00:00:00Z") == [ids[1]]
    assert listed(created_time_from="2030-01-01T00:00:00Z") == []
    assert listed(updated_time_from="2019-01-01T00:00:00Z") == ids[:2]
    assert listed(updated_time_to="2018-06-01T00:00:00Z") == [ids[2]]
    assert listed(updated_time_from="2018-06-01T00:00:00Z", updated_time_to="2019-06-01T00:00:00Z") == [ids[1]]
    assert listed(created_time_from="2016-01-01T00:00:00+02:00", updated_time_to="2019-01-01T00:00:00Z") == ids[1:]
    body = api.get(LINKS, params={"created_time_from": "2017-01-01T00:00:00Z", "per_page": 1}).json()
    assert (body["total_entries"], body["total_pages"]) == (2, 2)


# --- get / put / delete one ----------------------------------------------------------------------------


def test_get_one(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    made = create(api, by_ids(kind, parent, child, sort_order=7))
    response = api.get(f"{LINKS}/{made['id']}")
    assert response.status_code == 200
    assert response.json() == made
    check_shape(response.json(), kind, parent, child)


def test_unknown_ids_in_the_path_are_404(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    create(api, by_ids(kind, parent, child))
    for link_id in ("999999", "0", "-1", "abc", "1.0", "99999999999999999999"):
        for response in (
            api.get(f"{LINKS}/{link_id}"),
            api.put(f"{LINKS}/{link_id}", json=wrap(status="inactive")),
            api.delete(f"{LINKS}/{link_id}"),
        ):
            assert response.status_code == 404, (link_id, response.text)
            [error] = errors_of(response)
            assert error["title"] == "Not Found"
    assert [e["status"] for e in entries(api)] == ["active"]


def test_put_changes_status_and_sort_order(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    made = create(api, by_ids(kind, parent, child, sort_order=1))
    _stamp(db, made["id"], datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC))
    response = api.put(f"{LINKS}/{made['id']}", json=wrap(status="inactive", sort_order=9))
    assert response.status_code == 200, response.text
    changed = response.json()
    check_shape(changed, kind, parent, child)
    assert (changed["id"], changed["status"], changed["sort_order"]) == (made["id"], "inactive", 9)
    assert api.get(f"{LINKS}/{made['id']}").json() == changed
    assert entries(api, updated_time_from="2021-01-01T00:00:00Z") == [changed]
    # omitted fields are kept; sort_order nil clears it
    kept = api.put(f"{LINKS}/{made['id']}", json=wrap(sort_order=None)).json()
    assert (kept["status"], kept["sort_order"]) == ("inactive", None)
    kept = api.put(f"{LINKS}/{made['id']}", json=wrap(status="active")).json()
    assert (kept["status"], kept["sort_order"]) == ("active", None)
    kept = api.put(f"{LINKS}/{made['id']}", json=wrap()).json()
    assert (kept["status"], kept["sort_order"]) == ("active", None)
    assert count_links(db) == 1


def test_put_accepts_the_same_references_but_not_others(
    api: Caller, db: Database, world: tuple[Kind, Prod, Prod], spare: tuple[Kind, Prod]
) -> None:
    kind, parent, child = world
    other_kind, third = spare
    made = create(api, by_ids(kind, parent, child))
    same = api.put(f"{LINKS}/{made['id']}", json=wrap(**_ids_and_codes(kind, parent, child), sort_order=3))
    assert same.status_code == 200, same.text
    assert same.json()["sort_order"] == 3
    for change in (
        {"relationship_id": other_kind.pk},
        {"relationship_code": other_kind.code},
        {"parent_product_id": third.pk},
        {"child_product_code": third.sku},
        {"child_product_id": 999_999},
        {"parent_product_id": kind.pk, "parent_product_code": child.sku},
    ):
        response = api.put(f"{LINKS}/{made['id']}", json=wrap(status="inactive", **change))
        assert response.status_code == 422, (change, response.text)
        errors_of(response)
    assert api.get(f"{LINKS}/{made['id']}").json() == same.json()  # nothing changed


def test_put_validates_like_post(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    made = create(api, by_ids(kind, parent, child, sort_order=1))
    for body in BAD_WRAPPERS:
        response = api.put(f"{LINKS}/{made['id']}", json=body) if body is not None else api.put(f"{LINKS}/{made['id']}")
        assert response.status_code == 422, (body, response.text)
        errors_of(response)
    for field, value in BAD_VALUES:
        response = api.put(f"{LINKS}/{made['id']}", json=wrap(**{field: value}))
        assert response.status_code == 422, (field, value, response.text)
        assert field in errors_of(response)[0]["detail"]
    assert api.get(f"{LINKS}/{made['id']}").json() == made


def test_delete(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    made = create(api, by_ids(kind, parent, child))
    kept = create(api, by_ids(kind, child, parent))
    response = api.delete(f"{LINKS}/{made['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"{LINKS}/{made['id']}").status_code == 404
    assert api.delete(f"{LINKS}/{made['id']}").status_code == 404
    assert [e["id"] for e in entries(api)] == [kept["id"]]
    assert pxm_related(api, parent, kind) == []
    # the link can be made again, with a new id
    again = create(api, by_ids(kind, parent, child))
    assert again["id"] != made["id"]


# --- inactive links and the PXM views ------------------------------------------------------------------


def test_inactive_links_are_listed_in_v2_but_hidden_from_pxm(
    api: Caller, db: Database, world: tuple[Kind, Prod, Prod]
) -> None:
    kind, parent, child = world
    third = make_product(api, db, "Third", "T")
    hidden = create(api, by_ids(kind, parent, child, status="inactive"))
    shown = create(api, by_ids(kind, parent, third))
    assert pxm_related(api, parent, kind) == [third.id]
    assert pxm_related_products(api, parent, kind) == [third.id]
    body = api.get(f"/pcm/products/{parent.id}/custom-relationships/{kind.slug}").json()
    assert body["meta"]["results"]["total"] == 1
    assert sorted(e["id"] for e in entries(api)) == sorted([hidden["id"], shown["id"]])
    # deactivate / reactivate through PUT
    api.put(f"{LINKS}/{shown['id']}", json=wrap(status="inactive"))
    assert pxm_related(api, parent, kind) == []
    assert pxm_related_products(api, parent, kind) == []
    api.put(f"{LINKS}/{hidden['id']}", json=wrap(status="active"))
    assert pxm_related(api, parent, kind) == [child.id]
    assert pxm_related_products(api, parent, kind) == [child.id]


# --- the two dialects see the same links ---------------------------------------------------------------


def test_pxm_association_is_listed_in_v2(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    third = make_product(api, db, "Third", "T")
    response = api.post(
        f"/pcm/products/{parent.id}/custom-relationships/{kind.slug}",
        json={
            "data": [
                {"type": "product", "id": child.id, "attributes": {"sort_order": 4}},
                {"type": "product", "id": third.id},
            ]
        },
    )
    assert response.status_code == 201, response.text
    listed = {e["child_product"]["id"]: e for e in entries(api)}
    assert set(listed) == {child.pk, third.pk}
    check_shape(listed[child.pk], kind, parent, child)
    check_shape(listed[third.pk], kind, parent, third)
    assert (listed[child.pk]["sort_order"], listed[child.pk]["status"]) == (4, "active")
    assert listed[third.pk]["sort_order"] is None
    # a PXM dissociation removes it from v2
    response = api.delete(
        f"/pcm/products/{parent.id}/custom-relationships/{kind.slug}",
        json={"data": [{"type": "product", "id": child.id}]},
    )
    assert response.status_code == 204
    assert triples(api) == {(kind.pk, parent.pk, third.pk)}


def test_v2_link_is_listed_by_pxm(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    third = make_product(api, db, "Third", "T")
    create(api, by_ids(kind, parent, third, sort_order=2))
    create(api, by_ids(kind, parent, child, sort_order=1))
    response = api.get(f"/pcm/products/{parent.id}/custom-relationships/{kind.slug}")
    assert response.json()["data"] == [
        {"type": "product", "id": child.id, "attributes": {"sort_order": 1}},
        {"type": "product", "id": third.id, "attributes": {"sort_order": 2}},
    ]
    assert pxm_related_products(api, parent, kind) == [child.id, third.id]
    # the type got attached to both products, as in PXM
    assert pxm_slugs(api, parent) == [kind.slug]
    assert pxm_slugs(api, child) == [kind.slug]
    # a v2 sort order change reorders the PXM view
    link = next(e for e in entries(api) if e["child_product"]["id"] == child.pk)
    api.put(f"{LINKS}/{link['id']}", json=wrap(sort_order=3))
    assert pxm_related(api, parent, kind) == [third.id, child.id]


def test_v2_delete_removes_the_link_from_pxm(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    made = create(api, by_ids(kind, parent, child))
    assert pxm_related(api, parent, kind) == [child.id]
    assert api.delete(f"{LINKS}/{made['id']}").status_code == 204
    assert pxm_related(api, parent, kind) == []


def test_bi_directional_types_make_both_rows(api: Caller, db: Database) -> None:
    kind = make_kind(api, db, "pair", bi=True)
    parent = make_product(api, db, "Parent", "P")
    child = make_product(api, db, "Child", "C")
    made = create(api, by_ids(kind, parent, child, sort_order=5))
    assert triples(api) == {(kind.pk, parent.pk, child.pk), (kind.pk, child.pk, parent.pk)}
    assert pxm_related(api, parent, kind) == [child.id]
    assert pxm_related(api, child, kind) == [parent.id]
    reverse = next(e for e in entries(api) if e["id"] != made["id"])
    check_shape(reverse, kind, child, parent)
    # the reverse is a duplicate too
    assert api.post(LINKS, json=by_ids(kind, child, parent)).status_code == 422
    assert count_links(db) == 2


def test_a_bi_directional_pxm_association_is_two_v2_entries(api: Caller, db: Database) -> None:
    kind = make_kind(api, db, "pair", bi=True)
    parent = make_product(api, db, "Parent", "P")
    child = make_product(api, db, "Child", "C")
    response = api.post(
        f"/pcm/products/{parent.id}/custom-relationships/{kind.slug}",
        json={"data": [{"type": "product", "id": child.id}]},
    )
    assert response.status_code == 201, response.text
    assert triples(api) == {(kind.pk, parent.pk, child.pk), (kind.pk, child.pk, parent.pk)}
    # a PXM dissociation from the other side removes both
    response = api.delete(
        f"/pcm/products/{child.id}/custom-relationships/{kind.slug}",
        json={"data": [{"type": "product", "id": parent.id}]},
    )
    assert response.status_code == 204
    assert entries(api) == []


def test_deleting_a_product_removes_its_links(api: Caller, db: Database, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    third = make_product(api, db, "Third", "T")
    as_parent = create(api, by_ids(kind, parent, child))
    as_child = create(api, by_ids(kind, third, parent))
    kept = create(api, by_ids(kind, child, third))
    assert api.delete(f"/pcm/products/{parent.id}").status_code == 204
    assert [e["id"] for e in entries(api)] == [kept["id"]]
    for link in (as_parent, as_child):
        assert api.get(f"{LINKS}/{link['id']}").status_code == 404
    response = api.post(LINKS, json=by_ids(kind, parent, third))
    assert response.status_code == 422
    assert "not found" in errors_of(response)[0]["detail"]


@pytest.mark.parametrize("side", ["forward", "reverse"])
def test_deleting_one_side_of_a_bi_directional_link_removes_both(api: Caller, db: Database, side: str) -> None:
    kind = make_kind(api, db, "pair", bi=True)
    parent = make_product(api, db, "Parent", "P")
    child = make_product(api, db, "Child", "C")
    made = create(api, by_ids(kind, parent, child))
    reverse = next(e for e in entries(api) if e["id"] != made["id"])
    target = made if side == "forward" else reverse
    assert api.delete(f"{LINKS}/{target['id']}").status_code == 204
    assert entries(api) == []
    assert pxm_related(api, parent, kind) == []
    assert pxm_related(api, child, kind) == []
    other = made if side == "reverse" else reverse
    assert api.get(f"{LINKS}/{other['id']}").status_code == 404


@pytest.mark.parametrize("side", ["forward", "reverse"])
def test_status_of_a_bi_directional_link_stays_equal_on_both_sides(api: Caller, db: Database, side: str) -> None:
    kind = make_kind(api, db, "pair", bi=True)
    parent = make_product(api, db, "Parent", "P")
    child = make_product(api, db, "Child", "C")
    made = create(api, by_ids(kind, parent, child))
    reverse = next(e for e in entries(api) if e["id"] != made["id"])
    target = made if side == "forward" else reverse
    assert api.put(f"{LINKS}/{target['id']}", json=wrap(status="inactive")).status_code == 200
    assert [e["status"] for e in entries(api)] == ["inactive", "inactive"]
    assert pxm_related(api, parent, kind) == []
    assert pxm_related(api, child, kind) == []
    assert api.put(f"{LINKS}/{target['id']}", json=wrap(status="active")).status_code == 200
    assert [e["status"] for e in entries(api)] == ["active", "active"]
    assert pxm_related(api, parent, kind) == [child.id]
    assert pxm_related(api, child, kind) == [parent.id]


def test_creating_an_inactive_bi_directional_link_makes_both_sides_inactive(api: Caller, db: Database) -> None:
    kind = make_kind(api, db, "pair", bi=True)
    parent = make_product(api, db, "Parent", "P")
    child = make_product(api, db, "Child", "C")
    create(api, by_ids(kind, parent, child, status="inactive"))
    assert [e["status"] for e in entries(api)] == ["inactive", "inactive"]
    assert pxm_related(api, child, kind) == []


def test_uni_directional_status_changes_one_row(api: Caller, world: tuple[Kind, Prod, Prod]) -> None:
    kind, parent, child = world
    made = create(api, by_ids(kind, parent, child))
    back = create(api, by_ids(kind, child, parent))
    api.put(f"{LINKS}/{made['id']}", json=wrap(status="inactive"))
    assert api.get(f"{LINKS}/{back['id']}").json()["status"] == "active"
    assert api.delete(f"{LINKS}/{made['id']}").status_code == 204
    assert [e["id"] for e in entries(api)] == [back["id"]]


# --- tokens --------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", LINKS),
    ("POST", LINKS),
    ("GET", f"{LINKS}/1"),
    ("PUT", f"{LINKS}/1"),
    ("DELETE", f"{LINKS}/1"),
]


def test_without_a_valid_token_401_with_a_challenge(db: Database, client: TestClient) -> None:
    for method, path in ENDPOINTS:
        for header in (None, "Bearer nonsense", "Basic abc", "Token token=x,email=y"):
            headers = {} if header is None else {"Authorization": header}
            response = client.request(method, path, headers=headers, json=wrap(status="active"))
            assert response.status_code == 401, (method, path, header)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            [error] = errors_of(response)
            assert error["title"] == "Unauthorized"


def test_implicit_tokens_are_403(keys: Keys) -> None:
    shopper = keys.caller(grant="implicit")
    for method, path in ENDPOINTS:
        response = shopper.request(method, path, json=wrap(status="active"))
        assert response.status_code == 403, (method, path)
        errors_of(response)


def test_a_pxm_token_works_in_v2(keys: Keys, db: Database, client: TestClient) -> None:
    key = keys.key()
    form = {"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret}
    token = client.post("/oauth/access_token", data=form).json()["access_token"]
    caller = Caller(client, token, key)
    kind = make_kind(caller, db, "k")
    parent, child = make_product(caller, db, "A", "A"), make_product(caller, db, "B", "B")
    made = create(caller, by_ids(kind, parent, child))
    assert caller.get(f"{LINKS}/{made['id']}").status_code == 200


# --- tenancy -------------------------------------------------------------------------------------------


def test_another_stores_things_are_not_found(
    api: Caller, db: Database, keys: Keys, world: tuple[Kind, Prod, Prod]
) -> None:
    kind, parent, child = world
    other = keys.caller(store_id=keys.store("Other"))
    foreign_kind = make_kind(other, db, "foreign")
    foreign = make_product(other, db, "Foreign", "F")
    foreign_link = create(other, by_ids(foreign_kind, foreign, make_product(other, db, "Foreign 2", "F2")))
    for body in (
        by_ids(foreign_kind, parent, child),
        by_ids(kind, foreign, child),
        by_ids(kind, parent, foreign),
        wrap(relationship_code=foreign_kind.code, parent_product_id=parent.pk, child_product_id=child.pk),
        wrap(relationship_id=kind.pk, parent_product_code="F", child_product_id=child.pk),
        wrap(relationship_id=kind.pk, parent_product_id=parent.pk, child_product_code="F"),
    ):
        response = api.post(LINKS, json=body)
        assert response.status_code == 422, (body, response.text)
        assert "not found" in errors_of(response)[0]["detail"]
    path = f"{LINKS}/{foreign_link['id']}"
    for response in (api.get(path), api.put(path, json=wrap(status="inactive")), api.delete(path)):
        assert response.status_code == 404
    assert entries(api) == []
    assert other.get(path).json() == foreign_link  # untouched
    assert [e["id"] for e in entries(other)] == [foreign_link["id"]]


def test_the_same_code_in_two_stores_names_each_stores_own(api: Caller, db: Database, keys: Keys) -> None:
    other = keys.caller(store_id=keys.store("Other"))
    mine = make_kind(api, db, "same"), make_product(api, db, "Mine A", "A"), make_product(api, db, "Mine B", "B")
    theirs = (
        make_kind(other, db, "same"),
        make_product(other, db, "Theirs A", "A"),
        make_product(other, db, "Theirs B", "B"),
    )
    body = wrap(relationship_code="same", parent_product_code="A", child_product_code="B")
    check_shape(create(api, body), *mine)
    check_shape(create(other, body), *theirs)


def test_store_reads_organization_links_but_cannot_change_them(api: Caller, db: Database, keys: Keys) -> None:
    org = keys.caller(organization=True)
    kind = make_kind(org, db, "org_kind")
    org_parent, org_child = make_product(org, db, "Org A", "OA"), make_product(org, db, "Org B", "OB")
    org_link = create(org, by_ids(kind, org_parent, org_child))
    # the store sees it
    assert [e["id"] for e in entries(api)] == [org_link["id"]]
    assert api.get(f"{LINKS}/{org_link['id']}").json() == org_link
    # but may not change it, nor make links from organization products
    for response in (
        api.put(f"{LINKS}/{org_link['id']}", json=wrap(status="inactive")),
        api.delete(f"{LINKS}/{org_link['id']}"),
        api.post(LINKS, json=by_ids(kind, org_child, org_parent)),
        api.post(LINKS, json=wrap(relationship_code="org_kind", parent_product_code="OB", child_product_code="OA")),
    ):
        assert response.status_code == 403, response.text
        [error] = errors_of(response)
        assert error["detail"] == "entity owned by organization"
    assert entries(org) == [org_link]
    # a store product may link to an organization product under an organization type
    mine = make_product(api, db, "Mine", "M")
    made = create(api, by_ids(kind, mine, org_child))
    check_shape(made, kind, mine, org_child)
    # and the organization does not see store links
    assert [e["id"] for e in entries(org)] == [org_link["id"]]
    assert org.get(f"{LINKS}/{made['id']}").status_code == 404


def test_a_store_code_shadows_the_organization_code(api: Caller, db: Database, keys: Keys) -> None:
    org = keys.caller(organization=True)
    org_kind = make_kind(org, db, "shared")
    own_kind = make_kind(api, db, "shared")
    # one pair made organization first, the other store first: the store's own product wins either way
    org_parent = make_product(org, db, "Org", "SKU")
    own_parent = make_product(api, db, "Own", "SKU")
    own_child = make_product(api, db, "Own child", "C")
    org_child = make_product(org, db, "Org child", "C")
    link = create(api, wrap(relationship_code="shared", parent_product_code="SKU", child_product_code="C"))
    check_shape(link, own_kind, own_parent, own_child)
    assert org_kind.pk != own_kind.pk
    assert {org_parent.pk, org_child.pk}.isdisjoint({own_parent.pk, own_child.pk})
    # an organization product is still reachable by its integer id
    link = create(
        api, wrap(relationship_id=own_kind.pk, parent_product_id=own_parent.pk, child_product_id=org_child.pk)
    )
    check_shape(link, own_kind, own_parent, org_child)


def test_linking_under_an_organization_type_shadowed_by_a_store_type(api: Caller, db: Database, keys: Keys) -> None:
    """The integer id names one definition; the link must be made under it, not under the store's
    definition that happens to share its slug."""
    org = keys.caller(organization=True)
    org_kind = make_kind(org, db, "shared")
    own_kind = make_kind(api, db, "shared")
    parent = make_product(api, db, "Parent", "P")
    child = make_product(api, db, "Child", "C")
    link = create(api, by_ids(org_kind, parent, child))
    check_shape(link, org_kind, parent, child)
    assert triples(api) == {(org_kind.pk, parent.pk, child.pk)}
    assert pxm_related(api, parent, own_kind) == []  # the store's namesake has no links
    assert api.delete(f"{LINKS}/{link['id']}").status_code == 204
    assert entries(api) == []
    # the store's own definition still works
    link = create(api, by_ids(own_kind, parent, child))
    check_shape(link, own_kind, parent, child)


def test_a_link_to_an_organization_product_does_not_show_to_other_stores(api: Caller, db: Database, keys: Keys) -> None:
    org = keys.caller(organization=True)
    org_child = make_product(org, db, "Org child", "OC")
    kind = make_kind(api, db, "private_kind")
    create(api, by_ids(kind, make_product(api, db, "Parent", "P"), org_child))
    other = keys.caller(store_id=keys.store("Other"))
    assert kind.slug not in pxm_slugs(other, org_child)
    assert kind.slug not in pxm_slugs(org, org_child)


def test_an_inactive_link_is_left_out_of_releases(api: Caller) -> None:
    """SPEC §7.2: an inactive link stays listed in v2 but a release does not carry it."""
    source = make_tree_product(api, sku="REL-SRC", status="live")
    active = make_tree_product(api, sku="REL-ON", status="live")
    inactive = make_tree_product(api, sku="REL-OFF", status="live")
    hid = make_hierarchy(api, name="Release links")["id"]
    nid = make_node(api, hid, "All")["id"]
    link_products(api, hid, nid, source["id"], active["id"], inactive["id"])
    created = api.post("/api/v2/relationships", json={"relationship": {"name": "Related", "code": "rel_v2"}})
    assert created.status_code == 201, created.text
    for child, status in (("REL-ON", "active"), ("REL-OFF", "inactive")):
        body = {
            "product_relationship": {
                "relationship_code": "rel_v2",
                "parent_product_code": "REL-SRC",
                "child_product_code": child,
                "status": status,
            }
        }
        assert api.post("/api/v2/product_relationships", json=body).status_code == 201
    listed = api.get("/api/v2/product_relationships").json()
    assert {e["child_product"]["code"] for e in listed["entries"]} == {"REL-ON", "REL-OFF"}

    catalog = make_catalog(api, [hid])
    publish(api, catalog["id"])
    related = view(api, f"{view_url(catalog['id'])}/products/{source['id']}/relationships/CRP_rel_v2/products")
    assert [p["id"] for p in related["data"]] == [active["id"]]
