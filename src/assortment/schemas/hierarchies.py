"""Hierarchy, node and link request models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr

from assortment.schemas.common import LocaleCode, RequestModel, Slug

MAX_CURATED = 20
INT32 = 2**31 - 1

SortOrder = Annotated[StrictInt, Field(ge=-INT32, le=INT32)]
AttributeKey = Annotated[str, Field(min_length=1, max_length=255)]
CustomAttributes = Annotated[dict[AttributeKey, StrictStr | None], Field(max_length=100)]


class TreeLocale(RequestModel):
    name: StrictStr | None = None
    description: StrictStr | None = None


class HierarchyAttributes(RequestModel):
    name: Annotated[StrictStr, Field(min_length=1, max_length=1000)] | None = None
    description: StrictStr | None = None
    slug: Slug | None = None
    locales: dict[LocaleCode, TreeLocale] | None = None
    admin_attributes: CustomAttributes | None = None
    shopper_attributes: CustomAttributes | None = None


class HierarchyCreateData(RequestModel):
    type: Literal["hierarchy"]
    attributes: HierarchyAttributes


class HierarchyCreateRequest(RequestModel):
    data: HierarchyCreateData


class HierarchyUpdateData(RequestModel):
    type: Literal["hierarchy"]
    id: StrictStr
    attributes: HierarchyAttributes = Field(default_factory=HierarchyAttributes)


class HierarchyUpdateRequest(RequestModel):
    data: HierarchyUpdateData


class NodeAttributes(RequestModel):
    name: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None
    description: StrictStr | None = None
    slug: Slug | None = None
    curated_products: Annotated[list[StrictStr], Field(max_length=MAX_CURATED)] | None = None
    locales: dict[LocaleCode, TreeLocale] | None = None
    admin_attributes: CustomAttributes | None = None
    shopper_attributes: CustomAttributes | None = None


class NodeMeta(RequestModel):
    sort_order: SortOrder | None = None


class NodeIdentifier(RequestModel):
    type: Literal["node"]
    id: StrictStr


class ParentRelationship(RequestModel):
    data: NodeIdentifier


class NodeRelationships(RequestModel):
    parent: ParentRelationship | None = None


class NodeCreateData(RequestModel):
    type: Literal["node"]
    attributes: NodeAttributes
    relationships: NodeRelationships | None = None
    meta: NodeMeta | None = None


class NodeCreateRequest(RequestModel):
    data: NodeCreateData


class NodeUpdateData(RequestModel):
    type: Literal["node"]
    id: StrictStr
    attributes: NodeAttributes = Field(default_factory=NodeAttributes)
    meta: NodeMeta | None = None


class NodeUpdateRequest(RequestModel):
    data: NodeUpdateData


class ChildReference(RequestModel):
    type: Literal["node"]
    id: StrictStr
    meta: NodeMeta | None = None


class ChildrenRequest(RequestModel):
    data: Annotated[list[ChildReference], Field(min_length=1, max_length=1000)]


class ParentRequest(RequestModel):
    data: NodeIdentifier


class ProductReference(RequestModel):
    type: Literal["product"]
    id: StrictStr


class ProductReferencesRequest(RequestModel):
    data: Annotated[list[ProductReference], Field(max_length=10_000)]


class NodeSelection(RequestModel):
    filter: StrictStr
    node_ids: Annotated[list[StrictStr], Field(max_length=1000)]


class NodeSelectionRequest(RequestModel):
    data: NodeSelection


class DuplicateAttributes(RequestModel):
    name: Annotated[StrictStr, Field(min_length=1, max_length=1000)] | None = None
    description: StrictStr | None = None
    include_products: StrictBool = False


class DuplicateData(RequestModel):
    type: Literal["hierarchy"]
    attributes: DuplicateAttributes = Field(default_factory=DuplicateAttributes)


class DuplicateRequest(RequestModel):
    data: DuplicateData
