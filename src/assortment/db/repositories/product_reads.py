"""Fixed statements for the commonest PIM read, a product by id (issue 17), run with `db.prepared`.

Through the ORM a product by id cost ≈ 0.5 ms of CPU on SQLite, most of it building objects and rows
around two indexed lookups; here the rows come back as plain records, the id and timestamps already text.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Uuid, bindparam, select

from assortment.db.models import ORGANIZATION_SCOPE, CustomRelationship, Product, ProductRelationshipSlot
from assortment.db.prepared import Prepared

_product = Product.__table__


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times more
class ProductRecord:
    """A product row as its rendering reads it: the attributes of `Product` of the same names, except that
    `id` and the timestamps are already text in the API's form, and `owner` is decided."""

    pk: int
    id: str
    owner: str
    name: str
    commodity_type: str
    status: str
    description: str | None
    slug: str | None
    sku: str | None
    upc_ean: str | None
    mpn: str | None
    external_ref: str | None
    tags: list[str] | None
    locales: dict[str, Any] | None
    created_at: str
    updated_at: str


_PRODUCT_COLUMNS = [
    (_product.c.scope_id == ORGANIZATION_SCOPE).label("of_organization") if name == "owner" else _product.c[name]
    for name in ProductRecord.__slots__
]

# A product among the caller's scopes (one or two, bound as `scope_a`, `scope_b`).
_VISIBLE = Prepared(
    select(*_PRODUCT_COLUMNS).where(
        _product.c.id == bindparam("id", type_=Uuid()),
        _product.c.scope_id.in_([bindparam("scope_a", type_=Uuid()), bindparam("scope_b", type_=Uuid())]),
    ),
    as_text=("id", "created_at", "updated_at"),
)

# The slugs of the custom relationships attached to one product, in attachment order.
_SLUGS = Prepared(
    select(CustomRelationship.__table__.c.slug)
    .select_from(
        ProductRelationshipSlot.__table__.join(
            CustomRelationship.__table__,
            CustomRelationship.__table__.c.pk == ProductRelationshipSlot.__table__.c.relationship_pk,
        )
    )
    .where(ProductRelationshipSlot.__table__.c.product_pk == bindparam("pk"))
    .order_by(ProductRelationshipSlot.__table__.c.attached_at, CustomRelationship.__table__.c.slug)
)


def visible_product(
    connection: Connection, scopes: Sequence[uuid.UUID], product_id: uuid.UUID
) -> tuple[ProductRecord, list[str]] | None:
    """The product `product_id` if one of `scopes` (one or two) owns it, with its relationship slugs."""
    rows = _VISIBLE.rows(connection, {"id": product_id, "scope_a": scopes[0], "scope_b": scopes[-1]})
    if not rows:
        return None
    row = rows[0]
    row[2] = "organization" if row[2] else "store"
    record = ProductRecord(*row)
    return record, [slug for (slug,) in _SLUGS.rows(connection, {"pk": record.pk})]
