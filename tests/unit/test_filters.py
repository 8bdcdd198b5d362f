"""The filter grammar, without a database."""

from __future__ import annotations

import pytest

from assortment.db.filters import like_pattern, parse_instant
from assortment.domain.filters import AnyOf, Condition, parse_filter
from assortment.errors import BadRequest


def test_single_condition() -> None:
    assert parse_filter("eq(sku,S1)") == (Condition("eq", "sku", ("S1",)),)


def test_colon_ands_terms_and_values_may_hold_colons() -> None:
    assert parse_filter("eq(status,live):gt(created_at,2024-01-10T20:16:35.343Z)") == (
        Condition("eq", "status", ("live",)),
        Condition("gt", "created_at", ("2024-01-10T20:16:35.343Z",)),
    )


def test_in_takes_many_values() -> None:
    assert parse_filter("in(id,a,b,c)") == (Condition("in", "id", ("a", "b", "c")),)


def test_or_group() -> None:
    assert parse_filter("(eq(sku,A)|eq(sku,B)):eq(status,live)") == (
        AnyOf((Condition("eq", "sku", ("A",)), Condition("eq", "sku", ("B",)))),
        Condition("eq", "status", ("live",)),
    )


def test_quoted_values_and_escapes() -> None:
    assert parse_filter(r'eq(name,"a, \"b\" (c)")') == (Condition("eq", "name", ('a, "b" (c)',)),)


def test_is_null_takes_no_value() -> None:
    assert parse_filter("is_null(sku)") == (Condition("is_null", "sku", ()),)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "eq",
        "eq(",
        "eq()",
        "eq(sku,a))",
        "eq(sku,a)x",
        "foo(sku,a)",
        "eq(sku,a,b)",
        "in(sku)",
        "(eq(sku,a)",
        "(eq(sku,a)|)",
        'eq(sku,"open)',
        "eq(sku,a)|eq(sku,b)",
    ],
)
def test_malformed_filters_raise_bad_request(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_filter(text)


def test_at_most_ten_expressions() -> None:
    parse_filter(":".join(f"eq(sku,{i})" for i in range(10)))
    with pytest.raises(BadRequest):
        parse_filter(":".join(f"eq(sku,{i})" for i in range(11)))


def test_at_most_eight_kilobytes() -> None:
    with pytest.raises(BadRequest):
        parse_filter("eq(sku," + "x" * 8200 + ")")


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("abc", "abc"),
        ("*abc", "%abc"),
        ("abc*", "abc%"),
        ("*abc*", "%abc%"),
        ("a*c", "a*c"),
        ("a_%", "a\\_\\%"),
        ("*", "%"),
    ],
)
def test_like_patterns(value: str, pattern: str) -> None:
    assert like_pattern(value) == pattern


def test_instants() -> None:
    assert parse_instant("2024-01-10").isoformat() == "2024-01-10T00:00:00+00:00"
    assert parse_instant("2024-01-10T20:16:35.343Z").isoformat() == "2024-01-10T20:16:35.343000+00:00"
    assert parse_instant("0").isoformat() == "1970-01-01T00:00:00+00:00"
