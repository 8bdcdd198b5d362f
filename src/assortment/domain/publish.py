"""Publishing a catalog: build an immutable release (SPEC §4.2, §4.4, seed 003).

The whole release is written in the caller's one transaction, so it becomes visible only when it is
complete: a publish that dies half-way leaves nothing behind. Work is set-based and streamed in chunks
so that memory stays flat as catalogs grow: documents are rendered once here and stored as bytes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
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
)
from assortment.db.repositories import release_changes as changes_repo
from assortment.db.repositories import release_reuse as reuse
from assortment.db.repositories import releases as repo
from assortment.db.repositories.releases import pack_positions
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain import release_digests as digests
from assortment.domain.catalogs import CatalogService
from assortment.domain.formats import timestamp
from assortment.domain.price_rules import snapshot_formats
from assortment.domain.prices import CurrencyService
from assortment.domain.products import parse_id
from assortment.domain.release_render import price_parts
from assortment.domain.tenancy import Principal
from assortment.errors import MissingReferences

RELEASES_KEPT = 3
MAX_CRUMB_LEVELS = 10
CHUNK = 5000
# Part of every product's inputs digest: change it whenever what a product's release row is rendered from, or
# how, changes (a new document member, another price rule…), so that the next publish renders every product
# again instead of copying rows rendered the old way.
RENDERING = "product-row/3"  # 2: price parts (issue 17); 3: versions as the database's text (issue 13)

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

    reuse.read_instants_in_utc(session)
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
    hierarchy_pks = [h.pk for h in hierarchies]
    tree = _tree(hierarchies, repo.nodes_of_hierarchies(session, hierarchy_pks))
    report("nodes", 0, len(tree.nodes))

    # Live products linked to those nodes, and the links themselves.
    links = reuse.live_links(session, hierarchy_pks)
    products_of_node: dict[int, list[int]] = defaultdict(list)
    nodes_of_product: dict[int, list[int]] = defaultdict(list)  # in bread-crumb order
    in_tree = tree.node_ids  # a node created since the tree was read is not part of it
    for node_pk, product_pk in links:
        if node_pk in in_tree:
            products_of_node[node_pk].append(product_pk)
            nodes_of_product[product_pk].append(node_pk)
    del links
    # Product lists: most recently updated first, then id (the order the query gives).
    released = [row for row in reuse.released_products(session, hierarchy_pks) if row[0] in nodes_of_product]
    rank = {pk: position for position, (pk, *_) in enumerate(released)}
    product_id_of = {pk: pid for pk, pid, *_ in released}

    # Related products whose both ends are in the release, and what each product is rendered from.
    related_of, related_slugs = _related(session, hierarchy_pks, product_id_of)
    slugs = reuse.attached_slugs(session, hierarchy_pks)
    winners = _winning_versions(session, stack, hierarchy_pks)
    codes = {fmt.code for fmt, _ in currencies}
    inputs = _inputs(released, nodes_of_product, tree, slugs, related_of, winners)
    del winners

    # The products whose inputs are those the base release rendered its row from keep that row (SPEC §10.3):
    # found in SQL, from a table of every product of the release with its place and inputs.
    reuse.create_scratch(session)
    reuse.fill_positions(session, [(pk, pid, rank[pk], inputs[pk]) for pk, pid, *_ in released])
    kept = 0
    if previous is not None and _reusable(session, previous, release):
        kept = reuse.keep_unchanged(session, previous.pk)
    if kept:
        assert previous is not None and previous.published_at is not None
        reuse.copy_kept(
            session,
            previous.pk,
            release.pk,
            (_published_member(timestamp(previous.published_at)), _published_member(stamp)),
            (_link_prefix(release_base(catalog.id, previous.id)), _link_prefix(base)),
        )
        fresh = reuse.fresh_products(session)
    else:
        fresh = [pk for pk, *_ in released]  # in rank order
    report("products", kept, len(released))
    neutral = digests.Neutral.of(base, stamp)
    digest_rows: list[tuple[str, uuid.UUID, bytes]] = []  # what the release serves of each node and hierarchy

    # The other product documents, rendered once, with their price's additions for every display currency.
    formats = snapshot_formats(release.currencies)
    done = kept
    release_pk = release.pk
    catalog_text = str(catalog.id)
    for batch in reuse.products_in_chunks(session, fresh, CHUNK):
        related_rows: list[tuple[int, uuid.UUID, str, int, uuid.UUID]] = []
        product_digests: list[tuple[int, str, uuid.UUID, bytes]] = []  # what the release serves of each
        prices = _winning_prices(session, stack, batch, codes)
        # Rendered into the open COPY: the database stores each row while the next ones are rendered.
        with reuse.product_writer(session) as writer:
            write = writer.write
            for product in batch:
                crumbs = _bread_crumbs(nodes_of_product[product.pk], tree)
                related = related_of.get(product.pk, [])
                document = _product_document(
                    product,
                    base,
                    stamp,
                    catalog_text,
                    slugs.get(product.pk, []),
                    related_slugs.get(product.pk),
                    crumbs,
                )
                encoded = orjson.dumps(document)
                price = prices.get(product.sku) if product.sku else None
                write(
                    (
                        release_pk,
                        product.id,
                        rank[product.pk],
                        product.name,
                        product.sku,
                        product.slug,
                        product.upc_ean,
                        product.mpn,
                        product.tags,
                        product.updated_at,
                        encoded,
                        price,
                        price_parts(encoded, price, formats),
                        inputs[product.pk],
                    )
                )
                if related:
                    related_rows += (
                        (release_pk, product.id, slug, position, target) for slug, position, target in related
                    )
                related_part = digests.related_part([(slug, target) for slug, _, target in related])
                product_digests.append(
                    (release_pk, "product", product.id, digests.product_digest(neutral, encoded, price, related_part))
                )
        with reuse.related_writer(session) as writer:
            for related_row in related_rows:
                writer.write(related_row)
        with reuse.digest_writer(session) as writer:
            for digest_row in product_digests:
                writer.write(digest_row)
        done += len(batch)
        report("products", done, len(released))
    del inputs

    # Node → product order: curated (linked, live) first in curated order, then the product list order;
    # written in SQL from the links and the positions of the release's products.
    curated_rows: list[tuple[int, int, int]] = []
    curated_of: dict[int, list[str]] = {}
    for node in tree.nodes:
        wanted = node.curated_products or []
        if not wanted:
            continue
        linked_ids = {str(product_id_of[pk]): pk for pk in products_of_node.get(node.pk, [])}
        curated = [c for c in wanted if c in linked_ids]
        curated_of[node.pk] = curated
        curated_rows += ((node.pk, linked_ids[c], position) for position, c in enumerate(curated))
    reuse.fill_curated(session, curated_rows)
    # PostgreSQL orders every node's products while the node documents are rendered here: the statement runs
    # on the session's connection in a thread of its own, and nothing else uses the session until it is done.
    ordering = (
        _in_thread(reuse.insert_node_products, session, release_pk, hierarchy_pks)
        if session.connection().dialect.name == "postgresql"
        else None
    )
    if ordering is None:
        reuse.insert_node_products(session, release_pk, hierarchy_pks)
    try:
        # Node and hierarchy documents (a few thousand: always rendered).
        node_documents = _node_rows(release_pk, tree, base, stamp, products_of_node, curated_of)
        id_text = {pk: str(pid) for pk, pid in product_id_of.items()}  # once each, not once per link
        node_of = {n.id: n for n in tree.nodes}
        for row in node_documents:
            node = node_of[row["node_id"]]
            children = digests.ids_part(n.id for n in tree.children[node.hierarchy_pk].get(node.pk, ()))
            products = digests.set_part(id_text[pk] for pk in products_of_node.get(node.pk, ()))
            digest_rows.append(("node", node.id, digests.node_digest(neutral, row["document"], children, products)))
        hierarchy_rows = _hierarchy_rows(release_pk, tree, base, stamp)
        positions_of = _hierarchy_product_positions(tree, products_of_node, rank)
        for row, hierarchy in zip(hierarchy_rows, tree.hierarchies, strict=True):
            top_level = digests.ids_part(n.id for n in tree.children.get(hierarchy.pk, {}).get(0, ()))
            digest = digests.hierarchy_digest(neutral, row["document"], top_level)
            digest_rows.append(("hierarchy", hierarchy.id, digest))
            row["product_positions"] = positions_of[hierarchy.pk]
    finally:
        if ordering is not None:
            ordering.result()
    repo.insert_rows(session, ReleaseNode, node_documents)
    repo.insert_rows(session, ReleaseHierarchy, hierarchy_rows)
    changes_repo.insert_digests(session, release.pk, digest_rows)
    report("nodes", len(tree.nodes), len(tree.nodes))

    release.total_products = len(product_id_of)
    release.total_nodes = len(tree.nodes)
    if previous is None or export_full_delta:
        release.delta = _delta([(pid, at) for _, pid, _, at, _ in released], [])
    else:
        release.delta = _delta(*reuse.changed_since(session, previous.pk, previous.total_products or 0, kept))
    reuse.drop_scratch(session)
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
    repo.refresh_statistics(session)
    events.record(session, principal, "catalog-release.created", (catalog, release), release.id, catalog.scope_id)
    for release_id in gone:  # what retention deleted is deleted too (SPEC §11.2)
        events.record(session, principal, "catalog-release.deleted", None, release_id, catalog.scope_id)
    return release


def _in_thread(work: Callable[..., None], *args: Any) -> Future[None]:
    """`work(*args)` started in a thread of its own; its future's result() waits for it and raises what it
    raised. The caller must not use the session in the meantime."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish")
    try:
        return pool.submit(work, *args)
    finally:
        pool.shutdown(wait=False)


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


def _winning_prices(session: Session, stack: list[Pricebook], products: list[Any], codes: set[str]) -> dict[str, bytes]:
    """§9.6.1: per sku (of those products), the whole price of the first book in the stack that prices it,
    without the currencies the release does not carry and without bundle-only sales."""
    if not stack or not products:
        return {}
    rank = {book.pk: position for position, book in enumerate(stack)}
    best: dict[str, tuple[int, str, str | None]] = {}
    for pricebook_pk, sku, base, sales in reuse.prices_for(session, list(rank), products):
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
    session: Session, hierarchy_pks: list[int], product_id_of: dict[int, uuid.UUID]
) -> tuple[dict[int, list[tuple[str, int, uuid.UUID]]], dict[int, list[str]]]:
    """Per source product: its related products in the release as (slug, position, target id), grouped by
    slug (in the order of each slug's oldest association) in display order; and its slugs in that order."""
    grouped: dict[tuple[int, str], list[tuple[int, int | None, int]]] = defaultdict(list)
    for source, slug, target, sort_order, pk in reuse.active_associations(session, hierarchy_pks):
        if source in product_id_of and target in product_id_of:
            grouped[(source, slug)].append((target, sort_order, pk))
    related: dict[int, list[tuple[str, int, uuid.UUID]]] = defaultdict(list)
    slugs: dict[int, list[str]] = defaultdict(list)
    for (source, slug), targets in grouped.items():
        targets.sort(key=lambda t: (t[1] is None, t[1] if t[1] is not None else 0, t[2]))
        slugs[source].append(slug)
        related[source] += ((slug, position, product_id_of[target]) for position, (target, _, _) in enumerate(targets))
    return related, slugs


def _winning_versions(
    session: Session, stack: list[Pricebook], hierarchy_pks: list[int]
) -> dict[str, tuple[int, int, str]]:
    """Per sku of the release's products: (price book pk, price pk, updated_at as text) of the price that wins
    it (§9.6.1: the first book of the stack that prices it)."""
    rank = {book.pk: position for position, book in enumerate(stack)}
    versions = reuse.price_versions(session, list(rank), hierarchy_pks)
    if len(rank) == 1:  # one book: each sku has one price (unique per book), and it wins
        return {sku: (book_pk, price_pk, updated_at) for book_pk, sku, price_pk, updated_at in versions}
    best: dict[str, tuple[int, int, str]] = {}
    for book_pk, sku, price_pk, updated_at in versions:
        current = best.get(sku)
        if current is None or rank[book_pk] < rank[current[0]]:
            best[sku] = (book_pk, price_pk, updated_at)
    return best


def _inputs(
    released: list[tuple[int, uuid.UUID, str | None, Any, str]],
    nodes_of_product: dict[int, list[int]],
    tree: TreeFacts,
    slugs: dict[int, list[str]],
    related: dict[int, list[tuple[str, int, uuid.UUID]]],
    winners: dict[str, tuple[int, int, str]],
) -> dict[int, bytes]:
    """Per product pk: a digest of everything its release row, digest and related rows are rendered from
    besides the release's own id and time — its version (updated_at: every change of its fields moves it),
    its sku, its node links in bread-crumb order with each node's bread crumbs, the custom relationships
    attached to it, its related products in the release, and the version of its winning price. Equal digests
    render equal rows, so a product whose digest is the one stored in the base release keeps its row."""
    node_ids = tree.node_ids
    node_token = {pk: node_ids[pk] + ">" + ",".join(crumbs) for pk, crumbs in tree.crumbs.items()}
    result: dict[int, bytes] = {}
    for pk, _, sku, _, version in released:
        winner = winners.get(sku) if sku else None
        text = "\n".join(
            (
                RENDERING,
                version,
                sku or "",
                "|".join(node_token[node_pk] for node_pk in nodes_of_product[pk]),  # in bread-crumb order
                ",".join(slugs.get(pk, ())),
                "|".join(f"{slug},{target}" for slug, _, target in related.get(pk, ())),
                "" if winner is None else f"{winner[0]},{winner[1]},{winner[2]}",
            )
        )
        result[pk] = hashlib.blake2b(text.encode(), digest_size=16).digest()
    return result


def _reusable(session: Session, previous: Release, release: Release) -> bool:
    """Whether the rows of the base release may be copied at all: it is published, has its digests (the
    copies take them along), and its prices were cut to, and its price parts rendered for, the same
    currencies in the same formats."""
    return (
        previous.status == "PUBLISHED"
        and previous.published_at is not None
        and snapshot_formats(previous.currencies) == snapshot_formats(release.currencies)
        and changes_repo.has_digests(session, previous.pk)
    )


def _published_member(stamp: str) -> str:
    """The `published_at` member as it is written in a stored document."""
    return f'"published_at":"{stamp}"'


def _link_prefix(base: str) -> str:
    """How every link value of a release's product documents starts: after a key, the release's path.
    Inside a string value the quotes would be escaped, so this never matches a product's own text."""
    return f'":"{base}/'


def _bread_crumbs(links: list[int], tree: TreeFacts) -> tuple[list[str], dict[str, list[str]]]:
    """bread_crumb_nodes: linked nodes, most recently linked first, then by node id (`links`, node pks, come
    so, from live_links); bread_crumbs: for each, the ids from the hierarchy down to its parent (at most 10,
    those nearest the root; computed once per node)."""
    node_ids = tree.node_ids
    crumb_nodes = [node_ids[node_pk] for node_pk in links]
    crumbs = {node_ids[node_pk]: list(tree.crumbs[node_pk]) for node_pk in links}
    return crumb_nodes, crumbs


def _product_document(
    product: Any,  # a row of repo.PRODUCT_FIELDS
    base: str,
    published_at: str,
    catalog_id: str,
    attached: list[str],
    related: list[str] | None,
    crumbs: tuple[list[str], dict[str, list[str]]],
) -> dict[str, Any]:
    product_id = str(product.id)
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
            "links": {slug: f"{base}/products/{product_id}/relationships/{slug}/products" for slug in slugs}
        }
    meta: dict[str, Any] = {
        "catalog_id": catalog_id,
        "catalog_source": "pim",
        "product_types": ["standard"],
        "bread_crumb_nodes": crumbs[0],
        "bread_crumbs": crumbs[1],
    }
    if slugs:
        meta["custom_relationships"] = slugs
    return {
        "type": "product",
        "id": product_id,
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


def _hierarchy_product_positions(
    tree: TreeFacts, products_of_node: dict[int, list[int]], rank: dict[int, int]
) -> dict[int, bytes]:
    """{hierarchy pk: the positions of its nodes' distinct products in the release's product order, ascending,
    packed as `release_hierarchy.product_positions` keeps them}."""
    found: dict[int, set[int]] = {hierarchy.pk: set() for hierarchy in tree.hierarchies}
    for node in tree.nodes:
        found[node.hierarchy_pk].update(map(rank.__getitem__, products_of_node.get(node.pk, ())))
    return {pk: pack_positions(sorted(positions)) for pk, positions in found.items()}


def _crumb(node_id: uuid.UUID, name: str, slug: str | None) -> dict[str, Any]:
    crumb: dict[str, Any] = {"id": str(node_id), "name": name}
    if slug is not None:
        crumb["slug"] = slug
    return crumb


def _delta(updated: list[tuple[uuid.UUID, Any]], gone: list[uuid.UUID]) -> bytes:
    """The release's delta: the products created or updated since the base release (all of them for a full
    delta), with their updated_at as the driver returns it, then the products gone since."""
    entries: list[dict[str, Any]] = [
        {"delta_type": "createupdate", "id": str(pid), "type": "product", "updated_at": timestamp(_instant(at))}
        for pid, at in updated
    ]
    entries += [{"delta_type": "delete", "id": str(pid), "type": "product"} for pid in gone]
    return orjson.dumps(entries)


def _instant(value: Any) -> datetime:
    """An updated_at read with the driver (SQLite: naive UTC text) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
