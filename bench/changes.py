"""`changes` between two releases that differ in 1 % of their products (SPEC §10.1).

Budget (DESIGN.md): between two releases of the publish benchmark's catalog (100k products / 2k nodes /
200k links / 50k associations) differing in 1 %, the first page of `GET …/releases/latest/changes` in ≤ 1 s.

The catalog is seeded and published as in the publish benchmark; then 1 % of its products change with
direct SQL (a third renamed, a third repriced, a third moved from one of their nodes to another) and it is
published again. `assortment serve --workers 1` then answers the first page of the second release's changes
(default base: the first release): the first such request (after one request for the catalog, which pays the
server's own first-request costs: the signing key, the first connection), which finds the changes and keeps
them, then `--changes-reads` more, one at a time over fresh connections, which read what it kept.

    python -m bench.run --only changes
    python -m bench.run --only changes --catalog-products 10000 --catalog-nodes 200 \
        --catalog-links 20000 --catalog-associations 5000      # a quick run (no budget verdict)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, delete, func, insert, select, update

from assortment.db.models import Node, NodeProduct, Price, Product
from bench.catalogs import ENGINE_NAMES, load_average, publish, seeded_database, settle, sizes_of
from bench.cold_reads import token_for
from bench.common import Benchmark, Context, Section, running_server, server_version

BUDGET_FIRST_PAGE_S = 1.0
CHANGED_EVERY = 100  # 1 %


@dataclass
class Figures:
    version: str
    load: float
    first_request: float
    reads: list[float]
    counts: dict[str, int]
    total: int

    @property
    def median(self) -> float:
        return statistics.median(self.reads)

    @property
    def worst(self) -> float:
        return max([self.first_request, *self.reads])


def change_one_percent(url: str) -> int:
    """Every CHANGED_EVERY-th product (by pk) changes: renamed, repriced or moved to another node, in turn.
    Returns how many changed."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            pks = list(conn.execute(select(Product.pk, Product.sku).order_by(Product.pk)))[::CHANGED_EVERY]
            node_pks = [pk for (pk,) in conn.execute(select(Node.pk).order_by(Node.pk))]
            for i, (product_pk, sku) in enumerate(pks):
                if i % 3 == 0:
                    conn.execute(
                        update(Product)
                        .where(Product.pk == product_pk)
                        .values(name=Product.name + " (renamed)", updated_at=now)
                    )
                elif i % 3 == 1:
                    row = conn.execute(select(Price.pk, Price.currencies).where(Price.sku == sku)).first()
                    if row is not None:
                        currencies = {
                            code: {**entry, "amount": entry["amount"] + 100} for code, entry in row.currencies.items()
                        }
                        # updated_at moves as with every price write of the API (publish reads it)
                        conn.execute(
                            update(Price).where(Price.pk == row.pk).values(currencies=currencies, updated_at=now)
                        )
                else:
                    links = select(NodeProduct.node_pk).where(NodeProduct.product_pk == product_pk)
                    linked = [pk for (pk,) in conn.execute(links)]
                    if not linked:
                        continue
                    target = next(pk for pk in node_pks[i % len(node_pks) :] + node_pks if pk not in linked)
                    moved = (NodeProduct.product_pk == product_pk) & (NodeProduct.node_pk == linked[0])
                    conn.execute(delete(NodeProduct).where(moved))
                    conn.execute(insert(NodeProduct).values(node_pk=target, product_pk=product_pk, linked_at=now))
            return len(pks)
    finally:
        engine.dispose()


def product_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Product)).scalar_one())
    finally:
        engine.dispose()


def first_page(base: str, path: str, token: str) -> tuple[float, dict[str, Any]]:
    """One GET over a fresh connection: its wall time and its body."""
    started = time.perf_counter()
    response = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=120)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = json.loads(response.content)
    return seconds, body


def run(ctx: Context) -> Section:
    sizes = sizes_of(ctx.args)
    reads: int = ctx.args.changes_reads
    print(f"changes: {sizes.text()}; 1 % of the products changed between the two releases")
    figures: dict[str, Figures] = {}
    for kind in ctx.databases:
        with seeded_database(ctx, kind, sizes, "changes.db") as (url, seeded):
            publish(url, seeded, sizes)
            changed = change_one_percent(url)
            publish(url, seeded, sizes)
            settle(url)
            print(f"  {kind}: {changed} of {product_count(url):,} products changed; published twice")
            path = f"/pcm/catalogs/{seeded.catalog_id}/releases/latest/changes"
            with running_server(url, env={"ASSORTMENT_LOG_LEVEL": "warning"}) as base:
                token = token_for(base, url)
                first_page(base, f"/pcm/catalogs/{seeded.catalog_id}", token)  # the server's own first-request costs
                average = load_average()
                first, answer = first_page(base, path, token)
                timings = [first_page(base, path, token)[0] for _ in range(reads)]
            meta = answer["meta"]
            figures[kind] = Figures(
                server_version(kind, url), average, first, timings, meta["counts"], meta["results"]["total"]
            )
            f = figures[kind]
            print(
                f"  {kind}: first request {f.first_request * 1000:.0f} ms, median of {reads} "
                f"{f.median * 1000:.0f} ms, worst {f.worst * 1000:.0f} ms; {f.total:,} changes {f.counts}"
            )
    budget = sizes.is_budget()
    rows = [
        "| database | changes (created / updated / deleted) | first request | median of the next "
        f"{reads} | worst | budget | verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for kind, f in figures.items():
        counts = f"{f.total:,} ({f.counts['created']:,} / {f.counts['updated']:,} / {f.counts['deleted']:,})"
        verdict = ("pass" if f.worst <= BUDGET_FIRST_PAGE_S else "**fail**") if budget else "(not the budget size)"
        rows.append(
            f"| {ENGINE_NAMES[kind]} | {counts} | {f.first_request * 1000:,.0f} ms | {f.median * 1000:,.0f} ms | "
            f"{f.worst * 1000:,.0f} ms | ≤ {BUDGET_FIRST_PAGE_S * 1000:,.0f} ms | {verdict} |"
        )
    versions = "; ".join(f"{f.version}, load average {f.load:.2f} before" for f in figures.values())
    body = "\n".join(
        [
            f"The catalog of the publish benchmark ({sizes.text()}) published, then every {CHANGED_EVERY}th "
            "product changed with direct SQL (in turn renamed, repriced in every currency, or moved from one "
            "of its nodes to another) and published again. `GET /pcm/catalogs/{id}/releases/latest/changes` "
            "(first page of 25, default base: the first release) from `assortment serve --workers 1`, each "
            "request over a fresh connection from a separate process on 127.0.0.1: the first such request "
            "(the server having answered one request for the catalog, which pays its own first-request costs), "
            f"then {reads} more one after the other. The first finds the changes (one pass over both releases' "
            "digests) and keeps them; the others read what it kept. The changes include the nodes whose "
            "products, children or "
            "place changed. Both databases after `VACUUM ANALYZE` / a WAL checkpoint, as the read benchmarks "
            "(the PostgreSQL plan, a full join, does not depend on statistics: a table published into moments "
            f"ago has none). {versions}.",
            "",
            f"Command: `{ctx.command}` — {date.today().isoformat()}",
            "",
            *rows,
        ]
    )
    return Section("Changes between two releases", body)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("changes")
    group.add_argument("--changes-reads", type=int, default=20, help="timed reads after the first (20)")


BENCHMARK = Benchmark(
    name="changes",
    title="Changes between two releases",
    run=run,
    description="first page of a release's changes between two 100k-product releases differing in 1 %",
    add_arguments=add_arguments,
)
