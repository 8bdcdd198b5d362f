"""Queries the workbench needs beyond the API's: browsing by text, newest first, without a total count
(a count of 100k rows per page view is what would make the list slow)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, column, literal_column, or_, select, table
from sqlalchemy.orm import Session

from assortment.db.models import Product


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _name_or_sku_contains(text: str) -> ColumnElement[bool]:
    """Any case: ILIKE on PostgreSQL (served by the trigram indexes); `lower(x) LIKE lower(…)` on SQLite
    (served by the index of those very expressions)."""
    pattern = _contains(text)
    return or_(Product.name.ilike(pattern, escape="\\"), Product.sku.ilike(pattern, escape="\\"))


# SQLite's trigram index of names and SKUs (a migration makes it): it finds pieces of 3 characters or more.
PRODUCT_SEARCH = table("product_search", column("rowid", Integer))
TRIGRAM = 3


def _fts_phrase(text: str) -> str:
    """`text` as one FTS5 phrase: every character literal (a double quote doubled)."""
    return '"' + text.replace('"', '""') + '"'


def browse_products(
    session: Session, scopes: Sequence[uuid.UUID], text: str, limit: int, offset: int
) -> tuple[list[Product], bool]:
    """A page of the visible products whose name or SKU contains `text` (any case), newest first, and
    whether another page follows. The page's keys are found first (from an index where one serves),
    then only those rows are read whole. On SQLite a search of three characters or more walks the
    trigram index newest first and stops at the page's end."""
    query = select(Product.pk).where(Product.scope_id.in_(scopes))
    newest_first: Any = Product.pk.desc()
    if text and len(text) >= TRIGRAM and session.get_bind().dialect.name == "sqlite":
        match = literal_column("product_search").op("MATCH")(bindparam("phrase", _fts_phrase(text)))
        query = query.select_from(PRODUCT_SEARCH.join(Product, Product.pk == PRODUCT_SEARCH.c.rowid)).where(match)
        newest_first = PRODUCT_SEARCH.c.rowid.desc()
    elif text:
        query = query.where(_name_or_sku_contains(text))
    pks = list(session.scalars(query.order_by(newest_first).limit(limit + 1).offset(offset)))
    more = len(pks) > limit
    pks = pks[:limit]
    if not pks:
        return [], more
    rows = {p.pk: p for p in session.scalars(select(Product).where(Product.pk.in_(pks)))}
    return [rows[pk] for pk in pks if pk in rows], more
