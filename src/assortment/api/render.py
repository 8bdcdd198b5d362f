"""Shared rendering helpers."""

from __future__ import annotations

from assortment.domain.formats import timestamp

__all__ = ["timestamp"]
