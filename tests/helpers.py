"""Small builders and assertions shared by the tests."""

from __future__ import annotations

from typing import Any

# The scheme and host TestClient requests carry: catalog-service paging links start with it (SPEC §0.2).
ORIGIN = "http://testserver"


def product_body(**attributes: Any) -> dict[str, Any]:
    values = {"name": "A product", "commodity_type": "physical", **attributes}
    return {"data": {"type": "product", "attributes": values}}


def errors_of(response: Any) -> list[dict[str, Any]]:
    """The error objects of a response, after checking the error body's shape."""
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"], body
    for error in body["errors"]:
        assert error["status"] == str(response.status_code)
        assert error["title"]
    errors: list[dict[str, Any]] = body["errors"]
    return errors
