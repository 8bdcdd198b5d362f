"""The structural rules of hierarchies (SPEC §2.3), as plain functions: the service gathers the facts,
these judge them. No database, no HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from assortment.errors import ValidationFailed

MAX_CURATED_PRODUCTS = 20


def check_unique_among_siblings(
    arriving: Sequence[tuple[str, str | None]], staying: Iterable[tuple[str, str | None]]
) -> None:
    """R1: names and slugs are unique among the children of one parent (exact, case-sensitive).

    `arriving` are the (name, slug) of nodes being created, moved or renamed under the parent;
    `staying` those of the parent's other children.
    """
    names: Counter[str] = Counter()
    slugs: Counter[str] = Counter()
    for name, slug in [*staying, *arriving]:
        names[name] += 1
        if slug is not None:
            slugs[slug] += 1
    for name, slug in arriving:
        if slug is not None and slugs[slug] > 1:
            raise ValidationFailed(
                f"slug {slug!r} is already used by a sibling node; slugs must be unique among siblings"
            )
        if names[name] > 1:
            raise ValidationFailed(
                f"name {name!r} is already used by a sibling node; names must be unique among siblings"
            )


def check_not_own_parent(parent_id: str, child_ids: Collection[str]) -> None:
    """R3: a node is never its own parent."""
    if parent_id in child_ids:
        raise ValidationFailed("a node cannot be a child of itself", meta={"ids": [parent_id]})


def check_no_cycle(moving_pks: Collection[int], parent_and_ancestor_pks: Collection[int]) -> None:
    """R4: a node may not be placed under itself or under one of its own descendants.

    `parent_and_ancestor_pks` is the new parent followed by its ancestors; a moving node found there
    would become its own ancestor.
    """
    if any(pk in parent_and_ancestor_pks for pk in moving_pks):
        raise ValidationFailed("a node cannot become a child of itself or of one of its descendants")


def check_curated_products(curated: Sequence[str], linked: Collection[str]) -> None:
    """R7: at most 20 curated products, each linked to the node, none twice."""
    if len(curated) > MAX_CURATED_PRODUCTS:
        raise ValidationFailed(f"a node can have at most {MAX_CURATED_PRODUCTS} curated products")
    repeated = [pid for pid, count in Counter(curated).items() if count > 1]
    if repeated:
        raise ValidationFailed("curated products must not repeat", meta={"ids": repeated})
    unlinked = [pid for pid in curated if pid not in linked]
    if unlinked:
        raise ValidationFailed(
            "curated products must be products linked to the node", meta={"missing_ids": unlinked}
        )


def merge_custom_attributes(
    current: dict[str, str] | None, changes: dict[str, str | None] | None
) -> dict[str, str] | None:
    """Custom attribute maps: a key sent with null is removed, others are set."""
    if changes is None:
        return current
    merged: dict[str, Any] = dict(current or {})
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged or None
