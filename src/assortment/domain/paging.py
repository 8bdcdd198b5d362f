"""Page requests and results, shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from assortment.domain.parsing import parse_integer
from assortment.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_OFFSET = 10_000


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def parse(cls, limit: str | None, offset: str | None) -> Paging:
        """page[limit] 1..100 (larger values are clamped), page[offset] 0..10000; anything else is 400."""
        parsed_limit = DEFAULT_LIMIT if limit is None else _parse_int("page[limit]", limit)
        parsed_offset = 0 if offset is None else _parse_int("page[offset]", offset)
        if parsed_limit < 1:
            raise BadRequest("page[limit] must be an integer of at least 1")
        if parsed_offset < 0 or parsed_offset > MAX_OFFSET:
            raise BadRequest(f"page[offset] must be an integer between 0 and {MAX_OFFSET}")
        return cls(limit=min(parsed_limit, MAX_LIMIT), offset=parsed_offset)


def _parse_int(name: str, raw: str) -> int:
    """ASCII digits with an optional minus sign ("²" and "٣" are not integers here, SPEC §12.5)."""
    text = raw.strip(" \t")
    value = parse_integer(text) if len(text) <= 12 and not text.startswith("+") else None
    if value is None:
        raise BadRequest(f"{name} must be an integer")
    return value


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    paging: Paging
