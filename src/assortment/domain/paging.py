"""Page requests and results, shared by every list endpoint.

Two ways to ask for a page (SPEC §0.2, §10.4):

- by offset: `page[offset]` (at most 10,000) and `page[limit]`; the page knows the total;
- by cursor: `page[after]` and `page[limit]`. A cursor is the position of the last item of the page before
  (the values of the list's sort key for that item, its unique tiebreaker last), so the next page is the
  items strictly after it in the list's order: a keyset seek, as cheap 1,000 pages deep as on the first
  page, and blind to items inserted or deleted elsewhere in the list meanwhile. Cursors are opaque to
  clients: the position, signed (HMAC) together with the request it was issued for (path and every query
  parameter but the paging ones), so a cursor this server did not write, or one written for another list,
  filter or sort, is refused with 400 `invalid page[after] cursor`.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeAlias, TypeVar

import orjson

from assortment.domain.parsing import parse_integer
from assortment.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_OFFSET = 10_000
INVALID_CURSOR = "invalid page[after] cursor"
AFTER_WITH_OFFSET = "page[after] and page[offset] can not be used together"

# Where a page starts in cursor mode: the sort-key values of the item before it (empty: the list's start).
Position: TypeAlias = tuple[Any, ...]
START: Position = ()


@dataclass(frozen=True, slots=True)
class Cursors:
    """Writes and reads the cursors of one request: signed with the server's key, bound to the list it
    pages (`binding`: the path and the query parameters that choose and order the items)."""

    key: bytes
    binding: str

    @classmethod
    def for_request(cls, secret: str, path: str, params: Sequence[tuple[str, str]]) -> Cursors:
        chosen = sorted((name, value) for name, value in params if not name.startswith("page["))
        binding = path + "?" + "&".join(f"{len(n)}:{n}={len(v)}:{v}" for n, v in chosen)
        return cls(hashlib.sha256(b"assortment page[after]\x00" + secret.encode()).digest(), binding)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.key, self.binding.encode() + b"\x00" + payload, hashlib.sha256).digest()[:12]

    def encode(self, position: Position) -> str:
        payload = orjson.dumps([_plain(value) for value in position])
        return _b64(payload) + "." + _b64(self._mac(payload))

    def decode(self, cursor: str) -> Position:
        """The position a cursor names; `""` is the start; anything not written by `encode` for this same
        binding is 400."""
        if cursor == "":
            return START
        payload_text, _, mac_text = cursor.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except ValueError:
            raise BadRequest(INVALID_CURSOR) from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise BadRequest(INVALID_CURSOR)
        try:
            values = orjson.loads(payload)
            if not isinstance(values, list) or not values:
                raise ValueError(values)
            return tuple(_typed(value) for value in values)
        except (ValueError, TypeError, orjson.JSONDecodeError):
            raise BadRequest(INVALID_CURSOR) from None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or not text.isascii() or not text.replace("-", "").replace("_", "").isalnum():
        raise ValueError(text)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _plain(value: Any) -> Any:
    """A sort-key value as JSON: timestamps and UUIDs tagged, so they come back as what they were."""
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": value.hex}
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"a sort key value of type {type(value).__name__} can not be in a cursor")


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"t"}:
            return datetime.fromisoformat(value["t"])
        if value.keys() == {"u"}:
            return uuid.UUID(hex=value["u"])
        raise ValueError(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    raise ValueError(value)


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    # Cursor mode: the position the page starts after (START: the beginning), and the request's cursors.
    after: Position | None = None
    cursors: Cursors | None = None

    @property
    def by_cursor(self) -> bool:
        return self.after is not None

    @classmethod
    def parse(
        cls, limit: str | None, offset: str | None, after: str | None = None, cursors: Cursors | None = None
    ) -> Paging:
        """page[limit] 1..100 (larger values are clamped), page[offset] 0..10000; anything else is 400.
        With `after` (page[after], SPEC §10.4): cursor mode, read with `cursors`; with page[offset] too, 400."""
        parsed_limit = DEFAULT_LIMIT if limit is None else _parse_int("page[limit]", limit)
        if parsed_limit < 1:
            raise BadRequest("page[limit] must be an integer of at least 1")
        if after is not None:
            if offset is not None:
                raise BadRequest(AFTER_WITH_OFFSET)
            if cursors is None:
                raise BadRequest(INVALID_CURSOR)
            return cls(limit=min(parsed_limit, MAX_LIMIT), after=cursors.decode(after), cursors=cursors)
        parsed_offset = 0 if offset is None else _parse_int("page[offset]", offset)
        if parsed_offset < 0 or parsed_offset > MAX_OFFSET:
            raise BadRequest(f"page[offset] must be an integer between 0 and {MAX_OFFSET}")
        return cls(limit=min(parsed_limit, MAX_LIMIT), offset=parsed_offset)

    def check(self, position: Position, width: int) -> Position:
        """A decoded position, checked to have as many values as the list's sort key (a cursor of another
        list signed for this one cannot be made, but a list whose order changed between releases of the
        server could meet an old one)."""
        if position and len(position) != width:
            raise BadRequest(INVALID_CURSOR)
        return position


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
    total: int  # offset mode only: in cursor mode lists do not count (SPEC §10.4), and it is 0
    paging: Paging
    # Cursor mode: the position of the page's last item when more items follow (None: the last page).
    next: Position | None = None

    def map(self, convert: Callable[[list[T]], list[Any]]) -> Page[Any]:
        """The same page with its items converted (the list's position travels with it)."""
        return Page(convert(self.items), self.total, self.paging, self.next)


def page_of_sorted(items: Sequence[T], key: Callable[[T], Position], paging: Paging) -> Page[T]:
    """A page of a list held in memory, already in its order, `key` giving each item's position as a tuple
    that ascends along the list (unique per item)."""
    if paging.after is None:
        return Page(list(items[paging.offset : paging.offset + paging.limit]), len(items), paging)
    start = 0
    if paging.after:
        keys = [key(item) for item in items]
        width = len(keys[0]) if keys else len(paging.after)
        try:
            start = bisect.bisect_right(keys, paging.check(paging.after, width))
        except TypeError:  # values of other types than this list's keys
            raise BadRequest(INVALID_CURSOR) from None
    chosen = list(items[start : start + paging.limit])
    more = start + paging.limit < len(items)
    return Page(chosen, 0, paging, key(chosen[-1]) if more and chosen else None)
