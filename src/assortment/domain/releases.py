"""Releases and the release view (SPEC §4.2, §4.3, seed 003): reads of immutable snapshots."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from assortment.db import filters as sql_filters
from assortment.db.filters import FilterField
from assortment.db.models import Catalog, Release
from assortment.db.repositories import releases as repo
from assortment.db.repositories.common import AnySelect
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain.catalogs import CatalogService
from assortment.domain.filters import Term
from assortment.domain.paging import Page, Paging
from assortment.domain.price_rules import CurrencyFormat, price_fields, snapshot_formats
from assortment.domain.products import parse_id
from assortment.domain.release_render import RowRenderer
from assortment.domain.tenancy import Principal
from assortment.errors import NotFound, ValidationFailed

LATEST_ALIASES = frozenset({"latest", "latestPublished"})


@dataclass(frozen=True, slots=True)
class ReleaseRef:
    catalog: Catalog
    release: Release


class LatestReleases:
    """What a process remembers of catalogs and their releases, per catalog and `release_version` (SPEC
    §12.4), so that resolving a release reference (`latest` or an id) costs one indexed lookup of the
    catalog's version, which every request makes anyway. An entry is only ever used for the version it was
    read at, and every write that changes a catalog's releases (publish, release deletes) raises the version
    in its own transaction. The objects kept are detached from their sessions (nothing a request does to its
    session later can expire them) and never changed. The catalogs kept are for the release view, which uses
    only their keys: edits of a catalog's other fields do not raise its version."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._releases: dict[tuple[uuid.UUID, int, str], Release] = {}
        self._catalogs: dict[tuple[uuid.UUID, int], Catalog] = {}
        self._lock = threading.Lock()

    def get(self, catalog: Catalog, reference: str = "latest") -> Release | None:
        return self._releases.get((catalog.id, catalog.release_version, reference))

    def put(self, catalog: Catalog, release: Release, reference: str = "latest") -> None:
        with self._lock:
            if len(self._releases) >= self.MAX_ENTRIES:
                self._releases.clear()
            self._releases[(catalog.id, catalog.release_version, reference)] = release

    def catalog(self, catalog_id: uuid.UUID, version: int) -> Catalog | None:
        return self._catalogs.get((catalog_id, version))

    def put_catalog(self, catalog: Catalog) -> None:
        with self._lock:
            if len(self._catalogs) >= self.MAX_ENTRIES:
                self._catalogs.clear()
            self._catalogs[(catalog.id, catalog.release_version)] = catalog


@dataclass(frozen=True, slots=True)
class Pricing:
    """How prices are shown to this request: in which currency, at which instant."""

    display: CurrencyFormat
    now: datetime


def display_currency(release: Release, requested: str | None) -> CurrencyFormat:
    """§9.6.3: the requested code when the release has it, else the release's default currency."""
    formats = snapshot_formats(release.currencies)
    wanted = (requested or "").strip().upper()
    chosen = next((f for f in formats if f.code == wanted), None)
    return chosen if chosen is not None else formats[0]


def render_product_row(
    document: bytes,
    price: bytes | None,
    curated: bool,
    pricing: Pricing | None,
    parsed_price: dict[str, Any] | None = None,
) -> bytes:
    """A stored product document, with its price fields (computed now) and the curated mark added
    (`parsed_price`: the price already decoded, when the caller has it)."""
    if price is None and not curated:
        return document
    parsed = orjson.loads(document)
    if curated:
        parsed["attributes"]["curated_product"] = True
    if price is not None and pricing is not None:
        decoded = parsed_price if parsed_price is not None else orjson.loads(price)
        attributes, meta = price_fields(decoded, pricing.display, pricing.now)
        parsed["attributes"].update(attributes)
        parsed["meta"].update(meta)
    return orjson.dumps(parsed)


@dataclass
class ReleaseService:
    session: Session
    principal: Principal
    currency: str | None = None  # the display currency the request asks for
    latest: LatestReleases | None = None  # the process's memory of `latest`, when it has one
    # Set by product reads: when the prices they showed may next change (a sale starting or ending).
    valid_until: datetime | None = None

    def pricing(self, ref: ReleaseRef) -> Pricing:
        return Pricing(display_currency(ref.release, self.currency), utcnow())

    def _products(self, ref: ReleaseRef, query: AnySelect, paging: Paging) -> Page[bytes]:
        return self._rendered(ref, repo.page_of(self.session, query, paging))

    def _rendered(self, ref: ReleaseRef, page: Page[Any]) -> Page[bytes]:
        renderer = self.renderer(ref)
        items = renderer.rows([(row[0], row[1], bool(row[2]), row[3]) for row in page.items])
        self.valid_until = renderer.valid_until
        return Page(items, page.total, page.paging, page.next)

    def renderer(self, ref: ReleaseRef) -> RowRenderer:
        pricing = self.pricing(ref)
        return RowRenderer(pricing.display, pricing.now)

    def resolve(self, catalog_id: str, release_id: str, *, for_update: bool = False) -> ReleaseRef:
        if self.latest is not None and not for_update:
            return self.resolve_in(self._remembered_catalog(catalog_id), release_id, catalog_id)
        catalog = CatalogService(self.session, self.principal).get(catalog_id, for_update=for_update)
        return self.resolve_in(catalog, release_id, catalog_id)

    def _remembered_catalog(self, catalog_id: str) -> Catalog:
        """The catalog as of its current release version: one lookup of (pk, version), the row itself from
        the process's memory when it was read at that version."""
        assert self.latest is not None
        parsed = parse_id(catalog_id)
        key = None if parsed is None else repo.catalog_key(self.session, parsed, self.principal.visible_scopes)
        if parsed is None or key is None:
            raise NotFound(f"catalog {catalog_id} not found")
        catalog = self.latest.catalog(parsed, key[1])
        if catalog is None:
            catalog = CatalogService(self.session, self.principal).get(catalog_id)
            if catalog.release_version != key[1]:  # a write in between (PostgreSQL reads each statement anew)
                return catalog
            self.session.expunge(catalog)
            self.latest.put_catalog(catalog)
        return catalog

    def resolve_in(self, catalog: Catalog, release_id: str, catalog_id: str | None = None) -> ReleaseRef:
        """The release `release_id` (an id, `latest` or `latestPublished`) of a catalog the caller sees
        (`catalog_id`: the catalog's id as the request spelled it)."""
        release = self._latest(catalog) if release_id in LATEST_ALIASES else self._by_id(catalog, release_id)
        if release is None:
            raise NotFound(f"release {release_id} of catalog {catalog_id or catalog.id} not found")
        return ReleaseRef(catalog, release)

    def _latest(self, catalog: Catalog) -> Release | None:
        if self.latest is None:
            return repo.latest_published(self.session, catalog.pk)
        release = self.latest.get(catalog)
        if release is None:
            release = repo.latest_published(self.session, catalog.pk)
            if release is not None:
                self.session.expunge(release)
                self.latest.put(catalog, release)
        return release

    def _by_id(self, catalog: Catalog, release_id: str) -> Release | None:
        parsed = parse_id(release_id)
        if parsed is None:
            return None
        if self.latest is None:
            return repo.get_release(self.session, catalog.pk, parsed)
        release = self.latest.get(catalog, release_id)
        if release is None:
            release = repo.get_release(self.session, catalog.pk, parsed)
            if release is not None:
                self.session.expunge(release)
                self.latest.put(catalog, release, release_id)
        return release

    def delta(self, ref: ReleaseRef) -> bytes | None:
        return repo.release_delta(self.session, ref.release.pk)

    def list_releases(self, catalog_id: str, paging: Paging) -> tuple[Catalog, Page[Release]]:
        catalog = CatalogService(self.session, self.principal).get(catalog_id)
        return catalog, repo.list_releases(self.session, catalog.pk, paging)

    def delete_release(self, catalog_id: str, release_id: str) -> None:
        # The catalog row first, as publish does: the two never wait on each other's rows in turn.
        ref = self.resolve(catalog_id, release_id, for_update=True)
        self.principal.check_can_modify(ref.catalog.scope_id)
        repo.delete_releases(self.session, [ref.release.pk])
        if ref.catalog.latest_release_pk == ref.release.pk:  # the most recently published one left (§10.2)
            ref.catalog.latest_release_pk = repo.most_recently_published(self.session, ref.catalog.pk)
        repo.releases_changed(self.session, ref.catalog.pk)
        self.session.flush()
        events.record(self.session, self.principal, "catalog-release.deleted", None, ref.release.id, ref.catalog.scope_id)  # noqa: E501

    def delete_all(self, catalog_id: str) -> None:
        catalog = CatalogService(self.session, self.principal).get(catalog_id, for_update=True)
        self.principal.check_can_modify(catalog.scope_id)
        doomed = repo.releases_beyond(self.session, catalog.pk, 0)
        gone = repo.release_ids(self.session, doomed)
        repo.delete_releases(self.session, doomed)
        catalog.latest_release_pk = None
        repo.releases_changed(self.session, catalog.pk)
        self.session.flush()
        for release_id in gone:  # SPEC §11.2: each deleted release its event
            events.record(self.session, self.principal, "catalog-release.deleted", None, release_id, catalog.scope_id)

    def restore(self, catalog_id: str, release_id: str) -> ReleaseRef:
        """SPEC §10.2: make a kept, published release the one `latest` names, at once (nothing is written but
        the pointer). Restoring the latest release changes nothing and raises no event."""
        ref = self.resolve(catalog_id, release_id, for_update=True)  # the catalog row first, as publish does
        self.principal.check_can_modify(ref.catalog.scope_id)
        if ref.release.status != "PUBLISHED":
            raise ValidationFailed(
                f"release {release_id} is {ref.release.status}: only a published release can be restored"
            )
        if ref.catalog.latest_release_pk == ref.release.pk:
            return ref
        ref.catalog.latest_release_pk = ref.release.pk
        repo.releases_changed(self.session, ref.catalog.pk)  # every process moves `latest` on commit (§12.4)
        self.session.flush()
        events.record(
            self.session, self.principal, "catalog-release.updated", (ref.catalog, ref.release), ref.release.id,
            ref.catalog.scope_id,
        )
        return ref

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
        if not terms and not paging.by_cursor:
            rows, total = repo.products_page(self.session, ref.release.pk, paging.limit, paging.offset)
            return self._rendered(ref, Page(rows, total, paging))
        where = _where(terms, repo.RELEASE_PRODUCT_FILTERS)
        return self._products(ref, repo.products_query(ref.release.pk, where), paging)

    def product(self, ref: ReleaseRef, product_id: str) -> bytes:
        parsed = parse_id(product_id)
        row = None if parsed is None else repo.product_row(self.session, ref.release.pk, parsed)
        if row is None:
            raise NotFound(f"product {product_id} is not in this release")
        renderer = self.renderer(ref)
        document = renderer.row(row[0], row[1], False, row[2])
        self.valid_until = renderer.valid_until
        return document

    def node_products(
        self, ref: ReleaseRef, node_id: str, terms: tuple[Term, ...] | None, paging: Paging
    ) -> Page[bytes]:
        """Seed 003: live products of the node, curated ones first (marked), then newest first."""
        self.node(ref, node_id)
        if not terms and not paging.by_cursor:
            rows, total = repo.node_products_page(
                self.session, ref.release.pk, uuid.UUID(node_id), paging.limit, paging.offset
            )
            return self._rendered(ref, Page(rows, total, paging))
        where = _where(terms, repo.RELEASE_PRODUCT_FILTERS)
        return self._products(ref, repo.node_products_query(ref.release.pk, uuid.UUID(node_id), where), paging)

    def hierarchy_products(
        self, ref: ReleaseRef, hierarchy_id: str, terms: tuple[Term, ...] | None, paging: Paging
    ) -> Page[bytes]:
        """The distinct products of the hierarchy's nodes, in the release's product order: unfiltered and by
        offset, a slice of those publish kept; else (or for a release published before it kept them) found
        from the node links."""
        self.hierarchy(ref, hierarchy_id)
        parsed = uuid.UUID(hierarchy_id)
        if not terms and not paging.by_cursor:
            kept = repo.hierarchy_product_positions(self.session, ref.release.pk, parsed, paging.limit, paging.offset)
            if kept is not None:
                total, positions = kept
                rows = repo.products_at(self.session, ref.release.pk, positions)
                return self._rendered(ref, Page(rows, total, paging))
        where = _where(terms, repo.RELEASE_PRODUCT_FILTERS)
        query = repo.hierarchy_products_query(ref.release.pk, parsed, where)
        return self._products(ref, query, paging)

    def related_products(
        self, ref: ReleaseRef, product_id: str, slug: str, terms: tuple[Term, ...] | None, paging: Paging
    ) -> Page[bytes]:
        self.product(ref, product_id)
        where = _where(terms, repo.RELEASE_PRODUCT_FILTERS)
        return self._products(ref, repo.related_query(ref.release.pk, uuid.UUID(product_id), slug, where), paging)

    def _page(self, query: AnySelect, paging: Paging) -> Page[bytes]:
        page = repo.page_of(self.session, query, paging)
        return page.map(lambda rows: [row[0] for row in rows])


def _where(terms: tuple[Term, ...] | None, whitelist: dict[str, FilterField]) -> ColumnElement[bool] | None:
    return None if not terms else sql_filters.compile_filter(terms, whitelist)
