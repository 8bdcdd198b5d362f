"""Price rules (SPEC §9) as plain functions: formatting amounts, checking a price's shape, choosing
the active sale and computing what a release shows. No database, no HTTP, no floats on the way."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from assortment.domain.formats import timestamp
from assortment.errors import ValidationFailed

MAX_AMOUNT = 2**53 - 1


@dataclass(frozen=True, slots=True)
class CurrencyFormat:
    code: str
    format: str
    decimal_point: str
    thousand_separator: str
    decimal_places: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "format": self.format,
            "decimal_point": self.decimal_point,
            "thousand_separator": self.thousand_separator,
            "decimal_places": self.decimal_places,
        }


DEFAULT_CURRENCY = CurrencyFormat("USD", "${price}", ".", ",", 2)


def snapshot_formats(snapshot: list[dict[str, Any]] | None) -> list[CurrencyFormat]:
    """The currencies a release can display (its snapshot of the store's currencies), the default first;
    the default currency alone for a release without one."""
    if not snapshot:
        return [DEFAULT_CURRENCY]
    default = next((c for c in snapshot if c.get("default")), snapshot[0])
    return [
        CurrencyFormat(
            code=c["code"],
            format=c["format"],
            decimal_point=c["decimal_point"],
            thousand_separator=c["thousand_separator"],
            decimal_places=c["decimal_places"],
        )
        for c in [default, *(c for c in snapshot if c is not default)]
    ]


def format_amount(amount: int, currency: CurrencyFormat) -> str:
    """§9.1: integer arithmetic only. USD 123456789 → $1,234,567.89; JPY 1500 → ¥1,500."""
    places = currency.decimal_places
    scale: int = 10**places
    whole, frac = divmod(amount, scale)
    # groups of three by the format machinery (in C: this runs for every price a storefront page shows),
    # then the currency's separator in place of the comma
    number = f"{whole:,}"
    separator = currency.thousand_separator
    if separator != ",":
        number = number.replace(",", separator)
    if places > 0:
        number += currency.decimal_point + str(frac).rjust(places, "0")
    return currency.format.replace("{price}", number)


def float_price(amount: int, places: int) -> float:
    divisor: int = 10**places
    return amount / divisor


# --- checking a price -----------------------------------------------------------------------------------


def _amount(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
        raise ValidationFailed(f"{where}: must be an integer amount between 0 and {MAX_AMOUNT}")
    return value


def check_currencies(currencies: Any, where: str, tier_minimums: dict[str, int]) -> dict[str, Any]:
    """A map of 3-letter codes to {amount, includes_tax?, tiers?}; returns it normalised."""
    if not isinstance(currencies, dict) or not currencies:
        raise ValidationFailed(f"{where}: must hold at least one currency")
    result: dict[str, Any] = {}
    for code, entry in currencies.items():
        if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
            raise ValidationFailed(f"{where}: currency codes are 3 upper-case letters, got {code!r}")
        here = f"{where}.{code}"
        if not isinstance(entry, dict):
            raise ValidationFailed(f"{here}: must be an object")
        unknown = set(entry) - {"amount", "includes_tax", "tiers"}
        if unknown:
            raise ValidationFailed(f"{here}: unknown attributes {sorted(unknown)}")
        if "amount" not in entry:
            raise ValidationFailed(f"{here}.amount: Field required")
        includes_tax = entry.get("includes_tax", False)
        if not isinstance(includes_tax, bool):
            raise ValidationFailed(f"{here}.includes_tax: must be a boolean")
        normalised: dict[str, Any] = {
            "amount": _amount(entry["amount"], f"{here}.amount"),
            "includes_tax": includes_tax,
        }
        tiers = entry.get("tiers")
        if tiers is not None:
            normalised["tiers"] = _check_tiers(tiers, f"{here}.tiers", tier_minimums)
        result[code] = normalised
    return result


def _check_tiers(tiers: Any, where: str, tier_minimums: dict[str, int]) -> dict[str, Any]:
    if not isinstance(tiers, dict):
        raise ValidationFailed(f"{where}: must be an object")
    seen_minimums: set[int] = set()
    result: dict[str, Any] = {}
    for name, tier in tiers.items():
        here = f"{where}.{name}"
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise ValidationFailed(f"{where}: tier names are 1 to 255 characters")
        if not isinstance(tier, dict) or set(tier) - {"minimum_quantity", "amount"}:
            raise ValidationFailed(f"{here}: must be {{minimum_quantity, amount}}")
        minimum = tier.get("minimum_quantity")
        if isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= MAX_AMOUNT:
            raise ValidationFailed(f"{here}.minimum_quantity: must be an integer of at least 1")
        if minimum in seen_minimums:
            raise ValidationFailed(f"{where}: two tiers of one currency cannot share a minimum_quantity")
        seen_minimums.add(minimum)
        if tier_minimums.setdefault(name, minimum) != minimum:
            raise ValidationFailed(f"{here}: a tier name has one minimum_quantity across the price")
        result[name] = {"minimum_quantity": minimum, "amount": _amount(tier.get("amount"), f"{here}.amount")}
    return result


def parse_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{where}: must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # In UTC now: an instant outside years 1-9999 there (9999-12-31T23:59:59-14:00) is refused here.
        parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        # To the millisecond, as stored (§0.1): the window rules are checked on what is kept.
        return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
    except (ValueError, OverflowError) as exc:
        raise ValidationFailed(f"{where}: must be an RFC 3339 time") from exc


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_sales(sales: Any, base_codes: set[str], tier_minimums: dict[str, int]) -> dict[str, Any] | None:
    if sales is None:
        return None
    if not isinstance(sales, dict):
        raise ValidationFailed("data.attributes.sales: must be an object")
    result: dict[str, Any] = {}
    bounds_seen: set[tuple[datetime | None, datetime | None]] = set()
    for sale_id, sale in sales.items():
        where = f"data.attributes.sales.{sale_id}"
        if not isinstance(sale_id, str) or not 1 <= len(sale_id) <= 255:
            raise ValidationFailed("data.attributes.sales: sale ids are 1 to 255 characters")
        if not isinstance(sale, dict) or set(sale) - {"schedule", "bundle_ids", "currencies"}:
            raise ValidationFailed(f"{where}: must be {{schedule?, bundle_ids?, currencies}}")
        currencies = check_currencies(sale.get("currencies"), f"{where}.currencies", tier_minimums)
        outside = set(currencies) - base_codes
        if outside:
            raise ValidationFailed(f"{where}.currencies: {sorted(outside)} are not among the price's currencies")
        entry: dict[str, Any] = {"currencies": currencies}
        schedule = sale.get("schedule")
        start = end = None
        if schedule is not None:
            if not isinstance(schedule, dict) or set(schedule) - {"valid_from", "valid_to"}:
                raise ValidationFailed(f"{where}.schedule: must be {{valid_from?, valid_to?}}")
            start = parse_time(schedule.get("valid_from"), f"{where}.schedule.valid_from")
            end = parse_time(schedule.get("valid_to"), f"{where}.schedule.valid_to")
            if start and end and start >= end:
                raise ValidationFailed(f"{where}.schedule: valid_from must be before valid_to")
            entry["schedule"] = {
                "valid_from": timestamp(start) if start else None,
                "valid_to": timestamp(end) if end else None,
            }
        bundles = sale.get("bundle_ids")
        if bundles is not None:
            if not isinstance(bundles, list) or not all(_is_uuid(b) for b in bundles):
                raise ValidationFailed(f"{where}.bundle_ids: must be a list of ids")
            entry["bundle_ids"] = bundles
        if not bundles:  # an empty list prices outside bundles too: publish keeps it as an ordinary sale
            if (start, end) in bounds_seen:
                raise ValidationFailed(f"{where}.schedule: two sales cannot have the same window")
            bounds_seen.add((start, end))
        result[sale_id] = entry
    return result or None


# --- what a release shows -------------------------------------------------------------------------------


def _window(sale: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    schedule = sale.get("schedule") or {}
    start = schedule.get("valid_from")
    end = schedule.get("valid_to")
    return (
        datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None,
        datetime.fromisoformat(end.replace("Z", "+00:00")) if end else None,
    )


def active_sale(sales: Mapping[str, Any] | None, now: datetime) -> tuple[str, Mapping[str, Any]] | None:
    """§9.6.2.1: the sale whose window holds `now`; several → the shortest window (open = infinite), then
    the earlier valid_to, then the lower sale id."""
    best: tuple[tuple[Any, ...], str, Mapping[str, Any]] | None = None
    for sale_id, sale in (sales or {}).items():
        start, end = _window(sale)
        if (start is not None and now < start) or (end is not None and now >= end):
            continue
        length = (end - start).total_seconds() if start is not None and end is not None else float("inf")
        key = (length, end.timestamp() if end is not None else float("inf"), sale_id)
        if best is None or key < best[0]:
            best = (key, sale_id, sale)
    return None if best is None else (best[1], best[2])


def next_boundary(sales: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """The next instant at which the active sale may change (for caching)."""
    upcoming = [t for sale in (sales or {}).values() for t in _window(sale) if t is not None and t > now]
    return min(upcoming) if upcoming else None


def _pair(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {"amount": entry["amount"], "includes_tax": entry.get("includes_tax", False)}


def _display(amount: int, currency: CurrencyFormat) -> dict[str, Any]:
    one = {
        "amount": amount,
        "currency": currency.code,
        "formatted": format_amount(amount, currency),
        "float_price": float_price(amount, currency.decimal_places),
    }
    return {"with_tax": one, "without_tax": dict(one)}


def price_fields(
    price: Mapping[str, Any], display: CurrencyFormat, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(attributes, meta) additions of a release product with a price (§9.6.2)."""
    base: Mapping[str, Any] = price["currencies"]
    sale = active_sale(price.get("sales"), now)
    sale_currencies: Mapping[str, Any] = sale[1]["currencies"] if sale else {}
    attributes: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    shown = {code: _pair(sale_currencies.get(code, entry)) for code, entry in base.items()}
    attributes["price"] = shown

    # Tiers follow the price of their currency: the sale's while it covers the currency, else the base.
    tiers: dict[str, Any] = {}
    tier_source: dict[str, str] = {}  # currency → "sale" | "base"
    for code, entry in base.items():
        source = sale_currencies.get(code, entry)
        tier_source[code] = "sale" if code in sale_currencies else "base"
        for name, tier in (source.get("tiers") or {}).items():
            slot = tiers.setdefault(name, {"minimum_quantity": tier["minimum_quantity"], "price": {}})
            slot["price"][code] = {"amount": tier["amount"], "includes_tax": source.get("includes_tax", False)}
    if tiers:
        attributes["tiers"] = tiers

    meta["pricebook_id"] = price["pricebook_id"]
    if display.code in shown:
        meta["display_price"] = _display(shown[display.code]["amount"], display)
    if sale is not None:
        sale_id, sale_entry = sale
        expires = _window(sale_entry)[1]
        meta["sale_id"] = sale_id
        meta["sale_expires"] = timestamp(expires) if expires else None
        meta["original_price"] = {code: _pair(entry) for code, entry in base.items()}
        if display.code in base:
            meta["original_display_price"] = _display(base[display.code]["amount"], display)

    tier_meta: dict[str, Any] = {}
    for name, tier in tiers.items():
        if display.code not in tier["price"]:
            continue
        entry_meta: dict[str, Any] = {"display_price": _display(tier["price"][display.code]["amount"], display)}
        if sale is not None and tier_source.get(display.code) == "sale":
            entry_meta["sale_id"] = sale[0]
            expires = _window(sale[1])[1]
            entry_meta["sale_expires"] = timestamp(expires) if expires else None
            # Original prices only when the base D tiers have a tier of that name (§9.6.2.6).
            if name in (base[display.code].get("tiers") or {}):
                originals = {
                    code: {"amount": e["tiers"][name]["amount"], "includes_tax": e.get("includes_tax", False)}
                    for code, e in base.items()
                    if name in (e.get("tiers") or {})
                }
                entry_meta["original_price"] = originals
                entry_meta["original_display_price"] = _display(originals[display.code]["amount"], display)
        tier_meta[name] = entry_meta
    if tier_meta:
        meta["tiers"] = tier_meta
    return attributes, meta
