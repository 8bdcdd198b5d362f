"""Product rows of a release as served, rendered without decoding the stored documents (issue 17).

A release stores each product's document once, at publish, and its winning price beside it; what a
request sees adds the price fields of the moment (§9.6.2: the active sale depends on the time, the display
price on the requested currency) and, on node pages, the curated mark. The general way to add them is to
decode the document, update its dicts and encode it again (`render_product_row`, kept as the reference).
That costs more than the rest of a storefront page together, so a page renders here:

- the document's bytes are kept and the additions spliced in: `attributes` ends where the one
  `},"relationships":` of the document begins, and `meta` is the document's last member, so it ends two
  bytes before the end. That order is publish's (`_product_document`; tests/api/test_fast_reads.py checks
  the stored documents), and the splice relies on it; `_spliceable` sends to the general way a document in
  which either marker is missing or repeated, or that already has one of the keys that are added;
- a price with no sale active now is rendered by `_plain_price` from the decoded price alone, with the
  display figures written by a formatter made once per request; a price with an active sale takes the
  general `price_fields`, whose members are spliced the same way;
- publish renders a price without sales once for every display currency (`price_parts`), and a read
  splices those bytes as they are.

The bytes are those the general way gives, key for key (tests/unit/test_release_render.py compares the
two over generated documents, prices, currencies and instants).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from assortment.domain.price_rules import (
    CurrencyFormat,
    active_sale,
    format_amount,
    next_boundary,
    price_fields,
)

ATTRIBUTES_END = b'},"relationships":'
META_START = b',"meta":{'
# Keys the rendering adds; a stored document that has one anywhere takes the general way.
ADDED_KEYS = re.compile(
    rb'"(?:curated_product|price|tiers|pricebook_id|display_price|sale_id|sale_expires|original_price'
    rb'|original_display_price)":'
)
CURATED = b'"curated_product":true'
PARTS_SEPARATOR = b"\x00"


class DisplayFormatter:
    """`_display` of price_rules for one currency, as the JSON bytes orjson would write for its dict."""

    def __init__(self, currency: CurrencyFormat) -> None:
        self.currency = currency
        self.code = currency.code
        self.divisor = 10**currency.decimal_places
        one = b'{"amount":%b,"currency":' + orjson.dumps(currency.code) + b',"formatted":%b,"float_price":%b}'
        self.template = b'{"with_tax":' + one + b',"without_tax":' + one + b"}"

    def __call__(self, amount: int) -> bytes:
        shown = orjson.dumps(amount)
        formatted = orjson.dumps(format_amount(amount, self.currency))
        number = orjson.dumps(amount / self.divisor)
        return self.template % (shown, formatted, number, shown, formatted, number)


@lru_cache(maxsize=64)
def _formatter(currency: CurrencyFormat) -> DisplayFormatter:
    return DisplayFormatter(currency)


def _plain_attributes(price: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `price` and `tiers` attributes of a price with no active sale: (shown, tiers)."""
    shown: dict[str, Any] = {}
    tiers: dict[str, Any] = {}
    for code, entry in price["currencies"].items():
        includes_tax = entry.get("includes_tax", False)
        shown[code] = {"amount": entry["amount"], "includes_tax": includes_tax}
        entry_tiers = entry.get("tiers")
        if entry_tiers:
            for name, tier in entry_tiers.items():
                slot = tiers.get(name)
                if slot is None:
                    slot = tiers[name] = {"minimum_quantity": tier["minimum_quantity"], "price": {}}
                slot["price"][code] = {"amount": tier["amount"], "includes_tax": includes_tax}
    return shown, tiers


def _plain_meta(
    price: Mapping[str, Any], shown: dict[str, Any], tiers: dict[str, Any], display: DisplayFormatter
) -> bytes:
    """The `meta` additions of a price with no active sale for one display currency, as JSON members."""
    meta = b'"pricebook_id":' + orjson.dumps(price["pricebook_id"])
    code = display.code
    if code in shown:
        meta += b',"display_price":' + display(shown[code]["amount"])
    tier_meta = [
        orjson.dumps(name) + b':{"display_price":' + display(tier["price"][code]["amount"]) + b"}"
        for name, tier in tiers.items()
        if code in tier["price"]
    ]
    if tier_meta:
        meta += b',"tiers":{' + b",".join(tier_meta) + b"}"
    return meta


def _plain_price(price: Mapping[str, Any], display: DisplayFormatter) -> tuple[bytes, bytes]:
    """(attributes, meta) additions of a price with no active sale, as JSON members without braces: what
    `price_fields` gives when `active_sale` finds none."""
    shown, tiers = _plain_attributes(price)
    attributes = {"price": shown, "tiers": tiers} if tiers else {"price": shown}
    return orjson.dumps(attributes)[1:-1], _plain_meta(price, shown, tiers, display)


def price_parts(document: bytes, price: bytes | None, formats: Sequence[CurrencyFormat]) -> bytes | None:
    """At publish: the additions a row's price makes to its document, rendered once for every currency the
    release can display, so that a read splices bytes instead of computing them (issue 17).

    Only for a price that has no sales at all (a sale makes the additions depend on the time of the
    request) and a document the splice can take; None otherwise, and reads render as before. The parts are
    the attribute members, then per currency its code and its meta members, separated by NUL bytes (which
    JSON text never holds raw)."""
    if price is None or not _spliceable(document):
        return None
    decoded = orjson.loads(price)
    if decoded.get("sales"):
        return None
    shown, tiers = _plain_attributes(decoded)
    attributes = {"price": shown, "tiers": tiers} if tiers else {"price": shown}
    pieces = [orjson.dumps(attributes)[1:-1]]
    for currency in formats:
        pieces += (currency.code.encode(), _plain_meta(decoded, shown, tiers, _formatter(currency)))
    return PARTS_SEPARATOR.join(pieces)


def _spliceable(document: bytes) -> bool:
    return (
        document.endswith(b"}}")
        and not document.endswith(b"{}}")  # an empty meta: nothing to put a comma after
        and document.count(ATTRIBUTES_END) == 1
        and document.count(META_START) == 1
        and ADDED_KEYS.search(document) is None
    )


class RowRenderer:
    """Renders the product rows of one request: `(document, price, curated)` → the document served."""

    def __init__(self, display: CurrencyFormat, now: datetime) -> None:
        self.display = display
        self.now = now
        self.formatter = DisplayFormatter(display)
        self.code = display.code.encode()
        self.valid_until: datetime | None = None  # the next instant one of the prices shown may change

    def row(self, document: bytes, price: bytes | None, curated: bool, parts: bytes | None = None) -> bytes:
        if parts is not None:
            spliced = self._with_parts(document, parts, curated)
            if spliced is not None:
                return spliced
        if price is None and not curated:
            return document
        decoded = None if price is None else orjson.loads(price)
        sales = None if decoded is None else decoded.get("sales")
        if sales:
            boundary = next_boundary(sales, self.now)
            if boundary is not None and (self.valid_until is None or boundary < self.valid_until):
                self.valid_until = boundary
        if not _spliceable(document):
            return self._general(document, decoded, curated)
        on_sale = bool(sales) and active_sale(sales, self.now) is not None
        attributes_end = document.index(ATTRIBUTES_END)
        added = [CURATED] if curated else []
        meta_added = b""
        if decoded is not None:
            if on_sale:  # the general fields, spliced: the keys are new to the document, so they go last
                attributes, meta = price_fields(decoded, self.display, self.now)
                price_attributes, meta_added = orjson.dumps(attributes)[1:-1], orjson.dumps(meta)[1:-1]
            else:
                price_attributes, meta_added = _plain_price(decoded, self.formatter)
            if price_attributes:
                added.append(price_attributes)
        joined = b"," + b",".join(added)
        head = document[:attributes_end] + joined + document[attributes_end:-2]
        if meta_added:
            head += b"," + meta_added
        return head + b"}}"

    def _with_parts(self, document: bytes, parts: bytes, curated: bool) -> bytes | None:
        """The row from the parts publish rendered (`price_parts`); None when they lack the display
        currency."""
        pieces = parts.split(PARTS_SEPARATOR)
        code = self.code
        for i in range(1, len(pieces) - 1, 2):
            if pieces[i] == code:
                meta = pieces[i + 1]
                break
        else:
            return None
        end = document.index(ATTRIBUTES_END)
        lead = b',"curated_product":true,' if curated else b","
        return document[:end] + lead + pieces[0] + document[end:-2] + b"," + meta + b"}}"

    def _general(self, document: bytes, decoded: dict[str, Any] | None, curated: bool) -> bytes:
        parsed = orjson.loads(document)
        if curated:
            parsed["attributes"]["curated_product"] = True
        if decoded is not None:
            attributes, meta = price_fields(decoded, self.display, self.now)
            parsed["attributes"].update(attributes)
            parsed["meta"].update(meta)
        return orjson.dumps(parsed)

    def rows(self, rows: Sequence[tuple[bytes, bytes | None, bool, bytes | None]]) -> list[bytes]:
        """Rows of (document, price, curated, parts)."""
        return [self.row(document, price, curated, parts) for document, price, curated, parts in rows]
