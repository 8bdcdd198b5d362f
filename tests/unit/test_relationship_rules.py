"""The pure rules of custom relationships (SPEC §3, seed 002): no database, no HTTP."""

from __future__ import annotations

import pytest

from assortment.domain import relationship_rules as rules
from assortment.domain.relationship_rules import TargetFacts, plan_associations
from assortment.errors import ValidationFailed

SOURCE = 1

# Seed 002's texts, spelled out here so that a change to the constants is caught too.
NOT_FOUND = "could not find product"
AT_FIVE = (
    "product already has 5 custom relationships, cannot associate more as it has reached the limit of 5 "
    "custom relationships"
)
AT_2000 = "exceeded maximum allowed associations (2000). Please review and try again"
SELF = "cannot associate a product with itself"


def facts(
    pk: int,
    *,
    has_slug: bool = False,
    slug_count: int = 0,
    associated: bool = False,
    reverse_exists: bool = False,
    reverse_count: int = 0,
) -> TargetFacts:
    return TargetFacts(
        pk=pk,
        has_slug=has_slug,
        slug_count=slug_count,
        associated=associated,
        reverse_exists=reverse_exists,
        reverse_count=reverse_count,
    )


def test_texts_are_seed_002s() -> None:
    assert rules.PRODUCT_NOT_FOUND == NOT_FOUND
    assert rules.TARGET_AT_LIMIT == AT_FIVE
    assert rules.TOO_MANY_ASSOCIATIONS == AT_2000
    assert rules.SELF_ASSOCIATION == SELF
    assert rules.MAX_RELATIONSHIPS_PER_PRODUCT == 5
    assert rules.MAX_ASSOCIATIONS == 2000


# --- with_prefix ---


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("related", "CRP_related"),
        ("CRP_related", "CRP_related"),
        ("CRP_", "CRP_"),
        ("CRP", "CRP_CRP"),
        ("crp_related", "CRP_crp_related"),  # the prefix is case-sensitive
        ("CRPrelated", "CRP_CRPrelated"),
        ("x.y-z_1", "CRP_x.y-z_1"),
        ("_CRP_a", "CRP__CRP_a"),
    ],
)
def test_with_prefix(slug: str, expected: str) -> None:
    assert rules.with_prefix(slug) == expected


def test_with_prefix_is_idempotent() -> None:
    for slug in ("a", "CRP_a", "crp_a", "CRP"):
        once = rules.with_prefix(slug)
        assert rules.with_prefix(once) == once


# --- check_relationship_count ---


@pytest.mark.parametrize(("attached", "adding"), [(0, 0), (0, 1), (0, 5), (4, 1), (5, 0), (2, 3)])
def test_up_to_five_relationships_are_allowed(attached: int, adding: int) -> None:
    rules.check_relationship_count(attached, adding)


@pytest.mark.parametrize(("attached", "adding"), [(5, 1), (0, 6), (4, 2), (3, 3), (2, 4), (6, 0)])
def test_more_than_five_relationships_are_refused(attached: int, adding: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.check_relationship_count(attached, adding)
    assert raised.value.detail == AT_FIVE


# --- plan_associations ---


def test_a_new_target_is_associated_and_gets_the_slug() -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2)}, 0, bi_directional=False)
    assert plan.associated == ["b"]
    assert plan.not_associated == []
    assert plan.new_targets == [2]
    assert plan.existing_targets == []
    assert plan.attach_to_targets == [2]


def test_a_target_that_already_carries_the_slug_is_not_attached_again() -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2, has_slug=True, slug_count=5)}, 0, bi_directional=False)
    assert plan.associated == ["b"]
    assert plan.new_targets == [2]
    assert plan.attach_to_targets == []


def test_a_missing_target_is_reported() -> None:
    plan = plan_associations(SOURCE, ["nope"], {}, 0, bi_directional=False)
    assert plan.associated == []
    assert plan.not_associated == [("nope", NOT_FOUND)]
    assert plan.new_targets == plan.existing_targets == plan.attach_to_targets == []


def test_the_source_cannot_be_its_own_target() -> None:
    plan = plan_associations(SOURCE, ["me"], {"me": facts(SOURCE)}, 0, bi_directional=True)
    assert plan.associated == []
    assert plan.not_associated == [("me", SELF)]
    assert plan.new_targets == plan.attach_to_targets == []


@pytest.mark.parametrize("slug_count", [5, 6])
def test_a_target_with_five_other_relationships_is_refused(slug_count: int) -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2, slug_count=slug_count)}, 0, bi_directional=False)
    assert plan.associated == []
    assert plan.not_associated == [("b", AT_FIVE)]
    assert plan.new_targets == plan.attach_to_targets == []


def test_a_target_with_four_other_relationships_takes_a_fifth() -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2, slug_count=4)}, 0, bi_directional=False)
    assert plan.associated == ["b"]
    assert plan.attach_to_targets == [2]


@pytest.mark.parametrize("bi_directional", [False, True])
def test_the_five_limit_applies_to_targets_in_both_modes(bi_directional: bool) -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2, slug_count=5)}, 0, bi_directional=bi_directional)
    assert plan.not_associated == [("b", AT_FIVE)]


def test_a_full_source_refuses_new_targets() -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2)}, 2000, bi_directional=False)
    assert plan.associated == []
    assert plan.not_associated == [("b", AT_2000)]
    assert plan.new_targets == plan.attach_to_targets == []


def test_the_source_fills_up_during_the_request() -> None:
    requested = ["a", "b", "c", "d"]
    targets = {raw: facts(10 + i) for i, raw in enumerate(requested)}
    plan = plan_associations(SOURCE, requested, targets, 1998, bi_directional=False)
    assert plan.associated == ["a", "b"]
    assert plan.not_associated == [("c", AT_2000), ("d", AT_2000)]
    assert plan.new_targets == [10, 11]
    # Refused targets do not get the slug either.
    assert plan.attach_to_targets == [10, 11]


def test_already_associated_targets_count_as_associated_even_when_full() -> None:
    """Re-sending an associated product is not a new association: no limit applies to it."""
    plan = plan_associations(
        SOURCE,
        ["old", "new"],
        {"old": facts(2, associated=True, has_slug=True, slug_count=5), "new": facts(3)},
        2000,
        bi_directional=False,
    )
    assert plan.associated == ["old"]
    assert plan.existing_targets == [2]
    assert plan.new_targets == []
    assert plan.not_associated == [("new", AT_2000)]


def test_already_associated_targets_do_not_use_up_room() -> None:
    plan = plan_associations(
        SOURCE,
        ["old", "new"],
        {"old": facts(2, associated=True, has_slug=True), "new": facts(3)},
        1999,
        bi_directional=False,
    )
    assert plan.associated == ["old", "new"]
    assert plan.existing_targets == [2]
    assert plan.new_targets == [3]


def test_bi_directional_target_with_a_full_reverse_list_is_refused() -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2, reverse_count=2000)}, 0, bi_directional=True)
    assert plan.not_associated == [("b", AT_2000)]
    assert plan.new_targets == plan.attach_to_targets == []


def test_uni_directional_ignores_the_targets_own_list() -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2, reverse_count=2000)}, 0, bi_directional=False)
    assert plan.associated == ["b"]


def test_bi_directional_full_reverse_list_that_already_points_back_is_fine() -> None:
    """The reverse edge exists already, so the target's list does not grow."""
    plan = plan_associations(
        SOURCE,
        ["b"],
        {"b": facts(2, has_slug=True, reverse_exists=True, reverse_count=2000)},
        0,
        bi_directional=True,
    )
    assert plan.associated == ["b"]
    assert plan.new_targets == [2]


def test_bi_directional_target_with_room_is_associated() -> None:
    plan = plan_associations(SOURCE, ["b"], {"b": facts(2, reverse_count=1999)}, 0, bi_directional=True)
    assert plan.associated == ["b"]
    assert plan.new_targets == [2]
    assert plan.attach_to_targets == [2]


def test_checks_apply_in_seed_order() -> None:
    """Missing beats everything; self beats the limits; the five limit is reported before the 2000 one."""
    plan = plan_associations(
        SOURCE,
        ["self", "five"],
        {"self": facts(SOURCE, slug_count=5), "five": facts(2, slug_count=5)},
        2000,
        bi_directional=True,
    )
    assert plan.not_associated == [("self", SELF), ("five", AT_FIVE)]


def test_results_keep_the_request_order() -> None:
    """Seed 002's example: two associated, one missing, two at the five limit, one past 2000."""
    requested = ["ok1", "missing", "five1", "ok2", "five2", "full"]
    targets = {
        "ok1": facts(11),
        "five1": facts(12, slug_count=5),
        "ok2": facts(13, has_slug=True, slug_count=1),
        "five2": facts(14, slug_count=5),
        "full": facts(15),
    }
    plan = plan_associations(SOURCE, requested, targets, 1998, bi_directional=False)
    assert plan.associated == ["ok1", "ok2"]
    assert plan.not_associated == [
        ("missing", NOT_FOUND),
        ("five1", AT_FIVE),
        ("five2", AT_FIVE),
        ("full", AT_2000),
    ]
    assert plan.new_targets == [11, 13]
    assert plan.attach_to_targets == [11]


def test_mixed_new_and_existing_targets_keep_request_order() -> None:
    requested = ["c", "a", "b"]
    targets = {"a": facts(2, associated=True, has_slug=True), "b": facts(3), "c": facts(4)}
    plan = plan_associations(SOURCE, requested, targets, 5, bi_directional=False)
    assert plan.associated == ["c", "a", "b"]
    assert plan.new_targets == [4, 3]
    assert plan.existing_targets == [2]


def test_repeated_ids_are_planned_once() -> None:
    plan = plan_associations(SOURCE, ["b", "x", "b", "x", "b"], {"b": facts(2)}, 1999, bi_directional=False)
    assert plan.associated == ["b"]
    assert plan.not_associated == [("x", NOT_FOUND)]
    assert plan.new_targets == [2]
    assert plan.attach_to_targets == [2]


def test_two_spellings_of_one_product_are_planned_once() -> None:
    """`ABC…` and `abc…` name the same product: it is linked once (a second insert would clash)."""
    same = facts(2)
    plan = plan_associations(
        SOURCE, ["ab-upper", "ab-lower"], {"ab-upper": same, "ab-lower": same}, 1999, bi_directional=False
    )
    assert plan.associated == ["ab-upper", "ab-lower"]
    assert plan.new_targets == [2]
    assert plan.attach_to_targets == [2]
    assert plan.not_associated == []


def test_nothing_requested_plans_nothing() -> None:
    plan = plan_associations(SOURCE, [], {}, 0, bi_directional=True)
    assert plan.associated == []
    assert plan.not_associated == []
    assert plan.new_targets == plan.existing_targets == plan.attach_to_targets == []
