"""Formats shared by every rendering (API responses and documents stored at publish)."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2024-01-10T20:16:35.343Z."""
    value = value.astimezone(UTC)
    # The year by hand: strftime's %Y does not pad years before 1000 on glibc ("999-06-01T…").
    return f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
