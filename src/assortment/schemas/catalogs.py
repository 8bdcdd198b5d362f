"""Catalog, release and catalog rule request models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr

from assortment.schemas.common import LocaleCode, RequestModel
from assortment.schemas.hierarchies import TreeLocale

INT32 = 2**31 - 1


class PricebookPriority(RequestModel):
    id: StrictStr
    priority: Annotated[StrictInt, Field(ge=-INT32, le=INT32)]


class CatalogAttributes(RequestModel):
    name: Annotated[StrictStr, Field(min_length=1, max_length=1000)] | None = None
    description: StrictStr | None = None
    hierarchy_ids: Annotated[list[StrictStr], Field(max_length=1000)] | None = None
    pricebook_id: StrictStr | None = None
    pricebook_ids: Annotated[list[PricebookPriority], Field(max_length=5)] | None = None
    locales: dict[LocaleCode, TreeLocale] | None = None
    enable_price_segmentation: StrictBool | None = None


class CatalogCreateData(RequestModel):
    type: Literal["catalog"]
    attributes: CatalogAttributes


class CatalogCreateRequest(RequestModel):
    data: CatalogCreateData


class CatalogUpdateData(RequestModel):
    type: Literal["catalog"]
    id: StrictStr | None = None
    attributes: CatalogAttributes = Field(default_factory=CatalogAttributes)


class CatalogUpdateRequest(RequestModel):
    data: CatalogUpdateData


class PublishOptions(RequestModel):
    export_full_delta: StrictBool = False
    include_organization_resources: StrictBool | None = None


class PublishRequest(RequestModel):
    data: PublishOptions = Field(default_factory=PublishOptions)


class Schedule(RequestModel):
    valid_from: StrictStr | None = None
    valid_to: StrictStr | None = None


IdList = Annotated[list[StrictStr], Field(max_length=100)]


class RuleAttributes(RequestModel):
    name: Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^\S+$")] | None = None
    description: StrictStr | None = None
    catalog_id: StrictStr | None = None
    account_ids: IdList | None = None
    account_tag_ids: IdList | None = None
    customer_ids: IdList | None = None
    channels: IdList | None = None
    tags: IdList | None = None
    schedules: Annotated[list[Schedule], Field(max_length=100)] | None = None
    pricebook_ids: Annotated[list[PricebookPriority], Field(max_length=5)] | None = None


class RuleCreateData(RequestModel):
    type: Literal["catalog_rule"]
    attributes: RuleAttributes


class RuleCreateRequest(RequestModel):
    data: RuleCreateData


class RuleUpdateData(RequestModel):
    type: Literal["catalog_rule"]
    id: StrictStr | None = None
    attributes: RuleAttributes = Field(default_factory=RuleAttributes)


class RuleUpdateRequest(RequestModel):
    data: RuleUpdateData
