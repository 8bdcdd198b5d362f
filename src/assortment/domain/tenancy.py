"""Who is calling, and what they may see and change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from assortment.db.models import ORGANIZATION_SCOPE
from assortment.errors import ORGANIZATION_OWNED, Forbidden

Grant = Literal["client_credentials", "implicit"]


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: uuid.UUID
    store_id: uuid.UUID | None  # None: an organization key
    grant: Grant
    actor: str = "key"  # who acts, as events name it: an API key, or a workbench "user"

    @property
    def is_organization(self) -> bool:
        return self.store_id is None

    @property
    def scope_id(self) -> uuid.UUID:
        """The scope that rows created by this caller belong to."""
        return ORGANIZATION_SCOPE if self.store_id is None else self.store_id

    @property
    def visible_scopes(self) -> tuple[uuid.UUID, ...]:
        """A store sees its own rows and the organization's; the organization sees its own."""
        if self.store_id is None:
            return (ORGANIZATION_SCOPE,)
        return (self.store_id, ORGANIZATION_SCOPE)

    @property
    def owner(self) -> str:
        return "organization" if self.store_id is None else "store"

    def check_can_modify(self, row_scope: uuid.UUID) -> None:
        """Store callers may read organization rows but never change them."""
        if row_scope != self.scope_id:
            raise Forbidden(ORGANIZATION_OWNED)


def owner_of(scope_id: uuid.UUID) -> str:
    return "organization" if scope_id == ORGANIZATION_SCOPE else "store"
