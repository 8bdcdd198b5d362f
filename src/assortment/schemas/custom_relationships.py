"""Custom relationship request models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictStr

from assortment.schemas.common import RequestModel, Slug
from assortment.schemas.hierarchies import SortOrder


class CustomRelationshipAttributes(RequestModel):
    name: Annotated[StrictStr, Field(min_length=1, max_length=1000)] | None = None
    description: StrictStr | None = None
    slug: Slug | None = None
    sort_order: SortOrder | None = None
    external_name: StrictStr | None = None
    external_description: StrictStr | None = None
    bi_directional: StrictBool | None = None


class CustomRelationshipCreateData(RequestModel):
    type: Literal["custom-relationship"]
    attributes: CustomRelationshipAttributes


class CustomRelationshipCreateRequest(RequestModel):
    data: CustomRelationshipCreateData


class CustomRelationshipUpdateData(RequestModel):
    type: Literal["custom-relationship"]
    id: StrictStr
    attributes: CustomRelationshipAttributes = Field(default_factory=CustomRelationshipAttributes)


class CustomRelationshipUpdateRequest(RequestModel):
    data: CustomRelationshipUpdateData


class SlugReference(RequestModel):
    type: Literal["custom-relationship"]
    slug: StrictStr


class SlugReferencesRequest(RequestModel):
    data: Annotated[list[SlugReference], Field(min_length=1, max_length=100)]


class AssociationAttributes(RequestModel):
    sort_order: SortOrder | None = None


class AssociationItem(RequestModel):
    type: Literal["product"]
    id: StrictStr
    attributes: AssociationAttributes | None = None


class AssociateRequest(RequestModel):
    data: Annotated[list[AssociationItem], Field(min_length=1, max_length=5000)]


class DissociationItem(RequestModel):
    type: Literal["product"]
    id: StrictStr


class DissociateRequest(RequestModel):
    data: Annotated[list[DissociationItem], Field(max_length=5000)]
