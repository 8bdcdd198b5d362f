"""Custom relationships: definitions, their attachment to products, and product associations
(SPEC §3, seed 002). The v2 product_relationships dialect goes through the same functions.

Every change to a product's relationships locks the rows of all products it touches (source and
targets, in pk order), so limits are counted against committed data and never exceeded by parallel
requests; a lock that cannot be had in time is reported as 409 write conflict detected.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, load_only

from assortment.db import filters as sql_filters
from assortment.db.models import Association, CustomRelationship, Product
from assortment.db.repositories import custom_relationships as repo
from assortment.db.repositories import products as product_repo
from assortment.db.repositories.common import is_contention
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain import relationship_rules as rules
from assortment.domain.filters import Term
from assortment.domain.paging import Page, Paging
from assortment.domain.products import ProductService, parse_id
from assortment.domain.tenancy import Principal
from assortment.errors import (
    WRITE_CONFLICT,
    BadRequest,
    Conflict,
    MissingReferences,
    NotFound,
    ValidationFailed,
)
from assortment.schemas.custom_relationships import AssociationItem, CustomRelationshipAttributes

IN_USE = "custom relationship is in use"


@dataclass(frozen=True, slots=True)
class AssociationOutcome:
    associated: list[str]
    not_associated: list[tuple[str, str]]
    at: datetime


@dataclass(frozen=True, slots=True)
class RelationshipUsage:
    """One relationship a product carries, with as many associations as the 2,000 limit counts."""

    definition: CustomRelationship
    associations: int


@dataclass(frozen=True, slots=True)
class ProductUsage:
    """How much of the limits a product uses: relationships carried (all, as the limit of five counts
    them, also those of other owners) and, per relationship the caller sees, its associations."""

    product: Product
    carried: int
    relationships: list[RelationshipUsage]


@dataclass
class CustomRelationshipService:
    session: Session
    principal: Principal

    # --- definitions ---

    def get_definition(self, slug: str) -> CustomRelationship:
        definition = repo.get_definition(self.session, self.principal.visible_scopes, rules.with_prefix(slug))
        if definition is None:
            raise NotFound(f"custom relationship {slug} not found")
        return definition

    def list_definitions(self, terms: tuple[Term, ...] | None, paging: Paging) -> Page[CustomRelationship]:
        where = None if not terms else sql_filters.compile_filter(terms, repo.DEFINITION_FILTERS)
        return repo.list_definitions(self.session, self.principal.visible_scopes, where, paging)

    def create_definition(self, attributes: CustomRelationshipAttributes) -> CustomRelationship:
        if attributes.name is None:
            raise ValidationFailed("data.attributes.name: Field required")
        if attributes.slug is None:
            raise ValidationFailed("data.attributes.slug: Field required")
        slug = rules.with_prefix(attributes.slug)
        if len(slug) > 255:
            raise ValidationFailed("data.attributes.slug: String should have at most 255 characters")
        if repo.slug_taken(self.session, self.principal.scope_id, slug):
            raise ValidationFailed(f"data.attributes.slug: {slug} is already used by another custom relationship")
        now = utcnow()
        definition = CustomRelationship(
            id=uuid.uuid4(),
            scope_id=self.principal.scope_id,
            slug=slug,
            name=attributes.name,
            description=attributes.description,
            sort_order=attributes.sort_order,
            external_name=attributes.external_name,
            external_description=attributes.external_description,
            bi_directional=bool(attributes.bi_directional),
            created_at=now,
            updated_at=now,
        )
        self.session.add(definition)
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise ValidationFailed(
                f"data.attributes.slug: {slug} is already used by another custom relationship"
            ) from exc
        self._event("custom-relationship.created", definition)
        return definition

    def update_definition(
        self, slug: str, body_id: str, attributes: CustomRelationshipAttributes
    ) -> CustomRelationship:
        definition = self.get_definition(slug)
        self.principal.check_can_modify(definition.scope_id)
        definition = self._lock_definition(definition, exclusive=True)
        if body_id not in (str(definition.id), definition.slug):
            raise ValidationFailed("data.id: must be the id of the custom relationship in the path")
        sent = attributes.model_fields_set
        if "slug" in sent and attributes.slug is not None and rules.with_prefix(attributes.slug) != definition.slug:
            raise ValidationFailed("data.attributes.slug: the slug of a custom relationship cannot change")
        for name in ("name", "bi_directional"):
            if name in sent and getattr(attributes, name) is None:
                raise ValidationFailed(f"data.attributes.{name}: can not be null")
        if (
            "bi_directional" in sent
            and attributes.bi_directional != definition.bi_directional
            and repo.has_associations(self.session, definition.pk)
        ):
            raise ValidationFailed(
                "data.attributes.bi_directional: cannot change while products are associated under it"
            )
        changed = False
        for name in (
            "name",
            "description",
            "sort_order",
            "external_name",
            "external_description",
            "bi_directional",
        ):
            if name in sent:
                setattr(definition, name, getattr(attributes, name))
                changed = True
        if changed:
            definition.updated_at = utcnow()
            self.session.flush()
            self._event("custom-relationship.updated", definition)
        return definition

    def delete_definition(self, slug: str) -> None:
        definition = self.get_definition(slug)
        self.principal.check_can_modify(definition.scope_id)
        definition = self._lock_definition(definition, exclusive=True)
        if repo.is_attached_anywhere(self.session, definition.pk) or repo.has_associations(self.session, definition.pk):
            raise BadRequest(IN_USE)
        try:
            repo.delete_definition(self.session, definition)
        except IntegrityError as exc:  # attached by a concurrent request after all
            raise BadRequest(IN_USE) from exc
        self._event("custom-relationship.deleted", definition)

    # --- attaching definitions to products ---

    def _writable_product(self, product_id: str) -> Product:
        product = ProductService(self.session, self.principal).get(product_id)
        self.principal.check_can_modify(product.scope_id)
        return product

    def attached(self, product_id: str, paging: Paging) -> Page[CustomRelationship]:
        product = ProductService(self.session, self.principal).get(product_id)
        return repo.attached_page(self.session, self.principal.visible_scopes, product.pk, paging)

    def usage(self, product_id: str) -> ProductUsage:
        """What the workbench shows before the limits bite (the same counts `attach` and `associate` judge)."""
        product = ProductService(self.session, self.principal).get(product_id)
        carried = len(repo.attached_definitions(self.session, product.pk))
        visible = repo.attached_page(
            self.session, self.principal.visible_scopes, product.pk, Paging(rules.MAX_RELATIONSHIPS_PER_PRODUCT)
        ).items
        return ProductUsage(
            product,
            carried,
            [RelationshipUsage(d, repo.count_associations(self.session, product.pk, d.pk)) for d in visible],
        )

    def carried_counts(self, products: Sequence[Product]) -> dict[int, int]:
        """How many relationships each product carries (all owners'), by product pk."""
        return {pk: len(slugs) for pk, slugs in repo.slugs_of_products(self.session, [p.pk for p in products]).items()}

    def attach(self, product_id: str, slugs: Sequence[str]) -> Product:
        """Attach definitions to a product; more than five in all is refused and nothing is attached."""
        product = self._writable_product(product_id)
        self._lock_product(product)
        wanted = list(dict.fromkeys(rules.with_prefix(s) for s in slugs))
        found = self._lock_definitions(repo.definitions_by_slugs(self.session, self.principal.visible_scopes, wanted))
        missing = [s for s in wanted if s not in found]
        if missing:
            raise MissingReferences("custom relationships must exist", missing)
        current = {d.pk for d in repo.attached_definitions(self.session, product.pk)}
        adding = [found[s].pk for s in wanted if found[s].pk not in current]
        rules.check_relationship_count(len(current), len(adding))
        now = utcnow()
        with self._conflicts():
            for relationship_pk in adding:
                repo.attach(self.session, [product.pk], relationship_pk, now)
            self.session.flush()
        self._event("product.updated", product)
        return product

    def detach(self, product_id: str, slugs: Sequence[str]) -> None:
        """Detach definitions, and the product's associations under them (both ways if bi-directional)."""
        product = self._writable_product(product_id)
        self._lock_product(product)
        found = self._lock_definitions(
            repo.definitions_by_slugs(
                self.session, self.principal.visible_scopes, [rules.with_prefix(s) for s in slugs]
            )
        )
        with self._conflicts():
            for definition in found.values():
                repo.delete_edges(self.session, product.pk, [definition.pk], None, both_ways=definition.bi_directional)
            repo.detach(self.session, product.pk, [d.pk for d in found.values()])
            self.session.flush()
        self._event("product.updated", product)

    # --- associations ---

    def associate(self, product_id: str, slug: str, items: Sequence[AssociationItem]) -> AssociationOutcome:
        """Seed 002: attach the slug to the source if needed, then append each item that passes its checks;
        the others are reported with the reason, and the call succeeds either way."""
        source = self._writable_product(product_id)
        definition = self.get_definition(slug)
        requested = list(dict.fromkeys(item.id for item in items))
        sort_orders: dict[str, tuple[bool, int | None]] = {}
        for item in items:
            if item.attributes is not None and "sort_order" in item.attributes.model_fields_set:
                sort_orders[item.id] = (True, item.attributes.sort_order)
        candidates = self._visible_products(requested)
        locked = self._lock([source.pk, *(p.pk for p in candidates.values())])
        if source.pk not in locked:
            raise NotFound(f"product {product_id} not found")
        # A target deleted by a request that committed meanwhile is not found.
        candidates = {raw: p for raw, p in candidates.items() if p.pk in locked}
        definition = self._lock_definition(definition, exclusive=False)

        source_slots = repo.slot_facts(self.session, [source.pk], definition.pk).get(source.pk, (False, 0))
        if not source_slots[0]:
            rules.check_relationship_count(source_slots[1], 1)
        target_pks = [p.pk for p in candidates.values()]
        slots = repo.slot_facts(self.session, target_pks, definition.pk)
        associated = repo.existing_targets(self.session, source.pk, definition.pk, target_pks)
        bi = definition.bi_directional
        reverse_exists = repo.existing_sources(self.session, source.pk, definition.pk, target_pks) if bi else set()
        reverse_counts = repo.association_counts(self.session, target_pks, definition.pk) if bi else {}
        # A target the caller may not change (an organization product, for a store) never gets the
        # caller's relationship attached: that would show the store's definition to every other store
        # and use up the product's five slots for all of them. It counts as carrying it already.
        facts = {
            raw: rules.TargetFacts(
                pk=p.pk,
                has_slug=slots.get(p.pk, (False, 0))[0] or p.scope_id != self.principal.scope_id,
                slug_count=slots.get(p.pk, (False, 0))[1],
                associated=p.pk in associated,
                reverse_exists=p.pk in reverse_exists,
                reverse_count=reverse_counts.get(p.pk, 0),
            )
            for raw, p in candidates.items()
        }
        plan = rules.plan_associations(
            source.pk,
            requested,
            facts,
            repo.count_associations(self.session, source.pk, definition.pk),
            bi_directional=bi,
        )
        now = utcnow()
        with self._conflicts():
            self._write_plan(source, definition, plan, facts, sort_orders, not source_slots[0], now)
        self._event("product.updated", source)
        if bi:  # the targets gained the reverse association
            gained = set(plan.new_targets)
            for target in candidates.values():
                if target.pk in gained:
                    self._event("product.updated", target)
        return AssociationOutcome(plan.associated, plan.not_associated, now)

    def _write_plan(
        self,
        source: Product,
        definition: CustomRelationship,
        plan: rules.AssociationPlan,
        facts: dict[str, rules.TargetFacts],
        sort_orders: dict[str, tuple[bool, int | None]],
        attach_to_source: bool,
        now: datetime,
    ) -> None:
        bi = definition.bi_directional
        reverse_exists = {f.pk for f in facts.values() if f.reverse_exists}
        if attach_to_source:
            repo.attach(self.session, [source.pk], definition.pk, now)
        repo.attach(self.session, plan.attach_to_targets, definition.pk, now)
        pk_of = {raw: f.pk for raw, f in facts.items()}
        sort_of_pk = {pk_of[raw]: value for raw, (_, value) in sort_orders.items() if raw in pk_of}
        edges: list[dict[str, Any]] = [
            _edge(source.pk, definition.pk, target, sort_of_pk.get(target), now) for target in plan.new_targets
        ]
        if bi:
            edges += [
                _edge(target, definition.pk, source.pk, sort_of_pk.get(target), now)
                for target in plan.new_targets
                if target not in reverse_exists
            ]
        repo.insert_edges(self.session, edges)
        updates = {pk: sort_of_pk[pk] for pk in plan.existing_targets if pk in sort_of_pk}
        if updates:
            repo.set_sort_orders(self.session, source.pk, definition.pk, updates, now)
        self.session.flush()

    def dissociate(self, product_id: str, slug: str, target_ids: Sequence[str]) -> None:
        source = self._writable_product(product_id)
        definition = self.get_definition(slug)
        parsed = [p for p in (parse_id(raw) for raw in target_ids) if p is not None]
        targets = (
            [pk for (pk,) in self.session.execute(select(Product.pk).where(Product.id.in_(parsed)))] if parsed else []
        )
        if source.pk not in self._lock([source.pk, *targets]):
            raise NotFound(f"product {product_id} not found")
        definition = self._lock_definition(definition, exclusive=False)
        with self._conflicts():
            repo.delete_edges(self.session, source.pk, [definition.pk], targets, both_ways=definition.bi_directional)
            self.session.flush()
        self._event("product.updated", source)
        if definition.bi_directional and targets:  # the targets lost the reverse association
            for target in self.session.scalars(select(Product).where(Product.pk.in_(targets))):
                self._event("product.updated", target)

    def _event(self, triggered_by: str, entity: CustomRelationship | Product) -> None:
        events.record(self.session, self.principal, triggered_by, entity, entity.id, entity.scope_id)

    def related(self, product_id: str, slug: str, paging: Paging) -> Page[tuple[Association, Product]]:
        product = ProductService(self.session, self.principal).get(product_id)
        definition = self.get_definition(slug)
        return repo.related_page(self.session, product.pk, definition.pk, paging)

    # --- helpers ---

    def _visible_products(self, raw_ids: Sequence[str]) -> dict[str, Product]:
        parsed = {raw: parse_id(raw) for raw in raw_ids}
        wanted = [p for p in parsed.values() if p is not None]
        if not wanted:
            return {}
        # Only what the association rules read: loading whole products (JSON columns and all) costs more than
        # the rest of a 2,000-product request.
        query = (
            select(Product)
            .options(load_only(Product.pk, Product.id, Product.scope_id))
            .where(Product.id.in_(wanted), product_repo.owner_filter(self.principal.visible_scopes))
        )
        found = {p.id: p for p in self.session.scalars(query)}
        return {raw: found[pid] for raw, pid in parsed.items() if pid is not None and pid in found}

    def _lock(self, product_pks: Sequence[int]) -> set[int]:
        """Lock products (see the module docstring); returns those that still exist."""
        try:
            return repo.lock_products(self.session, set(product_pks))
        except OperationalError as exc:  # lock_timeout or deadlock: tell the client to retry
            if not is_contention(exc):
                raise  # the database went away: a 503, not a conflict
            raise Conflict(WRITE_CONFLICT) from exc

    def _lock_product(self, product: Product) -> None:
        if product.pk not in self._lock([product.pk]):
            raise NotFound(f"product {product.id} not found")

    def _lock_definitions(self, found: dict[str, CustomRelationship]) -> dict[str, CustomRelationship]:
        """Lock (shared) and reload definitions by slug; those deleted meanwhile are left out."""
        try:
            locked = repo.lock_definitions(self.session, [d.pk for d in found.values()], exclusive=False)
        except OperationalError as exc:
            if not is_contention(exc):
                raise
            raise Conflict(WRITE_CONFLICT) from exc
        return {slug: locked[d.pk] for slug, d in found.items() if d.pk in locked}

    def _lock_definition(self, definition: CustomRelationship, *, exclusive: bool) -> CustomRelationship:
        try:
            locked = repo.lock_definitions(self.session, [definition.pk], exclusive=exclusive)
        except OperationalError as exc:
            if not is_contention(exc):
                raise
            raise Conflict(WRITE_CONFLICT) from exc
        if definition.pk not in locked:
            raise NotFound(f"custom relationship {definition.slug} not found")
        return locked[definition.pk]

    @contextmanager
    def _conflicts(self) -> Iterator[None]:
        """A write that a concurrent request made impossible (a row taken or gone meanwhile) is a 409;
        the request's transaction is rolled back."""
        try:
            yield
        except IntegrityError as exc:
            raise Conflict(WRITE_CONFLICT) from exc


def relationship_slugs(session: Session, products: Sequence[Product]) -> dict[int, list[str]]:
    """The slugs of the custom relationships attached to each product, by product pk."""
    return repo.slugs_of_products(session, [p.pk for p in products])


def _edge(source: int, relationship: int, target: int, sort_order: int | None, now: datetime) -> dict[str, Any]:
    return {
        "source_pk": source,
        "relationship_pk": relationship,
        "target_pk": target,
        "sort_order": sort_order,
        "status": "active",
        "created_at": now,
        "updated_at": now,
    }
