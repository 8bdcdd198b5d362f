"""Shared pieces of request and response models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

SLUG_PATTERN = r"^[A-Za-z0-9._-]+$"
LOCALE_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"

Slug = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=SLUG_PATTERN)]
LocaleCode = Annotated[str, Field(pattern=LOCALE_PATTERN, max_length=35)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(isinstance(v, str) and "\x00" in v for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or (isinstance(v, str) and "\x00" in v) for k, v in value.items())
    return False


class RequestModel(BaseModel):
    """Request bodies ignore attributes they do not know (clients send extra fields).

    No string may hold a NUL character: PostgreSQL cannot store one.
    """

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(_has_nul(k) or _has_nul(v) for k, v in data.items()):
            raise ValueError("strings must not contain NUL characters")
        return data


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
