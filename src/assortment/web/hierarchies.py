"""Workbench hierarchies and nodes (the tree, moves, node products)."""

from __future__ import annotations

from fastapi import APIRouter

from assortment.web.core import WebRoute

router = APIRouter(prefix="/admin/hierarchies", include_in_schema=False, route_class=WebRoute)
