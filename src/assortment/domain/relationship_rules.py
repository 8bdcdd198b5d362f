"""Rules of custom relationships (SPEC §3, seed 002) as plain functions: no database, no HTTP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from assortment.errors import ValidationFailed

SLUG_PREFIX = "CRP_"
MAX_RELATIONSHIPS_PER_PRODUCT = 5
MAX_ASSOCIATIONS = 2000

# The exact texts of seed 002.
PRODUCT_NOT_FOUND = "could not find product"
SELF_ASSOCIATION = "cannot associate a product with itself"
TARGET_AT_LIMIT = (
    "product already has 5 custom relationships, cannot associate more as it has reached the limit of 5 "
    "custom relationships"
)
TOO_MANY_ASSOCIATIONS = "exceeded maximum allowed associations (2000). Please review and try again"


def with_prefix(slug: str) -> str:
    """`related` → `CRP_related`; a slug that already has the prefix is kept."""
    return slug if slug.startswith(SLUG_PREFIX) else SLUG_PREFIX + slug


def check_relationship_count(attached: int, adding: int) -> None:
    """A product carries at most five custom relationships."""
    if attached + adding > MAX_RELATIONSHIPS_PER_PRODUCT:
        raise ValidationFailed(TARGET_AT_LIMIT)


@dataclass(frozen=True, slots=True)
class TargetFacts:
    """What the service knows about one requested target before deciding."""

    pk: int
    has_slug: bool  # the relationship is already attached to the target
    slug_count: int  # custom relationships attached to the target
    associated: bool  # source → target already exists under the relationship
    reverse_exists: bool  # target → source already exists (bi-directional only)
    reverse_count: int  # associations of the target under the relationship (bi-directional only)


@dataclass
class AssociationPlan:
    associated: list[str] = field(default_factory=list)
    not_associated: list[tuple[str, str]] = field(default_factory=list)
    new_targets: list[int] = field(default_factory=list)  # target pks to link
    existing_targets: list[int] = field(default_factory=list)  # already linked, maybe a new sort order
    attach_to_targets: list[int] = field(default_factory=list)  # targets that get the slug attached


def plan_associations(
    source_pk: int,
    requested: Sequence[str],
    targets: Mapping[str, TargetFacts],
    source_count: int,
    *,
    bi_directional: bool,
) -> AssociationPlan:
    """Decide, item by item in request order, which targets get associated and why others do not.

    `requested` are the ids in request order (repeats are planned once, and so are two spellings of one
    product's id); `targets` the facts of those that exist;
    `source_count` the associations the source already has under the relationship.
    """
    plan = AssociationPlan()
    count = source_count
    linked: set[int] = set()  # targets this plan already links: a repeat (another spelling) is linked
    for raw in dict.fromkeys(requested):
        facts = targets.get(raw)
        if facts is None:
            plan.not_associated.append((raw, PRODUCT_NOT_FOUND))
            continue
        if facts.pk == source_pk:
            plan.not_associated.append((raw, SELF_ASSOCIATION))
            continue
        if facts.pk in linked:
            plan.associated.append(raw)
            continue
        if facts.associated:
            linked.add(facts.pk)
            plan.associated.append(raw)
            plan.existing_targets.append(facts.pk)
            continue
        if not facts.has_slug and facts.slug_count >= MAX_RELATIONSHIPS_PER_PRODUCT:
            plan.not_associated.append((raw, TARGET_AT_LIMIT))
            continue
        if count >= MAX_ASSOCIATIONS:
            plan.not_associated.append((raw, TOO_MANY_ASSOCIATIONS))
            continue
        if bi_directional and not facts.reverse_exists and facts.reverse_count >= MAX_ASSOCIATIONS:
            plan.not_associated.append((raw, TOO_MANY_ASSOCIATIONS))
            continue
        count += 1
        linked.add(facts.pk)
        plan.associated.append(raw)
        plan.new_targets.append(facts.pk)
        if not facts.has_slug:
            plan.attach_to_targets.append(facts.pk)
    return plan
