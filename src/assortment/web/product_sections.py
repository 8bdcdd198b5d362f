"""What a product's workbench page shows besides its details and nodes: its related products per custom
relationship (with the limits of SPEC §3 counted as the API counts them) and its product relationships
as the v2 dialect sees them (seed 004)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from assortment.db.models import Association, CustomRelationship, Product
from assortment.domain import relationship_rules as rules
from assortment.domain.custom_relationships import CustomRelationshipService, ProductUsage
from assortment.domain.paging import Paging
from assortment.domain.product_relationships import LinkView, ProductRelationshipService, code_of
from assortment.domain.products import ProductService
from assortment.domain.users import SignedIn
from assortment.web import history

RELATED_SHOWN = 50  # related products listed per relationship on the page
V2_SHOWN = 100  # product relationships listed in the v2 table
DEFINITIONS_OFFERED = 100  # relationships offered in the picker's select
FOUND_SIZE = 25  # products per search in the picker


@dataclass(frozen=True, slots=True)
class RelatedGroup:
    definition: CustomRelationship
    associations: int  # as the 2,000 limit counts them (inactive ones too)
    shown: list[tuple[Association, Product]]
    active: int  # what the PXM view lists

    @property
    def room(self) -> int:
        return max(rules.MAX_ASSOCIATIONS - self.associations, 0)


@dataclass(frozen=True, slots=True)
class Choice:
    """A relationship offered in the picker, and why it cannot take more, if it cannot."""

    definition: CustomRelationship
    blocked: str | None


@dataclass(frozen=True, slots=True)
class Found:
    product: Product
    carried: int  # relationships it carries (a target at five only takes those it already has)


def found_products(session: Session, user: SignedIn, text: str) -> list[Found]:
    products, _ = ProductService(session, user.principal).browse(text, FOUND_SIZE, 0)
    counts = CustomRelationshipService(session, user.principal).carried_counts(list(products))
    return [Found(p, counts.get(p.pk, 0)) for p in products]


def choices(session: Session, user: SignedIn, usage: ProductUsage) -> list[Choice]:
    """Every relationship the user sees, each marked when associating under it would be refused outright."""
    service = CustomRelationshipService(session, user.principal)
    page = service.list_definitions(None, Paging(DEFINITIONS_OFFERED, 0))
    counts = {u.definition.pk: u.associations for u in usage.relationships}
    offered = []
    for definition in page.items:
        blocked = None
        if definition.pk in counts:
            if counts[definition.pk] >= rules.MAX_ASSOCIATIONS:
                blocked = f"full: {rules.MAX_ASSOCIATIONS:,} associated"
        elif usage.carried >= rules.MAX_RELATIONSHIPS_PER_PRODUCT:
            blocked = f"this product already carries {rules.MAX_RELATIONSHIPS_PER_PRODUCT} relationships"
        offered.append(Choice(definition, blocked))
    return offered


def sections(session: Session, user: SignedIn, product_id: str) -> dict[str, Any]:
    """The template context of the related-products and v2 sections of a product's page."""
    relationships = CustomRelationshipService(session, user.principal)
    usage = relationships.usage(product_id)
    groups = []
    for used in usage.relationships:
        page = relationships.related(product_id, used.definition.slug, Paging(RELATED_SHOWN, 0))
        groups.append(RelatedGroup(used.definition, used.associations, page.items, page.total))
    product = usage.product
    v2 = ProductRelationshipService(session, user.principal)
    edges, v2_total = v2.of_product(product_id, V2_SHOWN)
    links: list[LinkView] = v2.describe(edges)
    context: dict[str, Any] = {
        "usage": usage,
        "groups": groups,
        "max_relationships": rules.MAX_RELATIONSHIPS_PER_PRODUCT,
        "max_associations": rules.MAX_ASSOCIATIONS,
        "links": links,
        "links_total": v2_total,
        "code_of": code_of,
        "choices": [],
        "found": [],
        "history": history.recent(session, user, "product", str(product.id)),
    }
    if user.can_edit:
        context["choices"] = choices(session, user, usage)
        context["found"] = found_products(session, user, "")
    return context
