"""Queries the workbench needs beyond the API's: browsing by text, newest first, without a total count
(a count of 100k rows per page view is what would make the list slow)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from assortment.db.models import Product


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def browse_products(
    session: Session, scopes: Sequence[uuid.UUID], text: str, limit: int, offset: int
) -> tuple[list[Product], bool]:
    """A page of the visible products whose name or SKU contains `text` (any case), newest first, and
    whether another page follows."""
    query = select(Product).where(Product.scope_id.in_(scopes))
    if text:
        pattern = _contains(text)
        query = query.where(or_(Product.name.ilike(pattern, escape="\\"), Product.sku.ilike(pattern, escape="\\")))
    rows = list(session.scalars(query.order_by(Product.pk.desc()).limit(limit + 1).offset(offset)))
    return rows[:limit], len(rows) > limit
