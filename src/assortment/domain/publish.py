"""Publishing a catalog: build an immutable release (SPEC §4.2, §4.4, seed 003).

The whole release is written in the caller's one transaction, so it becomes visible only when it is
complete: a publish that dies half-way leaves nothing behind. Work is set-based and streamed in chunks
so that memory stays flat as catalogs grow: documents are rendered once here and stored as bytes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from assortment.db.models import (
    Catalog,
    Hierarchy,
    Node,
    Pricebook,
    Release,
    ReleaseHierarchy,
    ReleaseNode,
    ReleaseNodeProduct,
    ReleaseProduct,
    ReleaseRelated,
)
from assortment.db.repositories import release_changes as changes_repo
from assortment.db.repositories import releases as repo
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain import release_digests as digests
from assortment.domain.catalogs import CatalogService
from assortment.domain.formats import timestamp
from assortment.domain.prices import CurrencyService
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal
from assortment.errors import MissingReferences

RELEASES_KEPT = 3
MAX_CRUMB_LEVELS = 10
CHUNK = 5000

Progress = Callable[[str, int, int], None]


def release_base(catalog_id: uuid.UUID | str, release_id: uuid.UUID | str) -> str:
    """The path every link inside a release's documents starts with."""
    return f"/pcm/catalogs/{catalog_id}/releases/{release_id}"


def child_order_key(node: Node) -> tuple[Any, ...]:
    """§2.4: highest sort_order first, then unsorted ones newest-updated first; ties newest, then id."""
    updated = -node.updated_at.timestamp()
    if node.sort_order is None:
        return (1, 0, updated, str(node.id))
    return (0, -node.sort_order, updated, str(node.id))


@dataclass
class TreeFacts:
    hierarchies: list[Hierarchy]
    nodes: list[Node]
    hierarchy_of: dict[int, Hierarchy]  # node pk → hierarchy
    chain: dict[int, list[Node]]  # node pk → ancestors from the top-level node down to the node itself
    children: dict[int | None, dict[int, list[Node]]]  # hierarchy pk → parent pk → ordered children
    node_ids: dict[int, str]  # node pk → id, as text
    crumbs: dict[int, list[str]]  # node pk → its bread crumbs: ids from the hierarchy down to its parent


def _tree(hierarchies: list[Hierarchy], nodes: list[Node]) -> TreeFacts:
    by_pk = {n.pk: n for n in nodes}
    h_by_pk = {h.pk: h for h in hierarchies}
    chain: dict[int, list[Node]] = {}

    def chain_of(node: Node) -> list[Node]:
        found = chain.get(node.pk)
        if found is None:
            parent = by_pk.get(node.parent_pk) if node.parent_pk is not None else None
            found = [*chain_of(parent), node] if parent is not None else [node]
            chain[node.pk] = found
        return found

    grouped: dict[int | None, dict[int, list[Node]]] = defaultdict(lambda: defaultdict(list))
    for node in nodes:
        chain_of(node)
        grouped[node.hierarchy_pk][node.parent_pk if node.parent_pk is not None else 0].append(node)
    for siblings_by_parent in grouped.values():
        for siblings in siblings_by_parent.values():
            siblings.sort(key=child_order_key)
    node_ids = {n.pk: str(n.id) for n in nodes}
    crumbs = {
        n.pk: [str(h_by_pk[n.hierarchy_pk].id), *(node_ids[a.pk] for a in chain[n.pk][:-1])][:MAX_CRUMB_LEVELS]
        for n in nodes
    }
    return TreeFacts(
        hierarchies=hierarchies,
        nodes=nodes,
        hierarchy_of={n.pk: h_by_pk[n.hierarchy_pk] for n in nodes},
        chain=chain,
        children=grouped,
        node_ids=node_ids,
        crumbs=crumbs,
    )


def publish_lock_name(catalog_id: str) -> str:
    """The name publishes of one catalog take turns on (`in_snapshot`), whatever spelling of its id is used."""
    parsed = parse_id(catalog_id)
    return f"publish:{parsed if parsed is not None else catalog_id}"


def publish(
    session: Session,
    principal: Principal,
    catalog_id: str,
    *,
    export_full_delta: bool = False,
    progress: Progress | None = None,
) -> Release:
    """Write a new release of the catalog (SPEC §4.2). Everything it reads must come from one snapshot, so
    callers run it with `db.engine.in_snapshot(…, publish_lock_name(catalog_id), …)`."""
    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    catalogs = CatalogService(session, principal)
    catalog = catalogs.get(catalog_id, for_update=True)  # one publish of a catalog at a time
    principal.check_can_modify(catalog.scope_id)
    hierarchies = _hierarchies_in_order(session, principal, catalog)
    stack = _pricebooks_in_order(session, principal, catalog)
    currencies = CurrencyService(session, principal).enabled_formats(catalog.scope_id)
    started = utcnow()
    # The release that is latest now (after a restore, the restored one): the base of this one's delta and
    # of its `changes` (SPEC §10.2).
    previous = repo.latest_published(session, catalog.pk)
    release = Release(
        id=uuid.uuid4(),
        catalog_pk=catalog.pk,
        scope_id=catalog.scope_id,
        status="PUBLISHED",
        name=catalog.name,
        description=catalog.description,
        hierarchies=[{"id": str(h.id), "name": h.name} for h in hierarchies],
        pricebook_ids=_pricebook_stack(catalog),
        currencies=[
            {**fmt.as_dict(), "default": is_default}
            for fmt, is_default in sorted(currencies, key=lambda entry: not entry[1])
        ],
        is_full_publish=previous is None,
        is_full_delta=previous is None or export_full_delta,
        base_release_id=previous.id if previous is not None else None,
        price_segmentation_enabled=catalog.enable_price_segmentation,
        created_at=started,
        started_at=started,
        published_at=started,
        updated_at=started,
    )
    session.add(release)
    session.flush()
    base = release_base(catalog.id, release.id)
    stamp = timestamp(started)

    # The tree.
    tree = _tree(hierarchies, repo.nodes_of_hierarchies(session, [h.pk for h in hierarchies]))
    report("nodes", 0, len(tree.nodes))

    # Live products linked to those nodes, and the links themselves.
    links = repo.live_links(session, [h.pk for h in hierarchies], [n.pk for n in tree.nodes])
    products_of_node: dict[int, list[int]] = defaultdict(list)
    nodes_of_product: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for node_pk, product_pk, linked_at in links:
        products_of_node[node_pk].append(product_pk)
        nodes_of_product[product_pk].append((linked_at, node_pk))
    del links
    order_keys = repo.product_order_keys(session, nodes_of_product.keys())
    # Product lists: most recently updated first, then id.
    order_keys.sort(key=lambda row: (-row[2].timestamp(), str(row[1])))
    rank = {pk: position for position, (pk, _, _) in enumerate(order_keys)}
    product_id_of = {pk: pid for pk, pid, _ in order_keys}
    del order_keys

    # Related products whose both ends are in the release.
    related_rows, related_slugs = _related(session, release.pk, product_id_of)
    repo.insert_rows(session, ReleaseRelated, related_rows)
    related_of: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = defaultdict(list)
    for row in related_rows:
        related_of[row["source_id"]].append((row["slug"], row["target_id"]))
    del related_rows
    neutral = digests.Neutral.of(base, stamp)
    digest_rows: list[tuple[str, uuid.UUID, bytes]] = []  # what the release serves of each entity

    # Product documents, rendered once.
    slugs = repo.attached_slugs(session, product_id_of.keys())
    ordered_pks = sorted(product_id_of, key=rank.__getitem__)
    done = 0
    codes = {fmt.code for fmt, _ in currencies}
    for batch in repo.products_in_chunks(session, ordered_pks, CHUNK):
        rows = []
        prices = _winning_prices(session, stack, [p.pk for p in batch if p.sku], codes)
        for product in batch:
            crumbs = _bread_crumbs(nodes_of_product[product.pk], tree)
            document = _product_document(
                product,
                base,
                stamp,
                catalog.id,
                slugs.get(product.pk, []),
                related_slugs.get(product.pk),
                crumbs,
            )
            encoded = orjson.dumps(document)
            price = prices.get(product.sku) if product.sku else None
            related = digests.related_part(related_of.get(product.id, ()))
            rows.append(
                {
                    "release_pk": release.pk,
                    "product_id": product.id,
                    "position": rank[product.pk],
                    "name": product.name,
                    "sku": product.sku,
                    "slug": product.slug,
                    "upc_ean": product.upc_ean,
                    "mpn": product.mpn,
                    "tags": product.tags,
                    "updated_at": product.updated_at,
                    "document": encoded,
                    "price": price,
                }
            )
            digest_rows.append(("product", product.id, digests.product_digest(neutral, encoded, price, related)))
        repo.insert_rows(session, ReleaseProduct, rows)
        changes_repo.insert_digests(session, release.pk, digest_rows)
        digest_rows = []
        done += len(rows)
        report("products", done, len(ordered_pks))

    # Node → product order: curated (linked, live) first in curated order, then the product list order.
    node_rows: list[dict[str, Any]] = []
    curated_of: dict[int, list[str]] = {}
    for node in tree.nodes:
        linked = products_of_node.get(node.pk, [])
        wanted = node.curated_products or []
        linked_ids = {str(product_id_of[pk]): pk for pk in linked} if wanted else {}
        curated = [c for c in wanted if c in linked_ids]
        curated_of[node.pk] = curated
        curated_pks = [linked_ids[c] for c in curated]
        chosen = set(curated_pks)
        rest = sorted((pk for pk in linked if pk not in chosen), key=rank.__getitem__)
        for position, pk in enumerate([*curated_pks, *rest]):
            node_rows.append(
                {
                    "release_pk": release.pk,
                    "node_id": node.id,
                    "position": position,
                    "product_id": product_id_of[pk],
                    "curated": position < len(curated_pks),
                }
            )
        if len(node_rows) >= CHUNK * 4:
            repo.insert_rows(session, ReleaseNodeProduct, node_rows)
            node_rows = []
    repo.insert_rows(session, ReleaseNodeProduct, node_rows)

    # Node and hierarchy documents.
    node_documents = _node_rows(release.pk, tree, base, stamp, products_of_node, curated_of)
    node_of = {n.id: n for n in tree.nodes}
    for row in node_documents:
        node = node_of[row["node_id"]]
        children = digests.ids_part(n.id for n in tree.children[node.hierarchy_pk].get(node.pk, ()))
        products = digests.set_part(product_id_of[pk] for pk in products_of_node.get(node.pk, ()))
        digest_rows.append(("node", node.id, digests.node_digest(neutral, row["document"], children, products)))
    repo.insert_rows(session, ReleaseNode, node_documents)
    hierarchy_rows = _hierarchy_rows(release.pk, tree, base, stamp)
    for row, hierarchy in zip(hierarchy_rows, tree.hierarchies, strict=True):
        top_level = digests.ids_part(n.id for n in tree.children.get(hierarchy.pk, {}).get(0, ()))
        digest_rows.append(("hierarchy", hierarchy.id, digests.hierarchy_digest(neutral, row["document"], top_level)))
    repo.insert_rows(session, ReleaseHierarchy, hierarchy_rows)
    changes_repo.insert_digests(session, release.pk, digest_rows)
    report("nodes", len(tree.nodes), len(tree.nodes))

    release.total_products = len(product_id_of)
    release.total_nodes = len(tree.nodes)
    release.delta = _delta(session, previous, release, export_full_delta)
    release.updated_at = utcnow()
    session.flush()

    # The new release is the latest; retention keeps it, the release that was latest until now (after a
    # restore an older one: the base of this release's changes, and where a restore would go back to), and
    # the most recently published others, three in all (SPEC §4.2, §10.2).
    catalog.latest_release_pk = release.pk
    always = {release.pk} if previous is None else {release.pk, previous.pk}
    doomed = repo.releases_beyond(session, catalog.pk, RELEASES_KEPT, always=always)
    gone = repo.release_ids(session, doomed)
    repo.delete_releases(session, doomed)
    repo.releases_changed(session, catalog.pk)  # `latest` moves when this transaction commits (§12.4)
    session.flush()
    events.record(session, principal, "catalog-release.created", (catalog, release), release.id, catalog.scope_id)
    for release_id in gone:  # what retention deleted is deleted too (SPEC §11.2)
        events.record(session, principal, "catalog-release.deleted", None, release_id, catalog.scope_id)
    return release


def _hierarchies_in_order(session: Session, principal: Principal, catalog: Catalog) -> list[Hierarchy]:
    parsed = {raw: parse_id(raw) for raw in catalog.hierarchy_ids}
    found = {
        h.id: h for h in repo.hierarchies_by_ids(session, principal.visible_scopes, [p for p in parsed.values() if p])
    }
    missing = [raw for raw, pid in parsed.items() if pid is None or pid not in found]
    if missing:
        raise MissingReferences("the catalog names hierarchies that no longer exist", missing)
    return [found[pid] for pid in parsed.values() if pid is not None]


def _pricebooks_in_order(session: Session, principal: Principal, catalog: Catalog) -> list[Pricebook]:
    """The catalog's price books, highest priority first; one deleted since → 422 (§9.5)."""
    entries = _pricebook_stack(catalog) or []
    parsed = {entry["id"]: parse_id(entry["id"]) for entry in entries}
    found = {
        b.id: b for b in repo.pricebooks_by_ids(session, principal.visible_scopes, [p for p in parsed.values() if p])
    }
    missing = [raw for raw, pid in parsed.items() if pid is None or pid not in found]
    if missing:
        raise MissingReferences("the catalog names price books that no longer exist", missing)
    return [found[pid] for pid in parsed.values() if pid is not None]


def _winning_prices(
    session: Session, stack: list[Pricebook], product_pks: list[int], codes: set[str]
) -> dict[str, bytes]:
    """§9.6.1: per sku (of those products), the whole price of the first book in the stack that prices it,
    without the currencies the release does not carry and without bundle-only sales."""
    if not stack or not product_pks:
        return {}
    rank = {book.pk: position for position, book in enumerate(stack)}
    best: dict[str, tuple[int, str, str | None]] = {}
    for pricebook_pk, sku, base, sales in repo.prices_for(session, list(rank), product_pks):
        current = best.get(sku)
        if current is None or rank[pricebook_pk] < current[0]:
            best[sku] = (rank[pricebook_pk], base, sales)
    result: dict[str, bytes] = {}
    for sku, (position, base_text, sales_text) in best.items():
        # Stored amounts and quantities are bounded integers (§9.3), well within what orjson reads exactly.
        kept_base = {code: entry for code, entry in orjson.loads(base_text).items() if code in codes}
        if not kept_base:
            continue
        kept_sales = {}
        for sale_id, sale in (orjson.loads(sales_text) if sales_text else {}).items():
            if sale.get("bundle_ids"):
                continue
            sale_currencies = {code: entry for code, entry in sale["currencies"].items() if code in kept_base}
            if sale_currencies:
                kept_sales[sale_id] = {**sale, "currencies": sale_currencies}
        price: dict[str, Any] = {"pricebook_id": str(stack[position].id), "currencies": kept_base}
        if kept_sales:
            price["sales"] = kept_sales
        result[sku] = orjson.dumps(price)
    return result


def _pricebook_stack(catalog: Catalog) -> list[dict[str, Any]] | None:
    if catalog.pricebook_ids:
        return sorted(catalog.pricebook_ids, key=lambda entry: -int(entry["priority"]))
    if catalog.pricebook_id:
        return [{"id": str(catalog.pricebook_id), "priority": 0}]
    return None


def _related(
    session: Session, release_pk: int, product_id_of: dict[int, uuid.UUID]
) -> tuple[list[dict[str, Any]], dict[int, list[str]]]:
    grouped: dict[tuple[int, str], list[tuple[int, int | None, int]]] = defaultdict(list)
    for source, slug, target, sort_order, pk in repo.active_associations(session, product_id_of.keys()):
        if target in product_id_of:
            grouped[(source, slug)].append((target, sort_order, pk))
    rows: list[dict[str, Any]] = []
    slugs: dict[int, list[str]] = defaultdict(list)
    for (source, slug), targets in grouped.items():
        targets.sort(key=lambda t: (t[1] is None, t[1] if t[1] is not None else 0, t[2]))
        slugs[source].append(slug)
        for position, (target, _, _) in enumerate(targets):
            rows.append(
                {
                    "release_pk": release_pk,
                    "source_id": product_id_of[source],
                    "slug": slug,
                    "position": position,
                    "target_id": product_id_of[target],
                }
            )
    return rows, slugs


def _bread_crumbs(links: list[tuple[datetime, int]], tree: TreeFacts) -> tuple[list[str], dict[str, list[str]]]:
    """bread_crumb_nodes: linked nodes, most recently linked first; bread_crumbs: for each, the ids from
    the hierarchy down to its parent (at most 10, those nearest the root; computed once per node)."""
    node_ids = tree.node_ids
    ordered = sorted(links, key=lambda link: (-link[0].timestamp(), node_ids[link[1]]))
    crumb_nodes = [node_ids[node_pk] for _, node_pk in ordered]
    crumbs = {node_ids[node_pk]: list(tree.crumbs[node_pk]) for _, node_pk in ordered}
    return crumb_nodes, crumbs


def _product_document(
    product: Any,  # a row of repo.PRODUCT_FIELDS
    base: str,
    published_at: str,
    catalog_id: uuid.UUID,
    attached: list[str],
    related: list[str] | None,
    crumbs: tuple[list[str], dict[str, list[str]]],
) -> dict[str, Any]:
    attributes: dict[str, Any] = {"name": product.name}
    for name, key in (("description", "description"), ("slug", "slug"), ("sku", "sku")):
        value = getattr(product, name)
        if value is not None:
            attributes[key] = value
    attributes["status"] = "live"
    attributes["commodity_type"] = product.commodity_type
    for name, key in (
        ("upc_ean", "upc_ean"),
        ("mpn", "manufacturer_part_num"),
        ("tags", "tags"),
        ("external_ref", "external_ref"),
    ):
        value = getattr(product, name)
        if value is not None:
            attributes[key] = value
    attributes.update(
        created_at=timestamp(product.created_at),
        updated_at=timestamp(product.updated_at),
        published_at=published_at,
        base_product=False,
    )
    slugs = list(dict.fromkeys([*attached, *(related or [])]))
    relationships: dict[str, Any] = {}
    if slugs:
        relationships["custom_relationships"] = {
            "links": {slug: f"{base}/products/{product.id}/relationships/{slug}/products" for slug in slugs}
        }
    meta: dict[str, Any] = {
        "catalog_id": str(catalog_id),
        "catalog_source": "pim",
        "product_types": ["standard"],
        "bread_crumb_nodes": crumbs[0],
        "bread_crumbs": crumbs[1],
    }
    if slugs:
        meta["custom_relationships"] = slugs
    return {
        "type": "product",
        "id": str(product.id),
        "attributes": attributes,
        "relationships": relationships,
        "meta": meta,
    }


def _node_rows(
    release_pk: int,
    tree: TreeFacts,
    base: str,
    published_at: str,
    products_of_node: dict[int, list[int]],
    curated_of: dict[int, list[str]],
) -> list[dict[str, Any]]:
    rows = []
    child_position: dict[int, int] = {}
    has_children: set[int] = set()
    for siblings_by_parent in tree.children.values():
        for parent_pk, siblings in siblings_by_parent.items():
            if parent_pk:
                has_children.add(parent_pk)
            for position, node in enumerate(siblings):
                child_position[node.pk] = position
    position = 0
    for hierarchy in tree.hierarchies:
        for node in (n for n in tree.nodes if n.hierarchy_pk == hierarchy.pk):
            chain = tree.chain[node.pk]
            parent = chain[-2] if len(chain) > 1 else None
            parent_id = str(parent.id) if parent else str(hierarchy.id)
            attributes: dict[str, Any] = {"name": node.name}
            if node.description is not None:
                attributes["description"] = node.description
            if node.slug is not None:
                attributes["slug"] = node.slug
            if curated_of.get(node.pk):
                attributes["curated_products"] = curated_of[node.pk]
            attributes.update(
                created_at=timestamp(node.created_at),
                updated_at=timestamp(node.updated_at),
                published_at=published_at,
            )
            if node.shopper_attributes:
                attributes["shopper_attributes"] = node.shopper_attributes
            document = {
                "type": "node",
                "id": str(node.id),
                "attributes": attributes,
                "relationships": {
                    "children": {"links": {"related": f"{base}/nodes/{node.id}/relationships/children"}},
                    "products": {"links": {"related": f"{base}/nodes/{node.id}/relationships/products"}},
                    "hierarchy": {
                        "data": {"type": "hierarchy", "id": str(hierarchy.id)},
                        "links": {"related": f"{base}/hierarchies/{hierarchy.id}"},
                    },
                    "parent": {
                        "data": {"type": "node", "id": parent_id},  # §4.3: a top-level node names its hierarchy
                        "links": {
                            "related": f"{base}/nodes/{parent_id}" if parent else f"{base}/hierarchies/{parent_id}"
                        },
                    },
                },
                "meta": {
                    "breadcrumbs": [_crumb(hierarchy.id, hierarchy.name, hierarchy.slug)]
                    + [_crumb(n.id, n.name, n.slug) for n in chain],
                    "has_children": node.pk in has_children,
                },
            }
            rows.append(
                {
                    "release_pk": release_pk,
                    "node_id": node.id,
                    "hierarchy_id": hierarchy.id,
                    "parent_id": parent.id if parent else None,
                    "position": position,
                    "child_position": child_position[node.pk],
                    "name": node.name,
                    "slug": node.slug,
                    "product_count": len(products_of_node.get(node.pk, [])),
                    "document": orjson.dumps(document),
                }
            )
            position += 1
    return rows


def _hierarchy_rows(release_pk: int, tree: TreeFacts, base: str, published_at: str) -> list[dict[str, Any]]:
    rows = []
    for position, hierarchy in enumerate(tree.hierarchies):
        attributes: dict[str, Any] = {"name": hierarchy.name}
        if hierarchy.description is not None:
            attributes["description"] = hierarchy.description
        if hierarchy.slug is not None:
            attributes["slug"] = hierarchy.slug
        attributes.update(
            created_at=timestamp(hierarchy.created_at),
            updated_at=timestamp(hierarchy.updated_at),
            published_at=published_at,
        )
        prefix = f"{base}/hierarchies/{hierarchy.id}"
        document = {
            "type": "hierarchy",
            "id": str(hierarchy.id),
            "attributes": attributes,
            "relationships": {
                "children": {"links": {"related": f"{prefix}/children"}},
                "nodes": {"links": {"related": f"{prefix}/nodes"}},
                "products": {"links": {"related": f"{prefix}/products"}},
            },
            "meta": {
                "breadcrumbs": [_crumb(hierarchy.id, hierarchy.name, hierarchy.slug)],
                "has_children": bool(tree.children.get(hierarchy.pk, {}).get(0)),
            },
        }
        rows.append(
            {
                "release_pk": release_pk,
                "hierarchy_id": hierarchy.id,
                "position": position,
                "name": hierarchy.name,
                "slug": hierarchy.slug,
                "document": orjson.dumps(document),
            }
        )
    return rows


def _crumb(node_id: uuid.UUID, name: str, slug: str | None) -> dict[str, Any]:
    crumb: dict[str, Any] = {"id": str(node_id), "name": name}
    if slug is not None:
        crumb["slug"] = slug
    return crumb


def _delta(session: Session, previous: Release | None, release: Release, full: bool) -> bytes:
    """Products created or updated, and products gone, since the previous release of the catalog."""
    current = repo.release_product_versions(session, release.pk)
    before = {} if previous is None or full else repo.release_product_versions(session, previous.pk)
    entries: list[dict[str, Any]] = [
        {"delta_type": "createupdate", "id": str(pid), "type": "product", "updated_at": timestamp(at)}
        for pid, at in current.items()
        if before.get(pid) != at
    ]
    entries += [{"delta_type": "delete", "id": str(pid), "type": "product"} for pid in before if pid not in current]
    return orjson.dumps(entries)
