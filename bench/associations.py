"""Custom-relationship associations through HTTP against a real `assortment serve` (one worker).

Budgets: one POST /pcm/products/{id}/custom-relationships/{slug} associating 2,000 products (the most
one request may carry) ≤ 300 ms on PostgreSQL (SQLite reported alongside); listing those 2,000 related
products page by page (`page[limit]=100`) stays flat: the slowest page's median at most twice the
fastest's.

Products are seeded with `assortment products import` from a generated JSONL file under `bench/data/`;
the custom relationships are created through the API. Every timed association goes to a fresh source
product, so each writes 2,000 new edges (and a bi-directional one 4,000).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from assortment.db.models import Product
from bench.common import (
    Benchmark,
    Context,
    Section,
    create_key,
    fresh_database,
    run_assortment,
    running_server,
    server_version,
)
from bench.hierarchies import ENGINE_NAMES, token, verdict

GENERATOR_VERSION = 1
TARGETS = 2000
SOURCES = 5  # timed one-way associations, each from its own source product
WARMUP_SOURCES = 1
BI_SOURCES = 1
PAGE_LIMIT = 100
PAGE_REPEATS = 5  # timed passes over all pages (after one warm-up pass)
BUDGET_ASSOCIATE_MS = 300.0
BUDGET_FLAT_RATIO = 2.0


def products_file(data_dir: Path, count: int) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"association-products-{count}-v{GENERATOR_VERSION}.jsonl"
    if path.exists():
        return path
    partial = path.with_suffix(".tmp")
    with partial.open("w", encoding="utf-8") as handle:
        for i in range(count):
            row = {
                "name": f"Assoc {i}",
                "commodity_type": "physical",
                "sku": f"ASSOC-{i:06d}",
                "slug": f"assoc-{i}",
                "status": "live",
            }
            handle.write(json.dumps(row, separators=(",", ":")) + "\n")
    partial.replace(path)
    return path


@dataclass
class Figures:
    version: str
    load: float
    associate_ms: list[float] = field(default_factory=list)
    bi_ms: float = 0.0
    pages_ms: dict[int, list[float]] = field(default_factory=dict)  # offset → samples

    def page_medians(self) -> dict[int, float]:
        return {offset: statistics.median(s) for offset, s in self.pages_ms.items()}

    def ratio(self) -> float:
        medians = self.page_medians().values()
        return max(medians) / min(medians)


def define(client: httpx.Client, slug: str, bi_directional: bool) -> None:
    attributes = {"name": f"Bench {slug}", "slug": slug, "bi_directional": bi_directional}
    response = client.post(
        "/pcm/custom-relationships", json={"data": {"type": "custom-relationship", "attributes": attributes}}
    )
    if response.status_code != 201:
        raise SystemExit(f"create custom relationship {slug}: {response.status_code} {response.text}")


def associate(client: httpx.Client, kind: str, source: str, slug: str, targets: list[str]) -> float:
    body = {"data": [{"type": "product", "id": t} for t in targets]}
    started = time.perf_counter()
    response = client.post(f"/pcm/products/{source}/custom-relationships/{slug}", json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise SystemExit(f"{kind}: associate: {response.status_code} {response.text[:2000]}")
    meta = response.json()["meta"]
    if len(meta["associated_products"]) != len(targets) or meta["products_not_associated"]:
        raise SystemExit(
            f"{kind}: associated {len(meta['associated_products'])} of {len(targets)}; "
            f"not associated: {meta['products_not_associated'][:5]}"
        )
    return elapsed


def measure(kind: str, url: str, products_path: Path) -> Figures:
    started = time.perf_counter()
    imported = run_assortment(url, "products", "import", products_path, "--quiet")
    print(f"  {kind}: products imported in {imported.seconds:.1f} s")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = [str(i) for i in conn.execute(select(Product.id).order_by(Product.sku)).scalars()]
    finally:
        engine.dispose()
    sources, targets = ids[: WARMUP_SOURCES + SOURCES + BI_SOURCES], ids[WARMUP_SOURCES + SOURCES + BI_SOURCES :]
    targets = targets[:TARGETS]
    if len(targets) != TARGETS:
        raise SystemExit(f"{kind}: only {len(targets)} target products")
    client_id, secret = create_key(url)
    print(f"  {kind}: setup {time.perf_counter() - started:.1f} s")
    figures = Figures(server_version(kind, url), os.getloadavg()[0])
    with running_server(url, workers=1) as base, httpx.Client(base_url=base, timeout=60) as client:
        client.headers["Authorization"] = f"Bearer {token(client, client_id, secret)}"
        define(client, "bench", bi_directional=False)
        define(client, "bench-bi", bi_directional=True)
        for i, source in enumerate(sources[: WARMUP_SOURCES + SOURCES]):
            elapsed = associate(client, kind, source, "bench", targets)
            if i >= WARMUP_SOURCES:
                figures.associate_ms.append(elapsed)
        figures.bi_ms = associate(client, kind, sources[-1], "bench-bi", targets)
        print(
            f"  {kind}: associate {TARGETS}: median {statistics.median(figures.associate_ms):.0f} ms, "
            f"max {max(figures.associate_ms):.0f} ms; bi-directional {figures.bi_ms:.0f} ms"
        )

        listing = f"/pcm/products/{sources[-2]}/custom-relationships/bench/products"
        offsets = list(range(0, TARGETS, PAGE_LIMIT))
        seen: set[str] = set()
        for attempt in range(1 + PAGE_REPEATS):
            for offset in offsets:
                params = {"page[limit]": str(PAGE_LIMIT), "page[offset]": str(offset)}
                t0 = time.perf_counter()
                response = client.get(listing, params=params)
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{kind}: list page {offset}: {response.status_code} {response.text[:2000]}")
                data = response.json()["data"]
                if len(data) != PAGE_LIMIT:
                    raise SystemExit(f"{kind}: page at offset {offset} has {len(data)} products")
                if attempt == 0:
                    seen.update(item["id"] for item in data)
                else:
                    figures.pages_ms.setdefault(offset, []).append(elapsed)
        if seen != set(targets):
            raise SystemExit(f"{kind}: the pages list {len(seen)} distinct products, not the {TARGETS} targets")
        medians = figures.page_medians()
        print(
            f"  {kind}: pages: first {medians[0]:.1f} ms, last {medians[offsets[-1]]:.1f} ms, "
            f"max/min {figures.ratio():.2f}"
        )
    return figures


def run(ctx: Context) -> Section:
    count = WARMUP_SOURCES + SOURCES + BI_SOURCES + TARGETS
    products_path = products_file(ctx.data_dir, count)
    print(f"associations: {count:,} products, {TARGETS:,} targets per request")
    results: dict[str, Figures] = {}
    for kind in ctx.databases:
        started = time.perf_counter()
        with fresh_database(kind, ctx.pg_admin_url) as url:
            results[kind] = measure(kind, url, products_path)
        print(f"  {kind}: done in {time.perf_counter() - started:.0f} s")

    def row(operation: str, budget: str, shown: dict[str, str], ok: dict[str, bool]) -> str:
        figures = " | ".join(shown.get(kind, "—") for kind in ENGINE_NAMES)
        return f"| {operation} | {budget} | {figures} | {verdict(ok)} |"

    last = TARGETS - PAGE_LIMIT
    rows = [
        row(
            f"associate {TARGETS:,} products in one request (POST …/custom-relationships/{{slug}}), "
            f"{SOURCES} fresh sources",
            f"≤ {BUDGET_ASSOCIATE_MS:.0f} ms on PostgreSQL (slowest)",
            {
                k: f"median {statistics.median(f.associate_ms):.0f} ms, max {max(f.associate_ms):.0f} ms"
                for k, f in results.items()
            },
            {k: max(f.associate_ms) <= BUDGET_ASSOCIATE_MS for k, f in results.items() if k == "postgresql"},
        ),
        row(
            f"associate {TARGETS:,} products, bi-directional relationship (one request)",
            f"≤ {BUDGET_ASSOCIATE_MS:.0f} ms on PostgreSQL",
            {k: f"{f.bi_ms:.0f} ms" for k, f in results.items()},
            {k: f.bi_ms <= BUDGET_ASSOCIATE_MS for k, f in results.items() if k == "postgresql"},
        ),
        row(
            f"list the {TARGETS:,} related products, `page[limit]={PAGE_LIMIT}`: first page / last page "
            f"(offset {last:,}), median",
            "reported",
            {k: f"{f.page_medians()[0]:.1f} / {f.page_medians()[last]:.1f} ms" for k, f in results.items()},
            dict.fromkeys(results, True),
        ),
        row(
            f"slowest / fastest page median over the {TARGETS // PAGE_LIMIT} pages",
            f"≤ {BUDGET_FLAT_RATIO:g} (flat)",
            {k: f"{f.ratio():.2f}" for k, f in results.items()},
            {k: f.ratio() <= BUDGET_FLAT_RATIO for k, f in results.items()},
        ),
    ]
    versions = ", ".join(f.version for f in results.values())
    body = "\n".join(
        [
            "Requests over HTTP to a real `assortment serve --workers 1` on 127.0.0.1, from an httpx client in "
            "the benchmark process (one keep-alive connection, a client-credentials token). Fresh throwaway "
            f"databases: {versions}. Seeded with `assortment products import` "
            f"({WARMUP_SOURCES + SOURCES + BI_SOURCES + TARGETS:,} products); the custom relationships "
            "`bench` and `bench-bi` (bi-directional) are created through the API. Associate: one untimed "
            f"warm-up request, then {SOURCES} timed requests, each from a fresh source product to the same "
            f"{TARGETS:,} targets (each response checked: 201, {TARGETS:,} `associated_products`, none "
            "refused); then one request on the bi-directional relationship (writes both directions). "
            f"Listing: the related products of one of those sources, {TARGETS // PAGE_LIMIT} pages of "
            f"{PAGE_LIMIT}; one untimed pass (checked: every target listed once), then {PAGE_REPEATS} timed "
            "passes; each page's median is compared. The association budget is set for PostgreSQL; SQLite "
            "is reported. 1-minute load average when the timed part started: "
            + ", ".join(f"{ENGINE_NAMES[k]} {f.load:.1f}" for k, f in results.items())
            + f" on {os.cpu_count()} CPUs.",
            "",
            f"Command: `{ctx.command}` — {date.today().isoformat()}",
            "",
            "| operation | budget | SQLite | PostgreSQL | verdict |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    return Section("Custom relationships: associating 2,000 products, listing them", body)


BENCHMARK = Benchmark(
    name="associations",
    title="Custom relationships: associating 2,000 products, listing them",
    run=run,
    description="one request associating 2,000 products; paging through them, over HTTP on each database",
)
