"""Cursor paging (SPEC §10.4): a page 1,000 pages deep by `page[after]` against the first page.

Budget (DESIGN.md): on 100k products, a cursor page 1,000 deep costs at most twice the first page.

The catalog of the publish benchmark is seeded (100k live products…) and published once. Against
`assortment serve --workers 1` with the release-view read cache off (every page is read from the database),
two lists are walked by cursor from `page[after]=` for 1,000 pages of 25 (the default limit), following
`links.next`: the PIM product list `/pcm/products` and the release's products
`/pcm/catalogs/{id}/releases/latest/products`. Then the first page and the page after the 1,000th cursor
(items 25,001–25,025) are requested in turn, `--cursor-reads` times each on one kept-alive connection, after a
warm-up; the budget compares their medians. For contrast, the deepest page offset paging reaches
(`page[offset]=9975`, 400 pages deep) is timed in the same rounds. `--cursor-depth` walks fewer pages (a quick
run; no budget verdict).

    python -m bench.run --only cursor
    python -m bench.run --only cursor --catalog-products 10000 --catalog-nodes 200 \\
        --catalog-links 20000 --catalog-associations 5000      # a quick run (no budget verdict)
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.catalogs import ENGINE_NAMES, load_average, publish, seeded_database, settle, sizes_of
from bench.cold_reads import token_for
from bench.common import Benchmark, Context, Section, running_server, server_version

BUDGET_RATIO = 2.0
DEPTH = 1_000  # pages: the budget's depth (`--cursor-depth`)
LIMIT = 25
DEEPEST_OFFSET = 9_975  # the last page of 25 offset paging serves (page[offset] ≤ 10,000)
WARMUP = 20
TITLE = "Cursor paging: a page 1,000 deep"


@dataclass
class ListFigures:
    label: str
    first: list[float] = field(default_factory=list)
    deep: list[float] = field(default_factory=list)
    offset: list[float] = field(default_factory=list)
    walk_seconds: float = 0.0
    deep_first_id: str = ""

    @property
    def ratio(self) -> float:
        return statistics.median(self.deep) / statistics.median(self.first)


@dataclass
class Figures:
    version: str
    load: float
    lists: list[ListFigures]


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(values) * 1000:.1f} / {p95 * 1000:.1f}"


def _get(client: httpx.Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url}: {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def _relative(url: str) -> str:
    """Catalog-service links are absolute: keep the path and query."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def deep_cursor_url(client: httpx.Client, path: str, depth: int) -> tuple[str, str, float]:
    """Walk `depth` pages from the start by cursor; the URL of the next page, its first item's id, and the
    walk's duration."""
    url = f"{path}?page[after]=&page[limit]={LIMIT}"
    started = time.perf_counter()
    for page in range(depth):
        body = _get(client, url)
        if len(body["data"]) != LIMIT or not body["links"].get("next"):
            raise SystemExit(f"{path}: page {page + 1} of the walk holds {len(body['data'])} items, no next")
        url = _relative(body["links"]["next"])
    seconds = time.perf_counter() - started
    deep = _get(client, url)
    if len(deep["data"]) != LIMIT:
        raise SystemExit(f"{path}: the page {depth} deep holds {len(deep['data'])} items")
    return url, str(deep["data"][0]["id"]), seconds


def measure_list(client: httpx.Client, label: str, path: str, reads: int, depth: int, at: int) -> ListFigures:
    figures = ListFigures(label)
    deep, figures.deep_first_id, figures.walk_seconds = deep_cursor_url(client, path, depth)
    offset = f"{path}?page[offset]={at}&page[limit]={LIMIT}"
    if len(_get(client, offset)["data"]) != LIMIT:
        raise SystemExit(f"{path}: page[offset]={at} is not a full page")
    first = f"{path}?page[after]=&page[limit]={LIMIT}"
    for _ in range(WARMUP):
        for url in (first, deep, offset):
            _get(client, url)
    for _ in range(reads):
        for url, timings in ((first, figures.first), (deep, figures.deep), (offset, figures.offset)):
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"GET {url}: {response.status_code}")
    return figures


def run(ctx: Context) -> Section:
    sizes = sizes_of(ctx.args)
    reads: int = ctx.args.cursor_reads
    depth: int = ctx.args.cursor_depth
    if sizes.products < (depth + 1) * LIMIT:
        raise SystemExit(f"--cursor-depth {depth}: needs at least {(depth + 1) * LIMIT:,} products")
    at = min(DEEPEST_OFFSET, depth * LIMIT)  # by offset: as deep, or as deep as offset paging goes
    print(f"cursor: {sizes.text()}; {depth} pages of {LIMIT} deep")
    results: dict[str, Figures] = {}
    for kind in ctx.databases:
        with seeded_database(ctx, kind, sizes, "cursor.db") as (url, seeded):
            publish(url, seeded, sizes)
            settle(url)
            env = {"ASSORTMENT_LOG_LEVEL": "warning", "ASSORTMENT_READ_CACHE_BYTES": "0"}
            with running_server(url, env=env) as base:
                token = token_for(base, url)
                average = load_average()
                headers = {"Authorization": f"Bearer {token}"}
                with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                    lists = [
                        measure_list(client, "PIM `/pcm/products`", "/pcm/products", reads, depth, at),
                        measure_list(
                            client,
                            "release `…/releases/latest/products`",
                            f"/pcm/catalogs/{seeded.catalog_id}/releases/latest/products",
                            reads,
                            depth,
                            at,
                        ),
                    ]
            results[kind] = Figures(server_version(kind, url), average, lists)
            for figures in lists:
                print(
                    f"  {kind} {figures.label}: first {_ms(figures.first)} ms, {depth} deep {_ms(figures.deep)} ms "
                    f"(×{figures.ratio:.2f}), offset {at} {_ms(figures.offset)} ms; "
                    f"walk of {depth} pages {figures.walk_seconds:.1f} s"
                )
    budget = sizes.is_budget() and depth == DEPTH
    rows = [
        f"| database | list | first page, median / p95 ms | page {depth:,} deep by cursor, median / p95 ms | ratio "
        f"| budget | verdict | `page[offset]={at}` ({at // LIMIT + 1} deep), median / p95 ms "
        f"| walk of {depth:,} pages |",
        "|---|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for kind, result in results.items():
        for f in result.lists:
            verdict = ("pass" if f.ratio <= BUDGET_RATIO else "**fail**") if budget else "(not the budget size)"
            rows.append(
                f"| {ENGINE_NAMES[kind]} | {f.label} | {_ms(f.first)} | {_ms(f.deep)} | ×{f.ratio:.2f} | "
                f"≤ ×{BUDGET_RATIO:.0f} | {verdict} | {_ms(f.offset)} | {f.walk_seconds:.1f} s |"
            )
    versions = "; ".join(f"{r.version}, load average {r.load:.2f} before" for r in results.values())
    body = "\n".join(
        [
            f"The catalog of the publish benchmark ({sizes.text()}) seeded and published once. "
            "`assortment serve --workers 1` with the release-view read cache off "
            "(`ASSORTMENT_READ_CACHE_BYTES=0`: every page is read from the database). Two lists are walked from "
            f"`page[after]=` for {depth:,} pages of {LIMIT} following `links.next` (checked full), then the first "
            f"page, the page after the {depth:,}th cursor (items {depth * LIMIT + 1:,}–{(depth + 1) * LIMIT:,}) "
            f"and, for contrast, `page[offset]={at}` (by offset as deep, or as deep as offset paging goes) are "
            f"requested in turn, {reads} times each after {WARMUP} warm-up rounds, over one kept-alive "
            "connection from the benchmark process (httpx, a client-credentials token). Ratio: median of the "
            f"deep page over median of the first. {versions}.",
            "",
            f"Command: `{ctx.command}` — {date.today().isoformat()}",
            "",
            *rows,
        ]
    )
    return Section(TITLE, body)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cursor")
    group.add_argument("--cursor-reads", type=int, default=200, help="timed requests of each page (200)")
    group.add_argument(
        "--cursor-depth", type=int, default=DEPTH, help=f"pages of {LIMIT} walked before the deep page ({DEPTH})"
    )


BENCHMARK = Benchmark(
    name="cursor",
    title=TITLE,
    run=run,
    description="a page 1,000 deep by page[after] vs the first page, PIM products and a release's products",
    add_arguments=add_arguments,
)
