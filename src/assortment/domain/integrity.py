"""`assortment check` (SPEC §12.3): read the whole database and report every broken invariant.

The API never writes these states; they come from a database restored, copied or edited by hand, a
foreign key switched off, or a bug. Each check has a stable name (the `check` of a problem), so scripts
and tests can tell them apart:

| check | what is wrong |
|---|---|
| `node_parent_in_other_hierarchy` | a node's parent belongs to another hierarchy |
| `node_cycle` | following parents from a node comes back to it |
| `duplicate_sibling_name`, `duplicate_sibling_slug` | siblings share a name / a slug |
| `too_many_curated_products` | a node curates more than 20 products |
| `curated_product_not_linked` | a node curates a product not linked to it (or no product at all) |
| `too_many_custom_relationships` | a product carries more than 5 custom relationships |
| `too_many_associations` | a product has more than 2000 associations under one slug |
| `association_without_reverse` | a bi-directional association has no reverse |
| `association_not_attached` | an association's source does not carry its relationship |
| `association_with_itself` | a product is associated with itself |
| `missing_row` | a row names a row that does not exist (a foreign key, a release row's release, inside a release) |
| `release_counts` | a release's stored product or node count disagrees with its rows |
| `latest_release` | a catalog names as its latest a release it does not have, or none while it has releases |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from assortment.db.repositories import integrity as repo
from assortment.domain.relationship_rules import MAX_ASSOCIATIONS, MAX_RELATIONSHIPS_PER_PRODUCT
from assortment.domain.tree_rules import MAX_CURATED_PRODUCTS

# Problems reported per check at most: a badly broken database would otherwise print millions of lines.
PER_CHECK_LIMIT = 1000

CHECKS = (
    "node_parent_in_other_hierarchy",
    "node_cycle",
    "duplicate_sibling_name",
    "duplicate_sibling_slug",
    "too_many_curated_products",
    "curated_product_not_linked",
    "too_many_custom_relationships",
    "too_many_associations",
    "association_without_reverse",
    "association_not_attached",
    "association_with_itself",
    "missing_row",
    "release_counts",
    "latest_release",
    "product_count",
)


@dataclass(frozen=True)
class Problem:
    check: str
    entity_type: str
    entity_id: str
    detail: str

    def document(self) -> dict[str, str]:
        return asdict(self)


def check_database(session: Session, limit: int = PER_CHECK_LIMIT) -> list[Problem]:
    """Every problem found, check by check in the order of CHECKS. At most `limit` per check; a check
    that reaches it adds one more problem saying so."""
    problems: list[Problem] = []
    for name, run in _CHECKS.items():
        found = run(session, limit)
        problems.extend(found[:limit])
        if len(found) >= limit:
            problems.append(Problem(name, "database", "", f"stopped after {limit} problems of this kind"))
    return problems


def report_document(problems: list[Problem]) -> dict[str, Any]:
    return {"ok": not problems, "problems": [p.document() for p in problems]}


# --- the checks ---------------------------------------------------------------------------------------


def _parents_elsewhere(session: Session, limit: int) -> list[Problem]:
    return [
        Problem(
            "node_parent_in_other_hierarchy",
            "node",
            str(node_id),
            f"node of hierarchy {hierarchy_id} has a parent in hierarchy {parent_hierarchy_id}",
        )
        for node_id, hierarchy_id, parent_hierarchy_id in repo.nodes_with_parent_elsewhere(session, limit)
    ]


def find_cycles(parents: dict[int, int]) -> list[list[int]]:
    """The cycles of a parent map ({child: parent}), each once, as its members starting from the smallest,
    in parent order. Nodes that merely hang below a cycle are not part of it."""
    state: dict[int, int] = {}  # 1: on the path being walked, 2: done
    cycles: list[list[int]] = []
    for start in parents:
        path: list[int] = []
        node: int | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parents.get(node)
        if node is not None and state[node] == 1:  # came back to the path being walked: a new cycle
            members = path[path.index(node) :]
            first = members.index(min(members))
            cycles.append(members[first:] + members[:first])
        for member in path:
            state[member] = 2
    return cycles


def _cycles(session: Session, limit: int) -> list[Problem]:
    cycles = find_cycles(repo.parent_links(session))[:limit]
    ids = repo.node_ids(session, sorted({pk for cycle in cycles for pk in cycle}))
    return [
        Problem(
            "node_cycle",
            "node",
            str(ids[cycle[0]]),
            "parents form a cycle: " + " → ".join(str(ids[pk]) for pk in [*cycle, cycle[0]]),
        )
        for cycle in cycles
    ]


def _duplicates(field: str) -> Callable[[Session, int], list[Problem]]:
    def run(session: Session, limit: int) -> list[Problem]:
        return [
            Problem(
                f"duplicate_sibling_{field}",
                group.parent_type,
                str(group.parent_id),
                f"{len(group.node_ids)} {'top-level nodes' if group.parent_type == 'hierarchy' else 'children'} "
                f"have the {field} {group.value!r}: " + ", ".join(str(i) for i in group.node_ids),
            )
            for group in repo.duplicate_siblings(session, field, limit)
        ]

    return run


def _curated(session: Session, limit: int, *, count_only: bool) -> list[Problem]:
    lists = repo.curated_lists(session)
    problems: list[Problem] = []
    if count_only:
        for _pk, node_id, curated in lists:
            if len(curated) > MAX_CURATED_PRODUCTS:
                problems.append(
                    Problem(
                        "too_many_curated_products",
                        "node",
                        str(node_id),
                        f"{len(curated)} curated products, at most {MAX_CURATED_PRODUCTS} allowed",
                    )
                )
        return problems[:limit]
    linked = repo.linked_product_ids(session, [pk for pk, _id, _curated in lists])
    for pk, node_id, curated in lists:
        unlinked = [str(c) for c in curated if str(c) not in linked[pk]]
        if unlinked:
            problems.append(
                Problem(
                    "curated_product_not_linked",
                    "node",
                    str(node_id),
                    "curated products not linked to the node: " + ", ".join(unlinked),
                )
            )
    return problems[:limit]


def _too_many_slots(session: Session, limit: int) -> list[Problem]:
    return [
        Problem(
            "too_many_custom_relationships",
            "product",
            str(product_id),
            f"{count} custom relationships attached, at most {MAX_RELATIONSHIPS_PER_PRODUCT} allowed",
        )
        for product_id, count in repo.products_with_slots_over(session, MAX_RELATIONSHIPS_PER_PRODUCT, limit)
    ]


def _too_many_associations(session: Session, limit: int) -> list[Problem]:
    return [
        Problem(
            "too_many_associations",
            "product",
            str(product_id),
            f"{count} associations under {slug!r}, at most {MAX_ASSOCIATIONS} allowed",
        )
        for product_id, slug, count in repo.association_lists_over(session, MAX_ASSOCIATIONS, limit)
    ]


def _edge_problems(
    check: str, find: Callable[[Session, int], list[repo.Edge]], says: str
) -> Callable[[Session, int], list[Problem]]:
    def run(session: Session, limit: int) -> list[Problem]:
        return [
            Problem(
                check,
                "association",
                str(edge.pk),
                f"{edge.source_id} → {edge.target_id} under {edge.slug!r}: {says}",
            )
            for edge in find(session, limit)
        ]

    return run


def _missing_rows(session: Session, limit: int) -> list[Problem]:
    problems = [
        Problem(
            "missing_row",
            orphan.table,
            orphan.row,
            f"{orphan.table}.{orphan.column} = {orphan.value} names no {orphan.target}",
        )
        for orphan in [*repo.foreign_key_orphans(session, limit), *repo.rows_without_their_release(session, limit)]
    ][:limit]
    if len(problems) >= limit:
        return problems
    for orphan in repo.release_orphans(session, limit - len(problems)):
        problems.append(
            Problem(
                "missing_row",
                "catalog_release",
                str(orphan.release_id),
                f"{orphan.table}.{orphan.column} = {orphan.value} names no {orphan.target} of the release",
            )
        )
    return problems


def _release_counts(session: Session, limit: int) -> list[Problem]:
    problems = []
    for release_id, total_products, product_rows, total_nodes, node_rows in repo.release_counts(session, limit):
        wrong = []
        if total_products != product_rows:
            wrong.append(f"total_products is {total_products} but it holds {product_rows} products")
        if total_nodes != node_rows:
            wrong.append(f"total_nodes is {total_nodes} but it holds {node_rows} nodes")
        problems.append(Problem("release_counts", "catalog_release", str(release_id), "; ".join(wrong)))
    return problems


def _latest_release(session: Session, limit: int) -> list[Problem]:
    return [
        Problem(
            "latest_release",
            "catalog",
            str(catalog_id),
            "the catalog has releases but names none as its latest"
            if pointer is None
            else f"catalog.latest_release_pk = {pointer} names no release of the catalog",
        )
        for catalog_id, pointer in repo.catalogs_with_a_wrong_latest(session, limit)
    ]


def _product_counts(session: Session, limit: int) -> list[Problem]:
    return [
        Problem("product_count", "scope", str(scope_id), f"product_count says {kept} but the scope owns {owned}")
        for scope_id, kept, owned in repo.wrong_product_counts(session, limit)
    ]


_CHECKS: dict[str, Callable[[Session, int], list[Problem]]] = {
    "node_parent_in_other_hierarchy": _parents_elsewhere,
    "node_cycle": _cycles,
    "duplicate_sibling_name": _duplicates("name"),
    "duplicate_sibling_slug": _duplicates("slug"),
    "too_many_curated_products": lambda session, limit: _curated(session, limit, count_only=True),
    "curated_product_not_linked": lambda session, limit: _curated(session, limit, count_only=False),
    "too_many_custom_relationships": _too_many_slots,
    "too_many_associations": _too_many_associations,
    "association_without_reverse": _edge_problems(
        "association_without_reverse",
        repo.bi_directional_edges_without_reverse,
        "the relationship is bi-directional but the reverse association is missing",
    ),
    "association_not_attached": _edge_problems(
        "association_not_attached",
        repo.edges_without_attachment,
        "the source product does not carry the relationship",
    ),
    "association_with_itself": _edge_problems(
        "association_with_itself", repo.edges_to_self, "a product is associated with itself"
    ),
    "missing_row": _missing_rows,
    "release_counts": _release_counts,
    "latest_release": _latest_release,
    "product_count": _product_counts,
}
assert tuple(_CHECKS) == CHECKS
