"""The v2 `product_relationship` dialect (seed 004): the same association graph as the PXM custom
relationships, addressed by integer ids or codes. Every rule is the PXM one: links are made through
CustomRelationshipService.associate/dissociate, so the limits, the self-link ban and bi-directional
pairs behave exactly as in the PXM dialect."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pydantic
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from assortment.db.models import Association, CustomRelationship, Product
from assortment.db.repositories import product_relationships as repo
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain import relationship_rules as rules
from assortment.domain.custom_relationships import CustomRelationshipService
from assortment.domain.products import ProductService
from assortment.domain.tenancy import Principal
from assortment.errors import NotFound, ValidationFailed
from assortment.schemas.custom_relationships import (
    AssociationAttributes,
    AssociationItem,
    CustomRelationshipAttributes,
)

STATUSES = ("active", "inactive")


@dataclass(frozen=True, slots=True)
class Reference:
    """A thing named by integer id, by code, by both, or not at all."""

    id: int | None = None
    code: str | None = None

    @property
    def given(self) -> bool:
        return self.id is not None or self.code is not None


@dataclass(frozen=True)
class LinkRequest:
    relationship: Reference = Reference()
    parent: Reference = Reference()
    child: Reference = Reference()
    status: str | None = None
    sort_order: int | None = None
    sent: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class LinkView:
    association: Association
    relationship: CustomRelationship
    parent: Product
    child: Product


def code_of(definition: CustomRelationship) -> str:
    """The v2 code of a relationship: its slug without the CRP_ prefix."""
    prefix = rules.SLUG_PREFIX
    return definition.slug[len(prefix) :] if definition.slug.startswith(prefix) else definition.slug


V2_NAMES = {"name": "name", "slug": "code"}  # PXM attribute → v2 relationship field


@contextmanager
def _in_v2_terms() -> Iterator[None]:
    """Report a relationship type the PXM rules refuse in the v2 dialect's terms: 422 on
    `relationship[code]` rather than `data.attributes.slug`, and never a 500 for a value the request
    model refuses (a code with spaces, an empty name)."""
    try:
        yield
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        where = str(problem["loc"][0]) if problem["loc"] else ""
        label = f"relationship[{V2_NAMES[where]}]" if where in V2_NAMES else "relationship"
        raise ValidationFailed(f"{label}: {problem['msg']}") from exc
    except ValidationFailed as exc:
        detail = exc.detail or ""
        for pxm, v2 in V2_NAMES.items():
            prefix = f"data.attributes.{pxm}:"
            if detail.startswith(prefix):
                raise ValidationFailed(f"relationship[{v2}]:{detail[len(prefix) :]}", meta=exc.meta) from exc
        raise


@dataclass
class _PinnedRelationships(CustomRelationshipService):
    """The PXM service with its slug lookup pinned to one definition.

    A v2 integer id names exactly one definition, but the PXM service finds definitions by slug and
    prefers the caller's own over an organization one with the same slug: without the pin, a link
    under an organization definition would be written (or deleted) under the store's namesake."""

    definition: CustomRelationship | None = None

    def get_definition(self, slug: str) -> CustomRelationship:
        if self.definition is not None and rules.with_prefix(slug) == self.definition.slug:
            return self.definition
        return super().get_definition(slug)


@dataclass
class ProductRelationshipService:
    session: Session
    principal: Principal

    @property
    def _relationships(self) -> CustomRelationshipService:
        return CustomRelationshipService(self.session, self.principal)

    def _relationships_of(self, definition: CustomRelationship) -> CustomRelationshipService:
        """The PXM service acting on this very definition (see _PinnedRelationships)."""
        return _PinnedRelationships(self.session, self.principal, definition)

    # --- product relationships ---------------------------------------------------------------------

    def create(self, request: LinkRequest) -> Association:
        definition = self._resolve_relationship(request.relationship)
        parent = self._resolve_product("parent_product", request.parent)
        child = self._resolve_product("child_product", request.child)
        if repo.find_edge(self.session, parent.pk, definition.pk, child.pk) is not None:
            raise ValidationFailed("this product relationship already exists")
        attributes = (
            AssociationAttributes(sort_order=request.sort_order) if "sort_order" in request.sent else None
        )
        outcome = self._relationships_of(definition).associate(
            str(parent.id),
            definition.slug,
            [AssociationItem(type="product", id=str(child.id), attributes=attributes)],
        )
        if outcome.not_associated:
            raise ValidationFailed(outcome.not_associated[0][1])
        edge = repo.find_edge(self.session, parent.pk, definition.pk, child.pk)
        assert edge is not None
        if request.status == "inactive":
            repo.set_status(self.session, edge, "inactive", utcnow(), both_ways=definition.bi_directional)
            self.session.refresh(edge)
        return edge

    def get(self, pk: int) -> Association:
        edge = repo.get_association(self.session, self.principal.visible_scopes, pk)
        if edge is None:
            raise NotFound(f"product relationship {pk} not found")
        return edge

    def list_links(
        self,
        *,
        page: int,
        per_page: int,
        ids: Sequence[int] = (),
        status: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
    ) -> tuple[list[Association], int]:
        conditions: list[ColumnElement[bool]] = []
        if ids:
            conditions.append(Association.pk.in_(list(ids)))
        if status is not None:
            conditions.append(Association.status == status)
        if created_from is not None:
            conditions.append(Association.created_at >= created_from)
        if created_to is not None:
            conditions.append(Association.created_at <= created_to)
        if updated_from is not None:
            conditions.append(Association.updated_at >= updated_from)
        if updated_to is not None:
            conditions.append(Association.updated_at <= updated_to)
        return repo.list_associations(
            self.session, self.principal.visible_scopes, conditions, per_page, (page - 1) * per_page
        )

    def of_product(self, product_id: str, limit: int) -> tuple[list[Association], int]:
        """The product relationships a product is the parent or the child of (inactive ones too)."""
        product = ProductService(self.session, self.principal).get(product_id)
        return repo.associations_of_product(self.session, self.principal.visible_scopes, product.pk, limit)

    def update(self, pk: int, request: LinkRequest) -> Association:
        edge = self.get(pk)
        definition = self._definition(edge.relationship_pk)
        parent, child = self._products(edge)
        self.principal.check_can_modify(parent.scope_id)
        if (
            request.relationship.given
            and self._resolve_relationship(request.relationship).pk != definition.pk
        ):
            raise ValidationFailed("the relationship of a product relationship cannot change")
        if request.parent.given and self._resolve_product("parent_product", request.parent).pk != parent.pk:
            raise ValidationFailed("the parent product of a product relationship cannot change")
        if request.child.given and self._resolve_product("child_product", request.child).pk != child.pk:
            raise ValidationFailed("the child product of a product relationship cannot change")
        now = utcnow()
        if request.status is not None and request.status != edge.status:
            repo.set_status(self.session, edge, request.status, now, both_ways=definition.bi_directional)
        if "sort_order" in request.sent:
            repo.set_sort_order(self.session, edge, request.sort_order, now)
        self.session.flush()
        self.session.refresh(edge)
        events.record(self.session, self.principal, "product.updated", parent, parent.id, parent.scope_id)
        return edge

    def delete(self, pk: int) -> None:
        edge = self.get(pk)
        parent, child = self._products(edge)
        definition = self._definition(edge.relationship_pk)
        self._relationships_of(definition).dissociate(str(parent.id), definition.slug, [str(child.id)])

    def describe(self, edges: Sequence[Association]) -> list[LinkView]:
        products = repo.products_by_pk(
            self.session, [e.source_pk for e in edges] + [e.target_pk for e in edges]
        )
        definitions = repo.definitions_by_pk(self.session, [e.relationship_pk for e in edges])
        return [
            LinkView(e, definitions[e.relationship_pk], products[e.source_pk], products[e.target_pk])
            for e in edges
        ]

    # --- relationship types -------------------------------------------------------------------------

    def create_type(self, name: str | None, code: str | None) -> CustomRelationship:
        with _in_v2_terms():
            attributes = CustomRelationshipAttributes(name=name, slug=code)
            return self._relationships.create_definition(attributes)

    def get_type(self, pk: int) -> CustomRelationship:
        definition = repo.definition_by_pk(self.session, self.principal.visible_scopes, pk)
        if definition is None:
            raise NotFound(f"relationship {pk} not found")
        return definition

    def list_types(self, page: int, per_page: int) -> tuple[list[CustomRelationship], int]:
        return repo.definitions_page(
            self.session, self.principal.visible_scopes, per_page, (page - 1) * per_page
        )

    def update_type(
        self, pk: int, name: str | None, code: str | None, sent: frozenset[str]
    ) -> CustomRelationship:
        definition = self.get_type(pk)
        self.principal.check_can_modify(definition.scope_id)
        if code is not None and rules.with_prefix(code) != definition.slug:
            raise ValidationFailed("relationship[code]: the code of a relationship cannot change")
        with _in_v2_terms():
            attributes = (
                CustomRelationshipAttributes(name=name) if "name" in sent else CustomRelationshipAttributes()
            )
            return self._relationships_of(definition).update_definition(
                definition.slug, str(definition.id), attributes
            )

    def delete_type(self, pk: int) -> None:
        definition = self.get_type(pk)
        self._relationships_of(definition).delete_definition(definition.slug)

    # --- resolution ---------------------------------------------------------------------------------

    def _definition(self, pk: int) -> CustomRelationship:
        definition = repo.definitions_by_pk(self.session, [pk]).get(pk)
        assert definition is not None
        return definition

    def _products(self, edge: Association) -> tuple[Product, Product]:
        products = repo.products_by_pk(self.session, [edge.source_pk, edge.target_pk])
        return products[edge.source_pk], products[edge.target_pk]

    def _resolve_relationship(self, ref: Reference) -> CustomRelationship:
        if not ref.given:
            raise ValidationFailed("product_relationship[relationship_id] or [relationship_code] is required")
        by_id = by_code = None
        if ref.id is not None:
            by_id = repo.definition_by_pk(self.session, self.principal.visible_scopes, ref.id)
            if by_id is None:
                raise ValidationFailed(f"relationship {ref.id} not found")
        if ref.code is not None:
            try:
                by_code = self._relationships.get_definition(ref.code)
            except NotFound as exc:
                raise ValidationFailed(f"relationship {ref.code!r} not found") from exc
        if by_id is not None and by_code is not None and by_id.pk != by_code.pk:
            raise ValidationFailed("relationship_id and relationship_code name different relationships")
        result = by_id or by_code
        assert result is not None
        return result

    def _resolve_product(self, role: str, ref: Reference) -> Product:
        if not ref.given:
            raise ValidationFailed(f"product_relationship[{role}_id] or [{role}_code] is required")
        scopes = self.principal.visible_scopes
        by_id = by_code = None
        if ref.id is not None:
            by_id = repo.product_by_pk(self.session, scopes, ref.id)
            if by_id is None:
                raise ValidationFailed(f"{role.replace('_', ' ')} {ref.id} not found")
        if ref.code is not None:
            by_code = repo.product_by_sku(self.session, scopes, ref.code)
            if by_code is None:
                raise ValidationFailed(f"{role.replace('_', ' ')} {ref.code!r} not found")
        if by_id is not None and by_code is not None and by_id.pk != by_code.pk:
            raise ValidationFailed(f"{role}_id and {role}_code name different products")
        result = by_id or by_code
        assert result is not None
        return result
