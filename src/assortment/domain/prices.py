"""Currencies, price books and prices (SPEC §9.1–9.3)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assortment.db import filters as sql_filters
from assortment.db.filters import FilterField, Kind, allow
from assortment.db.models import Currency, Price, Pricebook
from assortment.db.repositories.common import keyset_page
from assortment.db.repositories.products import external_ref_digest as digest
from assortment.db.types import utcnow
from assortment.domain import events, price_rules
from assortment.domain.filters import Term
from assortment.domain.paging import Page, Paging
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal
from assortment.domain.tree_rules import merge_custom_attributes
from assortment.errors import BadRequest, Conflict, NotFound, ValidationFailed

MAX_CURRENCIES = 10
CURRENCY_LOCKS = 0x43555252  # the advisory lock space of currency writes ("CURR")
CURRENCY_FIELDS = (
    "code",
    "format",
    "decimal_point",
    "thousand_separator",
    "decimal_places",
    "exchange_rate",
    "default",
    "enabled",
)
PRICE_ATTRIBUTES = {"sku", "currencies", "sales", "external_ref", "admin_attributes", "shopper_attributes"}

PRICEBOOK_FILTERS: dict[str, FilterField] = {
    "name": allow(Pricebook.name, Kind.STRING, "eq"),
    "external_ref": allow(Pricebook.external_ref, Kind.STRING, "eq"),
}


PRICE_FILTERS: dict[str, FilterField] = {
    "id": allow(Price.id, Kind.UUID, "eq in"),
    "sku": allow(Price.sku, Kind.STRING, "eq in like"),
    "external_ref": allow(
        Price.external_ref, Kind.STRING, "eq in like", eq=lambda v: Price.external_ref_digest == digest(v)
    ),
    "created_at": allow(Price.created_at, Kind.DATETIME, "gt ge lt le"),
    "updated_at": allow(Price.updated_at, Kind.DATETIME, "gt ge lt le"),
}


def currency_format(currency: Currency) -> price_rules.CurrencyFormat:
    return price_rules.CurrencyFormat(
        code=currency.code,
        format=currency.format,
        decimal_point=currency.decimal_point,
        thousand_separator=currency.thousand_separator,
        decimal_places=currency.decimal_places,
    )


def check_currency_values(values: dict[str, Any], *, creating: bool) -> None:
    """Field rules of §9.1 on the values a request sets."""
    refuse_nul(values, "data")
    required = CURRENCY_FIELDS if creating else ()
    for name in required:
        if values.get(name) is None:
            raise ValidationFailed(f"data.{name}: Field required")
    checks: dict[str, Any] = {
        "code": lambda v: isinstance(v, str) and len(v) == 3 and v.isascii() and v.isalpha(),
        "format": lambda v: isinstance(v, str) and "{price}" in v and len(v) <= 64,
        "decimal_places": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 8,
        "decimal_point": lambda v: isinstance(v, str) and 1 <= len(v) <= 3,
        "thousand_separator": lambda v: isinstance(v, str) and len(v) <= 3,
        "exchange_rate": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1e15,
        "default": lambda v: isinstance(v, bool),
        "enabled": lambda v: isinstance(v, bool),
    }
    messages = {
        "code": "must be 3 letters",
        "format": "must be a string containing {price}",
        "decimal_places": "must be an integer from 0 to 8",
        "decimal_point": "must be 1 to 3 characters",
        "thousand_separator": "must be 0 to 3 characters",
        "exchange_rate": "must be a number of at least 0",
        "default": "must be a boolean",
        "enabled": "must be a boolean",
    }
    for name, value in values.items():
        if name in checks and not checks[name](value):
            raise ValidationFailed(f"data.{name}: {messages[name]}")


@dataclass
class CurrencyService:
    session: Session
    principal: Principal

    def ensure_default(self) -> None:
        """A store without currencies gets USD, so exactly one default always exists (P-9)."""
        scope = self.principal.scope_id
        if self.session.scalar(select(func.count()).where(Currency.scope_id == scope)):
            return
        now = utcnow()
        try:
            with self.session.begin_nested():
                self.session.add(
                    Currency(
                        id=uuid.uuid4(),
                        scope_id=scope,
                        code="USD",
                        format="${price}",
                        decimal_point=".",
                        thousand_separator=",",
                        decimal_places=2,
                        exchange_rate=1.0,
                        is_default=True,
                        enabled=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            pass  # another request seeded it first

    def enabled_formats(self, scope_id: uuid.UUID) -> list[tuple[price_rules.CurrencyFormat, bool]]:
        rows = self.session.scalars(
            select(Currency).where(Currency.scope_id == scope_id, Currency.enabled).order_by(Currency.created_at)
        ).all()
        if not rows:
            return [(price_rules.DEFAULT_CURRENCY, True)]
        return [(currency_format(c), c.is_default) for c in rows]

    def list_currencies(self, paging: Paging) -> Page[Currency]:
        self.ensure_default()
        query = select(Currency).where(Currency.scope_id == self.principal.scope_id)
        return keyset_page(self.session, query, (Currency.created_at, Currency.id), paging)

    def get(self, currency_id: str) -> Currency:
        parsed = parse_id(currency_id)
        currency = None
        if parsed is not None:
            currency = self.session.scalars(
                select(Currency).where(Currency.id == parsed, Currency.scope_id == self.principal.scope_id)
            ).first()
        if currency is None:
            raise NotFound("currency not found")
        return currency

    def _one_writer_per_store(self) -> None:
        """Currency writes of one store run one at a time, so the invariants (one enabled default, at most
        10) hold under concurrent requests. SQLite writers already hold the database write lock (BEGIN
        IMMEDIATE). On PostgreSQL, row locks alone do not do it: a writer that waited for them does not see
        the rows another writer inserted meanwhile; after this transaction-scoped lock, every read sees
        all committed changes (READ COMMITTED takes a new snapshot per statement)."""
        if self.session.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(self.principal.scope_id.bytes[:4], "big", signed=True)
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), CAST(:key AS integer))"),
                {"space": CURRENCY_LOCKS, "key": key},
            )

    def create(self, values: dict[str, Any]) -> Currency:
        check_currency_values(values, creating=True)
        self._one_writer_per_store()
        self.ensure_default()
        scope = self.principal.scope_id
        existing = self.session.scalars(select(Currency).where(Currency.scope_id == scope).with_for_update()).all()
        code = str(values["code"]).upper()
        if any(c.code == code for c in existing):
            raise BadRequest("the currency code is already configured", title="Currency already exists")
        if len(existing) >= MAX_CURRENCIES:
            raise ValidationFailed(f"a store has at most {MAX_CURRENCIES} currencies", title="Currency limit reached")
        self._check_default_rules(values["default"], values["enabled"], None)
        now = utcnow()
        currency = Currency(id=uuid.uuid4(), scope_id=scope, code=code, created_at=now, updated_at=now)
        self._assign(currency, values)
        if currency.is_default:
            for other in existing:
                other.is_default = False
        self.session.add(currency)
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise BadRequest("the currency code is already configured", title="Currency already exists") from exc
        events.record(self.session, self.principal, "currency.created", currency, currency.id, currency.scope_id)
        return currency

    def update(self, currency_id: str, values: dict[str, Any]) -> Currency:
        check_currency_values(values, creating=False)
        self._one_writer_per_store()
        currency = self.get(currency_id)
        if "code" in values and str(values["code"]).upper() != currency.code:
            raise ValidationFailed("data.code: the code of a currency cannot change")
        default = values.get("default", currency.is_default)
        enabled = values.get("enabled", currency.enabled)
        self._check_default_rules(default, enabled, currency)
        if default and not currency.is_default:
            others = self.session.scalars(
                select(Currency)
                .where(Currency.scope_id == currency.scope_id, Currency.pk != currency.pk)
                .with_for_update()
            ).all()
            for other in others:
                other.is_default = False
        self._assign(currency, values)
        currency.updated_at = utcnow()
        self.session.flush()
        events.record(self.session, self.principal, "currency.updated", currency, currency.id, currency.scope_id)
        return currency

    def delete(self, currency_id: str) -> None:
        self._one_writer_per_store()
        currency = self.get(currency_id)
        if currency.is_default:
            raise ValidationFailed("the default currency cannot be deleted")
        self.session.delete(currency)
        self.session.flush()
        events.record(self.session, self.principal, "currency.deleted", None, currency.id, currency.scope_id)

    @staticmethod
    def _check_default_rules(default: bool, enabled: bool, current: Currency | None) -> None:
        if default and not enabled:
            raise ValidationFailed("the default currency must be enabled")
        if current is not None and current.is_default and not default:
            raise ValidationFailed("make another currency the default instead")

    @staticmethod
    def _assign(currency: Currency, values: dict[str, Any]) -> None:
        for name in ("format", "decimal_point", "thousand_separator", "decimal_places", "enabled"):
            if name in values:
                setattr(currency, name, values[name])
        if "exchange_rate" in values:
            currency.exchange_rate = float(values["exchange_rate"])
        if "default" in values:
            currency.is_default = values["default"]
        if currency.thousand_separator is not None and currency.thousand_separator == currency.decimal_point:
            raise ValidationFailed("data.thousand_separator: must differ from decimal_point")


@dataclass
class PricebookService:
    session: Session
    principal: Principal

    def get(self, pricebook_id: str) -> Pricebook:
        parsed = parse_id(pricebook_id)
        book = None
        if parsed is not None:
            book = self.session.scalars(
                select(Pricebook).where(Pricebook.id == parsed, Pricebook.scope_id.in_(self.principal.visible_scopes))
            ).first()
        if book is None:
            raise NotFound(f"price book {pricebook_id} not found")
        return book

    def list_books(self, terms: tuple[Term, ...] | None, paging: Paging) -> Page[Pricebook]:
        query = select(Pricebook).where(Pricebook.scope_id.in_(self.principal.visible_scopes))
        if terms:
            query = query.where(sql_filters.compile_filter(terms, PRICEBOOK_FILTERS))
        return keyset_page(self.session, query, (Pricebook.created_at, Pricebook.id), paging)

    def create(self, attributes: dict[str, Any]) -> Pricebook:
        _only(attributes, {"name", "description", "external_ref"})
        name = attributes.get("name")
        if not isinstance(name, str) or not name or len(name) > 1000:
            raise ValidationFailed("data.attributes.name: must be a non-empty string")
        now = utcnow()
        book = Pricebook(id=uuid.uuid4(), scope_id=self.principal.scope_id, name=name, created_at=now, updated_at=now)
        self._assign(book, attributes)
        self.session.add(book)
        self._flush_unique(book)
        events.record(self.session, self.principal, "pricebook.created", book, book.id, book.scope_id)
        return book

    def update(self, pricebook_id: str, body_id: Any, attributes: dict[str, Any]) -> Pricebook:
        book = self.get(pricebook_id)
        self.principal.check_can_modify(book.scope_id)
        if body_id != pricebook_id:
            raise ValidationFailed("data.id: must match the price book id in the path")
        _only(attributes, {"name", "description", "external_ref"})
        name = attributes.get("name")
        if "name" in attributes and not (isinstance(name, str) and 0 < len(name) <= 1000):  # as on create
            raise ValidationFailed("data.attributes.name: must be a non-empty string")
        if not attributes:
            return book
        if "name" in attributes:
            book.name = attributes["name"]
        self._assign(book, attributes)
        book.updated_at = utcnow()
        self._flush_unique(book)
        events.record(self.session, self.principal, "pricebook.updated", book, book.id, book.scope_id)
        return book

    def delete(self, pricebook_id: str) -> None:
        book = self.get(pricebook_id)
        self.principal.check_can_modify(book.scope_id)
        self.session.execute(delete(Price).where(Price.pricebook_pk == book.pk))
        self.session.delete(book)
        self.session.flush()
        events.record(self.session, self.principal, "pricebook.deleted", None, book.id, book.scope_id)

    @staticmethod
    def _assign(book: Pricebook, attributes: dict[str, Any]) -> None:
        for name in ("description", "external_ref"):
            if name in attributes:
                value = attributes[name]
                if value is not None and (not isinstance(value, str) or len(value) > 2048):
                    raise ValidationFailed(f"data.attributes.{name}: must be a string of at most 2048 characters")
                setattr(book, name, value)
        book.external_ref_digest = digest(book.external_ref)

    def _flush_unique(self, book: Pricebook) -> None:
        same = Pricebook.name == book.name
        if book.external_ref_digest is not None:
            same = same | (Pricebook.external_ref_digest == book.external_ref_digest)
        clash = self.session.scalars(
            select(Pricebook).where(Pricebook.scope_id == book.scope_id, Pricebook.pk != (book.pk or -1), same)
        ).first()
        if clash is not None:
            field = "name" if clash.name == book.name else "external_ref"
            raise Conflict(f"a price book with this {field} already exists")
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise Conflict("a price book with this name or external_ref already exists") from exc


def _only(attributes: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(attributes) - allowed
    if unknown:
        raise ValidationFailed(f"data.attributes: unknown attributes {sorted(unknown)}")
    refuse_nul(attributes, "data.attributes")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul(value: Any, where: str) -> None:
    """No string anywhere in a body may hold a NUL character: PostgreSQL cannot store one (a 500 there,
    accepted on SQLite), so it is refused as invalid on every database, as the other resources do."""
    if _has_nul(value):
        raise ValidationFailed(f"{where}: strings must not contain NUL characters")


@dataclass
class PriceService:
    session: Session
    principal: Principal

    def _book(self, pricebook_id: str, *, writing: bool = False) -> Pricebook:
        book = PricebookService(self.session, self.principal).get(pricebook_id)
        if writing:
            self.principal.check_can_modify(book.scope_id)
        return book

    def get(self, pricebook_id: str, price_id: str) -> Price:
        book = self._book(pricebook_id)
        parsed = parse_id(price_id)
        price = None
        if parsed is not None:
            price = self.session.scalars(select(Price).where(Price.id == parsed, Price.pricebook_pk == book.pk)).first()
        if price is None:
            raise NotFound(f"price {price_id} not found in price book {pricebook_id}")
        return price

    def list_prices(self, pricebook_id: str | None, terms: tuple[Term, ...] | None, paging: Paging) -> Page[Price]:
        query = select(Price)
        if pricebook_id is not None:
            query = query.where(Price.pricebook_pk == self._book(pricebook_id).pk)
        else:
            visible = select(Pricebook.pk).where(Pricebook.scope_id.in_(self.principal.visible_scopes))
            query = query.where(Price.pricebook_pk.in_(visible))
        if terms:
            where: ColumnElement[bool] = sql_filters.compile_filter(terms, PRICE_FILTERS)
            query = query.where(where)
        return keyset_page(self.session, query, (Price.created_at, Price.id), paging)

    def book_of(self, price: Price) -> Pricebook:
        book = self.session.get(Pricebook, price.pricebook_pk)
        assert book is not None
        return book

    def create(self, pricebook_id: str, attributes: dict[str, Any]) -> Price:
        book = self._book(pricebook_id, writing=True)
        values = check_price_attributes(attributes, creating=True)
        now = utcnow()
        price = Price(id=uuid.uuid4(), pricebook_pk=book.pk, created_at=now, updated_at=now)
        _assign_price(price, values)
        self.session.add(price)
        self._flush_unique(price)
        events.record(self.session, self.principal, "price.created", (price, book), price.id, book.scope_id)
        return price

    def update(self, pricebook_id: str, price_id: str, body_id: Any, attributes: dict[str, Any]) -> Price:
        book = self._book(pricebook_id, writing=True)
        price = self.get(pricebook_id, price_id)
        if body_id != price_id:
            raise ValidationFailed("data.id: must match the price id in the path")
        if not attributes:
            return price
        values = check_price_attributes(attributes, creating=False, current=price)
        _assign_price(price, values)
        price.updated_at = utcnow()
        self._flush_unique(price)
        events.record(self.session, self.principal, "price.updated", (price, book), price.id, book.scope_id)
        return price

    def delete(self, pricebook_id: str, price_id: str) -> None:
        book = self._book(pricebook_id, writing=True)
        price = self.get(pricebook_id, price_id)
        self.session.delete(price)
        self.session.flush()
        events.record(self.session, self.principal, "price.deleted", None, price.id, book.scope_id)

    def _flush_unique(self, price: Price) -> None:
        same = Price.sku == price.sku
        if price.external_ref_digest is not None:
            same = same | (Price.external_ref_digest == price.external_ref_digest)
        clash = self.session.scalars(
            select(Price).where(Price.pricebook_pk == price.pricebook_pk, Price.pk != (price.pk or -1), same)
        ).first()
        if clash is not None:
            field = "sku" if clash.sku == price.sku else "external_ref"
            raise Conflict(f"a price with this {field} already exists in the price book")
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise Conflict("a price with this sku or external_ref already exists in the price book") from exc


def check_price_attributes(
    attributes: dict[str, Any], *, creating: bool, current: Price | None = None
) -> dict[str, Any]:
    """§9.3: returns the normalised values to store."""
    _only(attributes, PRICE_ATTRIBUTES)
    values: dict[str, Any] = {}
    if creating or "sku" in attributes:
        sku = attributes.get("sku")
        if not isinstance(sku, str) or not sku or len(sku) > 255:
            raise ValidationFailed("data.attributes.sku: must be a non-empty string")
        values["sku"] = sku
    tier_minimums: dict[str, int] = {}
    if creating or "currencies" in attributes:
        values["currencies"] = price_rules.check_currencies(
            attributes.get("currencies"), "data.attributes.currencies", tier_minimums
        )
        base_codes = set(values["currencies"])
    else:
        assert current is not None
        base_codes = set(current.currencies)
        for entry in current.currencies.values():
            for name, tier in (entry.get("tiers") or {}).items():
                tier_minimums[name] = tier["minimum_quantity"]
    if "sales" in attributes or (current is not None and "currencies" in attributes and current.sales):
        sales = attributes.get("sales", current.sales if current else None)
        values["sales"] = price_rules.check_sales(sales, base_codes, tier_minimums)
    if "external_ref" in attributes:
        ref = attributes["external_ref"]
        if ref is not None and (not isinstance(ref, str) or len(ref) > 2048):
            raise ValidationFailed("data.attributes.external_ref: must be a string of at most 2048 characters")
        values["external_ref"] = ref
    for name in ("admin_attributes", "shopper_attributes"):
        if name in attributes:
            value = attributes[name]
            if value is not None and (
                not isinstance(value, dict)
                or len(value) > 100
                or not all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items())
            ):
                raise ValidationFailed(f"data.attributes.{name}: at most 100 string values")
            values[name] = value
    return values


def _assign_price(price: Price, values: dict[str, Any]) -> None:
    for name in ("sku", "currencies", "sales", "external_ref"):
        if name in values:
            setattr(price, name, values[name])
    for name in ("admin_attributes", "shopper_attributes"):
        if name in values:
            setattr(price, name, merge_custom_attributes(getattr(price, name), values[name]))
    price.external_ref_digest = digest(price.external_ref)
