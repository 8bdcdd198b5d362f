"""Product rules: required fields, uniqueness of sku/slug/external_ref within the owner's scope,
partial updates, optimistic concurrency and ownership."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from assortment.db import filters as sql_filters
from assortment.db.models import Product
from assortment.db.repositories import hierarchies as hierarchy_repo
from assortment.db.repositories import products as repo
from assortment.db.repositories import workbench as workbench_repo
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain.filters import Term
from assortment.domain.paging import Page, Paging
from assortment.domain.parsing import parse_uuid
from assortment.domain.tenancy import Principal
from assortment.errors import WRITE_CONFLICT, Conflict, NotFound, ValidationFailed
from assortment.schemas.products import ProductAttributes

UNIQUE_FIELDS = ("sku", "slug", "external_ref")
REQUIRED_ON_CREATE = ("name", "commodity_type")
NOT_NULLABLE = ("name", "commodity_type", "status")
COLUMNS = (
    "name",
    "description",
    "slug",
    "sku",
    "status",
    "commodity_type",
    "upc_ean",
    "mpn",
    "external_ref",
    "tags",
    "locales",
)


def uniqueness_error(field: str) -> ValidationFailed:
    return ValidationFailed(f"data.attributes.{field}: Must be unique amongst products.")


def parse_id(raw: str) -> uuid.UUID | None:
    """An id from a path, query or body: a UUID written in ASCII, else None."""
    return parse_uuid(raw)


@dataclass
class ProductService:
    session: Session
    principal: Principal

    def get(self, product_id: str) -> Product:
        parsed = parse_id(product_id)
        product = (
            None if parsed is None else repo.get_visible(self.session, self.principal.visible_scopes, parsed)
        )
        if product is None:
            raise NotFound(f"product {product_id} not found")
        return product

    def list(self, terms: tuple[Term, ...] | None, paging: Paging) -> Page[Product]:
        where = None if not terms else sql_filters.compile_filter(terms, repo.PRODUCT_FILTERS)
        if paging.by_cursor:
            return repo.seek_visible(self.session, self.principal.visible_scopes, where, paging)
        items, total = repo.list_visible(
            self.session, self.principal.visible_scopes, where, paging.limit, paging.offset
        )
        return Page(items=items, total=total, paging=paging)

    def browse(self, text: str, limit: int, offset: int) -> tuple[Sequence[Product], bool]:
        """The workbench's list: name or SKU containing `text`, newest first, and whether more follow."""
        return workbench_repo.browse_products(
            self.session, self.principal.visible_scopes, text.strip(), limit, offset
        )

    def create(self, attributes: ProductAttributes) -> Product:
        values = attributes.model_dump(include=set(attributes.model_fields_set))
        check_create_values(values)
        now = utcnow()
        product = Product(
            id=uuid.uuid4(),
            scope_id=self.principal.scope_id,
            status="draft",
            created_at=now,
            updated_at=now,
        )
        _assign(product, values)
        self._check_unique(product)
        self.session.add(product)
        self._flush_unique(product)
        events.record(self.session, self.principal, "product.created", product, product.id, product.scope_id)
        return product

    def update(self, product_id: str, body_id: str, attributes: ProductAttributes) -> Product:
        product = self.get(product_id)
        if body_id != product_id:
            raise ValidationFailed("data.id: must match the product id in the path")
        self.principal.check_can_modify(product.scope_id)
        values = attributes.model_dump(include=set(attributes.model_fields_set))
        for name in NOT_NULLABLE:
            if name in values and values[name] is None:
                raise ValidationFailed(f"data.attributes.{name}: can not be null")
        if not values:
            return product
        _assign(product, values)
        product.updated_at = utcnow()
        self._check_unique(product)
        self._flush_unique(product)
        events.record(self.session, self.principal, "product.updated", product, product.id, product.scope_id)
        return product

    def delete(self, product_id: str) -> None:
        """Delete the product; its node links go with it, and it leaves every curated list."""
        product = self.get(product_id)
        self.principal.check_can_modify(product.scope_id)
        gone = str(product.id)
        for node in hierarchy_repo.curating_nodes(self.session, product.pk):
            kept = [c for c in node.curated_products or [] if c != gone]
            node.curated_products = kept or None
        self.session.flush()
        repo.delete_product(self.session, product)
        events.record(self.session, self.principal, "product.deleted", None, gone, product.scope_id)

    def _check_unique(self, product: Product) -> None:
        clashes = repo.find_unique_clashes(
            self.session,
            product.scope_id,
            sku=product.sku,
            slug=product.slug,
            external_ref=product.external_ref,
            exclude_pk=product.pk,
        )
        for field in UNIQUE_FIELDS:
            if field in clashes:
                raise uniqueness_error(field)

    def _flush_unique(self, product: Product) -> None:
        """Flush; a concurrent writer that took the same sku/slug/external_ref first makes this a 422."""
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            message = str(exc.orig)
            for field in UNIQUE_FIELDS:
                if field in message:
                    raise uniqueness_error(field) from exc
            raise
        except StaleDataError as exc:
            raise Conflict(WRITE_CONFLICT) from exc


def check_create_values(values: dict[str, Any]) -> None:
    for name in REQUIRED_ON_CREATE:
        if values.get(name) is None:
            raise ValidationFailed(f"data.attributes.{name}: Field required")
    if "status" in values and values["status"] is None:
        raise ValidationFailed("data.attributes.status: can not be null")


def _assign(product: Product, values: dict[str, Any]) -> None:
    for name in COLUMNS:
        if name in values:
            setattr(product, name, values[name])
    if "external_ref" in values:
        product.external_ref_digest = repo.external_ref_digest(values["external_ref"])
    if "status" in values and values["status"] is None:
        product.status = "draft"
