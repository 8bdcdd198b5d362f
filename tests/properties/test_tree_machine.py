"""Hierarchies and nodes as a state machine: random creates, renames, moves, child-relationship requests and
deletes through the HTTP API, against a model of the expected tree (SPEC §2.3 R1–R5, §2.4, §2.6, seed 001).

After every step the whole tree is read back from the database and from the API, and checked twice: against
the rules on their own (one parent, in the same hierarchy; no cycle; sibling names and slugs unique,
exactly and case-sensitively, top-level nodes being siblings under the hierarchy) and against the model.
Every request's status is predicted by the model; a refused one must answer with the `{"errors": [...]}`
body and leave the stored tree exactly as it was (timestamps included).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

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

from assortment.db.models import Hierarchy, Node
from assortment.domain.integrity import check_database
from tests.conftest import Caller, Database, Keys, empty_tables
from tests.helpers import errors_of
from tests.properties import ROUTE_IDS, TITLES, canonical, machine_settings

# Small pools, so that names and slugs collide often; case variants must not collide (§B-9).
NAMES = ("Shoes", "shoes", "Boots", "Hats", "Socks", "Bags")
SLUGS = (None, None, "shoes", "Shoes", "boots", "hats")
UNSET = "unset"  # a member the request leaves out
SORT_ORDERS = st.sampled_from([UNSET, UNSET, UNSET, None, 0, 1, 2, -1])

# How a request names a node: (kind, index, spelt in upper case). "kin" (a node of the same hierarchy),
# "self", "descendant" and "ancestor" are relative to the node the request is about (the node moved, the
# parent of a children request); "live" is any node of any hierarchy.
Ref = tuple[str, int, bool]
REF_KINDS = [
    *["kin"] * 16,
    *["live"] * 2,
    *["descendant", "deep", "deep"],
    *["self", "ancestor", "top", "gone", "unknown", "malformed", "hierarchy"],
]
REFS: st.SearchStrategy[Ref] = st.tuples(
    st.sampled_from(REF_KINDS), st.integers(0, 1000), st.sampled_from([False, False, False, True])
)
# Which hierarchy a path names: the node's own, the other one, or one that does not exist.
PATHS = st.sampled_from(["own"] * 12 + ["other", "unknown"])

UNKNOWN_HIERARCHY = str(uuid.UUID(int=0xDEAD))


@dataclass(frozen=True)
class ModelNode:
    hierarchy: str
    parent: str | None
    name: str
    slug: str | None
    sort_order: int | None


@dataclass(frozen=True)
class StoredNode:
    id: str
    hierarchy: str
    parent: str | None
    parent_hierarchy: str | None
    name: str
    slug: str | None
    sort_order: int | None
    updated_at: Any


def has_duplicates(values: Iterable[Any]) -> bool:
    counts = Counter(v for v in values if v is not None)
    return any(c > 1 for c in counts.values())


def in_child_order(nodes: Iterable[StoredNode]) -> list[str]:
    """§2.4: nodes with a sort_order first, highest first; then most recently updated first; then by id
    (stable sorts, least significant key first)."""
    ordered = sorted(nodes, key=lambda n: uuid.UUID(n.id).hex)
    ordered.sort(key=lambda n: n.updated_at, reverse=True)
    ordered.sort(key=lambda n: (n.sort_order is None, -(n.sort_order or 0)))
    return [n.id for n in ordered]


class TreeMachine(RuleBasedStateMachine):
    outcomes: ClassVar[Counter[str]] = Counter()  # what the requests were expected to answer, for -s runs

    def __init__(self, db: Database, keys: Keys) -> None:
        super().__init__()
        self.db = db
        empty_tables(db)
        self.api: Caller = keys.caller()
        self.hierarchies: list[str] = []
        self.hierarchy_names: dict[str, str] = {}
        for name in ("Catalogue", "Outlet"):
            response = self.api.post(
                "/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": name}}}
            )
            assert response.status_code == 201, response.text
            hid = response.json()["data"]["id"]
            self.hierarchies.append(hid)
            self.hierarchy_names[hid] = name
        self.nodes: dict[str, ModelNode] = {}
        self.created: list[str] = []  # every node id ever created, in creation order
        self.touched: set[str] = set()  # nodes (or hierarchies) whose children the last step changed
        self.last_snapshot: Any = None  # the stored state the invariants last saw, if nothing was sent since
        self.checked_snapshot: Any = None  # the stored state the API was last read on
        self.checks = 0

    # --- the model's view of the tree --------------------------------------------------------------------

    def live(self) -> list[str]:
        return [n for n in self.created if n in self.nodes]

    def node_in(self, raw: str, hid: str) -> str | None:
        """The node a raw id names in a hierarchy, as the service must resolve it (any UUID spelling)."""
        node_id = canonical(raw)
        if node_id is None or node_id not in self.nodes or self.nodes[node_id].hierarchy != hid:
            return None
        return node_id

    def children_of(self, hid: str, parent: str | None) -> list[str]:
        return [n for n in self.live() if self.nodes[n].hierarchy == hid and self.nodes[n].parent == parent]

    def subtree(self, node_id: str) -> set[str]:
        found = {node_id}
        frontier = [node_id]
        while frontier:
            current = frontier.pop()
            for n, node in self.nodes.items():
                if node.parent == current and n not in found:
                    found.add(n)
                    frontier.append(n)
        return found

    def chain(self, node_id: str) -> list[str]:
        """The node's top-level ancestor … the node itself."""
        path = [node_id]
        while (parent := self.nodes[path[-1]].parent) is not None:
            path.append(parent)
        return path[::-1]

    def clashes(self, hid: str, parent: str | None, arriving: Iterable[str], changed: dict[str, ModelNode]) -> bool:
        """R1 under `parent` once `arriving` (with their attributes in `changed`, if any) sit there."""
        moving = list(dict.fromkeys(arriving))
        staying = [n for n in self.children_of(hid, parent) if n not in moving]
        entries = [changed[n] if n in changed else self.nodes[n] for n in [*staying, *moving]]
        return has_duplicates(e.name for e in entries) or has_duplicates(e.slug for e in entries)

    # --- naming things in requests ------------------------------------------------------------------------

    def spell(self, ref: Ref, anchor: str | None, hierarchy: str | None = None, role: str = "") -> str:
        """A raw id for `ref`. With `role` "parent", "kin" avoids the anchor's subtree (a valid new parent
        for it); with "child", the anchor and its ancestors (a valid new child of it)."""
        kind, index, upper = ref
        live = self.live()
        candidates: list[str] = []
        if kind == "live":
            candidates = live
        elif kind == "kin":
            if hierarchy is None and anchor in self.nodes:
                hierarchy = self.nodes[anchor].hierarchy
            avoid = {anchor}
            if anchor in self.nodes and role:
                avoid |= self.subtree(anchor) if role == "parent" else set(self.chain(anchor))
            candidates = [n for n in live if n not in avoid and hierarchy in (None, self.nodes[n].hierarchy)]
        elif kind == "self" and anchor in self.nodes:
            candidates = [anchor]
        elif kind == "descendant" and anchor in self.nodes:
            candidates = sorted(self.subtree(anchor) - {anchor}, key=self.created.index)
        elif kind == "deep":  # the deepest descendant of the anchor, or the deepest node of the hierarchy
            if anchor in self.nodes:
                pool = sorted(self.subtree(anchor) - {anchor}, key=self.created.index)
            else:
                pool = [n for n in live if hierarchy in (None, self.nodes[n].hierarchy)]
            candidates = sorted(pool, key=lambda n: len(self.chain(n)))[-1:]
        elif kind == "ancestor" and anchor in self.nodes:
            candidates = self.chain(anchor)[:-1]
        elif kind == "top" and anchor in self.nodes:
            candidates = self.chain(anchor)[:-2] or self.chain(anchor)[:-1]
        elif kind == "gone":
            candidates = [n for n in self.created if n not in self.nodes]
        elif kind == "malformed":
            return f"node-{index}"
        elif kind == "hierarchy":
            return self.hierarchies[index % 2]
        if kind == "unknown":
            raw = str(uuid.UUID(int=index + 1))
        elif candidates:
            raw = candidates[index % len(candidates)]
        elif live:
            raw = live[index % len(live)]
        else:
            raw = str(uuid.UUID(int=index + 1))
        return raw.upper() if upper else raw

    def path_hierarchy(self, choice: str, about: str | None) -> str:
        node_id = None if about is None else canonical(about)
        own = self.nodes[node_id].hierarchy if node_id in self.nodes else self.hierarchies[0]
        if choice == "own":
            return own
        if choice == "other":
            return self.hierarchies[1] if own == self.hierarchies[0] else self.hierarchies[0]
        return UNKNOWN_HIERARCHY

    # --- reading the stored state -------------------------------------------------------------------------

    def snapshot(self) -> tuple[dict[str, StoredNode], list[Any]]:
        """Every stored node (timestamps included) and every hierarchy: what a refused request must leave
        alone, and what the invariants check."""
        parent = aliased(Node)
        parent_hierarchy = aliased(Hierarchy)
        query = (
            select(
                Node.id,
                Hierarchy.id,
                parent.id,
                parent_hierarchy.id,
                Node.name,
                Node.slug,
                Node.sort_order,
                Node.updated_at,
            )
            .join(Hierarchy, Hierarchy.pk == Node.hierarchy_pk)
            .outerjoin(parent, parent.pk == Node.parent_pk)
            .outerjoin(parent_hierarchy, parent_hierarchy.pk == parent.hierarchy_pk)
        )
        with self.db.sessions() as session:
            rows = session.execute(query).all()
            hierarchies = sorted((str(h.id), h.name, h.updated_at) for h in session.scalars(select(Hierarchy)))
        nodes = {
            str(nid): StoredNode(
                str(nid),
                str(hid),
                None if pid is None else str(pid),
                None if phid is None else str(phid),
                name,
                slug,
                sort_order,
                updated_at,
            )
            for nid, hid, pid, phid, name, slug, sort_order, updated_at in rows
        }
        return nodes, hierarchies

    def send(self, method: str, url: str, expected: int, body: Any = None, content: str | None = None) -> Any:
        """Send a request the model predicted `expected` for; a refused one must change nothing."""
        before = self.last_snapshot or self.snapshot()
        self.last_snapshot = None  # (until the invariants read the state again)
        self.touched = set()
        kwargs: dict[str, Any] = {}
        if content is not None:
            kwargs = {"content": content, "headers": {"Content-Type": "application/json"}}
        elif body is not None:
            kwargs = {"json": body}
        response = self.api.request(method, url, **kwargs)
        self.outcomes[f"{method} {ROUTE_IDS.sub('{id}', url)} → {expected}"] += 1
        assert response.status_code == expected, f"{method} {url} {body or content!r}: {response.text}"
        if response.status_code >= 400:
            assert errors_of(response)[0]["title"] == TITLES[expected], response.text
            assert self.snapshot() == before, f"refused {method} {url} changed the stored tree"
        return response

    # --- rules ------------------------------------------------------------------------------------------------

    @initialize(
        nodes=st.lists(
            st.tuples(
                st.integers(0, 1),
                st.sampled_from([None, "kin", "deep", "deep"]),
                st.integers(0, 100),
                st.sampled_from(SLUGS),
            ),
            min_size=3,
            max_size=len(NAMES),
        )
    )
    def initial_nodes(self, nodes: list[tuple[int, str | None, int, str | None]]) -> None:
        """Start from a small tree, often a deep one (distinct names; slugs may clash), so that the rules find
        nodes to work on and cycles to attempt through several levels."""
        for name, (where, kind, index, slug) in zip(NAMES, nodes, strict=False):
            parent = None if kind is None else (kind, index, False)
            self.create(self.hierarchies[where], parent, name, slug, UNSET)

    @rule(
        where=st.sampled_from([0, 0, 0, 1, 1, 1, "unknown"]),
        parent=st.one_of(st.none(), REFS, REFS),
        name=st.sampled_from(NAMES),
        slug=st.sampled_from(SLUGS),
        sort_order=SORT_ORDERS,
    )
    def create_node(self, where: Any, parent: Ref | None, name: str, slug: str | None, sort_order: Any) -> None:
        self.create(
            UNKNOWN_HIERARCHY if where == "unknown" else self.hierarchies[where], parent, name, slug, sort_order
        )

    def create(self, hid: str, parent: Ref | None, name: str, slug: str | None, sort_order: Any) -> None:
        """POST a node: R2/R5 for the parent, R1 among its future siblings."""
        data: dict[str, Any] = {"type": "node", "attributes": {"name": name}}
        if slug is not None:
            data["attributes"]["slug"] = slug
        parent_raw = None if parent is None else self.spell(parent, None, hid)
        if parent_raw is not None:
            data["relationships"] = {"parent": {"data": {"type": "node", "id": parent_raw}}}
        if sort_order != UNSET:
            data["meta"] = {"sort_order": sort_order}
        parent_id = None if parent_raw is None else self.node_in(parent_raw, hid)
        if hid == UNKNOWN_HIERARCHY:
            expected, missing = 404, None
        elif parent_raw is not None and parent_id is None:
            expected, missing = 422, [parent_raw]
        elif self.clashes(hid, parent_id, ["new"], {"new": ModelNode(hid, parent_id, name, slug, None)}):
            expected, missing = 422, None
        else:
            expected, missing = 201, None
        response = self.send("POST", f"/pcm/hierarchies/{hid}/nodes", expected, {"data": data})
        if expected == 422 and missing is not None:
            assert errors_of(response)[0]["meta"]["missing_ids"] == missing
        if expected != 201:
            return
        created = response.json()["data"]
        node_id = created["id"]
        assert canonical(node_id) == node_id and node_id not in self.created
        self.nodes[node_id] = ModelNode(hid, parent_id, name, slug, None if sort_order == UNSET else sort_order)
        self.created.append(node_id)
        self.touched = {parent_id or hid}

    @rule(
        node=REFS,
        path=PATHS,
        name=st.sampled_from([*NAMES, UNSET, UNSET, None]),
        slug=st.sampled_from([*SLUGS, UNSET, UNSET]),
        sort_order=SORT_ORDERS,
    )
    def update_node(self, node: Ref, path: str, name: Any, slug: Any, sort_order: Any) -> None:
        """PUT a node: renames and reslugs re-check R1 against the node's siblings (the node itself excluded)."""
        raw = self.spell(node, None)
        hid = self.path_hierarchy(path, raw)
        attributes: dict[str, Any] = {}
        if name != UNSET:
            attributes["name"] = name
        if slug != UNSET:
            attributes["slug"] = slug
        data: dict[str, Any] = {"type": "node", "id": raw, "attributes": attributes}
        if sort_order != UNSET:
            data["meta"] = {"sort_order": sort_order}
        node_id = self.node_in(raw, hid)
        updated: ModelNode | None = None
        if node_id is None:
            expected = 404
        elif name is None:
            expected = 422
        else:
            current = self.nodes[node_id]
            updated = replace(
                current,
                name=current.name if name == UNSET else name,
                slug=current.slug if slug == UNSET else slug,
                sort_order=current.sort_order if sort_order == UNSET else sort_order,
            )
            renamed = (updated.name, updated.slug) != (current.name, current.slug)
            clash = renamed and self.clashes(hid, current.parent, [node_id], {node_id: updated})
            expected = 422 if clash else 200
        response = self.send("PUT", f"/pcm/hierarchies/{hid}/nodes/{raw}", expected, {"data": data})
        if expected == 200 and node_id is not None and updated is not None:
            self.nodes[node_id] = updated
            self.touched = {updated.parent or hid}
            assert response.json()["data"]["id"] == node_id

    @rule(node=REFS, parent=REFS, path=PATHS)
    def move_node(self, node: Ref, parent: Ref, path: str) -> None:
        """PUT relationships/parent: R2 (same hierarchy), R3 (not itself), R4 (not under a descendant), R1."""
        raw = self.spell(node, None)
        hid = self.path_hierarchy(path, raw)
        node_id = self.node_in(raw, hid)
        parent_raw = self.spell(parent, node_id, role="parent")
        parent_id = self.node_in(parent_raw, hid)
        missing = None
        if node_id is None:
            expected = 404
        elif parent_raw == raw:
            expected = 422
        elif parent_id is None:
            expected, missing = 422, [parent_raw]
        elif parent_id in self.subtree(node_id) or self.clashes(hid, parent_id, [node_id], {}):
            expected = 422
        else:
            expected = 204
        url = f"/pcm/hierarchies/{hid}/nodes/{raw}/relationships/parent"
        response = self.send("PUT", url, expected, {"data": {"type": "node", "id": parent_raw}})
        if missing is not None:
            assert errors_of(response)[0]["meta"]["missing_ids"] == missing
        if expected == 204 and node_id is not None:
            self.touched = {self.nodes[node_id].parent or hid, parent_id or hid}
            self.nodes[node_id] = replace(self.nodes[node_id], parent=parent_id)

    @rule(node=REFS, path=PATHS)
    def make_top_level_by_parent_delete(self, node: Ref, path: str) -> None:
        """DELETE relationships/parent: the node becomes top-level; R1 at the root; already top-level: no-op."""
        raw = self.spell(node, None)
        hid = self.path_hierarchy(path, raw)
        node_id = self.node_in(raw, hid)
        if node_id is None:
            expected = 404
        elif self.nodes[node_id].parent is not None and self.clashes(hid, None, [node_id], {}):
            expected = 422
        else:
            expected = 204
        self.send("DELETE", f"/pcm/hierarchies/{hid}/nodes/{raw}/relationships/parent", expected)
        if expected == 204 and node_id is not None:
            self.touched = {self.nodes[node_id].parent or hid, hid}
            self.nodes[node_id] = replace(self.nodes[node_id], parent=None)

    @rule(
        parent=st.one_of(st.none(), REFS, REFS, REFS),
        items=st.lists(st.tuples(REFS, SORT_ORDERS), min_size=1, max_size=3),
        path=PATHS,
    )
    def set_children(self, parent: Ref | None, items: list[tuple[Ref, Any]], path: str) -> None:
        """POST relationships/children on a node (seed 001) or, without a parent, on the hierarchy."""
        parent_raw = None if parent is None else self.spell(parent, None)
        anchor = None if parent_raw is None else canonical(parent_raw)
        raws = [self.spell(ref, anchor, role="child") for ref, _ in items]
        about = parent_raw if parent_raw is not None else next((r for r in raws if canonical(r) in self.nodes), None)
        hid = self.path_hierarchy(path, about)
        body_items: list[dict[str, Any]] = []
        for raw, (_, sort_order) in zip(raws, items, strict=True):
            item: dict[str, Any] = {"type": "node", "id": raw}
            if sort_order != UNSET:
                item["meta"] = {"sort_order": sort_order}
            body_items.append(item)
        parent_id = None if parent_raw is None else self.node_in(parent_raw, hid)
        resolved = [self.node_in(raw, hid) for raw in raws]
        moving = [n for n in resolved if n is not None]
        missing = list(dict.fromkeys(raw for raw, n in zip(raws, resolved, strict=True) if n is None))
        reasons: set[str] = set()
        if hid == UNKNOWN_HIERARCHY or (parent_raw is not None and parent_id is None):
            expected = 404
        else:
            if parent_raw is not None and parent_raw in raws:
                reasons.add("own parent")
            if missing:
                reasons.add("missing")
            if parent_id is not None and any(parent_id in self.subtree(n) for n in moving):
                reasons.add("cycle")
            if not reasons and self.clashes(hid, parent_id, moving, {}):
                reasons.add("siblings")
            expected = 422 if reasons else 200
        url = f"/pcm/hierarchies/{hid}" if parent_raw is None else f"/pcm/hierarchies/{hid}/nodes/{parent_raw}"
        response = self.send("POST", f"{url}/relationships/children", expected, {"data": body_items})
        for reason in reasons:
            self.outcomes[f"children refused: {reason}"] += 1
        if reasons == {"missing"}:
            assert errors_of(response)[0]["meta"]["missing_ids"] == missing
        if expected != 200:
            return
        document = response.json()["data"]
        assert document["id"] == (hid if parent_id is None else parent_id)
        assert document["type"] == ("hierarchy" if parent_id is None else "node")
        self.touched = {parent_id or hid, *((self.nodes[n].parent or hid) for n in moving)}
        for node_id, (_, sort_order) in zip(resolved, items, strict=True):
            assert node_id is not None
            current = self.nodes[node_id]
            self.nodes[node_id] = replace(
                current,
                parent=parent_id,
                sort_order=current.sort_order if sort_order == UNSET else sort_order,
            )

    @rule(method=st.sampled_from(["PUT", "DELETE"]), parent=REFS, child=REFS, path=PATHS)
    def children_with_other_methods(self, method: str, parent: Ref, child: Ref, path: str) -> None:
        """Seed 001 documents only POST on relationships/children: PUT and DELETE are refused (405)."""
        parent_raw = self.spell(parent, None)
        hid = self.path_hierarchy(path, parent_raw)
        body = {"data": [{"type": "node", "id": self.spell(child, canonical(parent_raw))}]}
        self.send(method, f"/pcm/hierarchies/{hid}/nodes/{parent_raw}/relationships/children", 405, body)

    @precondition(lambda self: len(self.nodes) > 3)
    @rule(node=REFS, path=PATHS)
    def delete_node(self, node: Ref, path: str) -> None:
        """DELETE a node: its whole subtree goes."""
        raw = self.spell(node, None)
        hid = self.path_hierarchy(path, raw)
        node_id = self.node_in(raw, hid)
        self.send("DELETE", f"/pcm/hierarchies/{hid}/nodes/{raw}", 404 if node_id is None else 204)
        if node_id is not None:
            self.touched = {self.nodes[node_id].parent or hid}
            for gone in self.subtree(node_id):
                del self.nodes[gone]

    @rule(
        variant=st.sampled_from(
            [
                "invalid json",
                "no children",
                "child of wrong type",
                "children not a list",
                "no name",
                "empty name",
                "bad slug",
                "parent without id",
                "node id mismatch",
            ]
        ),
        node=REFS,
    )
    def malformed_request(self, variant: str, node: Ref) -> None:
        """Bodies that fail before any rule is checked: 400 for broken JSON, 422 for the rest."""
        raw = self.spell(node, None)
        hid = self.path_hierarchy("own", raw)
        base = f"/pcm/hierarchies/{hid}/nodes/{raw}"
        if variant == "invalid json":
            self.send("POST", f"{base}/relationships/children", 400, content='{"data": [')
        elif variant == "no children":
            self.send("POST", f"{base}/relationships/children", 422, {"data": []})
        elif variant == "child of wrong type":
            self.send("POST", f"{base}/relationships/children", 422, {"data": [{"type": "product", "id": raw}]})
        elif variant == "children not a list":
            self.send("POST", f"{base}/relationships/children", 422, {"data": {"type": "node", "id": raw}})
        elif variant in ("no name", "empty name", "bad slug"):
            attributes = {
                "no name": {"slug": "x"},
                "empty name": {"name": ""},
                "bad slug": {"name": "n", "slug": "a b"},
            }
            body = {"data": {"type": "node", "attributes": attributes[variant]}}
            self.send("POST", f"/pcm/hierarchies/{hid}/nodes", 422, body)
        elif variant == "parent without id":
            self.send("PUT", f"{base}/relationships/parent", 422, {"data": {"type": "node"}})
        elif variant == "node id mismatch":
            expected = 422 if self.node_in(raw, hid) is not None else 404
            body = {"data": {"type": "node", "id": str(uuid.UUID(int=7)), "attributes": {"name": "Other"}}}
            self.send("PUT", base, expected, body)

    def teardown(self) -> None:
        """Whatever the example did through the API, `assortment check` finds nothing (SPEC §12.3)."""
        with self.db.sessions() as session:
            assert check_database(session) == []

    # --- invariants ---------------------------------------------------------------------------------------------

    @invariant()
    def state_follows_the_rules_and_the_model(self) -> None:
        snapshot = self.snapshot()
        stored = snapshot[0]
        self.check_stored_tree(stored)
        if snapshot != self.checked_snapshot:  # else the API was read on this very state after the last step
            self.check_api(stored)
            # The children lists the last step changed, or else another one in turn.
            parents = [*self.hierarchies, *self.live()]
            self.checks += 1
            for parent in self.touched or {parents[self.checks % len(parents)]}:
                self.check_children(parent, stored)
        self.last_snapshot = self.checked_snapshot = snapshot

    def check_stored_tree(self, stored: dict[str, StoredNode]) -> None:
        for node in stored.values():
            assert node.hierarchy in self.hierarchies
            if node.parent is not None:  # one parent, in the same hierarchy (R2)
                assert node.parent in stored, node
                assert node.parent_hierarchy == node.hierarchy, node
            seen = {node.id}  # walking up always ends at a top-level node (R4)
            current = node
            while current.parent is not None:
                current = stored[current.parent]
                assert current.id not in seen, f"cycle through {current.id}"
                seen.add(current.id)
        siblings: dict[tuple[str, str | None], list[StoredNode]] = {}
        for node in stored.values():
            siblings.setdefault((node.hierarchy, node.parent), []).append(node)
        for key, group in siblings.items():  # R1: exact, case-sensitive; top-level nodes are siblings
            assert not has_duplicates(n.name for n in group), (key, [n.name for n in group])
            assert not has_duplicates(n.slug for n in group), (key, [n.slug for n in group])
        actual = {n.id: ModelNode(n.hierarchy, n.parent, n.name, n.slug, n.sort_order) for n in stored.values()}
        assert actual == self.nodes

    def check_api(self, stored: dict[str, StoredNode]) -> None:
        """Every node object, as the API lists them (all hierarchies in one listing)."""
        response = self.api.get("/pcm/hierarchies/nodes", params={"page[limit]": "100"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"]["results"]["total"] == len(self.nodes)
        assert {item["id"] for item in body["data"]} == set(self.nodes)
        for item in body["data"]:
            node = self.nodes[item["id"]]
            hid = node.hierarchy
            assert item["attributes"]["name"] == node.name
            assert item["attributes"].get("slug") == node.slug
            parent = item["relationships"].get("parent")
            assert (None if parent is None else parent["data"]["id"]) == node.parent
            meta = item["meta"]
            assert meta["hierarchy_id"] == hid
            assert meta.get("sort_order") == node.sort_order
            parent_name = self.hierarchy_names[hid] if node.parent is None else self.nodes[node.parent].name
            assert meta["parent_name"] == parent_name
            assert [c["id"] for c in meta["breadcrumbs"]] == [hid, *self.chain(item["id"])]

    def check_children(self, parent: str, stored: dict[str, StoredNode]) -> None:
        """A children listing holds exactly the model's children, in the §2.4 order."""
        if parent in self.hierarchies:
            hid, parent_id, url = parent, None, f"/pcm/hierarchies/{parent}/children"
        elif parent in self.nodes:
            hid, parent_id = self.nodes[parent].hierarchy, parent
            url = f"/pcm/hierarchies/{hid}/nodes/{parent}/children"
        else:
            return
        response = self.api.get(url, params={"page[limit]": "100"})
        assert response.status_code == 200, response.text
        listed = [item["id"] for item in response.json()["data"]]
        assert listed == in_child_order(stored[n] for n in self.children_of(hid, parent_id))


def test_tree_machine(db: Database, keys: Keys) -> None:
    class Fresh(TreeMachine):  # each example starts from empty tables (see __init__)
        def __init__(self) -> None:
            super().__init__(db, keys)

    TreeMachine.outcomes.clear()
    run_state_machine_as_test(Fresh, settings=machine_settings())
    print(db.name, *sorted(TreeMachine.outcomes.items()), sep="\n")
