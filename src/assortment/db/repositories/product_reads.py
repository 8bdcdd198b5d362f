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

_slot = ProductRelationshipSlot.__table__
_relationship = CustomRelationship.__table__

# A product among the caller's scopes (one or two, bound as `scope_a`, `scope_b`), one row per custom
# relationship attached to it in attachment order (its slug last; one row with no slug when it has none):
# one statement, one round trip on PostgreSQL.
_VISIBLE = Prepared(
    select(*_PRODUCT_COLUMNS, _relationship.c.slug)
    .select_from(
        _product.outerjoin(_slot, _slot.c.product_pk == _product.c.pk).outerjoin(
            _relationship, _relationship.c.pk == _slot.c.relationship_pk
        )
    )
    .where(
        _product.c.id == bindparam("id", type_=Uuid()),
        _product.c.scope_id.in_([bindparam("scope_a", type_=Uuid()), bindparam("scope_b", type_=Uuid())]),
    )
    .order_by(_slot.c.attached_at, _relationship.c.slug),
    as_text=("id", "created_at", "updated_at"),
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
    return ProductRecord(*row[:-1]), [slug for *_, slug in rows if slug is not None]
