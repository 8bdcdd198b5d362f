"""Prices in releases: SPEC §9.1 (release currency snapshot, formatting), §9.5 (catalogs and their price
books), §9.6.1 (what publish copies), §9.6.2 (what each read computes), §9.6.3 (display currency), the
read cache; seed 003's priced products field by field. P-2, P-3, P-5, P-11, P-15, P-16."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.catalogs import (
    ids,
    link,
    make_catalog,
    make_hierarchy,
    make_node,
    make_product,
    publish,
    uncached_caller,
    view,
    view_url,
)
from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of

ALL = {"page[limit]": "100"}
PRICE_ATTRIBUTES = {"price", "tiers"}
PRICE_META = {
    "pricebook_id",
    "display_price",
    "original_price",
    "original_display_price",
    "sale_id",
    "sale_expires",
    "tiers",
}
SALE_END = "2099-01-01T00:00:00.000Z"  # seed 003 shows 2030-01-01; far enough not to lapse under the suite


def pair(amount: int, includes_tax: bool = False) -> dict[str, Any]:
    return {"amount": amount, "includes_tax": includes_tax}


def shown(amount: int, code: str, formatted: str, float_price: float) -> dict[str, Any]:
    one = {"amount": amount, "currency": code, "formatted": formatted, "float_price": float_price}
    return {"with_tax": one, "without_tax": dict(one)}


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- builders -------------------------------------------------------------------------------------------


def add_currency(
    api: Caller,
    code: str,
    fmt: str,
    decimal_point: str = ".",
    thousand_separator: str = ",",
    decimal_places: int = 2,
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "type": "currency",
        "code": code,
        "format": fmt,
        "decimal_point": decimal_point,
        "thousand_separator": thousand_separator,
        "decimal_places": decimal_places,
        "exchange_rate": 1,
        "default": False,
        "enabled": True,
        **fields,
    }
    response = api.post("/v2/currencies", json={"data": body})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def currency_id(api: Caller, code: str) -> str:
    response = api.get("/v2/currencies", params=ALL)
    found: str = next(c["id"] for c in response.json()["data"] if c["code"] == code)
    return found


def set_currency(api: Caller, code: str, **fields: Any) -> None:
    response = api.put(f"/v2/currencies/{currency_id(api, code)}", json={"data": fields})
    assert response.status_code == 200, response.text


def make_book(api: Caller, name: str) -> str:
    response = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": name}}})
    assert response.status_code == 201, response.text
    book_id: str = response.json()["data"]["id"]
    return book_id


def add_price(api: Caller, book_id: str, sku: str, currencies: dict[str, Any], **attributes: Any) -> str:
    body = {"data": {"type": "product-price", "attributes": {"sku": sku, "currencies": currencies, **attributes}}}
    response = api.post(f"/pcm/pricebooks/{book_id}/prices", json=body)
    assert response.status_code == 201, response.text
    price_id: str = response.json()["data"]["id"]
    return price_id


def set_price(api: Caller, book_id: str, price_id: str, **attributes: Any) -> None:
    body = {"data": {"type": "product-price", "id": price_id, "attributes": attributes}}
    response = api.put(f"/pcm/pricebooks/{book_id}/prices/{price_id}", json=body)
    assert response.status_code == 200, response.text


def base(amount: int, includes_tax: bool = False, **tiers: int) -> dict[str, Any]:
    """A currency entry; tiers given as name=amount with the minimum quantity taken from the name."""
    entry: dict[str, Any] = {"amount": amount, "includes_tax": includes_tax}
    if tiers:
        entry["tiers"] = {
            name: {"minimum_quantity": int(name.split("_")[1]), "amount": value} for name, value in tiers.items()
        }
    return entry


@dataclass
class Shop:
    """A hierarchy with one node, the store's currencies (USD default; GBP, CAD, EUR, JPY) and a
    catalog over the hierarchy built by each test."""

    api: Caller
    hierarchy: str
    node: str
    products: dict[str, str] = field(default_factory=dict)

    def product(self, key: str, sku: str | None) -> str:
        attributes: dict[str, Any] = {"name": key}
        if sku is not None:
            attributes["sku"] = sku
        product_id: str = make_product(self.api, status="live", **attributes)["id"]
        link(self.api, self.hierarchy, self.node, product_id)
        self.products[key] = product_id
        return product_id

    def catalog(self, **attributes: Any) -> str:
        catalog_id: str = make_catalog(self.api, [self.hierarchy], **attributes)["id"]
        return catalog_id

    def doc(
        self,
        catalog_id: str,
        key: str,
        caller: Caller | None = None,
        release: str = "latest",
        currency: str | None = None,
    ) -> dict[str, Any]:
        """The product as the release view renders it, with `X-MOLTIN-CURRENCY: currency` if given."""
        headers = {} if currency is None else {"X-MOLTIN-CURRENCY": currency}
        response = (caller or self.api).get(
            f"{view_url(catalog_id, release)}/products/{self.products[key]}", headers=headers
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data


@pytest.fixture
def shop(api: Caller) -> Shop:
    add_currency(api, "GBP", "£{price}")
    add_currency(api, "CAD", "{price} CAD", thousand_separator=" ")
    add_currency(api, "EUR", "€{price}", ",", ".")
    add_currency(api, "JPY", "¥{price}", decimal_places=0)
    hierarchy = make_hierarchy(api, name="Shop")["id"]
    node = make_node(api, hierarchy, "Ranges")["id"]
    return Shop(api, hierarchy, node)


def price_part(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The price fields of a release product (and only those)."""
    attributes = {k: v for k, v in doc["attributes"].items() if k in PRICE_ATTRIBUTES}
    meta = {k: v for k, v in doc["meta"].items() if k in PRICE_META}
    return attributes, meta


def assert_no_price(doc: dict[str, Any]) -> None:
    """§9.6.2: every price field absent, never null."""
    assert not PRICE_ATTRIBUTES & set(doc["attributes"]), doc["attributes"]
    assert not PRICE_META & set(doc["meta"]), doc["meta"]
    assert doc["meta"]["catalog_id"]  # still a full product document


# --- seed 003 ----------------------------------------------------------------------------------------


@dataclass
class Seed:
    catalog: str
    seasonal: str
    regular: str


def seed_catalog(shop: Shop) -> Seed:
    """Seed 003's two priced products. BE-Range-2b2b is priced by both books; the higher priority one
    (listed second) holds the `summer` sale. blue-shirt is priced only by the lower book: 47500 in
    three currencies with three tiers, no sale."""
    api = shop.api
    regular = make_book(api, "Regular")
    seasonal = make_book(api, "Seasonal")
    add_price(
        api,
        seasonal,
        "BE-Range-2b2b",
        {"USD": base(400, min_5=150), "CAD": base(500, min_5=175), "GBP": base(300, True, min_5=120)},
        sales={
            "summer": {
                "schedule": {"valid_from": "2026-01-01T00:00:00Z", "valid_to": SALE_END},
                "currencies": {
                    "USD": base(200, min_5=100),
                    "CAD": base(250, min_5=125),
                    "GBP": base(100, True, min_5=80),
                },
            }
        },
    )
    # the lower book prices the range too, with another currency: nothing of it may show (P-2)
    add_price(api, regular, "BE-Range-2b2b", {"USD": base(9999, min_5=1), "EUR": base(5000)})
    add_price(
        api,
        regular,
        "blue-shirt",
        {code: base(47500, min_5=100, min_10=150, min_15=175) for code in ("USD", "CAD", "GBP")},
    )
    shop.product("range", "BE-Range-2b2b")
    shop.product("shirt", "blue-shirt")
    catalog = shop.catalog(pricebook_ids=[{"id": regular, "priority": 1}, {"id": seasonal, "priority": 10}])
    publish(api, catalog)
    return Seed(catalog, seasonal, regular)


SEED_RANGE_ATTRIBUTES = {
    "price": {"USD": pair(200), "CAD": pair(250), "GBP": pair(100, True)},
    "tiers": {
        "min_5": {"minimum_quantity": 5, "price": {"USD": pair(100), "CAD": pair(125), "GBP": pair(80, True)}},
    },
}
SEED_RANGE_ORIGINAL = {"USD": pair(400), "CAD": pair(500), "GBP": pair(300, True)}
SEED_RANGE_TIER_ORIGINAL = {"USD": pair(150), "CAD": pair(175), "GBP": pair(120, True)}


def test_seed_003_sale_with_expiry_tiers_and_two_price_books(shop: Shop) -> None:
    seed = seed_catalog(shop)
    attributes, meta = price_part(shop.doc(seed.catalog, "range"))

    assert attributes == SEED_RANGE_ATTRIBUTES
    assert meta["pricebook_id"] == seed.seasonal
    assert meta["sale_id"] == "summer"
    assert meta["sale_expires"] == SALE_END
    assert meta["original_price"] == SEED_RANGE_ORIGINAL
    assert meta["display_price"] == shown(200, "USD", "$2.00", 2.0)
    assert meta["original_display_price"] == shown(400, "USD", "$4.00", 4.0)
    assert meta["tiers"] == {
        "min_5": {
            "display_price": shown(100, "USD", "$1.00", 1.0),
            "sale_id": "summer",
            "sale_expires": SALE_END,
            "original_price": SEED_RANGE_TIER_ORIGINAL,
            "original_display_price": shown(150, "USD", "$1.50", 1.5),
        }
    }
    assert set(meta) == PRICE_META


def test_seed_003_tiers_without_a_sale_from_the_lower_book(shop: Shop) -> None:
    seed = seed_catalog(shop)
    attributes, meta = price_part(shop.doc(seed.catalog, "shirt"))

    every = {"USD": pair(47500), "CAD": pair(47500), "GBP": pair(47500)}
    assert attributes == {
        "price": every,
        "tiers": {
            "min_5": {"minimum_quantity": 5, "price": {c: pair(100) for c in every}},
            "min_10": {"minimum_quantity": 10, "price": {c: pair(150) for c in every}},
            "min_15": {"minimum_quantity": 15, "price": {c: pair(175) for c in every}},
        },
    }
    # seed 003's display_price, exactly (plus float_price, P-10)
    assert meta == {
        "pricebook_id": seed.regular,
        "display_price": shown(47500, "USD", "$475.00", 475.0),
        "tiers": {
            "min_5": {"display_price": shown(100, "USD", "$1.00", 1.0)},
            "min_10": {"display_price": shown(150, "USD", "$1.50", 1.5)},
            "min_15": {"display_price": shown(175, "USD", "$1.75", 1.75)},
        },
    }


def test_seed_003_in_a_non_usd_display_currency(shop: Shop) -> None:
    seed = seed_catalog(shop)
    attributes, meta = price_part(shop.doc(seed.catalog, "range", currency="gbp"))
    assert attributes == SEED_RANGE_ATTRIBUTES  # every release currency, whatever the display one
    assert meta == {
        "pricebook_id": seed.seasonal,
        "display_price": shown(100, "GBP", "£1.00", 1.0),
        "sale_id": "summer",
        "sale_expires": SALE_END,
        "original_price": SEED_RANGE_ORIGINAL,
        "original_display_price": shown(300, "GBP", "£3.00", 3.0),
        "tiers": {
            "min_5": {
                "display_price": shown(80, "GBP", "£0.80", 0.8),
                "sale_id": "summer",
                "sale_expires": SALE_END,
                "original_price": SEED_RANGE_TIER_ORIGINAL,
                "original_display_price": shown(120, "GBP", "£1.20", 1.2),
            }
        },
    }
    _, cad = price_part(shop.doc(seed.catalog, "shirt", currency="CAD"))
    assert cad["display_price"] == shown(47500, "CAD", "475.00 CAD", 475.0)


def test_every_product_rendering_carries_the_same_prices(shop: Shop) -> None:
    seed = seed_catalog(shop)
    single = shop.doc(seed.catalog, "range")
    base_url = view_url(seed.catalog)
    for url in (
        f"{base_url}/products",
        f"{base_url}/nodes/{shop.node}/relationships/products",
        f"{base_url}/hierarchies/{shop.hierarchy}/products",
        f"{base_url}/products?filter=eq(sku,BE-Range-2b2b)",
    ):
        body = view(shop.api, url)
        docs = {doc["id"]: doc for doc in body["data"]}
        assert price_part(docs[shop.products["range"]]) == price_part(single), url


def test_shopper_catalog_and_implicit_tokens_show_prices_too(shop: Shop, keys: Keys) -> None:
    seed = seed_catalog(shop)
    shopper = keys.caller(grant="implicit")
    admin_view = shop.doc(seed.catalog, "range", currency="GBP")
    assert price_part(shop.doc(seed.catalog, "range", shopper, currency="GBP")) == price_part(admin_view)
    response = shopper.get(f"/catalog/products/{shop.products['range']}", headers={"X-MOLTIN-CURRENCY": "GBP"})
    assert response.status_code == 200, response.text
    assert price_part(response.json()["data"]) == price_part(admin_view)


# --- formats ------------------------------------------------------------------------------------------


def test_display_prices_use_the_release_currency_formats(shop: Shop) -> None:
    book = make_book(shop.api, "Book")
    add_price(
        shop.api,
        book,
        "MULTI",
        {"USD": base(123456789), "EUR": base(123450), "JPY": base(1500), "GBP": base(5), "CAD": base(1234567)},
    )
    shop.product("multi", "MULTI")
    catalog = shop.catalog(pricebook_id=book)
    publish(shop.api, catalog)
    expected = {
        "USD": shown(123456789, "USD", "$1,234,567.89", 1234567.89),
        "EUR": shown(123450, "EUR", "€1.234,50", 1234.5),
        "JPY": shown(1500, "JPY", "¥1,500", 1500),
        "GBP": shown(5, "GBP", "£0.05", 0.05),
        "CAD": shown(1234567, "CAD", "12 345.67 CAD", 12345.67),
    }
    for code, display in expected.items():
        _, meta = price_part(shop.doc(catalog, "multi", currency=code))
        assert meta == {"pricebook_id": book, "display_price": display}, code


# --- the display currency (§9.6.3) -------------------------------------------------------------------


def test_the_display_currency_follows_the_headers(shop: Shop) -> None:
    book = make_book(shop.api, "Book")
    add_price(shop.api, book, "P", {"USD": base(100), "GBP": base(200), "CAD": base(300)})
    shop.product("p", "P")
    catalog = shop.catalog(pricebook_id=book)
    publish(shop.api, catalog)

    def currency(**headers: str) -> str | None:
        response = shop.api.get(f"{view_url(catalog)}/products/{shop.products['p']}", headers=headers)
        assert response.status_code == 200, response.text
        display = response.json()["data"]["meta"].get("display_price")
        return None if display is None else str(display["with_tax"]["currency"])

    assert currency() == "USD"  # the release default
    assert currency(**{"X-MOLTIN-CURRENCY": "GBP"}) == "GBP"
    assert currency(**{"x-moltin-currency": "gbp"}) == "GBP"  # name and value case-insensitive
    assert currency(**{"X-Moltin-Currency": "Cad"}) == "CAD"
    assert currency(**{"EP-Currency": "cad"}) == "CAD"  # P-15: read when X-MOLTIN-CURRENCY is absent
    assert currency(**{"X-MOLTIN-CURRENCY": "GBP", "EP-Currency": "CAD"}) == "GBP"
    assert currency(**{"X-MOLTIN-CURRENCY": "XYZ"}) == "USD"  # P-3: unknown → default, no error
    assert currency(**{"X-MOLTIN-CURRENCY": ""}) == "USD"
    assert currency(**{"EP-Currency": "nope"}) == "USD"
    # a release currency the price lacks: no display_price, the rest is there
    doc = shop.doc(catalog, "p", currency="JPY")
    assert "display_price" not in doc["meta"]
    assert doc["attributes"]["price"] == {"USD": pair(100), "GBP": pair(200), "CAD": pair(300)}
    assert doc["meta"]["pricebook_id"] == book


def test_the_default_display_currency_is_the_releases(shop: Shop) -> None:
    book = make_book(shop.api, "Book")
    add_price(shop.api, book, "P", {"USD": base(100), "EUR": base(90)})
    shop.product("p", "P")
    catalog = shop.catalog(pricebook_id=book)
    set_currency(shop.api, "EUR", default=True)
    publish(shop.api, catalog)
    assert shop.doc(catalog, "p")["meta"]["display_price"] == shown(90, "EUR", "€0,90", 0.9)
    # a later change of default reaches only later releases
    set_currency(shop.api, "USD", default=True)
    assert shop.doc(catalog, "p")["meta"]["display_price"]["with_tax"]["currency"] == "EUR"
    publish(shop.api, catalog)
    assert shop.doc(catalog, "p")["meta"]["display_price"]["with_tax"]["currency"] == "USD"


# --- what publish copies (§9.6.1) --------------------------------------------------------------------


def test_the_highest_priority_book_that_prices_a_sku_wins_the_whole_price(shop: Shop) -> None:
    api = shop.api
    low, high, middle = make_book(api, "Low"), make_book(api, "High"), make_book(api, "Middle")
    add_price(api, high, "BOTH", {"USD": base(100)})
    add_price(api, low, "BOTH", {"USD": base(1), "EUR": base(2)}, sales={"s": {"currencies": {"USD": base(0)}}})
    add_price(api, low, "LOW-ONLY", {"EUR": base(300)})
    add_price(api, middle, "MIDDLE", {"GBP": base(50)})
    add_price(api, low, "MIDDLE", {"GBP": base(40)})
    add_price(api, low, "bs-1", {"USD": base(7)})  # skus match exactly, case-sensitively
    for key, sku in (("both", "BOTH"), ("low", "LOW-ONLY"), ("middle", "MIDDLE"), ("upper", "BS-1")):
        shop.product(key, sku)
    catalog = shop.catalog(
        pricebook_ids=[{"id": low, "priority": -5}, {"id": high, "priority": 7}, {"id": middle, "priority": 0}]
    )
    publish(api, catalog)

    attributes, meta = price_part(shop.doc(catalog, "both"))
    assert attributes == {"price": {"USD": pair(100)}}  # no EUR borrowed from the lower book (P-2)
    assert meta == {"pricebook_id": high, "display_price": shown(100, "USD", "$1.00", 1.0)}  # nor its sale
    assert price_part(shop.doc(catalog, "low")) == ({"price": {"EUR": pair(300)}}, {"pricebook_id": low})
    assert price_part(shop.doc(catalog, "middle"))[0] == {"price": {"GBP": pair(50)}}
    assert_no_price(shop.doc(catalog, "upper"))


def test_equal_priorities_keep_request_order_and_pricebook_id_is_one_book(shop: Shop) -> None:  # P-11
    api = shop.api
    first, second = make_book(api, "First"), make_book(api, "Second")
    add_price(api, first, "P", {"USD": base(1)})
    add_price(api, second, "P", {"USD": base(2)})
    shop.product("p", "P")
    one = shop.catalog(name="One", pricebook_ids=[{"id": second, "priority": 3}, {"id": first, "priority": 3}])
    two = shop.catalog(name="Two", pricebook_ids=[{"id": first, "priority": 3}, {"id": second, "priority": 3}])
    single = shop.catalog(name="Single", pricebook_id=second)
    for catalog in (one, two, single):
        publish(api, catalog)
    assert shop.doc(one, "p")["meta"]["pricebook_id"] == second
    assert shop.doc(two, "p")["meta"]["pricebook_id"] == first
    assert shop.doc(single, "p")["attributes"]["price"] == {"USD": pair(2)}


def test_products_without_a_price_have_no_price_fields(shop: Shop) -> None:
    api = shop.api
    book = make_book(api, "Book")
    add_price(api, book, "PRICED", {"USD": base(100)})
    shop.product("priced", "PRICED")
    shop.product("unpriced", "UNPRICED")
    shop.product("no_sku", None)
    with_book = shop.catalog(name="With a book", pricebook_id=book)
    without = shop.catalog(name="Without books")
    publish(api, with_book)
    publish(api, without)

    assert price_part(shop.doc(with_book, "priced"))[0] == {"price": {"USD": pair(100)}}
    assert_no_price(shop.doc(with_book, "unpriced"))
    assert_no_price(shop.doc(with_book, "no_sku"))
    for key in ("priced", "unpriced", "no_sku"):
        assert_no_price(shop.doc(without, key))
    # and in lists: still listed, no price fields
    body = view(api, f"{view_url(with_book)}/products", **ALL)
    assert set(ids(body)) == set(shop.products.values())
    for doc in body["data"]:
        if doc["id"] != shop.products["priced"]:
            assert_no_price(doc)
    # the raw documents have no price key at all, not even null
    raw = json.dumps(view(api, f"{view_url(without)}/products", **ALL)["data"])
    assert all(f'"{name}"' not in raw for name in PRICE_ATTRIBUTES | PRICE_META), raw


def test_disabled_and_unconfigured_currencies_are_dropped_at_publish(shop: Shop) -> None:  # P-3
    api = shop.api
    add_currency(api, "SEK", "{price} kr", ",", " ", enabled=False)
    book = make_book(api, "Book")
    lower = make_book(api, "Lower")
    add_price(
        api,
        book,
        "MIXED",
        {"USD": base(1000, min_3=900), "SEK": base(9000, min_3=8000), "XXX": base(1, min_3=1)},
        sales={
            "sek_only": {"currencies": {"SEK": base(10)}},  # left without currencies: dropped
            "both": {
                "schedule": {"valid_to": SALE_END},
                "currencies": {"USD": base(800, min_3=700), "SEK": base(7000), "XXX": base(1)},
            },
        },
    )
    add_price(api, book, "SEK-ONLY", {"SEK": base(100), "XXX": base(5)})
    add_price(api, lower, "SEK-ONLY", {"USD": base(100)})  # not borrowed: the winner has nothing left
    shop.product("mixed", "MIXED")
    shop.product("sek", "SEK-ONLY")
    catalog = shop.catalog(pricebook_ids=[{"id": book, "priority": 2}, {"id": lower, "priority": 1}])
    publish(api, catalog)

    attributes, meta = price_part(shop.doc(catalog, "mixed", currency="SEK"))
    assert attributes == {
        "price": {"USD": pair(800)},
        "tiers": {"min_3": {"minimum_quantity": 3, "price": {"USD": pair(700)}}},
    }
    assert meta == {
        "pricebook_id": book,
        "display_price": shown(800, "USD", "$8.00", 8.0),  # SEK is disabled → the default
        "sale_id": "both",
        "sale_expires": SALE_END,
        "original_price": {"USD": pair(1000)},
        "original_display_price": shown(1000, "USD", "$10.00", 10.0),
        "tiers": {
            "min_3": {
                "display_price": shown(700, "USD", "$7.00", 7.0),
                "sale_id": "both",
                "sale_expires": SALE_END,
                "original_price": {"USD": pair(900)},
                "original_display_price": shown(900, "USD", "$9.00", 9.0),
            }
        },
    }
    assert_no_price(shop.doc(catalog, "sek"))

    # enabling SEK reaches only the next release
    set_currency(api, "SEK", enabled=True)
    assert set(shop.doc(catalog, "mixed")["attributes"]["price"]) == {"USD"}
    publish(api, catalog)
    doc = shop.doc(catalog, "mixed", currency="SEK")
    assert doc["attributes"]["price"] == {"USD": pair(800), "SEK": pair(7000)}
    assert doc["meta"]["display_price"] == shown(7000, "SEK", "70,00 kr", 70.0)
    assert shop.doc(catalog, "sek")["attributes"]["price"] == {"SEK": pair(100)}


def test_a_store_that_never_configured_currencies_publishes_in_usd(api: Caller) -> None:  # P-9
    hierarchy = make_hierarchy(api)["id"]
    node = make_node(api, hierarchy, "Node")["id"]
    book = make_book(api, "Book")
    add_price(api, book, "P", {"USD": base(47500), "EUR": base(1)})
    product = make_product(api, status="live", sku="P")["id"]
    link(api, hierarchy, node, product)
    catalog = make_catalog(api, [hierarchy], pricebook_id=book)["id"]
    publish(api, catalog)
    doc = view(api, f"{view_url(catalog)}/products/{product}")["data"]
    assert doc["attributes"]["price"] == {"USD": pair(47500)}  # EUR is not configured
    assert doc["meta"]["display_price"] == shown(47500, "USD", "$475.00", 475.0)


def test_a_deleted_currency_leaves_the_next_release(shop: Shop) -> None:
    api = shop.api
    book = make_book(api, "Book")
    add_price(api, book, "P", {"USD": base(100), "JPY": base(150)})
    shop.product("p", "P")
    catalog = shop.catalog(pricebook_id=book)
    first = publish(api, catalog)["id"]
    assert api.delete(f"/v2/currencies/{currency_id(api, 'JPY')}").status_code == 204
    publish(api, catalog)
    assert shop.doc(catalog, "p")["attributes"]["price"] == {"USD": pair(100)}
    assert shop.doc(catalog, "p", release=first)["attributes"]["price"] == {"USD": pair(100), "JPY": pair(150)}
    # the release snapshot keeps its formats
    assert shop.doc(catalog, "p", release=first, currency="JPY")["meta"]["display_price"] == shown(
        150, "JPY", "¥150", 150
    )


def test_releases_are_snapshots_of_prices_books_and_formats(shop: Shop) -> None:
    api = shop.api
    book = make_book(api, "Book")
    price = add_price(api, book, "P", {"USD": base(100), "EUR": base(123450)})
    shop.product("p", "P")
    catalog = shop.catalog(pricebook_id=book)
    first = publish(api, catalog)["id"]

    set_price(api, book, price, currencies={"USD": base(555)})
    set_currency(api, "EUR", format="EUR {price}", thousand_separator=" ")
    set_currency(api, "USD", format="US${price}")
    doc = shop.doc(catalog, "p", currency="EUR")
    assert doc["attributes"]["price"] == {"USD": pair(100), "EUR": pair(123450)}
    assert doc["meta"]["display_price"] == shown(123450, "EUR", "€1.234,50", 1234.5)

    publish(api, catalog)
    doc = shop.doc(catalog, "p")
    assert doc["attributes"]["price"] == {"USD": pair(555)}
    assert doc["meta"]["display_price"] == shown(555, "USD", "US$5.55", 5.55)
    # the price book deleted since: the releases keep their copies
    assert api.delete(f"/pcm/pricebooks/{book}").status_code == 204
    assert shop.doc(catalog, "p", release=first)["attributes"]["price"] == {"USD": pair(100), "EUR": pair(123450)}
    assert shop.doc(catalog, "p")["meta"]["pricebook_id"] == book


def test_a_format_change_alone_reaches_the_next_release(shop: Shop) -> None:
    """Display figures are rendered at publish (issue 17); a release whose rows could be copied from the one
    before still shows the formats of its own snapshot, on the product and on the node's page."""
    api = shop.api
    book = make_book(api, "Book")
    add_price(api, book, "P", {"USD": base(123450, min_2=100000), "EUR": base(99)})
    shop.product("p", "P")
    catalog = shop.catalog(pricebook_id=book)
    first = publish(api, catalog)["id"]
    assert shop.doc(catalog, "p")["meta"]["display_price"] == shown(123450, "USD", "$1,234.50", 1234.5)

    set_currency(api, "USD", format="US$ {price}", thousand_separator="'", decimal_point=",")
    publish(api, catalog)
    doc = shop.doc(catalog, "p")
    assert doc["meta"]["display_price"] == shown(123450, "USD", "US$ 1'234,50", 1234.5)
    assert doc["meta"]["tiers"] == {"min_2": {"display_price": shown(100000, "USD", "US$ 1'000,00", 1000.0)}}
    page = shop.api.get(f"{view_url(catalog)}/nodes/{shop.node}/relationships/products").json()["data"]
    assert [d["meta"]["display_price"] for d in page] == [doc["meta"]["display_price"]]
    assert shop.doc(catalog, "p", currency="EUR")["meta"]["display_price"] == shown(99, "EUR", "€0,99", 0.99)
    old = shop.doc(catalog, "p", release=first)
    assert old["meta"]["display_price"] == shown(123450, "USD", "$1,234.50", 1234.5)


def test_publish_renders_the_price_fields_of_rows_without_sales(shop: Shop, db: Database) -> None:
    """Every priced row without a sale carries its price's additions for each display currency, rendered
    at publish, so reads do not compute them; a row with a sale (its fields depend on the time of the read)
    and an unpriced row carry none."""
    api = shop.api
    book = make_book(api, "Book")
    add_price(api, book, "PLAIN", {"USD": base(100), "JPY": base(15)})
    add_price(api, book, "SALE", {"USD": base(100)}, sales={"s": {"currencies": {"USD": base(50)}}})
    for sku in ("PLAIN", "SALE", None):
        shop.product(sku or "unpriced", sku)
    catalog = shop.catalog(pricebook_id=book)
    publish(api, catalog)
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT sku, price_parts FROM release_product")).all()
    parts = {sku: value for sku, value in rows}
    assert parts["SALE"] is None and parts[None] is None
    pieces = bytes(parts["PLAIN"]).split(b"\x00")
    assert pieces[1::2] == [b"USD", b"GBP", b"CAD", b"EUR", b"JPY"]  # the default first, then the rest
    assert b'"formatted":"\xc2\xa515"' in pieces[pieces.index(b"JPY") + 1]


def test_bundle_sales_are_never_applied(shop: Shop) -> None:
    book = make_book(shop.api, "Book")
    add_price(
        shop.api,
        book,
        "P",
        {"USD": base(100)},
        sales={"bundle": {"bundle_ids": [str(uuid.uuid4())], "currencies": {"USD": base(1)}}},
    )
    shop.product("p", "P")
    catalog = shop.catalog(pricebook_id=book)
    publish(shop.api, catalog)
    assert price_part(shop.doc(catalog, "p")) == (
        {"price": {"USD": pair(100)}},
        {"pricebook_id": book, "display_price": shown(100, "USD", "$1.00", 1.0)},
    )


# --- sales at read time (§9.6.2) ----------------------------------------------------------------------


def test_sale_windows_are_matched_against_the_time_of_the_read(shop: Shop) -> None:
    api = shop.api
    book = make_book(api, "Book")
    now = datetime.now(UTC)
    past, future = stamp(now - timedelta(days=2)), stamp(now + timedelta(days=30))
    long_ago = stamp(now - timedelta(days=60))

    def priced(sku: str, sales: dict[str, Any]) -> None:
        add_price(api, book, sku, {"USD": base(1000, min_2=900)}, sales=sales)
        shop.product(sku, sku)

    def sale(valid_from: str | None, valid_to: str | None, amount: int = 500) -> dict[str, Any]:
        return {"schedule": {"valid_from": valid_from, "valid_to": valid_to}, "currencies": {"USD": base(amount)}}

    priced("ENDED", {"ended": sale(long_ago, past)})
    priced("RUNNING", {"running": sale(past, future)})
    priced("COMING", {"coming": sale(future, None)})
    priced("OPEN", {"open": {"currencies": {"USD": base(600)}}, "running": sale(past, future, 400)})  # P-6
    priced("UNTIL", {"until": sale(None, future, 300)})
    catalog = shop.catalog(pricebook_id=book)
    publish(api, catalog)

    def sale_of(key: str) -> tuple[Any, Any, Any]:
        doc = shop.doc(catalog, key)
        return doc["attributes"]["price"]["USD"]["amount"], doc["meta"].get("sale_id"), doc["meta"].get("sale_expires")

    assert sale_of("ENDED") == (1000, None, None)
    assert sale_of("COMING") == (1000, None, None)
    assert sale_of("RUNNING") == (500, "running", future)
    assert sale_of("OPEN") == (400, "running", future)
    assert sale_of("UNTIL") == (300, "until", future)
    ended = shop.doc(catalog, "ENDED")
    assert set(ended["meta"]) & PRICE_META == {"pricebook_id", "display_price", "tiers"}
    assert ended["attributes"]["tiers"] == {"min_2": {"minimum_quantity": 2, "price": {"USD": pair(900)}}}
    # P-5: while the sale covers USD and defines no tiers, USD has none
    running = shop.doc(catalog, "RUNNING")
    assert "tiers" not in running["attributes"]
    assert "tiers" not in running["meta"]
    assert running["meta"]["original_price"] == {"USD": pair(1000)}


def test_an_open_ended_sale_has_a_null_sale_expires(shop: Shop) -> None:
    book = make_book(shop.api, "Book")
    add_price(shop.api, book, "P", {"USD": base(100)}, sales={"always": {"currencies": {"USD": base(50)}}})
    shop.product("p", "P")
    catalog = shop.catalog(pricebook_id=book)
    publish(shop.api, catalog)
    meta = shop.doc(catalog, "p")["meta"]
    assert meta["sale_id"] == "always"
    assert "sale_expires" in meta and meta["sale_expires"] is None


@pytest.fixture
def uncached(db: Database, api: Caller) -> Iterator[Caller]:
    with uncached_caller(db.settings.database_url, api) as caller:
        yield caller


def test_cached_pages_follow_the_display_currency(shop: Shop, uncached: Caller) -> None:
    seed = seed_catalog(shop)
    single = f"{view_url(seed.catalog)}/products/{shop.products['range']}"
    page = f"{view_url(seed.catalog)}/products"
    for url in (single, page):
        for _ in range(2):  # fill the cache, then read from it
            for headers, code in (
                ({}, "USD"),
                ({"X-MOLTIN-CURRENCY": "GBP"}, "GBP"),
                ({"X-MOLTIN-CURRENCY": "gbp"}, "GBP"),
                ({"EP-Currency": "CAD"}, "CAD"),
                ({"X-MOLTIN-CURRENCY": "USD", "EP-Currency": "CAD"}, "USD"),
                ({"X-MOLTIN-CURRENCY": "nope"}, "USD"),
            ):
                response = shop.api.get(url, headers=headers)
                assert response.status_code == 200
                assert "X-Moltin-Currency" in response.headers["Vary"]
                body = response.json()["data"]
                docs = body if isinstance(body, list) else [body]
                shirt_or_range = [d for d in docs if "display_price" in d["meta"]]
                assert {d["meta"]["display_price"]["with_tax"]["currency"] for d in shirt_or_range} == {code}, (
                    url,
                    headers,
                )
                assert response.content == uncached.get(url, headers=headers).content


def test_a_repeated_currency_header_does_not_poison_the_cache(shop: Shop) -> None:
    """The first X-MOLTIN-CURRENCY is the one shown; the page must not be kept under the second one."""
    seed = seed_catalog(shop)
    url = f"{view_url(seed.catalog)}/products/{shop.products['range']}"
    token = ("Authorization", f"Bearer {shop.api.token}")

    def currency(response: Any) -> str:
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["meta"]["display_price"]["with_tax"]["currency"])

    for _ in range(2):
        twice = [token, ("X-MOLTIN-CURRENCY", "GBP"), ("X-MOLTIN-CURRENCY", "USD")]
        assert currency(shop.api.client.get(url, headers=twice)) == "GBP"
        assert currency(shop.api.get(url, headers={"X-MOLTIN-CURRENCY": "USD"})) == "USD"
        assert currency(shop.api.get(url)) == "USD"
        assert currency(shop.api.get(url, headers={"X-MOLTIN-CURRENCY": "GBP"})) == "GBP"


def test_cached_pages_expire_when_a_sale_starts_or_ends(shop: Shop, uncached: Caller) -> None:
    """A sale ending and another starting ~1.5 s after publish: the same request before and after the
    boundary, cached in between, shows each price at its time."""
    api = shop.api
    book = make_book(api, "Book")
    boundary = datetime.now(UTC) + timedelta(milliseconds=1500)
    boundary_text = stamp(boundary)
    add_price(
        api,
        book,
        "ENDING",
        {"USD": base(1000)},
        sales={"ending": {"schedule": {"valid_to": boundary_text}, "currencies": {"USD": base(500)}}},
    )
    add_price(
        api,
        book,
        "STARTING",
        {"USD": base(2000)},
        sales={"starting": {"schedule": {"valid_from": boundary_text}, "currencies": {"USD": base(1500)}}},
    )
    shop.product("ending", "ENDING")
    shop.product("starting", "STARTING")
    catalog = shop.catalog(pricebook_id=book)
    publish(api, catalog)
    urls = [
        f"{view_url(catalog)}/products/{shop.products['ending']}",
        f"{view_url(catalog)}/products/{shop.products['starting']}",
        f"{view_url(catalog)}/products",
        f"{view_url(catalog)}/nodes/{shop.node}/relationships/products",
    ]

    def amounts(caller: Caller, url: str, **headers: str) -> dict[str, tuple[int, str | None]]:
        response = caller.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()["data"]
        return {
            d["attributes"]["sku"]: (d["attributes"]["price"]["USD"]["amount"], d["meta"].get("sale_id"))
            for d in (body if isinstance(body, list) else [body])
        }

    before = {"ENDING": (500, "ending"), "STARTING": (2000, None)}
    etags = {}
    for url in urls:
        for _ in range(2):
            response = api.get(url)
            etags[url] = response.headers["ETag"]
            assert {k: v for k, v in before.items() if k in amounts(api, url)} == amounts(api, url)
    if datetime.now(UTC) >= boundary:
        pytest.skip("the machine was too slow to read before the sale boundary")
    time.sleep(max(0.0, (boundary - datetime.now(UTC)).total_seconds()) + 0.05)

    after = {"ENDING": (1000, None), "STARTING": (1500, "starting")}
    for url in urls:
        for _ in range(2):
            got = amounts(api, url)
            assert got == {k: v for k, v in after.items() if k in got}, url
            assert got == amounts(uncached, url)
        stale = api.get(url, headers={"If-None-Match": etags[url]})
        assert stale.status_code == 200, url  # the ETag changed with the active sale
    assert shop.doc(catalog, "starting")["meta"]["sale_expires"] is None


# --- catalogs naming price books (§9.5) --------------------------------------------------------------


def test_catalogs_must_name_existing_price_books(shop: Shop, keys: Keys) -> None:
    api = shop.api
    book = make_book(api, "Book")
    other = keys.caller(store_id=keys.store("Other"))
    foreign = make_book(other, "Foreign")
    unknown = str(uuid.uuid4())
    for attributes, missing in (
        ({"pricebook_id": unknown}, [unknown]),
        ({"pricebook_id": foreign}, [foreign]),
        ({"pricebook_ids": [{"id": book, "priority": 1}, {"id": unknown, "priority": 2}]}, [unknown]),
    ):
        response = api.post(
            "/pcm/catalogs",
            json={"data": {"type": "catalog", "attributes": {"name": "C", "hierarchy_ids": [], **attributes}}},
        )
        assert response.status_code == 422, response.text
        assert errors_of(response)[0]["meta"]["missing_ids"] == missing
    assert view(api, "/pcm/catalogs")["data"] == []


def with_book(value: Any, book: str) -> Any:
    """`value` with every "BOOK" replaced by a real price book id."""
    if value == "BOOK":
        return book
    if isinstance(value, dict):
        return {k: with_book(v, book) for k, v in value.items()}
    if isinstance(value, list):
        return [with_book(v, book) for v in value]
    return value


@pytest.mark.parametrize(
    "attributes",
    [
        {"pricebook_ids": [{"id": "BOOK", "priority": 1}, {"id": "BOOK", "priority": 2}]},  # repeated
        {"pricebook_ids": [{"id": "BOOK"}]},
        {"pricebook_ids": [{"id": "BOOK", "priority": 1.5}]},
        {"pricebook_ids": [{"id": "BOOK", "priority": "1"}]},
        {"pricebook_ids": [{"id": "BOOK", "priority": None}]},
        {"pricebook_ids": [{"priority": 1}]},
        {"pricebook_ids": [{"id": "BOOK", "priority": i} for i in range(6)]},
        {"pricebook_id": "BOOK", "pricebook_ids": [{"id": "BOOK", "priority": 1}]},
        {"pricebook_id": "not-a-uuid"},
    ],
)
def test_bad_price_book_references_are_422(shop: Shop, attributes: dict[str, Any]) -> None:
    book = make_book(shop.api, "Book")
    body_attributes = with_book(attributes, book)
    response = shop.api.post(
        "/pcm/catalogs",
        json={"data": {"type": "catalog", "attributes": {"name": "C", "hierarchy_ids": [], **body_attributes}}},
    )
    assert response.status_code == 422, response.text
    errors_of(response)


def test_put_one_field_clears_the_other_and_null_clears(shop: Shop) -> None:
    api = shop.api
    first, second = make_book(api, "First"), make_book(api, "Second")
    catalog = shop.catalog(pricebook_id=first)

    def put(**attributes: Any) -> dict[str, Any]:
        response = api.put(
            f"/pcm/catalogs/{catalog}", json={"data": {"type": "catalog", "id": catalog, "attributes": attributes}}
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]["attributes"]
        return data

    attributes = put(pricebook_ids=[{"id": second, "priority": 2}, {"id": first, "priority": 1}])
    assert "pricebook_id" not in attributes
    assert attributes["pricebook_ids"] == [{"id": second, "priority": 2}, {"id": first, "priority": 1}]
    attributes = put(pricebook_id=second)
    assert attributes["pricebook_id"] == second and "pricebook_ids" not in attributes
    attributes = put(pricebook_id=None)
    assert "pricebook_id" not in attributes and "pricebook_ids" not in attributes
    unknown = str(uuid.uuid4())
    response = api.put(
        f"/pcm/catalogs/{catalog}",
        json={"data": {"type": "catalog", "id": catalog, "attributes": {"pricebook_id": unknown}}},
    )
    assert response.status_code == 422
    assert errors_of(response)[0]["meta"]["missing_ids"] == [unknown]


def test_publish_is_refused_when_a_named_book_was_deleted(shop: Shop) -> None:  # P-16, §B-13
    api = shop.api
    kept, doomed = make_book(api, "Kept"), make_book(api, "Doomed")
    add_price(api, kept, "P", {"USD": base(100)})
    shop.product("p", "P")
    catalog = shop.catalog(pricebook_ids=[{"id": kept, "priority": 1}, {"id": doomed, "priority": 2}])
    first = publish(api, catalog)["id"]
    assert api.delete(f"/pcm/pricebooks/{doomed}").status_code == 204

    response = api.post(f"/pcm/catalogs/{catalog}/releases", content=b"")
    assert response.status_code == 422, response.text
    assert errors_of(response)[0]["meta"]["missing_ids"] == [doomed]
    releases = view(api, f"/pcm/catalogs/{catalog}/releases")["data"]
    assert [r["id"] for r in releases] == [first]  # nothing written
    assert shop.doc(catalog, "p")["attributes"]["price"] == {"USD": pair(100)}

    # naming the remaining book again makes it publishable
    body = {"data": {"type": "catalog", "id": catalog, "attributes": {"pricebook_id": kept}}}
    assert api.put(f"/pcm/catalogs/{catalog}", json=body).status_code == 200
    assert publish(api, catalog)["id"] != first
