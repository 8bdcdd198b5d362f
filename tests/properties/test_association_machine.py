"""Custom relationship associations as a state machine (SPEC §3.3, §3.4, §8, §B-14–18, seed 002): random
associate / dissociate calls over a uni-directional and a bi-directional definition and a small pool of
products, mixed with attaching and detaching other definitions (to reach the five-per-product limit),
deleting and re-creating products, and refused requests of every kind.

The per-product, per-slug association limit is 2000 in SPEC §8; no setting lowers it, so the test lowers
the module constant the rules read (`relationship_rules.MAX_ASSOCIATIONS`) to LIMIT, which a pool of
POOL products can reach and exceed in one request. The five-relationships-per-product limit is the real
one. The texts of seed 002 are unchanged (they name 2000 whatever the limit).

After every step the whole state is read from the database (associations and attached slugs) and part of
it from the API (the listing of the step's product, attached slugs in product objects), and checked on its
own (limits never exceeded, no duplicate, no self-association, bi-directional edges in both directions,
uni-directional edges only where a request asked for them) and against the model.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.orm import aliased

from assortment.db.models import Association, CustomRelationship, Product, ProductRelationshipSlot
from assortment.domain import relationship_rules
from assortment.domain.integrity import check_database
from tests.conftest import Caller, Database, Keys, empty_tables
from tests.helpers import errors_of
from tests.properties import ROUTE_IDS, TITLES, canonical, machine_settings
from tests.relationships import insert_products

LIMIT = 3  # associations per product and relationship (2000 in SPEC §8, lowered for the test)
POOL = 7  # products alive at most
MAX_SLUGS = 5  # custom relationships per product (SPEC §3.3, §8)

UNI = "CRP_uni"
BI = "CRP_bi"
FILLERS = ("CRP_f1", "CRP_f2", "CRP_f3", "CRP_f4")
DEFINITIONS = (UNI, BI, *FILLERS)

# Seed 002's texts.
NOT_FOUND = "could not find product"
SELF = "cannot associate a product with itself"
AT_FIVE = (
    "product already has 5 custom relationships, cannot associate more as it has reached the limit of 5 "
    "custom relationships"
)
AT_LIMIT = "exceeded maximum allowed associations (2000). Please review and try again"

UNSET = "unset"
UNKNOWN_SORT = "unknown"  # a sort order SPEC does not define (that of a reverse edge made automatically)

# How a request names a product: (kind, index, spelt in upper case). "self" is the request's source.
Ref = tuple[str, int, bool]
REF_KINDS = ["live"] * 12 + ["self", "gone", "unknown", "malformed"]
REFS: st.SearchStrategy[Ref] = st.tuples(
    st.sampled_from(REF_KINDS), st.integers(0, 1000), st.sampled_from([False, False, False, True])
)
SOURCES: st.SearchStrategy[Ref] = st.tuples(
    st.sampled_from(["live"] * 12 + ["gone", "unknown", "malformed"]),
    st.integers(0, 1000),
    st.sampled_from([False, False, False, True]),
)
# A slug as a path names it: mostly one of the two under test, with or without the CRP_ prefix.
PATH_SLUGS = st.sampled_from([*[UNI] * 4, *[BI] * 4, "uni", "bi", "CRP_missing"])
SORT_ORDERS = st.sampled_from([UNSET, UNSET, UNSET, None, 1, 2, -5])

Edge = tuple[str, str, str]  # (slug, source id, target id)


@dataclass(frozen=True)
class StoredEdge:
    pk: int
    slug: str
    source: str
    target: str
    sort_order: int | None
    updated_at: Any


def with_prefix(slug: str) -> str:
    return slug if slug.startswith("CRP_") else "CRP_" + slug


def one_sort_order(values: Sequence[Any]) -> Any:
    """The sort order one target gets from the items naming it: UNSET if none carries the key, the value
    if they agree, else UNKNOWN_SORT (SPEC does not say which of two different values wins)."""
    distinct = set(values)
    if not distinct:
        return UNSET
    return distinct.pop() if len(distinct) == 1 else UNKNOWN_SORT


class AssociationMachine(RuleBasedStateMachine):
    outcomes: ClassVar[Counter[str]] = Counter()  # what the requests were expected to answer, for -s runs

    def __init__(self, db: Database, keys: Keys) -> None:
        super().__init__()
        self.db = db
        empty_tables(db)
        self.api: Caller = keys.caller()
        self.bi: dict[str, bool] = {}
        for slug in DEFINITIONS:
            attributes = {"name": f"Name of {slug}", "slug": slug, "bi_directional": slug == BI}
            response = self.api.post(
                "/pcm/custom-relationships", json={"data": {"type": "custom-relationship", "attributes": attributes}}
            )
            assert response.status_code == 201, response.text
            self.bi[slug] = slug == BI
        self.products: list[str] = []  # alive, in creation order
        self.gone: list[str] = []
        self.slots: dict[str, set[str]] = {}
        self.edges: dict[Edge, Any] = {}  # → sort order (None, an int, or UNKNOWN_SORT)
        self.asked: set[Edge] = set()  # edges some request asked for with that source
        scope = self.api.key.store_id
        assert scope is not None
        for product_id in insert_products(db, scope, POOL, "pool"):  # straight to the database: faster
            self.products.append(product_id)
            self.slots[product_id] = set()
        self.last_snapshot: Any = None  # the stored state the invariants last saw, if nothing was sent since
        self.checked_snapshot: Any = None  # the stored state the API was last read on
        self.watch: tuple[str, str] | None = None  # the (product, slug) listing the last step changed most
        self.checks = 0

    def add_product(self) -> None:
        body = {"data": {"type": "product", "attributes": {"name": "P", "commodity_type": "physical"}}}
        response = self.api.post("/pcm/products", json=body)
        assert response.status_code == 201, response.text
        product_id = response.json()["data"]["id"]
        self.products.append(product_id)
        self.slots[product_id] = set()

    # --- the model ------------------------------------------------------------------------------------------

    def spell(self, ref: Ref, source: str | None = None) -> str:
        kind, index, upper = ref
        if kind == "live" and self.products:
            raw = self.products[index % len(self.products)]
        elif kind == "self" and source is not None:
            raw = source
        elif kind == "gone" and self.gone:
            raw = self.gone[index % len(self.gone)]
        elif kind == "malformed":
            return f"product-{index}"
        else:
            raw = str(uuid.UUID(int=index + 1))
        return raw.upper() if upper else raw

    def product(self, raw: str) -> str | None:
        product_id = canonical(raw)
        return product_id if product_id in self.slots else None

    def count(self, slug: str, source: str) -> int:
        return sum(1 for s, src, _ in self.edges if s == slug and src == source)

    def drop_edges(self, slug: str, product: str, targets: Iterable[str] | None, *, both_ways: bool) -> None:
        """Remove product → targets under the slug (all its targets when None), and the reverse ones too."""
        wanted = None if targets is None else set(targets)
        for edge in list(self.edges):
            s, src, tgt = edge
            if s != slug:
                continue
            forward = src == product and (wanted is None or tgt in wanted)
            backward = both_ways and tgt == product and (wanted is None or src in wanted)
            if forward or backward:
                del self.edges[edge]

    # --- reading the stored state ---------------------------------------------------------------------------

    def snapshot(self) -> Any:
        """Everything a refused request must leave alone: associations, attached slugs (with their
        timestamps), products and definitions."""
        source, target = aliased(Product), aliased(Product)
        edges = (
            select(
                Association.pk,
                CustomRelationship.slug,
                source.id,
                target.id,
                Association.sort_order,
                Association.updated_at,
            )
            .join(CustomRelationship, CustomRelationship.pk == Association.relationship_pk)
            .join(source, source.pk == Association.source_pk)
            .join(target, target.pk == Association.target_pk)
        )
        slots = (
            select(Product.id, CustomRelationship.slug, ProductRelationshipSlot.attached_at)
            .join(ProductRelationshipSlot, ProductRelationshipSlot.product_pk == Product.pk)
            .join(CustomRelationship, CustomRelationship.pk == ProductRelationshipSlot.relationship_pk)
        )
        with self.db.sessions() as session:
            edge_rows = [
                StoredEdge(pk, slug, str(s), str(t), sort_order, updated_at)
                for pk, slug, s, t, sort_order, updated_at in session.execute(edges)
            ]
            slot_rows = sorted((str(p), slug, attached_at) for p, slug, attached_at in session.execute(slots))
            products = session.execute(select(Product.id, Product.updated_at, Product.version)).all()
            definitions = session.execute(
                select(CustomRelationship.slug, CustomRelationship.bi_directional, CustomRelationship.updated_at)
            ).all()
        return sorted(edge_rows, key=lambda e: e.pk), slot_rows, sorted(products), sorted(definitions)

    def send(self, method: str, url: str, expected: int, body: Any = None) -> Any:
        """Send a request the model predicted `expected` for; a refused one must change nothing."""
        before = self.last_snapshot or self.snapshot()
        self.last_snapshot = None
        self.watch = None
        response = self.api.request(method, url, json=body)
        self.outcomes[f"{method} {ROUTE_IDS.sub('{id}', url)} → {expected}"] += 1
        assert response.status_code == expected, f"{method} {url} {body!r}: {response.text}"
        if response.status_code >= 400:
            assert errors_of(response)[0]["title"] == TITLES[expected], response.text
            assert self.snapshot() == before, f"refused {method} {url} changed the stored state"
        return response

    # --- rules ----------------------------------------------------------------------------------------------

    @initialize(fillers=st.lists(st.integers(0, len(FILLERS)), min_size=POOL, max_size=POOL))
    def initial_slugs(self, fillers: list[int]) -> None:
        """Start with other relationships attached (up to four each), so that the five-per-product limit is
        within a step or two."""
        for product_id, count in zip(self.products, fillers, strict=True):
            if count:
                self.send(
                    "POST",
                    f"/pcm/products/{product_id}/custom-relationships",
                    201,
                    {"data": [{"type": "custom-relationship", "slug": s} for s in FILLERS[:count]]},
                )
                self.slots[product_id] |= set(FILLERS[:count])

    @rule(
        source=SOURCES,
        slug=st.sampled_from([UNI, BI]),
        items=st.lists(st.tuples(REFS, SORT_ORDERS), min_size=1, max_size=6),
    )
    def associate(self, source: Ref, slug: str, items: list[tuple[Ref, Any]]) -> None:
        self.associate_with(source, slug, items)

    @rule(source=SOURCES, path_slug=PATH_SLUGS, items=st.lists(st.tuples(REFS, SORT_ORDERS), min_size=1, max_size=6))
    def associate_again(self, source: Ref, path_slug: str, items: list[tuple[Ref, Any]]) -> None:
        """The same as `associate` (so that associating is drawn twice as often), slugs also unprefixed or unknown."""
        self.associate_with(source, path_slug, items)

    def associate_with(self, source: Ref, path_slug: str, items: list[tuple[Ref, Any]]) -> None:
        source_raw = self.spell(source)
        src = self.product(source_raw)
        raws = [self.spell(ref, source_raw) for ref, _ in items]
        body_items: list[dict[str, Any]] = []
        for raw, (_, sort_order) in zip(raws, items, strict=True):
            item: dict[str, Any] = {"type": "product", "id": raw}
            if sort_order != UNSET:
                item["attributes"] = {"sort_order": sort_order}
            body_items.append(item)
        slug = with_prefix(path_slug)
        url = f"/pcm/products/{source_raw}/custom-relationships/{path_slug}"
        if src is None or slug not in self.bi:
            self.send("POST", url, 404, {"data": body_items})
            return
        if slug not in self.slots[src] and len(self.slots[src]) >= MAX_SLUGS:
            response = self.send("POST", url, 422, {"data": body_items})
            assert errors_of(response)[0]["detail"] == AT_FIVE
            return

        # Seed 002 / SPEC §3.4, item by item in request order, repeated ids once.
        bi = self.bi[slug]
        sort_values: dict[str, list[Any]] = {}
        for raw, (_, sort_order) in zip(raws, items, strict=True):
            target = self.product(raw)
            if target is not None and sort_order != UNSET:
                sort_values.setdefault(target, []).append(sort_order)
        associated: list[str] = []
        refused: list[dict[str, str]] = []
        linked: set[str] = set()
        count = self.count(slug, src)
        new_edges: dict[Edge, Any] = {}
        new_slots: set[str] = set()
        updates: dict[Edge, Any] = {}
        for raw in dict.fromkeys(raws):
            target = self.product(raw)
            sort_order = one_sort_order(sort_values.get(target, [])) if target else UNSET
            if target is None:
                refused.append({"ID": raw, "Details": NOT_FOUND})
            elif target == src:
                refused.append({"ID": raw, "Details": SELF})
            elif target in linked:
                associated.append(raw)
            elif (slug, src, target) in self.edges:
                linked.add(target)
                associated.append(raw)
                if sort_order != UNSET:
                    updates[(slug, src, target)] = sort_order
            elif slug not in self.slots[target] and len(self.slots[target]) >= MAX_SLUGS:
                refused.append({"ID": raw, "Details": AT_FIVE})
            elif count >= LIMIT or (bi and (slug, target, src) not in self.edges and self.count(slug, target) >= LIMIT):
                refused.append({"ID": raw, "Details": AT_LIMIT})  # the source's list, or the target's reverse one
            else:
                count += 1
                linked.add(target)
                associated.append(raw)
                new_edges[(slug, src, target)] = None if sort_order == UNSET else sort_order
                if bi and (slug, target, src) not in self.edges:
                    new_edges[(slug, target, src)] = UNKNOWN_SORT
                new_slots.add(target)

        response = self.send("POST", url, 201, {"data": body_items})
        meta = response.json()["meta"]
        for reason in {r["Details"][:40] for r in refused}:
            self.outcomes[f"item refused: {reason}"] += 1
        assert meta["associated_products"] == associated
        assert meta["products_not_associated"] == refused
        self.slots[src].add(slug)
        for target in new_slots:
            self.slots[target].add(slug)
        self.edges.update(new_edges)
        self.edges.update(updates)
        self.asked |= {(slug, src, t) for t in linked}
        self.watch = (src, slug)

    @rule(source=SOURCES, path_slug=PATH_SLUGS, others=st.lists(REFS, max_size=4))
    def dissociate(self, source: Ref, path_slug: str, others: list[Ref]) -> None:
        source_raw = self.spell(source)
        src = self.product(source_raw)
        raws = [self.spell(ref, source_raw) for ref in others]
        slug = with_prefix(path_slug)
        body = {"data": [{"type": "product", "id": raw} for raw in raws]}
        url = f"/pcm/products/{source_raw}/custom-relationships/{path_slug}"
        if src is None or slug not in self.bi:
            self.send("DELETE", url, 404, body)
            return
        self.send("DELETE", url, 204, body)
        named = {t for t in (self.product(raw) for raw in raws) if t is not None}
        self.drop_edges(slug, src, named, both_ways=self.bi[slug])
        self.watch = (src, slug)

    @rule(
        product=SOURCES,
        slugs=st.lists(st.sampled_from([*DEFINITIONS, *FILLERS, "f1", "CRP_missing"]), min_size=1, max_size=4),
    )
    def attach(self, product: Ref, slugs: list[str]) -> None:
        """POST …/custom-relationships: at most five in all, else 422 and nothing attached (SPEC §3.3)."""
        raw = self.spell(product)
        product_id = self.product(raw)
        body = {"data": [{"type": "custom-relationship", "slug": s} for s in slugs]}
        url = f"/pcm/products/{raw}/custom-relationships"
        wanted = list(dict.fromkeys(with_prefix(s) for s in slugs))
        missing = [s for s in wanted if s not in self.bi]
        if product_id is None:
            self.send("POST", url, 404, body)
        elif missing:
            response = self.send("POST", url, 422, body)
            assert errors_of(response)[0]["meta"]["missing_ids"] == missing
        elif len(self.slots[product_id] | set(wanted)) > MAX_SLUGS:
            self.send("POST", url, 422, body)
        else:
            response = self.send("POST", url, 201, body)
            self.slots[product_id] |= set(wanted)
            listed = {item["attributes"]["slug"] for item in response.json()["data"]}
            assert listed == self.slots[product_id]
            self.watch = (product_id, UNI)

    @rule(product=SOURCES, slugs=st.lists(st.sampled_from([*DEFINITIONS, "bi", "CRP_missing"]), min_size=1, max_size=3))
    def detach(self, product: Ref, slugs: list[str]) -> None:
        """DELETE …/custom-relationships: also drops the product's associations under those slugs, and the
        reverse links of bi-directional ones (§B-16)."""
        raw = self.spell(product)
        product_id = self.product(raw)
        body = {"data": [{"type": "custom-relationship", "slug": s} for s in slugs]}
        expected = 404 if product_id is None else 204
        self.send("DELETE", f"/pcm/products/{raw}/custom-relationships", expected, body)
        if product_id is None:
            return
        for slug in {with_prefix(s) for s in slugs} & set(self.bi):
            self.drop_edges(slug, product_id, None, both_ways=self.bi[slug])
            self.slots[product_id].discard(slug)
            self.watch = (product_id, slug)

    @precondition(lambda self: len(self.products) > 4)
    @rule(product=SOURCES)
    def delete_product(self, product: Ref) -> None:
        """Deleting a product removes its associations in both directions and its slugs (SPEC §1.3)."""
        raw = self.spell(product)
        product_id = self.product(raw)
        self.send("DELETE", f"/pcm/products/{raw}", 404 if product_id is None else 204)
        if product_id is None:
            return
        self.products.remove(product_id)
        self.gone.append(product_id)
        del self.slots[product_id]
        self.edges = {e: v for e, v in self.edges.items() if product_id not in e[1:]}

    @precondition(lambda self: len(self.products) < POOL)
    @rule()
    def create_product(self) -> None:
        """Refill the pool after deletions (a new product carries no relationship)."""
        self.last_snapshot = None
        self.add_product()

    @precondition(lambda self: any(slug in (UNI, BI) for slug, _, _ in self.edges))
    @rule(which=st.sampled_from([UNI, BI]))
    def change_direction_in_use(self, which: str) -> None:
        """`bi_directional` cannot change while associations exist under the relationship (§B-14)."""
        slug = which if any(s == which for s, _, _ in self.edges) else ({UNI, BI} - {which}).pop()
        body = {
            "data": {"type": "custom-relationship", "id": slug, "attributes": {"bi_directional": not self.bi[slug]}}
        }
        self.send("PUT", f"/pcm/custom-relationships/{slug}", 422, body)

    @rule(
        variant=st.sampled_from(["no items", "wrong type", "no id", "too many items", "bad dissociate", "no slugs"]),
        source=SOURCES,
        path_slug=PATH_SLUGS,
    )
    def malformed_request(self, variant: str, source: Ref, path_slug: str) -> None:
        """Bodies refused before any rule is looked at (422), whatever the path names."""
        raw = self.spell(source)
        url = f"/pcm/products/{raw}/custom-relationships/{path_slug}"
        target = self.products[0] if self.products else str(uuid.UUID(int=1))
        if variant == "no items":
            self.send("POST", url, 422, {"data": []})
        elif variant == "wrong type":
            self.send("POST", url, 422, {"data": [{"type": "node", "id": target}]})
        elif variant == "no id":
            self.send("POST", url, 422, {"data": [{"type": "product"}]})
        elif variant == "too many items":  # over the request model's 5000 items
            self.send("POST", url, 422, {"data": [{"type": "product", "id": target}] * 5001})
        elif variant == "bad dissociate":
            self.send("DELETE", url, 422, {"data": [{"type": "product", "id": 5}]})
        else:
            self.send("POST", f"/pcm/products/{raw}/custom-relationships", 422, {"data": []})

    def teardown(self) -> None:
        """Whatever the example did through the API, `assortment check` finds nothing (SPEC §12.3)."""
        with self.db.sessions() as session:
            assert check_database(session) == []

    # --- invariants -------------------------------------------------------------------------------------------

    @invariant()
    def state_follows_the_rules_and_the_model(self) -> None:
        snapshot = self.snapshot()
        edges, slots = snapshot[0], [(product, slug) for product, slug, _ in snapshot[1]]
        keys = [(e.slug, e.source, e.target) for e in edges]
        assert len(keys) == len(set(keys)), "duplicate association"
        assert not [k for k in keys if k[1] == k[2]], "product associated with itself"
        per_source = Counter((slug, src) for slug, src, _ in keys)
        assert max(per_source.values(), default=0) <= LIMIT, per_source
        per_product = Counter(product for product, _ in slots)
        assert max(per_product.values(), default=0) <= MAX_SLUGS, per_product
        carried = set(slots)
        present = set(keys)
        for slug, src, tgt in keys:
            assert (src, slug) in carried, f"source {src} does not carry {slug}"
            if self.bi[slug]:
                assert (slug, tgt, src) in present, f"{slug}: {src}→{tgt} without {tgt}→{src}"
                assert (tgt, slug) in carried, f"bi-directional target {tgt} does not carry {slug}"
            else:
                assert (slug, src, tgt) in self.asked, f"{slug}: {src}→{tgt} made without being asked for"
        assert present == set(self.edges)
        for edge in edges:
            expected = self.edges[(edge.slug, edge.source, edge.target)]
            if expected != UNKNOWN_SORT:
                assert edge.sort_order == expected, edge
        assert {(p, s) for p, s in slots} == {(p, s) for p, ss in self.slots.items() for s in ss}
        if snapshot != self.checked_snapshot:  # else the API was read on this very state after the last step
            self.check_api(edges)
        self.last_snapshot = self.checked_snapshot = snapshot

    def check_api(self, edges: list[StoredEdge]) -> None:
        """The listing the last step changed, and one more in turn, show the stored associations in the order
        of SPEC §3.4 (sort_order ascending, unsorted after, then association order); the product object of
        the first shows its attached slugs."""
        self.checks += 1
        if not self.products:
            return
        turn = (self.products[self.checks % len(self.products)], (UNI, BI)[self.checks % 2])
        watched = [turn] if self.watch is None or self.watch[0] not in self.slots else [self.watch, turn]
        for product_id, slug in dict.fromkeys(watched):
            response = self.api.get(
                f"/pcm/products/{product_id}/custom-relationships/{slug}", params={"page[limit]": "100"}
            )
            assert response.status_code == 200, response.text
            listed = [(item["id"], item.get("attributes", {}).get("sort_order")) for item in response.json()["data"]]
            mine = [e for e in edges if e.slug == slug and e.source == product_id]
            mine.sort(key=lambda e: (e.sort_order is None, e.sort_order or 0, e.pk))
            assert listed == [(e.target, e.sort_order) for e in mine]
        product_id = watched[0][0]
        response = self.api.get(f"/pcm/products/{product_id}")
        assert response.status_code == 200, response.text
        assert set(response.json()["data"]["meta"]["custom_relationships"]) == self.slots[product_id]


def test_association_machine(db: Database, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relationship_rules, "MAX_ASSOCIATIONS", LIMIT)

    class Fresh(AssociationMachine):  # each example starts from empty tables (see __init__)
        def __init__(self) -> None:
            super().__init__(db, keys)

    AssociationMachine.outcomes.clear()
    run_state_machine_as_test(Fresh, settings=machine_settings())
    print(db.name, *sorted(AssociationMachine.outcomes.items()), sep="\n")
