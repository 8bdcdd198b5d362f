"""Builders and views for the custom relationship tests (SPEC §3, seed 002)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import aliased

from assortment.db.models import Association, CustomRelationship, Product, ProductRelationshipSlot
from assortment.db.types import utcnow
from tests.conftest import Caller, Database
from tests.helpers import product_body

# Seed 002's texts.
NOT_FOUND = "could not find product"
AT_FIVE = (
    "product already has 5 custom relationships, cannot associate more as it has reached the limit of 5 "
    "custom relationships"
)
AT_2000 = "exceeded maximum allowed associations (2000). Please review and try again"
SELF = "cannot associate a product with itself"


def definition_body(slug: str, name: str | None = None, **attributes: Any) -> dict[str, Any]:
    values = {"name": name or f"Name of {slug}", "slug": slug, **attributes}
    return {"data": {"type": "custom-relationship", "attributes": values}}


def make_definition(api: Caller, slug: str, **attributes: Any) -> dict[str, Any]:
    response = api.post("/pcm/custom-relationships", json=definition_body(slug, **attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def make_product(api: Caller, **attributes: Any) -> str:
    response = api.post("/pcm/products", json=product_body(**attributes))
    assert response.status_code == 201, response.text
    product_id: str = response.json()["data"]["id"]
    return product_id


def insert_products(db: Database, scope_id: uuid.UUID, count: int, name: str = "bulk") -> list[str]:
    """Products written straight to the database (fast), in creation order."""
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "scope_id": scope_id,
            "name": f"{name} {i}",
            "status": "draft",
            "commodity_type": "physical",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(count)
    ]
    if rows:
        with db.sessions.begin() as session:
            session.execute(insert(Product), rows)
    return [str(row["id"]) for row in rows]


def refs(slugs: Iterable[str]) -> dict[str, Any]:
    return {"data": [{"type": "custom-relationship", "slug": s} for s in slugs]}


def items(ids: Iterable[str], sort_orders: dict[str, int | None] | None = None) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    for product_id in ids:
        item: dict[str, Any] = {"type": "product", "id": product_id}
        if sort_orders is not None and product_id in sort_orders:
            item["attributes"] = {"sort_order": sort_orders[product_id]}
        data.append(item)
    return {"data": data}


def attach(api: Caller, product_id: str, *slugs: str) -> Any:
    return api.post(f"/pcm/products/{product_id}/custom-relationships", json=refs(slugs))


def associate(api: Caller, product_id: str, slug: str, ids: Sequence[str], **kwargs: Any) -> dict[str, Any]:
    """Associate and return the response's meta, checking the 201 and the shape of seed 002."""
    response = api.post(f"/pcm/products/{product_id}/custom-relationships/{slug}", json=items(ids, **kwargs))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"meta"}, body
    meta: dict[str, Any] = body["meta"]
    assert set(meta) == {"associated_products", "products_not_associated", "owner", "timestamps"}, meta
    return meta


def dissociate(api: Caller, product_id: str, slug: str, ids: Sequence[str]) -> Any:
    return api.delete(f"/pcm/products/{product_id}/custom-relationships/{slug}", json=items(ids))


def related_ids(api: Caller, product_id: str, slug: str) -> list[str]:
    """Every associated id of a product under a slug, in the listed order (all pages)."""
    found: list[str] = []
    offset = 0
    while True:
        response = api.get(
            f"/pcm/products/{product_id}/custom-relationships/{slug}",
            params={"page[limit]": "100", "page[offset]": str(offset)},
        )
        assert response.status_code == 200, response.text
        page = response.json()["data"]
        found += [item["id"] for item in page]
        if len(page) < 100:
            return found
        offset += 100


def slugs_of(api: Caller, product_id: str) -> list[str]:
    response = api.get(f"/pcm/products/{product_id}")
    assert response.status_code == 200, response.text
    slugs: list[str] = response.json()["data"]["meta"]["custom_relationships"]
    return slugs


def stored_edges(db: Database, slug: str | None = None) -> set[tuple[str, str]]:
    """(source id, target id) of every stored association, optionally under one slug."""
    source, target = aliased(Product), aliased(Product)
    query = (
        select(source.id, target.id)
        .select_from(Association)
        .join(source, source.pk == Association.source_pk)
        .join(target, target.pk == Association.target_pk)
    )
    if slug is not None:
        query = query.join(CustomRelationship, CustomRelationship.pk == Association.relationship_pk).where(
            CustomRelationship.slug == slug
        )
    with db.sessions() as session:
        return {(str(s), str(t)) for s, t in session.execute(query)}


def count_edges(db: Database, product_id: str | None = None) -> int:
    query = select(func.count()).select_from(Association)
    if product_id is not None:
        pk = select(Product.pk).where(Product.id == uuid.UUID(product_id)).scalar_subquery()
        query = query.where(Association.source_pk == pk)
    with db.sessions() as session:
        return session.scalar(query) or 0


def count_slots(db: Database, product_id: str | None = None) -> int:
    query = select(func.count()).select_from(ProductRelationshipSlot)
    if product_id is not None:
        pk = select(Product.pk).where(Product.id == uuid.UUID(product_id)).scalar_subquery()
        query = query.where(ProductRelationshipSlot.product_pk == pk)
    with db.sessions() as session:
        return session.scalar(query) or 0


def seed_associations(db: Database, source_id: str, slug: str, count: int) -> list[str]:
    """Give a product `count` new targets under a slug straight in the database (fast), the slug attached
    to the source and to every target as the API would; returns the target ids."""
    source = uuid.UUID(source_id)
    now = utcnow()
    with db.sessions.begin() as session:
        product = session.scalars(select(Product).where(Product.id == source)).one()
        relationship_pk = session.scalars(select(CustomRelationship.pk).where(CustomRelationship.slug == slug)).one()
        ids = [uuid.uuid4() for _ in range(count)]
        rows = [
            {
                "id": product_id,
                "scope_id": product.scope_id,
                "name": f"seeded {i}",
                "status": "draft",
                "commodity_type": "physical",
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for i, product_id in enumerate(ids)
        ]
        session.execute(insert(Product), rows)
        found = session.execute(select(Product.id, Product.pk).where(Product.id.in_(ids)))
        pk_of = {found_id: pk for found_id, pk in found}
        targets = [pk_of[i] for i in ids]
        has_slot = session.scalar(
            select(func.count())
            .select_from(ProductRelationshipSlot)
            .where(
                ProductRelationshipSlot.product_pk == product.pk,
                ProductRelationshipSlot.relationship_pk == relationship_pk,
            )
        )
        slots = [{"product_pk": pk, "relationship_pk": relationship_pk, "attached_at": now} for pk in targets]
        if not has_slot:
            slots.append({"product_pk": product.pk, "relationship_pk": relationship_pk, "attached_at": now})
        session.execute(insert(ProductRelationshipSlot), slots)
        session.execute(
            insert(Association),
            [
                {
                    "source_pk": product.pk,
                    "relationship_pk": relationship_pk,
                    "target_pk": pk,
                    "sort_order": None,
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for pk in targets
            ],
        )
    return [str(i) for i in ids]
