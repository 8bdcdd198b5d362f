"""Tables. Only repositories query them; services receive and return these objects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from assortment.db.types import JSONDocument, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Rows owned by the organization carry this scope; rows owned by a store carry the store's id.
ORGANIZATION_SCOPE = uuid.UUID(int=0)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class InstanceSecret(Base):
    """Per-installation secrets generated on first use (today: the token signing key)."""

    __tablename__ = "instance_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Store(Base):
    __tablename__ = "store"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    # NULL: an organization key.
    store_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid(), ForeignKey("store.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (
        UniqueConstraint("scope_id", "sku", name="uq_product_scope_sku"),
        UniqueConstraint("scope_id", "slug", name="uq_product_scope_slug"),
        # external_ref may be 2048 characters, too long for a btree entry: uniqueness is kept on its digest.
        UniqueConstraint("scope_id", "external_ref_digest", name="uq_product_scope_external_ref_digest"),
        CheckConstraint("status IN ('draft', 'live')", name="status"),
        CheckConstraint("commodity_type IN ('physical', 'digital')", name="commodity_type"),
        Index("ix_product_scope_created", "scope_id", "created_at", "id"),
    )

    # The integer surrogate doubles as the id of the v2 dialect.
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    slug: Mapped[str | None] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    commodity_type: Mapped[str] = mapped_column(String(16))
    upc_ean: Mapped[str | None] = mapped_column(String(255))
    mpn: Mapped[str | None] = mapped_column(String(255))
    external_ref: Mapped[str | None] = mapped_column(Text)
    external_ref_digest: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str] | None] = mapped_column(JSONDocument())
    locales: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def owner(self) -> str:
        return "organization" if self.scope_id == ORGANIZATION_SCOPE else "store"
