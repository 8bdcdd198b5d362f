"""Pure rules of catalogs: choosing a catalog rule (SPEC §5) and the child order of a release (§2.4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from assortment.db.models import CatalogRule, Node
from assortment.domain.catalog_rules import ShopperContext, choose_rule, rule_score
from assortment.domain.publish import child_order_key

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def rule(name: str = "r", **criteria: Any) -> CatalogRule:
    return CatalogRule(id=uuid.uuid4(), name=name, catalog_pk=1, **criteria)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- rule_score ---------------------------------------------------------------------------------------------


def test_a_rule_without_criteria_matches_everything_with_score_zero() -> None:
    for context in (ShopperContext(), ShopperContext(channel="web", tag="vip", customer_id="c", account_id="a")):
        assert rule_score(rule(), context, NOW) == 0
        assert rule_score(rule(channels=[], tags=[], schedules=[]), context, NOW) == 0


@pytest.mark.parametrize(
    ("criteria", "context", "score"),
    [
        ({"channels": ["web"]}, ShopperContext(channel="web"), 1),
        ({"channels": ["web", "app"]}, ShopperContext(channel="app"), 1),
        ({"channels": ["web"]}, ShopperContext(channel="app"), None),
        ({"channels": ["web"]}, ShopperContext(), None),  # a criterion needs the context to say something
        ({"channels": ["web"]}, ShopperContext(channel="Web"), None),  # exact comparison
        ({"tags": ["vip"]}, ShopperContext(tag="vip"), 1),
        ({"tags": ["vip"]}, ShopperContext(channel="vip"), None),
        ({"channels": ["web"], "tags": ["vip"]}, ShopperContext(channel="web", tag="vip"), 2),
        ({"channels": ["web"], "tags": ["vip"]}, ShopperContext(channel="web"), None),
        ({"channels": ["web"], "tags": ["vip"]}, ShopperContext(channel="web", tag="other"), None),
        ({"customer_ids": ["c1"]}, ShopperContext(customer_id="c1"), 1),
        ({"customer_ids": ["c1"]}, ShopperContext(customer_id="c2"), None),
        ({"account_ids": ["a1"]}, ShopperContext(account_id="a1"), 1),
        ({"account_ids": ["a1"], "channels": ["web"]}, ShopperContext(account_id="a1", channel="web"), 2),
        # Criteria the rule does not have do not count against it.
        ({"channels": ["web"]}, ShopperContext(channel="web", tag="vip", customer_id="c"), 1),
    ],
)
def test_rule_score(criteria: dict[str, Any], context: ShopperContext, score: int | None) -> None:
    assert rule_score(rule(**criteria), context, NOW) == score


@pytest.mark.parametrize(
    ("schedule", "holds"),
    [
        ({"valid_from": iso(NOW - timedelta(days=1)), "valid_to": iso(NOW + timedelta(days=1))}, True),
        ({"valid_from": iso(NOW - timedelta(days=1))}, True),
        ({"valid_to": iso(NOW + timedelta(seconds=1))}, True),
        ({}, True),
        ({"valid_from": iso(NOW)}, True),  # the start is included
        ({"valid_to": iso(NOW)}, False),  # the end is not
        ({"valid_from": iso(NOW + timedelta(seconds=1))}, False),
        ({"valid_from": iso(NOW - timedelta(days=2)), "valid_to": iso(NOW - timedelta(days=1))}, False),
        ({"valid_from": "2030-06-01"}, True),  # a date alone
        ({"valid_to": "2030-06-01"}, False),
    ],
)
def test_a_schedule_counts_as_a_criterion(schedule: dict[str, str], holds: bool) -> None:
    expected = 1 if holds else None
    assert rule_score(rule(schedules=[schedule]), ShopperContext(), NOW) == expected
    expected_with_channel = 2 if holds else None
    scheduled = rule(channels=["web"], schedules=[schedule])
    assert rule_score(scheduled, ShopperContext(channel="web"), NOW) == expected_with_channel


def test_any_schedule_of_a_rule_may_hold() -> None:
    past = {"valid_from": iso(NOW - timedelta(days=3)), "valid_to": iso(NOW - timedelta(days=2))}
    current = {"valid_from": iso(NOW - timedelta(hours=1)), "valid_to": iso(NOW + timedelta(hours=1))}
    assert rule_score(rule(schedules=[past, current]), ShopperContext(), NOW) == 1
    assert rule_score(rule(schedules=[past]), ShopperContext(), NOW) is None


# --- choose_rule ------------------------------------------------------------------------------------------


def test_no_rules_or_no_match_chooses_nothing() -> None:
    assert choose_rule([], ShopperContext(channel="web"), NOW) is None
    assert choose_rule([rule(channels=["app"]), rule(tags=["x"])], ShopperContext(channel="web"), NOW) is None


def test_the_rule_with_most_criteria_wins() -> None:
    default = rule("default")
    web = rule("web", channels=["web"])
    web_vip = rule("web-vip", channels=["web"], tags=["vip"])
    rules = [default, web, web_vip]
    assert choose_rule(rules, ShopperContext(), NOW) is default
    assert choose_rule(rules, ShopperContext(channel="web"), NOW) is web
    assert choose_rule(rules, ShopperContext(channel="web", tag="vip"), NOW) is web_vip
    assert choose_rule(list(reversed(rules)), ShopperContext(channel="web", tag="vip"), NOW) is web_vip


def test_ties_go_to_the_first_rule() -> None:
    first, second = rule("first", channels=["web"]), rule("second", tags=["vip"])
    context = ShopperContext(channel="web", tag="vip")
    assert choose_rule([first, second], context, NOW) is first
    assert choose_rule([second, first], context, NOW) is second


def test_a_rule_out_of_schedule_is_skipped() -> None:
    expired = rule("expired", channels=["web"], schedules=[{"valid_to": iso(NOW - timedelta(days=1))}])
    plain = rule("plain", channels=["web"])
    assert choose_rule([expired, plain], ShopperContext(channel="web"), NOW) is plain
    assert choose_rule([expired, plain], ShopperContext(channel="web"), NOW - timedelta(days=2)) is expired


# --- child_order_key (§2.4) ---------------------------------------------------------------------------------


def node(name: str, sort_order: int | None, updated: datetime, node_id: uuid.UUID | None = None) -> Node:
    return Node(id=node_id or uuid.uuid4(), name=name, sort_order=sort_order, updated_at=updated)


def ordered(*nodes: Node) -> list[str]:
    return [n.name for n in sorted(nodes, key=child_order_key)]


def test_highest_sort_order_first_then_unsorted() -> None:
    t = NOW
    assert ordered(
        node("two", 2, t),
        node("unsorted", None, t + timedelta(days=1)),
        node("three", 3, t - timedelta(days=1)),
        node("zero", 0, t),
        node("negative", -5, t),
    ) == ["three", "two", "zero", "negative", "unsorted"]


def test_unsorted_nodes_newest_updated_first() -> None:
    assert ordered(
        node("old", None, NOW - timedelta(hours=2)),
        node("new", None, NOW),
        node("middle", None, NOW - timedelta(hours=1)),
    ) == ["new", "middle", "old"]


def test_equal_sort_orders_newest_updated_first_then_id() -> None:
    low, high = uuid.UUID(int=1), uuid.UUID(int=2)
    assert ordered(
        node("older", 1, NOW - timedelta(microseconds=1)),
        node("newer", 1, NOW),
        node("same-high-id", 1, NOW - timedelta(days=1), high),
        node("same-low-id", 1, NOW - timedelta(days=1), low),
    ) == ["newer", "older", "same-low-id", "same-high-id"]
    assert ordered(node("b", None, NOW, high), node("a", None, NOW, low)) == ["a", "b"]
