"""Formats shared by every rendering (API responses and documents stored at publish)."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2024-01-10T20:16:35.343Z."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # Field by field rather than strftime: several times faster (a publish writes hundreds of thousands),
    # and %Y does not pad years before 1000 on glibc.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )
