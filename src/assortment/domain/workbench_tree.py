"""What the workbench's tree shows and the one change it makes that the API has no single call for:
placing a node at an exact position among its (new) siblings.

Reads: a branch is one page of a parent's children, each with whether it has children, and — for the
nodes the person had open — their own first page, so a page reload keeps the tree as it was. Only what
is open is read, so a 10k-node hierarchy opens at the cost of its top level.

Placing: children are ordered by `sort_order`, highest first, then the nodes without one, most recently
updated first (SPEC §2.4). To land a node between two siblings, it gets a `sort_order` between theirs;
when there is no room, the siblings before it are renumbered too (never those after it). All of it is one
`set_children` call of the API's own service, so the cycle and sibling-name rules, their texts and the
hierarchy lock are the API's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from assortment.db.models import Node
from assortment.db.repositories import hierarchies as repo
from assortment.db.repositories import workbench_tree as tree_repo
from assortment.db.repositories.workbench_tree import Sibling
from assortment.domain.hierarchies import HierarchyService
from assortment.domain.paging import Paging
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal
from assortment.errors import ValidationFailed
from assortment.schemas.hierarchies import INT32, ChildReference, NodeMeta

BRANCH_PAGE = 100  # children shown per parent before a "Show more" item
MAX_OPEN = 200  # open nodes re-rendered on a reload; beyond, the rest start closed
MAX_PARENT_CHOICES = 2000  # options in the `New parent` / `Parent` selects (a filter box finds the others)
MAX_FILTERED_CHOICES = 200
STALE_ANCHOR = "the node next to the drop position is no longer there; reload the page and try again"


@dataclass
class TreeItem:
    node: Node
    level: int
    posinset: int
    setsize: int
    has_children: bool
    branch: Branch | None = None  # set when the node is open


@dataclass
class Branch:
    parent_id: str | None
    level: int
    offset: int
    total: int
    items: list[TreeItem] = field(default_factory=list)

    @property
    def next_offset(self) -> int | None:
        end = self.offset + len(self.items)
        return end if end < self.total else None


@dataclass(frozen=True, slots=True)
class ParentChoice:
    id: str
    name: str
    depth: int  # 0 for top-level nodes


@dataclass
class TreeService:
    session: Session
    principal: Principal

    @property
    def hierarchies(self) -> HierarchyService:
        return HierarchyService(self.session, self.principal)

    def branch(
        self,
        hierarchy_id: str,
        parent_id: str | None,
        *,
        level: int = 1,
        offset: int = 0,
        open_ids: Collection[str] = (),
    ) -> Branch:
        """One page of a parent's children (top-level nodes when `parent_id` is None); open nodes among
        them carry their own first page, and so on down."""
        budget = [MAX_OPEN]
        return self._branch(hierarchy_id, parent_id, level, offset, set(open_ids), budget)

    def _branch(
        self, hierarchy_id: str, parent_id: str | None, level: int, offset: int, open_ids: set[str], budget: list[int]
    ) -> Branch:
        page = self.hierarchies.list_children(hierarchy_id, parent_id, None, Paging(BRANCH_PAGE, offset))
        with_children = repo.child_counts(self.session, [n.pk for n in page.items])
        branch = Branch(parent_id, level, offset, page.total)
        for position, node in enumerate(page.items, start=offset + 1):
            item = TreeItem(node, level, position, page.total, node.pk in with_children)
            node_id = str(node.id)
            if item.has_children and node_id in open_ids and budget[0] > 0:
                budget[0] -= 1
                item.branch = self._branch(hierarchy_id, node_id, level + 1, 0, open_ids, budget)
            branch.items.append(item)
        return branch

    def parent_choices(self, hierarchy_id: str, text: str = "") -> tuple[list[ParentChoice], bool]:
        """The hierarchy's nodes in tree order (depth first, children in the API's order), capped; with
        `text`, only the nodes whose name contains it (any case). Also: whether some were left out."""
        hierarchy = self.hierarchies.get_hierarchy(hierarchy_id)
        rows = tree_repo.outline(self.session, hierarchy.pk)  # siblings already in child order
        children: dict[int | None, list[tree_repo.OutlineRow]] = {}
        for row in rows:
            children.setdefault(row.parent_pk, []).append(row)
        ordered: list[ParentChoice] = []
        stack: list[tuple[tree_repo.OutlineRow, int]] = [(r, 0) for r in reversed(children.get(None, []))]
        needle = text.casefold()
        cap = MAX_FILTERED_CHOICES if needle else MAX_PARENT_CHOICES
        truncated = False
        while stack:
            row, depth = stack.pop()
            if not needle or needle in row.name.casefold():
                if len(ordered) >= cap:
                    truncated = True
                    break
                ordered.append(ParentChoice(row.id, row.name, depth))
            stack.extend((child, depth + 1) for child in reversed(children.get(row.pk, [])))
        return ordered, truncated

    def place(
        self,
        hierarchy_id: str,
        node_id: str,
        parent_id: str | None,
        *,
        before_id: str | None = None,
        after_id: str | None = None,
    ) -> None:
        """Make `node_id` a child of `parent_id` (top level when None) placed just before `before_id`
        or just after `after_id` (siblings under that parent); with neither, wherever its sort order
        puts it. Runs in the caller's transaction."""
        service = self.hierarchies
        hierarchy = service.get_hierarchy(hierarchy_id, for_update=True)  # the lock every tree change takes
        node = service.get_node(hierarchy_id, node_id, hierarchy=hierarchy)
        if before_id is None and after_id is None:
            if parent_id is None:
                service.clear_parent(hierarchy_id, node_id)
            else:
                service.set_parent(hierarchy_id, node_id, parent_id)
            return
        if str(node.id) in (_canonical(before_id), _canonical(after_id)):
            return  # dropped where it already is
        parent_pk = None
        if parent_id is not None:
            parent_pk = service.get_node(hierarchy_id, parent_id, hierarchy=hierarchy).pk
        siblings = [s for s in tree_repo.ordered_children(self.session, hierarchy.pk, parent_pk) if s.id != node.id]
        index = _anchor_index(siblings, before_id, after_id)
        orders = sort_orders_for(siblings, index)
        arranged = [*siblings[:index], Sibling(node.id, None), *siblings[index:]]
        changes = [
            ChildReference(type="node", id=str(arranged[i].id), meta=NodeMeta(sort_order=value))
            for i, value in orders.items()
        ]
        service.set_children(hierarchy_id, parent_id, changes)


def _canonical(node_id: str | None) -> str | None:
    parsed = None if node_id is None else parse_id(node_id)
    return None if parsed is None else str(parsed)


def _anchor_index(siblings: list[Sibling], before_id: str | None, after_id: str | None) -> int:
    wanted = _canonical(before_id if before_id is not None else after_id)
    for index, sibling in enumerate(siblings):
        if str(sibling.id) == wanted:
            return index if before_id is not None else index + 1
    raise ValidationFailed(STALE_ANCHOR)


def sort_orders_for(siblings: list[Sibling], index: int) -> dict[int, int]:
    """The sort orders that put a new node at `index` among `siblings` (already in child order), as
    {position in the arranged list: sort_order}; the new node is at `index`. As few nodes change as
    can: only the new one when there is room between its neighbours, else it and those before it."""
    before = siblings[index - 1] if index > 0 else None
    after = siblings[index] if index < len(siblings) else None
    low = after.sort_order if after is not None else None  # everything after is ordered at or below it
    value: int | None = None
    if before is None:
        value = 0 if low is None else low + 1
    elif before.sort_order is not None:
        high = before.sort_order
        if low is None:
            value = high - 1
        elif high - low >= 2:
            value = low + (high - low) // 2
    if value is not None and -INT32 <= value <= INT32:
        return {index: value}
    base = 0 if low is None else low + 1
    if base + index <= INT32:  # renumber the new node and those before it, just above `low`
        return {i: base + index - i for i in range(index + 1)}
    count = len(siblings) + 1  # no room above `low` either: renumber them all, from 0 up
    return {i: count - 1 - i for i in range(count)}
