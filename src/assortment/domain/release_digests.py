"""What a release serves of each entity, as one short digest per product, node and hierarchy (SPEC §10.1).

Two releases serve an entity alike when its digests are equal: `changes` compares digests in one pass over
the two releases and reads documents only for the entries of the page it answers. A digest covers
everything the release view serves of the entity except what belongs to the release itself (its id in the
links, `published_at`):

- a product: its document, its stored price, and its related products (slug, then display order);
- a node: its document, its children in display order, and the set of products linked to it (their order
  follows from the products' own changes; curated products are in the document);
- a hierarchy: its document and its top-level nodes in display order.

Publish computes them from what it writes (`publish.py`); `from_rows` computes the same from a stored
release, for releases published before digests were stored.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from assortment.db.models import Release
from assortment.db.repositories import release_changes as repo
from assortment.domain.formats import timestamp

SEPARATOR = b"\x00"  # never in a JSON document (control characters are escaped)


@dataclass(frozen=True, slots=True)
class Neutral:
    """How to take a release's own ids and publication time out of one of its documents."""

    base: bytes  # the path every link of the release starts with
    published_at: bytes  # the `published_at` member every document of the release carries

    @classmethod
    def of(cls, base: str, published_at: str) -> Neutral:
        return cls(base.encode(), b'"published_at":"' + published_at.encode() + b'"')

    def __call__(self, document: bytes) -> bytes:
        return document.replace(self.base, b"").replace(self.published_at, b'"published_at":""')


def digest(neutral: Neutral, document: bytes, *parts: bytes) -> bytes:
    return hashlib.blake2b(SEPARATOR.join((neutral(document), *parts)), digest_size=16).digest()


def ids_part(ids: Iterable[uuid.UUID | str]) -> bytes:
    """Ids in the order given."""
    return ",".join(str(i) for i in ids).encode()


def set_part(ids: Iterable[uuid.UUID | str]) -> bytes:
    """Ids in any order."""
    return ",".join(sorted(str(i) for i in ids)).encode()


def related_part(related: Sequence[tuple[str, uuid.UUID | str]]) -> bytes:
    """A product's related products as (slug, target id), grouped by slug in display order."""
    if not related:
        return b""
    ordered = sorted(enumerate(related), key=lambda entry: (entry[1][0], entry[0]))
    return "\n".join(f"{slug}\t{target}" for _, (slug, target) in ordered).encode()


def product_digest(neutral: Neutral, document: bytes, price: bytes | None, related: bytes) -> bytes:
    return digest(neutral, document, price or b"", related)


def node_digest(neutral: Neutral, document: bytes, children: bytes, products: bytes) -> bytes:
    return digest(neutral, document, children, products)


def hierarchy_digest(neutral: Neutral, document: bytes, children: bytes) -> bytes:
    return digest(neutral, document, children)


def neutral_of(catalog_id: uuid.UUID, release: Release) -> Neutral:
    from assortment.domain.publish import release_base

    assert release.published_at is not None
    return Neutral.of(release_base(catalog_id, release.id), timestamp(release.published_at))


@dataclass
class Digests:
    """{entity id: digest} per entity type of one release."""

    hierarchy: dict[uuid.UUID, bytes] = field(default_factory=dict)
    node: dict[uuid.UUID, bytes] = field(default_factory=dict)
    product: dict[uuid.UUID, bytes] = field(default_factory=dict)

    def of(self, entity_type: str) -> dict[uuid.UUID, bytes]:
        found: dict[uuid.UUID, bytes] = getattr(self, entity_type)
        return found


def from_rows(session: Session, catalog_id: uuid.UUID, release: Release, entity_types: Iterable[str]) -> Digests:
    """The digests of a stored release, computed from its rows as publish computes them from what it writes
    (for releases published before digests were stored: one pass over the release's documents)."""
    neutral = neutral_of(catalog_id, release)
    wanted = set(entity_types)
    result = Digests()
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)  # parent (node or hierarchy) → children
    if wanted & {"hierarchy", "node"}:
        for node_id, hierarchy_id, parent_id in repo.child_order(session, release.pk):
            children[parent_id if parent_id is not None else hierarchy_id].append(node_id)
    if "hierarchy" in wanted:
        for hierarchy_id, document in repo.hierarchy_documents(session, release.pk):
            result.hierarchy[hierarchy_id] = hierarchy_digest(neutral, document, ids_part(children[hierarchy_id]))
    if "node" in wanted:
        products: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for node_id, product_id in repo.node_product_links(session, release.pk):
            products[node_id].append(product_id)
        for node_id, document in repo.node_documents(session, release.pk):
            result.node[node_id] = node_digest(
                neutral, document, ids_part(children[node_id]), set_part(products[node_id])
            )
    if "product" in wanted:
        related: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = defaultdict(list)
        for source_id, slug, target_id in repo.related_rows(session, release.pk):
            related[source_id].append((slug, target_id))
        for product_id, document, price in repo.product_documents(session, release.pk):
            result.product[product_id] = product_digest(neutral, document, price, related_part(related[product_id]))
    return result
