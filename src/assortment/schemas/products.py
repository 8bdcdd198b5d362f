"""Product request and response models (the response models document the API; rendering builds dicts)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictStr

from assortment.schemas.common import ListMeta, LocaleCode, PageLinks, RequestModel, Slug

Tag = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^[^\s,]+$")]
ShortText = Annotated[StrictStr, Field(max_length=255)]


class ProductLocale(RequestModel):
    name: Annotated[StrictStr, Field(min_length=1)]
    description: StrictStr | None = None


class ProductAttributes(RequestModel):
    """Every attribute is optional here: create checks the required ones, update applies what is sent."""

    name: Annotated[StrictStr, Field(min_length=1)] | None = None
    description: StrictStr | None = None
    slug: Slug | None = None
    sku: Annotated[StrictStr, Field(min_length=1, max_length=255)] | None = None
    status: Literal["draft", "live"] | None = None
    commodity_type: Literal["physical", "digital"] | None = None
    upc_ean: ShortText | None = None
    mpn: ShortText | None = None
    external_ref: Annotated[StrictStr, Field(max_length=2048)] | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    locales: dict[LocaleCode, ProductLocale] | None = None


class ProductCreateData(RequestModel):
    type: Literal["product"]
    attributes: ProductAttributes


class ProductCreateRequest(RequestModel):
    data: ProductCreateData


class ProductUpdateData(RequestModel):
    type: Literal["product"]
    id: StrictStr
    attributes: ProductAttributes = Field(default_factory=ProductAttributes)


class ProductUpdateRequest(RequestModel):
    data: ProductUpdateData


# --- responses (documentation) --------------------------------------------------------------------


class ProductMeta(BaseModel):
    created_at: str
    updated_at: str
    owner: Literal["store", "organization"]
    product_types: list[str]
    variation_matrix: dict[str, Any]
    custom_relationships: list[str] = []


class ProductResource(BaseModel):
    type: Literal["product"]
    id: str
    attributes: dict[str, Any]
    relationships: dict[str, Any]
    meta: ProductMeta


class ProductDocument(BaseModel):
    data: ProductResource


class ProductListDocument(BaseModel):
    data: list[ProductResource]
    links: PageLinks
    meta: ListMeta
