"""Domain errors. They know nothing about HTTP: `api/errors.py` maps each class to a status code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    """Base class of every error a service may raise on purpose."""

    def __init__(
        self, detail: str | None = None, *, meta: dict[str, Any] | None = None, title: str | None = None
    ) -> None:
        super().__init__(detail or self.__class__.__name__)
        self.detail = detail
        self.meta = meta
        self.title = title  # replaces the status's usual title where an API names a specific one


class BadRequest(DomainError):
    """The request itself cannot be understood (bad filter, bad paging parameters, malformed JSON)."""


class Unauthenticated(DomainError):
    """No credentials, or credentials that cannot be validated."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class NotFound(DomainError):
    """A resource named in the path does not exist or is not visible to the caller."""


class Conflict(DomainError):
    """A concurrent change to the same entity won; the client should re-read and retry."""


class ValidationFailed(DomainError):
    """The body is well formed but breaks a rule (types, required fields, uniqueness, limits)."""


class MissingReferences(ValidationFailed):
    """The body names ids that do not exist."""

    def __init__(self, detail: str, missing_ids: Sequence[str]) -> None:
        super().__init__(detail, meta={"missing_ids": list(missing_ids)})


class PayloadTooLarge(DomainError):
    """The request body is larger than the server accepts."""


ORGANIZATION_OWNED = "entity owned by organization"
WRITE_CONFLICT = "write conflict detected"


def describe_validation_problems(problems: Sequence[Any]) -> list[str]:
    """The details of a failed body validation, one per problem (at most 20), as the API words them:
    `data.attributes.name: String should have at least 1 character`."""
    details = []
    for problem in problems[:20]:
        parts = [str(p) for p in problem.get("loc", ()) if p != "body"]
        where = ".".join(parts) if parts else "body"
        message = str(problem.get("msg", "is invalid"))
        if problem.get("type") == "missing" and where == "body":
            message = "a JSON body with a data member is required"
        details.append(f"{where}: {message}")
    return details
