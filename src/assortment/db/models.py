"""Tables. Only repositories query them; services receive and return these objects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
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


class ProductCount(Base):
    """How many products each scope owns: derived, kept by triggers on `product`, so that an unfiltered
    product list's total is a lookup, not a count. On SQLite the row is the count, kept in the writing
    transaction (migration e5b7c3d9f104); on PostgreSQL it is the folded base, and the count is the base plus
    the scope's `ProductCountDelta` rows, read in one statement (migration cc89063b9cfe says why)."""

    __tablename__ = "product_count"

    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    products: Mapped[int] = mapped_column(Integer)


class ProductCountDelta(Base):
    """A change to a scope's product count not yet folded into `ProductCount` (PostgreSQL; empty on SQLite):
    appended by the triggers of a product write that could not take the scope's fold lock without waiting,
    deleted when a later write folds it (migration cc89063b9cfe)."""

    __tablename__ = "product_count_delta"
    __table_args__ = (Index("ix_product_count_delta_scope", "scope_id"),)

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    products: Mapped[int] = mapped_column(Integer)


class Hierarchy(Base):
    __tablename__ = "hierarchy"
    __table_args__ = (Index("ix_hierarchy_scope_created", "scope_id", "created_at", "id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    slug: Mapped[str | None] = mapped_column(String(255))
    locales: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    admin_attributes: Mapped[dict[str, str] | None] = mapped_column(JSONDocument())
    shopper_attributes: Mapped[dict[str, str] | None] = mapped_column(JSONDocument())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def owner(self) -> str:
        return "organization" if self.scope_id == ORGANIZATION_SCOPE else "store"


class Node(Base):
    """A node of a hierarchy: an adjacency list, `parent_pk` NULL for top-level nodes.

    Sibling names and slugs are unique: among the children of one parent, and among the top-level
    nodes of one hierarchy (two partial unique indexes each, since NULL parents never collide).
    """

    __tablename__ = "node"
    __table_args__ = (
        Index(
            "uq_node_parent_slug",
            "parent_pk",
            "slug",
            unique=True,
            sqlite_where=text("parent_pk IS NOT NULL"),
            postgresql_where=text("parent_pk IS NOT NULL"),
        ),
        Index(
            "uq_node_parent_name",
            "parent_pk",
            "name",
            unique=True,
            sqlite_where=text("parent_pk IS NOT NULL"),
            postgresql_where=text("parent_pk IS NOT NULL"),
        ),
        Index(
            "uq_node_top_slug",
            "hierarchy_pk",
            "slug",
            unique=True,
            sqlite_where=text("parent_pk IS NULL"),
            postgresql_where=text("parent_pk IS NULL"),
        ),
        Index(
            "uq_node_top_name",
            "hierarchy_pk",
            "name",
            unique=True,
            sqlite_where=text("parent_pk IS NULL"),
            postgresql_where=text("parent_pk IS NULL"),
        ),
        Index("ix_node_hierarchy_created", "hierarchy_pk", "created_at", "id"),
        Index("ix_node_scope_created", "scope_id", "created_at", "id"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    hierarchy_pk: Mapped[int] = mapped_column(ForeignKey("hierarchy.pk", ondelete="CASCADE"))
    parent_pk: Mapped[int | None] = mapped_column(ForeignKey("node.pk", ondelete="CASCADE"), index=True)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    name: Mapped[str] = mapped_column(String(512))
    description: Mapped[str | None] = mapped_column(Text)
    slug: Mapped[str | None] = mapped_column(String(255))
    locales: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    admin_attributes: Mapped[dict[str, str] | None] = mapped_column(JSONDocument())
    shopper_attributes: Mapped[dict[str, str] | None] = mapped_column(JSONDocument())
    # Ids (strings) of linked products in display order, at most 20.
    curated_products: Mapped[list[str] | None] = mapped_column(JSONDocument())
    sort_order: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def owner(self) -> str:
        return "organization" if self.scope_id == ORGANIZATION_SCOPE else "store"


class NodeProduct(Base):
    """A product linked to a node."""

    __tablename__ = "node_product"

    node_pk: Mapped[int] = mapped_column(ForeignKey("node.pk", ondelete="CASCADE"), primary_key=True)
    product_pk: Mapped[int] = mapped_column(ForeignKey("product.pk", ondelete="CASCADE"), primary_key=True, index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Job(Base):
    """Background work the API reports on (today: hierarchy duplication, run synchronously)."""

    __tablename__ = "pim_job"
    __table_args__ = (Index("ix_pim_job_scope_created", "scope_id", "created_at", "id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    errors: Mapped[list[str] | None] = mapped_column(JSONDocument())
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomRelationship(Base):
    """A kind of product-to-product relationship (cross-sell, up-sell…), addressed by its slug.

    Its integer `pk` is the relationship id of the v2 dialect, and the slug without `CRP_` its code.
    """

    __tablename__ = "custom_relationship"
    __table_args__ = (
        UniqueConstraint("scope_id", "slug", name="uq_custom_relationship_scope_slug"),
        Index("ix_custom_relationship_scope_created", "scope_id", "created_at", "id"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    slug: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    sort_order: Mapped[int | None] = mapped_column(Integer)
    external_name: Mapped[str | None] = mapped_column(Text)
    external_description: Mapped[str | None] = mapped_column(Text)
    bi_directional: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def owner(self) -> str:
        return "organization" if self.scope_id == ORGANIZATION_SCOPE else "store"


class ProductRelationshipSlot(Base):
    """A custom relationship attached to a product (at most five per product)."""

    __tablename__ = "product_custom_relationship"

    product_pk: Mapped[int] = mapped_column(ForeignKey("product.pk", ondelete="CASCADE"), primary_key=True)
    relationship_pk: Mapped[int] = mapped_column(
        ForeignKey("custom_relationship.pk", ondelete="RESTRICT"), primary_key=True, index=True
    )
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Association(Base):
    """One directed edge source → target under a custom relationship.

    A bi-directional relationship stores both directions, written in the same transaction. The integer
    `pk` is the product_relationship id of the v2 dialect; `status` is that dialect's flag (inactive
    edges are hidden from the PXM views and from releases).
    """

    __tablename__ = "association"
    __table_args__ = (
        UniqueConstraint("source_pk", "relationship_pk", "target_pk", name="uq_association_edge"),
        Index("ix_association_target", "target_pk", "relationship_pk"),
        Index("ix_association_relationship", "relationship_pk"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_pk: Mapped[int] = mapped_column(ForeignKey("product.pk", ondelete="CASCADE"))
    relationship_pk: Mapped[int] = mapped_column(ForeignKey("custom_relationship.pk", ondelete="RESTRICT"))
    target_pk: Mapped[int] = mapped_column(ForeignKey("product.pk", ondelete="CASCADE"))
    sort_order: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Catalog(Base):
    __tablename__ = "catalog"
    __table_args__ = (Index("ix_catalog_scope_created", "scope_id", "created_at", "id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    # Hierarchy ids (strings) in display order. Ids of hierarchies deleted since stay listed.
    hierarchy_ids: Mapped[list[str]] = mapped_column(JSONDocument())
    pricebook_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    pricebook_ids: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument())
    locales: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    enable_price_segmentation: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Raised by one in the transaction of every write that changes which release `latest` names (publish,
    # release deletes): every process compares it with the value it resolved `latest` at (SPEC §12.4).
    release_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The release `latest`, `latestPublished` and the shopper view name (SPEC §10.2): set by publish, restore
    # and release deletes (with `release_version`); NULL when the catalog has no release. A plain column, not a
    # foreign key: the two tables would name each other.
    latest_release_pk: Mapped[int | None] = mapped_column(Integer)

    @property
    def owner(self) -> str:
        return "organization" if self.scope_id == ORGANIZATION_SCOPE else "store"


class CatalogRule(Base):
    """Chooses which catalog a shopper sees, by channel, tag, account, customer and schedule."""

    __tablename__ = "catalog_rule"
    __table_args__ = (Index("ix_catalog_rule_scope_created", "scope_id", "created_at", "id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    catalog_pk: Mapped[int] = mapped_column(ForeignKey("catalog.pk", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    account_ids: Mapped[list[str] | None] = mapped_column(JSONDocument())
    account_tag_ids: Mapped[list[str] | None] = mapped_column(JSONDocument())
    customer_ids: Mapped[list[str] | None] = mapped_column(JSONDocument())
    channels: Mapped[list[str] | None] = mapped_column(JSONDocument())
    tags: Mapped[list[str] | None] = mapped_column(JSONDocument())
    schedules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument())
    pricebook_ids: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Release(Base):
    """A published, immutable snapshot of a catalog. Written in one transaction with all its rows."""

    __tablename__ = "catalog_release"
    __table_args__ = (Index("ix_catalog_release_catalog", "catalog_pk", "pk"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    catalog_pk: Mapped[int] = mapped_column(ForeignKey("catalog.pk", ondelete="RESTRICT"))
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    status: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    hierarchies: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument())
    pricebook_ids: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument())
    is_full_publish: Mapped[bool] = mapped_column(Boolean, default=True)
    is_full_delta: Mapped[bool] = mapped_column(Boolean, default=True)
    price_segmentation_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    total_products: Mapped[int] = mapped_column(Integer, default=0)
    total_nodes: Mapped[int] = mapped_column(Integer, default=0)
    # The enabled currencies at publish: [{code, format, decimal_point, thousand_separator, decimal_places,
    # default}], the default one first.
    currencies: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument())
    # [{delta_type, id, type}] as JSON bytes: products created/updated or deleted since the previous release.
    delta: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The release that was latest when this one was published: the default base of its delta and of its
    # `changes` (SPEC §10.1). Kept as an id: that release may be deleted since.
    base_release_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def owner(self) -> str:
        return "organization" if self.scope_id == ORGANIZATION_SCOPE else "store"


class ReleaseHierarchy(Base):
    __tablename__ = "release_hierarchy"

    release_pk: Mapped[int] = mapped_column(ForeignKey("catalog_release.pk", ondelete="CASCADE"), primary_key=True)
    hierarchy_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    slug: Mapped[str | None] = mapped_column(String(255))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    # The distinct products of its nodes, in the release's product order, as their `ReleaseProduct.position`s
    # (little-endian 32-bit integers, 4 bytes each): a page of every product of the hierarchy is a slice of it
    # and a lookup of those positions, not a pass over all the hierarchy's node links; its length / 4 is their
    # number. Written by publish; NULL in releases published before, whose hierarchy products are found from
    # the links. PostgreSQL stores it uncompressed (STORAGE EXTERNAL), so a slice reads only its own chunks.
    product_positions: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class ReleaseNode(Base):
    """A node as published. `child_position` is its place among its siblings in the §2.4 order;
    `parent_id` is NULL for top-level nodes."""

    __tablename__ = "release_node"
    __table_args__ = (
        Index("ix_release_node_parent", "release_pk", "parent_id", "child_position"),
        Index("ix_release_node_hierarchy", "release_pk", "hierarchy_id", "position"),
    )

    release_pk: Mapped[int] = mapped_column(ForeignKey("catalog_release.pk", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    hierarchy_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    position: Mapped[int] = mapped_column(Integer)
    child_position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(512))
    slug: Mapped[str | None] = mapped_column(String(255))
    product_count: Mapped[int] = mapped_column(Integer, default=0)
    document: Mapped[bytes] = mapped_column(LargeBinary)


# The big tables of a release (its products, node -> product order, related products, digests) name their
# release without a foreign key: a publish writes hundreds of thousands of their rows, and PostgreSQL checks a
# foreign key row by row (a lookup and a lock of the release row each: a quarter of a 10k-product publish).
# Their rows are written only by publish, in the transaction that creates the release, and deleted only with
# it (repositories/releases.py `delete_releases`, children first); `assortment check` reports rows whose
# release does not exist (repositories/integrity.py RELEASE_ROWS).
class ReleaseProduct(Base):
    """A live product as published, with its document rendered once at publish time."""

    __tablename__ = "release_product"
    __table_args__ = (Index("ix_release_product_position", "release_pk", "position"),)

    release_pk: Mapped[int] = mapped_column(Integer, primary_key=True)  # no foreign key: see ReleaseProduct
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    sku: Mapped[str | None] = mapped_column(String(255))
    slug: Mapped[str | None] = mapped_column(String(255))
    upc_ean: Mapped[str | None] = mapped_column(String(255))
    mpn: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[list[str] | None] = mapped_column(JSONDocument())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    document: Mapped[bytes] = mapped_column(LargeBinary)
    # The winning price copied at publish ({pricebook_id, currencies, sales}); the price fields of the
    # document are computed from it at read time (the active sale depends on the time of the request).
    price: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A digest of everything the row was rendered from (the product's version, its node links and their
    # bread crumbs, its custom relationships, its winning price's version): the next publish copies the row
    # when its digest is the same (SPEC §10.3). NULL in releases published before it existed: never copied.
    inputs: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The price's additions to the document rendered at publish for every display currency of the release
    # (`release_render.price_parts`): NULL when the price has sales, or there is no price (issue 17).
    price_parts: Mapped[bytes | None] = mapped_column(LargeBinary)


class ReleaseNodeProduct(Base):
    """The products of a node in display order: curated ones first, then the most recently updated."""

    __tablename__ = "release_node_product"

    release_pk: Mapped[int] = mapped_column(Integer, primary_key=True)  # no foreign key: see ReleaseProduct
    node_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    curated: Mapped[bool] = mapped_column(Boolean, default=False)


class ReleaseRelated(Base):
    """Associations whose both ends are in the release, in display order per source and slug."""

    __tablename__ = "release_related"

    release_pk: Mapped[int] = mapped_column(Integer, primary_key=True)  # no foreign key: see ReleaseProduct
    source_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    slug: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[uuid.UUID] = mapped_column(Uuid())


class ReleaseDigest(Base):
    """What a release serves of each of its hierarchies, nodes and products, as a digest
    (domain/release_digests.py), in a narrow table of its own: comparing two releases reads these rows only
    (SPEC §10.1). Releases published before this table existed have none."""

    __tablename__ = "release_digest"
    # SQLite keeps the rows in the primary key's b-tree: a range of it is one release's digests of one type.
    __table_args__ = {"sqlite_with_rowid": False}

    release_pk: Mapped[int] = mapped_column(Integer, primary_key=True)  # no foreign key: see ReleaseProduct
    entity_type: Mapped[str] = mapped_column(String(16), primary_key=True)  # hierarchy | node | product
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary)


class ReleaseComparison(Base):
    """Two releases of a catalog compared once (SPEC §10.1): neither ever changes, so neither does what one
    serves differently from the other. The pair's `ReleaseChange` rows are complete when this row exists;
    both go when either release goes."""

    __tablename__ = "release_comparison"

    release_pk: Mapped[int] = mapped_column(ForeignKey("catalog_release.pk", ondelete="CASCADE"), primary_key=True)
    base_pk: Mapped[int] = mapped_column(
        ForeignKey("catalog_release.pk", ondelete="CASCADE"), primary_key=True, index=True
    )
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[int] = mapped_column(Integer)
    compared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReleaseChange(Base):
    """One entity a release serves differently from its base (created, updated or deleted), of a stored
    comparison (`ReleaseComparison`)."""

    __tablename__ = "release_change"
    __table_args__ = (
        ForeignKeyConstraint(
            ["release_pk", "base_pk"],
            ["release_comparison.release_pk", "release_comparison.base_pk"],
            ondelete="CASCADE",
        ),
        {"sqlite_with_rowid": False},
    )

    release_pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    base_pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(16), primary_key=True)  # hierarchy | node | product
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    change: Mapped[str] = mapped_column(String(8))  # created | updated | deleted
    # What differs (SPEC §10.1 `fields`), a JSON list kept the first time the change is shown: NULL until
    # then (and for created and deleted ones, which name none). Found by `ChangesService.fields`; a change of
    # how fields are named must clear this column (a migration), or pages would show the old names.
    fields: Mapped[str | None] = mapped_column(Text)


class Currency(Base):
    """A currency a store sells in, with how amounts in it are written. Exactly one is the default."""

    __tablename__ = "currency"
    __table_args__ = (
        UniqueConstraint("scope_id", "code", name="uq_currency_scope_code"),
        Index("ix_currency_scope_created", "scope_id", "created_at", "id"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    code: Mapped[str] = mapped_column(String(3))
    format: Mapped[str] = mapped_column(String(64))
    decimal_point: Mapped[str] = mapped_column(String(3))
    thousand_separator: Mapped[str] = mapped_column(String(3))
    decimal_places: Mapped[int] = mapped_column(Integer)
    exchange_rate: Mapped[float] = mapped_column(Float)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Pricebook(Base):
    __tablename__ = "pricebook"
    __table_args__ = (
        UniqueConstraint("scope_id", "name", name="uq_pricebook_scope_name"),
        UniqueConstraint("scope_id", "external_ref_digest", name="uq_pricebook_scope_external_ref_digest"),
        Index("ix_pricebook_scope_created", "scope_id", "created_at", "id"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    name: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(Text)
    external_ref_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def owner(self) -> str:
        return "organization" if self.scope_id == ORGANIZATION_SCOPE else "store"


class Price(Base):
    """The price of one sku in one price book: base amounts per currency (with tiers) and sales."""

    __tablename__ = "price"
    __table_args__ = (
        UniqueConstraint("pricebook_pk", "sku", name="uq_price_pricebook_sku"),
        UniqueConstraint("pricebook_pk", "external_ref_digest", name="uq_price_pricebook_external_ref_digest"),
        Index("ix_price_sku", "sku"),
        Index("ix_price_pricebook_created", "pricebook_pk", "created_at", "id"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    pricebook_pk: Mapped[int] = mapped_column(ForeignKey("pricebook.pk", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255))
    currencies: Mapped[dict[str, Any]] = mapped_column(JSONDocument())
    sales: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())
    external_ref: Mapped[str | None] = mapped_column(Text)
    external_ref_digest: Mapped[str | None] = mapped_column(String(64))
    admin_attributes: Mapped[dict[str, str] | None] = mapped_column(JSONDocument())
    shopper_attributes: Mapped[dict[str, str] | None] = mapped_column(JSONDocument())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- the workbench (people, not keys) -------------------------------------------------------------


class User(Base):
    """A person who signs in to the workbench. Like a key, a user belongs to a store (`store_id`) or to
    the organization (NULL), and sees exactly what a key of that owner sees."""

    __tablename__ = "app_user"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid(), ForeignKey("store.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("role IN ('viewer', 'editor', 'admin')", name="role"),)


class UserSession(Base):
    """A signed-in browser. The cookie carries a random token; only its digest is stored, so a copy of
    the database signs nobody in."""

    __tablename__ = "user_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid(), ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SignInFailure(Base):
    """One failed sign-in, kept for the lock-out window (per email, known or not)."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (Index("ix_sign_in_failure_email_at", "email", "at"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The outbox's key type: 64-bit on PostgreSQL, SQLite's INTEGER PRIMARY KEY (the rowid, 64-bit too) there.
BigKey = BigInteger().with_variant(Integer(), "sqlite")


class Event(Base):
    """One change, written in the transaction that made it (the transactional outbox; SPEC §11.2).

    The feed's order is (txid, pk), see domain/events.py: `txid` is the writing transaction's id on
    PostgreSQL and 0 on SQLite, where writers are serialised and `pk` alone is commit order."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_scope_order", "scope_id", "txid", "pk"),
        Index("ix_event_created", "created_at"),
        # An entity's latest events (a workbench page's History): a range of this, read backwards.
        Index("ix_event_entity", "scope_id", "entity_type", "entity_id", "pk"),
    )

    pk: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    txid: Mapped[int] = mapped_column(BigInteger, default=0)
    triggered_by: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Integration(Base):
    """A webhook (SPEC §11.1): which events of its owner it observes and where they go."""

    __tablename__ = "integration"
    __table_args__ = (Index("ix_integration_scope_created", "scope_id", "created_at", "id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    integration_type: Mapped[str] = mapped_column(String(32), default="webhook")
    observes: Mapped[list[str]] = mapped_column(JSONDocument())
    url: Mapped[str] = mapped_column(String(2048))
    secret_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IntegrationJob(Base):
    """One event to deliver to one integration; claimed by a delivery loop with a lease."""

    __tablename__ = "integration_job"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index("ix_integration_job_due", "status", "next_attempt_at"),
        Index("ix_integration_job_integration", "integration_pk", "created_at"),
    )

    pk: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    integration_pk: Mapped[int] = mapped_column(ForeignKey("integration.pk", ondelete="CASCADE"))
    event_pk: Mapped[int] = mapped_column(BigKey, ForeignKey("event.pk", ondelete="CASCADE"), index=True)
    triggered_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IntegrationLog(Base):
    """One delivery attempt and what the receiver answered."""

    __tablename__ = "integration_log"
    __table_args__ = (
        Index("ix_integration_log_integration", "integration_pk", "pk"),
        Index("ix_integration_log_job", "job_pk", "pk"),
    )

    pk: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True, default=uuid.uuid4)
    integration_pk: Mapped[int] = mapped_column(ForeignKey("integration.pk", ondelete="CASCADE"))
    job_pk: Mapped[int] = mapped_column(BigKey, ForeignKey("integration_job.pk", ondelete="CASCADE"))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
