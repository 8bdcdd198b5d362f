"""Releases and the release view (SPEC §4.2, §4.3, seed 003): reads of immutable snapshots."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import orjson
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from assortment.db import filters as sql_filters
from assortment.db.filters import FilterField
from assortment.db.models import Catalog, Release
from assortment.db.repositories import releases as repo
from assortment.db.repositories.common import AnySelect
from assortment.domain.catalogs import CatalogService
from assortment.domain.filters import Term
from assortment.domain.paging import Page, Paging
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal
from assortment.errors import NotFound

LATEST_ALIASES = frozenset({"latest", "latestPublished"})


@dataclass(frozen=True, slots=True)
class ReleaseRef:
    catalog: Catalog
    release: Release


def mark_curated(document: bytes) -> bytes:
    """Node products show `attributes.curated_product: true` on curated entries."""
    parsed = orjson.loads(document)
    parsed["attributes"]["curated_product"] = True
    return orjson.dumps(parsed)


@dataclass
class ReleaseService:
    session: Session
    principal: Principal

    def resolve(self, catalog_id: str, release_id: str) -> ReleaseRef:
        catalog = CatalogService(self.session, self.principal).get(catalog_id)
        release: Release | None
        if release_id in LATEST_ALIASES:
            release = repo.latest_published(self.session, catalog.pk)
        else:
            parsed = parse_id(release_id)
            release = None if parsed is None else repo.get_release(self.session, catalog.pk, parsed)
        if release is None:
            raise NotFound(f"release {release_id} of catalog {catalog_id} not found")
        return ReleaseRef(catalog, release)

    def list_releases(self, catalog_id: str, paging: Paging) -> tuple[Catalog, Page[Release]]:
        catalog = CatalogService(self.session, self.principal).get(catalog_id)
        items, total = repo.list_releases(self.session, catalog.pk, paging.limit, paging.offset)
        return catalog, Page(items, total, paging)

    def delete_release(self, catalog_id: str, release_id: str) -> None:
        ref = self.resolve(catalog_id, release_id)
        self.principal.check_can_modify(ref.catalog.scope_id)
        repo.delete_releases(self.session, [ref.release.pk])

    def delete_all(self, catalog_id: str) -> None:
        catalog = CatalogService(self.session, self.principal).get(catalog_id, for_update=True)
        self.principal.check_can_modify(catalog.scope_id)
        repo.delete_releases(self.session, repo.releases_beyond(self.session, catalog.pk, 0))

    # --- the view --------------------------------------------------------------------------------------

    def hierarchies(self, ref: ReleaseRef, terms: tuple[Term, ...] | None, paging: Paging) -> Page[bytes]:
        where = _where(terms, repo.RELEASE_TREE_FILTERS_HIERARCHY)
        return self._page(repo.hierarchies_query(ref.release.pk, where), paging)

    def hierarchy(self, ref: ReleaseRef, hierarchy_id: str) -> bytes:
        parsed = parse_id(hierarchy_id)
        document = None if parsed is None else repo.hierarchy_document(self.session, ref.release.pk, parsed)
        if document is None:
            raise NotFound(f"hierarchy {hierarchy_id} is not in this release")
        return document

    def nodes(
        self,
        ref: ReleaseRef,
        terms: tuple[Term, ...] | None,
        paging: Paging,
        *,
        hierarchy_id: str | None = None,
        parent_id: str | None = None,
        top_level_of: str | None = None,
    ) -> Page[bytes]:
        where = _where(terms, repo.RELEASE_TREE_FILTERS_NODE)
        kwargs: dict[str, uuid.UUID] = {}
        if hierarchy_id is not None:
            self.hierarchy(ref, hierarchy_id)
            kwargs["hierarchy_id"] = uuid.UUID(hierarchy_id)
        if top_level_of is not None:
            self.hierarchy(ref, top_level_of)
            kwargs["top_level_of"] = uuid.UUID(top_level_of)
        if parent_id is not None:
            self.node(ref, parent_id)
            kwargs["parent_id"] = uuid.UUID(parent_id)
        return self._page(repo.nodes_query(ref.release.pk, where, **kwargs), paging)

    def node(self, ref: ReleaseRef, node_id: str) -> bytes:
        parsed = parse_id(node_id)
        document = None if parsed is None else repo.node_document(self.session, ref.release.pk, parsed)
        if document is None:
            raise NotFound(f"node {node_id} is not in this release")
        return document

    def products(self, ref: ReleaseRef, terms: tuple[Term, ...] | None, paging: Paging) -> Page[bytes]:
        where = _where(terms, repo.RELEASE_PRODUCT_FILTERS)
        return self._page(repo.products_query(ref.release.pk, where), paging)

    def product(self, ref: ReleaseRef, product_id: str) -> bytes:
        parsed = parse_id(product_id)
        document = None if parsed is None else repo.product_document(self.session, ref.release.pk, parsed)
        if document is None:
            raise NotFound(f"product {product_id} is not in this release")
        return document

    def node_products(
        self, ref: ReleaseRef, node_id: str, terms: tuple[Term, ...] | None, paging: Paging
    ) -> Page[bytes]:
        """Seed 003: live products of the node, curated ones first (marked), then newest first."""
        self.node(ref, node_id)
        where = _where(terms, repo.RELEASE_PRODUCT_FILTERS)
        rows, total = repo.page_of(
            self.session,
            repo.node_products_query(ref.release.pk, uuid.UUID(node_id), where),
            paging.limit,
            paging.offset,
        )
        documents = [mark_curated(doc) if curated else doc for doc, curated in rows]
        return Page(documents, total, paging)

    def hierarchy_products(
        self, ref: ReleaseRef, hierarchy_id: str, terms: tuple[Term, ...] | None, paging: Paging
    ) -> Page[bytes]:
        self.hierarchy(ref, hierarchy_id)
        where = _where(terms, repo.RELEASE_PRODUCT_FILTERS)
        return self._page(
            repo.hierarchy_products_query(ref.release.pk, uuid.UUID(hierarchy_id), where), paging
        )

    def related_products(
        self, ref: ReleaseRef, product_id: str, slug: str, terms: tuple[Term, ...] | None, paging: Paging
    ) -> Page[bytes]:
        self.product(ref, product_id)
        where = _where(terms, repo.RELEASE_PRODUCT_FILTERS)
        return self._page(repo.related_query(ref.release.pk, uuid.UUID(product_id), slug, where), paging)

    def _page(self, query: AnySelect, paging: Paging) -> Page[bytes]:
        rows, total = repo.page_of(self.session, query, paging.limit, paging.offset)
        return Page([row[0] for row in rows], total, paging)


def _where(terms: tuple[Term, ...] | None, whitelist: dict[str, FilterField]) -> ColumnElement[bool] | None:
    return None if not terms else sql_filters.compile_filter(terms, whitelist)
