"""Catalog rules and choosing the catalog a shopper sees (SPEC §5)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assortment.db import filters as sql_filters
from assortment.db.filters import FilterField, Kind, allow, parse_instant
from assortment.db.models import ORGANIZATION_SCOPE, Catalog, CatalogRule, Release
from assortment.db.repositories.common import keyset_page
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain.catalogs import CatalogService, check_pricebooks
from assortment.domain.filters import Term
from assortment.domain.paging import Page, Paging
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal
from assortment.errors import NotFound, ValidationFailed
from assortment.schemas.catalogs import RuleAttributes

LIST_FIELDS = ("account_ids", "account_tag_ids", "customer_ids", "channels", "tags")
CRITERIA = ("account_ids", "account_tag_ids", "customer_ids", "channels", "tags", "schedules")

RULE_FILTERS: dict[str, FilterField] = {
    "id": allow(CatalogRule.id, Kind.UUID, "eq in"),
    "catalog_id": allow(
        CatalogRule.catalog_pk,
        Kind.UUID,
        "eq",
        eq=lambda value: CatalogRule.catalog_pk.in_(
            select(Catalog.pk).where(Catalog.id == value).scalar_subquery()
        ),
    ),
    **{name: allow(getattr(CatalogRule, name), Kind.STRING_ARRAY, "eq in") for name in LIST_FIELDS},
}


@dataclass(frozen=True, slots=True)
class ShopperContext:
    """What a storefront request tells about its shopper."""

    channel: str | None = None
    tag: str | None = None
    customer_id: str | None = None
    account_id: str | None = None


def _schedule_holds(schedule: dict[str, Any], now: datetime) -> bool:
    start, end = schedule.get("valid_from"), schedule.get("valid_to")
    if start and parse_instant(start) > now:
        return False
    return not (end and parse_instant(end) <= now)


def rule_score(rule: CatalogRule, context: ShopperContext, now: datetime) -> int | None:
    """How many criteria the rule has, if every one of them accepts the context; None when one does not.
    An empty criterion accepts everything (and does not count)."""
    wanted: dict[str, str | None] = {
        "channels": context.channel,
        "tags": context.tag,
        "customer_ids": context.customer_id,
        "account_ids": context.account_id,
        "account_tag_ids": None,
    }
    score = 0
    for name, value in wanted.items():
        accepted = getattr(rule, name)
        if not accepted:
            continue
        if value is None or value not in accepted:
            return None
        score += 1
    if rule.schedules:
        if not any(_schedule_holds(s, now) for s in rule.schedules):
            return None
        score += 1
    return score


def choose_rule(rules: Sequence[CatalogRule], context: ShopperContext, now: datetime) -> CatalogRule | None:
    """The rule matching the most criteria; ties go to the rule created first."""
    best: tuple[int, CatalogRule] | None = None
    for rule in rules:  # in creation order
        score = rule_score(rule, context, now)
        if score is not None and (best is None or score > best[0]):
            best = (score, rule)
    return None if best is None else best[1]


def check_schedules(schedules: Sequence[dict[str, Any]]) -> None:
    for schedule in schedules:
        try:
            start = parse_instant(schedule["valid_from"]) if schedule.get("valid_from") else None
            end = parse_instant(schedule["valid_to"]) if schedule.get("valid_to") else None
        except ValueError as exc:
            raise ValidationFailed(
                "data.attributes.schedules: valid_from and valid_to must be ISO 8601 times"
            ) from exc
        if start and end and start >= end:
            raise ValidationFailed("data.attributes.schedules: valid_from must be before valid_to")


@dataclass
class CatalogRuleService:
    session: Session
    principal: Principal

    def get(self, rule_id: str) -> CatalogRule:
        parsed = parse_id(rule_id)
        rule = None
        if parsed is not None:
            rule = self.session.scalars(
                select(CatalogRule).where(
                    CatalogRule.id == parsed, CatalogRule.scope_id.in_(self.principal.visible_scopes)
                )
            ).first()
        if rule is None:
            raise NotFound(f"catalog rule {rule_id} not found")
        return rule

    def catalog_id_of(self, rule: CatalogRule) -> uuid.UUID:
        catalog = self.session.get(Catalog, rule.catalog_pk)
        assert catalog is not None
        return catalog.id

    def list_rules(self, terms: tuple[Term, ...] | None, paging: Paging) -> Page[CatalogRule]:
        query = select(CatalogRule).where(CatalogRule.scope_id.in_(self.principal.visible_scopes))
        if terms:
            query = query.where(sql_filters.compile_filter(terms, RULE_FILTERS))
        return keyset_page(self.session, query, (CatalogRule.created_at, CatalogRule.id), paging)

    def validate(self, attributes: RuleAttributes, *, creating: bool = True) -> Catalog | None:
        """Every check of create, without writing anything (also `POST /pcm/catalogs/rules/validate`)."""
        if creating:
            for name in ("name", "catalog_id"):
                if getattr(attributes, name) is None:
                    raise ValidationFailed(f"data.attributes.{name}: Field required")
        check_pricebooks(None, attributes.pricebook_ids)
        if attributes.schedules:
            check_schedules([s.model_dump() for s in attributes.schedules])
        if attributes.catalog_id is None:
            return None
        try:
            catalog = CatalogService(self.session, self.principal).get(attributes.catalog_id)
        except NotFound as exc:
            raise ValidationFailed(
                "data.attributes.catalog_id: catalog not found", meta={"missing_ids": [attributes.catalog_id]}
            ) from exc
        if catalog.scope_id == ORGANIZATION_SCOPE and not self.principal.is_organization:
            raise ValidationFailed("data.attributes.catalog_id: rules cannot choose organization catalogs")
        return catalog

    def create(self, attributes: RuleAttributes) -> CatalogRule:
        catalog = self.validate(attributes)
        assert catalog is not None and attributes.name is not None
        now = utcnow()
        rule = CatalogRule(
            id=uuid.uuid4(),
            scope_id=self.principal.scope_id,
            catalog_pk=catalog.pk,
            name=attributes.name,
            created_at=now,
            updated_at=now,
        )
        self._apply(rule, attributes)
        self.session.add(rule)
        self.session.flush()
        events.record(self.session, self.principal, "catalog-rule.created", (self, rule), rule.id, rule.scope_id)
        return rule

    def update(self, rule_id: str, body_id: str | None, attributes: RuleAttributes) -> CatalogRule:
        rule = self.get(rule_id)
        self.principal.check_can_modify(rule.scope_id)
        if body_id is not None and body_id != rule_id:
            raise ValidationFailed("data.id: must match the catalog rule id in the path")
        sent = attributes.model_fields_set
        for name in ("name", "catalog_id"):
            if name in sent and getattr(attributes, name) is None:
                raise ValidationFailed(f"data.attributes.{name}: can not be null")
        catalog = self.validate(attributes, creating=False)
        if not sent:
            return rule
        if catalog is not None:
            rule.catalog_pk = catalog.pk
        if attributes.name is not None:
            rule.name = attributes.name
        self._apply(rule, attributes)
        rule.updated_at = utcnow()
        self.session.flush()
        events.record(self.session, self.principal, "catalog-rule.updated", (self, rule), rule.id, rule.scope_id)
        return rule

    def delete(self, rule_id: str) -> None:
        rule = self.get(rule_id)
        self.principal.check_can_modify(rule.scope_id)
        self.session.delete(rule)
        self.session.flush()
        events.record(self.session, self.principal, "catalog-rule.deleted", None, rule.id, rule.scope_id)

    @staticmethod
    def _apply(rule: CatalogRule, attributes: RuleAttributes) -> None:
        sent = attributes.model_fields_set
        if "description" in sent:
            rule.description = attributes.description
        for name in LIST_FIELDS:
            if name in sent:
                values = getattr(attributes, name)
                setattr(rule, name, list(dict.fromkeys(values)) if values else None)
        if "schedules" in sent:
            rule.schedules = [s.model_dump(exclude_none=True) for s in attributes.schedules or []] or None
        if "pricebook_ids" in sent:
            entries = attributes.pricebook_ids
            rule.pricebook_ids = [{"id": e.id, "priority": e.priority} for e in entries] if entries else None

    # --- the shopper's catalog -----------------------------------------------------------------------------

    def shopper_catalog(self, context: ShopperContext) -> Catalog:
        """The catalog the best matching rule names; with no match, the oldest published catalog."""
        now = utcnow()
        rules = self.session.scalars(
            select(CatalogRule)
            .where(CatalogRule.scope_id.in_(self.principal.visible_scopes))
            .order_by(CatalogRule.created_at, CatalogRule.pk)
        ).all()
        chosen = choose_rule(rules, context, now)
        if chosen is not None:
            catalog = self.session.get(Catalog, chosen.catalog_pk)
            if catalog is not None:
                return catalog
        published = (
            select(Catalog)
            .where(
                Catalog.scope_id.in_(self.principal.visible_scopes),
                Catalog.pk.in_(select(Release.catalog_pk).where(Release.status == "PUBLISHED")),
            )
            .order_by(Catalog.created_at, Catalog.pk)
        )
        catalog = self.session.scalars(published).first()
        if catalog is None:
            raise NotFound("no published catalog")
        return catalog
