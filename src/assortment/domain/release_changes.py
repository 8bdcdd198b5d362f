"""What changed between two releases of a catalog (SPEC §10.1).

An entity (hierarchy, node, product) is `created` when only the release has it, `deleted` when only the
base (`since`) has it, `updated` when both have it and serve it differently. "Differently" is decided by the
digests publish stores per entity (`release_digests`): one pass over the two releases' digest columns, in
SQL, finds every difference without reading a document. Only the entries of the page answered are looked
at closely, to name the `fields` that differ, by comparing the two documents as the release view serves them
(links and `published_at` of the releases themselves aside).

Two releases never change, so neither does what differs between them: the first comparison of a pair
(unfiltered, or filtered by anything but the entity type) keeps its changes (`release_comparison`,
`release_change`), and every later one reads them instead of passing over both releases again: at 100k
products differing in 1 %, ≈ 1,000 rows instead of 2 × 100k digests.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from assortment.db.engine import quick_writer
from assortment.db.models import Release
from assortment.db.repositories import release_changes as repo
from assortment.db.repositories import releases as release_repo
from assortment.db.types import utcnow
from assortment.domain import release_digests as digests
from assortment.domain.filters import FILTER_PARSE_ERROR, AnyOf, Condition, Term
from assortment.domain.products import parse_id
from assortment.domain.releases import (
    LATEST_ALIASES,
    Pricing,
    ReleaseRef,
    ReleaseService,
    display_currency,
    render_product_row,
)
from assortment.domain.tenancy import Principal
from assortment.errors import BadRequest, ValidationFailed

log = logging.getLogger("assortment.changes")

ENTITY_TYPES = ("hierarchy", "node", "product")  # also the order of the list
KINDS = ("created", "updated", "deleted")
_RANK = {entity_type: rank for rank, entity_type in enumerate(ENTITY_TYPES)}
# A comparison is kept when it finds at most this many changes (two releases that differ in most of 100k
# products would cost more to keep, and to read back, than to compare again).
KEEP_AT_MOST = 20_000
# How long keeping a comparison waits for SQLite's write lock: a publish holds it for seconds, and the
# comparison is answered either way (the next one tries again).
KEEP_WAIT_MS = 50

# Members of a product's `meta` that its price makes (§9.6.2): a difference there is a difference of `price`.
_PRICE_META = frozenset(
    {"pricebook_id", "display_price", "original_price", "original_display_price", "sale_id", "sale_expires", "tiers"}
)


@dataclass(frozen=True, slots=True)
class Change:
    entity_type: str
    entity_id: uuid.UUID
    change: str  # created | updated | deleted

    @property
    def key(self) -> str:
        return f"{self.entity_type}:{self.entity_id}"


def change_order(change: Change) -> tuple[int, str]:
    """Where a change stands in the list: hierarchies, nodes, products, each by id (unique per entry)."""
    return _RANK[change.entity_type], str(change.entity_id)


def change_document(change: Change, fields: list[str]) -> dict[str, Any]:
    """An entry of the list, as the API and the command line show it."""
    return {
        "type": "release-change",
        "id": change.key,
        "attributes": {
            "change": change.change,
            "entity_type": change.entity_type,
            "entity_id": str(change.entity_id),
            "fields": fields,
        },
    }


@dataclass(frozen=True)
class Changes:
    """Every change between a release and its base, filtered and in order; `counts` over all of them.
    `kept`: the comparison is stored (the fields found for its changes are kept too); `named`: {change key:
    fields} of those of its changes whose fields were kept."""

    ref: ReleaseRef
    base: Release | None
    items: list[Change]
    kept: bool = False
    named: dict[str, list[str]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(c.change for c in self.items)
        return {kind: counted.get(kind, 0) for kind in KINDS}


@dataclass(frozen=True)
class KindPages:
    """One page of each kind of change (created, updated, deleted) of a comparison, as the workbench shows
    it: `changes.items` are the entries of the three pages, `counts` over the whole comparison, `more` when a
    kind has entries past its page."""

    changes: Changes
    counts: dict[str, int]
    groups: dict[str, list[Change]]
    more: bool


# --- filters: eq(change,…), eq(entity_type,…), in(entity_id,…) ----------------------------------------------


Predicate = Callable[[Change], bool]


def _condition(condition: Condition) -> tuple[Predicate, set[str] | None]:
    """What a condition accepts, and which entity types it can accept at all (None: any)."""
    field, op, values = condition.field, condition.op, condition.values
    if field == "change" and op == "eq":
        return (lambda c: c.change == values[0]), None
    if field == "entity_type" and op == "eq":
        return (lambda c: c.entity_type == values[0]), {values[0]}
    if field == "entity_id" and op in ("eq", "in"):
        wanted = {parsed for parsed in (parse_id(v) for v in values) if parsed is not None}
        return (lambda c: c.entity_id in wanted), None
    raise BadRequest(FILTER_PARSE_ERROR)


def _any_of(tests: list[Predicate]) -> Predicate:
    return lambda change: any(test(change) for test in tests)


def compile_filter(terms: Sequence[Term] | None) -> tuple[Predicate, set[str]]:
    """A predicate over changes (terms ANDed, or-groups ORed) and the entity types worth comparing."""
    predicates: list[Predicate] = []
    types = set(ENTITY_TYPES)
    for term in terms or ():
        parts = [_condition(c) for c in (term.conditions if isinstance(term, AnyOf) else (term,))]
        predicates.append(_any_of([test for test, _ in parts]))
        if all(only is not None for _, only in parts):
            types &= set().union(*(only for _, only in parts if only is not None))
    return (lambda c: all(p(c) for p in predicates)), types


# --- the service ---------------------------------------------------------------------------------------------


@dataclass
class ChangesService:
    session: Session
    principal: Principal

    def compare(self, catalog_id: str, release_id: str, since: str | None, terms: Sequence[Term] | None) -> Changes:
        """The changes of `release_id` (an id or `latest`) since `since` (an id, `latest`, or None for the
        default base: the release that was latest when it was published if still kept, else the kept release
        published just before it). Unknown catalog or release: 404; a `since` that is not a kept release of
        the catalog: 422."""
        accepts, types = compile_filter(terms)
        ref = ReleaseService(self.session, self.principal).resolve(catalog_id, release_id)
        base = self._base(ref, since)
        found, kept, named = self._changes(ref, base, types)
        items = [c for c in found if accepts(c)]
        items.sort(key=change_order)
        return Changes(ref, base, items, kept, named)

    def pages_by_kind(self, catalog_id: str, release_id: str, since: str | None, start: int, size: int) -> KindPages:
        """The entries `start` to `start + size` of each kind of change (the workbench's page). A kept
        comparison is read a page at a time, with the fields kept for its entries; else it is compared
        (and kept) as `compare` does."""
        ref = ReleaseService(self.session, self.principal).resolve(catalog_id, release_id)
        base = self._base(ref, since)
        release = ref.release
        counts = None
        if base is not None and base.pk != release.pk:
            counts = repo.stored_counts(self.session, release.pk, base.pk)
        if counts is None or base is None:
            found, kept, named = self._changes(ref, base, set(ENTITY_TYPES))
            found.sort(key=change_order)
            every = {kind: [c for c in found if c.change == kind] for kind in KINDS}
            groups = {kind: every[kind][start : start + size] for kind in KINDS}
            more = any(len(every[kind]) > start + size for kind in KINDS)
            shown = [c for kind in KINDS for c in groups[kind]]
            return KindPages(Changes(ref, base, shown, kept, named), Changes(ref, base, found).counts, groups, more)
        groups, named, more = {}, {}, False
        for kind in KINDS:
            rows = repo.stored_page(self.session, release.pk, base.pk, kind, size + 1, start)
            more = more or len(rows) > size
            groups[kind] = [Change(entity_type, entity_id, kind) for entity_type, entity_id, _ in rows[:size]]
            named.update(_named(rows[:size]))
        shown = [c for kind in KINDS for c in groups[kind]]
        return KindPages(Changes(ref, base, shown, True, named), counts, groups, more)

    def _changes(
        self, ref: ReleaseRef, base: Release | None, types: set[str]
    ) -> tuple[list[Change], bool, dict[str, list[str]]]:
        """Every change of those entity types (in no order): kept ones when the pair was compared before,
        else found now, and kept when they are of every type. Then whether they are kept, and the fields
        kept for them."""
        release = ref.release
        wanted = [entity_type for entity_type in ENTITY_TYPES if entity_type in types]
        if base is None or base.pk == release.pk:
            return [c for entity_type in wanted for c in self._differences(ref, base, entity_type)], False, {}
        stored = repo.stored_changes(self.session, release.pk, base.pk, wanted)
        if stored is not None:
            changes = [Change(entity_type, entity_id, change) for entity_type, entity_id, change, _ in stored]
            return changes, True, _named((kind, i, fields) for kind, i, _, fields in stored)
        found = [c for entity_type in wanted for c in self._differences(ref, base, entity_type)]
        kept = len(wanted) == len(ENTITY_TYPES) and len(found) <= KEEP_AT_MOST and self._keep(release, base, found)
        return found, kept, {}

    def _keep(self, release: Release, base: Release, found: list[Change]) -> bool:
        """Keep a comparison, in a transaction of its own; whether it is kept. Not kept (and found again next
        time) when the write lock is busy, another request kept it first, or a release went meanwhile."""
        bind = self.session.get_bind()
        if not isinstance(bind, Engine):
            return False
        counted = Counter(c.change for c in found)
        rows = [(c.entity_type, c.entity_id, c.change) for c in found]
        try:
            with quick_writer(bind, KEEP_WAIT_MS) as session:
                if session is None:
                    return False
                counts = {k: counted.get(k, 0) for k in KINDS}
                return repo.store_changes(session, release.pk, base.pk, rows, counts)
        except (OperationalError, IntegrityError) as exc:
            log.info("comparison of releases %s and %s not kept: %s", release.id, base.id, exc.__class__.__name__)
            return False

    def _keep_fields(self, changes: Changes, found: dict[str, list[str]], updated: list[Change]) -> None:
        """Keep the fields found for updated changes of a kept comparison, in a transaction of its own (not
        kept, and found again next time, when the write lock is busy)."""
        bind = self.session.get_bind()
        base = changes.base
        if not isinstance(bind, Engine) or base is None:
            return
        named = [(c.entity_type, c.entity_id, orjson.dumps(found[c.key]).decode()) for c in updated]
        try:
            with quick_writer(bind, KEEP_WAIT_MS) as session:
                if session is not None:
                    repo.store_fields(session, changes.ref.release.pk, base.pk, named)
        except OperationalError as exc:
            log.info("fields of %d changes not kept: %s", len(named), exc.__class__.__name__)

    def _base(self, ref: ReleaseRef, since: str | None) -> Release | None:
        catalog_pk = ref.catalog.pk
        if since is None or since == "":
            base_id = ref.release.base_release_id
            base = None if base_id is None else release_repo.get_release(self.session, catalog_pk, base_id)
            return base if base is not None else release_repo.published_before(self.session, catalog_pk, ref.release.pk)
        if since in LATEST_ALIASES:
            base = release_repo.latest_published(self.session, catalog_pk)
        else:
            parsed = parse_id(since)
            base = None if parsed is None else release_repo.get_release(self.session, catalog_pk, parsed)
        if base is None:
            raise ValidationFailed(f"since: {since} is not a kept release of catalog {ref.catalog.id}")
        return base

    def _differences(self, ref: ReleaseRef, base: Release | None, entity_type: str) -> list[Change]:
        release = ref.release
        digested = repo.has_digests(self.session, release.pk)
        if base is None:
            ids = repo.entity_ids(self.session, entity_type, release.pk, digested=digested)
            return [Change(entity_type, i, "created") for i in ids]
        if base.pk == release.pk:
            return []
        if digested and repo.has_digests(self.session, base.pk):
            changed, deleted = repo.differences(self.session, entity_type, release.pk, base.pk)
            return [
                *(Change(entity_type, i, "created" if created else "updated") for i, created in changed),
                *(Change(entity_type, i, "deleted") for i in deleted),
            ]
        # A release published before digests were stored: compute them from its documents.
        mine = digests.from_rows(self.session, ref.catalog.id, release, [entity_type]).of(entity_type)
        theirs = digests.from_rows(self.session, ref.catalog.id, base, [entity_type]).of(entity_type)
        return [
            *(Change(entity_type, i, "created") for i in mine if i not in theirs),
            *(Change(entity_type, i, "updated") for i, d in mine.items() if i in theirs and theirs[i] != d),
            *(Change(entity_type, i, "deleted") for i in theirs if i not in mine),
        ]

    def names(self, changes: Changes, entries: Iterable[Change]) -> dict[str, str | None]:
        """{change key: the entity's name} as the release that has it names it (the base, for deleted ones)."""
        wanted: dict[tuple[int, str], list[uuid.UUID]] = defaultdict(list)
        for entry in entries:
            side = changes.base if entry.change == "deleted" else changes.ref.release
            if side is not None:
                wanted[(side.pk, entry.entity_type)].append(entry.entity_id)
        found: dict[str, str | None] = {}
        for (release_pk, entity_type), ids in wanted.items():
            named = repo.names(self.session, release_pk, entity_type, ids)
            found.update({f"{entity_type}:{i}": named.get(i) for i in ids})
        return found

    # --- what differs ------------------------------------------------------------------------------------

    def fields(self, changes: Changes, entries: Iterable[Change]) -> dict[str, list[str]]:
        """{change key: the sorted names of what differs} for the entries (`[]` for created and deleted):
        kept ones, else found by comparing the two releases' documents (and then kept, when the comparison
        is)."""
        result: dict[str, list[str]] = {}
        updated: dict[str, list[uuid.UUID]] = defaultdict(list)
        unnamed: list[Change] = []
        for entry in entries:
            result[entry.key] = []
            if entry.change != "updated":
                continue
            known = changes.named.get(entry.key)
            if known is not None:
                result[entry.key] = known
            else:
                updated[entry.entity_type].append(entry.entity_id)
                unnamed.append(entry)
        base = changes.base
        if not updated or base is None:
            return result
        sides = (_Side.of(changes.ref.catalog.id, changes.ref.release), _Side.of(changes.ref.catalog.id, base))
        for entity_type, ids in updated.items():
            compare = {"product": self._product_fields, "node": self._node_fields, "hierarchy": self._hierarchy_fields}
            for entity_id, names in compare[entity_type](sides, ids).items():
                result[f"{entity_type}:{entity_id}"] = sorted(names)
        if changes.kept:
            self._keep_fields(changes, result, unnamed)
        return result

    def _product_fields(self, sides: tuple[_Side, _Side], ids: list[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
        now = utcnow()
        served: list[dict[uuid.UUID, tuple[dict[str, Any], bytes | None, list[tuple[str, uuid.UUID]]]]] = []
        for side in sides:
            related: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = defaultdict(list)
            for source_id, slug, target_id in repo.related_rows(self.session, side.release.pk, ids):
                related[source_id].append((slug, target_id))
            pricing = Pricing(display_currency(side.release, None), now)
            rows = repo.product_documents(self.session, side.release.pk, ids)
            served.append(
                {
                    pid: (side.served(render_product_row(doc, price, False, pricing)), price, related[pid])
                    for pid, doc, price in rows
                }
            )
        mine, theirs = served
        result = {}
        for product_id in ids:
            (a, price_a, related_a), (b, price_b, related_b) = mine[product_id], theirs[product_id]
            names = _attribute_differences(a, b)
            if price_a != price_b:
                names.add("price")
            meta_a, meta_b = a.get("meta", {}), b.get("meta", {})
            for key in meta_a.keys() | meta_b.keys():
                if meta_a.get(key) == meta_b.get(key):
                    continue
                if key in ("bread_crumb_nodes", "bread_crumbs"):
                    names.add("breadcrumbs")
                elif key == "custom_relationships":
                    names.add("relationships")
                else:
                    names.add("price" if key in _PRICE_META else key)
            if a.get("relationships") != b.get("relationships") or related_a != related_b:
                names.add("relationships")
            result[product_id] = names
        return result

    def _node_fields(self, sides: tuple[_Side, _Side], ids: list[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
        documents, children, products = [], [], []
        for side in sides:
            pk = side.release.pk
            documents.append({i: side.served(d) for i, d in repo.node_documents(self.session, pk, ids)})
            order: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
            for parent_id, child_id in repo.children_of(self.session, pk, ids, top_level=False):
                order[parent_id].append(child_id)
            children.append(order)
            products.append(repo.node_product_sets(self.session, pk, ids))
        result = {}
        for node_id in ids:
            a, b = documents[0][node_id], documents[1][node_id]
            names = _attribute_differences(a, b)
            if "curated_products" in names or products[0][node_id] != products[1][node_id]:
                names.add("products")
            crumbs_a, crumbs_b = a["meta"].get("breadcrumbs", []), b["meta"].get("breadcrumbs", [])
            if _parent_of(a) != _parent_of(b) or [c["id"] for c in crumbs_a] != [c["id"] for c in crumbs_b]:
                names.add("parent")
            elif crumbs_a[:-1] != crumbs_b[:-1]:  # an ancestor renamed
                names.add("breadcrumbs")
            if a["meta"].get("has_children") != b["meta"].get("has_children") or (
                children[0][node_id] != children[1][node_id]
            ):
                names.add("children")
            names |= _other_differences(a, b, handled={"parent", "children", "products", "hierarchy"})
            result[node_id] = names
        return result

    def _hierarchy_fields(self, sides: tuple[_Side, _Side], ids: list[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
        documents, children = [], []
        for side in sides:
            pk = side.release.pk
            documents.append({i: side.served(d) for i, d in repo.hierarchy_documents(self.session, pk, ids)})
            order: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
            for parent_id, child_id in repo.children_of(self.session, pk, ids, top_level=True):
                order[parent_id].append(child_id)
            children.append(order)
        result = {}
        for hierarchy_id in ids:
            a, b = documents[0][hierarchy_id], documents[1][hierarchy_id]
            names = _attribute_differences(a, b)
            if a["meta"].get("has_children") != b["meta"].get("has_children") or (
                children[0][hierarchy_id] != children[1][hierarchy_id]
            ):
                names.add("children")
            names |= _other_differences(a, b, handled={"children", "nodes", "products"})
            result[hierarchy_id] = names
        return result


def _named(rows: Iterable[tuple[str, uuid.UUID, str | None]]) -> dict[str, list[str]]:
    """{change key: fields} of kept changes whose fields are kept."""
    return {f"{kind}:{i}": orjson.loads(fields) for kind, i, fields in rows if fields is not None}


@dataclass(frozen=True)
class _Side:
    """One of the two releases compared, and how to read its documents without its own ids and times."""

    release: Release
    neutral: digests.Neutral

    @classmethod
    def of(cls, catalog_id: uuid.UUID, release: Release) -> _Side:
        return cls(release, digests.neutral_of(catalog_id, release))

    def served(self, document: bytes) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.neutral(document))
        return parsed


def _attribute_differences(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    attributes_a, attributes_b = a.get("attributes", {}), b.get("attributes", {})
    return {
        key
        for key in attributes_a.keys() | attributes_b.keys()
        if key != "published_at" and attributes_a.get(key) != attributes_b.get(key)
    }


def _parent_of(document: dict[str, Any]) -> Any:
    return document.get("relationships", {}).get("parent", {}).get("data")


def _other_differences(a: dict[str, Any], b: dict[str, Any], *, handled: set[str]) -> set[str]:
    """Members of `relationships` and `meta` that differ and that the caller did not look at already (a
    document shape a later version may add), by their own names."""
    names = set()
    for member, skip in (("relationships", handled), ("meta", {"breadcrumbs", "has_children"})):
        part_a, part_b = a.get(member, {}), b.get(member, {})
        keys = (part_a.keys() | part_b.keys()) - skip
        names |= {key for key in keys if part_a.get(key) != part_b.get(key)}
    return names

