"""Error responses as they appear in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from assortment.schemas.common import ErrorDocument

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorDocument, "description": description}
    for status, description in {
        400: "Bad request: malformed JSON, filter or paging parameters",
        401: "Missing, malformed, tampered or expired token",
        403: "Token not allowed here, or the entity is owned by the organization",
        404: "A resource named in the path does not exist",
        409: "Write conflict detected",
        413: "Request body too large",
        422: "The body failed validation",
    }.items()
}
