"""The fast product-row rendering of a release page gives the bytes of the general one (issue 17).

`RowRenderer` splices the price fields and the curated mark into the stored document; the reference,
`render_product_row`, decodes the document, updates it and encodes it again. For any document publish can
write, any price a price book can hold, any display currency and any instant, the two must agree byte for
byte, and the page's `valid_until` must be the earliest sale boundary after the instant.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from assortment.domain.formats import timestamp
from assortment.domain.price_rules import CurrencyFormat, next_boundary
from assortment.domain.release_render import ADDED_KEYS, ATTRIBUTES_END, META_START, RowRenderer, price_parts
from assortment.domain.releases import Pricing, render_product_row

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CODES = ["USD", "EUR", "GBP", "JPY"]
text = st.text(st.characters(codec="utf-8"), max_size=12)  # utf-8: no lone surrogates

currency_formats = st.builds(
    CurrencyFormat,
    code=st.sampled_from([*CODES, "CHF"]),
    format=st.sampled_from(["${price}", "{price} €", '"{price}"', "£{price}", "¥ {price} \\ x"]),
    decimal_point=st.sampled_from([".", ",", "'"]),
    thousand_separator=st.sampled_from([",", ".", " ", ""]),
    decimal_places=st.integers(0, 4),
)

amounts = st.integers(0, 2**53 - 1) | st.integers(0, 100_000)


@st.composite
def currency_entries(draw: Any, codes: list[str], tier_names: list[str]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for code in codes:
        entry: dict[str, Any] = {"amount": draw(amounts)}
        if draw(st.booleans()):
            entry["includes_tax"] = draw(st.booleans())
        names = draw(st.lists(st.sampled_from(tier_names), unique=True, max_size=len(tier_names))) if tier_names else []
        if names:
            entry["tiers"] = {
                name: {"minimum_quantity": tier_names.index(name) + 2, "amount": draw(amounts)} for name in names
            }
        entries[code] = entry
    return entries


@st.composite
def prices(draw: Any) -> dict[str, Any]:
    codes = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=4, unique=True))
    tier_names = draw(st.lists(st.sampled_from(["five", "twenty", "bulk", "ä"]), unique=True, max_size=3))
    price: dict[str, Any] = {
        "pricebook_id": "3f1c2a9e-0000-4000-8000-000000000001",
        "currencies": draw(currency_entries(codes, tier_names)),
    }
    sales: dict[str, Any] = {}
    for sale_id in draw(st.lists(st.sampled_from(["spring", "flash", "b"]), unique=True, max_size=3)):
        sale_codes = draw(st.lists(st.sampled_from(codes), min_size=1, unique=True))
        sale: dict[str, Any] = {"currencies": draw(currency_entries(sale_codes, tier_names))}
        start = draw(st.none() | st.integers(-48, 48))
        length = draw(st.none() | st.integers(1, 96))
        if start is not None or length is not None:
            begin = NOW + timedelta(hours=start) if start is not None else None
            end = (begin or NOW) + timedelta(hours=length) if length is not None else None
            sale["schedule"] = {
                "valid_from": timestamp(begin) if begin else None,
                "valid_to": timestamp(end) if end else None,
            }
        sales[sale_id] = sale
    if sales:
        price["sales"] = sales
    return price


@st.composite
def documents(draw: Any) -> dict[str, Any]:
    """A product document in the shape publish writes, with user text anywhere text can go."""
    attributes: dict[str, Any] = {"name": draw(text)}
    for key in ("description", "slug", "sku"):
        if draw(st.booleans()):
            attributes[key] = draw(text)
    attributes.update(status="live", commodity_type="physical")
    if draw(st.booleans()):
        attributes["tags"] = draw(st.lists(text, max_size=3))
    attributes.update(created_at="2026-11-07T05:35:09.000Z", updated_at="2026-12-07T05:35:09.000Z")
    # A user's text may spell the very markers the splice looks for.
    if draw(st.booleans()):
        attributes["description"] = draw(
            st.sampled_from(['},"relationships":{', ',"meta":{', '"price":', "}}", '{"tiers":1}'])
        )
    slugs = draw(st.lists(st.sampled_from(["meta", "relationships", "price", "up-sell"]), unique=True, max_size=3))
    relationships: dict[str, Any] = {}
    if slugs:
        relationships["custom_relationships"] = {"links": {slug: f"/x/{slug}" for slug in slugs}}
    meta: dict[str, Any] = {"catalog_id": "c", "catalog_source": "pim", "bread_crumbs": {"n": ["a", "b"]}}
    if slugs:
        meta["custom_relationships"] = slugs
    document = {"type": "product", "id": "p", "attributes": attributes, "relationships": relationships, "meta": meta}
    # Documents the splice must leave to the general way. (One with a member after `meta` is not among them:
    # publish never writes one, and the splice relies on that order; test_fast_reads checks stored documents.)
    if draw(st.integers(0, 9)) == 0:
        odd = draw(st.sampled_from(["price-in-attributes", "tiers-in-meta", "empty-meta"]))
        if odd == "price-in-attributes":
            attributes["price"] = {"USD": 1}
        elif odd == "tiers-in-meta":
            meta["tiers"] = {}
        else:
            document["meta"] = {}
    return document


@settings(max_examples=400, deadline=None)
@given(
    document=documents(),
    price=st.none() | prices(),
    curated=st.booleans(),
    display=currency_formats,
    hours=st.integers(-50, 100),
)
def test_fast_rendering_gives_the_general_bytes(
    document: dict[str, Any], price: dict[str, Any] | None, curated: bool, display: CurrencyFormat, hours: int
) -> None:
    now = NOW + timedelta(hours=hours, minutes=hours % 7)
    stored = orjson.dumps(document)
    stored_price = None if price is None else orjson.dumps(price)
    renderer = RowRenderer(display, now)
    fast = renderer.row(stored, stored_price, curated)
    expected = render_product_row(stored, stored_price, curated, Pricing(display, now))
    assert fast == expected
    assert renderer.valid_until == (None if price is None else next_boundary(price.get("sales"), now))


def test_a_plain_price_is_spliced_without_decoding_the_document() -> None:
    """The splice itself: the price fields land at the end of `attributes` and of `meta`."""
    document = orjson.dumps(
        {"type": "product", "id": "p", "attributes": {"name": "Mug"}, "relationships": {}, "meta": {"a": 1}}
    )
    price = orjson.dumps({"pricebook_id": "b", "currencies": {"USD": {"amount": 123456, "includes_tax": True}}})
    row = RowRenderer(CurrencyFormat("USD", "${price}", ".", ",", 2), NOW).row(document, price, True)
    assert orjson.loads(row) == {
        "type": "product",
        "id": "p",
        "attributes": {
            "name": "Mug",
            "curated_product": True,
            "price": {"USD": {"amount": 123456, "includes_tax": True}},
        },
        "relationships": {},
        "meta": {
            "a": 1,
            "pricebook_id": "b",
            "display_price": {
                "with_tax": {"amount": 123456, "currency": "USD", "formatted": "$1,234.56", "float_price": 1234.56},
                "without_tax": {"amount": 123456, "currency": "USD", "formatted": "$1,234.56", "float_price": 1234.56},
            },
        },
    }


@st.composite
def release_currencies(draw: Any) -> list[CurrencyFormat]:
    """A release's display currencies: distinct codes, each with some format."""
    codes = draw(st.lists(st.sampled_from([*CODES, "CHF"]), min_size=1, max_size=5, unique=True))
    return [replace(draw(currency_formats), code=code) for code in codes]


@settings(max_examples=400, deadline=None)
@given(
    document=documents(),
    price=st.none() | prices(),
    curated=st.booleans(),
    formats=release_currencies(),
    pick=st.integers(0, 4),
    hours=st.integers(-50, 100),
)
def test_price_parts_rendered_at_publish_give_the_general_bytes(
    document: dict[str, Any],
    price: dict[str, Any] | None,
    curated: bool,
    formats: list[CurrencyFormat],
    pick: int,
    hours: int,
) -> None:
    """The parts publish renders for every display currency of a release, spliced at read time, give what
    the general rendering gives in each of them — and exist exactly for a price without sales in a document
    the splice can take, so no time-dependent field is ever frozen at publish."""
    now = NOW + timedelta(hours=hours)
    stored = orjson.dumps(document)
    stored_price = None if price is None else orjson.dumps(price)
    parts = price_parts(stored, stored_price, formats)
    spliceable = (
        stored.count(ATTRIBUTES_END) == 1
        and stored.count(META_START) == 1
        and not stored.endswith(b"{}}")
        and ADDED_KEYS.search(stored) is None
    )
    assert (parts is not None) == (price is not None and not price.get("sales") and spliceable)
    display = formats[pick % len(formats)]
    renderer = RowRenderer(display, now)
    fast = renderer.row(stored, stored_price, curated, parts)
    assert fast == render_product_row(stored, stored_price, curated, Pricing(display, now))


def test_price_parts_hold_every_display_currency_and_are_used() -> None:
    """Parts name each currency once; a read splices them without looking at the price (a price that
    disagrees with its parts shows the parts), and a currency the parts lack falls back to the price."""
    document = orjson.dumps(
        {"type": "product", "id": "p", "attributes": {"name": "Mug"}, "relationships": {}, "meta": {"a": 1}}
    )
    price = orjson.dumps({"pricebook_id": "b", "currencies": {"USD": {"amount": 100}, "EUR": {"amount": 90}}})
    usd = CurrencyFormat("USD", "${price}", ".", ",", 2)
    eur = CurrencyFormat("EUR", "{price} €", ",", ".", 2)
    parts = price_parts(document, price, [usd, eur])
    assert parts is not None and parts.split(b"\x00")[1::2] == [b"USD", b"EUR"]
    other = orjson.dumps({"pricebook_id": "b", "currencies": {"USD": {"amount": 1}}})
    row = orjson.loads(RowRenderer(eur, NOW).row(document, other, False, parts))
    assert row["meta"]["display_price"]["with_tax"]["formatted"] == "0,90 €"
    gbp = CurrencyFormat("GBP", "£{price}", ".", ",", 2)
    row = orjson.loads(RowRenderer(gbp, NOW).row(document, other, False, parts))
    assert row["attributes"]["price"] == {"USD": {"amount": 1, "includes_tax": False}}
    assert price_parts(document, orjson.dumps({**orjson.loads(price), "sales": {"s": {}}}), [usd]) is None
