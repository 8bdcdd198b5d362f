"""Shared pieces of request and response models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

SLUG_PATTERN = r"^[A-Za-z0-9._-]+$"
LOCALE_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"

Slug = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=SLUG_PATTERN)]
LocaleCode = Annotated[str, Field(pattern=LOCALE_PATTERN, max_length=35)]


class RequestModel(BaseModel):
    """Request bodies ignore attributes they do not know (clients send extra fields)."""

    model_config = ConfigDict(extra="ignore")


class ErrorObject(BaseModel):
    status: str
    title: str
    detail: str | None = None
    request_id: str | None = None
    meta: dict[str, Any] | None = None


class ErrorDocument(BaseModel):
    errors: list[ErrorObject]


class PageLinks(BaseModel):
    current: str | None = None
    first: str | None = None
    last: str | None = None
    next: str | None = None
    prev: str | None = None


class ResultsMeta(BaseModel):
    total: int


class ListMeta(BaseModel):
    results: ResultsMeta
