"""Catalogs (SPEC §4.1): which hierarchies, in which order, and which price books a release holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from assortment.db import filters as sql_filters
from assortment.db.filters import FilterField, Kind, allow
from assortment.db.models import Catalog, CatalogRule, Hierarchy, Pricebook, Release
from assortment.db.repositories.common import keyset_page
from assortment.db.types import utcnow
from assortment.domain.filters import Term
from assortment.domain.paging import Page, Paging
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal
from assortment.errors import MissingReferences, NotFound, ValidationFailed
from assortment.schemas.catalogs import CatalogAttributes, PricebookPriority

MAX_PRICEBOOKS = 5

CATALOG_FILTERS: dict[str, FilterField] = {
    "name": allow(Catalog.name, Kind.STRING, "eq in like"),
}


def check_pricebooks(pricebook_id: str | None, pricebook_ids: list[PricebookPriority] | None) -> None:
    """One price book, or up to five with priorities, never both; ids are UUIDs, none twice."""
    if pricebook_id is not None and pricebook_ids is not None:
        raise ValidationFailed("data.attributes: send either pricebook_id or pricebook_ids, not both")
    if pricebook_id is not None and parse_id(pricebook_id) is None:
        raise ValidationFailed("data.attributes.pricebook_id: must be a UUID")
    if pricebook_ids is not None:
        if len(pricebook_ids) > MAX_PRICEBOOKS:
            raise ValidationFailed(f"data.attributes.pricebook_ids: at most {MAX_PRICEBOOKS} price books")
        ids = [entry.id for entry in pricebook_ids]
        if any(parse_id(i) is None for i in ids):
            raise ValidationFailed("data.attributes.pricebook_ids: every id must be a UUID")
        if len(set(ids)) != len(ids):
            raise ValidationFailed("data.attributes.pricebook_ids: a price book may appear only once")


@dataclass
class CatalogService:
    session: Session
    principal: Principal

    def get(self, catalog_id: str, *, for_update: bool = False) -> Catalog:
        parsed = parse_id(catalog_id)
        catalog = None
        if parsed is not None:
            query = select(Catalog).where(Catalog.id == parsed, Catalog.scope_id.in_(self.principal.visible_scopes))
            if for_update:
                query = query.with_for_update()
            catalog = self.session.scalars(query).first()
        if catalog is None:
            raise NotFound(f"catalog {catalog_id} not found")
        return catalog

    def list_catalogs(self, terms: tuple[Term, ...] | None, paging: Paging) -> Page[Catalog]:
        query = select(Catalog).where(Catalog.scope_id.in_(self.principal.visible_scopes))
        if terms:
            query = query.where(sql_filters.compile_filter(terms, CATALOG_FILTERS))
        return keyset_page(self.session, query, (Catalog.created_at, Catalog.id), paging)

    def create(self, attributes: CatalogAttributes) -> Catalog:
        if attributes.name is None:
            raise ValidationFailed("data.attributes.name: Field required")
        if attributes.hierarchy_ids is None:
            raise ValidationFailed("data.attributes.hierarchy_ids: Field required")
        check_pricebooks(attributes.pricebook_id, attributes.pricebook_ids)
        self._check_pricebooks_exist(attributes)
        self._check_hierarchies(attributes.hierarchy_ids)
        now = utcnow()
        catalog = Catalog(
            id=uuid.uuid4(),
            scope_id=self.principal.scope_id,
            name=attributes.name,
            description=attributes.description or "",
            hierarchy_ids=list(dict.fromkeys(attributes.hierarchy_ids)),
            enable_price_segmentation=bool(attributes.enable_price_segmentation),
            created_at=now,
            updated_at=now,
        )
        self._apply_pricebooks(catalog, attributes)
        if attributes.locales:
            catalog.locales = {k: v.model_dump(exclude_none=True) for k, v in attributes.locales.items()}
        self.session.add(catalog)
        self.session.flush()
        return catalog

    def update(self, catalog_id: str, body_id: str | None, attributes: CatalogAttributes) -> Catalog:
        catalog = self.get(catalog_id, for_update=True)
        self.principal.check_can_modify(catalog.scope_id)
        if body_id is not None and body_id != catalog_id:
            raise ValidationFailed("data.id: must match the catalog id in the path")
        sent = attributes.model_fields_set
        for name in ("name", "hierarchy_ids"):
            if name in sent and getattr(attributes, name) is None:
                raise ValidationFailed(f"data.attributes.{name}: can not be null")
        check_pricebooks(attributes.pricebook_id, attributes.pricebook_ids)
        self._check_pricebooks_exist(attributes)
        if not sent:
            return catalog
        if attributes.hierarchy_ids is not None:
            self._check_hierarchies(attributes.hierarchy_ids)
            catalog.hierarchy_ids = list(dict.fromkeys(attributes.hierarchy_ids))
        if attributes.name is not None:
            catalog.name = attributes.name
        if "description" in sent:
            catalog.description = attributes.description or ""
        if "enable_price_segmentation" in sent:
            catalog.enable_price_segmentation = bool(attributes.enable_price_segmentation)
        if "locales" in sent:
            locales = attributes.locales
            catalog.locales = {k: v.model_dump(exclude_none=True) for k, v in locales.items()} if locales else None
        if "pricebook_id" in sent or "pricebook_ids" in sent:
            self._apply_pricebooks(catalog, attributes)
        catalog.updated_at = utcnow()
        self.session.flush()
        return catalog

    def delete(self, catalog_id: str) -> None:
        catalog = self.get(catalog_id, for_update=True)
        self.principal.check_can_modify(catalog.scope_id)
        if self.session.scalar(select(exists().where(Release.catalog_pk == catalog.pk))):
            raise ValidationFailed("a catalog with releases cannot be deleted; delete its releases first")
        if self.session.scalar(select(exists().where(CatalogRule.catalog_pk == catalog.pk))):
            raise ValidationFailed("a catalog that a catalog rule names cannot be deleted")
        self.session.delete(catalog)
        self.session.flush()

    def _check_pricebooks_exist(self, attributes: CatalogAttributes) -> None:
        wanted = [attributes.pricebook_id] if attributes.pricebook_id else []
        wanted += [entry.id for entry in attributes.pricebook_ids or []]
        ids = [pid for pid in (parse_id(raw) for raw in wanted) if pid is not None]
        found = (
            set(
                self.session.scalars(
                    select(Pricebook.id).where(
                        Pricebook.id.in_(ids), Pricebook.scope_id.in_(self.principal.visible_scopes)
                    )
                )
            )
            if ids
            else set()
        )
        missing = [raw for raw in wanted if parse_id(raw) not in found]
        if missing:
            raise MissingReferences("price books must exist", missing)

    def _check_hierarchies(self, hierarchy_ids: list[str]) -> None:
        parsed = {raw: parse_id(raw) for raw in hierarchy_ids}
        wanted = [p for p in parsed.values() if p]
        found: set[uuid.UUID] = set()
        if wanted:
            found = set(
                self.session.scalars(
                    select(Hierarchy.id).where(
                        Hierarchy.id.in_(wanted), Hierarchy.scope_id.in_(self.principal.visible_scopes)
                    )
                )
            )
        missing = [raw for raw, pid in parsed.items() if pid is None or pid not in found]
        if missing:
            raise MissingReferences("hierarchies must exist", missing)

    @staticmethod
    def _apply_pricebooks(catalog: Catalog, attributes: CatalogAttributes) -> None:
        catalog.pricebook_id = uuid.UUID(attributes.pricebook_id) if attributes.pricebook_id else None
        entries: list[dict[str, Any]] | None = None
        if attributes.pricebook_ids is not None:
            entries = [{"id": e.id, "priority": e.priority} for e in attributes.pricebook_ids]
        catalog.pricebook_ids = entries
