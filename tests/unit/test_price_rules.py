"""The pure price rules (SPEC §9.1 formatting, §9.3 validation, §9.6.2 what a read shows, seed 003):
no database, no HTTP, a fixed `now`."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from assortment.domain import price_rules as rules
from assortment.domain.price_rules import CurrencyFormat
from assortment.errors import ValidationFailed

USD = CurrencyFormat("USD", "${price}", ".", ",", 2)
EUR = CurrencyFormat("EUR", "€{price}", ",", ".", 2)
JPY = CurrencyFormat("JPY", "¥{price}", ".", ",", 0)
GBP = CurrencyFormat("GBP", "£{price}", ".", ",", 2)
CAD = CurrencyFormat("CAD", "{price} CAD", ".", " ", 2)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BUNDLE = str(uuid.UUID(int=1))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def pair(amount: int, includes_tax: bool = False) -> dict[str, Any]:
    return {"amount": amount, "includes_tax": includes_tax}


def shown(amount: int, currency: CurrencyFormat, formatted: str, float_price: float) -> dict[str, Any]:
    one = {"amount": amount, "currency": currency.code, "formatted": formatted, "float_price": float_price}
    return {"with_tax": one, "without_tax": dict(one)}


# --- §9.1 formatting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        # §9.1's examples, exactly
        (47500, USD, "$475.00"),
        (5, USD, "$0.05"),
        (123456789, USD, "$1,234,567.89"),
        (123450, EUR, "€1.234,50"),
        (1500, JPY, "¥1,500"),
        # edges of the same rule
        (0, USD, "$0.00"),
        (0, JPY, "¥0"),
        (100, USD, "$1.00"),
        (99999, USD, "$999.99"),
        (100000, USD, "$1,000.00"),
        (999, JPY, "¥999"),
        (1000, JPY, "¥1,000"),
        (1234567, CAD, "12 345.67 CAD"),
        (1, CurrencyFormat("BTC", "{price} BTC", ".", ",", 8), "0.00000001 BTC"),
        (123456789012, CurrencyFormat("BTC", "{price} BTC", ".", ",", 8), "1,234.56789012 BTC"),
        (123456789, CurrencyFormat("SEK", "{price} kr", ",", "", 2), "1234567,89 kr"),  # "" = no grouping
        (123456789, CurrencyFormat("XXX", "{price}", "::", "'''", 3), "123'''456::789"),  # multi-char
        (150, CurrencyFormat("DUP", "{price} ({price})", ".", ",", 1), "15.0 (15.0)"),  # every {price}
        (5, CurrencyFormat("ONE", "{price}", ".", ",", 1), "0.5"),
    ],
)
def test_formatted_strings(amount: int, currency: CurrencyFormat, expected: str) -> None:
    assert rules.format_amount(amount, currency) == expected


def test_formatting_is_integer_arithmetic_up_to_the_largest_amount() -> None:
    # 2^53 − 1 with 2 places: any float on the way would round the last digits.
    assert rules.format_amount(2**53 - 1, USD) == "$90,071,992,547,409.91"
    assert rules.format_amount(2**53 - 1, CurrencyFormat("X", "{price}", ".", ",", 8)) == "90,071,992.54740991"
    assert rules.format_amount(10**15 + 1, USD) == "$10,000,000,000,000.01"


def test_float_price_is_the_amount_over_ten_to_the_places() -> None:
    assert rules.float_price(47500, 2) == 475.0
    assert rules.float_price(5, 2) == 0.05
    assert rules.float_price(1500, 0) == 1500
    assert rules.float_price(1, 8) == 1e-8


# --- §9.3 checking a price ------------------------------------------------------------------------------


def check(currencies: Any) -> dict[str, Any]:
    return rules.check_currencies(currencies, "data.attributes.currencies", {})


def test_currencies_are_normalised_with_includes_tax_defaulting_to_false() -> None:
    result = check(
        {
            "USD": {"amount": 100},
            "EUR": {"amount": 0, "includes_tax": True},
            "GBP": {"amount": 2**53 - 1, "tiers": {"min_5": {"minimum_quantity": 5, "amount": 90}}},
        }
    )
    assert result == {
        "USD": {"amount": 100, "includes_tax": False},
        "EUR": {"amount": 0, "includes_tax": True},
        "GBP": {
            "amount": 2**53 - 1,
            "includes_tax": False,
            "tiers": {"min_5": {"minimum_quantity": 5, "amount": 90}},
        },
    }


@pytest.mark.parametrize(
    ("currencies", "fragment"),
    [
        (None, "at least one currency"),
        ({}, "at least one currency"),
        ([{"USD": 1}], "at least one currency"),
        ({"USD": {"amount": 12.5}}, "USD.amount"),
        ({"USD": {"amount": 100.0}}, "USD.amount"),
        ({"USD": {"amount": "100"}}, "USD.amount"),
        ({"USD": {"amount": -1}}, "USD.amount"),
        ({"USD": {"amount": None}}, "USD.amount"),
        ({"USD": {"amount": True}}, "USD.amount"),
        ({"USD": {"amount": 2**53}}, "USD.amount"),
        ({"USD": {}}, "USD.amount"),
        ({"USD": 100}, "USD"),
        ({"USD": {"amount": 1, "includes_tax": "yes"}}, "includes_tax"),
        ({"USD": {"amount": 1, "includes_tax": None}}, "includes_tax"),
        ({"USD": {"amount": 1, "currency": "USD"}}, "unknown"),
        ({"usd": {"amount": 1}}, "usd"),
        ({"US": {"amount": 1}}, "US"),
        ({"USDX": {"amount": 1}}, "USDX"),
        ({"U1D": {"amount": 1}}, "U1D"),
        ({"ÜSD": {"amount": 1}}, "ÜSD"),
    ],
)
def test_bad_currencies_are_refused(currencies: Any, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        check(currencies)
    assert fragment in str(raised.value.detail)


def tiered(**tiers: Any) -> dict[str, Any]:
    return {"USD": {"amount": 100, "tiers": tiers}}


@pytest.mark.parametrize(
    "currencies",
    [
        tiered(min_0={"minimum_quantity": 0, "amount": 1}),
        tiered(t={"minimum_quantity": True, "amount": 1}),
        tiered(t={"minimum_quantity": 2.0, "amount": 1}),
        tiered(t={"minimum_quantity": "2", "amount": 1}),
        tiered(t={"amount": 1}),
        tiered(t={"minimum_quantity": 2}),
        tiered(t={"minimum_quantity": 2, "amount": 1.5}),
        tiered(t={"minimum_quantity": 2, "amount": -1}),
        tiered(t={"minimum_quantity": 2, "amount": 1, "price": 3}),
        tiered(t=[2, 1]),
        tiered(**{"": {"minimum_quantity": 2, "amount": 1}}),
        tiered(**{"x" * 256: {"minimum_quantity": 2, "amount": 1}}),
        # two tiers of one currency with the same minimum_quantity
        tiered(a={"minimum_quantity": 5, "amount": 1}, b={"minimum_quantity": 5, "amount": 2}),
        # one tier name, two minimum quantities across currencies
        {
            "USD": {"amount": 100, "tiers": {"bulk": {"minimum_quantity": 5, "amount": 90}}},
            "EUR": {"amount": 100, "tiers": {"bulk": {"minimum_quantity": 6, "amount": 90}}},
        },
        {"USD": {"amount": 100, "tiers": "min_5"}},
    ],
)
def test_bad_tiers_are_refused(currencies: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        check(currencies)


def test_good_tier_edges_are_accepted() -> None:
    result = check(
        {
            "USD": {
                "amount": 100,
                "tiers": {
                    "x" * 255: {"minimum_quantity": 1, "amount": 0},
                    "bulk": {"minimum_quantity": 10, "amount": 80},
                },
            },
            "EUR": {"amount": 100, "tiers": {"bulk": {"minimum_quantity": 10, "amount": 70}}},
            "JPY": {"amount": 100, "tiers": {}},
        }
    )
    assert result["USD"]["tiers"]["bulk"] == {"minimum_quantity": 10, "amount": 80}
    assert result["EUR"]["tiers"] == {"bulk": {"minimum_quantity": 10, "amount": 70}}


def sales(value: Any, base: set[str] | None = None, tier_minimums: dict[str, int] | None = None) -> Any:
    return rules.check_sales(value, base if base is not None else {"USD", "EUR"}, tier_minimums or {})


def test_sales_are_normalised_with_schedules_in_utc_milliseconds() -> None:
    result = sales(
        {
            "summer": {
                "schedule": {"valid_from": "2026-06-01T00:00:00+02:00", "valid_to": "2026-09-01T00:00:00Z"},
                "currencies": {"USD": {"amount": 80}},
            },
            "naive": {"schedule": {"valid_from": "2026-10-01T10:00:00"}, "currencies": {"EUR": {"amount": 1}}},
            "open": {"currencies": {"USD": {"amount": 90}}},
            "bundled": {"bundle_ids": [BUNDLE], "currencies": {"USD": {"amount": 50}}},
        }
    )
    assert result == {
        "summer": {
            "currencies": {"USD": {"amount": 80, "includes_tax": False}},
            "schedule": {"valid_from": "2026-05-31T22:00:00.000Z", "valid_to": "2026-09-01T00:00:00.000Z"},
        },
        "naive": {  # no offset = UTC
            "currencies": {"EUR": {"amount": 1, "includes_tax": False}},
            "schedule": {"valid_from": "2026-10-01T10:00:00.000Z", "valid_to": None},
        },
        "open": {"currencies": {"USD": {"amount": 90, "includes_tax": False}}},
        "bundled": {"currencies": {"USD": {"amount": 50, "includes_tax": False}}, "bundle_ids": [BUNDLE]},
    }


def test_no_sales() -> None:
    assert sales(None) is None
    assert sales({}) is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("summer", "sales"),
        ({"s": {"currencies": {"GBP": {"amount": 1}}}}, "GBP"),  # P-12: outside the base codes
        ({"s": {}}, "currencies"),
        ({"s": {"currencies": {}}}, "currencies"),
        ({"s": {"currencies": {"USD": {"amount": 1.5}}}}, "amount"),
        ({"s": {"currencies": {"USD": {"amount": 1}}, "price": 1}}, "s"),
        ({"": {"currencies": {"USD": {"amount": 1}}}}, "sale ids"),
        ({"x" * 256: {"currencies": {"USD": {"amount": 1}}}}, "sale ids"),
        ({"s": {"currencies": {"USD": {"amount": 1}}, "schedule": "always"}}, "schedule"),
        ({"s": {"currencies": {"USD": {"amount": 1}}, "schedule": {"from": "2026-01-01T00:00:00Z"}}}, "schedule"),
        ({"s": {"currencies": {"USD": {"amount": 1}}, "schedule": {"valid_from": "tomorrow"}}}, "valid_from"),
        ({"s": {"currencies": {"USD": {"amount": 1}}, "schedule": {"valid_to": 1767225600}}}, "valid_to"),
        (
            {
                "s": {
                    "currencies": {"USD": {"amount": 1}},
                    "schedule": {"valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"},
                }
            },
            "before",
        ),
        (
            {
                "s": {
                    "currencies": {"USD": {"amount": 1}},
                    "schedule": {"valid_from": "2026-01-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"},
                }
            },
            "before",
        ),
        # at most one sale with no bound at all
        ({"a": {"currencies": {"USD": {"amount": 1}}}, "b": {"currencies": {"USD": {"amount": 2}}}}, "b"),
        (
            {
                "a": {"currencies": {"USD": {"amount": 1}}},
                "b": {"currencies": {"USD": {"amount": 2}}, "schedule": {"valid_from": None, "valid_to": None}},
            },
            "b",
        ),
        # no two sales with identical bounds (the same instant written two ways)
        (
            {
                "a": {"currencies": {"USD": {"amount": 1}}, "schedule": {"valid_from": "2026-01-01T00:00:00Z"}},
                "b": {"currencies": {"USD": {"amount": 2}}, "schedule": {"valid_from": "2026-01-01T01:00:00+01:00"}},
            },
            "b",
        ),
        ({"s": {"currencies": {"USD": {"amount": 1}}, "bundle_ids": "b1"}}, "bundle_ids"),
    ],
)
def test_bad_sales_are_refused(value: Any, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        sales(value)
    assert fragment in str(raised.value.detail)


def test_bundle_sales_are_exempt_from_the_window_rules() -> None:
    result = sales(
        {
            "a": {"currencies": {"USD": {"amount": 1}}},
            "b": {"currencies": {"USD": {"amount": 2}}, "bundle_ids": [BUNDLE]},
            "c": {"currencies": {"USD": {"amount": 3}}, "bundle_ids": [str(uuid.UUID(int=2))]},
        }
    )
    assert set(result) == {"a", "b", "c"}


def test_sale_tiers_keep_one_minimum_quantity_per_name_across_the_price() -> None:
    minimums: dict[str, int] = {}
    rules.check_currencies(tiered(bulk={"minimum_quantity": 5, "amount": 90}), "base", minimums)
    same: dict[str, Any] = {
        "s": {"currencies": {"USD": {"amount": 80, "tiers": {"bulk": {"minimum_quantity": 5, "amount": 70}}}}}
    }
    assert sales(same, tier_minimums=dict(minimums))["s"]["currencies"]["USD"]["tiers"]["bulk"]["amount"] == 70
    other = copy.deepcopy(same)
    other["s"]["currencies"]["USD"]["tiers"]["bulk"]["minimum_quantity"] = 6
    with pytest.raises(ValidationFailed):
        sales(other, tier_minimums=dict(minimums))


# --- §9.6.2.1 which sale is active ---------------------------------------------------------------------


def sale(valid_from: str | None = None, valid_to: str | None = None, amount: int = 1) -> dict[str, Any]:
    entry: dict[str, Any] = {"currencies": {"USD": pair(amount)}}
    if valid_from or valid_to:
        entry["schedule"] = {"valid_from": valid_from, "valid_to": valid_to}
    return entry


def active(sales_map: dict[str, Any] | None, now: datetime = NOW) -> str | None:
    chosen = rules.active_sale(sales_map, now)
    return None if chosen is None else chosen[0]


def test_a_window_holds_from_valid_from_inclusive_to_valid_to_exclusive() -> None:
    window = {"s": sale("2026-06-01T12:00:00.000Z", "2026-06-01T13:00:00.000Z")}
    start, end = at("2026-06-01T12:00:00Z"), at("2026-06-01T13:00:00Z")
    assert active(window, start - timedelta(milliseconds=1)) is None
    assert active(window, start) == "s"
    assert active(window, end - timedelta(milliseconds=1)) == "s"
    assert active(window, end) is None


def test_missing_bounds_are_open() -> None:
    assert active({"s": sale(valid_to="2026-06-02T00:00:00.000Z")}) == "s"
    assert active({"s": sale(valid_to="2026-06-01T00:00:00.000Z")}) is None  # ended: not applied
    assert active({"s": sale(valid_from="2026-05-01T00:00:00.000Z")}) == "s"
    assert active({"s": sale(valid_from="2026-07-01T00:00:00.000Z")}) is None  # not started yet
    assert active({"s": sale()}) == "s"
    assert active({}) is None
    assert active(None) is None


def test_several_running_sales_the_shortest_window_wins() -> None:
    assert (
        active(
            {
                "always": sale(),
                "month": sale("2026-05-15T00:00:00.000Z", "2026-06-15T00:00:00.000Z"),
                "week": sale("2026-05-30T00:00:00.000Z", "2026-06-06T00:00:00.000Z"),
                "open_end": sale("2026-06-01T00:00:00.000Z"),
            }
        )
        == "week"
    )
    # open = infinite: a bounded window beats a half-open one, whatever its length
    assert active(
        {
            "half": sale(valid_from="2026-06-01T11:59:00.000Z"),
            "year": sale("2026-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"),
        }
    ) == ("year")
    # P-6: a running scheduled sale beats the unscheduled one
    assert active({"a": sale(), "z": sale(valid_to="2026-12-01T00:00:00.000Z")}) == "z"


def test_equal_lengths_the_earlier_valid_to_then_the_lower_sale_id() -> None:
    assert (
        active(
            {
                "late": sale("2026-05-31T00:00:00.000Z", "2026-06-02T00:00:00.000Z"),
                "early": sale("2026-05-30T12:00:00.000Z", "2026-06-01T12:00:01.000Z"),  # longer by 1 s
                "first": sale("2026-05-31T00:00:00.000Z", "2026-06-02T00:00:00.000Z"),
            }
        )
        == "first"  # "first" < "late", same window length and end
    )
    # both open-ended (infinite length): the one with a valid_to ends first
    assert active({"b": sale(valid_to="2026-07-01T00:00:00.000Z"), "a": sale(valid_from="2026-01-01T00:00:00Z")}) == (
        "b"
    )
    assert active({"b": sale(valid_to="2026-07-01T00:00:00.000Z"), "a": sale(valid_to="2026-07-02T00:00:00.000Z")}) == (
        "b"
    )
    # lower sale id by code points: "B" < "a"
    assert active({"a": sale(valid_to="2026-07-01T00:00:00.000Z"), "B": sale(valid_to="2026-07-01T00:00:00.000Z")}) == (
        "B"
    )


def test_next_boundary_is_the_next_start_or_end_after_now() -> None:
    schedule = {
        "past": sale("2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"),
        "running": sale("2026-05-01T00:00:00.000Z", "2026-08-01T00:00:00.000Z"),
        "coming": sale("2026-07-01T00:00:00.000Z"),
        "open": sale(),
    }
    assert rules.next_boundary(schedule, NOW) == at("2026-07-01T00:00:00Z")
    assert rules.next_boundary(schedule, at("2026-07-01T00:00:00Z")) == at("2026-08-01T00:00:00Z")
    assert rules.next_boundary(schedule, at("2026-08-01T00:00:00Z")) is None
    assert rules.next_boundary({"open": sale()}, NOW) is None
    assert rules.next_boundary(None, NOW) is None


# --- §9.6.2 the price fields of a release product (seed 003) ------------------------------------------

SEED_EXPIRY = "2030-01-01T00:00:00.000Z"  # seed 003's sale_expires


def seed_price(valid_from: str | None = None, valid_to: str | None = SEED_EXPIRY) -> dict[str, Any]:
    """Seed 003's second product as a stored release price: base 400/500/300, the `summer` sale
    200/250/100, tier min_5 150/175/120 on sale 100/125/80; GBP includes tax."""

    def currencies(usd: int, cad: int, gbp: int, tier: tuple[int, int, int]) -> dict[str, Any]:
        amounts = {"USD": (usd, tier[0]), "CAD": (cad, tier[1]), "GBP": (gbp, tier[2])}
        return {
            code: {
                "amount": amount,
                "includes_tax": code == "GBP",
                "tiers": {"min_5": {"minimum_quantity": 5, "amount": tier_amount}},
            }
            for code, (amount, tier_amount) in amounts.items()
        }

    return {
        "pricebook_id": "pb-1",
        "currencies": currencies(400, 500, 300, (150, 175, 120)),
        "sales": {
            "summer": {
                "schedule": {"valid_from": valid_from, "valid_to": valid_to},
                "currencies": currencies(200, 250, 100, (100, 125, 80)),
            }
        },
    }


def test_seed_003_price_fields_during_the_sale() -> None:
    attributes, meta = rules.price_fields(seed_price(), USD, NOW)

    assert attributes == {
        "price": {"USD": pair(200), "CAD": pair(250), "GBP": pair(100, True)},
        "tiers": {
            "min_5": {
                "minimum_quantity": 5,
                "price": {"USD": pair(100), "CAD": pair(125), "GBP": pair(80, True)},
            }
        },
    }
    assert meta == {
        "pricebook_id": "pb-1",
        "display_price": shown(200, USD, "$2.00", 2.0),
        "sale_id": "summer",
        "sale_expires": SEED_EXPIRY,
        "original_price": {"USD": pair(400), "CAD": pair(500), "GBP": pair(300, True)},
        "original_display_price": shown(400, USD, "$4.00", 4.0),
        "tiers": {
            "min_5": {
                "display_price": shown(100, USD, "$1.00", 1.0),
                "sale_id": "summer",
                "sale_expires": SEED_EXPIRY,
                "original_price": {"USD": pair(150), "CAD": pair(175), "GBP": pair(120, True)},
                "original_display_price": shown(150, USD, "$1.50", 1.5),
            }
        },
    }


def test_seed_003_price_fields_in_another_display_currency() -> None:
    _, meta = rules.price_fields(seed_price(), GBP, NOW)
    assert meta["display_price"] == shown(100, GBP, "£1.00", 1.0)
    assert meta["original_display_price"] == shown(300, GBP, "£3.00", 3.0)
    assert meta["tiers"]["min_5"]["display_price"] == shown(80, GBP, "£0.80", 0.8)
    assert meta["tiers"]["min_5"]["original_display_price"] == shown(120, GBP, "£1.20", 1.2)


def test_a_sale_whose_window_ended_is_not_applied() -> None:
    attributes, meta = rules.price_fields(seed_price(valid_to="2026-06-01T11:59:59.999Z"), USD, NOW)
    assert attributes == {
        "price": {"USD": pair(400), "CAD": pair(500), "GBP": pair(300, True)},
        "tiers": {
            "min_5": {"minimum_quantity": 5, "price": {"USD": pair(150), "CAD": pair(175), "GBP": pair(120, True)}}
        },
    }
    assert meta == {
        "pricebook_id": "pb-1",
        "display_price": shown(400, USD, "$4.00", 4.0),
        "tiers": {"min_5": {"display_price": shown(150, USD, "$1.50", 1.5)}},
    }


def test_a_future_sale_applies_once_its_window_starts() -> None:
    price = seed_price(valid_from="2026-06-01T12:00:00.000Z", valid_to=None)
    before, before_meta = rules.price_fields(price, USD, NOW - timedelta(milliseconds=1))
    assert before["price"]["USD"] == pair(400)
    assert "sale_id" not in before_meta
    assert rules.next_boundary(price["sales"], NOW - timedelta(milliseconds=1)) == NOW

    after, after_meta = rules.price_fields(price, USD, NOW)
    assert after["price"]["USD"] == pair(200)
    assert after_meta["sale_id"] == "summer"
    assert after_meta["sale_expires"] is None  # open-ended: null, not absent
    assert after_meta["tiers"]["min_5"]["sale_expires"] is None


def test_a_sale_over_some_currencies_leaves_the_others_at_their_base_price() -> None:
    price = {
        "pricebook_id": "pb",
        "currencies": {
            "USD": {"amount": 1000, "includes_tax": False, "tiers": {"bulk": {"minimum_quantity": 10, "amount": 900}}},
            "EUR": {"amount": 800, "includes_tax": True, "tiers": {"bulk": {"minimum_quantity": 10, "amount": 700}}},
        },
        "sales": {"usd_only": {"currencies": {"USD": {"amount": 500, "includes_tax": True}}}},
    }
    attributes, meta = rules.price_fields(price, EUR, NOW)
    # the sale's entry replaces the base one whole (includes_tax too)
    assert attributes["price"] == {"USD": pair(500, True), "EUR": pair(800, True)}
    # P-5: the sale covers USD and defines no tiers, so USD has none; EUR keeps its base tiers
    assert attributes["tiers"] == {"bulk": {"minimum_quantity": 10, "price": {"EUR": pair(700, True)}}}
    assert meta["display_price"] == shown(800, EUR, "€8,00", 8.0)
    assert meta["sale_id"] == "usd_only"
    assert meta["sale_expires"] is None
    assert meta["original_price"] == {"USD": pair(1000), "EUR": pair(800, True)}
    assert meta["original_display_price"] == shown(800, EUR, "€8,00", 8.0)
    # the EUR tier amount did not come from the sale: no sale fields on it
    assert meta["tiers"] == {"bulk": {"display_price": shown(700, EUR, "€7,00", 7.0)}}

    attributes, meta = rules.price_fields(price, USD, NOW)
    assert meta["display_price"] == shown(500, USD, "$5.00", 5.0)
    assert meta["original_display_price"] == shown(1000, USD, "$10.00", 10.0)
    assert "tiers" not in meta  # no USD tier is shown


def test_sale_tiers_without_a_base_tier_of_that_name() -> None:
    price = {
        "pricebook_id": "pb",
        "currencies": {"USD": {"amount": 1000, "includes_tax": False}},
        "sales": {
            "s": {
                "schedule": {"valid_from": None, "valid_to": "2026-07-01T00:00:00.000Z"},
                "currencies": {
                    "USD": {
                        "amount": 800,
                        "includes_tax": False,
                        "tiers": {"sale_bulk": {"minimum_quantity": 3, "amount": 700}},
                    }
                },
            }
        },
    }
    attributes, meta = rules.price_fields(price, USD, NOW)
    assert attributes["tiers"] == {"sale_bulk": {"minimum_quantity": 3, "price": {"USD": pair(700)}}}
    assert meta["tiers"] == {
        "sale_bulk": {
            "display_price": shown(700, USD, "$7.00", 7.0),
            "sale_id": "s",
            "sale_expires": "2026-07-01T00:00:00.000Z",
        }
    }


def test_tier_original_prices_need_the_display_currency_to_have_that_base_tier() -> None:
    """§9.6.2.6: original_price and original_display_price of a sale tier appear only "if the base D
    tiers have the same name"."""
    price = {
        "pricebook_id": "pb",
        "currencies": {
            "USD": {"amount": 1000, "includes_tax": False},
            "EUR": {"amount": 900, "includes_tax": False, "tiers": {"bulk": {"minimum_quantity": 5, "amount": 800}}},
        },
        "sales": {
            "s": {
                "currencies": {
                    "USD": {
                        "amount": 500,
                        "includes_tax": False,
                        "tiers": {"bulk": {"minimum_quantity": 5, "amount": 400}},
                    }
                }
            }
        },
    }
    _, meta = rules.price_fields(price, USD, NOW)
    assert meta["tiers"] == {
        "bulk": {"display_price": shown(400, USD, "$4.00", 4.0), "sale_id": "s", "sale_expires": None}
    }


def test_a_display_currency_the_price_lacks_shows_no_display_prices() -> None:
    attributes, meta = rules.price_fields(seed_price(), JPY, NOW)
    assert set(attributes["price"]) == {"USD", "CAD", "GBP"}
    assert "display_price" not in meta
    assert "original_display_price" not in meta
    assert "tiers" not in meta  # no entry has anything to show
    assert meta["sale_id"] == "summer"
    assert meta["original_price"]["USD"] == pair(400)


def test_a_plain_price_has_only_price_pricebook_and_display_price() -> None:
    attributes, meta = rules.price_fields(
        {"pricebook_id": "pb", "currencies": {"JPY": {"amount": 1500, "includes_tax": False}}}, JPY, NOW
    )
    assert attributes == {"price": {"JPY": pair(1500)}}
    assert meta == {"pricebook_id": "pb", "display_price": shown(1500, JPY, "¥1,500", 1500)}


def test_price_fields_do_not_change_the_stored_price() -> None:
    price = seed_price()
    before = copy.deepcopy(price)
    rules.price_fields(price, USD, NOW)
    assert price == before


def test_schedules_are_checked_as_stored_to_the_millisecond() -> None:
    """Windows are stored with milliseconds (§0.1): bounds that differ only below a millisecond are the
    same instant once stored, so they are refused as such rather than stored as an empty window or as
    two sales with identical bounds."""
    with pytest.raises(ValidationFailed, match="before"):
        sales(
            {
                "s": {
                    "currencies": {"USD": {"amount": 1}},
                    "schedule": {"valid_from": "2026-01-01T00:00:00.0001Z", "valid_to": "2026-01-01T00:00:00.0009Z"},
                }
            }
        )
    with pytest.raises(ValidationFailed, match="same window"):
        sales(
            {
                "a": {"currencies": {"USD": {"amount": 1}}, "schedule": {"valid_to": "2026-01-01T00:00:00.000100Z"}},
                "b": {"currencies": {"USD": {"amount": 2}}, "schedule": {"valid_to": "2026-01-01T00:00:00.000200Z"}},
            }
        )


def test_an_empty_bundle_list_is_an_ordinary_sale() -> None:
    """Publish keeps a sale whose bundle_ids is empty as an ordinary sale, so the window rules apply to it
    too: otherwise two unbounded sales would both reach a release."""
    with pytest.raises(ValidationFailed, match="same window"):
        sales(
            {"a": {"currencies": {"USD": {"amount": 1}}}, "b": {"currencies": {"USD": {"amount": 2}}, "bundle_ids": []}}
        )


@pytest.mark.parametrize("bundle_ids", [["not-a-uuid"], [5], [None]])
def test_bundle_ids_are_uuids(bundle_ids: list[Any]) -> None:
    with pytest.raises(ValidationFailed, match="bundle_ids"):
        sales({"s": {"currencies": {"USD": {"amount": 1}}, "bundle_ids": bundle_ids}})
