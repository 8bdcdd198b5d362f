"""Formats shared by every rendering (API responses and documents stored at publish)."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2024-01-10T20:16:35.343Z."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
