"""The structural rules of SPEC §2.3 as pure functions (`domain/tree_rules.py`), and the sort_order
overwrite rule of §2.4 / seed 001 (`domain/hierarchies.sort_order_change`)."""

from __future__ import annotations

from typing import Any

import pytest

from assortment.domain import tree_rules
from assortment.domain.hierarchies import UNSET, sort_order_change
from assortment.errors import ValidationFailed
from assortment.schemas.hierarchies import NodeMeta

# --- R1 -------------------------------------------------------------------------------------------------


def test_r1_unique_names_and_slugs_pass() -> None:
    tree_rules.check_unique_among_siblings([("C", "c")], [("A", "a"), ("B", "b")])
    tree_rules.check_unique_among_siblings([("C", "c"), ("D", "d")], [])
    tree_rules.check_unique_among_siblings([], [("A", "a")])


@pytest.mark.parametrize(
    ("arriving", "staying", "fragment"),
    [
        ([("A", "new")], [("A", "a")], "name"),
        ([("New", "a")], [("A", "a")], "slug"),
        ([("X", None)], [("X", "x")], "name"),
        ([("X", "s"), ("Y", "s")], [], "slug"),
        ([("X", "x"), ("X", "y")], [], "name"),
        ([("X", "x"), ("Y", "y"), ("X", "z")], [("Q", "q")], "name"),
    ],
)
def test_r1_clashes_are_refused(
    arriving: list[tuple[str, str | None]], staying: list[tuple[str, str | None]], fragment: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        tree_rules.check_unique_among_siblings(arriving, staying)
    assert fragment in str(raised.value.detail)


def test_r1_is_case_sensitive_and_exact() -> None:
    tree_rules.check_unique_among_siblings([("ranges", "ranges")], [("Ranges", "Ranges")])
    tree_rules.check_unique_among_siblings([("Ranges ", "ranges-")], [("Ranges", "ranges")])


def test_r1_absent_slugs_never_clash() -> None:
    tree_rules.check_unique_among_siblings([("A", None), ("B", None)], [("C", None)])


def test_r1_clashes_among_staying_nodes_alone_are_not_the_arrivals_fault() -> None:
    """Only the arriving nodes are judged; the others are already stored (and held by the indexes)."""
    tree_rules.check_unique_among_siblings([("New", "new")], [("A", "a"), ("A", "a")])


# --- R3 -------------------------------------------------------------------------------------------------


def test_r3_not_own_parent() -> None:
    tree_rules.check_not_own_parent("p", ["a", "b"])
    tree_rules.check_not_own_parent("p", [])
    with pytest.raises(ValidationFailed):
        tree_rules.check_not_own_parent("p", ["a", "p"])
    with pytest.raises(ValidationFailed):
        tree_rules.check_not_own_parent("p", ["p"])


# --- R4 -------------------------------------------------------------------------------------------------


def test_r4_moving_under_an_unrelated_branch_is_fine() -> None:
    # New parent 5, whose ancestors are 4 and 1; the moving nodes are elsewhere.
    tree_rules.check_no_cycle([2, 3], [5, 4, 1])
    tree_rules.check_no_cycle([], [5, 4, 1])
    tree_rules.check_no_cycle([2], [])


@pytest.mark.parametrize(
    ("moving", "ancestors"),
    [
        ([5], [5, 4, 1]),  # under itself
        ([4], [5, 4, 1]),  # under its child
        ([1], [5, 4, 1]),  # under a deep descendant
        ([9, 1], [5, 4, 1]),  # one of several
    ],
)
def test_r4_cycles_are_refused(moving: list[int], ancestors: list[int]) -> None:
    with pytest.raises(ValidationFailed):
        tree_rules.check_no_cycle(moving, ancestors)


# --- R7 -------------------------------------------------------------------------------------------------


def test_r7_curated_products_pass() -> None:
    ids = [f"p{i}" for i in range(20)]
    tree_rules.check_curated_products(ids, set(ids))
    tree_rules.check_curated_products([], set())
    tree_rules.check_curated_products(["b", "a"], {"a", "b", "c"})


def test_r7_more_than_20_is_refused() -> None:
    ids = [f"p{i}" for i in range(21)]
    assert tree_rules.MAX_CURATED_PRODUCTS == 20
    with pytest.raises(ValidationFailed) as raised:
        tree_rules.check_curated_products(ids, set(ids))
    assert "20" in str(raised.value.detail)


def test_r7_unlinked_products_are_refused_with_missing_ids() -> None:
    with pytest.raises(ValidationFailed) as raised:
        tree_rules.check_curated_products(["a", "x", "b", "y"], {"a", "b"})
    assert raised.value.meta == {"missing_ids": ["x", "y"]}


def test_r7_repeats_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        tree_rules.check_curated_products(["a", "b", "a"], {"a", "b"})


# --- custom attributes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "changes", "expected"),
    [
        (None, None, None),
        ({"a": "1"}, None, {"a": "1"}),
        (None, {"a": "1"}, {"a": "1"}),
        ({"a": "1", "b": "2"}, {"a": None, "c": "3"}, {"b": "2", "c": "3"}),
        ({"a": "1"}, {"a": None}, None),
        ({"a": "1"}, {"missing": None}, {"a": "1"}),
        ({"a": "1"}, {"a": "9"}, {"a": "9"}),
    ],
)
def test_custom_attributes_merge(current: Any, changes: Any, expected: Any) -> None:
    assert tree_rules.merge_custom_attributes(current, changes) == expected


def test_custom_attributes_merge_does_not_mutate_the_stored_map() -> None:
    current = {"a": "1"}
    tree_rules.merge_custom_attributes(current, {"a": None})
    assert current == {"a": "1"}


# --- sort_order overwrite rule (seed 001) -------------------------------------------------------------


def test_an_item_without_sort_order_keeps_the_stored_one() -> None:
    assert sort_order_change(None) is UNSET
    assert sort_order_change(NodeMeta()) is UNSET
    assert sort_order_change(NodeMeta.model_validate({})) is UNSET


@pytest.mark.parametrize("value", [3, 0, -5, None])
def test_an_item_with_sort_order_overwrites_it(value: int | None) -> None:
    assert sort_order_change(NodeMeta.model_validate({"sort_order": value})) == value
